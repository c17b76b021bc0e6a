/* docker stats: go-units formatting, docker's formulas over fake cgroup v1/v2 and /proc
 * trees, and a real cgroup v1 with a busy child sampled twice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/stats.h"
#include "util/fs.h"

static void test_units(void **state)
{
	char b[64];
	assert_string_equal(keel_units_human_size(0, 3, b, sizeof(b)), "0B");
	assert_string_equal(keel_units_human_size(999, 3, b, sizeof(b)), "999B");
	assert_string_equal(keel_units_human_size(1234, 3, b, sizeof(b)), "1.23kB");
	assert_string_equal(keel_units_human_size(5600000, 3, b, sizeof(b)), "5.6MB");
	assert_string_equal(keel_units_human_size(1e9, 4, b, sizeof(b)), "1GB");
	assert_string_equal(keel_units_bytes_size(1572864, b, sizeof(b)), "1.5MiB");
	assert_string_equal(keel_units_bytes_size(8160437862.4, b, sizeof(b)), "7.6GiB");
	assert_string_equal(keel_units_bytes_size(1023, b, sizeof(b)), "1023B");
	assert_string_equal(keel_units_bytes_size(0, b, sizeof(b)), "0B");
	assert_string_equal(keel_units_human_duration(0.5, b, sizeof(b)), "Less than a second");
	assert_string_equal(keel_units_human_duration(1, b, sizeof(b)), "1 second");
	assert_string_equal(keel_units_human_duration(59, b, sizeof(b)), "59 seconds");
	assert_string_equal(keel_units_human_duration(60, b, sizeof(b)), "About a minute");
	assert_string_equal(keel_units_human_duration(45 * 60, b, sizeof(b)), "45 minutes");
	assert_string_equal(keel_units_human_duration(3600, b, sizeof(b)), "About an hour");
	assert_string_equal(keel_units_human_duration(5 * 3600, b, sizeof(b)), "5 hours");
	assert_string_equal(keel_units_human_duration(3 * 86400, b, sizeof(b)), "3 days");
	assert_string_equal(keel_units_human_duration(20 * 86400, b, sizeof(b)), "2 weeks");
	assert_string_equal(keel_units_human_duration(90 * 86400, b, sizeof(b)), "3 months");
	assert_string_equal(keel_units_human_duration(800 * 86400.0, b, sizeof(b)), "2 years");
	assert_string_equal(keel_units_time_ago(1000, 1300, b, sizeof(b)), "5 minutes ago");
}

static void test_compute_and_format(void **state)
{
	struct keel_stats_sample a = { .cpu_total_ns = 1000000000,
				       .system_ns = 100000000000ULL,
				       .online_cpus = 2 };
	struct keel_stats_sample c = a;
	struct keel_stats_row row;
	struct keel_stats_text t;
	c.cpu_total_ns += 500000000;  /* 0.5 s of container CPU */
	c.system_ns += 2000000000ULL; /* over 2 s of host CPU time (2 CPUs x 1 s) */
	c.mem_usage = 3 * 1048576;
	c.mem_inactive_file = 1572864;
	c.mem_limit = 8160437862ULL;
	c.net_rx = 1234;
	c.blk_write = 4096;
	c.pids = 3;
	keel_stats_compute(&a, &c, &row);
	assert_true(row.cpu_percent > 49.99 && row.cpu_percent < 50.01);
	keel_stats_format(&row, &t);
	assert_string_equal(t.cpu_perc, "50.00%");
	assert_string_equal(t.mem_usage, "1.5MiB / 7.6GiB");
	assert_string_equal(t.mem_perc, "0.02%");
	assert_string_equal(t.net_io, "1.23kB / 0B");
	assert_string_equal(t.block_io, "0B / 4.1kB");
	assert_string_equal(t.pids, "3");
	/* no previous sample: 0% like docker's first streamed row */
	keel_stats_compute(NULL, &c, &row);
	keel_stats_format(&row, &t);
	assert_string_equal(t.cpu_perc, "0.00%");
	/* inactive_file above usage is not subtracted */
	c.mem_inactive_file = c.mem_usage + 1;
	keel_stats_compute(&a, &c, &row);
	assert_true(row.mem_usage == (double)c.mem_usage);

	json_t *j = keel_stats_row_json(&row, "web", "0123456789ab", "web");
	assert_string_equal(json_string_value(json_object_get(j, "CPUPerc")), "50.00%");
	assert_string_equal(json_string_value(json_object_get(j, "PIDs")), "3");
	json_decref(j);
	j = keel_stats_header_json();
	assert_string_equal(json_string_value(json_object_get(j, "MemUsage")), "MEM USAGE / LIMIT");
	json_decref(j);
}

