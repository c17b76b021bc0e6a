/* The container init: from clone() to execve(process.args). Runs in the forked child; every
 * error before READY crosses to the create process over the sync socket. */
#include "runtime/init.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <jansson.h>

#include "runtime/console.h"
#include "runtime/hooks.h"
#include "runtime/process.h"
#include "runtime/rootfs.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/trace.h"

int keel_sync_send(int fd, int type, pid_t pid, const keel_error_t *e)
{
	struct keel_sync_msg m = {.type = type, .pid = pid};
	if (e)
		m.err = *e;
	while (send(fd, &m, sizeof(m), MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int keel_sync_recv(int fd, struct keel_sync_msg *m, keel_error_t *err)
{
	ssize_t n;
	do
		n = recv(fd, m, sizeof(*m), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return keel_err_sys(err, "sync socket");
	if (n != (ssize_t)sizeof(*m))
		return keel_err(err, EPIPE, "container init exited unexpectedly");
	return 0;
}

char *keel_hook_state(const struct keel_spec *spec, const char *id, const char *bundle,
		      const char *status, pid_t pid)
{
	cleanup_json json_t *j = json_pack("{s:s,s:s,s:s,s:I,s:s}", "ociVersion", spec->oci_version,
					   "id", id, "status", status, "pid", (json_int_t)pid,
					   "bundle", bundle);
	if (!j)
		return NULL;
	if (spec->annotations)
		json_object_set(j, "annotations", spec->annotations);
	return json_dumps(j, JSON_COMPACT);
}

static int join_namespaces(const struct keel_init_args *a, keel_error_t *err)
{
	/* The user namespace first: the others are owned by it. pid and time were joined by
	 * the parent (they only take effect for children). */
	static const enum keel_ns_type order[] = {KEEL_NS_USER, KEEL_NS_IPC, KEEL_NS_UTS,
						  KEEL_NS_NET, KEEL_NS_CGROUP, KEEL_NS_MNT};
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int fd = a->ns_fds[order[i]];
		if (fd < 0)
			continue;
		if (setns(fd, keel_ns_clone_flag(order[i])) < 0)
			return keel_err_sys(err, "joining %s namespace", keel_ns_name(order[i]));
		close(fd);
	}
	return 0;
}

static int become_root_in_userns(keel_error_t *err)
{
	if (setresgid(0, 0, 0) < 0)
		return keel_err_sys(err, "setgid 0 in the user namespace");
	if (setresuid(0, 0, 0) < 0)
		return keel_err_sys(err, "setuid 0 in the user namespace");
	return 0;
}

static int apply_uts(const struct keel_spec *spec, keel_error_t *err)
{
	if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
		return keel_err_sys(err, "sethostname");
	if (spec->domainname && setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
		return keel_err_sys(err, "setdomainname");
	return 0;
}

/* Sysctls are written through the host's /proc before pivot_root: /proc/sys/net and the
 * ipc keys answer for the writer's own namespaces, which are the container's by now. */
static int apply_sysctl(const struct keel_spec *spec, keel_error_t *err)
{
	for (char **kv = spec->linux.sysctl; kv && kv[0] && kv[1]; kv += 2) {
		char path[PATH_MAX];
		int n = snprintf(path, sizeof(path), "/proc/sys/%s", kv[0]);
		if (n < 0 || (size_t)n >= sizeof(path) || strstr(kv[0], ".."))
			return keel_err(err, EINVAL, "sysctl %s: invalid name", kv[0]);
		for (char *p = path + 10; *p; p++)
			if (*p == '.')
				*p = '/';
		if (keel_write_file(path, kv[1], strlen(kv[1]), 0, err) < 0)
			return keel_err_wrap(err, "sysctl %s", kv[0]);
	}
	return 0;
}

/* Consumes the parent's CGROUP_DONE once. */
static int wait_cgroup(const struct keel_init_args *a, bool *done, keel_error_t *err)
{
	struct keel_sync_msg m;
	if (*done)
		return 0;
	if (keel_sync_recv(a->sync_fd, &m, err) < 0)
		return -1;
	if (m.type != KEEL_SYNC_CGROUP_DONE)
		return keel_err(err, EPROTO, "sync: unexpected message %d", m.type);
	*done = true;
	return 0;
}

static int run_parent_hooks(const struct keel_init_args *a, keel_error_t *err)
{
	struct keel_sync_msg m;
	if (keel_sync_send(a->sync_fd, KEEL_SYNC_HOOKS, 0, NULL) < 0)
		return keel_err_sys(err, "sync");
	if (keel_sync_recv(a->sync_fd, &m, err) < 0)
		return -1;
	if (m.type != KEEL_SYNC_HOOKS_DONE)
		return keel_err(err, EPROTO, "sync: unexpected message %d", m.type);
	return 0;
}

static int run_own_hooks(const struct keel_init_args *a, enum keel_hook_kind kind, pid_t pid,
			 const char *status, keel_error_t *err)
{
	const struct keel_spec_hooks *h = &a->spec->hooks;
	cleanup_free char *state = NULL;
	if (h->n[kind] == 0)
		return 0;
	state = keel_hook_state(a->spec, a->id, a->bundle, status, pid);
	if (!state)
		return keel_err(err, ENOMEM, "hook state");
	return keel_hooks_run(h->list[kind], h->n[kind], keel_hook_kind_name(kind), state, err);
}

static int join_session_keyring(const char *id, keel_error_t *err)
{
	/* KEYCTL_JOIN_SESSION_KEYRING = 1: a fresh keyring, so containers never share the
	 * host's. Kernels without keys answer ENOSYS; that is fine. */
	if (syscall(SYS_keyctl, 1, id) < 0 && errno != ENOSYS && errno != EACCES)
		return keel_err_sys(err, "joining a new session keyring");
	return 0;
}

/* Everything up to READY: returns the slave pty (or -1) through *slave. */
static int init_prepare(const struct keel_init_args *a, int join_errno, pid_t *host_pid,
			int *slave, char *exe, size_t exe_len, keel_error_t *err)
{
	const struct keel_spec *spec = a->spec;
	struct keel_sync_msg m;
	bool in_cgroup = false;

	if (keel_sync_recv(a->sync_fd, &m, err) < 0)
		return -1;
	*host_pid = m.pid;
	if (join_errno) {
		errno = join_errno;
		return keel_err_sys(err, "joining the container's cgroup");
	}
	/* Always a new session: a container in the caller's session could reach its
	 * controlling terminal (TIOCSTI) even without a terminal of its own. */
	if (setsid() < 0 && errno != EPERM)
		return keel_err_sys(err, "setsid");
	if (a->new_userns && become_root_in_userns(err) < 0)
		return -1;
	if (join_namespaces(a, err) < 0)
		return -1;
	/* A new cgroup namespace is rooted at the cgroup we are in: join first. */
	if (keel_spec_namespace(spec, KEEL_NS_CGROUP) &&
	    !keel_spec_namespace(spec, KEEL_NS_CGROUP)->path) {
		if (wait_cgroup(a, &in_cgroup, err) < 0)
			return -1;
		if (unshare(CLONE_NEWCGROUP) < 0)
			return keel_err_sys(err, "creating cgroup namespace");
	}
	if (!a->no_new_keyring && join_session_keyring(a->id, err) < 0)
		return -1;
	if (keel_spec_namespace(spec, KEEL_NS_UTS) && apply_uts(spec, err) < 0)
		return -1;
	if (apply_sysctl(spec, err) < 0)
		return -1;
	keel_trace("init: mounting");
	if (keel_rootfs_prepare(spec, a->rootfs, a->cgroup_path, err) < 0)
		return -1;
	keel_trace("init: mounted");
	if (wait_cgroup(a, &in_cgroup, err) < 0)
		return -1;
	if (run_parent_hooks(a, err) < 0)
		return -1;
	if (run_own_hooks(a, KEEL_HOOK_CREATE_CONTAINER, *host_pid, "created", err) < 0)
		return -1;
	if (keel_rootfs_pivot(a->rootfs, err) < 0)
		return -1;
	/* runc creates a missing cwd; images rely on it. A failure shows at chdir below. */
	keel_mkdir_p(spec->process->cwd, 0755, NULL);
	if (a->console_fd >= 0) {
		cleanup_close int master = -1;
		if (keel_console_open_pty(spec->process, &master, slave, err) < 0)
			return -1;
		if (keel_console_send(a->console_fd, master, err) < 0)
			return -1;
		close(a->console_fd);
		if (keel_console_bind_dev_console(*slave, err) < 0)
			return -1;
	}
	if (keel_rootfs_finalize(spec, err) < 0)
		return -1;
	keel_trace("init: pivoted");
	/* At create, not at start: a bad cwd fails `create` (and `run`) with exit 1 and a log
	 * record. A relative args[0] resolves against it, as execve will. */
	if (keel_process_enter_cwd(spec->process->cwd, err) < 0)
		return -1;
	if (keel_process_resolve(spec->process, exe, exe_len, err) < 0)
		return -1;
	return 0;
}

void keel_init_main(const struct keel_init_args *a)
{
	const struct keel_spec *spec = a->spec;
	keel_error_t err;
	char exe[PATH_MAX];
	pid_t host_pid = 0;
	int slave = -1;
	char c;
	ssize_t n;

	keel_err_clear(&err);
	/* before the fds go; a failure is reported once the runtime listens (after GO) */
	int join_errno = a->cgroup_join && keel_cgroup_join_self(a->cgroup_join) < 0 ? errno : 0;
	{
		int keep[4 + KEEL_NS_TYPES] = {a->sync_fd, a->fifo_fd, a->console_fd, -1};
		for (int t = 0; t < KEEL_NS_TYPES; t++)
			keep[4 + t] = a->ns_fds[t];
		if (keel_process_isolate_fds(keep, 4 + KEEL_NS_TYPES, a->preserve_fds, &err) < 0) {
			keel_sync_send(a->sync_fd, KEEL_SYNC_ERROR, 0, &err);
			_exit(1);
		}
	}
	if (init_prepare(a, join_errno, &host_pid, &slave, exe, sizeof(exe), &err) < 0) {
		keel_sync_send(a->sync_fd, KEEL_SYNC_ERROR, 0, &err);
		_exit(1);
	}
	struct keel_process_final f = {
		.proc = spec->process,
		.exe = exe,
		.seccomp = a->seccomp,
		.set_groups = true,
		.preserve_fds = a->preserve_fds,
		.personality = spec->linux.personality,
		.has_personality = spec->linux.has_personality,
	};
	if ((slave >= 0 && keel_console_make_ctty(slave, &err) < 0) ||
	    keel_process_prepare(&f, &err) < 0) {
		keel_sync_send(a->sync_fd, KEEL_SYNC_ERROR, 0, &err);
		_exit(1);
	}
	keel_sync_send(a->sync_fd, KEEL_SYNC_READY, 0, NULL);
	close(a->sync_fd);

	/* Wait for `start`: it writes one byte into the fifo we hold open read-write. */
	if (a->fifo_fd >= 0) {
		do
			n = read(a->fifo_fd, &c, 1);
		while (n < 0 && errno == EINTR);
		if (n != 1)
			_exit(1);
		close(a->fifo_fd);
	}
	keel_trace("init: started");
	if (run_own_hooks(a, KEEL_HOOK_START_CONTAINER, host_pid, "running", &err) == 0)
		keel_process_finish(&f, &err);
	dprintf(STDERR_FILENO, "keel: %s\n", err.msg);
	_exit(127);
}
