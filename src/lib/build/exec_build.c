/* The build driver: the needed stages in dependency order, one image per instruction
 * (Docker's legacy builder), the step cache, the progress reports. Stages that do not
 * depend on each other are built at the same time, each in a worker process (see
 * build_workers). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "build/exec_internal.h"
#include "build/strbuf.h"
#include "image/image.h"
#include "store/digest.h"
#include "store/imagedb.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* The driver's state around struct builder (exec_internal.h, which the step files share):
 * b comes first, so the struct builder * the step code passes around converts back. Every
 * struct builder is made by keel_build as part of a driver. */
struct driver {
	struct builder b;
	struct keel_progress *p; /* NULL: quiet */
	size_t stage;		 /* the stage being built by this process */
	const struct keel_df_graph *g;
	size_t *first_step; /* per stage: its FROM's step number in the sequential order */
};

static struct driver *drv(const struct builder *b)
{
	return (struct driver *)b;
}

/* A worker asked to stop (another stage failed): it does at the next step, and its watcher
 * thread (woken through cancel_fd) kills the RUN container it waits for. */
static volatile sig_atomic_t cancelled;
static int cancel_fd = -1;

static const char *short_id(const char *id)
{
	static char buf[13];
	const char *hex = id && !strncmp(id, "sha256:", 7) ? id + 7 : id ? id : "";
	snprintf(buf, sizeof(buf), "%.12s", hex);
	return buf;
}

/* Prefixes "Dockerfile:LINE: " unless the message already names the file. */
static int at_line(keel_error_t *err, const struct builder *b, const struct keel_df_instr *in)
{
	char msg[sizeof(err->msg)];
	size_t n = strlen(b->df->name);
	if (!strncmp(err->msg, b->df->name, n) && err->msg[n] == ':')
		return -1;
	snprintf(msg, sizeof(msg), "%s", err->msg);
	return keel_err_user(err, err->errnum ? err->errnum : EINVAL, "%s:%d: %s", b->df->name,
			     in->line, msg);
}

static char *cache_key(const struct exec_image *im, const char *created_by, const char *extra)
{
	struct strbuf sb = {0};
	char d[KEEL_DIGEST_SIZE];
	sb_add(&sb, im->id ? im->id : "scratch");
	sb_addc(&sb, '\n');
	sb_add(&sb, created_by);
	sb_addc(&sb, '\n');
	sb_add(&sb, extra ? extra : "");
	if (sb.oom) {
		sb_free(&sb);
		return NULL;
	}
	keel_sha256_digest(sb.s, sb.len, d);
	sb_free(&sb);
	return strdup(d);
}

/* Resolves an image reference for FROM / COPY --from; busybox is made on first use. */
static int load_image(struct builder *b, const char *ref, struct exec_image *im,
		      keel_error_t *err)
{
	if (exec_image_load(b->s, ref, im, err) == 0)
		return 0;
	if (err->errnum == ENOENT && !strncmp(ref, "busybox", 7) &&
	    (!ref[7] || !strcmp(ref + 7, ":latest"))) {
		if (keel_store_ensure_busybox(b->s, err) < 0)
			return -1;
		return exec_image_load(b->s, ref, im, err);
	}
	return -1;
}

/* ---- RUN ---- */

static char **run_argv(const struct step_run *r, size_t *n)
{
	const struct keel_df_step *st = r->st;
	const struct keel_df_instr *in = st->instr;
	char **v = NULL;
	if (in->json || !in->nheredocs)
		return exec_command_argv(r->im, st, n);
	*n = 0;
	exec_shell_words(r->im, NULL, &v, n);
	if (st->nargs && !strncmp(st->args[0], "<<", 2) && !strchr(st->args[0], ' ')) {
		/* RUN <<EOF: the body is the script */
		strv_push(&v, n, strdup(st->heredocs[0]));
	} else {
		/* RUN cmd <<EOF: the shell reads the here-document itself */
		struct strbuf sb = {0};
		sb_add(&sb, st->nargs ? st->args[0] : "");
		for (size_t i = 0; i < in->nheredocs; i++) {
			sb_addc(&sb, '\n');
			sb_add(&sb, st->heredocs[i]);
			sb_add(&sb, in->heredocs[i].name);
		}
		strv_push(&v, n, sb_steal(&sb));
	}
	return v;
}

static char *run_created_by(const struct step_run *r, char *const *argv, size_t n)
{
	struct strbuf sb = {0};
	size_t na = 0;
	while (r->st->build_args && r->st->build_args[na])
		na++;
	if (na) {
		char num[32];
		snprintf(num, sizeof(num), "|%zu", na);
		sb_add(&sb, num);
		for (size_t i = 0; i < na; i++)
			sb_addc(&sb, ' '), sb_add(&sb, r->st->build_args[i]);
		sb_addc(&sb, ' ');
	}
	for (size_t i = 0; i < n; i++)
		sb_add(&sb, i ? " " : ""), sb_add(&sb, argv[i]);
	return sb_steal(&sb);
}

