#include "util/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 3, 0))) static void vset(keel_error_t *err, int errnum, const char *fmt, va_list ap)
{
	int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(err->msg))
		n = sizeof(err->msg) - 1;
	/* strerror's text in lower case, as Go prints it: engines match runc's messages
	 * ("no such file or directory", "permission denied") case-sensitively. */
	if (errnum && (size_t)n + 3 < sizeof(err->msg)) {
		snprintf(err->msg + n, sizeof(err->msg) - (size_t)n, ": %s", strerror(errnum));
		err->msg[n + 2] = (char)tolower((unsigned char)err->msg[n + 2]);
	}
	err->errnum = errnum;
}

int keel_err(keel_error_t *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return -1;
	va_start(ap, fmt);
	vset(err, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int keel_err_sys(keel_error_t *err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	if (!err)
		return -1;
	va_start(ap, fmt);
	vset(err, saved, fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

int keel_err_user(keel_error_t *err, int errnum, const char *fmt, ...)
{
	va_list ap;
	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->errnum = errnum;
	return -1;
}

int keel_err_wrap(keel_error_t *err, const char *fmt, ...)
{
	char prefix[KEEL_ERROR_MSG_MAX];
	char old[KEEL_ERROR_MSG_MAX];
	va_list ap;
	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	return -1;
}

void keel_err_clear(keel_error_t *err)
{
	if (!err)
		return;
	err->errnum = 0;
	err->msg[0] = '\0';
}
