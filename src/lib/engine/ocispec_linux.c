/* config.json: mounts and the "linux" object (namespaces, resources, devices, sysctls,
 * seccomp, masked and read-only paths) as dockerd 20.10 writes them. */
#include "engine/ocispec_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "runtime/spec.h"
#include "util/cleanup.h"

/* ---------- mounts ---------- */

static json_t *mount_json(const char *dst, const char *type, const char *src, json_t *opts)
{
	return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", type, "source", src,
			 "options", opts);
}

static bool user_mounts_over(const struct keel_run_opts *o, const char *dst)
{
	for (size_t k = 0; k < o->n_mounts; k++)
		if (strcmp(o->mounts[k].target, dst) == 0)
			return true;
	return false;
}

static int default_mounts(json_t *a, const struct keel_run_opts *o)
{
	const char *sys_rw = o->privileged ? "rw" : "ro";
	char shm[64];
	struct {
		const char *dst;
		json_t *m;
	} d[7];
	int r = 0;

	snprintf(shm, sizeof(shm), "size=%lld",
		 (long long)(o->shm_size ? o->shm_size : 64LL * 1024 * 1024));
	d[0].dst = "/proc";
	d[0].m = mount_json("/proc", "proc", "proc", json_pack("[s,s,s]", "nosuid", "noexec", "nodev"));
	d[1].dst = "/dev";
	d[1].m = mount_json("/dev", "tmpfs", "tmpfs",
			    json_pack("[s,s,s,s]", "nosuid", "strictatime", "mode=755", "size=65536k"));
	d[2].dst = "/dev/pts";
	d[2].m = mount_json("/dev/pts", "devpts", "devpts",
			    json_pack("[s,s,s,s,s,s]", "nosuid", "noexec", "newinstance",
				      "ptmxmode=0666", "mode=0620", "gid=5"));
	d[3].dst = "/sys";
	d[3].m = mount_json("/sys", "sysfs", "sysfs",
			    json_pack("[s,s,s,s]", "nosuid", "noexec", "nodev", sys_rw));
	d[4].dst = "/sys/fs/cgroup";
	d[4].m = mount_json("/sys/fs/cgroup", "cgroup", "cgroup",
			    json_pack("[s,s,s,s]", sys_rw, "nosuid", "noexec", "nodev"));
	d[5].dst = "/dev/mqueue";
	d[5].m = mount_json("/dev/mqueue", "mqueue", "mqueue",
			    json_pack("[s,s,s]", "nosuid", "noexec", "nodev"));
	d[6].dst = "/dev/shm";
	d[6].m = mount_json("/dev/shm", "tmpfs", "shm",
			    json_pack("[s,s,s,s,s]", "nosuid", "noexec", "nodev", "mode=1777", shm));
	for (size_t k = 0; k < 7; k++) {
		if (!d[k].m)
			r = -1;
		else if (r == 0 && !user_mounts_over(o, d[k].dst))
			r = json_array_append(a, d[k].m);
		json_decref(d[k].m);
	}
	return r;
}

static const char *kind_flag_key(const char *opt)
{
	/* Options that switch one flag: a later one replaces an earlier one of the same key. */
	static const char *const pairs[][2] = { { "exec", "noexec" }, { "suid", "nosuid" },
						{ "dev", "nodev" },   { "ro", "rw" },
						{ "atime", "noatime" } };

	for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++)
		if (strcmp(opt, pairs[k][0]) == 0 || strcmp(opt, pairs[k][1]) == 0)
			return pairs[k][0];
	return NULL;
}

static bool same_key(const char *a, const char *b)
{
	const char *ka = kind_flag_key(a), *kb = kind_flag_key(b);
	size_t la = strcspn(a, "="), lb = strcspn(b, "=");

	if (ka || kb)
		return ka == kb;
	return la == lb && strncmp(a, b, la) == 0;
}

/* dockerd's tmpfs options: "noexec,nosuid,nodev,rprivate" then the user's, where a later
 * option of the same kind (noexec/exec, size=...) wins and takes the later position
 * (MergeTmpfsOptions). */