static int exec_step_run(struct step_run *r, char *const *argv, size_t n, const char *created_by,
			 keel_error_t *err)
{
	struct builder *b = r->b;
	json_t *cfg = exec_config_of(r->im);
	const char *net = keel_df_flag(r->st->instr, "network", NULL);
	struct exec_run run;
	int ret;
	(void)n;
	if (net && strcmp(net, "none") && strcmp(net, "host") && strcmp(net, "default"))
		return keel_err_user(err, EINVAL, "unsupported network mode %s", net);
	if (!r->im->id)
		return keel_err_user(err, EINVAL, "RUN on an empty image (FROM scratch): no shell");
	ret = exec_run(b->e, r->im, argv, r->st->env, r->st->workdir,
		       json_string_value(json_object_get(cfg, "User")),
		       net && !strcmp(net, "host"), b->out, &run, err);
	if (ret == 0 && run.exit_code != 0) {
		struct strbuf sb = {0};
		for (size_t i = 0; i < n; i++)
			sb_add(&sb, i ? " " : ""), sb_add(&sb, argv[i]);
		ret = keel_err_user(err, EIO, "The command '%s' returned a non-zero code: %d",
				    sb.s ? sb.s : "", run.exit_code);
		sb_free(&sb);
	}
	if (ret == 0)
		ret = exec_image_commit(b->s, r->im, run.upper, created_by, err);
	if (run.ctr && b->out)
		fprintf(b->out, "Removing intermediate container %s\n", short_id(run.ctr->id));
	exec_run_done(b->e, &run);
	return ret;
}

/* ---- COPY / ADD / WORKDIR: on a private overlay of the parent ---- */

struct copy_plan {
	char **srcs;	  /* context paths (or --from paths), strv */
	size_t n;
	char *from;	  /* --from image id, or NULL for the context */
	struct exec_image from_im;
	char digest[KEEL_DIGEST_SIZE];
	char *dest;	  /* absolute */
	bool dest_dir;
	int heredoc;	  /* >= 0: the COPY <<EOF body to write */
	struct exec_remote remote; /* ADD https://...: the download (path NULL otherwise) */
};

static void plan_free(struct copy_plan *p)
{
	strv_free(p->srcs);
	free(p->from);
	free(p->dest);
	exec_image_clear(&p->from_im);
	exec_remote_clear(&p->remote);
}

static int plan_sources(struct step_run *r, struct copy_plan *p, struct strbuf *key,
			keel_error_t *err)
{
	const struct keel_df_step *st = r->st;
	const char *from = keel_df_flag(st->instr, "from", NULL);
	size_t nsrc = st->nargs - 1;
	for (size_t i = 0; i < st->nflags; i++)
		if (!strcmp(st->flags[i].name, "from"))
			from = st->flags[i].value;
	for (size_t i = 0; i < nsrc; i++) {
		const char *src = st->args[i];
		for (size_t h = 0; h < st->instr->nheredocs; h++)
			if (!strncmp(src, "<<", 2) && !strcmp(src + 2 + (src[2] == '-'),
							      st->instr->heredocs[h].name)) {
				p->heredoc = (int)h;
				sb_add(key, st->heredocs[h]);
				return 0;
			}
	}
	if (st->instr->kind == KEEL_DF_ADD && nsrc == 1 && exec_is_url(st->args[0])) {
		const char *sum = NULL;
		for (size_t i = 0; i < st->nflags; i++)
			if (!strcmp(st->flags[i].name, "checksum"))
				sum = st->flags[i].value;
		/* downloaded now: its content is the cache key, as in Docker */
		if (exec_fetch_url(r->b->tmp, st->args[0], sum, &p->remote, err) < 0)
			return -1;
		memcpy(p->digest, p->remote.digest, sizeof(p->digest));
		sb_add(key, p->digest);
		return 0;
	}
	if (from) {
		int k = keel_df_stage_find(r->b->df, from);
		const char *ref = k >= 0 ? r->b->stage_ids[k] : from;
		if (!ref)
			return keel_err_user(err, EINVAL, "stage %s is not built", from);
		if (load_image(r->b, ref, &p->from_im, err) < 0)
			return -1;
		p->from = strdup(p->from_im.id);
		sb_add(key, p->from);
		for (size_t i = 0; i < nsrc; i++) {
			strv_push(&p->srcs, &p->n, strdup(st->args[i]));
			sb_addc(key, '\n'), sb_add(key, st->args[i]);
		}
		return 0;
	}
	for (size_t i = 0; i < nsrc; i++) {
		cleanup_strv char **m = NULL;
		size_t nm = 0;
		if (keel_build_context_resolve(r->b->o->ctx, st->args[i], &m, &nm, err) < 0)
			return -1;
		for (size_t k = 0; k < nm; k++)
			strv_push(&p->srcs, &p->n, strdup(m[k]));
	}
	if (keel_build_context_checksum(r->b->o->ctx, st->args, nsrc, p->digest, err) < 0)
		return -1;
	sb_add(key, p->digest);
	return 0;
}

