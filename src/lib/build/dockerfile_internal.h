/* Shared between dockerfile.c (lines, directives, heredocs) and dockerfile_instr.c (the
 * per-instruction table). Not installed; not for other modules. */
#ifndef KEEL_BUILD_DOCKERFILE_INTERNAL_H
#define KEEL_BUILD_DOCKERFILE_INTERNAL_H

#include "build/dockerfile.h"
#include "store/digest.h" /* keel_err_user */

/* Sets *err to "NAME:LINE: <fmt>" (EINVAL) and returns -1. */
int df_err(keel_error_t *err, const struct keel_dockerfile *df, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records a warning "NAME:LINE: <fmt>" (dropped silently when out of memory). */
void df_warn(struct keel_dockerfile *df, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses one logical line (keyword, flags, arguments) into in, which must be zeroed;
 * line numbers are set by the caller. Used for ONBUILD triggers as well. */
int df_parse_instr(struct keel_dockerfile *df, struct keel_df_instr *in, const char *line,
		   int lineno, keel_error_t *err);

/* Frees what an instruction owns (not the struct itself). */
void df_instr_clear(struct keel_df_instr *in);

/* Docker's parseWords: splits on whitespace outside quotes, keeping quotes and escapes in
 * the words. NULL-terminated vector, or NULL when out of memory. */
char **df_split_words(const char *rest, char esc, size_t *n);

#endif