static json_t *tmpfs_options(const struct keel_mount_opt *m)
{
	const char *all[64] = { "noexec", "nosuid", "nodev", "rprivate" };
	size_t n = 4;
	json_t *a = json_array();

	for (size_t k = 0; m->options && m->options[k] && n < 64; k++)
		all[n++] = m->options[k];
	if (m->readonly && n < 64)
		all[n++] = "ro";
	for (size_t k = 0; a && k < n; k++) {
		bool later = false;

		for (size_t j = k + 1; j < n && !later; j++)
			later = same_key(all[k], all[j]);
		if (!later)
			json_array_append_new(a, json_string(all[k]));
	}
	return a;
}

static json_t *bind_options(const struct keel_mount_opt *m)
{
	bool nonrec = false;

	for (size_t k = 0; m->options && m->options[k]; k++)
		nonrec |= strcmp(m->options[k], "bind-nonrecursive") == 0;
	json_t *a = json_pack("[s]", nonrec ? "bind" : "rbind");
	if (a && m->readonly)
		json_array_append_new(a, json_string("ro"));
	if (a)
		json_array_append_new(a, json_string(m->propagation ? m->propagation : "rprivate"));
	return a;
}

static size_t depth(const char *p)
{
	size_t d = 0;

	for (; *p; p++)
		d += *p == '/';
	return d;
}

static int user_mounts(json_t *a, const struct keel_run_opts *o, keel_error_t *err)
{
	size_t maxd = 0;

	for (size_t k = 0; k < o->n_mounts; k++) {
		const struct keel_mount_opt *m = &o->mounts[k];

		if (m->kind == KEEL_MOUNT_VOLUME)
			return keel_msg(err, ENOTSUP,
					"volumes are not available yet (mount on %s): use a bind "
					"mount (-v /host/path:%s)",
					m->target, m->target);
		if (depth(m->target) > maxd)
			maxd = depth(m->target);
	}
	/* Binds by depth (a parent before what is mounted inside it), stable; then tmpfs. */
	for (size_t d = 0; d <= maxd; d++)
		for (size_t k = 0; k < o->n_mounts; k++)
			if (o->mounts[k].kind == KEEL_MOUNT_BIND && depth(o->mounts[k].target) == d &&
			    keel_json_push(a, mount_json(o->mounts[k].target, "bind",
							 o->mounts[k].source,
							 bind_options(&o->mounts[k]))) < 0)
				return keel_msg(err, ENOMEM, "out of memory");
	for (size_t k = 0; k < o->n_mounts; k++)
		if (o->mounts[k].kind == KEEL_MOUNT_TMPFS &&
		    keel_json_push(a, mount_json(o->mounts[k].target, "tmpfs", "tmpfs",
						 tmpfs_options(&o->mounts[k]))) < 0)
			return keel_msg(err, ENOMEM, "out of memory");
	return 0;
}

json_t *keel_ocispec_mounts(const struct keel_run_opts *o, const char *init_bin,
			    keel_error_t *err)
{
	cleanup_json json_t *a = json_array();

	if (!a || default_mounts(a, o) < 0)
		return keel_msg(err, ENOMEM, "out of memory"), NULL;
	if (init_bin && keel_json_push(a, mount_json("/sbin/docker-init", "bind", init_bin,
						     json_pack("[s,s]", "bind", "ro"))) < 0)
		return keel_msg(err, ENOMEM, "out of memory"), NULL;
	if (user_mounts(a, o, err) < 0)
		return NULL;
	return steal_pointer(&a);
}

/* ---------- devices ---------- */

static json_t *device_rule(bool allow, const char *type, long long major, long long minor,
			   const char *access)
{
	json_t *r = json_pack("{s:b}", "allow", allow);

	if (r && type)
		json_object_set_new(r, "type", json_string(type));
	if (r && major >= 0)
		json_object_set_new(r, "major", json_integer(major));
	if (r && minor >= 0)
		json_object_set_new(r, "minor", json_integer(minor));
	if (r)
		json_object_set_new(r, "access", json_string(access));
	return r;
}

/* Deny everything, then the list dockerd 20.10 writes: zero null urandom random tty
 * console (c 1:5 1:3 1:9 1:8 5:0 5:1), and /dev/fuse (c 10:229) denied once more. The pty
 * devices come from the container's own devpts instance. */
