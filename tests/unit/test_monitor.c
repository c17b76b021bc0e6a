/* The per-container monitor on a real busybox bundle: log streams, exit codes, restart
 * policies, stop escalation, attach, crash reconciliation, leftovers, RSS. Needs root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "engine/logfile.h"
#include "engine/monitor.h"
#include "engine/restart.h"
#include "runtime/container.h"
#include "runtime/state.h"
#include "util/fs.h"

static char base[] = "/tmp/keel-test-mon-XXXXXX";
static char bundle[300], rtroot[300];
static pid_t monitors[64];
static char ids[64][64];
static int n_spawned;
static bool have_bundle;

/* ---------- helpers ---------- */

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

static bool gone(pid_t pid, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (kill(pid, 0) < 0 && errno == ESRCH)
			return true;
		msleep(10);
	}
	return false;
}

static void set_args(const char *const *args, bool tty)
{
	char path[400];
	json_t *cfg, *proc, *arr = json_array();
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	cfg = json_load_file(path, 0, NULL);
	assert_non_null(cfg);
	for (int i = 0; args[i]; i++)
		json_array_append_new(arr, json_string(args[i]));
	proc = json_object_get(cfg, "process");
	json_object_set_new(proc, "args", arr);
	json_object_set_new(proc, "terminal", json_boolean(tty));
	assert_int_equal(json_dump_file(cfg, path, JSON_INDENT(1)), 0);
	json_decref(cfg);
}

struct ctr {
	char dir[400];
	char log[450];
	char id[64];
	pid_t mon;
	struct keel_monitor_opts o;
};

/* Fills c for a new container directory; spawn_ctr starts it. */
static void prep(struct ctr *c, const char *policy)
{
	keel_error_t err;
	int n = n_spawned++;
	snprintf(c->id, sizeof(c->id), "kmt-%d-%d", (int)getpid(), n);
	snprintf(c->dir, sizeof(c->dir), "%s/%s", base, c->id);
	snprintf(c->log, sizeof(c->log), "%s/%s-json.log", c->dir, c->id);
	assert_int_equal(keel_mkdir_p(c->dir, 0700, &err), 0);
	c->o = (struct keel_monitor_opts){ .dir = c->dir,
					   .runtime_root = rtroot,
					   .id = c->id,
					   .bundle = bundle,
					   .log_path = c->log,
					   .log_max_files = 1,
					   .stop_timeout = -1 };
	assert_int_equal(keel_restart_parse(policy, &c->o.restart, &err), 0);
	snprintf(ids[n], sizeof(ids[n]), "%s", c->id);
}

static void spawn_ctr(struct ctr *c)
{
	keel_error_t err;
	int r = keel_monitor_spawn(&c->o, &c->mon, &err);
	if (r < 0)
		fail_msg("spawn: %s", err.msg);
	monitors[n_spawned - 1] = c->mon;
}

static struct keel_monitor_status status(struct ctr *c)
{
	struct keel_monitor_status st;
	keel_error_t err;
	if (keel_monitor_read_status(c->dir, &st, &err) < 0)
		fail_msg("status: %s", err.msg);
	return st;
}

struct sink {
	char buf[65536];
	size_t len;
	int n;
};

static int collect(void *arg, enum keel_log_stream s, const struct timespec *t, const char *d,
		   size_t len)
{
	struct sink *k = arg;
	k->len += (size_t)snprintf(k->buf + k->len, sizeof(k->buf) - k->len, "%s|%.*s",
				   s == KEEL_LOG_STDERR ? "err" : "out", (int)len, d);
	k->n++;
	return 0;
}

static void read_log(struct ctr *c, struct sink *k)
{
	struct keel_logs_opts o = { .tail = -1, .emit = collect, .emit_arg = k, .stop_fd = -1 };
	keel_error_t err;
	memset(k, 0, sizeof(*k));
	assert_int_equal(keel_logfile_read(c->log, &o, &err), 0);
}

