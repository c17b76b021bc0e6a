/* The instruction table: keyword, allowed flags, and how the rest of the line is read
 * (BuildKit's line parsers plus the checks of its instructions package). */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "build/dockerfile_internal.h"
#include "build/strbuf.h"

enum flag_type { F_STRING, F_BOOL, F_ARRAY };

struct flag_def {
	const char *name;
	enum flag_type type;
};

struct instr_def {
	const char *name;
	const struct flag_def *flags; /* {NULL}-terminated; NULL: no flags allowed */
	int (*parse)(struct keel_dockerfile *df, struct keel_df_instr *in, const char *rest,
		     keel_error_t *err);
};

#define OOM(err) keel_err(err, ENOMEM, "parsing Dockerfile")

/* ---- argument readers ---- */

static bool ws(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r';
}

/* Docker's tokenWhitespace split (no quote handling: COPY "a b" is two words). */
static int split_ws(struct keel_df_instr *in, const char *rest, keel_error_t *err)
{
	const char *p = rest;
	while (*p) {
		const char *s = p;
		while (*p && !ws(*p))
			p++;
		if (strv_push(&in->args, &in->nargs, strndup(s, (size_t)(p - s))) < 0)
			return OOM(err);
		while (ws(*p))
			p++;
	}
	return 0;
}

/* A JSON array of strings. Returns 1 (in->json set), 0 when rest is not JSON (shell form),
 * -1 for an array with a non-string (Docker refuses that rather than guessing). Like Go's
 * json.Decoder, text after the array is ignored. */
static int parse_json(struct keel_df_instr *in, const char *rest, keel_error_t *err)
{
	json_t *a;
	json_error_t jerr;
	size_t i;
	json_t *v;

	while (*rest && isspace((unsigned char)*rest))
		rest++;
	if (*rest != '[')
		return 0;
	a = json_loads(rest, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &jerr);
	if (!a || !json_is_array(a)) {
		json_decref(a);
		return 0;
	}
	json_array_foreach (a, i, v) {
		if (!json_is_string(v)) {
			json_decref(a);
			return keel_err_user(err, EINVAL,
					     "when using JSON array syntax, arrays must "
					     "be comprised of strings only");
		}
	}
	json_array_foreach (a, i, v) {
		if (strv_push(&in->args, &in->nargs, strdup(json_string_value(v))) < 0) {
			json_decref(a);
			return OOM(err);
		}
	}
	if (!in->args && strv_push(&in->args, &in->nargs, strdup("")) == 0) {
		free(in->args[0]); /* "[]": an empty vector, not NULL */
		in->args[0] = NULL;
		in->nargs = 0;
	}
	json_decref(a);
	in->json = true;
	return 1;
}

static int maybe_json(struct keel_df_instr *in, const char *rest, keel_error_t *err)
{
	int r;
	if (!*rest)
		return 0;
	r = parse_json(in, rest, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	return strv_push(&in->args, &in->nargs, strdup(rest)) < 0 ? OOM(err) : 0;
}

static int maybe_json_list(struct keel_df_instr *in, const char *rest, keel_error_t *err)
{
	int r = parse_json(in, rest, err);
	if (r != 0)
		return r < 0 ? -1 : 0;
	return split_ws(in, rest, err);
}

char **df_split_words(const char *rest, char esc, size_t *n)
{
	struct strbuf w = { 0 };
	char **words = NULL;
	bool in_word = false, blank_ok = false;
	char quote = 0;

	*n = 0;
	for (const char *p = rest;; p++) {
		char c = *p;
		if (!in_word && !quote) {
			if (!c)
				break;
			if (isspace((unsigned char)c))
				continue;
			in_word = true;
		}
		if (!c) {
			if (blank_ok || w.len)
				if (strv_push(&words, n, sb_steal(&w)) < 0)
					goto oom;
			break;
		}
		if (!quote) {
			if (isspace((unsigned char)c)) {
				if ((blank_ok || w.len) && strv_push(&words, n, sb_steal(&w)) < 0)
					goto oom;
				sb_reset(&w);
				in_word = blank_ok = false;
				continue;
			}
			if (c == '\'' || c == '"') {
				quote = c;
				blank_ok = true;
			}
			if (c == esc) {
				if (!p[1])
					continue; /* an escape at the very end is dropped */
				sb_addc(&w, c);
				c = *++p;
			}
			sb_addc(&w, c);
			continue;
		}
		/* in quotes: the escape works except inside single quotes */
		if (c == quote)
			quote = 0;
		if (c == esc && quote != '\'' && quote) {
			if (!p[1]) {
				quote = 0;
				continue;
			}
			sb_addc(&w, c);
			c = *++p;
		}
		sb_addc(&w, c);
	}
	sb_free(&w);
	if (!words && strv_push(&words, n, strdup("")) == 0) {
		free(words[0]);
		words[0] = NULL;
		*n = 0;
	}
	return words;
oom:
	sb_free(&w);
	strv_free(words);
	return NULL;
}

static int add_kv(struct keel_df_instr *in, const char *key, size_t klen, const char *value,
		  keel_error_t *err)
{
	struct keel_df_kv *kv = vec_grow((void **)&in->kvs, &in->nkvs, sizeof(*kv));
	if (!kv)
		return OOM(err);
	kv->key = strndup(key, klen);
	kv->value = value ? strdup(value) : NULL;
	if (!kv->key || (value && !kv->value))
		return OOM(err);
	return 0;
}

/* ---- per instruction ---- */

static int need_args(struct keel_df_instr *in, size_t min, keel_error_t *err)
{
	if (in->nargs >= min)
		return 0;
	return keel_err_user(err, EINVAL, "%s requires at least %s argument%s",
			     keel_df_kind_name(in->kind), min == 1 ? "one" : "two",
			     min == 1 ? "" : "s");
}

static bool valid_stage_name(const char *s)
{
	if (!islower((unsigned char)*s))
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-' &&
		    *s != '_' && *s != '.')
			return false;
	return true;
}

