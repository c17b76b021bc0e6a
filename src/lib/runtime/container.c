/* Container operations (the create process's side, and everything after create). */
#include "runtime/container.h"

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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "runtime/console.h"
#include "runtime/hooks.h"
#include "runtime/init.h"
#include "runtime/process.h"
#include "runtime/seccomp.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/trace.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* Everything create holds while it works; released by create_cleanup on any failure. */
struct create_ctx {
	const struct keel_create_opts *o;
	struct keel_spec *spec;
	char *config_text;
	char bundle[PATH_MAX];
	char rootfs[PATH_MAX];
	char state_dir[PATH_MAX];
	bool state_dir_made;
	struct keel_cgroup *cg;
	struct keel_cgroup_join join; /* when the init joins its cgroup itself */
	struct keel_init_args init;
	struct keel_seccomp_prog seccomp;
	int sync_fd;
	pid_t pid;
};

static void now_rfc3339(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%09ldZ", ts.tv_nsec);
}

static int write_pid_file(const char *path, pid_t pid, keel_error_t *err)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d", pid);
	return keel_write_file_atomic(path, buf, (size_t)n, 0644, err);
}

/* Whether the container gets its own namespace of that type: a new one, or a path that is
 * not the runtime's own. */
static bool own_namespace(const struct keel_spec *spec, enum keel_ns_type type)
{
	const struct keel_spec_namespace *ns = keel_spec_namespace(spec, type);
	char self[64];
	struct stat a, b;
	if (!ns)
		return false;
	if (!ns->path)
		return true;
	snprintf(self, sizeof(self), "/proc/self/ns/%s", keel_ns_proc_name(type));
	return stat(ns->path, &a) == 0 && stat(self, &b) == 0 &&
	       (a.st_ino != b.st_ino || a.st_dev != b.st_dev);
}

/* runc's rule: a sysctl is written only where a namespace of the container's own covers it;
 * anything else would change the host. */
static int check_sysctls(const struct keel_spec *spec, keel_error_t *err)
{
	static const char *const ipc_keys[] = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
					       "kernel.sem", "kernel.shmall", "kernel.shmmax",
					       "kernel.shmmni", "kernel.shm_rmid_forced"};
	for (char **kv = spec->linux.sysctl; kv && kv[0] && kv[1]; kv += 2) {
		const char *k = kv[0];
		bool ipc = strncmp(k, "fs.mqueue.", 10) == 0;
		for (size_t i = 0; i < sizeof(ipc_keys) / sizeof(ipc_keys[0]); i++)
			ipc = ipc || strcmp(k, ipc_keys[i]) == 0;
		if (ipc) {
			if (!own_namespace(spec, KEEL_NS_IPC))
				return keel_err(err, 0, "sysctl \"%s\" is not allowed in the host's ipc "
							"namespace", k);
		} else if (strncmp(k, "net.", 4) == 0) {
			if (!own_namespace(spec, KEEL_NS_NET))
				return keel_err(err, 0, "sysctl \"%s\" is not allowed in the host's "
							"network namespace", k);
		} else if (strcmp(k, "kernel.hostname") == 0 || strcmp(k, "kernel.domainname") == 0) {
			if (!own_namespace(spec, KEEL_NS_UTS))
				return keel_err(err, 0, "sysctl \"%s\" is not allowed in the host's uts "
							"namespace", k);
		} else {
			return keel_err(err, 0, "sysctl \"%s\" is not in a separate kernel namespace", k);
		}
	}
	return 0;
}

static int check_unsupported(const struct keel_spec *spec, keel_error_t *err)
{
	if (!spec->process)
		return keel_err(err, EINVAL, "config.json: process: required to create a container");
	if (spec->process->apparmor_profile && *spec->process->apparmor_profile)
		return keel_err(err, ENOTSUP,
				"apparmor profile \"%s\" requested but AppArmor is not supported by keel",
				spec->process->apparmor_profile);
	if (spec->process->selinux_label && *spec->process->selinux_label)
		return keel_err(err, ENOTSUP,
				"selinux label requested but SELinux is not supported by keel");
	if (spec->linux.has_intel_rdt)
		return keel_err(err, ENOTSUP, "linux.intelRdt is not supported by keel");
	if (!keel_spec_namespace(spec, KEEL_NS_MNT))
		return keel_err(err, EINVAL,
				"config.json: linux.namespaces: a mount namespace is required");
	return check_sysctls(spec, err);
}

