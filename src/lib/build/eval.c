/* ARG scoping and variable expansion of a stage (see eval.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "build/dockerfile_internal.h"
#include "build/eval.h"
#include "build/strbuf.h"
#include "util/cleanup.h"

static const char *const proxy_args[] = { "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
					  "FTP_PROXY",	"ftp_proxy",  "NO_PROXY",    "no_proxy",
					  "ALL_PROXY",	"all_proxy",  NULL };

bool keel_df_arg_is_proxy(const char *name)
{
	for (const char *const *p = proxy_args; *p; p++)
		if (strcmp(*p, name) == 0)
			return true;
	return false;
}

/* The value of --build-arg name (the last one given wins), or NULL. */
static const char *build_arg(char *const *ba, const char *name)
{
	const char *v = NULL;
	size_t n = strlen(name);
	for (; ba && *ba; ba++)
		if (strncmp(*ba, name, n) == 0 && (*ba)[n] == '=')
			v = *ba + n + 1;
	return v;
}

static const char *goarch(void)
{
	static struct utsname u;
	if (uname(&u) < 0)
		return "amd64";
	if (strcmp(u.machine, "x86_64") == 0)
		return "amd64";
	if (strcmp(u.machine, "aarch64") == 0)
		return "arm64";
	if (strncmp(u.machine, "armv7", 5) == 0)
		return "arm";
	if (strcmp(u.machine, "i686") == 0 || strcmp(u.machine, "i386") == 0)
		return "386";
	return u.machine;
}

static int platform_args(struct keel_env *e, keel_error_t *err)
{
	char plat[64];
	const char *arch = goarch();
	snprintf(plat, sizeof(plat), "linux/%s", arch);
	for (int i = 0; i < 2; i++) {
		const char *pre = i ? "TARGET" : "BUILD";
		char k[32];
		snprintf(k, sizeof(k), "%sPLATFORM", pre);
		if (keel_env_set(e, k, plat, err) < 0)
			return -1;
		snprintf(k, sizeof(k), "%sOS", pre);
		if (keel_env_set(e, k, "linux", err) < 0)
			return -1;
		snprintf(k, sizeof(k), "%sARCH", pre);
		if (keel_env_set(e, k, arch, err) < 0)
			return -1;
		snprintf(k, sizeof(k), "%sVARIANT", pre);
		if (keel_env_set(e, k, "", err) < 0)
			return -1;
	}
	return 0;
}