static int plan_copy(struct step_run *r, struct copy_plan *p, char **created_by, char **extra,
		     keel_error_t *err)
{
	const struct keel_df_step *st = r->st;
	const char *dest = st->nargs ? st->args[st->nargs - 1] : "";
	const char *what = "multi";
	struct strbuf key = {0}, cm = {0};
	memset(p, 0, sizeof(*p));
	p->heredoc = -1;
	if (st->nargs < 2)
		return keel_err_user(err, EINVAL, "%s requires at least two arguments",
				     keel_df_kind_name(st->instr->kind));
	for (size_t i = 0; i < st->nflags; i++)
		sb_add(&key, st->flags[i].name), sb_addc(&key, '='),
			sb_add(&key, st->flags[i].value ? st->flags[i].value : ""), sb_addc(&key, ' ');
	if (plan_sources(r, p, &key, err) < 0) {
		sb_free(&key);
		return -1;
	}
	p->dest = keel_df_path_join(st->workdir, dest);
	p->dest_dir = dest[strlen(dest) - 1] == '/' || p->n > 1 || st->nargs > 3;
	if (p->n == 1 && !p->from) {
		const struct keel_ctx_entry *e = keel_build_context_lookup(r->b->o->ctx, p->srcs[0]);
		what = e && S_ISDIR(e->mode) ? "dir" : "file";
	}
	sb_add(&cm, keel_df_kind_name(st->instr->kind));
	sb_addc(&cm, ' ');
	/* Docker's legacy builder glues --chown to the source: "ADD --chown=1:1file:<hex>" */
	for (size_t i = 0; i < st->nflags; i++)
		if (!strcmp(st->flags[i].name, "chown") && st->flags[i].value)
			sb_add(&cm, "--chown="), sb_add(&cm, st->flags[i].value);
	if (p->heredoc >= 0) {
		sb_add(&cm, "heredoc");
	} else if (p->remote.path) {
		/* Docker writes a remote source's hash bare: "ADD <hex> in /dest " */
		sb_add(&cm, keel_digest_hex(p->digest));
	} else if (p->from) {
		/* Docker names the source by its own content hash; keel's stands in for it */
		char d[KEEL_DIGEST_SIZE];
		keel_sha256_digest(key.s, key.len, d);
		sb_add(&cm, p->n == 1 ? exec_image_path_kind(&p->from_im, p->srcs[0]) : "multi");
		sb_addc(&cm, ':');
		sb_add(&cm, keel_digest_hex(d));
	} else {
		sb_add(&cm, what);
		sb_addc(&cm, ':');
		sb_add(&cm, keel_digest_hex(p->digest));
	}
	sb_add(&cm, " in ");
	sb_add(&cm, dest);
	sb_addc(&cm, ' ');
	*created_by = cm.s ? exec_nop(r->im, cm.s, true) : NULL;
	*extra = sb_steal(&key);
	sb_free(&cm);
	if (!p->dest || !*created_by || !*extra)
		return keel_err(err, ENOMEM, "build");
	return 0;
}

static int write_heredoc(const struct exec_copy *c, const struct step_run *r, int h,
			 keel_error_t *err)
{
	cleanup_free char *path = NULL;
	const char *name = r->st->instr->heredocs[h].name;
	if (asprintf(&path, "%s%s%s", c->dest, c->dest_dir ? "/" : "", c->dest_dir ? name : "") < 0)
		return keel_err(err, ENOMEM, "build");
	return exec_write_in_root(c, path, r->st->heredocs[h], strlen(r->st->heredocs[h]), err);
}

static int exec_step_copy(struct step_run *r, struct copy_plan *p, const char *created_by,
			  keel_error_t *err)
{
	struct builder *b = r->b;
	const struct keel_df_step *st = r->st;
	struct exec_mount m, src = {.rootfd = -1};
	struct exec_copy c = {.dest = p->dest, .dest_dir = p->dest_dir,
			      .extract = st->instr->kind == KEEL_DF_ADD && !p->from,
			      .ctx = p->from ? NULL : b->o->ctx};
	const char *chown = NULL, *chmod = NULL;
	int ret = -1;
	for (size_t i = 0; i < st->nflags; i++) {
		if (!strcmp(st->flags[i].name, "chown"))
			chown = st->flags[i].value;
		if (!strcmp(st->flags[i].name, "chmod"))
			chmod = st->flags[i].value;
	}
	if (chmod) {
		char *end;
		c.mode = (mode_t)strtoul(chmod, &end, 8);
		if (!*chmod || *end || c.mode > 07777)
			return keel_err_user(err, EINVAL, "invalid chmod parameter: %s", chmod);
		c.chmod = true;
	}
	if (exec_mount(b->tmp, r->im, true, &m, err) < 0)
		return -1;
	c.dst_root = m.rootfd;
	if (chown && exec_chown_parse(m.rootfd, chown, &c.uid, &c.gid, err) < 0)
		goto out;
	c.chown = chown != NULL;
	if (p->from && exec_mount(b->tmp, &p->from_im, false, &src, err) < 0)
		goto out;
	if (p->heredoc >= 0) {
		ret = write_heredoc(&c, r, p->heredoc, err);
	} else if (p->remote.path) {
		ret = exec_add_remote(&c, &p->remote, err);
	} else {
		ret = 0;
		for (size_t i = 0; ret == 0 && i < p->n; i++) {
			ret = exec_copy_one(&c, p->from ? src.rootfd : b->o->ctx->rootfd,
					    p->srcs[i], err);
			if (ret < 0 && p->from && err->errnum == ENOENT)
				keel_err_user(err, ENOENT, "COPY failed: stat %s: file does not exist",
					      p->srcs[i]);
		}
	}
	exec_unmount(&m);
	if (ret == 0)
		ret = exec_image_commit(b->s, r->im, m.upper, created_by, err);
out:
	exec_mount_free(&src);
	exec_mount_free(&m);
	return ret;
}

static int exec_step_workdir(struct step_run *r, const char *created_by, keel_error_t *err)
{
	struct exec_mount m;
	int ret;
	if (exec_mount(r->b->tmp, r->im, true, &m, err) < 0)
		return -1;
	ret = exec_mkdir_in_root(m.rootfd, r->st->workdir, 0, 0, err);
	exec_unmount(&m);
	if (ret == 0)
		ret = exec_image_commit(r->b->s, r->im, m.upper, created_by, err);
	exec_mount_free(&m);
	return ret;
}

