/* .dockerignore matching (see dockerignore.h). Each pattern becomes a POSIX extended
 * regular expression the way patternmatcher builds its Go regexp; only anchored
 * whole-string matches are asked, where POSIX and RE2 agree. */
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "build/dockerignore.h"
#include "build/strbuf.h"
#include "store/digest.h"
#include "util/cleanup.h"

struct pattern {
	bool exclusion;
	regex_t re;
};

struct keel_ignore {
	struct pattern *pats;
	size_t n;
	char **texts;
	size_t ntexts;
	bool exceptions;
};

char *keel_path_clean(const char *path)
{
	struct strbuf b = { 0 };
	cleanup_free char *copy = strdup(path);
	cleanup_free char **stack = NULL;
	bool abs = path[0] == '/';
	size_t n = 0;
	char *save = NULL;

	if (!copy || !(stack = calloc(strlen(path) / 2 + 2, sizeof(char *))))
		return NULL;
	for (char *t = strtok_r(copy, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (strcmp(t, ".") == 0)
			continue;
		if (strcmp(t, "..") == 0) {
			if (n && strcmp(stack[n - 1], "..") != 0)
				n--;
			else if (!abs)
				stack[n++] = t; /* a relative path may climb; "/.." is "/" */
			continue;
		}
		stack[n++] = t;
	}
	if (abs)
		sb_addc(&b, '/');
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_addc(&b, '/');
		sb_add(&b, stack[i]);
	}
	if (!b.len && !b.oom)
		sb_addc(&b, '.');
	return sb_steal(&b);
}

static bool regex_special(char c)
{
	return strchr(".+()|{}$^", c) != NULL;
}

/* patternmatcher's compile(), to ERE. */
static char *to_regex(const char *p)
{
	struct strbuf b = { 0 };
	sb_addc(&b, '^');
	for (size_t i = 0; p[i]; i++) {
		char c = p[i];
		if (c == '*') {
			if (p[i + 1] == '*') {
				i++;
				if (p[i + 1] == '/')
					i++;
				if (!p[i + 1])
					sb_add(&b, ".*");
				else
					sb_add(&b, "(.*/)?");
			} else {
				sb_add(&b, "[^/]*");
			}
		} else if (c == '?') {
			sb_add(&b, "[^/]");
		} else if (c == '\\') {
			if (p[i + 1]) {
				c = p[++i];
				if (regex_special(c) || strchr("*?[]\\", c))
					sb_addc(&b, '\\');
				sb_addc(&b, c);
			} else {
				sb_add(&b, "\\\\");
			}
		} else if (c == '[') {
			/* A class passes through as written; Go's negation "[^" is ERE's too. */
			size_t j = i + 1;
			if (p[j] == '^')
				j++;
			if (p[j] == ']')
				j++;
			while (p[j] && p[j] != ']')
				j++;
			if (!p[j]) {
				sb_add(&b, "\\[");
				continue;
			}
			sb_addn(&b, p + i, j - i + 1);
			i = j;
		} else if (regex_special(c)) {
			sb_addc(&b, '\\');
			sb_addc(&b, c);
		} else {
			sb_addc(&b, c);
		}
	}
	sb_addc(&b, '$');
	return sb_steal(&b);
}

