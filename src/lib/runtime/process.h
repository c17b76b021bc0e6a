/* The last steps of a container process, shared by the init (create/run) and by exec:
 * everything between "the namespaces and filesystem are ready" and execve(). */
#ifndef KEEL_PROCESS_H
#define KEEL_PROCESS_H

#include <stdbool.h>
#include <stddef.h>


#include "runtime/seccomp.h"
#include "runtime/spec.h"
#include "util/error.h"

/* Resolves process.args[0] as runc does: a path containing '/' is used as it is (relative
 * to cwd), otherwise searched in the PATH of process.env (or a default PATH). Runs inside
 * the container's root. Errors read like runc's, which docker maps to exit 127/126:
 * `exec: "foo": executable file not found in $PATH`, `exec: "/x": stat /x: no such file or
 * directory`, `exec: "/etc": permission denied`. */
int keel_process_resolve(const struct keel_spec_process *p, char *out, size_t len,
			 keel_error_t *err);

struct keel_process_final {
	const struct keel_spec_process *proc;
	const char *exe;           /* from keel_process_resolve */
	const struct keel_seccomp_prog *seccomp; /* NULL for none */
	bool set_groups;           /* false in a user namespace whose setgroups is denied */
	int preserve_fds;          /* fds 3..3+n-1 stay open */
	unsigned long personality; /* 0 = leave */
	bool has_personality;
};

/* Everything that can fail before the user's program is due to start: fds marked
 * close-on-exec (all but stdio and preserved ones), rlimits, personality, seccomp when
 * no_new_privs is off (it needs CAP_SYS_ADMIN), bounding set, groups/gid/uid, capabilities,
 * umask, cwd (must stay inside the root), no_new_privs. The init runs it before it reports
 * READY, so such a failure fails `create` with its message, as with runc. In a forked child. */
int keel_process_prepare(const struct keel_process_final *f, keel_error_t *err);

/* The last steps: signal dispositions reset, seccomp when no_new_privs is on, execve.
 * Returns only on failure. */
int keel_process_finish(const struct keel_process_final *f, keel_error_t *err);

/* Without CAP_SYS_RESOURCE no process can raise a hard limit (root on some hosts lacks it;
 * podman asks for NOFILE 1048576). Rather than refuse to start, as runc does, hard limits
 * above the caller's own are lowered to it (soft limits with them) and a warning goes to the
 * log. Run by create and exec in the runtime process, which has the log. */
void keel_process_clamp_rlimits(struct keel_spec_process *p);

/* chdir into cwd and refuse a cwd that is outside the root (reached through an fd: the
 * CVE-2024-21626 pattern reads "(unreachable)/..." from getcwd). */
int keel_process_enter_cwd(const char *cwd, keel_error_t *err);

/* Closes every fd >= 3 except fds 3..3+preserve_fds-1 and the n listed in keep (-1 entries
 * ignored). Run first thing in a forked child that will enter a container: whatever the
 * caller had open (CVE-2024-21626: a host directory fd) must not wait there for a process
 * in the container to reach it through /proc/<pid>/fd. Also makes the child non-dumpable
 * until execve, so other container processes cannot open its /proc files at all. */
int keel_process_isolate_fds(const int *keep, size_t n, int preserve_fds, keel_error_t *err);

#endif