static int load_bundle(struct create_ctx *c, keel_error_t *err)
{
	const char *b = c->o->bundle ? c->o->bundle : ".";
	char cfg[PATH_MAX + 16];
	struct stat st;

	if (!realpath(b, c->bundle))
		return keel_err_sys(err, "bundle %s", b);
	if (chdir(c->bundle) < 0)
		return keel_err_sys(err, "bundle %s", c->bundle);
	snprintf(cfg, sizeof(cfg), "%s/config.json", c->bundle);
	if (keel_read_file(cfg, &c->config_text, err) < 0)
		return -1;
	c->spec = keel_spec_parse(c->config_text, strlen(c->config_text), "config.json", err);
	if (!c->spec)
		return -1;
	if (check_unsupported(c->spec, err) < 0)
		return -1;
	if (c->spec->root_path[0] == '/')
		snprintf(c->rootfs, sizeof(c->rootfs), "%s", c->spec->root_path);
	else
		snprintf(c->rootfs, sizeof(c->rootfs), "%s/%s", c->bundle, c->spec->root_path);
	if (stat(c->rootfs, &st) < 0 || !S_ISDIR(st.st_mode))
		return keel_err(err, errno ? errno : ENOTDIR, "rootfs (\"%s\")", c->rootfs);
	return 0;
}

/* Socket activation, as runc does it: the caller's LISTEN_FDS fds follow the preserved
 * ones and the process learns about them with LISTEN_FDS and LISTEN_PID=1. */
static int add_listen_env(struct keel_spec_process *p, int n, keel_error_t *err)
{
	size_t len = 0;
	char **env;
	while (p->env[len])
		len++;
	env = realloc(p->env, (len + 3) * sizeof(char *));
	if (!env)
		return keel_err(err, ENOMEM, "environment");
	p->env = env;
	if (asprintf(&env[len], "LISTEN_FDS=%d", n) < 0 || !(env[len + 1] = strdup("LISTEN_PID=1")))
		return keel_err(err, ENOMEM, "environment");
	env[len + 2] = NULL;
	return 0;
}