static int p_from(struct keel_dockerfile *df, struct keel_df_instr *in, const char *rest,
		  keel_error_t *err)
{
	if (split_ws(in, rest, err) < 0)
		return -1;
	if (!(in->nargs == 1 || (in->nargs == 3 && strcasecmp(in->args[1], "as") == 0)))
		return keel_err_user(err, EINVAL,
				     "FROM requires either one or three arguments "
				     "(FROM image [AS name])");
	if (in->nargs == 3) {
		for (char *p = in->args[2]; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!valid_stage_name(in->args[2]))
			return keel_err_user(err, EINVAL,
					     "invalid name for build stage: \"%s\", "
					     "name can't start with a number or "
					     "contain symbols",
					     in->args[2]);
	}
	return 0;
}

static int p_run(struct keel_dockerfile *df, struct keel_df_instr *in, const char *rest,
		 keel_error_t *err)
{
	const char *net = keel_df_flag(in, "network", NULL);
	if (maybe_json(in, rest, err) < 0)
		return -1;
	if (net && strcmp(net, "none") != 0 && strcmp(net, "host") != 0 &&
	    strcmp(net, "default") != 0)
		return keel_err_user(err, EINVAL,
				     "unsupported network mode --network=%s (none, "
				     "host or default)",
				     net);
	if (in->nargs == 0 || (!in->json && !*in->args[0]))
		return keel_err_user(err, EINVAL, "RUN requires at least one argument");
	return 0;
}

static int p_cmd(struct keel_dockerfile *df, struct keel_df_instr *in, const char *rest,
		 keel_error_t *err)
{
	return maybe_json(in, rest, err);
}

static int p_shell(struct keel_dockerfile *df, struct keel_df_instr *in, const char *rest,
		   keel_error_t *err)
{
	if (maybe_json(in, rest, err) < 0)
		return -1;
	if (!in->json)
		return keel_err_user(err, EINVAL,
				     "SHELL requires the arguments to be in JSON "
				     "form, e.g. SHELL [\"/bin/sh\", \"-c\"]");
	return need_args(in, 1, err);
}

static int check_chmod(const struct keel_df_instr *in, keel_error_t *err)
{
	const char *m = keel_df_flag(in, "chmod", NULL);
	char *end;
	unsigned long v;
	if (!m)
		return 0;
	v = strtoul(m, &end, 8);
	/* $VAR is expanded later (eval.c checks again); only a literal is checked here. */
	if (strchr(m, '$'))
		return 0;
	if (!*m || *end || v > 07777)
		return keel_err_user(err, EINVAL,
				     "invalid --chmod=%s: an octal mode is needed "
				     "(e.g. 0755)",
				     m);
	return 0;
}

