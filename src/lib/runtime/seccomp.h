/* linux.seccomp -> a libseccomp filter. Built first (while the process can still read
 * anything it needs), loaded as late as possible, right before execve. */
#ifndef KEEL_SECCOMP_H
#define KEEL_SECCOMP_H

#include <linux/filter.h>
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

/* A compiled filter, loaded with the raw seccomp(2) call: no allocation and no libseccomp in
 * the container process between fork and exec. */
struct keel_seccomp_prog {
	struct sock_filter *insns;
	unsigned short len;
	unsigned int flags; /* SECCOMP_FILTER_FLAG_* */
};

/* Compiles the spec's filter. With cache_dir, the BPF is kept in
 * <cache_dir>/<hash of key_text, libseccomp version, kernel seccomp API level>.bpf and
 * reused by every later container with the same profile: building Docker's profile for three
 * architectures costs ~15 ms, loading the cached program well under 1 ms. key_text must
 * determine the filter (the linux.seccomp JSON). cache_dir NULL: always build. */
int keel_seccomp_compile(const struct keel_spec_seccomp *s, const char *key_text,
			 const char *cache_dir, struct keel_seccomp_prog *out, keel_error_t *err);

/* Installs the program in the calling thread (no_new_privs or CAP_SYS_ADMIN needed). */
int keel_seccomp_prog_load(const struct keel_seccomp_prog *p, keel_error_t *err);

void keel_seccomp_prog_free(struct keel_seccomp_prog *p);

#endif
