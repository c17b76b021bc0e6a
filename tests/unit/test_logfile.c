/* Docker json-file log: encoding as dockerd writes it, line splitting, rotation, the reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/logfile.h"
#include "util/fs.h"

static char dir[] = "/tmp/keel-test-logfile-XXXXXX";
static char logp[256];

static int setup(void **state)
{
	keel_error_t err;
	if (!mkdtemp(dir))
		return -1;
	snprintf(logp, sizeof(logp), "%s/c-json.log", dir);
	return keel_mkdir_p(dir, 0700, &err);
}

static int teardown(void **state)
{
	keel_error_t err;
	return keel_rm_rf(dir, &err);
}

static void reset_log(void)
{
	char p[300];
	unlink(logp);
	for (int i = 1; i < 10; i++) {
		snprintf(p, sizeof(p), "%s.%d", logp, i);
		unlink(p);
		snprintf(p, sizeof(p), "%s.%d.gz", logp, i);
		unlink(p);
	}
}

/* Collects emitted entries as "<stream>|<data>" records, '\x1e'-separated. */
struct sink {
	char buf[1 << 20];
	size_t len;
	int n;
};

static int collect(void *arg, enum keel_log_stream s, const struct timespec *t, const char *d,
		   size_t len)
{
	struct sink *k = arg;
	k->len += (size_t)snprintf(k->buf + k->len, sizeof(k->buf) - k->len, "%s|%.*s\x1e",
				   s == KEEL_LOG_STDERR ? "err" : "out", (int)len, d);
	k->n++;
	return 0;
}

static void read_all(struct sink *k, long tail)
{
	struct keel_logs_opts o = { .tail = tail, .emit = collect, .emit_arg = k, .stop_fd = -1 };
	keel_error_t err;
	k->len = 0;
	k->n = 0;
	k->buf[0] = '\0';
	assert_int_equal(keel_logfile_read(logp, &o, &err), 0);
}

static void test_encode_like_docker(void **state)
{
	struct timespec t = { 1714557600, 123400000 };
	size_t n;
	const char in[] = "a\"b\\c<>&\t\x01\r\n\xff\xe2\x80\xa8\xc3\xa9";
	char *e = keel_logfile_encode(KEEL_LOG_STDERR, in, sizeof(in) - 1, NULL, &t, &n);
	assert_non_null(e);
	assert_string_equal(e, "{\"log\":\"a\\\"b\\\\c\\u003c\\u003e\\u0026\\u0009\\u0001\\r\\n"
			       "\\ufffd\\u2028\xc3\xa9\",\"stream\":\"stderr\","
			       "\"time\":\"2024-05-01T10:00:00.1234Z\"}\n");
	assert_int_equal(n, strlen(e));
	free(e);
}

static void test_time_format(void **state)
{
	char b[48];
	keel_logfile_format_time(&(struct timespec){ 1714557600, 0 }, b, sizeof(b));
	assert_string_equal(b, "2024-05-01T10:00:00Z");
	keel_logfile_format_time(&(struct timespec){ 1714557600, 5 }, b, sizeof(b));
	assert_string_equal(b, "2024-05-01T10:00:00.000000005Z");
}

