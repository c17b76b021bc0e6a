/* --log-driver / --log-opt: validation, HostConfig.LogConfig, the monitor's log settings. */
#include "engine/logconfig.h"

#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "engine/logfile.h"
#include "engine/monitor.h"
#include "util/cleanup.h"
#include "util/template.h"

static const char *const json_file_opts[] = { "max-file",     "max-size", "compress",  "labels",
					      "labels-regex", "env",	  "env-regex", "tag" };

static const char *opt(const json_t *opts, const char *key)
{
	return json_string_value(json_object_get(opts, key));
}

/* Go's strconv.ParseBool. */
static int parse_bool(const char *s, bool *out)
{
	static const char *const t[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const f[] = { "0", "f", "F", "FALSE", "false", "False" };
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (strcmp(s, t[i]) == 0 || strcmp(s, f[i]) == 0) {
			*out = strcmp(s, t[i]) == 0;
			return 0;
		}
	}
	return -1;
}

/* Go's strconv.Atoi (decimal, optional sign). */
static int parse_int(const char *s, int *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < -2147483647L || v > 2147483647L || *s == ' ')
		return -1;
	*out = (int)v;
	return 0;
}

static int check_regex(const char *re, keel_error_t *err)
{
	regex_t r;
	if (!re || !*re)
		return 0;
	if (regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
		return keel_err_user(err, EINVAL, "error parsing regexp: invalid expression: `%s`",
				     re);
	regfree(&r);
	return 0;
}

/* json-file's New(): sizes, counts, compress; filled into lc when given. */
static int json_file_settings(const json_t *opts, struct keel_logconfig *lc, keel_error_t *err)
{
	const char *v;
	lc->max_size = -1;
	lc->max_files = 1;
	lc->compress = false;
	if ((v = opt(opts, "max-size"))) {
		if ((lc->max_size = keel_logfile_parse_size(v, err)) < 0)
			return -1;
		if (lc->max_size <= 0)
			return keel_err_user(err, EINVAL, "max-size must be a positive number");
	}
	if ((v = opt(opts, "max-file"))) {
		if (parse_int(v, &lc->max_files) < 0)
			return keel_err_user(err, EINVAL,
					     "strconv.Atoi: parsing \"%s\": invalid syntax", v);
		if (lc->max_files < 1)
			return keel_err_user(err, EINVAL, "max-file cannot be less than 1");
	}
	if ((v = opt(opts, "compress"))) {
		if (parse_bool(v, &lc->compress) < 0)
			return keel_err_user(
			    err, EINVAL, "strconv.ParseBool: parsing \"%s\": invalid syntax", v);
		if (lc->compress && (lc->max_files == 1 || lc->max_size == -1))
			return keel_err_user(
			    err, EINVAL,
			    "compress cannot be true when max-file is less than 2 or "
			    "max-size is not set");
	}
	return 0;
}

int keel_logconfig_check(const char *driver, const json_t *opts, keel_error_t *err)
{
	struct keel_logconfig lc = { 0 };
	const char *key;
	json_t *v;

	if (driver && strcmp(driver, "none") == 0)
		return 0;
	if (driver && *driver && strcmp(driver, "json-file") != 0)
		return keel_err_user(err, EINVAL, "logger: no log driver named '%s' is registered",
				     driver);
	json_object_foreach ((json_t *)opts, key, v) {
		size_t i, n = sizeof(json_file_opts) / sizeof(json_file_opts[0]);
		for (i = 0; i < n && strcmp(key, json_file_opts[i]) != 0; i++)
			;
		if (i == n)
			return keel_err_user(err, EINVAL,
					     "unknown log opt '%s' for json-file log driver", key);
	}
	if (check_regex(opt(opts, "env-regex"), err) < 0 ||
	    check_regex(opt(opts, "labels-regex"), err) < 0)
		return -1;
	return json_file_settings(opts, &lc, err);
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A copy of o with its keys in order, as dockerd stores a Go map; steals o. */
static json_t *sorted(json_t *o)
{
	size_t n = json_object_size(o), k = 0;
	const char **keys = calloc(n + 1, sizeof(*keys));
	json_t *out = keys ? json_object() : NULL, *v;
	const char *key;
	if (out) {
		json_object_foreach (o, key, v)
			keys[k++] = key;
		qsort(keys, k, sizeof(*keys), cmp_key);
		for (size_t i = 0; i < k; i++)
			json_object_set(out, keys[i], json_object_get(o, keys[i]));
	}
	free(keys);
	json_decref(o);
	return out;
}

json_t *keel_logconfig_json(const char *driver, char *const *opts)
{
	json_t *config = json_object();
	for (size_t i = 0; config && opts && opts[i]; i++) {
		const char *eq = strchr(opts[i], '=');
		cleanup_free char *key =
		    strndup(opts[i], eq ? (size_t)(eq - opts[i]) : strlen(opts[i]));
		if (!key || json_object_set_new(config, key, json_string(eq ? eq + 1 : "")) < 0) {
			json_decref(config);
			return NULL;
		}
	}
	if (!config)
		return NULL;
	return json_pack("{s:s, s:o}", "Type", driver && *driver ? driver : "json-file", "Config",
			 sorted(config));
}

/* Adds to attrs every key of the list "a,b,c" found in values. */
static void attrs_by_list(json_t *attrs, const char *list, json_t *values)
{
	cleanup_free char *copy = list ? strdup(list) : NULL;
	char *save = NULL;
	for (char *k = copy ? strtok_r(copy, ",", &save) : NULL; k; k = strtok_r(NULL, ",", &save))
		if (json_is_string(json_object_get(values, k)))
			json_object_set(attrs, k, json_object_get(values, k));
}

/* Adds to attrs every key of values that the regex matches (unanchored, as Go's). */
static void attrs_by_regex(json_t *attrs, const char *re, json_t *values)
{
	regex_t r;
	const char *k;
	json_t *v;
	if (!re || !*re || regcomp(&r, re, REG_EXTENDED | REG_NOSUB) != 0)
		return;
	json_object_foreach (values, k, v)
		if (json_is_string(v) && regexec(&r, k, 0, NULL, 0) == 0)
			json_object_set(attrs, k, v);
	regfree(&r);
}

/* Config.Env ["K=V", ...] as an object (later entries win, as a Go map built in order). */
static json_t *env_object(const json_t *env)
{
	json_t *o = json_object();
	size_t i;
	json_t *e;
	json_array_foreach (env, i, e) {
		const char *s = json_string_value(e), *eq = s ? strchr(s, '=') : NULL;
		cleanup_free char *k = eq ? strndup(s, (size_t)(eq - s)) : NULL;
		if (k && o)
			json_object_set_new(o, k, json_string(eq + 1));
	}
	return o;
}

/* jansson's compact text as Go's json.Marshal writes it: < > & and U+2028/2029 escaped (they
 * only occur inside strings here: every key and value is one). New string or NULL. */
static char *go_escape(const char *j)
{
	size_t n = strlen(j);
	char *out = malloc(n * 6 + 1), *o = out;
	if (!out)
		return NULL;
	for (const char *p = j; *p; p++) {
		if (*p == '<' || *p == '>' || *p == '&') {
			o += sprintf(o, "\\u00%02x", (unsigned char)*p);
		} else if ((unsigned char)p[0] == 0xe2 && (unsigned char)p[1] == 0x80 &&
			   ((unsigned char)p[2] == 0xa8 || (unsigned char)p[2] == 0xa9)) {
			o += sprintf(o, "\\u202%c", (unsigned char)p[2] == 0xa8 ? '8' : '9');
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

json_t *keel_logconfig_tag_fields(const char *id, const char *name, const char *image_id,
				  const char *image_ref)
{
	const char *img = image_id && !strncmp(image_id, "sha256:", 7) ? image_id + 7 : image_id;
	return json_pack("{s:s%, s:s, s:s, s:s%, s:s, s:s, s:s}", "ID", id ? id : "",
			 (size_t)(id && strlen(id) > 12 ? 12 : id ? strlen(id) : 0), "FullID",
			 id ? id : "", "Name", name ? name : "", "ImageID", img ? img : "",
			 (size_t)(img && strlen(img) > 12 ? 12 : img ? strlen(img) : 0),
			 "ImageFullID", image_id ? image_id : "", "ImageName",
			 image_ref ? image_ref : "", "DaemonName", "keel");
}

/* --log-opt tag=: a template over the container's fields (docker's loggerutils.ParseLogTag) */
static int expand_tag(const char *tag, const json_t *fields, char **out, keel_error_t *err)
{
	struct keel_template *t;
	if (!fields || !strstr(tag, "{{"))
		return (*out = strdup(tag)) ? 0 : keel_err(err, ENOMEM, "out of memory");
	if (!(t = keel_template_parse(tag, err)))
		return keel_err_wrap(err, "log-opt tag");
	int r = keel_template_render(t, (json_t *)fields, out, err);
	keel_template_free(t);
	return r < 0 ? keel_err_wrap(err, "log-opt tag") : 0;
}

static int make_attrs(const json_t *doc, const json_t *opts, const json_t *tag_fields,
		      struct keel_logconfig *lc, keel_error_t *err)
{
	json_t *cfg = json_object_get(doc, "Config");
	json_t *labels = json_object_get(cfg, "Labels");
	cleanup_json json_t *env = env_object(json_object_get(cfg, "Env"));
	cleanup_json json_t *attrs = json_object();
	if (!env || !attrs)
		return keel_err(err, ENOMEM, "out of memory");
	attrs_by_list(attrs, opt(opts, "labels"), labels);
	/* moby reads labels-regex only when labels is set too (its loginfo.go): kept */
	if (opt(opts, "labels") && *opt(opts, "labels"))
		attrs_by_regex(attrs, opt(opts, "labels-regex"), labels);
	attrs_by_list(attrs, opt(opts, "env"), env);
	attrs_by_regex(attrs, opt(opts, "env-regex"), env);
	if (opt(opts, "tag") && *opt(opts, "tag")) {
		cleanup_free char *tag = NULL;
		if (expand_tag(opt(opts, "tag"), tag_fields, &tag, err) < 0)
			return -1;
		json_object_set_new(attrs, "tag", json_string(tag));
	}
	if (json_object_size(attrs) == 0)
		return 0;
	/* Go's json.Marshal of a map: sorted keys, HTML characters escaped like the log */
	cleanup_free char *text = json_dumps(attrs, JSON_COMPACT | JSON_SORT_KEYS);
	lc->attrs = text ? go_escape(text) : NULL;
	return lc->attrs ? 0 : keel_err(err, ENOMEM, "out of memory");
}

static int resolve(const json_t *doc, const json_t *tag_fields, struct keel_logconfig *lc,
		   keel_error_t *err)
{
	json_t *logcfg = json_object_get(json_object_get(doc, "HostConfig"), "LogConfig");
	const char *type = json_string_value(json_object_get(logcfg, "Type"));
	json_t *opts = json_object_get(logcfg, "Config");

	*lc = (struct keel_logconfig){ .max_size = -1, .max_files = 1 };
	if (type && strcmp(type, "none") == 0) {
		lc->none = true;
		return 0;
	}
	if (keel_logconfig_check(type, opts, err) < 0 || json_file_settings(opts, lc, err) < 0)
		return -1;
	return make_attrs(doc, opts, tag_fields, lc, err);
}

int keel_logconfig_resolve(const json_t *doc, struct keel_logconfig *lc, keel_error_t *err)
{
	return resolve(doc, NULL, lc, err);
}

void keel_logconfig_free(struct keel_logconfig *lc)
{
	if (!lc)
		return;
	free(lc->attrs);
	lc->attrs = NULL;
}

int keel_logconfig_monitor_opts(const json_t *doc, struct keel_monitor_opts *o,
				struct keel_logconfig *lc, keel_error_t *err)
{
	return keel_logconfig_monitor_opts_tagged(doc, NULL, o, lc, err);
}

int keel_logconfig_monitor_opts_tagged(const json_t *doc, const json_t *tag_fields,
				       struct keel_monitor_opts *o, struct keel_logconfig *lc,
				       keel_error_t *err)
{
	if (resolve(doc, tag_fields, lc, err) < 0)
		return -1;
	if (lc->none)
		o->log_path = NULL;
	o->log_max_size = lc->max_size;
	o->log_max_files = lc->max_files;
	o->log_compress = lc->compress;
	o->log_attrs = lc->attrs;
	return 0;
}
