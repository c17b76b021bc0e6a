/* cgroup v1 backend: one hierarchy per controller (or co-mounted group) under the root,
 * plus the unified (cgroup2) hierarchy of the hybrid layout, which carries no controllers
 * but is joined too so that every line of /proc/<pid>/cgroup names the container. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/cgroup_backend.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define MEMSW "memory.memsw.limit_in_bytes"

/* ---------- discovery ---------- */

static const char *const known_controllers[] = {
    "cpuset",  "cpu",	     "cpuacct",	 "blkio",   "memory", "devices", "freezer",
    "net_cls", "perf_event", "net_prio", "hugetlb", "pids",   "rdma",	 "misc",
};

static bool is_known_controller(const char *s)
{
	if (strncmp(s, "name=", 5) == 0)
		return true;
	for (size_t i = 0; i < sizeof(known_controllers) / sizeof(*known_controllers); i++)
		if (strcmp(s, known_controllers[i]) == 0)
			return true;
	return false;
}

/* "rw,relatime,cpu,cpuacct" -> "cpu,cpuacct" (mount flags dropped). */
static void controllers_of(const char *super_opts, char *out, size_t outsz)
{
	cleanup_free char *copy = strdup(super_opts);
	char *save = NULL;

	out[0] = '\0';
	if (!copy)
		return;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!is_known_controller(t))
			continue;
		if (out[0])
			strncat(out, ",", outsz - strlen(out) - 1);
		strncat(out, t, outsz - strlen(out) - 1);
	}
}

/* The hierarchies mounted directly under cg->root, from /proc/self/mountinfo: each
 * hierarchy once even when bind-mounted twice (same device). Returns the count found. */
static int discover_mountinfo(struct keel_cgroup *cg, keel_error_t *err)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0, rl = strlen(cg->root);
	char seen[32][16];
	int n_seen = 0, found = 0;

	if (!f)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		char dev[16], mnt[PATH_MAX], fstype[64], opts[1024], names[256];
		const char *sep = strstr(line, " - ");
		bool dup = false;

		if (!sep || sscanf(line, "%*s %*s %15s %*s %4095s", dev, mnt) != 2 ||
		    sscanf(sep + 3, "%63s %*s %1023s", fstype, opts) != 2)
			continue;
		/* Only direct children of the root: <root>/<hierarchy>. */
		if (strncmp(mnt, cg->root, rl) != 0 || mnt[rl] != '/' || strchr(mnt + rl + 1, '/'))
			continue;
		for (int i = 0; i < n_seen; i++)
			dup = dup || strcmp(seen[i], dev) == 0;
		if (dup || n_seen == 32)
			continue;
		snprintf(seen[n_seen++], sizeof(seen[0]), "%s", dev);
		if (strcmp(fstype, "cgroup2") == 0) {
			if (keel_cgroup_add_hier(cg, "", mnt, true, err) < 0)
				return -1;
			found++;
			continue;
		}
		if (strcmp(fstype, "cgroup") != 0)
			continue;
		controllers_of(opts, names, sizeof(names));
		if (!names[0])
			continue;
		if (keel_cgroup_add_hier(cg, names, mnt, false, err) < 0)
			return -1;
		found++;
	}
	return found;
}

static int add_scanned(struct keel_cgroup *cg, const char *name, keel_error_t *err)
{
	char mnt[PATH_MAX];

	snprintf(mnt, sizeof(mnt), "%s/%s", cg->root, name);
	if (strcmp(name, "unified") == 0)
		return keel_cgroup_add_hier(cg, "", mnt, true, err);
	if (strcmp(name, "systemd") == 0)
		return keel_cgroup_add_hier(cg, "name=systemd", mnt, false, err);
	return keel_cgroup_add_hier(cg, name, mnt, false, err);
}

/* A root that is not a mount parent (a test's fake tree): every directory under it is a
 * hierarchy. Co-mounted controllers appear as "cpu,cpuacct" plus symlinks "cpu" and
 * "cpuacct" pointing at it; a symlink to a directory already taken is skipped. */