static int p_copy(struct keel_dockerfile *df, struct keel_df_instr *in, const char *rest,
		  keel_error_t *err)
{
	if (maybe_json_list(in, rest, err) < 0 || check_chmod(in, err) < 0)
		return -1;
	if (in->nargs < 2)
		return keel_err_user(err, EINVAL,
				     "%s requires at least two arguments, but only "
				     "%s provided: the destination could not be "
				     "determined",
				     keel_df_kind_name(in->kind),
				     in->nargs ? "one was" : "none were");
	return 0;
}

static int p_volume(struct keel_dockerfile *df, struct keel_df_instr *in, const char *rest,
		    keel_error_t *err)
{
	if (maybe_json_list(in, rest, err) < 0 || need_args(in, 1, err) < 0)
		return -1;
	for (size_t i = 0; i < in->nargs; i++)
		if (!*in->args[i])
			return keel_err_user(err, EINVAL,
					     "VOLUME specified can not be an empty "
					     "string");
	return 0;
}

static int p_expose(struct keel_dockerfile *df, struct keel_df_instr *in, const char *rest,
		    keel_error_t *err)
{
	if (split_ws(in, rest, err) < 0)
		return -1;
	return need_args(in, 1, err);
}

static int p_string(struct keel_dockerfile *df, struct keel_df_instr *in, const char *rest,
		    keel_error_t *err)
{
	if (!*rest)
		return keel_err_user(err, EINVAL, "%s requires exactly one argument",
				     keel_df_kind_name(in->kind));
	if (in->kind == KEEL_DF_MAINTAINER)
		df_warn(df, in->line, "MAINTAINER is deprecated: use LABEL maintainer=...");
	return strv_push(&in->args, &in->nargs, strdup(rest)) < 0 ? OOM(err) : 0;
}

/* ENV and LABEL: "KEY value" (legacy, one pair, the value is the rest of the line) when the
 * first word has no "=", else KEY=VALUE words. */
static int p_namevals(struct keel_dockerfile *df, struct keel_df_instr *in, const char *rest,
		      keel_error_t *err)
{
	const char *kind = keel_df_kind_name(in->kind);
	size_t n, i;
	char **words = df_split_words(rest, df->escape, &n);
	int r = 0;

	if (!words)
		return OOM(err);
	if (n == 0) {
		r = keel_err_user(err, EINVAL, "%s requires at least one argument", kind);
	} else if (!strchr(words[0], '=')) {
		const char *p = rest, *v;
		while (*p && !ws(*p))
			p++;
		for (v = p; ws(*v); v++)
			;
		if (!*v)
			r = keel_err_user(err, EINVAL,
					  "%s must have two arguments (%s KEY value or "
					  "%s KEY=value ...)",
					  kind, kind, kind);
		else
			r = add_kv(in, rest, (size_t)(p - rest), v, err);
		in->legacy_kv = true;
		if (r == 0)
			df_warn(df, in->line, "legacy \"%s key value\" format: use %s key=value",
				kind, kind);
	} else {
		for (i = 0; i < n && r == 0; i++) {
			char *eq = strchr(words[i], '=');
			if (!eq)
				r = keel_err_user(err, EINVAL,
						  "syntax error - can't find = in \"%s\". "
						  "Must be of the form: name=value",
						  words[i]);
			else
				r = add_kv(in, words[i], (size_t)(eq - words[i]), eq + 1, err);
		}
	}
	for (i = 0; r == 0 && i < in->nkvs; i++)
		if (!in->kvs[i].key[0])
			r = keel_err_user(err, EINVAL, "%s names can not be blank", kind);
	strv_free(words);
	return r;
}

static int p_arg(struct keel_dockerfile *df, struct keel_df_instr *in, const char *rest,
		 keel_error_t *err)
{
	size_t n, i;
	char **words = df_split_words(rest, df->escape, &n);
	int r = 0;

	if (!words)
		return OOM(err);
	if (n == 0)
		r = keel_err_user(err, EINVAL, "ARG requires at least one argument");
	for (i = 0; i < n && r == 0; i++) {
		char *eq = strchr(words[i], '=');
		size_t klen = eq ? (size_t)(eq - words[i]) : strlen(words[i]);
		if (klen == 0)
			r = keel_err_user(err, EINVAL, "ARG names can not be blank");
		else
			r = add_kv(in, words[i], klen, eq ? eq + 1 : NULL, err);
	}
	strv_free(words);
	return r;
}