static int default_device_rules(json_t *a)
{
	static const int allow[][2] = { { 1, 5 }, { 1, 3 }, { 1, 9 }, { 1, 8 }, { 5, 0 }, { 5, 1 } };
	int r = keel_json_push(a, device_rule(false, NULL, -1, -1, "rwm"));

	for (size_t k = 0; r == 0 && k < sizeof(allow) / sizeof(allow[0]); k++)
		r = keel_json_push(a, device_rule(true, "c", allow[k][0], allow[k][1], "rwm"));
	if (r == 0)
		r = keel_json_push(a, device_rule(false, "c", 10, 229, "rwm"));
	return r;
}

static json_t *device_json(const char *path, const struct stat *st)
{
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:i, s:i}", "path", path, "type",
			 S_ISBLK(st->st_mode) ? "b" : "c", "major", (json_int_t)major(st->st_rdev),
			 "minor", (json_int_t)minor(st->st_rdev), "fileMode",
			 (json_int_t)(st->st_mode & 07777), "uid", 0, "gid", 0);
}

/* --privileged: every device node of the host's /dev, as runc's HostDevices() finds them
 * (skipping the directories the container gets its own instance of). */
static int host_devices(json_t *devs, const char *dir, int depth_left)
{
	static const char *const skip[] = { "pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts",
					    ".udev" };
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[4096];
		struct stat st;
		bool skipped = e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, ".."));

		for (size_t k = 0; k < sizeof(skip) / sizeof(skip[0]); k++)
			skipped |= strcmp(e->d_name, skip[k]) == 0;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (skipped || strcmp(path, "/dev/console") == 0 || lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth_left > 0)
			host_devices(devs, path, depth_left - 1);
		else if ((S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) &&
			 keel_json_push(devs, device_json(path, &st)) < 0)
			return -1;
	}
	return 0;
}

static int user_devices(json_t *devs, json_t *rules, const struct keel_run_opts *o,
			keel_error_t *err)
{
	for (size_t k = 0; k < o->n_devices; k++) {
		const struct keel_device_opt *d = &o->devices[k];
		struct stat st;

		if (stat(d->host, &st) < 0)
			return keel_err_sys(err,
					    "error gathering device information while adding custom "
					    "device \"%s\"",
					    d->host);
		if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
			return keel_msg(err, EINVAL,
					"error gathering device information while adding custom "
					"device \"%s\": not a device node",
					d->host);
		if (keel_json_push(devs, device_json(d->container, &st)) < 0 ||
		    keel_json_push(rules, device_rule(true, S_ISBLK(st.st_mode) ? "b" : "c",
						      major(st.st_rdev), minor(st.st_rdev),
						      d->perms)) < 0)
			return keel_msg(err, ENOMEM, "out of memory");
	}
	return 0;
}

/* ---------- resources ---------- */

static json_t *resources_json(const struct keel_run_opts *o, json_t *rules)
{
	json_t *mem = json_pack("{s:b}", "disableOOMKiller", false);
	json_t *cpu = json_pack("{s:I}", "shares", (json_int_t)o->cpu_shares);
	int64_t swap = o->memory_swap;

	if (mem && o->memory) {
		/* dockerd: a memory limit without --memory-swap allows as much swap again. */
		if (!swap)
			swap = o->memory * 2;
		json_object_set_new(mem, "limit", json_integer(o->memory));
	}
	if (mem && o->memory_reservation)
		json_object_set_new(mem, "reservation", json_integer(o->memory_reservation));
	if (mem && swap)
		json_object_set_new(mem, "swap", json_integer(swap));
	if (cpu && o->nano_cpus) {
		json_object_set_new(cpu, "quota", json_integer(o->nano_cpus * 100000 / 1000000000));
		json_object_set_new(cpu, "period", json_integer(100000));
	}
	if (cpu && o->cpu_quota)
		json_object_set_new(cpu, "quota", json_integer(o->cpu_quota));
	if (cpu && o->cpu_period)
		json_object_set_new(cpu, "period", json_integer(o->cpu_period));
	if (cpu && o->cpuset_cpus)
		json_object_set_new(cpu, "cpus", json_string(o->cpuset_cpus));
	if (cpu && o->cpuset_mems)
		json_object_set_new(cpu, "mems", json_string(o->cpuset_mems));
	json_t *r = json_pack("{s:o, s:o, s:o, s:{s:i}}", "devices", json_incref(rules), "memory",
			      mem, "cpu", cpu, "blockIO", "weight", 0);
	if (r && o->has_pids_limit)
		json_object_set_new(r, "pids", json_pack("{s:I}", "limit",
							 (json_int_t)(o->pids_limit > 0 ? o->pids_limit : -1)));
	return r;
}