static int discover_dirs(struct keel_cgroup *cg, keel_error_t *err)
{
	struct dirent **ents = NULL;
	struct stat seen[64];
	int n_seen = 0, n, ret = 0;

	n = scandir(cg->root, &ents, NULL, alphasort);
	if (n < 0)
		return keel_err_sys(err, "cgroup: %s", cg->root);
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < n && ret == 0; i++) {
			char p[PATH_MAX];
			struct stat lst, st;
			bool dup = false;

			snprintf(p, sizeof(p), "%s/%s", cg->root, ents[i]->d_name);
			if (ents[i]->d_name[0] == '.' || lstat(p, &lst) < 0 || stat(p, &st) < 0 ||
			    !S_ISDIR(st.st_mode) || S_ISLNK(lst.st_mode) != (pass == 1))
				continue;
			for (int j = 0; j < n_seen; j++)
				dup = dup ||
				      (seen[j].st_dev == st.st_dev && seen[j].st_ino == st.st_ino);
			if (dup || n_seen == 64)
				continue;
			seen[n_seen++] = st;
			ret = add_scanned(cg, ents[i]->d_name, err);
		}
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	return ret;
}

static int v1_init(struct keel_cgroup *cg, keel_error_t *err)
{
	int found = discover_mountinfo(cg, err);

	if (found < 0)
		return -1;
	if (found == 0 && discover_dirs(cg, err) < 0)
		return -1;
	for (size_t i = 0; i < cg->n_hiers; i++)
		if (!cg->hiers[i].unified)
			return 0;
	return keel_err(err, ENOENT, "cgroup: no cgroup v1 hierarchy under %s", cg->root);
}

/* ---------- create ---------- */

/* A new cpuset cgroup starts with empty cpuset.cpus/mems, and the kernel refuses to move
 * a task into it (ENOSPC) until both are set. Fill each level from its parent, top down. */
static int cpuset_fill(const char *mount, const char *path, keel_error_t *err)
{
	static const char *const knobs[] = {"cpuset.cpus", "cpuset.mems"};
	char parent[PATH_MAX], cur[PATH_MAX];
	const char *p = path;

	snprintf(cur, sizeof(cur), "%s", mount);
	while (*p) {
		const char *next = strchr(p + 1, '/');
		size_t clen = next ? (size_t)(next - p) : strlen(p);
		snprintf(parent, sizeof(parent), "%s", cur);
		snprintf(cur + strlen(cur), sizeof(cur) - strlen(cur), "%.*s", (int)clen, p);
		p += clen;
		for (size_t k = 0; k < 2; k++) {
			cleanup_free char *mine = NULL, *theirs = NULL;
			if (keel_cgroup_read(cur, knobs[k], &mine, err) < 0)
				return -1;
			if (mine[0])
				continue;
			if (keel_cgroup_read(parent, knobs[k], &theirs, err) < 0 ||
			    keel_cgroup_write(cur, knobs[k], theirs, err) < 0)
				return -1;
		}
	}
	return 0;
}

static int v1_create(struct keel_cgroup *cg, keel_error_t *err)
{
	for (size_t i = 0; i < cg->n_hiers; i++) {
		if (keel_mkdir_p(cg->hiers[i].dir, 0755, err) < 0)
			return keel_err_wrap(err, "cgroup");
	}
	struct cgroup_hier *cs = keel_cgroup_hier(cg, "cpuset");
	if (cs && cpuset_fill(cs->mount, cg->path, err) < 0)
		return -1;
	return 0;
}

/* ---------- apply ---------- */

static int write_i64(const char *dir, const char *knob, int64_t v, keel_error_t *err)
{
	return keel_cgroup_writef(dir, knob, err, "%" PRId64, v);
}

static int write_u64(const char *dir, const char *knob, uint64_t v, keel_error_t *err)
{
	return keel_cgroup_writef(dir, knob, err, "%" PRIu64, v);
}

/* Knobs newer kernels dropped or refuse (kmem limits since 5.16/6.x): not an error. */
static int write_i64_optional(const char *dir, const char *knob, int64_t v, keel_error_t *err)
{
	keel_error_t e;
	if (write_i64(dir, knob, v, &e) == 0 || e.errnum == ENOENT || e.errnum == EOPNOTSUPP)
		return 0;
	if (err)
		*err = e;
	return -1;
}