static int count(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

/* The runtime's container, its cgroups and its monitor are all gone. */
static void assert_no_leftovers(struct ctr *c)
{
	keel_error_t err;
	char cmd[600], out[256] = "";
	FILE *f;
	assert_true(gone(c->mon, 3000));
	assert_null(keel_container_state(rtroot, c->id, &err));
	snprintf(cmd, sizeof(cmd),
		 "find /sys/fs/cgroup -maxdepth 4 -name '*%s*' 2>/dev/null; grep -F '%s' "
		 "/proc/self/mountinfo",
		 c->id, base);
	f = popen(cmd, "r");
	assert_non_null(f);
	if (!fgets(out, sizeof(out), f))
		out[0] = '\0';
	pclose(f);
	assert_string_equal(out, "");
	assert_int_equal(access(c->log, F_OK), 0);
}

/* ---------- setup ---------- */

static int setup(void **state)
{
	char cmd[600];
	if (!mkdtemp(base))
		return -1;
	snprintf(bundle, sizeof(bundle), "%s/bundle", base);
	snprintf(rtroot, sizeof(rtroot), "%s/run", base);
	snprintf(cmd, sizeof(cmd), "../../tools/make-bundle.sh %s sh >/dev/null 2>&1", bundle);
	have_bundle = geteuid() == 0 && system(cmd) == 0;
	return 0;
}

static int teardown(void **state)
{
	keel_error_t err;
	/* Everything by pid / id, whatever the tests left. */
	for (int i = 0; i < n_spawned; i++)
		if (monitors[i] > 0)
			kill(monitors[i], SIGKILL);
	for (int i = 0; i < n_spawned; i++)
		keel_container_delete(rtroot, ids[i], true, &err);
	keel_rm_rf(base, &err);
	return 0;
}

#define NEED_BUNDLE()                                                                              \
	do {                                                                                       \
		if (!have_bundle)                                                                  \
			skip();                                                                    \
	} while (0)

/* ---------- tests ---------- */

static void test_restart_policy_math(void **state)
{
	struct keel_restart_policy p;
	struct keel_restart_state rs = { 0 };
	keel_error_t err;
	long long d;
	assert_int_equal(keel_restart_parse("on-failure:2", &p, &err), 0);
	assert_int_equal(p.mode, KEEL_RESTART_ON_FAILURE);
	assert_int_equal(p.max_retries, 2);
	assert_int_equal(keel_restart_parse("always:3", &p, &err), -1);
	assert_int_equal(keel_restart_parse("sometimes", &p, &err), -1);
	assert_int_equal(keel_restart_parse("on-failure:x", &p, &err), -1);
	assert_int_equal(keel_restart_parse("unless-stopped", &p, &err), 0);
	assert_int_equal(keel_restart_parse("on-failure:2", &p, &err), 0);
	assert_false(keel_restart_should(&p, &rs, 0, false, 10, &d)); /* success: no */
	assert_true(keel_restart_should(&p, &rs, 1, false, 10, &d));
	assert_true(keel_restart_should(&p, &rs, 1, false, 10, &d));
	assert_false(keel_restart_should(&p, &rs, 1, false, 10, &d)); /* third: no */
	assert_int_equal(rs.count, 2);
	/* always: 100, 200, 400 ms ... reset after 10 s of running; manual stop wins */
	keel_restart_parse("always", &p, &err);
	rs = (struct keel_restart_state){ 0 };
	assert_true(keel_restart_should(&p, &rs, 0, false, 5, &d));
	assert_int_equal(d, 100);
	assert_true(keel_restart_should(&p, &rs, 0, false, 5, &d));
	assert_int_equal(d, 200);
	assert_true(keel_restart_should(&p, &rs, 0, false, 5, &d));
	assert_int_equal(d, 400);
	assert_true(keel_restart_should(&p, &rs, 0, false, 10000, &d));
	assert_int_equal(d, 100);
	for (int i = 0; i < 20; i++)
		keel_restart_should(&p, &rs, 0, false, 5, &d);
	assert_int_equal(d, 60000);
	assert_false(keel_restart_should(&p, &rs, 0, true, 5, &d));
	keel_restart_parse("no", &p, &err);
	assert_false(keel_restart_should(&p, &rs, 1, false, 5, &d));
}

static void test_output_and_exit_code(void **state)
{
	static const char *const args[] = { "sh", "-c", "echo out; echo err >&2; exit 3", NULL };
	struct ctr c;
	struct sink k;
	keel_error_t err;
	int code = -1;
	NEED_BUNDLE();
	set_args(args, false);
	prep(&c, "no");
	spawn_ctr(&c);
	assert_int_equal(keel_monitor_wait(c.dir, &code, &err), 0);
	assert_int_equal(code, 3);
	assert_no_leftovers(&c);
	struct keel_monitor_status st = status(&c);
	assert_int_equal(st.state, KEEL_MON_EXITED);
	assert_int_equal(st.exit_code, 3);
	assert_true(st.finished_at[0] && st.started_at[0]);
	assert_int_equal(st.restart_count, 0);
	read_log(&c, &k);
	assert_int_equal(k.n, 2);
	assert_non_null(strstr(k.buf, "out|out\n"));
	assert_non_null(strstr(k.buf, "err|err\n"));
	/* a finished container: wait answers from monitor.json */
	assert_int_equal(keel_monitor_wait(c.dir, &code, &err), 0);
	assert_int_equal(code, 3);
}

/* --log-opt through the monitor: attrs on every entry, rotation into gzipped files. */
static void test_log_options(void **state)
{
	static const char *const args[] = {
		"sh", "-c", "i=0; while [ $i -lt 40 ]; do echo line$i; i=$((i+1)); done", NULL
	};
	struct ctr c;
	struct sink k;
	keel_error_t err;
	char path[600], *text = NULL;
	int code = -1;
	NEED_BUNDLE();
	set_args(args, false);
	prep(&c, "no");
	c.o.log_max_size = 400;
	c.o.log_max_files = 2;
	c.o.log_compress = true;
	c.o.log_attrs = "{\"app\":\"web\"}";
	spawn_ctr(&c);
	assert_int_equal(keel_monitor_wait(c.dir, &code, &err), 0);
	assert_int_equal(code, 0);
	assert_false(status(&c).oom_killed);
	assert_true(gone(c.mon, 3000)); /* the monitor waited for its compressor */
	snprintf(path, sizeof(path), "%s.1.gz", c.log);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s.1", c.log);
	assert_int_equal(access(path, F_OK), -1);
	assert_true(keel_read_file(c.log, &text, &err) > 0);
	assert_non_null(strstr(text, "\"stream\":\"stdout\",\"attrs\":{\"app\":\"web\"},\"time\""));
	free(text);
	read_log(&c, &k);
	assert_non_null(strstr(k.buf, "out|line39\n"));
	assert_true(k.n > 4 && k.n < 40);
}

static void test_on_failure_restarts_twice(void **state)
{
	static const char *const args[] = { "sh", "-c", "echo run; exit 1", NULL };
	struct ctr c;
	struct sink k;
	NEED_BUNDLE();
	set_args(args, false);
	prep(&c, "on-failure:2");
	spawn_ctr(&c);
	assert_true(gone(c.mon, 5000));
	struct keel_monitor_status st = status(&c);
	assert_int_equal(st.state, KEEL_MON_EXITED);
	assert_int_equal(st.exit_code, 1);
	assert_int_equal(st.restart_count, 2);
	read_log(&c, &k);
	assert_int_equal(count(k.buf, "out|run\n"), 3);
	assert_no_leftovers(&c);
}

static void test_always_until_stopped(void **state)
{
	static const char *const args[] = { "sh", "-c", "echo tick", NULL };
	struct ctr c;
	struct sink k;
	keel_error_t err;
	int code = -1, restarts;
	NEED_BUNDLE();
	set_args(args, false);
	prep(&c, "always");
	spawn_ctr(&c);
	msleep(1200); /* backoff 100+200+400 ms: at least 3 restarts */
	assert_true(status(&c).restart_count >= 3);
	assert_int_equal(keel_monitor_stop(c.dir, SIGTERM, 2, &code, &err), 0);
	assert_no_leftovers(&c);
	struct keel_monitor_status st = status(&c);
	restarts = st.restart_count;
	assert_int_equal(st.state, KEEL_MON_EXITED);
	assert_true(st.manual_stop);
	assert_int_equal(code, 0);
	read_log(&c, &k);
	assert_int_equal(count(k.buf, "out|tick\n"), restarts + 1);
	msleep(300);
	assert_int_equal(status(&c).restart_count, restarts);
}

static void test_stop_escalates_and_does_not_restart(void **state)
{
	/* pid 1 of a pid namespace ignores SIGTERM it has no handler for: SIGKILL it is. */
	static const char *const args[] = { "sleep", "1000", NULL };
	struct ctr c;
	keel_error_t err;
	struct timespec t0, t1;
	int code = -1;
	NEED_BUNDLE();
	set_args(args, false);
	prep(&c, "always");
	spawn_ctr(&c);
	assert_int_equal(status(&c).state, KEEL_MON_RUNNING);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(keel_monitor_stop(c.dir, SIGTERM, 1, &code, &err), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(code, 137);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 900 && ms < 5000); /* SIGTERM ignored, SIGKILL after the 1 s timeout */
	assert_no_leftovers(&c);
	assert_int_equal(status(&c).restart_count, 0);
	assert_int_equal(status(&c).exit_code, 137);
}

/* Reads frames until one of the type contains want (or EXIT / EOF). */
static bool read_until(int fd, const char *want, int *exit_code)
{
	char buf[KEEL_MON_FRAME_MAX + 1];
	keel_error_t err;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int type;
		ssize_t n;
		if (poll(&p, 1, 5000) <= 0)
			return false;
		n = keel_monitor_frame_read(fd, &type, buf, sizeof(buf) - 1, &err);
		if (n < 0 || type == -1)
			return false;
		buf[n] = '\0';
		if (type == KEEL_MON_EXIT) {
			int32_t code;
			memcpy(&code, buf, 4);
			*exit_code = code;
			return want == NULL;
		}
		if (want && type == KEEL_MON_STDOUT && strstr(buf, want))
			return true;
	}
}

