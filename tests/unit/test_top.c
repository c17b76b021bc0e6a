/* docker top: ps output filtered by pid, thread rows, the command folded into the last
 * column, docker's argument check and table layout, and a real ps run on a child. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/top.h"
#include "util/fs.h"

static const char ps_ef[] =
    "UID          PID    PPID  C STIME TTY          TIME CMD\n"
    "root           1       0  0 10:00 ?        00:00:01 /sbin/init splash\n"
    "root         100       1  0 10:01 ?        00:00:00 sleep 1000\n"
    "1000         101     100  2 10:01 pts/0    00:00:03 sh -c echo  a   b\n"
    "root         200       1  0 10:02 ?        00:00:00 other\n";

static void test_parse_filters_and_folds(void **state)
{
	pid_t pids[] = { 100, 101 };
	struct keel_top t;
	keel_error_t err;
	assert_int_equal(keel_top_parse(ps_ef, pids, 2, &t, &err), 0);
	assert_int_equal(t.ntitles, 8);
	assert_string_equal(t.titles[1], "PID");
	assert_int_equal(t.nrows, 2);
	assert_string_equal(t.rows[0][1], "100");
	assert_string_equal(t.rows[0][7], "sleep 1000");
	/* Go's strings.Fields then join: runs of spaces collapse */
	assert_string_equal(t.rows[1][7], "sh -c echo a b");
	assert_string_equal(t.rows[1][5], "pts/0");
	keel_top_free(&t);
}

static void test_parse_threads_and_errors(void **state)
{
	const char *m = "PID TTY TIME CMD\n"
			"100 ? 00:00:00 app\n"
			"- - 00:00:00 -\n"
			"- - 00:00:00 -\n"
			"200 ? 00:00:00 other\n"
			"- - 00:00:00 -\n";
	pid_t pids[] = { 100 };
	struct keel_top t;
	keel_error_t err;
	assert_int_equal(keel_top_parse(m, pids, 1, &t, &err), 0);
	assert_int_equal(t.nrows, 3); /* the process and its two threads, not 200's */
	assert_string_equal(t.rows[2][0], "-");
	keel_top_free(&t);
	assert_int_equal(keel_top_parse("USER COMMAND\nroot x\n", pids, 1, &t, &err), -1);
	assert_string_equal(err.msg, "Couldn't find PID field in ps output");
	assert_int_equal(keel_top_parse("PID CMD\nabc x\n", pids, 1, &t, &err), -1);
	assert_non_null(strstr(err.msg, "Unexpected pid 'abc'"));
}

static void test_check_args(void **state)
{
	keel_error_t err;
	assert_int_equal(keel_top_check_args("-ef", &err), 0);
	assert_int_equal(keel_top_check_args("-o pid=PID,comm", &err), 0);
	assert_int_equal(keel_top_check_args("-o user=PID", &err), -1);
	assert_string_equal(err.msg, "specifying \"user=PID\" is not allowed");
	assert_int_equal(keel_top_check_args("-o uid=X", &err), 0);
}

static void test_print_layout(void **state)
{
	pid_t pids[] = { 100 };
	struct keel_top t;
	keel_error_t err;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_int_equal(keel_top_parse(ps_ef, pids, 1, &t, &err), 0);
	keel_top_print(&t, f);
	fclose(f);
	/* tabwriter: minwidth 20, padding 3; the last column is not padded */
	assert_string_equal(
	    buf, "UID                 PID                 PPID                C                   "
		 "STIME               TTY                 TIME                CMD\n"
		 "root                100                 1                   0                   "
		 "10:01               ?                   00:00:00            sleep 1000\n");
	free(buf);
	json_t *j = keel_top_json(&t);
	assert_string_equal(json_string_value(json_array_get(json_object_get(j, "Titles"), 7)),
			    "CMD");
	assert_string_equal(json_string_value(json_array_get(
				json_array_get(json_object_get(j, "Processes"), 0), 7)),
			    "sleep 1000");
	json_decref(j);
	keel_top_free(&t);
}

static void test_real_ps(void **state)
{
	struct keel_top t;
	keel_error_t err;
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		execlp("sleep", "sleep", "37", (char *)NULL);
		_exit(127);
	}
	usleep(100 * 1000);
	assert_int_equal(keel_top_run(NULL, &child, 1, &t, &err), 0);
	assert_int_equal(t.nrows, 1);
	assert_int_equal(atoi(t.rows[0][1]), child);
	assert_string_equal(t.rows[0][t.ntitles - 1], "sleep 37");
	keel_top_free(&t);
	/* "f" cannot go with -q: the fallback without it still finds the child */
	assert_int_equal(keel_top_run("-ef f", &child, 1, &t, &err), 0);
	assert_int_equal(t.nrows, 1);
	keel_top_free(&t);
	assert_int_equal(keel_top_run("--no-such-option", &child, 1, &t, &err), -1);
	assert_non_null(strstr(err.msg, "ps: exit status"));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
}

static void test_read_pids(void **state)
{
	char path[] = "/tmp/keel-test-top-XXXXXX";
	int fd = mkstemp(path);
	pid_t *pids = NULL;
	size_t n = 0;
	keel_error_t err;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "12\n345\n6\n", 9), 9);
	close(fd);
	assert_int_equal(keel_top_read_pids(path, &pids, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pids[1], 345);
	free(pids);
	unlink(path);
	assert_int_equal(keel_top_read_pids(path, &pids, &n, &err), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_filters_and_folds),
		cmocka_unit_test(test_parse_threads_and_errors),
		cmocka_unit_test(test_check_args),
		cmocka_unit_test(test_print_layout),
		cmocka_unit_test(test_real_ps),
		cmocka_unit_test(test_read_pids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
