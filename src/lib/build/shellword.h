/* Docker's shell-word processing for Dockerfile variable expansion: $VAR, ${VAR},
 * ${VAR:-word}, ${VAR-word}, ${VAR:+word}, ${VAR+word}, ${VAR:?msg}, ${VAR?msg}, quotes
 * (single quotes literal, double quotes expand) and the escape token.
 *
 * This is not a shell: no command substitution, no globbing, no arithmetic. It is the
 * lexer BuildKit's frontend applies to ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER
 * VOLUME WORKDIR (and ARG defaults, and some flags) before the instruction runs. */
#ifndef KEEL_BUILD_SHELLWORD_H
#define KEEL_BUILD_SHELLWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

/* An ordered list of "KEY=VALUE" strings; setting an existing key replaces it in place.
 * Owned strings; keel_env_free releases them. A zeroed struct is an empty env. */
struct keel_env {
	char **vars;
	size_t n, cap;
};

int keel_env_set(struct keel_env *e, const char *key, const char *value, keel_error_t *err);
/* Borrowed value or NULL when unset. */
const char *keel_env_get(const struct keel_env *e, const char *key);
void keel_env_unset(struct keel_env *e, const char *key);
int keel_env_copy(struct keel_env *dst, const struct keel_env *src, keel_error_t *err);
void keel_env_free(struct keel_env *e);

enum {
	KEEL_SHELL_RAW_QUOTES = 1 << 0,	 /* keep the quote characters in the result */
	KEEL_SHELL_RAW_ESCAPES = 1 << 1, /* keep the escape characters in the result */
	KEEL_SHELL_SKIP_UNSET = 1 << 2,	 /* leave $UNSET as written instead of "" */
};

/* Expands word as one word (whitespace kept, quotes removed): ENV, LABEL, USER, WORKDIR...
 * *out is a new string the caller frees. Errors name the problem only; callers add the
 * Dockerfile:LINE. escape is '\\' or '`'. */
int keel_shell_word(const char *word, const struct keel_env *env, char escape, unsigned flags,
		    char **out, keel_error_t *err);

/* Expands and splits into words on unquoted whitespace (also whitespace that came from an
 * unquoted variable): EXPOSE. *out is a NULL-terminated vector the caller frees
 * (cleanup_strv), *n its length. */
int keel_shell_words(const char *word, const struct keel_env *env, char escape, unsigned flags,
		     char ***out, size_t *n, keel_error_t *err);

#endif
