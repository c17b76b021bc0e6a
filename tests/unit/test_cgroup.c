/* cgroup module tests.
 *
 * Part 1 runs against fake trees in a temp dir (plain files stand in for the knobs) and
 * checks the exact bytes each backend writes. Part 2 runs against this machine's real
 * hierarchies: v1 limits, joining, freezing, killing, removal; and, on the hybrid
 * layout's unified hierarchy (cgroup2 without controllers, but with the core cgroup.freeze,
 * cgroup.kill and BPF device hooks), the v2 freezer, cgroup.kill and the eBPF device
 * filter on a real process. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/bpf.h>
#include <linux/magic.h>

#include "runtime/cgroup.h"
#include "runtime/cgroup_backend.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* ---------- fake tree helpers ---------- */

#define MEMSW_KNOB "memory.memsw.limit_in_bytes"

struct fake {
	char root[64];
};

static void put(const char *root, const char *rel, const char *content)
{
	char p[4096];
	keel_error_t err;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	char *slash = strrchr(p, '/');
	*slash = '\0';
	assert_int_equal(keel_mkdir_p(p, 0755, &err), 0);
	*slash = '/';
	assert_int_equal(keel_write_file(p, content, strlen(content), 0644, &err), 0);
}

static char *get(const char *root, const char *rel)
{
	char p[4096], *out = NULL;
	keel_error_t err;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (keel_read_file(p, &out, &err) < 0)
		fail_msg("read %s: %s", p, err.msg);
	return out;
}

#define assert_file(root, rel, want)                                                               \
	do {                                                                                       \
		cleanup_free char *got_ = get(root, rel);                                          \
		if (strcmp(got_, want) != 0)                                                       \
			fail_msg("%s: got \"%s\", want \"%s\"", rel, got_, want);                  \
	} while (0)

static int fake_setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/keel-cgtest-XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	*state = f;
	return 0;
}

static int fake_teardown(void **state)
{
	struct fake *f = *state;
	keel_rm_rf(f->root, NULL);
	free(f);
	return 0;
}

/* A v1 tree like this machine's, with cpu and cpuacct co-mounted as runc hosts often
 * have them. The container directory and its knobs exist already (a fake kernel makes
 * no files). */
static void fake_v1(const char *root, const char *cpath)
{
	static const char *const ctl_knobs[][8] = {
	    {"memory", "memory.limit_in_bytes", MEMSW_KNOB, "memory.soft_limit_in_bytes",
	     "memory.swappiness", "memory.oom_control", "memory.use_hierarchy", NULL},
	    {"cpu,cpuacct", "cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us",
	     "cpu.rt_period_us", "cpu.rt_runtime_us", NULL},
	    {"cpuset", "cpuset.cpus", "cpuset.mems", NULL},
	    {"pids", "pids.max", NULL},
	    {"blkio", "blkio.weight", "blkio.weight_device", "blkio.throttle.read_bps_device",
	     "blkio.throttle.write_iops_device", NULL},
	    {"hugetlb", "hugetlb.2MB.limit_in_bytes", NULL},
	    {"devices", "devices.allow", "devices.deny", NULL},
	    {"freezer", "freezer.state", NULL},
	};
	char rel[512], link[512];

	for (size_t i = 0; i < sizeof(ctl_knobs) / sizeof(*ctl_knobs); i++) {
		for (size_t k = 1; ctl_knobs[i][k]; k++) {
			snprintf(rel, sizeof(rel), "%s%s/%s", ctl_knobs[i][0], cpath,
				 ctl_knobs[i][k]);
			put(root, rel, "");
		}
	}
	put(root, "systemd/cgroup.procs", "");
	put(root, "unified/cgroup.procs", "");
	snprintf(link, sizeof(link), "%s/cpu", root);
	assert_int_equal(symlink("cpu,cpuacct", link), 0);
	snprintf(link, sizeof(link), "%s/cpuacct", root);
	assert_int_equal(symlink("cpu,cpuacct", link), 0);
}
static struct keel_cgroup *open_ok(const char *root, enum keel_cgroup_mode mode, const char *path,
				   const char *id)
{
	keel_error_t err = {0};
	struct keel_cgroup *cg = keel_cgroup_open(root, mode, path, id, &err);
	if (!cg)
		fail_msg("keel_cgroup_open(%s, %s): %s", path ? path : "NULL", id, err.msg);
	return cg;
}

static void expect_open_error(const char *root, const char *path, const char *id,
			      const char *needle)
{
	keel_error_t err = {0};
	struct keel_cgroup *cg = keel_cgroup_open(root, KEEL_CGROUP_V1, path, id, &err);
	if (cg) {
		fail_msg("path \"%s\" accepted as %s", path ? path : "NULL", keel_cgroup_path(cg));
	}
	if (!strstr(err.msg, needle))
		fail_msg("path \"%s\": error \"%s\" lacks \"%s\"", path ? path : "NULL", err.msg,
			 needle);
}

/* ---------- part 1: fake trees ---------- */

static void test_paths(void **state)
{
	struct fake *f = *state;
	static const char *const ok[][3] = {
	    {NULL, "abc", "/abc"},
	    {"", "abc", "/abc"},
	    {"/docker/abc", "x", "/docker/abc"},
	    {"docker/abc", "x", "/docker/abc"},
	    {"/a/./b//c/", "x", "/a/b/c"},
	    {"/a/../b", "x", "/b"},
	    {"a/b/../../c", "x", "/c"},
	};

	fake_v1(f->root, "/x");
	for (size_t i = 0; i < sizeof(ok) / sizeof(*ok); i++) {
		struct keel_cgroup *cg = open_ok(f->root, KEEL_CGROUP_V1, ok[i][0], ok[i][1]);
		assert_string_equal(keel_cgroup_path(cg), ok[i][2]);
		assert_int_equal(keel_cgroup_get_mode(cg), KEEL_CGROUP_V1);
		keel_cgroup_free(cg);
	}
	expect_open_error(f->root, "/../x", "x", "escapes");
	expect_open_error(f->root, "a/../../x", "x", "escapes");
	expect_open_error(f->root, "/a/b/../../..", "x", "escapes");
	expect_open_error(f->root, "/", "x", "root cgroup");
	expect_open_error(f->root, "/a/..", "x", "root cgroup");
	expect_open_error(f->root, "system.slice:keel:abc", "x", "systemd");
	expect_open_error(f->root, NULL, "a/b", "invalid container id");
	expect_open_error(f->root, NULL, "..", "invalid container id");
	expect_open_error(f->root, NULL, NULL, "invalid container id");
}