int keel_seccomp_for_config(const char *root, const char *config_text, const struct keel_spec_seccomp *s,
		    struct keel_seccomp_prog *out, keel_error_t *err)
{
	cleanup_json json_t *cfg = json_loads(config_text, 0, NULL);
	json_t *sec = json_object_get(json_object_get(cfg, "linux"), "seccomp");
	cleanup_free char *key = sec ? json_dumps(sec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	const char *dir = getenv("KEEL_SECCOMP_CACHE");
	(void)root;
	/* Outside the state root: engines expect theirs to be empty once their containers are
	 * deleted. The entries are content-addressed, so every root may share them. */
	return keel_seccomp_compile(s, key, key ? (dir && *dir ? dir : KEEL_SECCOMP_CACHE_DIR) : NULL,
				    out, err);
}

static int make_state_dir(struct create_ctx *c, keel_error_t *err)
{
	const struct keel_create_opts *o = c->o;
	if (keel_state_check_id(o->id, err) < 0)
		return -1;
	if (keel_mkdir_p(o->root, 0700, err) < 0)
		return -1;
	if (keel_state_dir(o->root, o->id, c->state_dir, sizeof(c->state_dir), err) < 0)
		return -1;
	if (mkdir(c->state_dir, 0711) < 0) {
		if (errno == EEXIST)
			return keel_err(err, 0, "container with given ID already exists: %s", o->id);
		return keel_err_sys(err, "creating state directory %s", c->state_dir);
	}
	c->state_dir_made = true;
	return 0;
}

static struct keel_state make_state(struct create_ctx *c, const char *created)
{
	struct keel_state st = {
		.id = (char *)c->o->id,
		.pid = c->pid,
		.start_time = c->pid > 0 ? keel_pid_start_time(c->pid) : 0,
		.bundle = c->bundle,
		.rootfs = c->rootfs,
		.created = (char *)created,
		.cgroup_path = c->cg ? (char *)keel_cgroup_path(c->cg) : "",
		.owner = "",
		.annotations = c->spec->annotations,
		.own_pid_ns = keel_spec_namespace(c->spec, KEEL_NS_PID) &&
			      !keel_spec_namespace(c->spec, KEEL_NS_PID)->path,
		.config = c->config_text,
	};
	return st;
}

/* runc appends these to every container's device rules (libcontainer's AllowedDevices):
 * mknod of anything, the standard character devices, ptys and tun. Engines rely on them:
 * docker's own list lacks /dev/ptmx, so `docker run -t` needs them. */
static const struct keel_spec_device_rule runc_allowed_devices[] = {
	{true, 'c', -1, -1, "m"},  {true, 'b', -1, -1, "m"},    {true, 'c', 1, 3, "rwm"},
	{true, 'c', 1, 8, "rwm"},  {true, 'c', 1, 7, "rwm"},    {true, 'c', 5, 0, "rwm"},
	{true, 'c', 1, 5, "rwm"},  {true, 'c', 1, 9, "rwm"},    {true, 'c', 136, -1, "rwm"},
	{true, 'c', 5, 2, "rwm"},  {true, 'c', 10, 200, "rwm"},
};

static int add_allowed_devices(struct keel_spec *spec, keel_error_t *err)
{
	const size_t extra = sizeof(runc_allowed_devices) / sizeof(runc_allowed_devices[0]);
	struct keel_spec_resources *r = spec->linux.resources;
	struct keel_spec_device_rule *v;
	if (!r) {
		r = spec->linux.resources = calloc(1, sizeof(*r));
		if (!r)
			return keel_err(err, ENOMEM, "resources");
	}
	v = realloc(r->devices, (r->n_devices + extra) * sizeof(*v));
	if (!v)
		return keel_err(err, ENOMEM, "device rules");
	memcpy(v + r->n_devices, runc_allowed_devices, sizeof(runc_allowed_devices));
	r->devices = v;
	r->n_devices += extra;
	return 0;
}

static int setup_cgroup(struct create_ctx *c, keel_error_t *err)
{
	if (keel_cgroup_create(c->cg, err) < 0)
		return -1;
	if (add_allowed_devices(c->spec, err) < 0)
		return -1;
	if (keel_cgroup_apply(c->cg, c->spec->linux.resources, err) < 0)
		return -1;
	return 0;
}

/* Opens the namespaces to join; pid and time are joined here by the create process itself
 * (setns for them only affects children), the rest by the init. Returns the clone flags
 * for the namespaces to create. */
static int prepare_namespaces(struct create_ctx *c, int *flags, bool *new_time,
			      keel_error_t *err)
{
	const struct keel_spec *spec = c->spec;
	*flags = 0;
	*new_time = false;
	for (int t = 0; t < KEEL_NS_TYPES; t++)
		c->init.ns_fds[t] = -1;
	for (size_t i = 0; i < spec->linux.n_namespaces; i++) {
		const struct keel_spec_namespace *ns = &spec->linux.namespaces[i];
		int fd;
		if (!ns->path) {
			if (ns->type == KEEL_NS_TIME)
				*new_time = true;
			else if (ns->type != KEEL_NS_CGROUP) /* unshared after the cgroup join */
				*flags |= keel_ns_clone_flag(ns->type);
			continue;
		}
		fd = open(ns->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return keel_err_sys(err, "%s namespace path %s", keel_ns_name(ns->type),
					    ns->path);
		if (ns->type == KEEL_NS_PID || ns->type == KEEL_NS_TIME) {
			int r = setns(fd, keel_ns_clone_flag(ns->type));
			close(fd);
			if (r < 0)
				return keel_err_sys(err, "joining %s namespace %s",
						    keel_ns_name(ns->type), ns->path);
			continue;
		}
		c->init.ns_fds[ns->type] = fd;
	}
	c->init.new_userns = (*flags & CLONE_NEWUSER) != 0;
	return 0;
}

static int setup_time_ns(const struct keel_spec *spec, keel_error_t *err)
{
	char buf[128];
	int n;
	if (unshare(CLONE_NEWTIME) < 0)
		return keel_err_sys(err, "creating time namespace");
	if (!spec->linux.has_time_offsets)
		return 0;
	n = snprintf(buf, sizeof(buf), "monotonic %lld %u\nboottime %lld %u\n",
		     (long long)spec->linux.monotonic_secs, spec->linux.monotonic_nanosecs,
		     (long long)spec->linux.boottime_secs, spec->linux.boottime_nanosecs);
	return keel_write_file("/proc/self/timens_offsets", buf, (size_t)n, 0, err);
}

static int write_id_map(pid_t pid, const char *file, const struct keel_spec_idmap *m, size_t n,
			keel_error_t *err)
{
	char path[64], buf[4096];
	size_t len = 0;
	for (size_t i = 0; i < n && len < sizeof(buf) - 40; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%u %u %u\n", m[i].container_id,
					m[i].host_id, m[i].size);
	snprintf(path, sizeof(path), "/proc/%d/%s", pid, file);
	if (len && keel_write_file(path, buf, len, 0, err) < 0)
		return keel_err_wrap(err, "writing %s", file);
	return 0;
}

static int run_hooks(const struct keel_spec *spec, enum keel_hook_kind kind, const char *id,
		     const char *bundle, const char *status, pid_t pid, keel_error_t *err)
{
	cleanup_free char *state = NULL;
	if (spec->hooks.n[kind] == 0)
		return 0;
	state = keel_hook_state(spec, id, bundle, status, pid);
	if (!state)
		return keel_err(err, ENOMEM, "hook state");
	return keel_hooks_run(spec->hooks.list[kind], spec->hooks.n[kind], keel_hook_kind_name(kind),
			      state, err);
}

/* The create process's half of the sync protocol, after clone. */
static int drive_init(struct create_ctx *c, keel_error_t *err)
{
	const struct keel_spec *spec = c->spec;
	struct keel_sync_msg m;

	if (c->init.new_userns) {
		if (write_id_map(c->pid, "uid_map", spec->linux.uid_mappings,
				 spec->linux.n_uid_mappings, err) < 0 ||
		    write_id_map(c->pid, "gid_map", spec->linux.gid_mappings,
				 spec->linux.n_gid_mappings, err) < 0)
			return -1;
	}
	if (keel_sync_send(c->sync_fd, KEEL_SYNC_GO, c->pid, NULL) < 0)
		return keel_err_sys(err, "sync");
	/* The init mounts its rootfs meanwhile. */
	if (!c->init.cgroup_join && keel_cgroup_enter(c->cg, c->pid, err) < 0)
		return -1;
	keel_trace("runtime: init in cgroup");
	if (spec->process->has_oom_score_adj) {
		char path[64], buf[16];
		int n = snprintf(buf, sizeof(buf), "%d", spec->process->oom_score_adj);
		snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", c->pid);
		if (keel_write_file(path, buf, (size_t)n, 0, err) < 0)
			return keel_err_wrap(err, "setting oomScoreAdj");
	}
	if (keel_sync_send(c->sync_fd, KEEL_SYNC_CGROUP_DONE, 0, NULL) < 0)
		return keel_err_sys(err, "sync");
	for (;;) {
		if (keel_sync_recv(c->sync_fd, &m, err) < 0)
			return -1;
		switch (m.type) {
		case KEEL_SYNC_HOOKS:
			if (run_hooks(spec, KEEL_HOOK_PRESTART, c->o->id, c->bundle, "created",
				      c->pid, err) < 0 ||
			    run_hooks(spec, KEEL_HOOK_CREATE_RUNTIME, c->o->id, c->bundle,
				      "created", c->pid, err) < 0)
				return -1;
			if (keel_sync_send(c->sync_fd, KEEL_SYNC_HOOKS_DONE, 0, NULL) < 0)
				return keel_err_sys(err, "sync");
			break;
		case KEEL_SYNC_READY:
			return 0;
		case KEEL_SYNC_ERROR:
			*err = m.err;
			return -1;
		default:
			return keel_err(err, EPROTO, "sync: unexpected message %d", m.type);
		}
	}
}

/* setns(pid|time) and unshare(time) change the namespaces of the create process's later
 * children too — the hooks among them. They must run in the runtime's own: go back after
 * the clone. */
static int restore_own_ns(int pid_fd, int time_fd, keel_error_t *err)
{
	if (pid_fd >= 0 && setns(pid_fd, CLONE_NEWPID) < 0)
		return keel_err_sys(err, "returning to the runtime's pid namespace");
	if (time_fd >= 0 && setns(time_fd, CLONE_NEWTIME) < 0)
		return keel_err_sys(err, "returning to the runtime's time namespace");
	return 0;
}

/* A clone without a new stack behaves like fork and can create every namespace at once,
 * the pid one included. Where it can, the init is born in the container's cgroup2 and joins
 * the v1 hierarchies itself (cgroup.h: no RCU grace period); else the create process moves
 * it (drive_init). */
static pid_t clone_init(struct create_ctx *c, int flags)
{
	bool joined;
	bool prepared = keel_cgroup_join_prepare(c->cg, &c->join, &(keel_error_t){ 0 }) == 0;
	pid_t pid = keel_cgroup_clone(prepared ? &c->join : NULL, (unsigned long)flags, &joined);
	c->init.cgroup_join = joined ? &c->join : NULL;
	return pid;
}

static int spawn_init(struct create_ctx *c, keel_error_t *err)
{
	int sv[2], flags;
	bool new_time;
	char fifo[PATH_MAX];
	const struct keel_spec_namespace *pid_ns = keel_spec_namespace(c->spec, KEEL_NS_PID);
	const struct keel_spec_namespace *time_ns = keel_spec_namespace(c->spec, KEEL_NS_TIME);
	/* Only what prepare_namespaces will change: joined pid, joined or new time. */
	cleanup_close int own_pid = pid_ns && pid_ns->path
		? open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC) : -1;
	cleanup_close int own_time = time_ns
		? open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC) : -1;

