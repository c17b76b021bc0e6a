/* The build driver: the needed stages in dependency order, one image per instruction
 * (Docker's legacy builder), the step cache, the progress lines. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/exec_internal.h"
#include "build/strbuf.h"
#include "image/image.h"
#include "store/digest.h"
#include "store/imagedb.h"
#include "util/cleanup.h"
#include "util/fs.h"

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
};

static void plan_free(struct copy_plan *p)
{
	strv_free(p->srcs);
	free(p->from);
	free(p->dest);
	exec_image_clear(&p->from_im);
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
	if (p->heredoc >= 0) {
		sb_add(&cm, "heredoc");
	} else if (p->from) {
		sb_add(&cm, "from ");
		sb_add(&cm, p->from);
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
	if (r->b->out)
		fprintf(r->b->out, " ---> Using cache\n");
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
	if (b->out)
		fprintf(b->out, "Step %zu/%zu : %s\n", b->step, b->nsteps,
			b->df->instrs[stg->first].original);
	if (g->deps[index].base_stage >= 0)
		ret = exec_image_load(b->s, b->stage_ids[g->deps[index].base_stage], &im, err);
	else if (!strcmp(ev.base, "scratch"))
		ret = exec_image_scratch(&im, err);
	else
		ret = load_image(b, ev.base, &im, err);
	if (ret < 0) {
		at_line(err, b, &b->df->instrs[stg->first]);
		goto out;
	}
	print_id(b, &im);
	if ((ret = run_triggers(b, &im, err)) < 0 ||
	    (ret = eval_with_base(b, index, &im, &ev, err)) < 0) {
		at_line(err, b, &b->df->instrs[stg->first]);
		goto out;
	}
	for (size_t i = 1; i < ev.nsteps; i++) {
		struct step_run r = {.b = b, .st = &ev.steps[i], .im = &im, .cmd_set = cmd_set};
		b->step++;
		if (b->out)
			fprintf(b->out, "Step %zu/%zu : %s\n", b->step, b->nsteps,
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
	if (b->out)
		fprintf(b->out, "Step %zu/%zu : %s\n", b->step, b->nsteps, cm.s);
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

static int build_all(struct builder *b, char **out_id, keel_error_t *err)
{
	struct keel_df_graph g = {0};
	bool *needed = NULL;
	int target, ret = -1, maxwave = 0;
	if (keel_df_graph_build(b->df, b->o->build_args, &g, err) < 0)
		return -1;
	needed = calloc(b->df->nstages + 1, sizeof(bool));
	b->stage_ids = calloc(b->df->nstages + 1, sizeof(char *));
	if (!needed || !b->stage_ids) {
		keel_err(err, ENOMEM, "build");
		goto out;
	}
	if ((target = keel_df_graph_needed(b->df, &g, b->o->target, needed, err)) < 0)
		goto out;
	for (size_t i = 0; i < b->df->nstages; i++)
		if (needed[i]) {
			b->nsteps += b->df->stages[i].count;
			maxwave = g.wave[i] > maxwave ? g.wave[i] : maxwave;
		}
	if (b->o->labels && b->o->labels[0])
		b->nsteps++;
	ret = 0;
	for (int w = 0; ret == 0 && w <= maxwave; w++)
		for (size_t i = 0; ret == 0 && i < b->df->nstages; i++)
			if (needed[i] && g.wave[i] == w)
				ret = build_stage(b, &g, i, err);
	if (ret == 0 && !(*out_id = strdup(b->stage_ids[target])))
		ret = keel_err(err, ENOMEM, "build");
	if (ret == 0)
		ret = apply_labels(b, out_id, err);
out:
	for (size_t i = 0; b->stage_ids && i < b->df->nstages; i++)
		free(b->stage_ids[i]);
	free(b->stage_ids);
	b->stage_ids = NULL;
	free(needed);
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
	struct builder b = {.e = e, .s = e->store, .o = o, .out = o->out};
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
	b.df = keel_dockerfile_parse(o->dockerfile, o->dockerfile_len,
				     o->dockerfile_name ? o->dockerfile_name : "Dockerfile", err);
	if (!b.df)
		return -1;
	snprintf(tmpl, sizeof(tmpl), "%s/tmp", keel_store_root(b.s));
	if (exec_cache_migrate(b.s, err) < 0 || keel_mkdir_p(tmpl, 0700, err) < 0 ||
	    private_mounts(err) < 0)
		goto out;
	snprintf(tmpl, sizeof(tmpl), "%s/tmp/build-XXXXXX", keel_store_root(b.s));
	if (!mkdtemp(tmpl)) {
		keel_err_sys(err, "build: mkdtemp");
		goto out;
	}
	b.tmp = tmpl;
	ret = build_all(&b, out_id, err);
	for (size_t i = 0; ret == 0 && i < nfull; i++)
		ret = keel_imgdb_tag(b.s, *out_id, full[i], err);
	{
		keel_error_t e2;
		keel_rm_rf(tmpl, &e2);
	}
out:
	if (ret < 0) {
		free(*out_id);
		*out_id = NULL;
	}
	keel_dockerfile_free(b.df);
	return ret;
}
