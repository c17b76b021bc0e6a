/* Config-only instructions (ENV, LABEL, CMD, ...) and the history comments Docker's legacy
 * builder writes for them. */
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "build/exec_internal.h"
#include "build/strbuf.h"
#include "image/image.h"
#include "store/digest.h"
#include "store/imagedb.h"
#include "util/cleanup.h"
#include "util/fs.h"

int exec_fail_at(keel_error_t *err, const struct builder *b, const struct keel_df_instr *in,
		   int errnum, const char *msg)
{
	return keel_err_user(err, errnum, "%s:%d: %s", b->df->name, in->line, msg);
}

/* "/bin/sh -c" or the SHELL in effect. */
void exec_shell_words(const struct exec_image *im, struct strbuf *sb, char ***argv, size_t *n)
{
	json_t *sh = json_object_get(json_object_get(im->cfg, "config"), "Shell");
	size_t i;
	json_t *v;
	if (!json_is_array(sh) || !json_array_size(sh)) {
		if (sb)
			sb_add(sb, "/bin/sh -c");
		if (argv) {
			strv_push(argv, n, strdup("/bin/sh"));
			strv_push(argv, n, strdup("-c"));
		}
		return;
	}
	json_array_foreach(sh, i, v) {
		if (sb) {
			if (i)
				sb_addc(sb, ' ');
			sb_add(sb, json_string_value(v) ?: "");
		}
		if (argv)
			strv_push(argv, n, strdup(json_string_value(v) ?: ""));
	}
}

/* Go's %q of a []string: ["a" "b"] (good enough: no escapes beyond \" and \\). */
static void go_quote_list(struct strbuf *sb, char *const *v, size_t n)
{
	sb_addc(sb, '[');
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_addc(sb, ' ');
		sb_addc(sb, '"');
		for (const char *p = v[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				sb_addc(sb, '\\');
			sb_addc(sb, *p);
		}
		sb_addc(sb, '"');
	}
	sb_addc(sb, ']');
}

static json_t *strv_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* The command of CMD/ENTRYPOINT/RUN/HEALTHCHECK: exec form as is, shell form through SHELL. */
char **exec_command_argv(const struct exec_image *im, const struct keel_df_step *st,
			   size_t *n)
{
	char **v = NULL;
	*n = 0;
	if (st->instr->json) {
		for (size_t i = 0; i < st->nargs; i++)
			strv_push(&v, n, strdup(st->args[i]));
		if (!v)
			v = calloc(1, sizeof(char *));
		return v;
	}
	exec_shell_words(im, NULL, &v, n);
	strv_push(&v, n, strdup(st->nargs ? st->args[0] : ""));
	return v;
}

json_t *exec_config_of(struct exec_image *im)
{
	json_t *c = json_object_get(im->cfg, "config");
	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(im->cfg, "config", c);
	}
	return c;
}

static json_t *obj_member(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_object(v)) {
		v = json_object();
		json_object_set_new(o, k, v);
	}
	return v;
}

static void env_set(json_t *cfg, const char *k, const char *v)
{
	json_t *env = json_object_get(cfg, "Env"), *e;
	size_t i, kl = strlen(k);
	char *kv = NULL;
	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(cfg, "Env", env);
	}
	if (asprintf(&kv, "%s=%s", k, v) < 0)
		return;
	json_array_foreach(env, i, e) {
		const char *s = json_string_value(e);
		if (s && !strncmp(s, k, kl) && s[kl] == '=') {
			json_array_set_new(env, i, json_string(kv));
			free(kv);
			return;
		}
	}
	json_array_append_new(env, json_string(kv));
	free(kv);
}

/* "/bin/sh -c #(nop)  X": Docker's commit comment of a config-only step. */
char *exec_nop(const struct exec_image *im, const char *comment, bool one_space)
{
	struct strbuf sb = {0};
	exec_shell_words(im, &sb, NULL, NULL);
	sb_add(&sb, one_space ? " #(nop) " : " #(nop)  ");
	sb_add(&sb, comment);
	return sb_steal(&sb);
}