static void test_lines_and_partials(void **state)
{
	keel_error_t err;
	struct keel_logfile_opts o = { .path = logp, .max_files = 1 };
	struct keel_logfile *lf;
	struct sink *k = calloc(1, sizeof(*k));
	char *big = malloc(40001);

	reset_log();
	lf = keel_logfile_open(&o, &err);
	assert_non_null(lf);
	assert_int_equal(keel_logfile_write(lf, KEEL_LOG_STDOUT, "hello\nwor", 9, &err), 0);
	assert_int_equal(keel_logfile_write(lf, KEEL_LOG_STDERR, "oops\n", 5, &err), 0);
	assert_int_equal(keel_logfile_write(lf, KEEL_LOG_STDOUT, "ld\ntail", 7, &err), 0);
	assert_int_equal(keel_logfile_flush(lf, KEEL_LOG_STDOUT, &err), 0);
	memset(big, 'x', 40000);
	big[40000] = '\n';
	assert_int_equal(keel_logfile_write(lf, KEEL_LOG_STDOUT, big, 40001, &err), 0);
	keel_logfile_close(lf);

	read_all(k, -1);
	assert_int_equal(k->n, 7);
	assert_memory_equal(k->buf,
			    "out|hello\n\x1e"
			    "err|oops\n\x1e"
			    "out|world\n\x1e"
			    "out|tail\x1e",
			    strlen("out|hello\n\x1e"
				   "err|oops\n\x1e"
				   "out|world\n\x1e"
				   "out|tail\x1e"));
	/* 40000 bytes + "\n": 16K, 16K partials, then the rest with its newline */
	char *p = strstr(k->buf, "tail\x1e") + 5;
	assert_int_equal(strcspn(p, "\x1e"), 4 + 16384);
	p += 4 + 16384 + 1;
	assert_int_equal(strcspn(p, "\x1e"), 4 + 16384);
	p += 4 + 16384 + 1;
	assert_int_equal(strcspn(p, "\x1e"), 4 + 40000 - 32768 + 1);
	assert_int_equal(p[4 + 40000 - 32768], '\n');
	read_all(k, 2);
	assert_int_equal(k->n, 2);
	assert_memory_equal(k->buf, "out|x", 5);
	free(big);
	free(k);
}

static void test_rotation(void **state)
{
	keel_error_t err;
	struct keel_logfile_opts o = { .path = logp, .max_size = 300, .max_files = 3 };
	struct keel_logfile *lf;
	struct sink *k = calloc(1, sizeof(*k));
	char p[300], line[32];
	struct stat st;
	int first, last = -1, prev = -1;

	reset_log();
	lf = keel_logfile_open(&o, &err);
	assert_non_null(lf);
	for (int i = 0; i < 40; i++) {
		int n = snprintf(line, sizeof(line), "line %d\n", i);
		assert_int_equal(keel_logfile_write(lf, KEEL_LOG_STDOUT, line, (size_t)n, &err), 0);
	}
	keel_logfile_close(lf);
	snprintf(p, sizeof(p), "%s.2", logp);
	assert_int_equal(stat(p, &st), 0);
	/* one entry may go over the limit, no more */
	assert_true(st.st_size >= 300 && st.st_size < 300 + 100);
	snprintf(p, sizeof(p), "%s.3", logp);
	assert_int_equal(stat(p, &st), -1);

	read_all(k, -1);
	assert_true(k->n > 5 && k->n < 40);
	/* oldest file first: a contiguous run ending with the last line */
	assert_int_equal(sscanf(k->buf, "out|line %d", &first), 1);
	for (char *q = k->buf; (q = strstr(q, "line ")); q++) {
		last = atoi(q + 5);
		if (prev >= 0)
			assert_int_equal(last, prev + 1);
		prev = last;
	}
	assert_int_equal(last, 39);
	assert_true(first > 0);

	read_all(k, 3);
	assert_int_equal(k->n, 3);
	assert_non_null(strstr(k->buf, "line 37\n\x1e"
				       "out|line 38"));
	free(k);
}

static void test_attrs_and_details(void **state)
{
	keel_error_t err;
	struct timespec t = { 1714557600, 0 };
	struct keel_logfile_opts o = { .path = logp,
				       .max_files = 1,
				       .attrs = "{\"b\":\"x y\",\"a\":\"1&2\"}" };
	struct keel_logfile *lf;
	struct sink *k = calloc(1, sizeof(*k));
	struct keel_logs_opts ro = {
		.tail = -1, .emit = collect, .emit_arg = k, .stop_fd = -1, .details = true
	};
	size_t n;
	char *e = keel_logfile_encode(KEEL_LOG_STDOUT, "hi\n", 3, "{\"k\":\"v\"}", &t, &n);

	/* moby's order: log, stream, attrs, time */
	assert_string_equal(e, "{\"log\":\"hi\\n\",\"stream\":\"stdout\",\"attrs\":{\"k\":\"v\"},"
			       "\"time\":\"2024-05-01T10:00:00Z\"}\n");
	free(e);
	reset_log();
	lf = keel_logfile_open(&o, &err);
	assert_non_null(lf);
	assert_int_equal(keel_logfile_write(lf, KEEL_LOG_STDERR, "one\n", 4, &err), 0);
	keel_logfile_close(lf);
	read_all(k, -1);
	assert_string_equal(k->buf, "err|one\n\x1e"); /* without --details: just the data */
	k->len = 0;
	assert_int_equal(keel_logfile_read(logp, &ro, &err), 0);
	/* sorted keys, url.QueryEscape'd values, then a space */
	assert_string_equal(k->buf, "err|a=1%262,b=x+y one\n\x1e");
	o.attrs = NULL;
	reset_log();
	lf = keel_logfile_open(&o, &err);
	assert_int_equal(keel_logfile_write(lf, KEEL_LOG_STDOUT, "two\n", 4, &err), 0);
	keel_logfile_close(lf);
	k->len = 0;
	assert_int_equal(keel_logfile_read(logp, &ro, &err), 0);
	assert_string_equal(k->buf, "out| two\n\x1e"); /* docker: a lone space */
	free(k);
}