/* Go's time.ParseDuration, to nanoseconds: "1m30s", "1.5h", "250ms", "0". */
static int parse_duration(const char *s, int64_t *out)
{
	static const struct {
		const char *u;
		double ns;
	} units[] = { { "ns", 1 },   { "us", 1e3 }, { "\xc2\xb5s", 1e3 }, { "\xce\xbcs", 1e3 },
		      { "ms", 1e6 }, { "s", 1e9 },  { "m", 60e9 },	  { "h", 3600e9 } };
	double total = 0;
	bool neg = false;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (!*s)
		return -1;
	while (*s) {
		char *end;
		double v;
		size_t best = 0, bi = 0;
		if (!isdigit((unsigned char)*s) && *s != '.')
			return -1;
		v = strtod(s, &end);
		if (end == s)
			return -1;
		s = end;
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t l = strlen(units[i].u);
			if (strncmp(s, units[i].u, l) == 0 && l > best) {
				best = l;
				bi = i;
			}
		}
		if (!best)
			return -1;
		total += v * units[bi].ns;
		s += best;
	}
	if (total > 9.2e18)
		return -1;
	*out = (int64_t)(neg ? -total : total);
	return 0;
}

static int health_durations(struct keel_df_instr *in, keel_error_t *err)
{
	static const char *const names[] = { "interval", "timeout", "start-period",
					     "start-interval" };
	int64_t *dst[] = { &in->health.interval, &in->health.timeout, &in->health.start_period,
			   &in->health.start_interval };
	const char *retries = keel_df_flag(in, "retries", NULL);

	for (size_t i = 0; i < 4; i++) {
		const char *v = keel_df_flag(in, names[i], NULL);
		if (!v || !*v)
			continue;
		if (parse_duration(v, dst[i]) < 0)
			return keel_err_user(err, EINVAL,
					     "invalid --%s=%s: a duration like 30s "
					     "or 1m30s is needed",
					     names[i], v);
		if (*dst[i] != 0 && *dst[i] < 1000000)
			return keel_err_user(err, EINVAL, "--%s=%s cannot be less than 1ms",
					     names[i], v);
	}
	if (retries && *retries) {
		char *end;
		long r = strtol(retries, &end, 10);
		if (*end || r > 1000000000L)
			return keel_err_user(err, EINVAL, "invalid --retries=%s", retries);
		if (r < 0)
			return keel_err_user(err, EINVAL, "--retries cannot be negative (%ld)", r);
		in->health.retries = (int)r;
	}
	return 0;
}

static int p_health(struct keel_dockerfile *df, struct keel_df_instr *in, const char *rest,
		    keel_error_t *err)
{
	size_t sep = 0, next;
	while (rest[sep] && !isspace((unsigned char)rest[sep]))
		sep++;
	for (next = sep; rest[next] && isspace((unsigned char)rest[next]); next++)
		;
	if (sep == 0)
		return keel_err_user(err, EINVAL,
				     "HEALTHCHECK requires at least one argument "
				     "(CMD ... or NONE)");
	if (sep == 4 && strncasecmp(rest, "NONE", 4) == 0) {
		if (rest[next])
			return keel_err_user(err, EINVAL, "HEALTHCHECK NONE takes no arguments");
		in->health.none = true;
		return 0;
	}
	if (!(sep == 3 && strncasecmp(rest, "CMD", 3) == 0))
		return keel_err_user(err, EINVAL, "unknown type \"%.*s\" in HEALTHCHECK (try CMD)",
				     (int)sep, rest);
	if (maybe_json(in, rest + next, err) < 0)
		return -1;
	if (in->nargs == 0)
		return keel_err_user(err, EINVAL, "missing command after HEALTHCHECK CMD");
	return health_durations(in, err);
}

static int p_onbuild(struct keel_dockerfile *df, struct keel_df_instr *in, const char *rest,
		     keel_error_t *err)
{
	struct keel_df_instr *t;
	if (!*rest)
		return keel_err_user(err, EINVAL, "ONBUILD requires at least one argument");
	if (strv_push(&in->args, &in->nargs, strdup(rest)) < 0)
		return OOM(err);
	t = calloc(1, sizeof(*t));
	if (!t)
		return OOM(err);
	in->trigger = t;
	t->line = in->line;
	if (df_parse_instr(df, t, rest, in->line, err) < 0)
		return -1;
	if (t->kind == KEEL_DF_ONBUILD)
		return keel_err_user(err, EINVAL,
				     "chaining ONBUILD via `ONBUILD ONBUILD` isn't "
				     "allowed");
	if (t->kind == KEEL_DF_FROM || t->kind == KEEL_DF_MAINTAINER)
		return keel_err_user(err, EINVAL, "%s isn't allowed as an ONBUILD trigger",
				     keel_df_kind_name(t->kind));
	return 0;
}