	if (prepare_namespaces(c, &flags, &new_time, err) < 0)
		return -1;
	if (new_time && setup_time_ns(c->spec, err) < 0)
		return -1;
	if (keel_state_fifo(c->o->root, c->o->id, fifo, sizeof(fifo), err) < 0)
		return -1;
	if (mkfifo(fifo, 0622) < 0)
		return keel_err_sys(err, "creating exec fifo");
	c->init.fifo_fd = open(fifo, O_RDWR | O_CLOEXEC);
	if (c->init.fifo_fd < 0)
		return keel_err_sys(err, "opening exec fifo");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return keel_err_sys(err, "socketpair");
	c->init.sync_fd = sv[1];
	c->sync_fd = sv[0];
	c->pid = clone_init(c, flags);
	if (c->pid < 0) {
		close(sv[1]);
		return keel_err_sys(err, "clone");
	}
	if (c->pid == 0) {
		close(sv[0]);
		keel_init_main(&c->init);
	}
	close(sv[1]);
	close(c->init.fifo_fd);
	c->init.fifo_fd = -1;
	keel_cgroup_join_close(&c->join);
	if (restore_own_ns(own_pid, own_time, err) < 0)
		return -1;
	return drive_init(c, err);
}

static void create_cleanup(struct create_ctx *c)
{
	keel_error_t ignored;
	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
	if (c->sync_fd >= 0)
		close(c->sync_fd);
	if (c->init.console_fd >= 0)
		close(c->init.console_fd);
	for (int t = 0; t < KEEL_NS_TYPES; t++)
		if (c->init.ns_fds[t] >= 0)
			close(c->init.ns_fds[t]);
	keel_seccomp_prog_free(&c->seccomp);
	keel_cgroup_join_close(&c->join);
	if (c->cg) {
		keel_cgroup_destroy(c->cg, &ignored);
		keel_cgroup_free(c->cg);
	}
	if (c->state_dir_made)
		keel_rm_rf(c->state_dir, &ignored);
	keel_spec_free(c->spec);
	free(c->config_text);
}