static void test_attach_stdin_and_live_output(void **state)
{
	static const char *const args[] = { "sh", "-c", "echo hello-attach; read x; echo got:$x",
					    NULL };
	struct ctr c;
	struct sink k;
	keel_error_t err;
	struct keel_monitor_req r = { .op = KEEL_MON_OP_ATTACH, .flags = KEEL_MON_F_STDIN };
	int fd, code = -1;
	NEED_BUNDLE();
	set_args(args, false);
	prep(&c, "no");
	c.o.stdin_open = true;
	c.o.stdin_once = true;
	c.o.wait_attach = true;
	spawn_ctr(&c);
	assert_int_equal(status(&c).state, KEEL_MON_CREATED);
	fd = keel_monitor_connect(c.dir, &r, &err);
	assert_true(fd >= 0);
	assert_true(read_until(fd, "hello-attach", &code));
	assert_int_equal(keel_monitor_frame_write(fd, KEEL_MON_STDIN, "abc\n", 4, &err), 0);
	assert_true(read_until(fd, "got:abc", &code));
	assert_true(read_until(fd, NULL, &code));
	assert_int_equal(code, 0);
	close(fd);
	assert_no_leftovers(&c);
	read_log(&c, &k);
	assert_string_equal(k.buf, "out|hello-attach\nout|got:abc\n");
}