static int memory_and_swap(const char *dir, const struct keel_spec_resources *r, keel_error_t *err)
{
	/* As runc: 0 means unset; unlimited memory without a swap value lifts swap too. */
	int64_t mem = r->has_memory_limit ? r->memory_limit : 0;
	int64_t swap = r->has_memory_swap ? r->memory_swap : 0;
	bool have_memsw = keel_cgroup_knob_exists(dir, MEMSW);
	uint64_t cur = 0;

	if (mem == -1 && swap == 0 && have_memsw)
		swap = -1;
	if (swap != 0 && !have_memsw) {
		if (swap != -1)
			return keel_err(err, ENOENT,
					"cgroup: %s: swap accounting is not enabled in "
					"the kernel (swapaccount=1)",
					MEMSW);
		swap = 0;
	}
	/* The kernel keeps memory.limit <= memsw.limit at every step: when raising, memsw
	 * goes first; when lowering, the memory limit goes first. */
	if (mem != 0 && swap != 0) {
		if (swap != -1 && keel_cgroup_read_u64(dir, "memory.limit_in_bytes", &cur, err) < 0)
			return -1;
		if (swap == -1 || cur < (uint64_t)swap) {
			if (write_i64(dir, MEMSW, swap, err) < 0)
				return -1;
			return write_i64(dir, "memory.limit_in_bytes", mem, err);
		}
	}
	if (mem != 0 && write_i64(dir, "memory.limit_in_bytes", mem, err) < 0)
		return -1;
	if (swap != 0 && write_i64(dir, MEMSW, swap, err) < 0)
		return -1;
	return 0;
}

static bool memory_wanted(const struct keel_spec_resources *r)
{
	return r->has_memory_limit || r->has_memory_reservation || r->has_memory_swap ||
	       r->has_memory_kernel || r->has_memory_kernel_tcp || r->has_memory_swappiness ||
	       r->has_disable_oom_killer || r->has_use_hierarchy;
}

static int memory_set(const char *dir, const struct keel_spec_resources *r, keel_error_t *err)
{
	if (memory_and_swap(dir, r, err) < 0)
		return -1;
	if (r->has_memory_reservation && r->memory_reservation != 0 &&
	    write_i64(dir, "memory.soft_limit_in_bytes", r->memory_reservation, err) < 0)
		return -1;
	if (r->has_memory_kernel && r->memory_kernel != 0 &&
	    write_i64_optional(dir, "memory.kmem.limit_in_bytes", r->memory_kernel, err) < 0)
		return -1;
	if (r->has_memory_kernel_tcp && r->memory_kernel_tcp != 0 &&
	    write_i64_optional(dir, "memory.kmem.tcp.limit_in_bytes", r->memory_kernel_tcp, err) <
		0)
		return -1;
	/* -1 (as uint64) means "leave the inherited value", as in runc. */
	if (r->has_memory_swappiness && r->memory_swappiness != UINT64_MAX) {
		if (r->memory_swappiness > 100)
			return keel_err(err, EINVAL,
					"cgroup: memory.swappiness: %" PRIu64 " is not in 0..100",
					r->memory_swappiness);
		if (write_u64(dir, "memory.swappiness", r->memory_swappiness, err) < 0)
			return -1;
	}
	if (r->has_disable_oom_killer &&
	    keel_cgroup_write(dir, "memory.oom_control", r->disable_oom_killer ? "1" : "0", err) <
		0)
		return -1;
	if (r->has_use_hierarchy) {
		/* Kernels since 5.x are always hierarchical: writing 0 fails with EINVAL. */
		keel_error_t e;
		if (keel_cgroup_write(dir, "memory.use_hierarchy", r->use_hierarchy ? "1" : "0",
				      &e) < 0 &&
		    !(e.errnum == EINVAL && !r->use_hierarchy)) {
			if (err)
				*err = e;
			return -1;
		}
	}
	return 0;
}

static bool cpu_wanted(const struct keel_spec_resources *r)
{
	return r->has_cpu_shares || r->has_cpu_quota || r->has_cpu_period ||
	       r->has_cpu_realtime_runtime || r->has_cpu_realtime_period || r->has_cpu_burst ||
	       r->has_cpu_idle;
}

