/* Internals shared by runopts.c (the flag machinery) and runopts_values.c (the value parsers),
 * and the string-vector helpers ocispec.c also uses. Not part of the engine's API. */
#ifndef KEEL_RUNOPTS_INTERNAL_H
#define KEEL_RUNOPTS_INTERNAL_H

#include "engine/runopts.h"

/* A value parser's failure kinds. OPT_BAD_VALUE is a CLI-side validation error: the caller
 * wraps it as `invalid argument "<v>" for "<flag>" flag: <msg>`; OPT_FAIL is a message
 * already in its final (dockerd-side) words. */
#define OPT_BAD_VALUE (-1)
#define OPT_FAIL      (-2)

/* Sets *err to the message alone (no strerror suffix: these are user-facing texts in
 * Docker's words) with errnum recorded. Returns -1. */
int keel_msg(keel_error_t *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Appends a copy of s to the NULL-terminated vector *v (which may be NULL). -1 on ENOMEM. */
int keel_strv_push(char ***v, const char *s);
size_t keel_strv_len(char *const *v);
void keel_strv_free(char **v);

/* Value parsers: 0, or OPT_BAD_VALUE / OPT_FAIL with *err set. */
int keel_runopt_int(const char *s, int64_t *out, keel_error_t *err);
int keel_runopt_bool(const char *s, bool *out, keel_error_t *err);
int keel_runopt_volume(struct keel_run_opts *o, const char *v, keel_error_t *err);
int keel_runopt_mount(struct keel_run_opts *o, const char *v, keel_error_t *err);
int keel_runopt_tmpfs(struct keel_run_opts *o, const char *v, keel_error_t *err);
int keel_runopt_ulimit(struct keel_run_opts *o, const char *v, keel_error_t *err);
int keel_runopt_device(struct keel_run_opts *o, const char *v, keel_error_t *err);
int keel_runopt_restart(struct keel_run_opts *o, const char *v, keel_error_t *err);
int keel_runopt_security(struct keel_run_opts *o, const char *v, keel_error_t *err);
int keel_runopt_cpus(struct keel_run_opts *o, const char *v, keel_error_t *err);

/* Cross-flag checks dockerd makes once all flags are known (memory vs swap, ...). */
int keel_runopts_validate(const struct keel_run_opts *o, keel_error_t *err);

#endif