/* Expands one word, prefixing errors with the instruction's location. */
static int word(const struct keel_dockerfile *df, const struct keel_df_instr *in, const char *w,
		const struct keel_env *env, char **out, keel_error_t *err)
{
	if (keel_shell_word(w, env, df->escape, 0, out, err) < 0) {
		char msg[KEEL_ERROR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", err->msg);
		return df_err(err, df, in->line, "%s: %s", keel_df_kind_name(in->kind), msg);
	}
	return 0;
}

int keel_df_global_args(const struct keel_dockerfile *df, char *const *build_args,
			struct keel_env *out, keel_error_t *err)
{
	if (platform_args(out, err) < 0)
		return -1;
	for (size_t i = 0; i < df->nglobal; i++) {
		const struct keel_df_instr *in = &df->instrs[i];
		for (size_t k = 0; k < in->nkvs; k++) {
			const char *key = in->kvs[k].key, *ba = build_arg(build_args, key);
			cleanup_free char *v = NULL;
			if (!ba && in->kvs[k].value &&
			    word(df, in, in->kvs[k].value, out, &v, err) < 0)
				return -1;
			if ((ba || v) && keel_env_set(out, key, ba ? ba : v, err) < 0)
				return -1;
		}
	}
	return 0;
}

char *keel_df_path_join(const char *cwd, const char *path)
{
	struct strbuf b = { 0 };
	cleanup_free char *full = NULL;
	char *save = NULL, *tok;

	if (asprintf(&full, "%s/%s", path[0] == '/' || !cwd ? "" : cwd, path) < 0)
		return NULL;
	for (tok = strtok_r(full, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			char *slash = b.s ? strrchr(b.s, '/') : NULL;
			if (slash)
				b.len = (size_t)(slash - b.s), b.s[b.len] = '\0';
			continue;
		}
		sb_addc(&b, '/');
		sb_add(&b, tok);
	}
	if (!b.len)
		sb_addc(&b, '/');
	return sb_steal(&b);
}

/* ---- a stage ---- */

struct scope {
	struct keel_env env;  /* ENV, starting from the base image's */
	struct keel_env args; /* ARGs in scope with a value, in declaration order */
	struct keel_env global;
	char *workdir;
};

/* ARGs overlaid by ENV: what $VAR means at this point of the stage. */
static int merged(const struct scope *s, struct keel_env *out, keel_error_t *err)
{
	if (keel_env_copy(out, &s->args, err) < 0 || keel_env_copy(out, &s->env, err) < 0)
		return -1;
	return 0;
}

static int copy_flags(struct keel_df_step *st, const struct keel_dockerfile *df,
		      const struct keel_env *env, bool expand, keel_error_t *err)
{
	const struct keel_df_instr *in = st->instr;
	for (size_t i = 0; i < in->nflags; i++) {
		struct keel_df_flag *f = vec_grow((void **)&st->flags, &st->nflags, sizeof(*f));
		if (!f || !(f->name = strdup(in->flags[i].name)))
			return keel_err(err, ENOMEM, "expanding");
		if (!in->flags[i].value)
			continue;
		if (expand && strcmp(f->name, "mount") != 0 && strcmp(f->name, "exclude") != 0) {
			if (word(df, in, in->flags[i].value, env, &f->value, err) < 0)
				return -1;
		} else if (!(f->value = strdup(in->flags[i].value))) {
			return keel_err(err, ENOMEM, "expanding");
		}
	}
	return 0;
}

static int cmp_arg_index(const void *a, const void *b, void *args)
{
	char *const *v = args;
	return strcmp(v[*(const size_t *)a], v[*(const size_t *)b]);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int copy_args(struct keel_df_step *st, const struct keel_dockerfile *df,
		     const struct keel_env *env, int mode, keel_error_t *err)
{
	const struct keel_df_instr *in = st->instr;
	cleanup_free size_t *order = calloc(in->nargs + 1, sizeof(size_t));
	if (!order)
		return keel_err(err, ENOMEM, "expanding");
	for (size_t i = 0; i < in->nargs; i++)
		order[i] = i;
	/* Docker's EXPOSE sorts its words as written (sort.Strings before expansion), and
	 * the history shows that order: "EXPOSE $P 80" with P=8080 is "EXPOSE 8080 80". */
	if (mode == 2)
		qsort_r(order, in->nargs, sizeof(order[0]), cmp_arg_index, in->args);
	for (size_t j = 0; j < in->nargs; j++) {
		size_t i = order[j];
		char *w = NULL;
		if (mode == 2) { /* split into words: EXPOSE */
			char **ws = NULL;
			size_t n = 0;
			if (keel_shell_words(in->args[i], env, df->escape, 0, &ws, &n, err) < 0) {
				char msg[KEEL_ERROR_MSG_MAX];
				snprintf(msg, sizeof(msg), "%s", err->msg);
				return df_err(err, df, in->line, "%s: %s",
					      keel_df_kind_name(in->kind), msg);
			}
			for (size_t k = 0; k < n; k++)
				if (strv_push(&st->args, &st->nargs, steal_pointer(&ws[k])) < 0) {
					strv_free(ws);
					return keel_err(err, ENOMEM, "expanding");
				}
			strv_free(ws);
			continue;
		}
		if (mode == 1) {
			if (word(df, in, in->args[i], env, &w, err) < 0)
				return -1;
		} else if (!(w = strdup(in->args[i]))) {
			return keel_err(err, ENOMEM, "expanding");
		}
		if (strv_push(&st->args, &st->nargs, w) < 0)
			return keel_err(err, ENOMEM, "expanding");
	}
	if (!st->args && strv_push(&st->args, &st->nargs, strdup("")) == 0) {
		free(st->args[0]);
		st->args[0] = NULL;
		st->nargs = 0;
	}
	return st->args ? 0 : keel_err(err, ENOMEM, "expanding");
}

static int add_step_kv(struct keel_df_step *st, const char *k, const char *v, keel_error_t *err)
{
	struct keel_df_kv *kv = vec_grow((void **)&st->kvs, &st->nkvs, sizeof(*kv));
	if (!kv || !(kv->key = strdup(k)) || (v && !(kv->value = strdup(v))))
		return keel_err(err, ENOMEM, "expanding");
	return 0;
}

static int eval_arg(struct keel_df_step *st, const struct keel_dockerfile *df, struct scope *s,
		    const struct keel_env *env, char *const *build_args, keel_error_t *err)
{
	const struct keel_df_instr *in = st->instr;
	for (size_t k = 0; k < in->nkvs; k++) {
		const char *key = in->kvs[k].key, *ba = build_arg(build_args, key);
		cleanup_free char *v = NULL;
		const char *val = ba;
		if (!val && in->kvs[k].value) {
			if (word(df, in, in->kvs[k].value, env, &v, err) < 0)
				return -1;
			val = v;
		}
		if (!val)
			val = keel_env_get(&s->global, key); /* redeclared global ARG */
		if (val && keel_env_set(&s->args, key, val, err) < 0)
			return -1;
		if (add_step_kv(st, key, val, err) < 0)
			return -1;
	}
	return 0;
}

static int eval_kvs(struct keel_df_step *st, const struct keel_dockerfile *df, struct scope *s,
		    const struct keel_env *env, keel_error_t *err)
{
	const struct keel_df_instr *in = st->instr;
	for (size_t k = 0; k < in->nkvs; k++) {
		cleanup_free char *key = NULL;
		cleanup_free char *val = NULL;
		if (word(df, in, in->kvs[k].key, env, &key, err) < 0 ||
		    word(df, in, in->kvs[k].value, env, &val, err) < 0)
			return -1;
		if (add_step_kv(st, key, val, err) < 0)
			return -1;
		/* Every pair of one ENV sees the environment from before the instruction
		 * (ENV a=1 b=$a uses the old a), as Docker does. */
		if (in->kind == KEEL_DF_ENV && keel_env_set(&s->env, key, val, err) < 0)
			return -1;
	}
	return 0;
}

static int check_chmod(const struct keel_dockerfile *df, const struct keel_df_step *st,
		       keel_error_t *err)
{
	for (size_t i = 0; i < st->nflags; i++) {
		char *end;
		unsigned long v;
		if (strcmp(st->flags[i].name, "chmod") != 0 || !st->flags[i].value)
			continue;
		v = strtoul(st->flags[i].value, &end, 8);
		if (!st->flags[i].value[0] || *end || v > 07777)
			return df_err(err, df, st->instr->line,
				      "invalid --chmod=%s: an octal mode is needed (e.g. 0755)",
				      st->flags[i].value);
	}
	return 0;
}

static int eval_heredocs(struct keel_df_step *st, const struct keel_dockerfile *df,
			 const struct keel_env *env, keel_error_t *err)
{
	const struct keel_df_instr *in = st->instr;
	bool files = in->kind == KEEL_DF_COPY || in->kind == KEEL_DF_ADD;
	for (size_t i = 0; i < in->nheredocs; i++) {
		char *c = NULL;
		/* RUN's heredoc goes to the shell, which expands it; COPY/ADD's is expanded
		 * here unless its delimiter was quoted. Quotes in the body are kept. */
		if (files && in->heredocs[i].expand) {
			if (keel_shell_word(in->heredocs[i].content, env, df->escape,
					    KEEL_SHELL_RAW_QUOTES, &c, err) < 0)
				return df_err(err, df, in->line, "heredoc <<%s: %s",
					      in->heredocs[i].name, err->msg);
		} else if (!(c = strdup(in->heredocs[i].content))) {
			return keel_err(err, ENOMEM, "expanding");
		}
		if (strv_push(&st->heredocs, &(size_t){ i }, c) < 0)
			return keel_err(err, ENOMEM, "expanding");
	}
	return 0;
}

static int refuse_unsupported(const struct keel_dockerfile *df, const struct keel_df_instr *in,
			      keel_error_t *err)
{
	if (in->kind != KEEL_DF_RUN)
		return 0;
	if (keel_df_flag(in, "mount", NULL))
		return df_err(err, df, in->line,
			      "RUN --mount is not supported by keel yet (cache, secret, ssh and "
			      "bind mounts need BuildKit)");
	if (keel_df_flag(in, "security", NULL))
		return df_err(err, df, in->line, "RUN --security is not supported by keel");
	return 0;
}

/* The environment RUN sees and the history/cache args, after the step. */
static int step_env(struct keel_df_step *st, const struct scope *s, char *const *build_args,
		    keel_error_t *err)
{
	struct keel_env run = { 0 }, hist = { 0 };
	int r = merged(s, &run, err);
	for (const char *const *p = proxy_args; r == 0 && *p; p++) {
		const char *v = build_arg(build_args, *p);
		if (v && !keel_env_get(&run, *p))
			r = keel_env_set(&run, *p, v, err);
	}
	if (r == 0)
		r = keel_env_copy(&hist, &s->args, err);
	/* Docker's legacy builder (BuildArgs.FilterAllowed, prependEnvOnCmd): an ARG that
	 * an ENV of the same name shadows is left out, and the rest are sorted as "K=V". */
	for (size_t i = 0; r == 0 && i < s->env.n; i++) {
		const char *e = s->env.vars[i], *eq = strchr(e, '=');
		char *k = strndup(e, eq ? (size_t)(eq - e) : strlen(e));
		if (!k)
			r = keel_err(err, ENOMEM, "expanding");
		else
			keel_env_unset(&hist, k), free(k);
	}
	if (r == 0 && hist.n)
		qsort(hist.vars, hist.n, sizeof(char *), cmp_str);
	if (r == 0 && !run.vars)
		r = keel_env_set(&run, "", "", err), keel_env_unset(&run, "");
	if (r == 0 && !hist.vars)
		r = keel_env_set(&hist, "", "", err), keel_env_unset(&hist, "");
	if (r < 0) {
		keel_env_free(&run);
		keel_env_free(&hist);
		return -1;
	}
	st->env = run.vars;
	st->build_args = hist.vars;
	return 0;
}

static int eval_step(struct keel_df_step *st, const struct keel_dockerfile *df, struct scope *s,
		     char *const *build_args, keel_error_t *err)
{
	const struct keel_df_instr *in = st->instr;
	struct keel_env env = { 0 };
	int r = refuse_unsupported(df, in, err);

	if (r == 0)
		r = merged(s, &env, err);
	if (r < 0)
		goto out;
	switch (in->kind) {
	case KEEL_DF_ARG:
		r = eval_arg(st, df, s, &env, build_args, err);
		break;
	case KEEL_DF_ENV:
	case KEEL_DF_LABEL:
		r = eval_kvs(st, df, s, &env, err);
		break;
	case KEEL_DF_EXPOSE:
		r = copy_args(st, df, &env, 2, err);
		break;
	case KEEL_DF_ADD:
	case KEEL_DF_COPY:
		r = copy_args(st, df, &env, 1, err);
		if (r == 0)
			r = copy_flags(st, df, &env, true, err);
		if (r == 0)
			r = check_chmod(df, st, err);
		break;
	case KEEL_DF_VOLUME:
	case KEEL_DF_USER:
	case KEEL_DF_STOPSIGNAL:
	case KEEL_DF_WORKDIR:
		r = copy_args(st, df, &env, 1, err);
		break;
	default:
		r = copy_args(st, df, &env, 0, err);
		if (r == 0)
			r = copy_flags(st, df, &env, false, err);
		break;
	}
	if (r == 0)
		r = eval_heredocs(st, df, &env, err);
	if (r == 0 && in->kind == KEEL_DF_WORKDIR) {
		char *w = keel_df_path_join(s->workdir, st->args[0]);
		if (!w)
			r = keel_err(err, ENOMEM, "expanding");
		free(s->workdir);
		s->workdir = w;
	}
	if (r == 0)
		r = step_env(st, s, build_args, err);
	if (r == 0 && !(st->workdir = strdup(s->workdir)))
		r = keel_err(err, ENOMEM, "expanding");
out:
	keel_env_free(&env);
	return r;
}

static int eval_from(struct keel_df_stage_eval *out, const struct keel_dockerfile *df,
		     const struct keel_df_stage *stage, struct scope *s, keel_error_t *err)
{
	struct keel_df_step *st = &out->steps[0];
	const struct keel_df_instr *in = &df->instrs[stage->first];
	if (word(df, in, stage->base, &s->global, &out->base, err) < 0)
		return -1;
	if (!*out->base)
		return df_err(err, df, in->line, "FROM: base name (%s) should not be blank",
			      stage->base);
	if (stage->platform && word(df, in, stage->platform, &s->global, &out->platform, err) < 0)
		return -1;
	st->instr = in;
	if (copy_args(st, df, &s->global, 1, err) < 0 ||
	    copy_flags(st, df, &s->global, true, err) < 0 || step_env(st, s, NULL, err) < 0 ||
	    !(st->workdir = strdup(s->workdir)))
		return err->msg[0] ? -1 : keel_err(err, ENOMEM, "expanding");
	return 0;
}

int keel_df_eval_stage(const struct keel_dockerfile *df, size_t index,
		       const struct keel_df_eval_opts *opts, struct keel_df_stage_eval *out,
		       keel_error_t *err)
{
	const struct keel_df_stage *stage;
	struct scope s = { 0 };
	int r = 0;

	if (index >= df->nstages)
		return keel_err_user(err, EINVAL, "no stage %zu", index);
	stage = &df->stages[index];
	out->steps = calloc(stage->count, sizeof(*out->steps));
	if (!out->steps)
		return keel_err(err, ENOMEM, "expanding");
	out->nsteps = stage->count;
	err->msg[0] = '\0';
	r = keel_df_global_args(df, opts ? opts->build_args : NULL, &s.global, err);
	for (char *const *e = opts ? opts->base_env : NULL; r == 0 && e && *e; e++) {
		const char *eq = strchr(*e, '=');
		cleanup_free char *k = eq ? strndup(*e, (size_t)(eq - *e)) : NULL;
		if (eq && k)
			r = keel_env_set(&s.env, k, eq + 1, err);
	}
	if (r == 0)
		s.workdir =
		    keel_df_path_join("/", opts && opts->base_workdir ? opts->base_workdir : "/");
	if (r == 0 && !s.workdir)
		r = keel_err(err, ENOMEM, "expanding");
	if (r == 0)
		r = eval_from(out, df, stage, &s, err);
	for (size_t i = 1; r == 0 && i < stage->count; i++) {
		out->steps[i].instr = &df->instrs[stage->first + i];
		r = eval_step(&out->steps[i], df, &s, opts ? opts->build_args : NULL, err);
	}
	keel_env_free(&s.env);
	keel_env_free(&s.args);
	keel_env_free(&s.global);
	free(s.workdir);
	return r;
}

void keel_df_stage_eval_free(struct keel_df_stage_eval *ev)
{
	for (size_t i = 0; ev->steps && i < ev->nsteps; i++) {
		struct keel_df_step *st = &ev->steps[i];
		strv_free(st->args);
		for (size_t k = 0; k < st->nkvs; k++) {
			free(st->kvs[k].key);
			free(st->kvs[k].value);
		}
		free(st->kvs);
		for (size_t k = 0; k < st->nflags; k++) {
			free(st->flags[k].name);
			free(st->flags[k].value);
		}
		free(st->flags);
		strv_free(st->heredocs);
		strv_free(st->env);
		strv_free(st->build_args);
		free(st->workdir);
	}
	free(ev->steps);
	free(ev->base);
	free(ev->platform);
	memset(ev, 0, sizeof(*ev));
}

static bool declared(const struct keel_dockerfile *df, const bool *needed, const char *name)
{
	for (size_t i = 0; i < df->ninstrs; i++) {
		const struct keel_df_instr *in = &df->instrs[i];
		if (in->kind != KEEL_DF_ARG)
			continue;
		if (i >= df->nglobal && needed) {
			size_t st = 0;
			while (st + 1 < df->nstages && df->stages[st + 1].first <= i)
				st++;
			if (!needed[st])
				continue;
		}
		for (size_t k = 0; k < in->nkvs; k++)
			if (strcmp(in->kvs[k].key, name) == 0)
				return true;
	}
	return false;
}

char **keel_df_unused_build_args(const struct keel_dockerfile *df, const bool *needed,
				 char *const *build_args)
{
	char **out = NULL;
	size_t n = 0;
	for (; build_args && *build_args; build_args++) {
		const char *eq = strchr(*build_args, '=');
		cleanup_free char *k =
		    strndup(*build_args, eq ? (size_t)(eq - *build_args) : strlen(*build_args));
		if (!k)
			goto oom;
		if (keel_df_arg_is_proxy(k) || declared(df, needed, k))
			continue;
		if (strv_push(&out, &n, steal_pointer(&k)) < 0)
			goto oom;
	}
	if (!out && strv_push(&out, &n, strdup("")) == 0) {
		free(out[0]);
		out[0] = NULL;
	}
	return out;
oom:
	strv_free(out);
	return NULL;
}

static void q(struct strbuf *b, const char *s)
{
	sb_addc(b, '"');
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			sb_addc(b, '\\');
		if (*s == '\n') {
			sb_add(b, "\\n");
			continue;
		}
		sb_addc(b, *s);
	}
	sb_addc(b, '"');
}

char *keel_df_stage_eval_dump(const struct keel_df_stage_eval *ev)
{
	struct strbuf b = { 0 };
	char num[32];
	for (size_t i = 0; i < ev->nsteps; i++) {
		const struct keel_df_step *st = &ev->steps[i];
		snprintf(num, sizeof(num), "%d ", st->instr->line);
		sb_add(&b, num);
		sb_add(&b, keel_df_kind_name(st->instr->kind));
		for (size_t k = 0; k < st->nflags; k++) {
			sb_add(&b, " --");
			sb_add(&b, st->flags[k].name);
			if (st->flags[k].value) {
				sb_addc(&b, '=');
				q(&b, st->flags[k].value);
			}
		}
		for (size_t k = 0; k < st->nargs; k++) {
			sb_addc(&b, ' ');
			q(&b, st->args[k]);
		}
		for (size_t k = 0; k < st->nkvs; k++) {
			sb_addc(&b, ' ');
			q(&b, st->kvs[k].key);
			sb_addc(&b, '=');
			if (st->kvs[k].value)
				q(&b, st->kvs[k].value);
			else
				sb_add(&b, "(unset)");
		}
		for (size_t k = 0; st->heredocs && st->heredocs[k]; k++) {
			sb_add(&b, " <<");
			q(&b, st->heredocs[k]);
		}
		if (st->instr->kind == KEEL_DF_RUN && st->build_args && st->build_args[0]) {
			sb_add(&b, " |");
			for (size_t k = 0; st->build_args[k]; k++) {
				sb_addc(&b, ' ');
				q(&b, st->build_args[k]);
			}
		}
		sb_add(&b, " wd=");
		sb_add(&b, st->workdir ? st->workdir : "?");
		sb_addc(&b, '\n');
	}
	return sb_steal(&b);
}
