#include "image/reference.h"
#include "store/digest.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

#define NAME_MAX_TOTAL 255

static bool alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* path-component: [a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)* */
static bool valid_component(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !alnum_lower(s[0]) || !alnum_lower(s[n - 1]))
		return false;
	while (i < n) {
		if (alnum_lower(s[i])) {
			i++;
			continue;
		}
		size_t j = i;
		if (s[i] == '.' || s[i] == '_') {
			j = i + 1;
			if (s[i] == '_' && j < n && s[j] == '_')
				j++;
		} else if (s[i] == '-') {
			while (j < n && s[j] == '-')
				j++;
		} else {
			return false;
		}
		if (j >= n || !alnum_lower(s[j]))
			return false;
		i = j;
	}
	return true;
}

/* domain-component: [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9], dot-separated, :port */
static bool valid_domain(const char *s)
{
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	size_t start = 0;
	if (colon) {
		if (!colon[1])
			return false;
		for (const char *p = colon + 1; *p; p++)
			if (!isdigit((unsigned char)*p))
				return false;
	}
	if (n == 0)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			if (!isalnum((unsigned char)s[i]) && s[i] != '-')
				return false;
			continue;
		}
		if (i == start || s[start] == '-' || s[i - 1] == '-')
			return false;
		start = i + 1;
	}
	return true;
}

/* tag: [\w][\w.-]{0,127} */
static bool valid_tag(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > 128 || t[0] == '.' || t[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
			return false;
	return true;
}

bool keel_is_hex64(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

bool keel_is_id_prefix(const char *s)
{
	size_t n = 0;
	if (strncmp(s, "sha256:", 7) == 0)
		s += 7;
	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n > 0 && n <= 64;
}

void keel_ref_free(struct keel_ref *r)
{
	if (!r)
		return;
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

static int bad(keel_error_t *err, const char *why)
{
	return keel_err_user(err, EINVAL, "invalid reference format%s%s", why ? ": " : "", why ? why : "");
}

static int split_domain(struct keel_ref *out, const char *name, keel_error_t *err)
{
	const char *slash = strchr(name, '/');
	size_t dl = slash ? (size_t)(slash - name) : 0;
	bool has_domain = false;
	if (slash) {
		has_domain = memchr(name, '.', dl) || memchr(name, ':', dl) ||
			     (dl == 9 && strncmp(name, "localhost", 9) == 0);
		for (size_t i = 0; i < dl && !has_domain; i++)
			if (isupper((unsigned char)name[i]))
				has_domain = true;
	}
	if (has_domain) {
		out->domain = strndup(name, dl);
		out->path = strdup(slash + 1);
	} else {
		out->domain = strdup("docker.io");
		out->path = strdup(name);
	}
	if (!out->domain || !out->path)
		return keel_err(err, ENOMEM, "reference");
	if (strcmp(out->domain, "index.docker.io") == 0) {
		free(out->domain);
		out->domain = strdup("docker.io");
	}
	if (out->domain && strcmp(out->domain, "docker.io") == 0 && !strchr(out->path, '/')) {
		char *p = NULL;
		if (asprintf(&p, "library/%s", out->path) < 0)
			return keel_err(err, ENOMEM, "reference");
		free(out->path);
		out->path = p;
	}
	return out->domain ? 0 : keel_err(err, ENOMEM, "reference");
}

static int validate(const struct keel_ref *r, keel_error_t *err)
{
	const char *p = r->path;
	if (!valid_domain(r->domain))
		return bad(err, NULL);
	for (const char *c = p; *c; c++)
		if (isupper((unsigned char)*c))
			return bad(err, "repository name must be lowercase");
	while (*p) {
		const char *e = strchrnul(p, '/');
		if (!valid_component(p, (size_t)(e - p)))
			return bad(err, NULL);
		p = *e ? e + 1 : e;
		if (!*p && e[0] == '/')
			return bad(err, NULL);
	}
	if (strlen(r->domain) + 1 + strlen(r->path) > NAME_MAX_TOTAL)
		return bad(err, "repository name must not be more than 255 characters");
	if (r->tag && !valid_tag(r->tag))
		return bad(err, NULL);
	if (r->digest && (strncmp(r->digest, "sha256:", 7) || !keel_is_hex64(r->digest + 7)))
		return bad(err, NULL);
	return 0;
}

int keel_ref_parse(const char *s, struct keel_ref *out, keel_error_t *err)
{
	cleanup_free char *name = NULL;
	char *at, *colon, *slash;
	memset(out, 0, sizeof(*out));
	if (!s || !*s)
		return bad(err, NULL);
	if (keel_is_hex64(s))
		return keel_err_user(err, EINVAL, "invalid repository name (%s), cannot specify 64-byte "
					     "hexadecimal strings", s);
	name = strdup(s);
	if (!name)
		return keel_err(err, ENOMEM, "reference");
	at = strchr(name, '@');
	if (at) {
		*at = '\0';
		if (!(out->digest = strdup(at + 1)))
			goto oom;
	}
	slash = strrchr(name, '/');
	colon = strrchr(slash ? slash : name, ':');
	if (colon) {
		*colon = '\0';
		if (!(out->tag = strdup(colon + 1)))
			goto oom;
	}
	if (!*name || split_domain(out, name, err) < 0 || validate(out, err) < 0) {
		if (!*name)
			bad(err, NULL);
		keel_ref_free(out);
		return -1;
	}
	return 0;
oom:
	keel_ref_free(out);
	return keel_err(err, ENOMEM, "reference");
}

int keel_ref_default_tag(struct keel_ref *r, keel_error_t *err)
{
	if (r->tag || r->digest)
		return 0;
	r->tag = strdup("latest");
	return r->tag ? 0 : keel_err(err, ENOMEM, "reference");
}

char *keel_ref_name(const struct keel_ref *r)
{
	char *s = NULL;
	if (asprintf(&s, "%s/%s", r->domain, r->path) < 0)
		return NULL;
	return s;
}

char *keel_ref_string(const struct keel_ref *r)
{
	char *s = NULL;
	if (asprintf(&s, "%s/%s%s%s%s%s", r->domain, r->path, r->tag ? ":" : "",
		     r->tag ? r->tag : "", r->digest ? "@" : "", r->digest ? r->digest : "") < 0)
		return NULL;
	return s;
}

char *keel_ref_familiarize(const char *full)
{
	const char *p = full;
	if (strncmp(p, "docker.io/", 10) == 0) {
		p += 10;
		if (strncmp(p, "library/", 8) == 0 && !strchr(p + 8, '/'))
			p += 8;
	}
	return strdup(p);
}
