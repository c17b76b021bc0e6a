/* Global options, the engine, errors and durations for the container commands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/container/ctr_cli.h"
#include "cli/image/image_cli.h"
#include "engine/logfile.h"

static const struct {
	const char *flag, *env;
} globals[] = { { "--root", "KEEL_ROOT" }, { "--run-root", "KEEL_RUN_ROOT" } };

/* Returns how many argv entries the option at argv[i] takes (0 = not a global option). */
static int take_global(int argc, char **argv, int i, bool apply)
{
	for (size_t g = 0; g < sizeof(globals) / sizeof(globals[0]); g++) {
		size_t n = strlen(globals[g].flag);
		if (strncmp(argv[i], globals[g].flag, n))
			continue;
		if (argv[i][n] == '=') {
			if (apply)
				setenv(globals[g].env, argv[i] + n + 1, 1);
			return 1;
		}
		if (argv[i][n] == '\0' && i + 1 < argc) {
			if (apply)
				setenv(globals[g].env, argv[i + 1], 1);
			return 2;
		}
	}
	return 0;
}

int cli_ctr_globals(int argc, char **argv, int limit, bool apply, int *map)
{
	int out = 1;
	if (map)
		map[0] = 0;
	if (limit < 0 || limit > argc)
		limit = argc;
	for (int i = 1; i < argc;) {
		int n = i < limit && strcmp(argv[i], "--") ? take_global(argc, argv, i, apply) : 0;
		if (i < limit && !strcmp(argv[i], "--"))
			limit = i;
		if (n) {
			i += n;
			continue;
		}
		if (map)
			map[out] = i;
		argv[out++] = argv[i++];
	}
	argv[out] = NULL;
	if (map)
		map[out] = argc;
	return out;
}

struct keel_engine *cli_engine(void)
{
	keel_error_t err;
	struct keel_engine *e = keel_engine_open(NULL, NULL, &err);
	if (!e)
		fprintf(stderr, "keel: %s\n", err.msg);
	return e;
}

bool cli_ctr_has_label(const struct keel_ctr *c, const char *want)
{
	return cli_labels_match(json_object_get(json_object_get(c->doc, "Config"), "Labels"), want);
}

int cli_ctr_fail(const keel_error_t *err)
{
	fprintf(stderr, "Error response from daemon: %s\n", err->msg);
	return 1;
}

struct keel_ctr *cli_ctr_get(struct keel_engine *e, const char *ref)
{
	keel_error_t err;
	struct keel_ctr *c = keel_ctr_get(e, ref, &err);
	if (!c)
		cli_ctr_fail(&err);
	return c;
}

void cli_human_duration(double seconds, char *out, size_t len)
{
	long s = (long)seconds, m = (long)(seconds / 60);
	long h = (long)(seconds / 3600 + 0.5); /* Go: math.Round(d.Hours()) */
	if (s < 1)
		snprintf(out, len, "Less than a second");
	else if (s == 1)
		snprintf(out, len, "1 second");
	else if (s < 60)
		snprintf(out, len, "%ld seconds", s);
	else if (m == 1)
		snprintf(out, len, "About a minute");
	else if (m < 60)
		snprintf(out, len, "%ld minutes", m);
	else if (h == 1)
		snprintf(out, len, "About an hour");
	else if (h < 48)
		snprintf(out, len, "%ld hours", h);
	else if (h < 24 * 7 * 2)
		snprintf(out, len, "%ld days", h / 24);
	else if (h < 24 * 30 * 2)
		snprintf(out, len, "%ld weeks", h / 24 / 7);
	else if (h < 24 * 365 * 2)
		snprintf(out, len, "%ld months", h / 24 / 30);
	else
		snprintf(out, len, "%ld years", h / 24 / 365);
}

double cli_seconds_since(const char *rfc3339)
{
	struct timespec now, t;
	keel_error_t err;
	clock_gettime(CLOCK_REALTIME, &now);
	if (!rfc3339 || !*rfc3339 || keel_logfile_parse_time(rfc3339, &now, &t, &err) < 0)
		return 0;
	return (double)(now.tv_sec - t.tv_sec) + (double)(now.tv_nsec - t.tv_nsec) / 1e9;
}

int cli_detach_keys(const char *spec, unsigned char *out, size_t cap)
{
	size_t n = 0;
	const char *p = spec;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (n >= cap)
			return -1;
		if (len == 1) {
			out[n++] = (unsigned char)p[0];
		} else if (len == 6 && !strncmp(p, "ctrl-", 5) &&
			   ((p[5] >= 'a' && p[5] <= 'z') || strchr("@[\\]^_", p[5]))) {
			out[n++] = p[5] >= 'a' && p[5] <= 'z' ? (unsigned char)(p[5] - 'a' + 1)
							      : (unsigned char)(p[5] - '@');
		} else {
			return -1;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return n ? (int)n : -1;
}