int keel_container_create(const struct keel_create_opts *o, pid_t *pid, keel_error_t *err)
{
	struct create_ctx c = {.o = o, .sync_fd = -1};
	char created[64];
	struct keel_state st;

	c.init.console_fd = -1;
	c.init.fifo_fd = -1;
	c.join.v2_fd = -1;
	for (int t = 0; t < KEEL_NS_TYPES; t++)
		c.init.ns_fds[t] = -1;
	now_rfc3339(created, sizeof(created));
	keel_trace("runtime: create");

	if (load_bundle(&c, err) < 0 || make_state_dir(&c, err) < 0)
		goto fail;
	if (c.spec->process->terminal) {
		if (!o->console_socket)
			keel_err(err, EINVAL, "cannot allocate tty if keel will detach without "
					      "setting console socket");
		if (!o->console_socket ||
		    (c.init.console_fd = keel_console_connect(o->console_socket, err)) < 0)
			goto fail;
	}
	/* Record the cgroup before it or any process exists: a create killed from here on
	 * leaves a state that `delete --force` can clean. */
	c.cg = keel_cgroup_open(NULL, KEEL_CGROUP_AUTO, c.spec->linux.cgroups_path, o->id, err);
	if (!c.cg)
		goto fail;
	st = make_state(&c, created);
	if (keel_state_save(o->root, &st, err) < 0 || setup_cgroup(&c, err) < 0)
		goto fail;
	keel_trace("runtime: cgroup made");
	if (c.spec->linux.seccomp) {
		if (keel_seccomp_for_config(o->root, c.config_text, c.spec->linux.seccomp, &c.seccomp, err) < 0)
			goto fail;
		c.init.seccomp = &c.seccomp;
	}
	c.init.spec = c.spec;
	c.init.id = o->id;
	c.init.bundle = c.bundle;
	c.init.rootfs = c.rootfs;
	c.init.cgroup_path = keel_cgroup_path(c.cg);
	keel_process_clamp_rlimits(c.spec->process);
	c.init.preserve_fds = o->preserve_fds + o->listen_fds;
	if (o->listen_fds > 0 && add_listen_env(c.spec->process, o->listen_fds, err) < 0)
		goto fail;
	c.init.no_new_keyring = o->no_new_keyring;
	keel_trace("runtime: clone init");
	if (spawn_init(&c, err) < 0)
		goto fail;
	keel_trace("runtime: init ready");
	st = make_state(&c, created);
	if (keel_state_save(o->root, &st, err) < 0)
		goto fail;
	if (o->pid_file && write_pid_file(o->pid_file, c.pid, err) < 0)
		goto fail;
	*pid = c.pid;
	c.pid = -1; /* from here the init is the container's, not ours to kill */
	c.state_dir_made = false;
	keel_cgroup_free(c.cg);
	c.cg = NULL;
	create_cleanup(&c);
	return 0;
fail:
	create_cleanup(&c);
	return -1;
}