/* ---- one step ---- */

static int try_cache(struct step_run *r, const char *created_by, const char *extra, char **key)
{
	cleanup_free char *id = NULL;
	keel_error_t e;
	*key = cache_key(r->im, created_by, extra);
	if (r->b->o->no_cache || !*key || !(id = exec_cache_get(r->b->s, *key)))
		return 0;
	if (exec_image_load(r->b->s, id, r->im, &e) < 0)
		return 0; /* pruned since: build it again */
	keel_progress_cached(drv(r->b)->p, drv(r->b)->stage);
	return 1;
}

static int do_step(struct step_run *r, keel_error_t *err)
{
	const struct keel_df_instr *in = r->st->instr;
	cleanup_free char *created_by = NULL, *extra = NULL, *key = NULL;
	cleanup_strv char **argv = NULL;
	struct copy_plan plan = {.heredoc = -1};
	struct strbuf cm = {0};
	size_t n = 0;
	int ret = 0;
	switch (in->kind) {
	case KEEL_DF_RUN:
		argv = run_argv(r, &n);
		created_by = argv ? run_created_by(r, argv, n) : NULL;
		for (size_t i = 0; i < in->nheredocs && created_by; i++) {
			struct strbuf x = {0};
			sb_add(&x, extra ? extra : "");
			sb_add(&x, r->st->heredocs[i]);
			free(extra);
			extra = sb_steal(&x);
		}
		break;
	case KEEL_DF_COPY:
	case KEEL_DF_ADD:
		if (plan_copy(r, &plan, &created_by, &extra, err) < 0) {
			plan_free(&plan);
			return -1;
		}
		break;
	case KEEL_DF_WORKDIR: {
		struct strbuf w = {0};
		json_object_set_new(exec_config_of(r->im), "WorkingDir",
				    json_string(r->st->workdir));
		sb_add(&w, "WORKDIR "), sb_add(&w, r->st->workdir);
		created_by = w.s ? exec_nop(r->im, w.s, true) : NULL;
		sb_free(&w);
		break;
	}
	default:
		if (exec_apply_meta(r, &cm, err) < 0) {
			sb_free(&cm);
			return -1;
		}
		created_by = cm.s ? exec_nop(r->im, cm.s, false) : NULL;
		sb_free(&cm);
	}
	if (!created_by) {
		plan_free(&plan);
		return keel_err(err, ENOMEM, "build");
	}
	if (try_cache(r, created_by, extra, &key)) {
		plan_free(&plan);
		return 0;
	}
	if (in->kind == KEEL_DF_RUN)
		ret = exec_step_run(r, argv, n, created_by, err);
	else if (in->kind == KEEL_DF_COPY || in->kind == KEEL_DF_ADD)
		ret = exec_step_copy(r, &plan, created_by, err);
	else if (in->kind == KEEL_DF_WORKDIR)
		ret = exec_step_workdir(r, created_by, err);
	else
		ret = exec_image_commit(r->b->s, r->im, NULL, created_by, err);
	plan_free(&plan);
	if (ret == 0 && key)
		exec_cache_put(r->b->s, key, r->im->id, err);
	return ret;
}


/* ---- stages ---- */

static void print_id(const struct builder *b, const struct exec_image *im)
{
	if (b->out && im->id)
		fprintf(b->out, " ---> %s\n", short_id(im->id));
}

static int eval_with_base(struct builder *b, size_t index, struct exec_image *im,
			  struct keel_df_stage_eval *ev, keel_error_t *err)
{
	json_t *cfg = json_object_get(im->cfg, "config"), *v;
	char **env = NULL;
	size_t n = 0, i;
	int ret;
	json_array_foreach(json_object_get(cfg, "Env"), i, v)
		strv_push(&env, &n, strdup(json_string_value(v) ?: ""));
	struct keel_df_eval_opts opts = {
		.build_args = b->o->build_args,
		.base_env = env,
		.base_workdir = json_string_value(json_object_get(cfg, "WorkingDir")),
	};
	keel_df_stage_eval_free(ev);
	memset(ev, 0, sizeof(*ev));
	ret = keel_df_eval_stage(b->df, index, &opts, ev, err);
	strv_free(env);
	return ret;
}

/* ONBUILD triggers of the base run right after FROM, then are dropped from the config. */
static int run_triggers(struct builder *b, struct exec_image *im, keel_error_t *err)
{
	json_t *ob = json_object_get(exec_config_of(im), "OnBuild"), *v;
	struct strbuf text = {0};
	struct keel_dockerfile *df, *saved = b->df;
	struct keel_df_stage_eval ev = {0};
	size_t i;
	int ret = 0;
	if (!json_is_array(ob) || !json_array_size(ob))
		return 0;
	if (b->out)
		fprintf(b->out, "# Executing %zu build trigger%s\n", json_array_size(ob),
			json_array_size(ob) > 1 ? "s" : "");
	sb_add(&text, "FROM scratch\n");
	json_array_foreach(ob, i, v)
		sb_add(&text, json_string_value(v) ?: ""), sb_addc(&text, '\n');
	df = text.s ? keel_dockerfile_parse(text.s, text.len, "ONBUILD", err) : NULL;
	sb_free(&text);
	if (!df)
		return -1;
	json_object_set_new(exec_config_of(im), "OnBuild", json_null());
	b->df = df;
	if (eval_with_base(b, 0, im, &ev, err) < 0)
		ret = -1;
	for (i = 1; ret == 0 && i < ev.nsteps; i++) {
		struct step_run r = {.b = b, .st = &ev.steps[i], .im = im};
		ret = do_step(&r, err);
	}
	b->df = saved;
	keel_df_stage_eval_free(&ev);
	keel_dockerfile_free(df);
	return ret;
}