/* x/div with the fraction's trailing zeros dropped ("1.5"), as Go's fmtFrac/fmtInt. */
static void go_frac(struct strbuf *sb, uint64_t x, uint64_t div)
{
	char buf[48];
	int prec = 0;
	uint64_t f = x % div;
	for (uint64_t d = div; d > 1; d /= 10)
		prec++;
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)(x / div));
	sb_add(sb, buf);
	if (!f)
		return;
	snprintf(buf, sizeof(buf), ".%0*llu", prec, (unsigned long long)f);
	for (size_t n = strlen(buf); buf[n - 1] == '0'; n--)
		buf[n - 1] = 0;
	sb_add(sb, buf);
}

/* Go's time.Duration String(): "0s", "1.5ms", "30s", "1m30s", "1h0m0s". */
static void go_duration(struct strbuf *sb, int64_t ns)
{
	const uint64_t sec = 1000000000ull;
	uint64_t u = ns < 0 ? -(uint64_t)ns : (uint64_t)ns;
	char buf[48];
	if (ns < 0)
		sb_addc(sb, '-');
	if (u == 0) {
		sb_add(sb, "0s");
	} else if (u < sec) {
		uint64_t div = u < 1000 ? 1 : u < 1000000 ? 1000 : 1000000;
		go_frac(sb, u, div);
		sb_add(sb, div == 1 ? "ns" : div == 1000 ? "\xc2\xb5s" : "ms");
	} else {
		uint64_t h = u / (3600 * sec), m = u / (60 * sec) % 60;
		if (h) {
			snprintf(buf, sizeof(buf), "%lluh", (unsigned long long)h);
			sb_add(sb, buf);
		}
		if (h || m) {
			snprintf(buf, sizeof(buf), "%llum", (unsigned long long)m);
			sb_add(sb, buf);
		}
		go_frac(sb, u % (60 * sec), sec);
		sb_addc(sb, 's');
	}
}

/* Go's %q of an int: a quoted rune literal ('\x03', 'A', '\n'). */
static void go_quote_rune(struct strbuf *sb, int r)
{
	static const char esc[] = "\a\b\f\n\r\t\v", name[] = "abfnrtv";
	char buf[16];
	const char *e = r > 0 ? strchr(esc, r) : NULL;
	if (r == '\'' || r == '\\')
		snprintf(buf, sizeof(buf), "'\\%c'", r);
	else if (e)
		snprintf(buf, sizeof(buf), "'\\%c'", name[e - esc]);
	else if (r >= 0x20 && r < 0x7f)
		snprintf(buf, sizeof(buf), "'%c'", r);
	else if (r < 0x80)
		snprintf(buf, sizeof(buf), "'\\x%02x'", r);
	else
		snprintf(buf, sizeof(buf), "'\\u%04x'", r);
	sb_add(sb, buf);
}

/* Docker's daemon merges each build step's config with the parent image's when it creates
 * the step's container (daemon merge()), through a pointer the builder shares: a new
 * HEALTHCHECK's zero durations and retries are taken from the inherited one. The history
 * line is written before that and shows the zeros. */
static void health_inherit(json_t *h, json_t *old)
{
	static const char *const keys[] = {"Interval", "Timeout", "StartPeriod", "Retries"};
	if (!json_is_object(old))
		return;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(old, keys[i]);
		if (!json_object_get(h, keys[i]) && json_integer_value(v))
			json_object_set(h, keys[i], v);
	}
}