/* ---------- the linux object ---------- */

static json_t *namespaces_json(const struct keel_run_opts *o)
{
	static const char *const types[] = { "mount", "network", "uts", "pid", "ipc" };
	json_t *a = json_array();

	for (size_t k = 0; a && k < sizeof(types) / sizeof(types[0]); k++)
		if ((k != 1 || o->network != KEEL_NETWORK_HOST) &&
		    keel_json_push(a, json_pack("{s:s}", "type", types[k])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *sysctl_json(const struct keel_run_opts *o)
{
	json_t *s = json_object();

	/* In a network namespace of its own, a container may bind low ports and ping without
	 * privileges (dockerd 20.10); never in the host's. */
	if (s && o->network != KEEL_NETWORK_HOST) {
		json_object_set_new(s, "net.ipv4.ip_unprivileged_port_start", json_string("0"));
		json_object_set_new(s, "net.ipv4.ping_group_range", json_string("0 2147483647"));
	}
	for (size_t k = 0; s && o->sysctls && o->sysctls[k]; k++) {
		const char *eq = strchr(o->sysctls[k], '=');
		char key[256];

		snprintf(key, sizeof(key), "%.*s", (int)(eq - o->sysctls[k]), o->sysctls[k]);
		json_object_set_new(s, key, json_string(eq + 1));
	}
	return s;
}

static int add_paths(json_t *l, const struct keel_run_opts *o)
{
	if (o->privileged || o->systempaths_unconfined)
		return 0;
	return keel_json_set(l, "maskedPaths",
			     json_pack("[s,s,s,s,s,s,s,s,s,s]", "/proc/asound", "/proc/acpi",
				       "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				       "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
				       "/proc/scsi", "/sys/firmware")) < 0 ||
			       keel_json_set(l, "readonlyPaths",
					     json_pack("[s,s,s,s,s]", "/proc/bus", "/proc/fs",
						       "/proc/irq", "/proc/sys",
						       "/proc/sysrq-trigger")) < 0
		       ? -1
		       : 0;
}

static int add_seccomp(json_t *l, const struct keel_run_opts *o, uint64_t caps,
		       keel_error_t *err)
{
	json_t *s;

	if (o->privileged || o->seccomp_unconfined)
		return 0;
	s = o->seccomp_profile ? keel_seccomp_from_docker(o->seccomp_profile, caps, err)
			       : keel_seccomp_default(caps, err);
	if (!s)
		return -1;
	return keel_json_set(l, "seccomp", s) < 0 ? keel_msg(err, ENOMEM, "out of memory") : 0;
}

json_t *keel_ocispec_linux(const struct keel_run_opts *o, const char *id, uint64_t caps,
			   keel_error_t *err)
{
	cleanup_json json_t *l = json_object(), *rules = json_array(), *devs = json_array();
	cleanup_json json_t *sysctl = NULL;
	char cgpath[128];

	if (!l || !rules || !devs)
		return keel_msg(err, ENOMEM, "out of memory"), NULL;
	if (o->privileged ? keel_json_push(rules, device_rule(true, NULL, -1, -1, "rwm")) < 0 ||
				    host_devices(devs, "/dev", 4) < 0
			  : default_device_rules(rules) < 0)
		return keel_msg(err, ENOMEM, "out of memory"), NULL;
	if (user_devices(devs, rules, o, err) < 0)
		return NULL;
	snprintf(cgpath, sizeof(cgpath), "/keel/%s", id);
	sysctl = sysctl_json(o);
	if ((json_object_size(sysctl) && json_object_set(l, "sysctl", sysctl) < 0) ||
	    keel_json_set(l, "resources", resources_json(o, rules)) < 0 ||
	    keel_json_set(l, "cgroupsPath", json_string(cgpath)) < 0 ||
	    keel_json_set(l, "namespaces", namespaces_json(o)) < 0 ||
	    (json_array_size(devs) && json_object_set(l, "devices", devs) < 0) ||
	    add_paths(l, o) < 0)
		return keel_msg(err, ENOMEM, "out of memory"), NULL;
	if (add_seccomp(l, o, caps, err) < 0)
		return NULL;
	return steal_pointer(&l);
}