static int build_stage(struct builder *b, const struct keel_df_graph *g, size_t index,
		       keel_error_t *err)
{
	const struct keel_df_stage *stg = &b->df->stages[index];
	struct keel_df_stage_eval ev = {0};
	struct exec_image im = {0};
	bool cmd_set = false;
	int ret = -1;
	/* evaluate once for the FROM (global args only), again with the base's env */
	if (keel_df_eval_stage(b->df, index, &(struct keel_df_eval_opts){
						 .build_args = b->o->build_args}, &ev, err) < 0)
		goto out;
	b->step++;
	keel_progress_step(drv(b)->p, index, b->step, b->nsteps,
			   b->df->instrs[stg->first].original);
	if (g->deps[index].base_stage >= 0)
		ret = exec_image_load(b->s, b->stage_ids[g->deps[index].base_stage], &im, err);
	else if (!strcmp(ev.base, "scratch"))
		ret = exec_image_scratch(&im, err);
	else
		ret = load_image(b, ev.base, &im, err);
	/* --platform is checked against an image; scratch and stages are taken as they are */
	if (ret == 0 && ev.platform && g->deps[index].base_stage < 0 && strcmp(ev.base, "scratch"))
		ret = exec_image_check_platform(&im, ev.base, ev.platform, err);
	if (ret < 0) {
		at_line(err, b, &b->df->instrs[stg->first]);
		goto out;
	}
	/* a stage starts without a maintainer: the base's author is not the child's */
	json_object_del(im.cfg, "author");
	print_id(b, &im);
	if ((ret = run_triggers(b, &im, err)) < 0 ||
	    (ret = eval_with_base(b, index, &im, &ev, err)) < 0) {
		at_line(err, b, &b->df->instrs[stg->first]);
		goto out;
	}
	for (size_t i = 1; i < ev.nsteps; i++) {
		struct step_run r = {.b = b, .st = &ev.steps[i], .im = &im, .cmd_set = cmd_set};
		if (cancelled) {
			ret = keel_err_user(err, ECANCELED, "cancelled: another stage failed");
			goto out;
		}
		b->step++;
		keel_progress_step(drv(b)->p, index, b->step, b->nsteps,
				   ev.steps[i].instr->original);
		if ((ret = do_step(&r, err)) < 0) {
			at_line(err, b, ev.steps[i].instr);
			goto out;
		}
		cmd_set = r.cmd_set;
		print_id(b, &im);
	}
	if (!im.id) /* FROM scratch and nothing else: an image of no layers */
		ret = exec_image_commit(b->s, &im, NULL, "", err);
	if (ret == 0 && !(b->stage_ids[index] = strdup(im.id)))
		ret = keel_err(err, ENOMEM, "build");
out:
	keel_df_stage_eval_free(&ev);
	exec_image_clear(&im);
	return ret;
}

/* --label: a LABEL step at the end, as Docker's legacy builder appends one. */
static int apply_labels(struct builder *b, char **id, keel_error_t *err)
{
	struct exec_image im = {0};
	struct strbuf cm = {0};
	cleanup_free char *created_by = NULL;
	int ret;
	if (!b->o->labels || !b->o->labels[0])
		return 0;
	if (exec_image_load(b->s, *id, &im, err) < 0)
		return -1;
	sb_add(&cm, "LABEL");
	for (char *const *l = b->o->labels; *l; l++) {
		cleanup_free char *k = strdup(*l);
		char *eq = k ? strchr(k, '=') : NULL;
		if (eq)
			*eq++ = '\0';
		json_t *cfg = exec_config_of(&im), *labels = json_object_get(cfg, "Labels");
		if (!json_is_object(labels))
			json_object_set_new(cfg, "Labels", labels = json_object());
		json_object_set_new(labels, k, json_string(eq ? eq : ""));
		sb_addc(&cm, ' '), sb_add(&cm, *l);
	}
	b->step++;
	keel_progress_step(drv(b)->p, drv(b)->stage, b->step, b->nsteps, cm.s ? cm.s : "LABEL");
	created_by = exec_nop(&im, cm.s, false);
	ret = exec_image_commit(b->s, &im, NULL, created_by, err);
	sb_free(&cm);
	if (ret == 0) {
		print_id(b, &im);
		free(*id);
		*id = strdup(im.id);
	}
	exec_image_clear(&im);
	return ret;
}

/* ---- stages in worker processes ---- */

/* What a worker leaves for the parent, in memory they share. */
struct worker_result {
	int state; /* 0: nothing (the worker died), 1: built, 2: failed */
	keel_error_t err;
	char id[96];
};

struct worker {
	pid_t pid;
	int fd; /* its progress frames; the end of the pipe means it exited */
	size_t stage;
	struct worker_result *res;
};

enum { PENDING, RUNNING, BUILT, FAILED };

static void on_cancel(int sig)
{
	int saved = errno;
	(void)sig;
	cancelled = 1;
	if (cancel_fd >= 0 && write(cancel_fd, "x", 1) < 0) {
		/* a second SIGTERM: the watcher was woken already */
	}
	errno = saved;
}

/* A worker's output stream: to the progress forwarder, and it notes the RUN container
 * exec_run.c announces (" ---> Running in <12 hex>", one write, before the container starts)
 * so that a cancel can kill it instead of waiting for a long RUN to end. */
