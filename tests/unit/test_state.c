/* state: ids, pid start times (the pid-reuse guard), save/load round trip, status. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "runtime/state.h"
#include "util/fs.h"

static void test_check_id(void **unused)
{
	keel_error_t err;
	(void)unused;
	assert_int_equal(keel_state_check_id("abc-1_2.3+x", &err), 0);
	assert_int_equal(keel_state_check_id("", &err), -1);
	assert_int_equal(keel_state_check_id("..", &err), -1);
	assert_int_equal(keel_state_check_id("a/b", &err), -1);
	assert_string_equal(err.msg, "invalid container id format: a/b");
}

/* Field 22 of /proc/self/stat, parsed here independently (comm has no spaces for us). */
static unsigned long long start_time_by_scanf(pid_t pid)
{
	char path[64];
	unsigned long long v = 0;
	FILE *f;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%*d %*s %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d "
				   "%*d %*d %*d %*d %*d %llu",
				&v),
			 1);
	fclose(f);
	return v;
}

static void test_start_time(void **unused)
{
	unsigned long long t = keel_pid_start_time(getpid());
	(void)unused;
	assert_true(t > 0);
	assert_true(t == start_time_by_scanf(getpid()));
	assert_true(keel_pid_alive(getpid(), t));
	assert_false(keel_pid_alive(getpid(), t + 1)); /* a reused pid is not our container */
	assert_false(keel_pid_alive(0, 0));
}

static void test_save_load(void **unused)
{
	char root[] = "/tmp/keel-state-XXXXXX", dir[4096];
	keel_error_t err;
	struct keel_state st = {.id = "c1", .pid = getpid(), .bundle = "/b", .rootfs = "/b/rootfs",
				.created = "2026-01-01T00:00:00.000000000Z", .cgroup_path = "",
				.owner = "", .config = "{}"};
	struct keel_state *back;
	(void)unused;
	assert_non_null(mkdtemp(root));
	st.start_time = keel_pid_start_time(getpid());
	snprintf(dir, sizeof(dir), "%s/c1", root);
	assert_int_equal(keel_mkdir_p(dir, 0700, &err), 0);
	assert_int_equal(keel_state_save(root, &st, &err), 0);
	back = keel_state_load(root, "c1", &err);
	assert_non_null(back);
	assert_int_equal(back->pid, getpid());
	assert_true(back->start_time == st.start_time);
	assert_string_equal(back->bundle, "/b");
	assert_int_equal(keel_state_status(root, back), KEEL_STATUS_RUNNING);
	back->start_time++;
	assert_int_equal(keel_state_status(root, back), KEEL_STATUS_STOPPED);
	keel_state_free(back);
	assert_null(keel_state_load(root, "nope", &err));
	assert_string_equal(err.msg, "container does not exist");
	assert_int_equal(keel_rm_rf(root, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_check_id),
		cmocka_unit_test(test_start_time),
		cmocka_unit_test(test_save_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
