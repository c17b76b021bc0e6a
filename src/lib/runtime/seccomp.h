/* linux.seccomp -> a libseccomp filter. Built first (while the process can still read
 * anything it needs), loaded as late as possible, right before execve. */
#ifndef KEEL_SECCOMP_H
#define KEEL_SECCOMP_H

#include <seccomp.h>

#include "runtime/spec.h"
#include "util/error.h"

/* Builds a filter from the spec: default action (with defaultErrnoRet), architectures
 * (native always included), rules with argument comparisons, errnoRet per rule, flags
 * (SECCOMP_FILTER_FLAG_LOG / SPEC_ALLOW / TSYNC; unknown flag: error). Syscall names the
 * kernel or libseccomp do not know are skipped, as runc does. listenerPath: error
 * "seccomp notify (listenerPath) is not supported". Returns NULL + *err. */
scmp_filter_ctx keel_seccomp_build(const struct keel_spec_seccomp *s, keel_error_t *err);

/* Loads the filter into the calling thread; releases ctx either way. */
int keel_seccomp_load(scmp_filter_ctx ctx, keel_error_t *err);

#endif