static void test_attach_running_and_tty(void **state)
{
	static const char *const args[] = { "sh", "-c", "while true; do echo tick; sleep 0.1; done",
					    NULL };
	struct ctr c;
	struct sink k;
	keel_error_t err;
	struct keel_monitor_req r = { .op = KEEL_MON_OP_ATTACH };
	int fd, code = -1;
	NEED_BUNDLE();
	set_args(args, true);
	prep(&c, "no");
	c.o.tty = true;
	spawn_ctr(&c);
	fd = keel_monitor_connect(c.dir, &r, &err);
	assert_true(fd >= 0);
	assert_true(read_until(fd, "tick", &code));
	assert_int_equal(keel_monitor_stop(c.dir, SIGKILL, 1, &code, &err), 0);
	assert_int_equal(code, 137);
	assert_true(read_until(fd, NULL, &code)); /* the attach client sees the exit too */
	close(fd);
	assert_no_leftovers(&c);
	read_log(&c, &k);
	/* a tty has one stream, logged as stdout, with the pty's line endings (onlcr: "\r\n",
	 * as docker's json-file log of a tty container has them) */
	assert_true(count(k.buf, "out|tick\r\n") >= 1);
	assert_int_equal(count(k.buf, "err|"), 0);
}

static long status_kb(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, strlen(key)) == 0)
			v = atol(line + strlen(key));
	fclose(f);
	return v;
}

