/* `exec`: a new process inside a running container's namespaces and cgroups, set up like
 * the init (same final steps, same seccomp profile). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "runtime/console.h"
#include "runtime/container.h"
#include "runtime/init.h"
#include "runtime/process.h"
#include "runtime/seccomp.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* The order the child joins them: user first (it owns the others), mount last (it changes
 * how the paths of the rest would resolve). pid and time are joined by the parent. */
static const enum keel_ns_type join_order[] = {KEEL_NS_USER, KEEL_NS_IPC,    KEEL_NS_UTS,
					       KEEL_NS_NET,  KEEL_NS_CGROUP, KEEL_NS_MNT};

/* Opens /proc/<pid>/ns/<x> for every namespace that differs from ours. */
static int open_target_ns(pid_t pid, int fds[KEEL_NS_TYPES], keel_error_t *err)
{
	for (int t = 0; t < KEEL_NS_TYPES; t++) {
		char path[64], self[64];
		struct stat a, b;
		fds[t] = -1;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, keel_ns_proc_name(t));
		snprintf(self, sizeof(self), "/proc/self/ns/%s", keel_ns_proc_name(t));
		if (stat(path, &a) < 0) {
			if (errno == ENOENT)
				continue; /* kernel without this namespace type */
			return keel_err_sys(err, "%s", path);
		}
		if (stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			continue;
		fds[t] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[t] < 0)
			return keel_err_sys(err, "%s", path);
	}
	return 0;
}

struct exec_child {
	const struct keel_exec_opts *o;
	const struct keel_spec *spec;
	int *ns_fds;
	int sync_fd;
	int console_fd;
	const struct keel_seccomp_prog *seccomp;
	const struct keel_cgroup_join *cgroup_join; /* set when the child joins itself */
	int join_errno;
};

static int child_setup(struct exec_child *c, char *exe, size_t len, keel_error_t *err)
{
	struct keel_sync_msg m;
	if (keel_sync_recv(c->sync_fd, &m, err) < 0) /* cgroup joined */
		return -1;
	if (c->join_errno) {
		errno = c->join_errno;
		return keel_err_sys(err, "joining the container's cgroup");
	}
	for (size_t i = 0; i < sizeof(join_order) / sizeof(join_order[0]); i++) {
		int t = join_order[i];
		if (c->ns_fds[t] < 0)
			continue;
		if (setns(c->ns_fds[t], keel_ns_clone_flag(t)) < 0)
			return keel_err_sys(err, "joining %s namespace", keel_ns_name(t));
		close(c->ns_fds[t]);
		c->ns_fds[t] = -1;
	}
	if (c->console_fd >= 0) {
		cleanup_close int master = -1;
		int slave;
		if (keel_console_open_pty(c->o->proc, &master, &slave, err) < 0)
			return -1;
		if (keel_console_send(c->console_fd, master, err) < 0)
			return -1;
		if (keel_console_make_ctty(slave, err) < 0)
			return -1;
		close(slave);
	} else if (setsid() < 0 && errno != EPERM) {
		return keel_err_sys(err, "setsid");
	}
	if (chdir(c->o->proc->cwd) < 0)
		return keel_err_sys(err, "chdir to cwd (\"%s\")", c->o->proc->cwd);
	return keel_process_resolve(c->o->proc, exe, len, err);
}

__attribute__((noreturn)) static void child_main(struct exec_child *c)
{
	keel_error_t err;
	char exe[PATH_MAX];
	keel_err_clear(&err);
	/* before the fds go; a failure is reported after GO, when the parent listens */
	if (c->cgroup_join && keel_cgroup_join_self(c->cgroup_join) < 0)
		c->join_errno = errno;
	{
		int keep[2 + KEEL_NS_TYPES] = {c->sync_fd, c->console_fd};
		for (int t = 0; t < KEEL_NS_TYPES; t++)
			keep[2 + t] = c->ns_fds[t];
		if (keel_process_isolate_fds(keep, 2 + KEEL_NS_TYPES, c->o->preserve_fds, &err) < 0)
			goto fail;
	}
	if (child_setup(c, exe, sizeof(exe), &err) == 0) {
		struct keel_process_final f = {
			.proc = c->o->proc,
			.exe = exe,
			.seccomp = c->seccomp,
			.set_groups = true,
			.preserve_fds = c->o->preserve_fds,
			.personality = c->spec->linux.personality,
			.has_personality = c->spec->linux.has_personality,
		};
		/* READY goes after everything that can fail but execve: after execve the socket
		 * is closed (CLOEXEC), which the parent reads as "it runs"; an execve failure
		 * still arrives as ERROR. */
		if (keel_process_prepare(&f, &err) == 0) {
			keel_sync_send(c->sync_fd, KEEL_SYNC_READY, 0, NULL);
			keel_process_finish(&f, &err);
		}
	}
fail:
	keel_sync_send(c->sync_fd, KEEL_SYNC_ERROR, 0, &err);
	_exit(255);
}

/* After READY: either EOF (execve happened) or an ERROR message. */
static int wait_exec(int fd, keel_error_t *err)
{
	struct keel_sync_msg m;
	ssize_t n;
	if (keel_sync_recv(fd, &m, err) < 0)
		return -1;
	if (m.type == KEEL_SYNC_ERROR) {
		*err = m.err;
		return -1;
	}
	do
		n = recv(fd, &m, sizeof(m), 0);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(m) && m.type == KEEL_SYNC_ERROR) {
		*err = m.err;
		return -1;
	}
	return 0;
}

