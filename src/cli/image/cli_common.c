#include "cli/image/image_cli.h"
#include "store/imagedb.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(const struct dcmd *c, FILE *f)
{
	fprintf(f, "\nUsage:  keel %s %s\n\n%s\n", c->name, c->usage, c->about);
	if (c->aliases)
		fprintf(f, "\nAliases:\n  %s\n", c->aliases);
	fprintf(f, "\nOptions:\n");
	for (const struct dflag *d = c->flags; d && d->name; d++) {
		char left[64];
		if (!d->help)
			continue; /* hidden: an old name docker still takes */
		static const char *const type[] = {[DF_BOOL] = "",
						   [DF_STRING] = " string",
						   [DF_LIST] = " list",
						   [DF_INT] = " int",
						   [DF_FILTER] = " filter"};
		const char *v = type[d->kind];
		if (d->shorthand)
			snprintf(left, sizeof(left), "-%c, --%s%s", d->shorthand, d->name, v);
		else
			snprintf(left, sizeof(left), "    --%s%s", d->name, v);
		fprintf(f, "  %-26s %s\n", left, d->help);
	}
	fprintf(f, "      --root string          keel's state directory (default $KEEL_ROOT or "
		   "/var/lib/keel)\n");
}

__attribute__((format(printf, 2, 3))) static int flag_error(const struct dcmd *c,
							     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nSee 'keel %s --help'.\n", c->name);
	return -1;
}

static const struct dflag *find_long(const struct dflag *f, const char *name, size_t n)
{
	for (; f && f->name; f++)
		if (strlen(f->name) == n && !strncmp(f->name, name, n))
			return f;
	return NULL;
}

static const struct dflag *find_short(const struct dflag *f, char c)
{
	for (; f && f->name; f++)
		if (f->shorthand == c)
			return f;
	return NULL;
}

static int set(const struct dcmd *c, const struct dflag *f, const char *val)
{
	if (f->kind == DF_BOOL) {
		if (!val || !strcmp(val, "true") || !strcmp(val, "1"))
			*(bool *)f->dest = true;
		else if (!strcmp(val, "false") || !strcmp(val, "0"))
			*(bool *)f->dest = false;
		else
			return flag_error(c, "invalid argument \"%s\" for a boolean flag", val);
	} else if (f->kind == DF_STRING || f->kind == DF_INT) {
		*(const char **)f->dest = val;
	} else {
		struct dlist *l = f->dest;
		if (l->n >= sizeof(l->v) / sizeof(l->v[0]) - 1)
			return flag_error(c, "too many values for --%s", f->name);
		l->v[l->n++] = (char *)val;
	}
	return 0;
}

static int parse_long(const struct dcmd *c, int argc, char **argv, int *i, struct dargs *out)
{
	const char *a = argv[*i] + 2, *eq = strchr(a, '=');
	size_t n = eq ? (size_t)(eq - a) : strlen(a);
	const struct dflag *f;
	const char *val = eq ? eq + 1 : NULL;
	if (n == 4 && !strncmp(a, "help", 4)) {
		usage(c, stdout);
		return 1;
	}
	if (n == 4 && !strncmp(a, "root", 4)) {
		if (!val && *i + 1 >= argc)
			return flag_error(c, "flag needs an argument: %s", "--root");
		out->root = val ? val : argv[++*i];
		return 0;
	}
	f = find_long(c->flags, a, n);
	if (!f)
		return flag_error(c, "unknown flag: %s", argv[*i]);
	if (f->kind != DF_BOOL && !val) {
		if (*i + 1 >= argc)
			return flag_error(c, "flag needs an argument: --%s", f->name);
		val = argv[++*i];
	}
	return set(c, f, val);
}

static int parse_shorts(const struct dcmd *c, int argc, char **argv, int *i)
{
	const char *a = argv[*i] + 1;
	for (; *a; a++) {
		const struct dflag *f = find_short(c->flags, *a);
		char sh[2] = {*a, 0};
		if (*a == 'h') {
			usage(c, stdout);
			return 1;
		}
		if (!f) {
			fprintf(stderr, "unknown shorthand flag: '%c' in %s", *a, argv[*i]);
			return flag_error(c, "%s", "");
		}
		if (f->kind == DF_BOOL) {
			if (a[1] == '=')
				return set(c, f, a + 2);
			if (set(c, f, NULL) < 0)
				return -1;
			continue;
		}
		if (a[1])
			return set(c, f, a[1] == '=' ? a + 2 : a + 1);
		if (*i + 1 >= argc)
			return flag_error(c, "flag needs an argument: '%s'", sh);
		return set(c, f, argv[++*i]);
	}
	return 0;
}

