/* .dockerignore: Docker's pattern rules (moby/patternmatcher).
 *
 *  - one pattern a line; lines starting with '#' are comments; surrounding whitespace is
 *    trimmed; a pattern is cleaned like Go's filepath.Clean and a leading '/' dropped;
 *  - '*' any run of non-'/' characters, '?' one non-'/' character, '[...]' a class,
 *    '**' any number of directories (even none), '\' escapes the next character;
 *  - '!' makes an exception: a later line wins over an earlier one;
 *  - a pattern that matches a directory excludes everything below it (a path is excluded
 *    when it or one of its parent directories matches), exceptions can re-include
 *    descendants.
 * The Dockerfile and .dockerignore themselves are still read by the builder when listed,
 * but COPY/ADD do not see them (Docker's documented behaviour). */
#ifndef KEEL_BUILD_DOCKERIGNORE_H
#define KEEL_BUILD_DOCKERIGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

struct keel_ignore;

/* Parses the text of a .dockerignore (len bytes). Returns a matcher (free with
 * keel_ignore_free) or NULL with *err (".dockerignore:LINE: problem"). */
struct keel_ignore *keel_ignore_parse(const char *text, size_t len, keel_error_t *err);

/* True when path (relative to the context, '/'-separated, no leading "./") is excluded. */
bool keel_ignore_match(const struct keel_ignore *ig, const char *path);

/* True when some '!' exception exists: a walker may then not skip an excluded directory
 * without looking inside it. */
bool keel_ignore_has_exceptions(const struct keel_ignore *ig);

/* The cleaned patterns, "!" kept, in order (borrowed, NULL-terminated): for tests. */
char *const *keel_ignore_patterns(const struct keel_ignore *ig);

void keel_ignore_free(struct keel_ignore *ig);

/* Go's filepath.Clean for '/'-separated paths; caller frees. NULL on ENOMEM. */
char *keel_path_clean(const char *path);

#endif