struct watch {
	struct driver *d;
	pthread_mutex_t lock;
	char ctr[13];
	int fd; /* read end of cancel_fd's pipe */
};

static ssize_t watch_write(void *cookie, const char *buf, size_t len)
{
	static const char ann[] = " ---> Running in ";
	struct watch *w = cookie;
	size_t n = sizeof(ann) - 1;
	if (len == n + 13 && !memcmp(buf, ann, n) && buf[n + 12] == '\n' &&
	    strspn(buf + n, "0123456789abcdef") == 12) {
		pthread_mutex_lock(&w->lock);
		memcpy(w->ctr, buf + n, 12);
		w->ctr[12] = '\0';
		pthread_mutex_unlock(&w->lock);
	}
	keel_progress_text(w->d->p, w->d->stage, buf, len);
	return (ssize_t)len;
}

/* The watcher thread: once cancelled, SIGKILL every container the worker announces, until the
 * worker exits (a container announced but not started yet cannot be killed: try again 50 ms
 * later). A store connection of its own: it must not share the main thread's. The RUN then
 * fails with 137, and the main thread removes its container as after any failed RUN. */
static void *watch_main(void *arg)
{
	struct watch *w = arg;
	struct keel_engine *e = NULL;
	keel_error_t err;
	char id[13], killed[13] = "", x;
	while (read(w->fd, &x, 1) < 0 && errno == EINTR)
		;
	for (;; usleep(50000)) {
		struct keel_ctr *c;
		pthread_mutex_lock(&w->lock);
		memcpy(id, w->ctr, sizeof(id));
		pthread_mutex_unlock(&w->lock);
		if (!id[0] || !strcmp(id, killed))
			continue;
		if (!e && !(e = keel_engine_open(w->d->b.e->root, w->d->b.e->run_root, &err)))
			return NULL;
		if (!(c = keel_ctr_get(e, id, &err)))
			continue;
		if (keel_ctr_kill(e, c, SIGKILL, &err) == 0)
			memcpy(killed, id, sizeof(killed));
		keel_ctr_free(c);
	}
	return NULL;
}

/* Sets up the worker's output stream and cancel watcher; NULL out on failure (the build
 * goes on, a cancel then waits for the running step). */
static FILE *watch_start(struct driver *d, struct watch *w)
{
	cookie_io_functions_t io = {.write = watch_write};
	int pfd[2];
	pthread_t t;
	FILE *f;
	*w = (struct watch){.d = d, .fd = -1};
	pthread_mutex_init(&w->lock, NULL);
	if (!(f = fopencookie(w, "w", io)))
		return NULL;
	setvbuf(f, NULL, _IONBF, 0);
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return f;
	w->fd = pfd[0];
	cancel_fd = pfd[1];
	if (pthread_create(&t, NULL, watch_main, w) == 0)
		pthread_detach(t);
	return f;
}

/* The child: a store connection of its own (an SQLite connection must not cross fork(); the
 * parent closed its own before forking), its reports as frames on fd. */
static int worker_main(struct driver *d, size_t stage, int fd, struct worker_result *res)
{
	struct sigaction sa = {.sa_handler = on_cancel, .sa_flags = SA_RESTART};
	static struct watch w; /* outlives this frame: the watcher thread may run until _exit */
	struct keel_engine *e;
	keel_error_t err = {0};
	int ret = -1;
	signal(SIGPIPE, SIG_IGN); /* a parent gone: the frames are lost, the build goes on */
	e = keel_engine_open(d->b.e->root, d->b.e->run_root, &err);
	if (e) {
		d->b.e = e;
		d->b.s = e->store;
		d->p = d->p ? keel_progress_forward(fd, &err) : NULL;
		d->stage = stage;
		d->b.step = d->first_step[stage] - 1;
		d->b.out = watch_start(d, &w);
		sigaction(SIGTERM, &sa, NULL);
		ret = build_stage(&d->b, d->g, stage, &err);
	}
	if (ret == 0) {
		snprintf(res->id, sizeof(res->id), "%s", d->b.stage_ids[stage]);
		res->state = 1;
	} else {
		res->err = err;
		res->state = 2;
	}
	keel_progress_free(d->p);
	/* e stays open: the watcher thread may still use its names, and the process ends now
	 * (_exit: an SQLite connection needs no close to leave its database consistent) */
	return ret == 0 ? 0 : 1;
}

static int start_worker(struct driver *d, size_t stage, struct worker *w, keel_error_t *err)
{
	int pfd[2];
	w->stage = stage;
	w->res = mmap(NULL, sizeof(*w->res), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	if (w->res == MAP_FAILED)
		return keel_err_sys(err, "build: mmap");
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		munmap(w->res, sizeof(*w->res));
		return keel_err_sys(err, "build: pipe");
	}
	if (d->b.o->out)
		fflush(d->b.o->out); /* nothing buffered may be written twice */
	w->pid = fork();
	if (w->pid == 0) {
		close(pfd[0]);
		_exit(worker_main(d, stage, pfd[1], w->res));
	}
	close(pfd[1]);
	if (w->pid < 0) {
		close(pfd[0]);
		munmap(w->res, sizeof(*w->res));
		return keel_err_sys(err, "build: fork");
	}
	w->fd = pfd[0];
	return 0;
}