int dflags_parse(const struct dcmd *c, int argc, char **argv, struct dargs *out)
{
	static char *pos[256];
	bool dashdash = false;
	int r;
	out->pos = pos;
	out->n = 0;
	out->root = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (dashdash || a[0] != '-' || !a[1]) {
			if (out->n < 255)
				pos[out->n++] = argv[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			dashdash = true;
			continue;
		}
		r = a[1] == '-' ? parse_long(c, argc, argv, &i, out) : parse_shorts(c, argc, argv, &i);
		if (r)
			return r;
	}
	pos[out->n] = NULL;
	if (!out->root)
		out->root = keel_store_default_root();
	if (out->n < c->min_args || (c->max_args >= 0 && out->n > c->max_args)) {
		if (c->max_args == 0)
			fprintf(stderr, "\"keel %s\" accepts no arguments.", c->name);
		else if (c->min_args == c->max_args)
			fprintf(stderr, "\"keel %s\" requires exactly %d argument%s.", c->name,
				c->min_args, c->min_args == 1 ? "" : "s");
		else if (out->n < c->min_args)
			fprintf(stderr, "\"keel %s\" requires at least %d argument%s.", c->name,
				c->min_args, c->min_args == 1 ? "" : "s");
		else
			fprintf(stderr, "\"keel %s\" requires at most %d argument%s.", c->name,
				c->max_args, c->max_args == 1 ? "" : "s");
		fprintf(stderr, "\nSee 'keel %s --help'.\n\nUsage:  keel %s %s\n\n%s\n", c->name,
			c->name, c->usage, c->about);
		return -1;
	}
	return 0;
}

struct keel_store *cli_store(const struct dargs *a)
{
	keel_error_t err;
	struct keel_store *s = keel_store_open(a->root, &err);
	if (!s)
		fprintf(stderr, "keel: %s\n", err.msg);
	return s;
}

int cli_fail(const keel_error_t *err, bool daemon_style)
{
	bool user = err->errnum == ENOENT || err->errnum == EBUSY || err->errnum == EINVAL ||
		    err->errnum == EPERM || err->errnum == EILSEQ || err->errnum == EFBIG ||
		    err->errnum == ELOOP;
	fprintf(stderr, "%s%s\n", daemon_style ? "Error response from daemon: " : "Error: ",
		err->msg);
	return user ? 1 : 125;
}

void human_size(int64_t bytes, int precision, char *out, size_t len)
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
	double v = (double)bytes;
	size_t i = 0;
	while (v >= 1000.0 && i < sizeof(units) / sizeof(units[0]) - 1) {
		v /= 1000.0;
		i++;
	}
	snprintf(out, len, "%.*g%s", precision, v, units[i]);
}

void human_since(int64_t t, char *out, size_t len)
{
	int64_t s = (int64_t)time(NULL) - t;
	int64_t m = (int64_t)((double)s / 60 + 0.5), h = (int64_t)((double)s / 3600 + 0.5);
	if (s < 1)
		snprintf(out, len, "Less than a second ago");
	else if (s == 1)
		snprintf(out, len, "1 second ago");
	else if (s < 60)
		snprintf(out, len, "%lld seconds ago", (long long)s);
	else if (m == 1)
		snprintf(out, len, "About a minute ago");
	else if (m < 60)
		snprintf(out, len, "%lld minutes ago", (long long)m);
	else if (h == 1)
		snprintf(out, len, "About an hour ago");
	else if (h < 48)
		snprintf(out, len, "%lld hours ago", (long long)h);
	else if (h < 24 * 7 * 2)
		snprintf(out, len, "%lld days ago", (long long)(h / 24));
	else if (h < 24 * 30 * 2)
		snprintf(out, len, "%lld weeks ago", (long long)(h / 24 / 7));
	else if (h < 24 * 365 * 2)
		snprintf(out, len, "%lld months ago", (long long)(h / 24 / 30));
	else
		snprintf(out, len, "%lld years ago", (long long)(h / 24 / 365));
}

const char *cli_name(const char *argv0, const char *top)
{
	static char buf[64];
	if (!argv0 || !strcmp(argv0, top))
		return top;
	snprintf(buf, sizeof(buf), "image %s", argv0);
	return buf;
}

bool cli_labels_match(const json_t *labels, const char *want)
{
	const char *eq = strchr(want, '=');
	char key[256];
	json_t *val;
	snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - want) : 255, want);
	val = json_object_get(labels, key);
	return val && (!eq || !strcmp(json_string_value(val) ?: "", eq + 1));
}

bool cli_image_has_label(const struct keel_image *img, const char *want)
{
	return cli_labels_match(json_object_get(json_object_get(img->config, "config"), "Labels"),
				want);
}