static int cpu_set(const char *dir, const struct keel_spec_resources *r, keel_error_t *err)
{
	bool quota = r->has_cpu_quota && r->cpu_quota != 0;

	if (r->has_cpu_shares && r->cpu_shares != 0 &&
	    write_u64(dir, "cpu.shares", r->cpu_shares, err) < 0)
		return -1;
	/* The kernel checks quota/period pairs against each other and the parent: a period
	 * the current quota does not fit fails with EINVAL, then works after the quota. */
	if (r->has_cpu_period && r->cpu_period != 0) {
		keel_error_t e;
		if (write_u64(dir, "cpu.cfs_period_us", r->cpu_period, &e) < 0) {
			if (e.errnum != EINVAL || !quota) {
				if (err)
					*err = e;
				return -1;
			}
			if (write_i64(dir, "cpu.cfs_quota_us", r->cpu_quota, err) < 0)
				return -1;
			return write_u64(dir, "cpu.cfs_period_us", r->cpu_period, err);
		}
	}
	if (quota && write_i64(dir, "cpu.cfs_quota_us", r->cpu_quota, err) < 0)
		return -1;
	if (r->has_cpu_burst && write_u64(dir, "cpu.cfs_burst_us", r->cpu_burst, err) < 0)
		return -1;
	if (r->has_cpu_realtime_period && r->cpu_realtime_period != 0 &&
	    write_u64(dir, "cpu.rt_period_us", r->cpu_realtime_period, err) < 0)
		return -1;
	if (r->has_cpu_realtime_runtime && r->cpu_realtime_runtime != 0 &&
	    write_i64(dir, "cpu.rt_runtime_us", r->cpu_realtime_runtime, err) < 0)
		return -1;
	if (r->has_cpu_idle && write_i64(dir, "cpu.idle", r->cpu_idle, err) < 0)
		return -1;
	return 0;
}

static bool cpuset_wanted(const struct keel_spec_resources *r)
{
	return (r->cpu_cpus && *r->cpu_cpus) || (r->cpu_mems && *r->cpu_mems);
}

static int cpuset_set(const char *dir, const struct keel_spec_resources *r, keel_error_t *err)
{
	if (r->cpu_cpus && *r->cpu_cpus &&
	    keel_cgroup_write(dir, "cpuset.cpus", r->cpu_cpus, err) < 0)
		return -1;
	if (r->cpu_mems && *r->cpu_mems &&
	    keel_cgroup_write(dir, "cpuset.mems", r->cpu_mems, err) < 0)
		return -1;
	return 0;
}

static bool pids_wanted(const struct keel_spec_resources *r)
{
	return r->has_pids_limit;
}

static int pids_set(const char *dir, const struct keel_spec_resources *r, keel_error_t *err)
{
	if (r->pids_limit <= 0)
		return keel_cgroup_write(dir, "pids.max", "max", err);
	return write_i64(dir, "pids.max", r->pids_limit, err);
}

static bool blkio_wanted(const struct keel_spec_resources *r)
{
	size_t n = r->n_blkio_weight_devices;
	for (int k = 0; k < 4; k++)
		n += r->n_blkio_throttle[k];
	return r->has_blkio_weight || r->has_blkio_leaf_weight || n > 0;
}

static const char *const throttle_knobs[4] = {
    [KEEL_BLKIO_READ_BPS] = "blkio.throttle.read_bps_device",
    [KEEL_BLKIO_WRITE_BPS] = "blkio.throttle.write_bps_device",
    [KEEL_BLKIO_READ_IOPS] = "blkio.throttle.read_iops_device",
    [KEEL_BLKIO_WRITE_IOPS] = "blkio.throttle.write_iops_device",
};

static int blkio_set(const char *dir, const struct keel_spec_resources *r, keel_error_t *err)
{
	/* Without CFQ (gone since 5.0) the proportional weights live in BFQ's files. */
	bool bfq = !keel_cgroup_knob_exists(dir, "blkio.weight") &&
		   keel_cgroup_knob_exists(dir, "blkio.bfq.weight");
	const char *weight = bfq ? "blkio.bfq.weight" : "blkio.weight";
	const char *weight_dev = bfq ? "blkio.bfq.weight_device" : "blkio.weight_device";
	char line[64];

	if (r->has_blkio_weight && r->blkio_weight != 0 &&
	    write_u64(dir, weight, r->blkio_weight, err) < 0)
		return -1;
	if (r->has_blkio_leaf_weight && r->blkio_leaf_weight != 0 &&
	    write_u64(dir, "blkio.leaf_weight", r->blkio_leaf_weight, err) < 0)
		return -1;
	for (size_t i = 0; i < r->n_blkio_weight_devices; i++) {
		const struct keel_spec_weight_device *d = &r->blkio_weight_devices[i];
		if (d->has_weight) {
			snprintf(line, sizeof(line), "%" PRId64 ":%" PRId64 " %u", d->major,
				 d->minor, d->weight);
			if (keel_cgroup_append(dir, weight_dev, line, err) < 0)
				return -1;
		}
		if (d->has_leaf_weight) {
			snprintf(line, sizeof(line), "%" PRId64 ":%" PRId64 " %u", d->major,
				 d->minor, d->leaf_weight);
			if (keel_cgroup_append(dir, "blkio.leaf_weight_device", line, err) < 0)
				return -1;
		}
	}
	for (int k = 0; k < 4; k++) {
		for (size_t i = 0; i < r->n_blkio_throttle[k]; i++) {
			const struct keel_spec_throttle_device *t = &r->blkio_throttle[k][i];
			snprintf(line, sizeof(line), "%" PRId64 ":%" PRId64 " %" PRIu64, t->major,
				 t->minor, t->rate);
			if (keel_cgroup_append(dir, throttle_knobs[k], line, err) < 0)
				return -1;
		}
	}
	return 0;
}