/* The worker's pipe ended (or broke): reap it, take its result. */
static int finish_worker(struct driver *d, struct worker *w, keel_error_t *err)
{
	const char *name = d->b.df->stages[w->stage].name;
	int status = 0, ret;
	close(w->fd); /* first: a worker still writing gets EPIPE instead of blocking */
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (w->res->state == 1)
		ret = (d->b.stage_ids[w->stage] = strdup(w->res->id)) ? 0
								       : keel_err(err, ENOMEM, "build");
	else if (w->res->state == 2)
		*err = w->res->err, ret = -1;
	else
		ret = keel_err(err, EIO, "build: the process building stage %s died (status 0x%x)",
			       name ? name : "?", (unsigned)status);
	keel_progress_end(d->p, w->stage, ret == 0);
	munmap(w->res, sizeof(*w->res));
	return ret;
}

static bool stage_ready(const struct driver *d, const char *state, size_t i)
{
	const struct keel_df_stage_deps *dep = &d->g->deps[i];
	for (size_t k = 0; k < dep->nstages; k++)
		if (state[dep->stages[k]] != BUILT)
			return false;
	return true;
}

/* Takes the store back after the workers: a fresh connection in e->store. */
static int reopen_store(struct builder *b, keel_error_t *err)
{
	struct keel_engine *n = keel_engine_open(b->e->root, b->e->run_root, err);
	if (!n)
		return -1;
	b->e->store = b->s = n->store;
	n->store = NULL;
	keel_engine_close(n);
	return 0;
}

/* Every stage in a worker process, as many at a time as jobs and the dependencies allow,
 * picked in the sequential order. The first failure is the build's error: the other
 * workers are told to stop (SIGTERM: at their next step, so a RUN already running ends
 * first and its container is removed as usual) and nothing more is started. */
static int build_workers(struct driver *d, const size_t *order, size_t n, size_t jobs,
			 keel_error_t *err)
{
	struct builder *b = &d->b;
	cleanup_free char *state = calloc(b->df->nstages + 1, 1);
	cleanup_free struct worker *w = calloc(jobs, sizeof(*w));
	cleanup_free struct pollfd *pfd = calloc(jobs, sizeof(*pfd));
	size_t nrun = 0;
	keel_error_t e2;
	int ret = 0;
	if (!state || !w || !pfd)
		return keel_err(err, ENOMEM, "build");
	keel_store_close(b->e->store);
	b->e->store = b->s = NULL;
	for (;;) {
		for (size_t k = 0; ret == 0 && nrun < jobs && k < n; k++) {
			if (state[order[k]] != PENDING || !stage_ready(d, state, order[k]))
				continue;
			if (start_worker(d, order[k], &w[nrun], err) < 0) {
				ret = -1;
				for (size_t j = 0; j < nrun; j++)
					kill(w[j].pid, SIGTERM);
				break;
			}
			state[order[k]] = RUNNING;
			nrun++;
		}
		if (nrun == 0)
			break;
		for (size_t k = 0; k < nrun; k++)
			pfd[k] = (struct pollfd){.fd = w[k].fd, .events = POLLIN};
		if (poll(pfd, nrun, keel_progress_is_tty(d->p) ? 100 : -1) < 0) {
			if (errno != EINTR) /* cannot wait on all: read each, blocking */
				for (size_t k = 0; k < nrun; k++)
					pfd[k].revents = POLLIN;
		}
		keel_progress_tick(d->p);
		/* downwards: the last worker moves into a finished one's place */
		for (size_t k = nrun; k-- > 0;) {
			if (!pfd[k].revents ||
			    keel_progress_feed(d->p, w[k].stage, w[k].fd, &e2) > 0)
				continue;
			if (finish_worker(d, &w[k], ret == 0 ? err : &e2) == 0) {
				state[w[k].stage] = BUILT;
			} else {
				state[w[k].stage] = FAILED;
				if (ret == 0)
					for (size_t j = 0; j < nrun; j++)
						if (j != k)
							kill(w[j].pid, SIGTERM);
				ret = -1;
			}
			w[k] = w[--nrun];
		}
	}
	if (reopen_store(b, ret == 0 ? err : &e2) < 0)
		ret = -1;
	return ret;
}

static int build_inline(struct driver *d, const size_t *order, size_t n, keel_error_t *err)
{
	int ret = 0;
	for (size_t k = 0; ret == 0 && k < n; k++) {
		size_t i = order[k];
		d->stage = i;
		d->b.out = keel_progress_stream(d->p, i);
		d->b.step = d->first_step[i] - 1;
		ret = build_stage(&d->b, d->g, i, err);
		keel_progress_end(d->p, i, ret == 0);
	}
	return ret;
}

