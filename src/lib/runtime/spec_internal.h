/* Internal to the config parser (spec.c, spec_linux.c): the parse context, error paths and
 * the typed JSON getters every section parser uses. Static inline so each file keeps its
 * own copy and unused ones cost nothing. */
#ifndef KEEL_SPEC_INTERNAL_H
#define KEEL_SPEC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "runtime/spec.h"
#include "util/cleanup.h"

#define PATH_BUF 256

/* The parse context: where errors go and what the document is called. */
struct pctx {
	const char *origin;
	keel_error_t *err;
};

/* ---------- errors and paths ---------- */

static inline void join(char *buf, const char *path, const char *key)
{
	if (!key)
		snprintf(buf, PATH_BUF, "%s", path);
	else if (!*path)
		snprintf(buf, PATH_BUF, "%s", key);
	else
		snprintf(buf, PATH_BUF, "%s.%s", path, key);
}

static inline void join_idx(char *buf, const char *path, const char *key, size_t i)
{
	char base[PATH_BUF];
	join(base, path, key);
	snprintf(buf, PATH_BUF, "%s[%zu]", base, i);
}

/* Sets "<origin>: <path>.<key>: <msg>" with errnum EINVAL (no strerror suffix). */
__attribute__((format(printf, 4, 5))) static int fail(struct pctx *c, const char *path,
						      const char *key, const char *fmt, ...)
{
	char where[PATH_BUF], msg[KEEL_ERROR_MSG_MAX / 2];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	join(where, path, key);
	if (*where)
		keel_err(c->err, 0, "%s: %s: %s", c->origin, where, msg);
	else
		keel_err(c->err, 0, "%s: %s", c->origin, msg);
	if (c->err)
		c->err->errnum = EINVAL;
	return -1;
}

static inline int oom(struct pctx *c)
{
	return keel_err(c->err, ENOMEM, "%s", c->origin);
}

/* ---------- typed getters: 1 present, 0 absent (or null), -1 error ---------- */

static inline json_t *member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_null(v) ? NULL : v;
}

static inline int get_obj(struct pctx *c, json_t *obj, const char *path, const char *key, json_t **out)
{
	json_t *v = member(obj, key);
	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_object(v))
		return fail(c, path, key, "expected an object");
	*out = v;
	return 1;
}

static inline int get_array(struct pctx *c, json_t *obj, const char *path, const char *key, json_t **out)
{
	json_t *v = member(obj, key);
	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_array(v))
		return fail(c, path, key, "expected an array");
	*out = v;
	return 1;
}

static inline int get_str(struct pctx *c, json_t *obj, const char *path, const char *key, bool required,
		   char **out)
{
	json_t *v = member(obj, key);
	if (!v)
		return required ? fail(c, path, key, "required") : 0;
	if (!json_is_string(v))
		return fail(c, path, key, "expected a string");
	free(*out);
	*out = strdup(json_string_value(v));
	return *out ? 1 : oom(c);
}

static inline int get_bool(struct pctx *c, json_t *obj, const char *path, const char *key, bool *out)
{
	json_t *v = member(obj, key);
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return fail(c, path, key, "expected a boolean");
	*out = json_is_true(v);
	return 1;
}

static inline int int_value(struct pctx *c, json_t *v, const char *path, const char *key, int64_t min,
		     int64_t max, int64_t *out)
{
	json_int_t n;
	if (!json_is_integer(v))
		return fail(c, path, key, "expected an integer");
	n = json_integer_value(v);
	if (n < min || n > max)
		return fail(c, path, key, "%lld is out of range (%lld..%lld)", (long long)n,
			    (long long)min, (long long)max);
	*out = n;
	return 1;
}

static inline int get_int(struct pctx *c, json_t *obj, const char *path, const char *key, int64_t min,
		   int64_t max, int64_t *out)
{
	json_t *v = member(obj, key);
	if (!v)
		return 0;
	return int_value(c, v, path, key, min, max, out);
}

/* One integer member of a struct: where its value (`size` bytes) and its has_ flag
 * (NO_HAS when it has none) live. Values are range-checked, so storing by width is exact. */
struct int_field {
	const char *key;
	size_t off, size, has_off;
	int64_t min, max;
	unsigned flags;
};
/* clang-format off */
#define F_REQUIRED 1u
#define F_ZERO_UNSET 2u /* docker's update sends 0 for "leave unset" */
#define NO_HAS SIZE_MAX
#define FIELD(T, key, f, min, max, flags)                                                          \
	{ key, offsetof(T, f), sizeof(((T *)0)->f), NO_HAS, min, max, flags }