static bool hugetlb_wanted(const struct keel_spec_resources *r)
{
	return r->n_hugepage_limits > 0;
}

static int hugetlb_set(const char *dir, const struct keel_spec_resources *r, keel_error_t *err)
{
	for (size_t i = 0; i < r->n_hugepage_limits; i++) {
		char knob[96];
		snprintf(knob, sizeof(knob), "hugetlb.%s.limit_in_bytes",
			 r->hugepage_limits[i].page_size);
		if (write_u64(dir, knob, r->hugepage_limits[i].limit, err) < 0)
			return -1;
	}
	return 0;
}

static bool devices_wanted(const struct keel_spec_resources *r)
{
	return r->n_devices > 0;
}

/* "c 1:3 rwm"; -1 major/minor is "*"; empty access is "rwm". */
static void device_rule_string(const struct keel_spec_device_rule *d, char *buf, size_t sz)
{
	char maj[24] = "*", min[24] = "*";

	if (d->major >= 0)
		snprintf(maj, sizeof(maj), "%" PRId64, d->major);
	if (d->minor >= 0)
		snprintf(min, sizeof(min), "%" PRId64, d->minor);
	snprintf(buf, sz, "%c %s:%s %s", d->type ? d->type : 'a', maj, min,
		 d->access[0] ? d->access : "rwm");
}

static int devices_set(const char *dir, const struct keel_spec_resources *r, keel_error_t *err)
{
	/* Start from "deny everything", then replay the rules in order: on v1 each write
	 * adds or removes an exception, so the last matching rule wins. */
	if (keel_cgroup_append(dir, "devices.deny", "a", err) < 0)
		return -1;
	for (size_t i = 0; i < r->n_devices; i++) {
		char rule[80];
		device_rule_string(&r->devices[i], rule, sizeof(rule));
		if (keel_cgroup_append(dir, r->devices[i].allow ? "devices.allow" : "devices.deny",
				       rule, err) < 0)
			return -1;
	}
	return 0;
}

static const struct {
	const char *controller;
	bool (*wanted)(const struct keel_spec_resources *r);
	int (*set)(const char *dir, const struct keel_spec_resources *r, keel_error_t *err);
} v1_setters[] = {
    {"devices", devices_wanted, devices_set},
    {"memory", memory_wanted, memory_set},
    {"cpu", cpu_wanted, cpu_set},
    {"cpuset", cpuset_wanted, cpuset_set},
    {"pids", pids_wanted, pids_set},
    {"blkio", blkio_wanted, blkio_set},
    {"hugetlb", hugetlb_wanted, hugetlb_set},
};

static int v1_apply(struct keel_cgroup *cg, const struct keel_spec_resources *r, keel_error_t *err)
{
	if (r->unified && r->unified[0])
		return keel_err(err, EINVAL,
				"cgroup: linux.resources.unified (\"%s\") needs "
				"cgroup v2; this host runs cgroup v1",
				r->unified[0]);
	for (size_t i = 0; i < sizeof(v1_setters) / sizeof(*v1_setters); i++) {
		struct cgroup_hier *h;
		if (!v1_setters[i].wanted(r))
			continue;
		h = keel_cgroup_hier(cg, v1_setters[i].controller);
		if (!h)
			return keel_err(err, ENOENT,
					"cgroup: cannot set %s limits: the %s "
					"controller is not mounted under %s",
					v1_setters[i].controller, v1_setters[i].controller,
					cg->root);
		if (v1_setters[i].set(h->dir, r, err) < 0)
			return -1;
	}
	return 0;
}

/* ---------- freezer ---------- */