/* $KEEL_BUILD_JOBS, else the number of CPUs, at least 2: RUN steps wait on I/O too. */
static size_t build_jobs(void)
{
	const char *j = getenv("KEEL_BUILD_JOBS");
	long n = j && *j ? strtol(j, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
	if (!(j && *j) && n < 2)
		n = 2;
	return n < 1 ? 1 : n > 64 ? 64 : (size_t)n;
}

/* The needed stages in the order a sequential build takes them (wave, then position):
 * the step numbers and the plain output follow it whatever runs at the same time.
 * Returns true when two of them do not depend on each other (share a wave). */
static bool plan_stages(struct driver *d, const bool *needed, size_t *order, size_t *n,
			keel_error_t *err)
{
	struct builder *b = &d->b;
	int maxwave = 0;
	bool parallel = false;
	*n = 0;
	for (size_t i = 0; i < b->df->nstages; i++)
		if (needed[i] && d->g->wave[i] > maxwave)
			maxwave = d->g->wave[i];
	for (int w = 0; w <= maxwave; w++)
		for (size_t i = 0; i < b->df->nstages; i++) {
			const struct keel_df_stage *stg = &b->df->stages[i];
			char name[32];
			if (!needed[i] || d->g->wave[i] != w)
				continue;
			if (*n && d->g->wave[order[*n - 1]] == w)
				parallel = true;
			order[(*n)++] = i;
			d->first_step[i] = b->nsteps + 1;
			b->nsteps += stg->count;
			snprintf(name, sizeof(name), "stage-%zu", i);
			if (keel_progress_add_stage(d->p, i, stg->name ? stg->name : name, stg->count,
						    err) < 0)
				return -1;
		}
	return parallel;
}

static int build_all(struct driver *d, char **out_id, keel_error_t *err)
{
	struct builder *b = &d->b;
	struct keel_df_graph g = {0};
	bool *needed = NULL, labels = b->o->labels && b->o->labels[0];
	size_t *order = NULL, norder = 0, nst = b->df->nstages;
	int target, ret = -1, parallel;
	if (keel_df_graph_build(b->df, b->o->build_args, &g, err) < 0)
		return -1;
	d->g = &g;
	needed = calloc(nst + 1, sizeof(bool));
	order = calloc(nst + 1, sizeof(size_t));
	d->first_step = calloc(nst + 1, sizeof(size_t));
	b->stage_ids = calloc(nst + 1, sizeof(char *));
	if (!needed || !order || !d->first_step || !b->stage_ids) {
		keel_err(err, ENOMEM, "build");
		goto out;
	}
	if ((target = keel_df_graph_needed(b->df, &g, b->o->target, needed, err)) < 0)
		goto out;
	if ((parallel = plan_stages(d, needed, order, &norder, err)) < 0)
		goto out;
	if (labels && (b->nsteps++, keel_progress_add_stage(d->p, nst, "label", 1, err) < 0))
		goto out;
	/* a terminal's display is redrawn while a worker runs, so it always uses them */
	if (keel_progress_is_tty(d->p) || (parallel && build_jobs() > 1))
		ret = build_workers(d, order, norder, build_jobs(), err);
	else
		ret = build_inline(d, order, norder, err);
	if (ret == 0 && !(*out_id = strdup(b->stage_ids[target])))
		ret = keel_err(err, ENOMEM, "build");
	if (ret == 0 && labels) {
		d->stage = nst;
		b->out = keel_progress_stream(d->p, nst);
		b->step = b->nsteps - 1;
		ret = apply_labels(b, out_id, err);
		keel_progress_end(d->p, nst, ret == 0);
	}
out:
	for (size_t i = 0; b->stage_ids && i < nst; i++)
		free(b->stage_ids[i]);
	free(b->stage_ids);
	b->stage_ids = NULL;
	free(needed);
	free(order);
	free(d->first_step);
	d->first_step = NULL;
	d->g = NULL;
	keel_df_graph_free(&g);
	return ret;
}

/* The overlays of COPY/ADD/WORKDIR are mounted in a private mount namespace of this process:
 * nothing can leak into the host's mount table, whatever happens to us. */
static int private_mounts(keel_error_t *err)
{
	if (unshare(CLONE_NEWNS) < 0)
		return keel_err_sys(err, "build: unshare(CLONE_NEWNS)");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return keel_err_sys(err, "build: making mounts private");
	return 0;
}

int keel_build(struct keel_engine *e, const struct keel_build_opts *o, char **out_id,
	       keel_error_t *err)
{
	struct driver d = {.b = {.e = e, .s = e->store, .o = o, .out = o->out}};
	struct builder *b = &d.b;
	char tmpl[4096];
	cleanup_strv char **full = NULL;
	size_t nfull = 0;
	int ret = -1;
	*out_id = NULL;
	for (char *const *t = o->tags; t && *t; t++) {
		char *f = keel_image_normalize_tag(*t, err);
		if (!f) {
			keel_err_wrap(err, "invalid tag %s", *t);
			return -1;
		}
		strv_push(&full, &nfull, f);
	}
	b->df = keel_dockerfile_parse(o->dockerfile, o->dockerfile_len,
				      o->dockerfile_name ? o->dockerfile_name : "Dockerfile", err);
	if (!b->df)
		return -1;
	if (o->out && !(d.p = keel_progress_new(o->out, o->progress, err)))
		goto out;
	snprintf(tmpl, sizeof(tmpl), "%s/tmp", keel_store_root(b->s));
	if (exec_cache_migrate(b->s, err) < 0 || keel_mkdir_p(tmpl, 0700, err) < 0 ||
	    private_mounts(err) < 0)
		goto out;
	snprintf(tmpl, sizeof(tmpl), "%s/tmp/build-XXXXXX", keel_store_root(b->s));
	if (!mkdtemp(tmpl)) {
		keel_err_sys(err, "build: mkdtemp");
		goto out;
	}
	b->tmp = tmpl;
	ret = build_all(&d, out_id, err);
	for (size_t i = 0; ret == 0 && i < nfull; i++)
		ret = keel_imgdb_tag(b->s, *out_id, full[i], err);
	{
		keel_error_t e2;
		keel_rm_rf(tmpl, &e2);
	}
out:
	if (ret < 0) {
		free(*out_id);
		*out_id = NULL;
	}
	keel_progress_free(d.p); /* the display is finished before anyone prints the error */
	keel_dockerfile_free(b->df);
	return ret;
}