static void test_rotation_compressed(void **state)
{
	keel_error_t err;
	struct keel_logfile_opts o = {
		.path = logp, .max_size = 200, .max_files = 3, .compress = true
	};
	struct keel_logfile *lf;
	struct sink *k = calloc(1, sizeof(*k));
	char p[300], line[32], magic[2];
	int fd, prev = -1, last = -1;

	reset_log();
	lf = keel_logfile_open(&o, &err);
	assert_non_null(lf);
	for (int i = 0; i < 30; i++) {
		int n = snprintf(line, sizeof(line), "line %d\n", i);
		assert_int_equal(keel_logfile_write(lf, KEEL_LOG_STDOUT, line, (size_t)n, &err), 0);
	}
	keel_logfile_close(lf); /* waits for the last compression */
	for (int i = 1; i <= 2; i++) {
		snprintf(p, sizeof(p), "%s.%d", logp, i);
		assert_int_equal(access(p, F_OK), -1); /* the plain file is gone */
		snprintf(p, sizeof(p), "%s.%d.gz", logp, i);
		fd = open(p, O_RDONLY);
		assert_true(fd >= 0);
		assert_int_equal(read(fd, magic, 2), 2);
		assert_memory_equal(magic, "\x1f\x8b", 2);
		close(fd);
	}
	snprintf(p, sizeof(p), "%s.3.gz", logp);
	assert_int_equal(access(p, F_OK), -1);
	read_all(k, -1);
	/* the .gz files inflate in order, oldest first, up to the last line */
	for (char *q = k->buf; (q = strstr(q, "line ")); q++) {
		last = atoi(q + 5);
		if (prev >= 0)
			assert_int_equal(last, prev + 1);
		prev = last;
	}
	assert_int_equal(last, 29);
	assert_true(k->n > 6 && k->n < 30);
	read_all(k, 4);
	assert_int_equal(k->n, 4);
	assert_non_null(strstr(k->buf, "out|line 26\n"));
	free(k);
}

static void test_since_until(void **state)
{
	keel_error_t err;
	struct sink *k = calloc(1, sizeof(*k));
	struct keel_logs_opts o = { .tail = -1, .emit = collect, .emit_arg = k, .stop_fd = -1 };
	int fd;
	reset_log();
	fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	for (int i = 0; i < 5; i++) {
		size_t n;
		char d[8];
		snprintf(d, sizeof(d), "%d\n", i);
		char *e = keel_logfile_encode(KEEL_LOG_STDOUT, d, 2, NULL,
					      &(struct timespec){ 1000 + i * 10, 0 }, &n);
		assert_int_equal(write(fd, e, n), (ssize_t)n);
		free(e);
	}
	assert_int_equal(write(fd, "{\"log\":\"torn", 12), 12); /* writer killed mid-entry */
	close(fd);
	o.has_since = true;
	o.since = (struct timespec){ 1010, 0 };
	o.has_until = true;
	o.until = (struct timespec){ 1030, 0 };
	assert_int_equal(keel_logfile_read(logp, &o, &err), 0);
	assert_string_equal(k->buf, "out|1\n\x1e"
				    "out|2\n\x1e");
	free(k);
}