/* ---------- after create ---------- */

static struct keel_cgroup *open_cgroup(const struct keel_state *st, keel_error_t *err)
{
	return keel_cgroup_open(NULL, KEEL_CGROUP_AUTO, st->cgroup_path, st->id, err);
}

struct keel_spec *keel_container_spec(const char *root, const char *id, keel_error_t *err)
{
	struct keel_state *st = keel_state_load(root, id, err);
	struct keel_spec *spec;
	if (!st)
		return NULL;
	spec = keel_spec_parse(st->config, strlen(st->config), "config.json", err);
	keel_state_free(st);
	return spec;
}

int keel_container_start(const char *root, const char *id, keel_error_t *err)
{
	keel_trace("runtime: start");
	struct keel_state *st = keel_state_load(root, id, err);
	struct keel_spec *spec = NULL;
	char fifo[PATH_MAX];
	enum keel_status s;
	cleanup_close int fd = -1;
	int ret = -1;

	if (!st)
		return -1;
	s = keel_state_status(root, st);
	if (s == KEEL_STATUS_STOPPED) {
		keel_err(err, 0, "cannot start a container that has stopped");
		goto out;
	}
	if (s != KEEL_STATUS_CREATED) {
		keel_err(err, 0, "cannot start an already running container");
		goto out;
	}
	if (keel_state_fifo(root, id, fifo, sizeof(fifo), err) < 0)
		goto out;
	/* Non-blocking: the init holds the fifo open for reading, so this only fails (ENXIO)
	 * when the init is gone. */
	fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		keel_err(err, 0, "cannot start a container that has stopped");
		goto out;
	}
	if (unlink(fifo) < 0 && errno != ENOENT) {
		keel_err_sys(err, "removing exec fifo");
		goto out;
	}
	if (write(fd, "0", 1) != 1) {
		keel_err_sys(err, "starting container");
		goto out;
	}
	spec = keel_spec_parse(st->config, strlen(st->config), "config.json", err);
	if (!spec)
		goto out;
	if (run_hooks(spec, KEEL_HOOK_POSTSTART, id, st->bundle, "running", st->pid, err) < 0)
		goto out;
	ret = 0;
