/* keel's one error type: an errno plus a message, filled by the failing call.
 *
 * Contract: functions return >= 0 on success and a negative value with *err set
 * on failure; constructors return NULL and set *err. The struct has no heap
 * parts, so it needs no release and may be filled in a forked child and sent
 * over a socket as it is. */
#ifndef KEEL_ERROR_H
#define KEEL_ERROR_H

#include <stdarg.h>

#define KEEL_ERROR_MSG_MAX 1024

typedef struct keel_error {
	int errnum;                   /* errno value, 0 when not a system error */
	char msg[KEEL_ERROR_MSG_MAX]; /* human text, already including strerror */
} keel_error_t;

/* Sets *err to "<fmt>: strerror(errnum)" (or just <fmt> when errnum is 0).
 * Always returns -1 so callers can `return keel_err(...)`. NULL err is allowed. */
int keel_err(keel_error_t *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Same as keel_err with errnum = errno. */
int keel_err_sys(keel_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like keel_err, but the message is shown as is (no ": strerror" suffix): for errors the
 * user caused, classified by errnum (ENOENT missing, EBUSY conflict, EINVAL bad input). */
int keel_err_user(keel_error_t *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prefixes the message already in *err with context: "<fmt>: <old msg>". Returns -1. */
int keel_err_wrap(keel_error_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears *err. */
void keel_err_clear(keel_error_t *err);

#endif