#define FIELD_HAS(T, key, f, min, max, flags)                                                      \
	{ key, offsetof(T, f), sizeof(((T *)0)->f), offsetof(T, has_##f), min, max, flags }
/* clang-format on */

static inline void store_int(void *dst, size_t size, int64_t v)
{
	uint16_t v16 = (uint16_t)v;
	uint32_t v32 = (uint32_t)v;

	if (size == 2)
		memcpy(dst, &v16, 2);
	else if (size == 4)
		memcpy(dst, &v32, 4);
	else
		memcpy(dst, &v, 8);
}

/* Reads the members listed in `fields` (ended by a NULL key) into the struct at base. */
static inline int parse_int_fields(struct pctx *c, json_t *o, const char *path,
			    const struct int_field *fields, void *base)
{
	for (const struct int_field *f = fields; f->key; f++) {
		int64_t v = 0;
		int r = get_int(c, o, path, f->key, f->min, f->max, &v);
		if (r < 0)
			return -1;
		if (r == 0 && (f->flags & F_REQUIRED))
			return fail(c, path, f->key, "required");
		if (r == 0 || ((f->flags & F_ZERO_UNSET) && v == 0))
			continue;
		store_int((char *)base + f->off, f->size, v);
		if (f->has_off != NO_HAS)
			*(bool *)((char *)base + f->has_off) = true;
	}
	return 0;
}

static inline void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* An array of strings into a NULL-terminated vector (empty array -> empty vector). */
static inline int get_strv(struct pctx *c, json_t *obj, const char *path, const char *key, char ***out)
{
	json_t *v = member(obj, key), *e;
	size_t i;
	cleanup_strv char **vec = NULL;

	if (!v)
		return 0;
	if (!json_is_array(v))
		return fail(c, path, key, "expected an array of strings");
	vec = calloc(json_array_size(v) + 1, sizeof(*vec));
	if (!vec)
		return oom(c);
	json_array_foreach (v, i, e) {
		char ep[PATH_BUF];
		if (!json_is_string(e)) {
			join_idx(ep, path, key, i);
			return fail(c, ep, NULL, "expected a string");
		}
		vec[i] = strdup(json_string_value(e));
		if (!vec[i])
			return oom(c);
	}
	strv_free(*out);
	*out = steal_pointer(&vec);
	return 1;
}

/* An object of strings into an alternating key/value vector. */
static inline int get_str_map(struct pctx *c, json_t *obj, const char *path, const char *key, char ***out)
{
	json_t *v = member(obj, key), *e;
	const char *k;
	size_t i = 0;
	cleanup_strv char **vec = NULL;

	if (!v)
		return 0;
	if (!json_is_object(v))
		return fail(c, path, key, "expected an object of strings");
	vec = calloc(2 * json_object_size(v) + 1, sizeof(*vec));
	if (!vec)
		return oom(c);
	json_object_foreach (v, k, e) {
		char kp[PATH_BUF];
		if (!json_is_string(e)) {
			join(kp, path, key);
			return fail(c, kp, k, "expected a string");
		}
		vec[i] = strdup(k);
		if (!vec[i++])
			return oom(c);
		vec[i] = strdup(json_string_value(e));
		if (!vec[i++])
			return oom(c);
	}
	*out = steal_pointer(&vec);
	return 1;
}

/* Allocates a zeroed array for a JSON array; a non-NULL pointer even when empty so that
 * calloc(0) ambiguity never reads as failure. */
/* An element parser for parse_list: fills element i of arr from the object e (at ep). */
typedef int (*elem_parser)(struct pctx *c, json_t *e, const char *ep, void *arr, size_t i);

/* An array of objects into a counted C array (*arrp, *n). Each entry is counted before
 * it is parsed so that the free functions release a half-filled one. */
static inline int parse_list(struct pctx *c, json_t *obj, const char *path, const char *key, size_t size,
		      elem_parser fn, void *arrp, size_t *n)
{
	void **out = arrp;
	json_t *arr, *e;
	size_t i;
	int r;

	if ((r = get_array(c, obj, path, key, &arr)) <= 0)
		return r;
	if (!(*out = calloc(json_array_size(arr) + 1, size)))
		return oom(c);
	json_array_foreach (arr, i, e) {
		char ep[PATH_BUF];
		join_idx(ep, path, key, i);
		if (!json_is_object(e))
			return fail(c, ep, NULL, "expected an object");
		(*n)++;
		if (fn(c, e, ep, *out, i) < 0)
			return -1;
	}
	return 0;
}

static inline int require_absolute(struct pctx *c, const char *path, const char *key, const char *s)
{
	if (s[0] != '/')
		return fail(c, path, key, "must be an absolute path");
	return 0;
}


/* spec_linux.c: linux.resources and linux.seccomp. */
struct keel_spec_resources *spec_resources_from_json(struct pctx *c, json_t *o, const char *path);
int spec_parse_seccomp(struct pctx *c, json_t *o, const char *path, struct keel_spec_seccomp *s);
void spec_seccomp_free(struct keel_spec_seccomp *s);

#endif