static int v1_freeze(struct keel_cgroup *cg, bool frozen, keel_error_t *err)
{
	struct cgroup_hier *h = keel_cgroup_hier(cg, "freezer");
	const char *want = frozen ? "FROZEN" : "THAWED";

	if (!h)
		return keel_err(err, ENOTSUP, "cgroup: the freezer controller is not mounted");
	if (keel_cgroup_write(h->dir, "freezer.state", want, err) < 0)
		return -1;
	/* FREEZING lasts until every task has stopped; a task stuck in an uninterruptible
	 * sleep can hold it there: give up after a while rather than hang, and thaw. */
	if (keel_cgroup_wait_for(h->dir, "freezer.state", want, 5000, err) < 0) {
		if (frozen)
			keel_cgroup_write(h->dir, "freezer.state", "THAWED", NULL);
		return -1;
	}
	return 0;
}

static int v1_is_frozen(struct keel_cgroup *cg, keel_error_t *err)
{
	struct cgroup_hier *h = keel_cgroup_hier(cg, "freezer");
	cleanup_free char *s = NULL;

	if (!h)
		return 0;
	if (keel_cgroup_read(h->dir, "freezer.state", &s, err) < 0)
		return -1;
	return strcmp(s, "FROZEN") == 0;
}

static int v1_kill_fast(struct keel_cgroup *cg, int sig, keel_error_t *err)
{
	return 0;
}

/* ---------- stats ---------- */

static uint64_t read_or_zero(const char *dir, const char *knob)
{
	uint64_t v = 0;
	if (keel_cgroup_read_u64(dir, knob, &v, NULL) < 0)
		return 0;
	return v;
}

static json_t *u64_array(const char *dir, const char *knob)
{
	cleanup_free char *s = NULL;
	json_t *a = json_array();

	if (keel_cgroup_read(dir, knob, &s, NULL) < 0)
		return a;
	for (char *p = s, *end;; p = end) {
		uint64_t v = strtoull(p, &end, 10);
		if (end == p)
			break;
		json_array_append_new(a, keel_cgroup_json_u64(v));
	}
	return a;
}

static json_t *cpu_stats(struct keel_cgroup *cg)
{
	struct cgroup_hier *acct = keel_cgroup_hier(cg, "cpuacct"),
			   *cpu = keel_cgroup_hier(cg, "cpu");
	json_t *usage = json_object(), *thr = json_object();
	long hz = sysconf(_SC_CLK_TCK);

	if (acct) {
		cleanup_free char *st = NULL;
		cleanup_json json_t *ticks = NULL;
		keel_cgroup_json_set_nz(usage, "total", read_or_zero(acct->dir, "cpuacct.usage"));
		json_object_set_new(usage, "percpu", u64_array(acct->dir, "cpuacct.usage_percpu"));
		json_object_set_new(usage, "percpu_kernel",
				    u64_array(acct->dir, "cpuacct.usage_percpu_sys"));
		json_object_set_new(usage, "percpu_user",
				    u64_array(acct->dir, "cpuacct.usage_percpu_user"));
		/* cpuacct.stat counts USER_HZ ticks; runc reports nanoseconds. */
		keel_cgroup_read(acct->dir, "cpuacct.stat", &st, NULL);
		ticks = keel_cgroup_flat_keyed(st);
		hz = hz > 0 ? hz : 100;
		json_object_set_new(usage, "kernel",
				    keel_cgroup_json_u64(keel_cgroup_json_get(ticks, "system") *
							 (1000000000ULL / (uint64_t)hz)));
		json_object_set_new(usage, "user",
				    keel_cgroup_json_u64(keel_cgroup_json_get(ticks, "user") *
							 (1000000000ULL / (uint64_t)hz)));
	}
	if (cpu) {
		cleanup_free char *st = NULL;
		cleanup_json json_t *s = NULL;
		keel_cgroup_read(cpu->dir, "cpu.stat", &st, NULL);
		s = keel_cgroup_flat_keyed(st);
		keel_cgroup_json_set_nz(thr, "periods", keel_cgroup_json_get(s, "nr_periods"));
		keel_cgroup_json_set_nz(thr, "throttled_periods",
					keel_cgroup_json_get(s, "nr_throttled"));
		keel_cgroup_json_set_nz(thr, "throttled_time",
					keel_cgroup_json_get(s, "throttled_time"));
	}
	return json_pack("{s:o,s:o}", "usage", usage, "throttling", thr);
}