/* ---- the table ---- */

static const struct flag_def from_flags[] = { { "platform", F_STRING }, { NULL, 0 } };
static const struct flag_def run_flags[] = {
	{ "mount", F_ARRAY }, { "network", F_STRING }, { "security", F_STRING }, { NULL, 0 }
};
static const struct flag_def copy_flags[] = {
	{ "from", F_STRING }, { "chown", F_STRING }, { "chmod", F_STRING },
	{ "link", F_BOOL },   { "parents", F_BOOL }, { "exclude", F_ARRAY },
	{ NULL, 0 }
};
static const struct flag_def add_flags[] = { { "chown", F_STRING },
					     { "chmod", F_STRING },
					     { "link", F_BOOL },
					     { "checksum", F_STRING },
					     { "keep-git-dir", F_BOOL },
					     { "exclude", F_ARRAY },
					     { NULL, 0 } };
static const struct flag_def health_flags[] = {
	{ "interval", F_STRING },	{ "timeout", F_STRING }, { "start-period", F_STRING },
	{ "start-interval", F_STRING }, { "retries", F_STRING }, { NULL, 0 }
};

/* Indexed by enum keel_df_kind. */
static const struct instr_def instr_defs[KEEL_DF_KIND_COUNT] = {
	[KEEL_DF_ADD] = { "ADD", add_flags, p_copy },
	[KEEL_DF_ARG] = { "ARG", NULL, p_arg },
	[KEEL_DF_CMD] = { "CMD", NULL, p_cmd },
	[KEEL_DF_COPY] = { "COPY", copy_flags, p_copy },
	[KEEL_DF_ENTRYPOINT] = { "ENTRYPOINT", NULL, p_cmd },
	[KEEL_DF_ENV] = { "ENV", NULL, p_namevals },
	[KEEL_DF_EXPOSE] = { "EXPOSE", NULL, p_expose },
	[KEEL_DF_FROM] = { "FROM", from_flags, p_from },
	[KEEL_DF_HEALTHCHECK] = { "HEALTHCHECK", health_flags, p_health },
	[KEEL_DF_LABEL] = { "LABEL", NULL, p_namevals },
	[KEEL_DF_MAINTAINER] = { "MAINTAINER", NULL, p_string },
	[KEEL_DF_ONBUILD] = { "ONBUILD", NULL, p_onbuild },
	[KEEL_DF_RUN] = { "RUN", run_flags, p_run },
	[KEEL_DF_SHELL] = { "SHELL", NULL, p_shell },
	[KEEL_DF_STOPSIGNAL] = { "STOPSIGNAL", NULL, p_string },
	[KEEL_DF_USER] = { "USER", NULL, p_string },
	[KEEL_DF_VOLUME] = { "VOLUME", NULL, p_volume },
	[KEEL_DF_WORKDIR] = { "WORKDIR", NULL, p_string },
};

const char *keel_df_kind_name(enum keel_df_kind kind)
{
	return (unsigned)kind < KEEL_DF_KIND_COUNT ? instr_defs[kind].name : "?";
}

/* Docker's extractBuilderFlags: leading "--name[=value]" words (quotes and backslashes
 * inside them are processed; "--" alone ends the flags). Returns the rest of the line. */
static const char *extract_flags(const char *line, char ***words, size_t *n, keel_error_t *err)
{
	const char *p = line;
	for (;;) {
		struct strbuf w = { 0 };
		char quote = 0;
		while (*p && isspace((unsigned char)*p))
			p++;
		if (!(p[0] == '-' && p[1] == '-'))
			return p;
		for (; *p; p++) {
			if (!quote && isspace((unsigned char)*p))
				break;
			if (!quote && (*p == '\'' || *p == '"')) {
				quote = *p;
				sb_addn(&w, "", 0);
				continue;
			}
			if (quote && *p == quote) {
				quote = 0;
				continue;
			}
			if (*p == '\\') {
				if (!p[1])
					continue;
				p++;
			}
			sb_addc(&w, *p);
		}
		if (w.s && strcmp(w.s, "--") == 0) {
			sb_free(&w);
			while (*p && isspace((unsigned char)*p))
				p++;
			return p;
		}
		if (strv_push(words, n, sb_steal(&w)) < 0) {
			OOM(err);
			return NULL;
		}
	}
}