static char tmp[] = "/tmp/keel-test-stats-XXXXXX";

static void wr(const char *rel, const char *content)
{
	char p[512], d[512];
	keel_error_t err;
	snprintf(p, sizeof(p), "%s/%s", tmp, rel);
	snprintf(d, sizeof(d), "%s", p);
	*strrchr(d, '/') = '\0';
	assert_int_equal(keel_mkdir_p(d, 0755, &err), 0);
	assert_int_equal(keel_write_file(p, content, strlen(content), 0644, &err), 0);
}

static void fake_proc(void)
{
	wr("proc/stat", "cpu  100 0 50 800 10 5 5 7 0 0\ncpu0 1 2 3 4 5 6 7\n");
	wr("proc/meminfo", "MemTotal:        1000 kB\nMemFree: 10 kB\n");
	wr("proc/42/net/dev",
	   "Inter-|   Receive                                                |  Transmit\n"
	   " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets\n"
	   "    lo: 5000 10 0 0 0 0 0 0 5000 10 0 0 0 0 0 0\n"
	   "  eth0: 1500 3 0 0 0 0 0 0 700 2 0 0 0 0 0 0\n"
	   "  eth1: 500 1 0 0 0 0 0 0 300 1 0 0 0 0 0 0\n");
}

static void test_fake_v1(void **state)
{
	char cg[512], proc[512];
	struct keel_stats_source src = { .mode = KEEL_CGROUP_V1,
					 .cgroup_path = "/keel/c1",
					 .pid = 42 };
	struct keel_stats_sample s;
	keel_error_t err;
	assert_non_null(mkdtemp(tmp));
	fake_proc();
	wr("cg/cpuacct/keel/c1/cpuacct.usage", "123456789\n");
	wr("cg/memory/keel/c1/memory.usage_in_bytes", "4096000\n");
	wr("cg/memory/keel/c1/memory.limit_in_bytes", "9223372036854771712\n");
	wr("cg/memory/keel/c1/memory.stat",
	   "cache 100\ninactive_file 7\ntotal_inactive_file 96000\n");
	wr("cg/pids/keel/c1/pids.current", "4\n");
	/* the bfq file is empty (no bfq): the throttle one counts */
	wr("cg/blkio/keel/c1/blkio.io_service_bytes_recursive", "Total 0\n");
	wr("cg/blkio/keel/c1/blkio.throttle.io_service_bytes_recursive",
	   "8:0 Read 1000\n8:0 Write 2000\n8:0 Sync 3000\n8:0 Total 3000\n"
	   "8:16 Read 10\n8:16 Write 20\nTotal 3030\n");
	snprintf(cg, sizeof(cg), "%s/cg", tmp);
	snprintf(proc, sizeof(proc), "%s/proc", tmp);
	src.cgroup_root = cg;
	src.proc_root = proc;
	assert_int_equal(keel_stats_read(&src, &s, &err), 0);
	assert_int_equal(s.cpu_total_ns, 123456789);
	/* 100+0+50+800+10+5+5 ticks (steal excluded, as docker) */
	assert_int_equal(s.system_ns, 970ULL * (1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK)));
	assert_int_equal(s.mem_usage, 4096000);
	assert_int_equal(s.mem_inactive_file, 96000);
	assert_int_equal(s.mem_limit, 1024000); /* unlimited: the host's MemTotal */
	assert_int_equal(s.pids, 4);
	assert_int_equal(s.blk_read, 1010);
	assert_int_equal(s.blk_write, 2020);
	assert_int_equal(s.net_rx, 2000); /* lo excluded */
	assert_int_equal(s.net_tx, 1000);

	src.cgroup_path = "/keel/missing";
	assert_int_equal(keel_stats_read(&src, &s, &err), -1);
}

static void test_fake_v2(void **state)
{
	char cg[512], proc[512];
	struct keel_stats_source src = { .mode = KEEL_CGROUP_V2, .cgroup_path = "/keel/c2" };
	struct keel_stats_sample s;
	keel_error_t err;
	wr("cg2/keel/c2/cpu.stat", "usage_usec 5000\nuser_usec 4000\n");
	wr("cg2/keel/c2/memory.current", "2000000\n");
	wr("cg2/keel/c2/memory.max", "max\n");
	wr("cg2/keel/c2/memory.stat", "anon 1\nactive_file 5\ninactive_file 1000\n");
	wr("cg2/keel/c2/pids.current", "2\n");
	wr("cg2/keel/c2/io.stat", "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n"
				  "8:16 rbytes=1 wbytes=2 rios=1 wios=1\n");
	snprintf(cg, sizeof(cg), "%s/cg2", tmp);
	snprintf(proc, sizeof(proc), "%s/proc", tmp);
	src.cgroup_root = cg;
	src.proc_root = proc;
	assert_int_equal(keel_stats_read(&src, &s, &err), 0);
	assert_int_equal(s.cpu_total_ns, 5000000);
	assert_int_equal(s.mem_usage, 2000000);
	assert_int_equal(s.mem_inactive_file, 1000);
	assert_int_equal(s.mem_limit, 1024000);
	assert_int_equal(s.blk_read, 101);
	assert_int_equal(s.blk_write, 202);
	assert_int_equal(s.pids, 2);
	assert_int_equal(s.net_rx, 0);
	keel_rm_rf(tmp, &err);
}