static int meta_healthcheck(struct step_run *r, struct strbuf *cm)
{
	const struct keel_df_instr *in = r->st->instr;
	json_t *cfg = exec_config_of(r->im), *h;
	size_t n;
	cleanup_strv char **test = NULL;
	if (in->health.none) {
		h = json_pack("{s:[s]}", "Test", "NONE");
		sb_add(cm, "HEALTHCHECK &{[\"NONE\"] \"0s\" \"0s\" \"0s\" '\\x00'}");
	} else {
		test = in->json ? exec_command_argv(r->im, r->st, &n) : NULL;
		h = json_object();
		json_t *t = json_array();
		json_array_append_new(t, json_string(in->json ? "CMD" : "CMD-SHELL"));
		if (in->json)
			for (size_t i = 0; i < n; i++)
				json_array_append_new(t, json_string(test[i]));
		else
			json_array_append_new(t, json_string(r->st->nargs ? r->st->args[0] : ""));
		json_object_set_new(h, "Test", t);
		if (in->health.interval)
			json_object_set_new(h, "Interval", json_integer(in->health.interval));
		if (in->health.timeout)
			json_object_set_new(h, "Timeout", json_integer(in->health.timeout));
		if (in->health.start_period)
			json_object_set_new(h, "StartPeriod", json_integer(in->health.start_period));
		if (in->health.start_interval)
			json_object_set_new(h, "StartInterval",
					    json_integer(in->health.start_interval));
		if (in->health.retries)
			json_object_set_new(h, "Retries", json_integer(in->health.retries));
		sb_add(cm, "HEALTHCHECK &{");
		{
			size_t i;
			json_t *v;
			struct strbuf q = {0};
			char **tv = NULL;
			size_t tn = 0;
			json_array_foreach(t, i, v)
				strv_push(&tv, &tn, strdup(json_string_value(v)));
			go_quote_list(&q, tv, tn);
			strv_free(tv);
			sb_add(cm, q.s ? q.s : "[]");
			sb_free(&q);
		}
		/* Docker 20.10's HealthConfig has three durations; StartInterval (Docker 25)
		 * shows only when set */
		int64_t d[4] = {in->health.interval, in->health.timeout, in->health.start_period,
				in->health.start_interval};
		for (int i = 0; i < (in->health.start_interval ? 4 : 3); i++) {
			sb_add(cm, " \"");
			go_duration(cm, d[i]);
			sb_addc(cm, '"');
		}
		sb_addc(cm, ' ');
		go_quote_rune(cm, in->health.retries);
		sb_addc(cm, '}');
	}
	health_inherit(h, json_object_get(cfg, "Healthcheck"));
	json_object_set_new(cfg, "Healthcheck", h);
	return 0;
}

/* One EXPOSE word into ExposedPorts: "80" is "80/tcp", and a range "9000-9001/udp" is
 * each of its ports, as Docker's nat.ParsePortSpecs gives them. */
static void expose_port(json_t *ports, const char *word)
{
	char port[128], proto[32] = "tcp";
	const char *slash = strchr(word, '/');
	unsigned long lo, hi;
	char *end;
	if (slash)
		snprintf(proto, sizeof(proto), "%s", slash + 1);
	lo = strtoul(word, &end, 10);
	hi = *end == '-' ? strtoul(end + 1, &end, 10) : lo;
	if (end == word || (*end && *end != '/') || hi < lo || hi > 65535) {
		snprintf(port, sizeof(port), "%s%s", word, slash ? "" : "/tcp");
		json_object_set_new(ports, port, json_object());
		return;
	}
	for (unsigned long p = lo; p <= hi; p++) {
		snprintf(port, sizeof(port), "%lu/%s", p, proto);
		json_object_set_new(ports, port, json_object());
	}
}

