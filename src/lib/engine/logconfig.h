/* Docker's log configuration (`--log-driver`, `--log-opt`, HostConfig.LogConfig) for the
 * drivers keel has: json-file (the default) and none.
 *
 *   json-file options: max-size (units.FromHumanSize: "10m" = 10,000,000 bytes), max-file
 *   (default 1), compress (rotated files gzipped; needs max-file >= 2 and max-size), labels /
 *   env (comma-separated keys of the container's labels / environment), labels-regex /
 *   env-regex (POSIX extended regexes over the keys), tag (a literal; added as "tag").
 *   The chosen labels and variables become the "attrs" object of every log entry, as
 *   dockerd writes it, and `logs --details` prints them.
 *
 * Validation errors are dockerd's own words (`unknown log opt 'x' for json-file log driver`,
 * `logger: no log driver named 'syslog' is registered`). */
#ifndef KEEL_LOGCONFIG_H
#define KEEL_LOGCONFIG_H

#include <stdbool.h>

#include <jansson.h>

#include "util/error.h"

/* What the monitor needs of a container's log configuration. */
struct keel_logconfig {
	bool none;	    /* --log-driver none: no log file at all */
	long long max_size; /* bytes, -1 = unlimited */
	int max_files;	    /* >= 1 */
	bool compress;
	char *attrs; /* JSON object text ({"k":"v"}, keys sorted) or NULL; owned */
};

/* Checks a driver name (NULL or "" = json-file) and its options (a JSON object of strings, or
 * NULL) as dockerd does at create. Returns 0 or -1 with *err. */
int keel_logconfig_check(const char *driver, const json_t *opts, keel_error_t *err);

/* HostConfig.LogConfig for `run` / `create`: {"Type": driver, "Config": {k: v}} from the
 * --log-driver value (NULL = json-file) and the --log-opt "k=v" strings (NULL-terminated,
 * may be NULL; "k" alone is k with ""). New reference; NULL on ENOMEM. */
json_t *keel_logconfig_json(const char *driver, char *const *opts);

/* The monitor's settings for a container: from its record (the doc with HostConfig.LogConfig,
 * Config.Labels and Config.Env). A record without LogConfig is json-file with no options.
 * Returns 0 with *lc filled (free with keel_logconfig_free), or -1 with *err. */
int keel_logconfig_resolve(const json_t *doc, struct keel_logconfig *lc, keel_error_t *err);

/* The fields a --log-opt tag= template may use, as docker's: ID (12 hex), FullID, Name,
 * ImageID (12 hex), ImageFullID, ImageName (as the user wrote it), DaemonName. New
 * reference; NULL on ENOMEM. */
json_t *keel_logconfig_tag_fields(const char *id, const char *name, const char *image_id,
				  const char *image_ref);

struct keel_monitor_opts;

/* Sets the log fields of a monitor's options from the container's record: log_path = NULL
 * for none, else max size, files, compress and attrs (which point into *lc: keep lc until
 * the monitor is spawned, then keel_logconfig_free). Returns 0, or -1 with *err. */
int keel_logconfig_monitor_opts(const json_t *doc, struct keel_monitor_opts *o,
				struct keel_logconfig *lc, keel_error_t *err);
/* The same with the tag template's fields (keel_logconfig_tag_fields): {{.Name}} and the
 * others in --log-opt tag= are expanded; without them the tag is kept as written. */
int keel_logconfig_monitor_opts_tagged(const json_t *doc, const json_t *tag_fields,
				       struct keel_monitor_opts *o, struct keel_logconfig *lc,
				       keel_error_t *err);

/* Frees what lc owns; NULL is allowed. */
void keel_logconfig_free(struct keel_logconfig *lc);

#endif