static void test_parse_time(void **state)
{
	keel_error_t err;
	struct timespec now = { 1714557600, 500000000 }, t;
	assert_int_equal(keel_logfile_parse_time("10m", &now, &t, &err), 0);
	assert_int_equal(t.tv_sec, 1714557600 - 600);
	assert_int_equal(t.tv_nsec, 500000000);
	assert_int_equal(keel_logfile_parse_time("1h30m", &now, &t, &err), 0);
	assert_int_equal(t.tv_sec, 1714557600 - 5400);
	assert_int_equal(keel_logfile_parse_time("2024-05-01T12:00:00.25+02:00", &now, &t, &err),
			 0);
	assert_int_equal(t.tv_sec, 1714557600);
	assert_int_equal(t.tv_nsec, 250000000);
	assert_int_equal(keel_logfile_parse_time("2024-05-01T10:00:00Z", &now, &t, &err), 0);
	assert_int_equal(t.tv_sec, 1714557600);
	assert_int_equal(keel_logfile_parse_time("1714557600.5", &now, &t, &err), 0);
	assert_int_equal(t.tv_sec, 1714557600);
	assert_int_equal(t.tv_nsec, 500000000);
	assert_int_equal(keel_logfile_parse_time("yesterday", &now, &t, &err), -1);
	assert_int_equal(keel_logfile_parse_time("10x", &now, &t, &err), -1);
	assert_int_equal(keel_logfile_parse_time("2024-13-01", &now, &t, &err), -1);
}

static void test_parse_size(void **state)
{
	keel_error_t err;
	/* json-file's max-size is units.FromHumanSize: decimal */
	assert_int_equal(keel_logfile_parse_size("10m", &err), 10 * 1000 * 1000);
	assert_int_equal(keel_logfile_parse_size("512k", &err), 512 * 1000);
	assert_int_equal(keel_logfile_parse_size("1g", &err), 1000LL * 1000 * 1000);
	assert_int_equal(keel_logfile_parse_size("100", &err), 100);
	assert_int_equal(keel_logfile_parse_size("2MB", &err), 2 * 1000 * 1000);
	assert_int_equal(keel_logfile_parse_size("1.5k", &err), 1500);
	assert_int_equal(keel_logfile_parse_size("ten", &err), -1);
	assert_int_equal(keel_logfile_parse_size("10q", &err), -1);
}

static void test_follow(void **state)
{
	keel_error_t err;
	struct sink *k = calloc(1, sizeof(*k));
	struct keel_logs_opts o = { .tail = -1, .follow = true, .emit = collect, .emit_arg = k };
	struct keel_logfile_opts lo = { .path = logp, .max_size = 200, .max_files = 2 };
	int stop[2];
	pid_t pid;

	reset_log();
	assert_int_equal(pipe(stop), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The writer: appends across a rotation, then says the container exited. */
		struct keel_logfile *lf = keel_logfile_open(&lo, &err);
		char line[32];
		for (int i = 0; lf && i < 12; i++) {
			int n = snprintf(line, sizeof(line), "f%d\n", i);
			usleep(20000);
			keel_logfile_write(lf, KEEL_LOG_STDOUT, line, (size_t)n, &err);
		}
		keel_logfile_close(lf);
		_exit(write(stop[1], "x", 1) == 1 ? 0 : 1);
	}
	close(stop[1]);
	o.stop_fd = stop[0];
	alarm(20);
	assert_int_equal(keel_logfile_read(logp, &o, &err), 0);
	alarm(0);
	waitpid(pid, NULL, 0);
	close(stop[0]);
	assert_int_equal(k->n, 12);
	assert_non_null(strstr(k->buf, "out|f0\n\x1e"));
	assert_non_null(strstr(k->buf, "out|f11\n\x1e"));
	free(k);
}

static void test_emit_fds_timestamps(void **state)
{
	int p[2];
	char buf[128] = { 0 };
	struct keel_logs_opts o = { .out_fd = -1, .timestamps = true };
	assert_int_equal(pipe(p), 0);
	o.err_fd = p[1];
	assert_int_equal(keel_logs_emit_fds(&o, KEEL_LOG_STDERR,
					    &(struct timespec){ 1714557600, 1200 }, "hi\n", 3),
			 0);
	assert_true(read(p[0], buf, sizeof(buf) - 1) > 0);
	assert_string_equal(buf, "2024-05-01T10:00:00.000001200Z hi\n");
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_like_docker),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_lines_and_partials),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_since_until),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_follow),
		cmocka_unit_test(test_emit_fds_timestamps),
		cmocka_unit_test(test_attrs_and_details),
		cmocka_unit_test(test_rotation_compressed),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