static const struct flag_def *find_flag(const struct flag_def *defs, const char *name)
{
	for (; defs && defs->name; defs++)
		if (strcmp(defs->name, name) == 0)
			return defs;
	return NULL;
}

static int add_flags_checked(struct keel_df_instr *in, char **words, keel_error_t *err)
{
	const struct flag_def *defs = instr_defs[in->kind].flags;
	for (size_t i = 0; words && words[i]; i++) {
		const char *arg = words[i] + 2, *eq = strchr(arg, '=');
		size_t nlen = eq ? (size_t)(eq - arg) : strlen(arg);
		char name[64];
		const struct flag_def *def;
		struct keel_df_flag *f;
		bool dup;

		snprintf(name, sizeof(name), "%.*s", (int)nlen, arg);
		def = find_flag(defs, name);
		if (!def)
			return keel_err_user(err, EINVAL, "unknown flag: --%s for %s", name,
					     keel_df_kind_name(in->kind));
		keel_df_flag(in, name, &dup);
		if (dup && def->type != F_ARRAY)
			return keel_err_user(err, EINVAL, "duplicate flag specified: --%s", name);
		if (def->type == F_STRING && !eq)
			return keel_err_user(err, EINVAL, "missing a value on flag: --%s", name);
		if (def->type == F_BOOL && eq && strcasecmp(eq + 1, "true") != 0 &&
		    strcasecmp(eq + 1, "false") != 0)
			return keel_err_user(err, EINVAL,
					     "expecting boolean value for flag --%s, "
					     "not: %s",
					     name, eq + 1);
		f = vec_grow((void **)&in->flags, &in->nflags, sizeof(*f));
		if (!f)
			return OOM(err);
		f->name = strdup(name);
		f->value = eq ? strdup(eq + 1) : NULL;
		if (!f->name || (eq && !f->value))
			return OOM(err);
	}
	return 0;
}

static int lookup_kind(const char *kw, size_t len)
{
	for (int k = 0; k < KEEL_DF_KIND_COUNT; k++)
		if (strlen(instr_defs[k].name) == len &&
		    strncasecmp(instr_defs[k].name, kw, len) == 0)
			return k;
	return -1;
}

int df_parse_instr(struct keel_dockerfile *df, struct keel_df_instr *in, const char *line,
		   int lineno, keel_error_t *err)
{
	const char *p = line, *kw, *rest;
	size_t kwlen, restlen;
	char **flags = NULL;
	size_t nflags = 0;
	char *args;
	int k, r;

	while (*p && isspace((unsigned char)*p))
		p++;
	in->original = strdup(p);
	if (!in->original)
		return OOM(err);
	kw = p;
	while (*p && !ws(*p))
		p++;
	kwlen = (size_t)(p - kw);
	k = lookup_kind(kw, kwlen);
	if (k < 0)
		return df_err(err, df, lineno, "unknown instruction: %.*s", (int)kwlen, kw);
	in->kind = (enum keel_df_kind)k;
	rest = extract_flags(p, &flags, &nflags, err);
	if (!rest) {
		strv_free(flags);
		return -1;
	}
	restlen = strlen(rest);
	while (restlen && isspace((unsigned char)rest[restlen - 1]))
		restlen--;
	args = strndup(rest, restlen);
	r = args ? add_flags_checked(in, flags, err) : OOM(err);
	strv_free(flags);
	if (r == 0)
		r = instr_defs[k].parse(df, in, args, err);
	free(args);
	if (!in->args && r == 0 && strv_push(&in->args, &in->nargs, strdup("")) == 0) {
		free(in->args[0]); /* always a vector, possibly empty */
		in->args[0] = NULL;
		in->nargs = 0;
	}
	if (r < 0 && strncmp(err->msg, df->name, strlen(df->name)) != 0) {
		char msg[KEEL_ERROR_MSG_MAX];
		snprintf(msg, sizeof(msg), "%s", err->msg);
		return df_err(err, df, lineno, "%s", msg);
	}
	return r;
}