static int exec_checks(const struct keel_exec_opts *o, struct keel_state *st, keel_error_t *err)
{
	enum keel_status s = keel_state_status(o->root, st);
	if (s == KEEL_STATUS_PAUSED && !o->ignore_paused)
		return keel_err(err, 0, "cannot exec in a paused container (use --ignore-paused to "
					"override)");
	if (s == KEEL_STATUS_STOPPED)
		return keel_err(err, 0, "cannot exec in a stopped container");
	if (o->proc->terminal && !o->console_socket)
		return keel_err(err, ENXIO, "open /dev/tty");
	return 0;
}

static int spawn(struct exec_child *c, struct keel_state *st, pid_t *pid, keel_error_t *err)
{
	int sv[2];
	struct keel_cgroup_join join = { .v2_fd = -1 };
	bool joined = false;
	int ret;

	if (c->ns_fds[KEEL_NS_PID] >= 0 && setns(c->ns_fds[KEEL_NS_PID], CLONE_NEWPID) < 0)
		return keel_err_sys(err, "joining pid namespace");
	if (c->ns_fds[KEEL_NS_TIME] >= 0 && setns(c->ns_fds[KEEL_NS_TIME], CLONE_NEWTIME) < 0)
		return keel_err_sys(err, "joining time namespace");
	struct keel_cgroup *cg = keel_cgroup_open(NULL, KEEL_CGROUP_AUTO, st->cgroup_path, st->id, err);
	if (!cg)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		keel_cgroup_free(cg);
		return keel_err_sys(err, "socketpair");
	}
	/* born in the container's cgroups where the kernel allows it (cgroup.h) */
	bool prepared = keel_cgroup_join_prepare(cg, &join, &(keel_error_t){ 0 }) == 0;
	*pid = keel_cgroup_clone(prepared ? &join : NULL, 0, &joined);
	if (*pid < 0) {
		close(sv[0]);
		close(sv[1]);
		keel_cgroup_join_close(&join);
		keel_cgroup_free(cg);
		return keel_err_sys(err, "fork");
	}
	if (*pid == 0) {
		close(sv[0]);
		c->sync_fd = sv[1];
		c->cgroup_join = joined ? &join : NULL;
		child_main(c);
	}
	close(sv[1]);
	keel_cgroup_join_close(&join);
	ret = joined ? 0 : keel_cgroup_enter(cg, *pid, err);
	keel_cgroup_free(cg);
	/* The container's OOM score, not the caller's (a shim runs at about -998). */
	if (ret == 0 && c->spec->process->has_oom_score_adj) {
		char path[64], buf[16];
		int n = snprintf(buf, sizeof(buf), "%d", c->spec->process->oom_score_adj);
		snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", *pid);
		if (keel_write_file(path, buf, (size_t)n, 0, err) < 0)
			ret = keel_err_wrap(err, "setting oomScoreAdj");
	}
	if (ret == 0 && keel_sync_send(sv[0], KEEL_SYNC_GO, *pid, NULL) < 0)
		ret = keel_err_sys(err, "sync");
	if (ret == 0)
		ret = wait_exec(sv[0], err);
	close(sv[0]);
	if (ret < 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
	}
	return ret;
}

int keel_container_exec(const struct keel_exec_opts *o, pid_t *pid, keel_error_t *err)
{
	struct keel_state *st = keel_state_load(o->root, o->id, err);
	struct keel_spec *spec = NULL;
	int ns_fds[KEEL_NS_TYPES];
	struct exec_child c = {.o = o, .ns_fds = ns_fds, .console_fd = -1};
	struct keel_seccomp_prog prog = {0};
	int ret = -1;

	for (int t = 0; t < KEEL_NS_TYPES; t++)
		ns_fds[t] = -1;
	if (!st)
		return -1;
	spec = keel_spec_parse(st->config, strlen(st->config), "config.json", err);
	if (!spec || exec_checks(o, st, err) < 0)
		goto out;
	c.spec = spec;
	/* A process.json without capabilities gets the container's, as runc does. */
	if (!o->proc->caps.present)
		o->proc->caps = spec->process->caps;
	keel_process_clamp_rlimits(o->proc);
	if (open_target_ns(st->pid, ns_fds, err) < 0)
		goto out;
	if (o->proc->terminal && (c.console_fd = keel_console_connect(o->console_socket, err)) < 0)
		goto out;
	if (spec->linux.seccomp) {
		if (keel_seccomp_for_config(o->root, st->config, spec->linux.seccomp, &prog, err) < 0)
			goto out;
		c.seccomp = &prog;
	}
	if (spawn(&c, st, pid, err) < 0)
		goto out;
	if (o->pid_file) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%d", *pid);
		if (keel_write_file_atomic(o->pid_file, buf, (size_t)n, 0644, err) < 0) {
			kill(*pid, SIGKILL);
			goto out;
		}
	}
	ret = 0;
out:
	keel_seccomp_prog_free(&prog);
	if (c.console_fd >= 0)
		close(c.console_fd);
	for (int t = 0; t < KEEL_NS_TYPES; t++)
		if (ns_fds[t] >= 0)
			close(ns_fds[t]);
	keel_spec_free(spec);
	keel_state_free(st);
	return ret;
}