/* Applies a config-only instruction to r->im and writes its history comment to cm. */
int exec_apply_meta(struct step_run *r, struct strbuf *cm, keel_error_t *err)
{
	const struct keel_df_step *st = r->st;
	const struct keel_df_instr *in = st->instr;
	json_t *cfg = exec_config_of(r->im);
	size_t n, i;
	cleanup_strv char **argv = NULL;
	switch (in->kind) {
	case KEEL_DF_ENV:
	case KEEL_DF_LABEL:
		sb_add(cm, in->kind == KEEL_DF_ENV ? "ENV" : "LABEL");
		for (i = 0; i < st->nkvs; i++) {
			const char *v = st->kvs[i].value ? st->kvs[i].value : "";
			sb_addc(cm, ' ');
			sb_add(cm, st->kvs[i].key), sb_addc(cm, '='), sb_add(cm, v);
			if (in->kind == KEEL_DF_ENV)
				env_set(cfg, st->kvs[i].key, v);
			else
				json_object_set_new(obj_member(cfg, "Labels"), st->kvs[i].key,
						    json_string(v));
		}
		return 0;
	case KEEL_DF_ARG:
		sb_add(cm, "ARG");
		for (i = 0; i < st->nkvs; i++) {
			sb_addc(cm, ' ');
			sb_add(cm, st->kvs[i].key);
			if (in->kvs[i].value)
				sb_addc(cm, '='), sb_add(cm, st->kvs[i].value ? st->kvs[i].value : "");
		}
		return 0;
	case KEEL_DF_MAINTAINER:
		sb_add(cm, "MAINTAINER "), sb_add(cm, st->nargs ? st->args[0] : "");
		json_object_set_new(r->im->cfg, "author", json_string(st->nargs ? st->args[0] : ""));
		return 0;
	case KEEL_DF_EXPOSE:
		sb_add(cm, "EXPOSE");
		for (i = 0; i < st->nargs; i++) {
			expose_port(obj_member(cfg, "ExposedPorts"), st->args[i]);
			/* the history keeps the words as written (the evaluator sorted them) */
			sb_addc(cm, ' '), sb_add(cm, st->args[i]);
		}
		return 0;
	case KEEL_DF_VOLUME:
		sb_add(cm, "VOLUME [");
		for (i = 0; i < st->nargs; i++) {
			json_object_set_new(obj_member(cfg, "Volumes"), st->args[i], json_object());
			if (i)
				sb_addc(cm, ' ');
			sb_add(cm, st->args[i]);
		}
		sb_addc(cm, ']');
		return 0;
	case KEEL_DF_USER:
	case KEEL_DF_STOPSIGNAL:
		sb_add(cm, in->kind == KEEL_DF_USER ? "USER " : "STOPSIGNAL ");
		sb_add(cm, st->nargs ? st->args[0] : "");
		json_object_set_new(cfg, in->kind == KEEL_DF_USER ? "User" : "StopSignal",
				    json_string(st->nargs ? st->args[0] : ""));
		return 0;
	case KEEL_DF_CMD:
	case KEEL_DF_ENTRYPOINT:
		argv = exec_command_argv(r->im, st, &n);
		sb_add(cm, in->kind == KEEL_DF_CMD ? "CMD " : "ENTRYPOINT ");
		go_quote_list(cm, argv, n);
		json_object_set_new(cfg, in->kind == KEEL_DF_CMD ? "Cmd" : "Entrypoint",
				    strv_json(argv, n));
		if (in->kind == KEEL_DF_CMD)
			r->cmd_set = true;
		else if (!r->cmd_set) /* Docker: a new ENTRYPOINT drops the inherited CMD */
			json_object_set_new(cfg, "Cmd", json_null());
		return 0;
	case KEEL_DF_SHELL:
		sb_add(cm, "SHELL [");
		for (i = 0; i < st->nargs; i++)
			sb_add(cm, i ? " " : ""), sb_add(cm, st->args[i]);
		sb_addc(cm, ']');
		json_object_set_new(cfg, "Shell", strv_json(st->args, st->nargs));
		return 0;
	case KEEL_DF_HEALTHCHECK:
		return meta_healthcheck(r, cm);
	case KEEL_DF_ONBUILD:
		sb_add(cm, "ONBUILD "), sb_add(cm, st->nargs ? st->args[0] : "");
		json_t *ob = json_object_get(cfg, "OnBuild");
		if (!json_is_array(ob)) {
			ob = json_array();
			json_object_set_new(cfg, "OnBuild", ob);
		}
		json_array_append_new(ob, json_string(st->nargs ? st->args[0] : ""));
		return 0;
	default:
		return exec_fail_at(err, r->b, in, EINVAL, "unsupported instruction");
	}
}