static json_t *cpu_list(const char *dir, const char *knob, const char *fallback)
{
	cleanup_free char *s = NULL;
	json_t *a = json_array();

	if (keel_cgroup_read(dir, knob, &s, NULL) < 0 || !s[0]) {
		free(s);
		s = NULL;
		if (keel_cgroup_read(dir, fallback, &s, NULL) < 0)
			return a;
	}
	/* "0-3,8" -> [0,1,2,3,8] */
	for (char *p = s, *end; *p; p = end + (*end == ',')) {
		unsigned long lo = strtoul(p, &end, 10), hi = lo;
		if (end == p)
			break;
		if (*end == '-')
			hi = strtoul(end + 1, &end, 10);
		for (unsigned long c = lo; c <= hi && c - lo < 65536; c++)
			json_array_append_new(a, json_integer((json_int_t)c));
	}
	return a;
}

static json_t *cpuset_stats(const char *dir)
{
	static const char *const flags[][2] = {
	    {"cpu_exclusive", "cpuset.cpu_exclusive"},
	    {"mem_hardwall", "cpuset.mem_hardwall"},
	    {"mem_exclusive", "cpuset.mem_exclusive"},
	    {"memory_migrate", "cpuset.memory_migrate"},
	    {"memory_spread_page", "cpuset.memory_spread_page"},
	    {"memory_spread_slab", "cpuset.memory_spread_slab"},
	    {"memory_pressure", "cpuset.memory_pressure"},
	    {"sched_load_balance", "cpuset.sched_load_balance"},
	};
	json_t *o = json_object();
	cleanup_free char *lvl = NULL;

	json_object_set_new(o, "cpus", cpu_list(dir, "cpuset.cpus", "cpuset.effective_cpus"));
	for (size_t i = 0; i < sizeof(flags) / sizeof(*flags); i++) {
		if (i == 1)
			json_object_set_new(o, "mems",
					    cpu_list(dir, "cpuset.mems", "cpuset.effective_mems"));
		json_object_set_new(o, flags[i][0],
				    keel_cgroup_json_u64(read_or_zero(dir, flags[i][1])));
	}
	keel_cgroup_read(dir, "cpuset.sched_relax_domain_level", &lvl, NULL);
	json_object_set_new(o, "sched_relax_domain_level", json_integer(lvl ? atoll(lvl) : 0));
	return o;
}

/* memory.<prefix>{limit_in_bytes,usage_in_bytes,max_usage_in_bytes,failcnt} as runc's
 * MemoryEntry: limit and failcnt always, usage and max when not zero. */
static json_t *memory_entry(const char *dir, const char *prefix, bool usage)
{
	char k[96];
	json_t *o = json_object();

	snprintf(k, sizeof(k), "%slimit_in_bytes", prefix);
	json_object_set_new(o, "limit", keel_cgroup_json_u64(read_or_zero(dir, k)));
	if (usage) {
		snprintf(k, sizeof(k), "%susage_in_bytes", prefix);
		keel_cgroup_json_set_nz(o, "usage", read_or_zero(dir, k));
		snprintf(k, sizeof(k), "%smax_usage_in_bytes", prefix);
		keel_cgroup_json_set_nz(o, "max", read_or_zero(dir, k));
	}
	snprintf(k, sizeof(k), "%sfailcnt", prefix);
	json_object_set_new(o, "failcnt", keel_cgroup_json_u64(read_or_zero(dir, k)));
	return o;
}

static json_t *memory_stats(const char *dir)
{
	cleanup_free char *st = NULL;
	json_t *raw, *o = json_object();

	keel_cgroup_read(dir, "memory.stat", &st, NULL);
	raw = keel_cgroup_flat_keyed(st);
	keel_cgroup_json_set_nz(o, "cache", keel_cgroup_json_get(raw, "cache"));
	json_object_set_new(o, "usage", memory_entry(dir, "memory.", true));
	json_object_set_new(o, "swap", memory_entry(dir, "memory.memsw.", true));
	json_object_set_new(o, "kernel", memory_entry(dir, "memory.kmem.", true));
	json_object_set_new(o, "kernelTCP", memory_entry(dir, "memory.kmem.tcp.", false));
	json_object_set_new(o, "raw", raw);
	return o;
}