/* ---- a real v1 cgroup ---- */

static const char *const ctrls[] = { "cpuacct", "memory", "pids", "blkio" };
static char cgname[64];

static void cg_cleanup(void)
{
	char p[256];
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/%s", ctrls[i], cgname);
		for (int tries = 0; tries < 50 && rmdir(p) < 0 && errno == EBUSY; tries++)
			usleep(20000);
	}
}

static void spin_child(int go)
{
	char c;
	volatile unsigned long x = 0;
	if (read(go, &c, 1) != 1)
		_exit(1);
	/* 16 MiB charged to the new cgroup, then burn CPU */
	volatile char *m = malloc(16 << 20);
	if (!m)
		_exit(1);
	for (size_t i = 0; i < (16 << 20); i += 4096)
		m[i] = 1;
	for (;;)
		x++;
}

static void test_real_cgroup_v1(void **state)
{
	char p[256], path[80], pid_s[32];
	int pfd[2];
	pid_t child;
	keel_error_t err;
	struct keel_stats_sample a, b;
	struct keel_stats_row row;
	struct keel_stats_source src = { .mode = KEEL_CGROUP_V1, .cgroup_path = path };
	if (access("/sys/fs/cgroup/memory/memory.usage_in_bytes", F_OK) < 0 &&
	    access("/sys/fs/cgroup/memory/memory.stat", F_OK) < 0)
		skip();
	snprintf(cgname, sizeof(cgname), "keel-test-stats-%d", (int)getpid());
	snprintf(path, sizeof(path), "/%s", cgname);
	assert_int_equal(pipe(pfd), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(pfd[1]);
		spin_child(pfd[0]);
	}
	close(pfd[0]);
	snprintf(pid_s, sizeof(pid_s), "%d", (int)child);
	src.pid = child;
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/%s", ctrls[i], cgname);
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			keel_err_sys(&err, "mkdir %s", p);
			goto fail;
		}
		snprintf(p, sizeof(p), "/sys/fs/cgroup/%s/%s/cgroup.procs", ctrls[i], cgname);
		if (keel_write_file(p, pid_s, strlen(pid_s), 0, &err) < 0)
			goto fail;
	}
	snprintf(p, sizeof(p), "/sys/fs/cgroup/memory/%s/memory.limit_in_bytes", cgname);
	if (keel_write_file(p, "268435456", 9, 0, &err) < 0)
		goto fail;
	assert_int_equal(write(pfd[1], "g", 1), 1);
	usleep(300 * 1000);
	assert_int_equal(keel_stats_read(&src, &a, &err), 0);
	usleep(700 * 1000);
	assert_int_equal(keel_stats_read(&src, &b, &err), 0);
	keel_stats_compute(&a, &b, &row);
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(pfd[1]);
	cg_cleanup();
	/* one spinning thread: up to 100% (one CPU in docker's scale); the test host's other
	 * work competes for its 2 CPUs, so only a clearly busy share is asserted */
	print_message("# cpu %.2f%% mem %.0f / %.0f pids %lu\n", row.cpu_percent, row.mem_usage,
		      row.mem_limit, (unsigned long)row.pids);
	assert_true(row.cpu_percent > 10.0);
	assert_true(row.cpu_percent < 100.0 * b.online_cpus + 5);
	assert_true(row.mem_usage > 12.0 * 1048576 && row.mem_usage < 64.0 * 1048576);
	assert_true(row.mem_limit == 268435456.0);
	assert_true(row.mem_percent > 4.0 && row.mem_percent < 25.0);
	assert_int_equal(row.pids, 1);
	assert_true(b.cpu_total_ns > a.cpu_total_ns);
	return;
fail:
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	close(pfd[1]);
	cg_cleanup();
	fail_msg("cgroup setup: %s", err.msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_units),	       cmocka_unit_test(test_compute_and_format),
		cmocka_unit_test(test_fake_v1),	       cmocka_unit_test(test_fake_v2),
		cmocka_unit_test(test_real_cgroup_v1),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