static int add_pattern(struct keel_ignore *ig, const char *line, int lineno, keel_error_t *err)
{
	bool excl = line[0] == '!';
	cleanup_free char *trimmed = NULL;
	cleanup_free char *clean = NULL;
	cleanup_free char *re = NULL;
	cleanup_free char *text = NULL;
	const char *p = excl ? line + 1 : line;
	struct pattern *pat;
	size_t len;

	while (*p == ' ' || *p == '\t')
		p++;
	len = strlen(p);
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (!(trimmed = strndup(p, len)))
		return keel_err(err, ENOMEM, ".dockerignore");
	if (!*trimmed) {
		if (excl)
			return keel_err_user(err, EINVAL,
					     ".dockerignore:%d: illegal exclusion "
					     "pattern: \"!\"",
					     lineno);
		return 0;
	}
	if (!(clean = keel_path_clean(trimmed)))
		return keel_err(err, ENOMEM, ".dockerignore");
	p = clean[0] == '/' && clean[1] ? clean + 1 : clean;
	if (strcmp(p, ".") == 0 && !excl)
		return 0; /* "." would exclude the whole context; Docker ignores it */
	if (!(re = to_regex(p)) || asprintf(&text, "%s%s", excl ? "!" : "", p) < 0)
		return keel_err(err, ENOMEM, ".dockerignore");
	pat = vec_grow((void **)&ig->pats, &ig->n, sizeof(*pat));
	if (!pat)
		return keel_err(err, ENOMEM, ".dockerignore");
	if (regcomp(&pat->re, re, REG_EXTENDED | REG_NOSUB) != 0) {
		ig->n--;
		return keel_err_user(err, EINVAL, ".dockerignore:%d: bad pattern \"%s\"", lineno,
				     p);
	}
	pat->exclusion = excl;
	ig->exceptions |= excl;
	if (strv_push(&ig->texts, &ig->ntexts, steal_pointer(&text)) < 0)
		return keel_err(err, ENOMEM, ".dockerignore");
	return 0;
}

struct keel_ignore *keel_ignore_parse(const char *text, size_t len, keel_error_t *err)
{
	struct keel_ignore *ig = calloc(1, sizeof(*ig));
	const char *p = text, *end = text + len;
	int lineno = 0;

	if (!ig) {
		keel_err(err, ENOMEM, ".dockerignore");
		return NULL;
	}
	if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		cleanup_free char *line = strndup(p, n);
		lineno++;
		p += n + (nl ? 1 : 0);
		if (!line) {
			keel_err(err, ENOMEM, ".dockerignore");
			goto fail;
		}
		n = strlen(line); /* a NUL byte ends the line early */
		if (n && line[n - 1] == '\r')
			line[n - 1] = '\0';
		/* Only a '#' in the first column starts a comment. */
		if (line[0] == '#')
			continue;
		if (add_pattern(ig, line, lineno, err) < 0)
			goto fail;
	}
	if (!ig->texts && strv_push(&ig->texts, &ig->ntexts, strdup("")) == 0) {
		free(ig->texts[0]);
		ig->texts[0] = NULL;
		ig->ntexts = 0;
	}
	return ig;
fail:
	keel_ignore_free(ig);
	return NULL;
}

static bool pat_match(const struct pattern *p, const char *path)
{
	return regexec(&p->re, path, 0, NULL, 0) == 0;
}

bool keel_ignore_match(const struct keel_ignore *ig, const char *path)
{
	bool matched = false;
	cleanup_free char *parent = NULL;

	if (!ig || !ig->n)
		return false;
	parent = strdup(path);
	for (size_t i = 0; i < ig->n; i++) {
		const struct pattern *p = &ig->pats[i];
		bool m;
		/* An exclusion pattern only matters once matched, an inclusion only before. */
		if (p->exclusion != matched)
			continue;
		m = pat_match(p, path);
		/* ... or one of the parent directories matches. */
		for (char *s = parent ? strchr(parent, '/') : NULL; !m && s;
		     s = strchr(s + 1, '/')) {
			*s = '\0';
			m = pat_match(p, parent);
			*s = '/';
		}
		if (m)
			matched = !p->exclusion;
	}
	return matched;
}

bool keel_ignore_has_exceptions(const struct keel_ignore *ig)
{
	return ig && ig->exceptions;
}

char *const *keel_ignore_patterns(const struct keel_ignore *ig)
{
	return ig->texts;
}

void keel_ignore_free(struct keel_ignore *ig)
{
	if (!ig)
		return;
	for (size_t i = 0; i < ig->n; i++)
		regfree(&ig->pats[i].re);
	free(ig->pats);
	strv_free(ig->texts);
	free(ig);
}