static void test_detect(void **state)
{
	struct fake *f = *state;
	struct keel_cgroup *cg;
	struct statfs sfs;

	fake_v1(f->root, "/x");
	cg = open_ok(f->root, KEEL_CGROUP_AUTO, "/x", "x");
	assert_int_equal(keel_cgroup_get_mode(cg), KEEL_CGROUP_V1);
	keel_cgroup_free(cg);
	cg = open_ok(f->root, KEEL_CGROUP_V2, "/x", "x");
	assert_int_equal(keel_cgroup_get_mode(cg), KEEL_CGROUP_V2);
	keel_cgroup_free(cg);
	if (statfs("/sys/fs/cgroup/unified", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC) {
		cg = open_ok("/sys/fs/cgroup/unified", KEEL_CGROUP_AUTO, "/x", "x");
		assert_int_equal(keel_cgroup_get_mode(cg), KEEL_CGROUP_V2);
		keel_cgroup_free(cg);
	}
}

static void test_v1_discovery(void **state)
{
	struct fake *f = *state;
	struct keel_cgroup *cg;
	size_t unified = 0;

	fake_v1(f->root, "/k/c1");
	cg = open_ok(f->root, KEEL_CGROUP_V1, "/k/c1", "c1");
	/* memory, cpu,cpuacct (the symlinks once), cpuset, pids, blkio, hugetlb, devices,
	 * freezer, name=systemd, unified. */
	assert_int_equal(cg->n_hiers, 10);
	assert_string_equal(keel_cgroup_hier(cg, "cpu")->name, "cpu,cpuacct");
	assert_ptr_equal(keel_cgroup_hier(cg, "cpuacct"), keel_cgroup_hier(cg, "cpu"));
	assert_non_null(keel_cgroup_hier(cg, "name=systemd"));
	assert_null(keel_cgroup_hier(cg, "rdma"));
	for (size_t i = 0; i < cg->n_hiers; i++) {
		unified += cg->hiers[i].unified;
		assert_non_null(strstr(cg->hiers[i].dir, "/k/c1"));
	}
	assert_int_equal(unified, 1);
	keel_cgroup_free(cg);
}

static struct keel_spec_device_rule rule(bool allow, char type, int64_t maj, int64_t min,
					 const char *access)
{
	struct keel_spec_device_rule r = {.allow = allow, .type = type, .major = maj, .minor = min};
	snprintf(r.access, sizeof(r.access), "%s", access);
	return r;
}

static void test_v1_apply(void **state)
{
	struct fake *f = *state;
	struct keel_spec_device_rule devs[] = {
	    rule(false, 'a', -1, -1, ""),
	    rule(true, 'c', 1, 3, "rwm"),
	    rule(true, 'c', -1, -1, "m"),
	    rule(false, 'b', 8, 0, "w"),
	};
	struct keel_spec_weight_device wdev = {
	    .major = 8, .minor = 0, .has_weight = true, .weight = 300};
	struct keel_spec_throttle_device rbps = {8, 0, 1048576}, wiops = {8, 16, 100};
	struct keel_spec_hugepage_limit huge = {.page_size = "2MB", .limit = 4194304};
	struct keel_spec_resources r = {
	    .devices = devs,
	    .n_devices = 4,
	    .has_memory_limit = true,
	    .memory_limit = 268435456,
	    .has_memory_swap = true,
	    .memory_swap = 536870912,
	    .has_memory_reservation = true,
	    .memory_reservation = 134217728,
	    .has_memory_kernel = true,
	    .memory_kernel = 67108864, /* no knob: ignored */
	    .has_memory_swappiness = true,
	    .memory_swappiness = 10,
	    .has_disable_oom_killer = true,
	    .disable_oom_killer = true,
	    .has_use_hierarchy = true,
	    .use_hierarchy = true,
	    .has_cpu_shares = true,
	    .cpu_shares = 512,
	    .has_cpu_quota = true,
	    .cpu_quota = 50000,
	    .has_cpu_period = true,
	    .cpu_period = 100000,
	    .has_cpu_realtime_period = true,
	    .cpu_realtime_period = 1000000,
	    .has_cpu_realtime_runtime = true,
	    .cpu_realtime_runtime = 950000,
	    .cpu_cpus = "0",
	    .cpu_mems = "0",
	    .has_pids_limit = true,
	    .pids_limit = 100,
	    .has_blkio_weight = true,
	    .blkio_weight = 500,
	    .blkio_weight_devices = &wdev,
	    .n_blkio_weight_devices = 1,
	    .blkio_throttle = {[KEEL_BLKIO_READ_BPS] = &rbps, [KEEL_BLKIO_WRITE_IOPS] = &wiops},
	    .n_blkio_throttle = {[KEEL_BLKIO_READ_BPS] = 1, [KEEL_BLKIO_WRITE_IOPS] = 1},
	    .hugepage_limits = &huge,
	    .n_hugepage_limits = 1,
	};
	keel_error_t err = {0};
	struct keel_cgroup *cg;

	fake_v1(f->root, "/k/c1");
	put(f->root, "cpuset/cpuset.cpus", "0-1\n");
	put(f->root, "cpuset/cpuset.mems", "0\n");
	put(f->root, "cpuset/k/cpuset.cpus", "");
	put(f->root, "cpuset/k/cpuset.mems", "");
	put(f->root, "memory/k/c1/memory.limit_in_bytes", "9223372036854771712\n");
	cg = open_ok(f->root, KEEL_CGROUP_V1, "/k/c1", "c1");
	if (keel_cgroup_create(cg, &err) < 0)
		fail_msg("create: %s", err.msg);
	/* cpuset: parents filled top-down before the leaf. */
	assert_file(f->root, "cpuset/k/cpuset.cpus", "0-1");
	assert_file(f->root, "cpuset/k/c1/cpuset.cpus", "0-1");
	assert_file(f->root, "cpuset/k/c1/cpuset.mems", "0");
	if (keel_cgroup_apply(cg, &r, &err) < 0)
		fail_msg("apply: %s", err.msg);
	assert_file(f->root, "memory/k/c1/memory.limit_in_bytes", "268435456");
	assert_file(f->root, "memory/k/c1/" MEMSW_KNOB, "536870912");
	assert_file(f->root, "memory/k/c1/memory.soft_limit_in_bytes", "134217728");
	assert_file(f->root, "memory/k/c1/memory.swappiness", "10");
	assert_file(f->root, "memory/k/c1/memory.oom_control", "1");
	assert_file(f->root, "memory/k/c1/memory.use_hierarchy", "1");
	assert_file(f->root, "cpu,cpuacct/k/c1/cpu.shares", "512");
	assert_file(f->root, "cpu,cpuacct/k/c1/cpu.cfs_quota_us", "50000");
	assert_file(f->root, "cpu,cpuacct/k/c1/cpu.cfs_period_us", "100000");
	assert_file(f->root, "cpu,cpuacct/k/c1/cpu.rt_period_us", "1000000");
	assert_file(f->root, "cpu,cpuacct/k/c1/cpu.rt_runtime_us", "950000");
	assert_file(f->root, "cpuset/k/c1/cpuset.cpus", "0");
	assert_file(f->root, "pids/k/c1/pids.max", "100");
	assert_file(f->root, "blkio/k/c1/blkio.weight", "500");
	assert_file(f->root, "blkio/k/c1/blkio.weight_device", "8:0 300\n");
	assert_file(f->root, "blkio/k/c1/blkio.throttle.read_bps_device", "8:0 1048576\n");
	assert_file(f->root, "blkio/k/c1/blkio.throttle.write_iops_device", "8:16 100\n");
	assert_file(f->root, "hugetlb/k/c1/hugetlb.2MB.limit_in_bytes", "4194304");
	assert_file(f->root, "devices/k/c1/devices.deny", "a\na *:* rwm\nb 8:0 w\n");
	assert_file(f->root, "devices/k/c1/devices.allow", "c 1:3 rwm\nc *:* m\n");

	/* pids <= 0 is unlimited. */
	struct keel_spec_resources p0 = {.has_pids_limit = true, .pids_limit = 0};
	assert_int_equal(keel_cgroup_apply(cg, &p0, &err), 0);
	assert_file(f->root, "pids/k/c1/pids.max", "max");
	/* Swappiness above 100 is refused, naming the knob. */
	struct keel_spec_resources sw = {.has_memory_swappiness = true, .memory_swappiness = 101};
	assert_int_equal(keel_cgroup_apply(cg, &sw, &err), -1);
	assert_non_null(strstr(err.msg, "memory.swappiness"));
	/* unified needs v2. */
	char *kv[] = {"memory.high", "1", NULL};
	struct keel_spec_resources un = {.unified = kv};
	assert_int_equal(keel_cgroup_apply(cg, &un, &err), -1);
	assert_non_null(strstr(err.msg, "cgroup v2"));
	keel_cgroup_free(cg);
}

/* The order of the memory and memsw writes, observed by making the memsw knob a
 * directory: the write that goes first is the one that lands before the failure. */
static void test_v1_memsw_order(void **state)
{
	struct fake *f = *state;
	char p[512];
	keel_error_t err = {0};
	struct keel_cgroup *cg;
	struct keel_spec_resources raise = {.has_memory_limit = true,
					    .memory_limit = 200,
					    .has_memory_swap = true,
					    .memory_swap = 400};
	struct keel_spec_resources lower = {.has_memory_limit = true,
					    .memory_limit = 200,
					    .has_memory_swap = true,
					    .memory_swap = 300};
	struct keel_spec_resources unlimited = {.has_memory_limit = true, .memory_limit = -1};

	fake_v1(f->root, "/c");
	cg = open_ok(f->root, KEEL_CGROUP_V1, "/c", "c");
	/* Plain files: -1 without a swap value lifts memsw too. */
	assert_int_equal(keel_cgroup_apply(cg, &unlimited, &err), 0);
	assert_file(f->root, "memory/c/memory.limit_in_bytes", "-1");
	assert_file(f->root, "memory/c/" MEMSW_KNOB, "-1");

	snprintf(p, sizeof(p), "%s/memory/c/" MEMSW_KNOB, f->root);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(mkdir(p, 0755), 0);
	/* Raising (current 100 < new memsw 400): memsw first, so memory is untouched. */
	put(f->root, "memory/c/memory.limit_in_bytes", "100");
	assert_int_equal(keel_cgroup_apply(cg, &raise, &err), -1);
	assert_non_null(strstr(err.msg, MEMSW_KNOB));
	assert_file(f->root, "memory/c/memory.limit_in_bytes", "100");
	/* Lowering (current 1000 >= new memsw 300): memory first. */
	put(f->root, "memory/c/memory.limit_in_bytes", "1000");
	assert_int_equal(keel_cgroup_apply(cg, &lower, &err), -1);
	assert_file(f->root, "memory/c/memory.limit_in_bytes", "200");
	keel_cgroup_free(cg);
}

static void test_v1_missing_controller(void **state)
{
	struct fake *f = *state;
	struct keel_spec_hugepage_limit huge = {.page_size = "2MB", .limit = 1};
	struct keel_spec_resources r = {.hugepage_limits = &huge, .n_hugepage_limits = 1};
	keel_error_t err = {0};
	struct keel_cgroup *cg;

	put(f->root, "memory/c/memory.limit_in_bytes", "");
	cg = open_ok(f->root, KEEL_CGROUP_V1, "/c", "c");
	assert_int_equal(cg->n_hiers, 1);
	assert_int_equal(keel_cgroup_apply(cg, &r, &err), -1);
	assert_non_null(strstr(err.msg, "hugetlb controller is not mounted"));
	keel_cgroup_free(cg);
}

static void test_v1_freezer_fake(void **state)
{
	struct fake *f = *state;
	keel_error_t err = {0};
	struct keel_cgroup *cg;

	fake_v1(f->root, "/c");
	put(f->root, "freezer/c/freezer.state", "THAWED\n");
	cg = open_ok(f->root, KEEL_CGROUP_V1, "/c", "c");
	assert_int_equal(keel_cgroup_is_frozen(cg, &err), 0);
	assert_int_equal(keel_cgroup_freeze(cg, true, &err), 0);
	assert_file(f->root, "freezer/c/freezer.state", "FROZEN");
	assert_int_equal(keel_cgroup_is_frozen(cg, &err), 1);
	assert_int_equal(keel_cgroup_freeze(cg, false, &err), 0);
	assert_file(f->root, "freezer/c/freezer.state", "THAWED");

	/* pids are listed from the freezer hierarchy, sub-cgroups included. */
	pid_t *pids = NULL;
	size_t n = 0;
	put(f->root, "freezer/c/cgroup.procs", "11\n12\n");
	put(f->root, "freezer/c/sub/cgroup.procs", "13\n");
	assert_int_equal(keel_cgroup_pids(cg, &pids, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pids[0] + pids[1] + pids[2], 36);
	free(pids);
	keel_cgroup_free(cg);
}

static void fake_v2(const char *root)
{
	static const char *const knobs[] = {
	    "memory.max",    "memory.swap.max",
	    "memory.low",    "memory.high",
	    "cpu.weight",    "cpu.max",
	    "cpuset.cpus",   "cpuset.mems",
	    "pids.max",	     "io.weight",
	    "io.max",	     "hugetlb.2MB.max",
	    "cgroup.freeze", "cgroup.subtree_control",
	    "cgroup.procs",
	};
	char rel[256];

	put(root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");
	put(root, "cgroup.subtree_control", "");
	put(root, "k/cgroup.subtree_control", "");
	for (size_t i = 0; i < sizeof(knobs) / sizeof(*knobs); i++) {
		snprintf(rel, sizeof(rel), "k/c2/%s", knobs[i]);
		put(root, rel, "");
	}
}

static void test_v2_apply(void **state)
{
	struct fake *f = *state;
	struct keel_spec_weight_device wdev = {
	    .major = 8, .minor = 0, .has_weight = true, .weight = 300};
	struct keel_spec_throttle_device rbps = {8, 0, 1048576}, wiops = {8, 16, 100};
	struct keel_spec_hugepage_limit huge = {.page_size = "2MB", .limit = 4194304};
	char *kv[] = {"memory.high", "300000000", NULL};
	struct keel_spec_resources r = {
	    .has_memory_limit = true,
	    .memory_limit = 268435456,
	    .has_memory_swap = true,
	    .memory_swap = 536870912,
	    .has_memory_reservation = true,
	    .memory_reservation = 134217728,
	    .has_memory_swappiness = true,
	    .memory_swappiness = 10, /* no v2 knob: ignored */
	    .has_cpu_shares = true,
	    .cpu_shares = 1024,
	    .has_cpu_quota = true,
	    .cpu_quota = 50000,
	    .has_cpu_period = true,
	    .cpu_period = 100000,
	    .cpu_cpus = "0-1",
	    .cpu_mems = "0",
	    .has_pids_limit = true,
	    .pids_limit = -1,
	    .has_blkio_weight = true,
	    .blkio_weight = 500,
	    .blkio_weight_devices = &wdev,
	    .n_blkio_weight_devices = 1,
	    .blkio_throttle = {[KEEL_BLKIO_READ_BPS] = &rbps, [KEEL_BLKIO_WRITE_IOPS] = &wiops},
	    .n_blkio_throttle = {[KEEL_BLKIO_READ_BPS] = 1, [KEEL_BLKIO_WRITE_IOPS] = 1},
	    .hugepage_limits = &huge,
	    .n_hugepage_limits = 1,
	    .unified = kv,
	};
	keel_error_t err = {0};
	struct keel_cgroup *cg;

	fake_v2(f->root);
	cg = open_ok(f->root, KEEL_CGROUP_V2, "/k/c2", "c2");
	assert_int_equal(cg->n_hiers, 1);
	if (keel_cgroup_create(cg, &err) < 0)
		fail_msg("create: %s", err.msg);
	/* Controllers delegated by every ancestor, not by the leaf. */
	assert_file(f->root, "cgroup.subtree_control", "+cpuset +cpu +io +memory +hugetlb +pids");
	assert_file(f->root, "k/cgroup.subtree_control", "+cpuset +cpu +io +memory +hugetlb +pids");
	assert_file(f->root, "k/c2/cgroup.subtree_control", "");
	if (keel_cgroup_apply(cg, &r, &err) < 0)
		fail_msg("apply: %s", err.msg);
	assert_file(f->root, "k/c2/memory.max", "268435456");
	assert_file(f->root, "k/c2/memory.swap.max", "268435456"); /* 512M - 256M */
	assert_file(f->root, "k/c2/memory.low", "134217728");
	assert_file(f->root, "k/c2/cpu.weight", "39"); /* 1 + (1022 * 9999) / 262142 */
	assert_file(f->root, "k/c2/cpu.max", "50000 100000");
	assert_file(f->root, "k/c2/cpuset.cpus", "0-1");
	assert_file(f->root, "k/c2/cpuset.mems", "0");
	assert_file(f->root, "k/c2/pids.max", "max");
	/* blkio 500 -> 1 + (490 * 9999) / 990 = 4950; 300 -> 2930 */
	assert_file(f->root, "k/c2/io.weight", "default 4950\n8:0 2930\n");
	assert_file(f->root, "k/c2/io.max", "8:0 rbps=1048576\n8:16 wiops=100\n");
	assert_file(f->root, "k/c2/hugetlb.2MB.max", "4194304");
	assert_file(f->root, "k/c2/memory.high", "300000000");

	/* Edge conversions: shares 2 and 262144 hit the ends of the weight range; quota -1
	 * keeps the period; -1 memory without swap lifts swap too. */
	struct keel_spec_resources e1 = {.has_cpu_shares = true,
					 .cpu_shares = 2,
					 .has_cpu_quota = true,
					 .cpu_quota = -1,
					 .has_cpu_period = true,
					 .cpu_period = 250000,
					 .has_memory_limit = true,
					 .memory_limit = -1};
	assert_int_equal(keel_cgroup_apply(cg, &e1, &err), 0);
	assert_file(f->root, "k/c2/cpu.weight", "1");
	assert_file(f->root, "k/c2/cpu.max", "max 250000");
	assert_file(f->root, "k/c2/memory.max", "max");
	assert_file(f->root, "k/c2/memory.swap.max", "max");
	struct keel_spec_resources e2 = {.has_cpu_shares = true, .cpu_shares = 262144};
	assert_int_equal(keel_cgroup_apply(cg, &e2, &err), 0);
	assert_file(f->root, "k/c2/cpu.weight", "10000");
	keel_cgroup_free(cg);
}

static void expect_apply_error(struct keel_cgroup *cg, const struct keel_spec_resources *r,
			       const char *needle)
{
	keel_error_t err = {0};
	assert_int_equal(keel_cgroup_apply(cg, r, &err), -1);
	if (!strstr(err.msg, needle))
		fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
}

static void test_v2_errors(void **state)
{
	struct fake *f = *state;
	struct keel_spec_device_rule devs[] = {rule(true, 'c', 1, 3, "rwm")};
	char *bad_key[] = {"../escape", "1", NULL};
	char *no_key[] = {"memory.nonexistent", "1", NULL};
	struct keel_spec_resources swap_below = {.has_memory_limit = true,
						 .memory_limit = 200,
						 .has_memory_swap = true,
						 .memory_swap = 100};
	struct keel_spec_resources swap_alone = {.has_memory_swap = true, .memory_swap = 100};
	struct keel_spec_resources rt = {.has_cpu_realtime_runtime = true,
					 .cpu_realtime_runtime = 1000};
	struct keel_spec_resources d = {.devices = devs, .n_devices = 1};
	struct keel_spec_resources u1 = {.unified = bad_key}, u2 = {.unified = no_key};
	struct keel_cgroup *cg;

	fake_v2(f->root);
	cg = open_ok(f->root, KEEL_CGROUP_V2, "/k/c2", "c2");
	expect_apply_error(cg, &swap_below, "below the memory limit");
	expect_apply_error(cg, &swap_alone, "needs a memory limit");
	expect_apply_error(cg, &rt, "realtime");
	/* A plain directory is no cgroup2: the device filter cannot attach and says so. */
	expect_apply_error(cg, &d, "not a cgroup2 directory");
	expect_apply_error(cg, &u1, "invalid knob name");
	expect_apply_error(cg, &u2, "no such knob");
	keel_cgroup_free(cg);
}

static void test_v2_freezer_fake(void **state)
{
	struct fake *f = *state;
	keel_error_t err = {0};
	struct keel_cgroup *cg;

	fake_v2(f->root);
	put(f->root, "k/c2/cgroup.events", "populated 1\nfrozen 1\n");
	cg = open_ok(f->root, KEEL_CGROUP_V2, "/k/c2", "c2");
	assert_int_equal(keel_cgroup_freeze(cg, true, &err), 0);
	assert_file(f->root, "k/c2/cgroup.freeze", "1");
	assert_int_equal(keel_cgroup_is_frozen(cg, &err), 1);
	put(f->root, "k/c2/cgroup.events", "populated 1\nfrozen 0\n");
	assert_int_equal(keel_cgroup_is_frozen(cg, &err), 0);
	assert_int_equal(keel_cgroup_freeze(cg, false, &err), 0);
	assert_file(f->root, "k/c2/cgroup.freeze", "0");
	keel_cgroup_free(cg);
}

static void test_v1_stats_fake(void **state)
{
	struct fake *f = *state;
	keel_error_t err = {0};
	struct keel_cgroup *cg;
	json_t *s;

	fake_v1(f->root, "/c");
	put(f->root, "cpu,cpuacct/c/cpuacct.usage", "300\n");
	put(f->root, "cpu,cpuacct/c/cpuacct.usage_percpu", "100 200 \n");
	put(f->root, "cpu,cpuacct/c/cpuacct.stat", "user 2\nsystem 1\n");
	put(f->root, "cpu,cpuacct/c/cpu.stat", "nr_periods 0\nnr_throttled 0\nthrottled_time 0\n");
	put(f->root, "memory/c/memory.limit_in_bytes", "1048576\n");
	put(f->root, "memory/c/memory.usage_in_bytes", "4096\n");
	put(f->root, "memory/c/memory.max_usage_in_bytes", "0\n");
	put(f->root, "memory/c/memory.failcnt", "3\n");
	put(f->root, "memory/c/memory.stat", "rss 5\ncache 7\nactive_anon 1\n");
	put(f->root, "pids/c/pids.current", "2\n");
	put(f->root, "pids/c/pids.max", "max\n");
	put(f->root, "blkio/c/blkio.throttle.io_service_bytes_recursive",
	    "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n");
	put(f->root, "hugetlb/c/hugetlb.2MB.usage_in_bytes", "0\n");
	put(f->root, "hugetlb/c/hugetlb.2MB.failcnt", "0\n");
	cg = open_ok(f->root, KEEL_CGROUP_V1, "/c", "c");
	s = keel_cgroup_stats(cg, &err);
	assert_non_null(s);
	cleanup_free char *txt = json_dumps(s, JSON_COMPACT);
	const char *want[] = {
	    "\"usage\":{\"total\":300,\"percpu\":[100,200],",
	    "\"kernel\":10000000,\"user\":20000000}", /* ticks -> ns at USER_HZ 100 */
	    "\"throttling\":{}",
	    "\"cache\":7,\"usage\":{\"limit\":1048576,\"usage\":4096,\"failcnt\":3}",
	    "\"raw\":{\"active_anon\":1,\"cache\":7,\"rss\":5}",
	    "\"pids\":{\"current\":2}",
	    "\"ioServiceBytesRecursive\":[{\"major\":8,\"minor\":0,\"op\":\"Read\",\"value\":4096}"
	    ",",
	    "\"hugetlb\":{\"2MB\":{\"failcnt\":0}}",
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++)
		if (!strstr(txt, want[i]))
			fail_msg("stats lack %s: %s", want[i], txt);
	json_decref(s);
	keel_cgroup_free(cg);
}

/* ---------- device filter: shape and behaviour ---------- */

/* Runs the generated program on one device access: a tiny interpreter for exactly the
 * instructions the generator emits, so the test checks what the kernel would decide. */
static int run_filter(const struct bpf_insn *p, size_t n, int type, int access, uint32_t maj,
		      uint32_t min)
{
	uint32_t ctx[3] = {(uint32_t)(access << 16) | (uint32_t)type, maj, min};
	uint64_t r[11] = {0};

	for (size_t pc = 0; pc < n; pc++) {
		const struct bpf_insn *i = &p[pc];
		switch (i->code) {
		case BPF_LDX | BPF_MEM | BPF_W:
			assert_int_equal(i->src_reg, 1);
			r[i->dst_reg] = ctx[i->off / 4];
			break;
		case BPF_ALU | BPF_AND | BPF_K:
			r[i->dst_reg] = (uint32_t)(r[i->dst_reg] & (uint32_t)i->imm);
			break;
		case BPF_ALU | BPF_RSH | BPF_K:
			r[i->dst_reg] = (uint32_t)r[i->dst_reg] >> i->imm;
			break;
		case BPF_ALU | BPF_MOV | BPF_X:
			r[i->dst_reg] = (uint32_t)r[i->src_reg];
			break;
		case BPF_ALU64 | BPF_MOV | BPF_K:
			r[i->dst_reg] = (uint64_t)(int64_t)i->imm;
			break;
		case BPF_JMP | BPF_JNE | BPF_K:
			if (r[i->dst_reg] != (uint64_t)(int64_t)i->imm)
				pc += (size_t)i->off;
			break;
		case BPF_JMP | BPF_JEQ | BPF_K:
			if (r[i->dst_reg] == (uint64_t)(int64_t)i->imm)
				pc += (size_t)i->off;
			break;
		case BPF_JMP | BPF_JNE | BPF_X:
			if (r[i->dst_reg] != r[i->src_reg])
				pc += (size_t)i->off;
			break;
		case BPF_JMP | BPF_EXIT:
			return (int)r[0];
		default:
			fail_msg("unexpected opcode 0x%x at %zu", i->code, pc);
		}
		assert_true(pc < n);
	}
	fail_msg("ran off the end of the program");
	return -1;
}

#define C BPF_DEVCG_DEV_CHAR
#define B BPF_DEVCG_DEV_BLOCK
#define R BPF_DEVCG_ACC_READ
#define W BPF_DEVCG_ACC_WRITE
#define M BPF_DEVCG_ACC_MKNOD

static void test_devfilter(void **state)
{
	struct keel_spec_device_rule docker[] = {
	    rule(false, 'a', -1, -1, ""), rule(true, 'c', 1, 3, "rwm"),
	    rule(true, 'c', -1, -1, "m"), rule(true, 'b', 8, -1, "r"),
	    rule(false, 'c', 1, 3, "w"),
	};
	struct keel_spec_device_rule allow_one[] = {rule(true, 'c', 1, 3, "")};
	struct keel_spec_device_rule all[] = {rule(true, 'a', -1, -1, "rwm")};
	struct keel_spec_device_rule all_but[] = {rule(true, 'a', -1, -1, ""),
						  rule(false, 'c', 1, 3, "rwm")};
	struct keel_spec_device_rule bad_type[] = {rule(true, 'x', 1, 3, "")};
	struct keel_spec_device_rule bad_access[] = {rule(true, 'c', 1, 3, "rq")};
	struct keel_spec_device_rule bad_major[] = {rule(true, 'c', 1LL << 32, 3, "")};
	struct bpf_insn *p = NULL;
	keel_error_t err = {0};
	size_t n = 0;

	(void)state;
	assert_int_equal(keel_cgroup_devfilter(docker, 5, &p, &n, &err), 0);
	/* Shape: 6-insn prologue reading the ctx; the leading deny-all is the last block
	 * and unconditional, so no epilogue follows it. */
	assert_int_equal(p[0].code, BPF_LDX | BPF_MEM | BPF_W);
	assert_int_equal(p[4].off, 4);
	assert_int_equal(p[5].off, 8);
	assert_int_equal(p[n - 1].code, BPF_JMP | BPF_EXIT);
	assert_int_equal(p[n - 2].code, BPF_ALU64 | BPF_MOV | BPF_K);
	assert_int_equal(p[n - 2].imm, 0);
	for (size_t i = 0; i < n; i++)
		if (BPF_CLASS(p[i].code) == BPF_JMP && BPF_OP(p[i].code) != BPF_EXIT)
			assert_true(i + 1 + (size_t)p[i].off < n);
	assert_int_equal(run_filter(p, n, C, R | W, 1, 3), 0); /* w denied by the last rule */
	assert_int_equal(run_filter(p, n, C, R, 1, 3), 1);
	assert_int_equal(run_filter(p, n, C, W, 1, 3), 0);
	assert_int_equal(run_filter(p, n, C, M, 1, 5), 1);
	assert_int_equal(run_filter(p, n, C, R, 1, 5), 0);
	assert_int_equal(run_filter(p, n, B, R, 8, 0), 1);
	assert_int_equal(run_filter(p, n, B, W, 8, 0), 0);
	assert_int_equal(run_filter(p, n, B, R, 9, 0), 0);
	free(p);

	assert_int_equal(keel_cgroup_devfilter(allow_one, 1, &p, &n, &err), 0);
	assert_int_equal(n, 6 + 5 + 2); /* type, major, minor tests + return; default deny */
	assert_int_equal(run_filter(p, n, C, R | W | M, 1, 3), 1);
	assert_int_equal(run_filter(p, n, C, R, 1, 5), 0);
	assert_int_equal(run_filter(p, n, B, R, 1, 3), 0);
	free(p);

	assert_int_equal(keel_cgroup_devfilter(all, 1, &p, &n, &err), 0);
	assert_int_equal(n, 8);
	assert_int_equal(run_filter(p, n, B, W, 253, 1), 1);
	free(p);

	assert_int_equal(keel_cgroup_devfilter(all_but, 2, &p, &n, &err), 0);
	assert_int_equal(run_filter(p, n, C, R, 1, 3), 0);
	assert_int_equal(run_filter(p, n, C, R, 1, 5), 1);
	free(p);

	assert_int_equal(keel_cgroup_devfilter(NULL, 0, &p, &n, &err), 0);
	assert_int_equal(n, 8); /* no rules: deny everything */
	assert_int_equal(run_filter(p, n, C, R, 1, 3), 0);
	free(p);

	assert_int_equal(keel_cgroup_devfilter(bad_type, 1, &p, &n, &err), -1);
	assert_non_null(strstr(err.msg, "invalid type"));
	assert_int_equal(keel_cgroup_devfilter(bad_access, 1, &p, &n, &err), -1);
	assert_non_null(strstr(err.msg, "invalid access"));
	assert_int_equal(keel_cgroup_devfilter(bad_major, 1, &p, &n, &err), -1);
	assert_non_null(strstr(err.msg, "out of range"));
}

/* ---------- part 2: the real kernel ---------- */

struct real {
	struct keel_cgroup *cg;
	pid_t child;
	int go[2]; /* parent -> child: "you are in the cgroup now" */
};

static int real_setup(void **state)
{
	struct real *t = calloc(1, sizeof(*t));
	t->go[0] = t->go[1] = -1;
	*state = t;
	return 0;
}

/* Runs whatever happened: kill the child, remove every directory. */
static int real_teardown(void **state)
{
	struct real *t = *state;

	if (t->child > 0) {
		kill(t->child, SIGKILL);
		if (t->cg)
			keel_cgroup_freeze(t->cg, false, NULL);
		waitpid(t->child, NULL, 0);
	}
	if (t->cg) {
		keel_cgroup_destroy(t->cg, NULL);
		for (size_t i = 0; i < t->cg->n_hiers; i++)
			rmdir(t->cg->hiers[i].dir);
		keel_cgroup_free(t->cg);
	}
	if (t->go[0] >= 0)
		close(t->go[0]);
	if (t->go[1] >= 0)
		close(t->go[1]);
	free(t);
	return 0;
}

static char *kernel_read(struct keel_cgroup *cg, const char *ctl, const char *knob)
{
	char *s = NULL;
	keel_error_t err;
	struct cgroup_hier *h = keel_cgroup_hier(cg, ctl);
	assert_non_null(h);
	if (keel_cgroup_read(h->dir, knob, &s, &err) < 0)
		fail_msg("%s", err.msg);
	return s;
}

#define assert_kernel(cg, ctl, knob, want)                                                         \
	do {                                                                                       \
		cleanup_free char *got_ = kernel_read(cg, ctl, knob);                              \
		if (strcmp(got_, want) != 0)                                                       \
			fail_msg("%s: kernel says \"%s\", want \"%s\"", knob, got_, want);         \
	} while (0)

/* The child waits for a byte, then (mode 1) probes devices and reports in its exit code,
 * or (mode 0) sleeps until killed. */
static pid_t spawn(struct real *t, int mode)
{
	pid_t pid;

	assert_int_equal(pipe(t->go), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char c;
		close(t->go[1]);
		if (read(t->go[0], &c, 1) != 1)
			_exit(100);
		if (mode == 1) {
			int nul = open("/dev/null", O_RDWR), zero = open("/dev/zero", O_RDONLY);
			_exit((nul >= 0 ? 1 : 0) | (zero >= 0 ? 2 : (errno == EPERM ? 0 : 4)));
		}
		for (;;)
			pause();
	}
	close(t->go[0]);
	t->go[0] = -1;
	return pid;
}

static void release(struct real *t)
{
	assert_int_equal(write(t->go[1], "g", 1), 1);
	close(t->go[1]);
	t->go[1] = -1;
}

static bool real_v1_available(void)
{
	struct stat st;
	if (stat("/sys/fs/cgroup/memory", &st) < 0 || geteuid() != 0) {
		print_message("SKIP: no /sys/fs/cgroup/memory (cgroup v1) or not root\n");
		return false;
	}
	return true;
}

static void check_proc_cgroup(pid_t pid, const char *path, size_t n_hiers)
{
	char p[64], line[1024];
	size_t lines = 0;
	FILE *fp;

	snprintf(p, sizeof(p), "/proc/%d/cgroup", (int)pid);
	fp = fopen(p, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp)) {
		char *cpath = strchr(strchr(line, ':') + 1, ':') + 1;
		cpath[strcspn(cpath, "\n")] = '\0';
		if (strcmp(cpath, path) != 0)
			fail_msg("/proc/%d/cgroup line \"%s\" is not in %s", (int)pid, line, path);
		lines++;
	}
	fclose(fp);
	assert_int_equal(lines, n_hiers);
}

static void test_real_v1(void **state)
{
	struct real *t = *state;
	char path[64];
	keel_error_t err = {0};
	struct keel_spec_device_rule devs[] = {rule(false, 'a', -1, -1, ""),
					       rule(true, 'c', 1, 3, "rwm")};
	struct keel_spec_resources r = {
	    .devices = devs,
	    .n_devices = 2,
	    .has_memory_limit = true,
	    .memory_limit = 64 << 20,
	    .has_memory_swap = true,
	    .memory_swap = 128 << 20,
	    .has_cpu_shares = true,
	    .cpu_shares = 512,
	    .has_cpu_quota = true,
	    .cpu_quota = 20000,
	    .has_cpu_period = true,
	    .cpu_period = 100000,
	    .cpu_cpus = "0",
	    .has_pids_limit = true,
	    .pids_limit = 32,
	};
	/* Raising both past the current memsw needs memsw first; lowering needs the
	 * opposite: the kernel refuses limit > memsw at every step. */
	struct keel_spec_resources up = {.has_memory_limit = true,
					 .memory_limit = 256 << 20,
					 .has_memory_swap = true,
					 .memory_swap = 512 << 20};
	struct keel_spec_resources down = {.has_memory_limit = true,
					   .memory_limit = 32 << 20,
					   .has_memory_swap = true,
					   .memory_swap = 48 << 20};
	pid_t *pids = NULL;
	size_t n = 0;
	int status;

	if (!real_v1_available())
		skip();
	snprintf(path, sizeof(path), "/keel-unit-%d", (int)getpid());
	t->cg = open_ok(NULL, KEEL_CGROUP_AUTO, path, "x");
	assert_int_equal(keel_cgroup_get_mode(t->cg), KEEL_CGROUP_V1);
	if (keel_cgroup_create(t->cg, &err) < 0 || keel_cgroup_apply(t->cg, &r, &err) < 0)
		fail_msg("%s", err.msg);
	assert_kernel(t->cg, "memory", "memory.limit_in_bytes", "67108864");
	assert_kernel(t->cg, "memory", MEMSW_KNOB, "134217728");
	assert_kernel(t->cg, "cpu", "cpu.shares", "512");
	assert_kernel(t->cg, "cpu", "cpu.cfs_quota_us", "20000");
	assert_kernel(t->cg, "cpu", "cpu.cfs_period_us", "100000");
	assert_kernel(t->cg, "cpuset", "cpuset.cpus", "0");
	assert_kernel(t->cg, "pids", "pids.max", "32");
	assert_kernel(t->cg, "devices", "devices.list", "c 1:3 rwm");
	if (keel_cgroup_apply(t->cg, &up, &err) < 0 || keel_cgroup_apply(t->cg, &down, &err) < 0)
		fail_msg("%s", err.msg);
	assert_kernel(t->cg, "memory", "memory.limit_in_bytes", "33554432");
	assert_kernel(t->cg, "memory", MEMSW_KNOB, "50331648");

	t->child = spawn(t, 0);
	if (keel_cgroup_enter(t->cg, t->child, &err) < 0)
		fail_msg("%s", err.msg);
	release(t);
	check_proc_cgroup(t->child, path, t->cg->n_hiers);
	assert_int_equal(keel_cgroup_pids(t->cg, &pids, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(pids[0], t->child);
	free(pids);

	assert_int_equal(keel_cgroup_freeze(t->cg, true, &err), 0);
	assert_kernel(t->cg, "freezer", "freezer.state", "FROZEN");
	assert_int_equal(keel_cgroup_is_frozen(t->cg, &err), 1);
	assert_int_equal(keel_cgroup_freeze(t->cg, false, &err), 0);
	assert_kernel(t->cg, "freezer", "freezer.state", "THAWED");
	assert_int_equal(keel_cgroup_is_frozen(t->cg, &err), 0);

	json_t *s = keel_cgroup_stats(t->cg, &err);
	assert_non_null(s);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(s, "pids"), "current")),
			 1);
	assert_int_equal(json_integer_value(json_object_get(
			     json_object_get(json_object_get(s, "memory"), "usage"), "limit")),
			 33554432);
	assert_true(json_is_object(json_object_get(json_object_get(s, "memory"), "raw")));
	assert_true(json_array_size(json_object_get(
			json_object_get(json_object_get(s, "cpu"), "usage"), "percpu")) > 0);
	json_decref(s);

	if (keel_cgroup_kill_all(t->cg, SIGKILL, &err) < 0)
		fail_msg("kill_all: %s", err.msg);
	assert_int_equal(waitpid(t->child, &status, 0), t->child);
	t->child = 0;
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* Right after the reap the kernel may still count the task: destroy retries. */
	if (keel_cgroup_destroy(t->cg, &err) < 0)
		fail_msg("destroy: %s", err.msg);
	for (size_t i = 0; i < t->cg->n_hiers; i++)
		if (access(t->cg->hiers[i].dir, F_OK) == 0)
			fail_msg("%s is left behind", t->cg->hiers[i].dir);
	/* Destroying again is fine (missing is not an error). */
	assert_int_equal(keel_cgroup_destroy(t->cg, &err), 0);
}

/* The v2 side on the hybrid layout's unified hierarchy: no controllers, but cgroup.freeze,
 * cgroup.kill and the BPF device hook are core cgroup2 features. */
static void test_real_v2_unified(void **state)
{
	struct real *t = *state;
	const char *root = "/sys/fs/cgroup/unified";
	struct keel_spec_device_rule only_null[] = {rule(false, 'a', -1, -1, ""),
						    rule(true, 'c', 1, 3, "rwm")};
	struct keel_spec_device_rule null_zero[] = {
	    rule(false, 'a', -1, -1, ""), rule(true, 'c', 1, 3, "rwm"), rule(true, 'c', 1, 5, "r")};
	struct keel_spec_resources r1 = {.devices = only_null, .n_devices = 2};
	struct keel_spec_resources r2 = {.devices = null_zero, .n_devices = 3};
	char path[64], dir[128];
	keel_error_t err = {0};
	struct statfs sfs;
	int status;

	if (statfs(root, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC || geteuid() != 0) {
		print_message("SKIP: %s is not a cgroup2 mount (or not root)\n", root);
		skip();
	}
	snprintf(path, sizeof(path), "/keel-unit-v2-%d", (int)getpid());
	t->cg = open_ok(root, KEEL_CGROUP_AUTO, path, "x");
	assert_int_equal(keel_cgroup_get_mode(t->cg), KEEL_CGROUP_V2);
	if (keel_cgroup_create(t->cg, &err) < 0 || keel_cgroup_apply(t->cg, &r1, &err) < 0)
		fail_msg("%s", err.msg);

	/* Device filter on a real process: /dev/null allowed, /dev/zero refused. */
	t->child = spawn(t, 1);
	if (keel_cgroup_enter(t->cg, t->child, &err) < 0)
		fail_msg("%s", err.msg);
	release(t);
	assert_int_equal(waitpid(t->child, &status, 0), t->child);
	t->child = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	/* Update replaces the program: now /dev/zero opens for reading. */
	if (keel_cgroup_apply(t->cg, &r2, &err) < 0)
		fail_msg("%s", err.msg);
	uint32_t ids[8];
	union bpf_attr q = {0};
	int dfd = open(t->cg->hiers[0].dir, O_RDONLY | O_DIRECTORY);
	q.query.target_fd = (uint32_t)dfd;
	q.query.attach_type = BPF_CGROUP_DEVICE;
	q.query.prog_ids = (uint64_t)(uintptr_t)ids;
	q.query.prog_cnt = 8;
	assert_int_equal(syscall(__NR_bpf, BPF_PROG_QUERY, &q, sizeof(q)), 0);
	close(dfd);
	assert_int_equal(q.query.prog_cnt, 1);
	t->child = spawn(t, 1);
	assert_int_equal(keel_cgroup_enter(t->cg, t->child, &err), 0);
	release(t);
	assert_int_equal(waitpid(t->child, &status, 0), t->child);
	t->child = 0;
	assert_int_equal(WEXITSTATUS(status), 3);

	/* Freezer and cgroup.kill. */
	t->child = spawn(t, 0);
	assert_int_equal(keel_cgroup_enter(t->cg, t->child, &err), 0);
	release(t);
	if (keel_cgroup_freeze(t->cg, true, &err) < 0)
		fail_msg("freeze: %s", err.msg);
	assert_int_equal(keel_cgroup_is_frozen(t->cg, &err), 1);
	assert_int_equal(keel_cgroup_freeze(t->cg, false, &err), 0);
	assert_int_equal(keel_cgroup_is_frozen(t->cg, &err), 0);
	if (keel_cgroup_kill_all(t->cg, SIGKILL, &err) < 0)
		fail_msg("kill_all: %s", err.msg);
	assert_int_equal(waitpid(t->child, &status, 0), t->child);
	t->child = 0;
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	if (keel_cgroup_destroy(t->cg, &err) < 0)
		fail_msg("destroy: %s", err.msg);
	snprintf(dir, sizeof(dir), "%s%s", root, path);
	assert_int_equal(access(dir, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_paths, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_detect, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_v1_discovery, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_v1_apply, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_v1_memsw_order, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_v1_missing_controller, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_v1_freezer_fake, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_v1_stats_fake, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_v2_apply, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_v2_errors, fake_setup, fake_teardown),
	    cmocka_unit_test_setup_teardown(test_v2_freezer_fake, fake_setup, fake_teardown),
	    cmocka_unit_test(test_devfilter),
	    cmocka_unit_test_setup_teardown(test_real_v1, real_setup, real_teardown),
	    cmocka_unit_test_setup_teardown(test_real_v2_unified, real_setup, real_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