/* "8:0 Read 4096" lines (the "Total" line skipped) -> [{major,minor,op,value}]. */
static json_t *blkio_entries(const char *dir, const char *knob)
{
	cleanup_free char *s = NULL;
	json_t *a = json_array();
	char *save = NULL;

	if (keel_cgroup_read(dir, knob, &s, NULL) < 0)
		return a;
	for (char *l = strtok_r(s, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned maj, min;
		char op[32];
		unsigned long long v;
		if (sscanf(l, "%u:%u %31s %llu", &maj, &min, op, &v) != 4)
			continue;
		json_array_append_new(a, json_pack("{s:i,s:i,s:s,s:o}", "major", (int)maj, "minor",
						   (int)min, "op", op, "value",
						   keel_cgroup_json_u64(v)));
	}
	return a;
}

static json_t *blkio_stats(const char *dir)
{
	bool bfq = keel_cgroup_knob_exists(dir, "blkio.bfq.io_service_bytes_recursive");
	json_t *o = json_object(), *bytes, *ios;

	bytes = blkio_entries(dir, bfq ? "blkio.bfq.io_service_bytes_recursive"
				       : "blkio.throttle.io_service_bytes_recursive");
	ios = blkio_entries(dir, bfq ? "blkio.bfq.io_serviced_recursive"
				     : "blkio.throttle.io_serviced_recursive");
	/* Empty lists are left out, as runc's omitempty does. */
	if (json_array_size(bytes))
		json_object_set_new(o, "ioServiceBytesRecursive", bytes);
	else
		json_decref(bytes);
	if (json_array_size(ios))
		json_object_set_new(o, "ioServicedRecursive", ios);
	else
		json_decref(ios);
	return o;
}

static json_t *hugetlb_stats(const char *dir)
{
	struct dirent **ents = NULL;
	json_t *o = json_object();
	int n = scandir(dir, &ents, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		char size[32], k[96];
		const char *name = ents[i]->d_name;
		const char *suffix = ".usage_in_bytes";
		size_t nl = strlen(name), sl = strlen(suffix);
		if (strncmp(name, "hugetlb.", 8) == 0 && nl > 8 + sl &&
		    nl - 8 - sl < sizeof(size) && strcmp(name + nl - sl, suffix) == 0 &&
		    !strstr(name, ".rsvd.")) {
			json_t *e = json_object();
			snprintf(size, sizeof(size), "%.*s", (int)(nl - 8 - sl), name + 8);
			keel_cgroup_json_set_nz(e, "usage", read_or_zero(dir, name));
			snprintf(k, sizeof(k), "hugetlb.%s.max_usage_in_bytes", size);
			keel_cgroup_json_set_nz(e, "max", read_or_zero(dir, k));
			snprintf(k, sizeof(k), "hugetlb.%s.failcnt", size);
			json_object_set_new(e, "failcnt",
					    keel_cgroup_json_u64(read_or_zero(dir, k)));
			json_object_set_new(o, size, e);
		}
		free(ents[i]);
	}
	free(ents);
	return o;
}

static json_t *v1_stats(struct keel_cgroup *cg, keel_error_t *err)
{
	struct cgroup_hier *h;
	json_t *data = json_object();

	if (!data) {
		keel_err(err, ENOMEM, "cgroup: stats");
		return NULL;
	}
	json_object_set_new(data, "cpu", cpu_stats(cg));
	if ((h = keel_cgroup_hier(cg, "cpuset")))
		json_object_set_new(data, "cpuset", cpuset_stats(h->dir));
	if ((h = keel_cgroup_hier(cg, "memory")))
		json_object_set_new(data, "memory", memory_stats(h->dir));
	h = keel_cgroup_hier(cg, "pids");
	json_object_set_new(data, "pids", json_object());
	if (h) {
		json_t *p = json_object_get(data, "pids");
		keel_cgroup_json_set_nz(p, "current", read_or_zero(h->dir, "pids.current"));
		uint64_t max = read_or_zero(h->dir, "pids.max");
		keel_cgroup_json_set_nz(p, "limit", max == UINT64_MAX ? 0 : max);
	}
	h = keel_cgroup_hier(cg, "blkio");
	json_object_set_new(data, "blkio", h ? blkio_stats(h->dir) : json_object());
	h = keel_cgroup_hier(cg, "hugetlb");
	json_object_set_new(data, "hugetlb", h ? hugetlb_stats(h->dir) : json_object());
	return data;
}

const struct cgroup_ops keel_cgroup_v1_ops = {
    .name = "v1",
    .init = v1_init,
    .create = v1_create,
    .apply = v1_apply,
    .freeze = v1_freeze,
    .is_frozen = v1_is_frozen,
    .kill_fast = v1_kill_fast,
    .stats = v1_stats,
};