static void test_kill9_monitor_then_reconcile(void **state)
{
	static const char *const args[] = { "sleep", "1000", NULL };
	struct ctr a, b;
	struct keel_monitor_status st;
	keel_error_t err;
	pid_t init;
	NEED_BUNDLE();
	set_args(args, false);

	/* a: the monitor dies, the container lives on: reported running, then killed. */
	prep(&a, "always");
	spawn_ctr(&a);
	msleep(100);
	print_message("# monitor RSS: VmRSS %ld kB (anon %ld kB, file %ld kB), Pss %ld kB\n",
		      status_kb(a.mon, "status", "VmRSS:"), status_kb(a.mon, "status", "RssAnon:"),
		      status_kb(a.mon, "status", "RssFile:"),
		      status_kb(a.mon, "smaps_rollup", "Pss:"));
	init = status(&a).pid;
	assert_true(init > 0);
	assert_int_equal(kill(a.mon, SIGKILL), 0);
	assert_true(gone(a.mon, 2000));
	assert_int_equal(keel_monitor_reconcile(a.dir, rtroot, a.id, false, &st, &err), 0);
	assert_int_equal(st.state, KEEL_MON_RUNNING);
	assert_true(st.monitor_lost);
	assert_int_equal(kill(init, 0), 0);
	assert_int_equal(keel_monitor_reconcile(a.dir, rtroot, a.id, true, &st, &err), 0);
	assert_int_equal(st.state, KEEL_MON_EXITED);
	assert_int_equal(st.exit_code, 137);
	assert_true(gone(init, 2000));
	assert_no_leftovers(&a);
	assert_int_equal(status(&a).state, KEEL_MON_EXITED);

	/* b: monitor and container both gone (a host crash, as far as files tell). */
	prep(&b, "no");
	spawn_ctr(&b);
	init = status(&b).pid;
	assert_int_equal(kill(b.mon, SIGKILL), 0);
	assert_true(gone(b.mon, 2000));
	assert_int_equal(kill(init, SIGKILL), 0);
	assert_true(gone(init, 2000));
	assert_int_equal(keel_monitor_reconcile(b.dir, rtroot, b.id, false, &st, &err), 0);
	assert_int_equal(st.state, KEEL_MON_EXITED);
	assert_int_equal(st.exit_code, 137);
	assert_non_null(strstr(st.error, "unknown"));
	assert_no_leftovers(&b);
	/* a live monitor is left alone by reconcile */
}

static void test_monitor_rss(void **state)
{
	static const char *const args[] = { "sh", "-c", "while true; do echo x; sleep 0.05; done",
					    NULL };
	struct ctr c;
	keel_error_t err;
	struct keel_monitor_status st;
	long rss, anon, pss;
	int code;
	NEED_BUNDLE();
	set_args(args, false);
	prep(&c, "no");
	spawn_ctr(&c);
	msleep(500); /* it has logged a few lines */
	rss = status_kb(c.mon, "status", "VmRSS:");
	anon = status_kb(c.mon, "status", "RssAnon:");
	pss = status_kb(c.mon, "smaps_rollup", "Pss:");
	print_message("# monitor RSS while logging: VmRSS %ld kB (anon %ld kB, file %ld kB), "
		      "Pss %ld kB\n",
		      rss, anon, status_kb(c.mon, "status", "RssFile:"), pss);
	assert_int_equal(keel_monitor_reconcile(c.dir, rtroot, c.id, false, &st, &err), 0);
	assert_int_equal(st.state, KEEL_MON_RUNNING); /* live monitor: untouched */
	assert_false(st.monitor_lost);
	assert_int_equal(keel_monitor_stop(c.dir, SIGKILL, 0, &code, &err), 0);
	assert_no_leftovers(&c);
	/* What is ours (anonymous memory) stays under 1 MiB. A sanitizer's shadow memory and
	 * allocator inflate it by megabytes, so the bound means nothing there. */
#if defined(__SANITIZE_ADDRESS__)
	skip();
#endif
	assert_true(anon > 0 && anon <= 1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_restart_policy_math),
		cmocka_unit_test(test_output_and_exit_code),
		cmocka_unit_test(test_log_options),
		cmocka_unit_test(test_on_failure_restarts_twice),
		cmocka_unit_test(test_always_until_stopped),
		cmocka_unit_test(test_stop_escalates_and_does_not_restart),
		cmocka_unit_test(test_attach_stdin_and_live_output),
		cmocka_unit_test(test_attach_running_and_tty),
		cmocka_unit_test(test_kill9_monitor_then_reconcile),
		cmocka_unit_test(test_monitor_rss),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