out:
	keel_spec_free(spec);
	keel_state_free(st);
	return ret;
}

int keel_container_kill(const char *root, const char *id, int sig, bool all, keel_error_t *err)
{
	struct keel_state *st = keel_state_load(root, id, err);
	int ret = 0;
	if (!st)
		return -1;
	if (all) {
		/* After the init died every remaining process still gets the signal; a stopped
		 * container with nothing left is success (the shim relies on it). */
		keel_error_t ignored;
		struct keel_cgroup *cg = open_cgroup(st, err);
		if (cg && keel_cgroup_kill_all(cg, sig, &ignored) < 0 &&
		    keel_state_status(root, st) != KEEL_STATUS_STOPPED)
			ret = keel_err(err, ignored.errnum, "%s", ignored.msg);
		keel_cgroup_free(cg);
		if (!cg)
			ret = -1;
	} else if (keel_state_status(root, st) == KEEL_STATUS_STOPPED) {
		ret = keel_err(err, 0, "container not running");
	} else if (kill(st->pid, sig) < 0) {
		ret = keel_err_sys(err, "kill");
	}
	keel_state_free(st);
	return ret;
}

/* The init is not our child (create exited), so poll until it is gone or a zombie. */
static void wait_gone(pid_t pid, unsigned long long start, int ms)
{
	for (int i = 0; i < ms && keel_pid_alive(pid, start); i++) {
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

static int destroy(const char *root, struct keel_state *st, keel_error_t *err)
{
	char dir[PATH_MAX];
	keel_error_t herr;
	struct keel_cgroup *cg = open_cgroup(st, err);
	struct keel_spec *spec;

	if (cg) {
		keel_error_t ignored;
		/* Without its own pid namespace the container's other processes outlive the
		 * init: kill them too. With one, the kernel already did, and whatever else is in a
		 * cgroup the container only joined is not ours to kill. */
		if (!st->own_pid_ns)
			keel_cgroup_kill_all(cg, SIGKILL, &ignored);
		if (keel_cgroup_destroy(cg, err) < 0) {
			keel_cgroup_free(cg);
			return -1;
		}
		keel_cgroup_free(cg);
	}
	spec = keel_spec_parse(st->config, strlen(st->config), "config.json", &herr);
	if (spec && run_hooks(spec, KEEL_HOOK_POSTSTOP, st->id, st->bundle, "stopped", 0, &herr) < 0)
		keel_log(KEEL_LOG_WARN, "%s", herr.msg);
	keel_spec_free(spec);
	if (keel_state_dir(root, st->id, dir, sizeof(dir), err) < 0)
		return -1;
	return keel_rm_rf(dir, err);
}

int keel_container_delete(const char *root, const char *id, bool force, keel_error_t *err)
{
	keel_trace("runtime: delete");
	struct keel_state *st = keel_state_load(root, id, err);
	enum keel_status s;
	int ret;

	if (!st) {
		char dir[PATH_MAX];
		if (!force)
			return -1;
		/* A create killed before its state was written leaves only a directory. */
		if (err && err->errnum == ENOENT && keel_state_check_id(id, NULL) == 0 &&
		    keel_state_dir(root, id, dir, sizeof(dir), NULL) == 0)
			keel_rm_rf(dir, NULL);
		keel_err_clear(err);
		return 0;
	}
	s = keel_state_status(root, st);
	if (s == KEEL_STATUS_RUNNING || s == KEEL_STATUS_PAUSED) {
		if (!force) {
			ret = keel_err(err, 0, "cannot delete container %s that is not stopped: %s",
				       id, keel_status_name(s));
			keel_state_free(st);
			return ret;
		}
	}
	if (s != KEEL_STATUS_STOPPED) {
		kill(st->pid, SIGKILL);
		if (s == KEEL_STATUS_PAUSED) {
			keel_error_t ignored;
			struct keel_cgroup *cg = open_cgroup(st, &ignored);
			if (cg)
				keel_cgroup_freeze(cg, false, &ignored);
			keel_cgroup_free(cg);
		}
		wait_gone(st->pid, st->start_time, 5000);
	}
	ret = destroy(root, st, err);
	keel_state_free(st);
	return ret;
}

json_t *keel_container_state(const char *root, const char *id, keel_error_t *err)
{
	struct keel_state *st = keel_state_load(root, id, err);
	json_t *j;
	if (!st)
		return NULL;
	j = keel_state_to_json(root, st, false);
	keel_state_free(st);
	return j;
}

json_t *keel_container_list(const char *root, keel_error_t *err)
{
	cleanup_dir DIR *d = opendir(root);
	json_t *arr = json_array();
	struct dirent *de;

	if (!arr)
		return NULL;
	if (!d)
		return arr; /* no root yet: no containers */
	while ((de = readdir(d))) {
		struct keel_state *st;
		if (de->d_name[0] == '.')
			continue;
		st = keel_state_load(root, de->d_name, NULL);
		if (!st)
			continue;
		json_array_append_new(arr, keel_state_to_json(root, st, true));
		keel_state_free(st);
	}
	return arr;
}

static int set_frozen(const char *root, const char *id, bool frozen, keel_error_t *err)
{
	struct keel_state *st = keel_state_load(root, id, err);
	struct keel_cgroup *cg;
	enum keel_status s;
	int ret;
	if (!st)
		return -1;
	s = keel_state_status(root, st);
	if (frozen && s != KEEL_STATUS_RUNNING && s != KEEL_STATUS_CREATED) {
		keel_state_free(st);
		return keel_err(err, 0, "container not running");
	}
	if (!frozen && s != KEEL_STATUS_PAUSED) {
		keel_state_free(st);
		return keel_err(err, 0, "container not paused");
	}
	cg = open_cgroup(st, err);
	ret = cg ? keel_cgroup_freeze(cg, frozen, err) : -1;
	keel_cgroup_free(cg);
	keel_state_free(st);
	return ret;
}

int keel_container_pause(const char *root, const char *id, keel_error_t *err)
{
	return set_frozen(root, id, true, err);
}

int keel_container_resume(const char *root, const char *id, keel_error_t *err)
{
	return set_frozen(root, id, false, err);
}

int keel_container_pids(const char *root, const char *id, pid_t **pids, size_t *n,
			keel_error_t *err)
{
	struct keel_state *st = keel_state_load(root, id, err);
	struct keel_cgroup *cg;
	int ret;
	if (!st)
		return -1;
	cg = open_cgroup(st, err);
	ret = cg ? keel_cgroup_pids(cg, pids, n, err) : -1;
	keel_cgroup_free(cg);
	keel_state_free(st);
	return ret;
}

int keel_container_update(const char *root, const char *id, const struct keel_spec_resources *r,
			  keel_error_t *err)
{
	struct keel_state *st = keel_state_load(root, id, err);
	struct keel_cgroup *cg;
	int ret;
	if (!st)
		return -1;
	if (keel_state_status(root, st) == KEEL_STATUS_STOPPED) {
		keel_state_free(st);
		return keel_err(err, 0, "container not running");
	}
	cg = open_cgroup(st, err);
	ret = cg ? keel_cgroup_apply(cg, r, err) : -1;
	keel_cgroup_free(cg);
	keel_state_free(st);
	return ret;
}

json_t *keel_container_stats(const char *root, const char *id, keel_error_t *err)
{
	struct keel_state *st = keel_state_load(root, id, err);
	struct keel_cgroup *cg;
	json_t *data, *ev = NULL;
	if (!st)
		return NULL;
	if (keel_state_status(root, st) == KEEL_STATUS_STOPPED) {
		keel_err(err, 0, "container not running");
		keel_state_free(st);
		return NULL;
	}
	cg = open_cgroup(st, err);
	data = cg ? keel_cgroup_stats(cg, err) : NULL;
	if (data) {
		json_object_set_new(data, "intel_rdt", json_object());
		json_object_set_new(data, "network_interfaces", json_null());
		ev = json_pack("{s:s,s:s,s:o}", "type", "stats", "id", id, "data", data);
	}
	keel_cgroup_free(cg);
	keel_state_free(st);
	return ev;
}

int keel_wait_status(pid_t pid)
{
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 255;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return 255;
}
