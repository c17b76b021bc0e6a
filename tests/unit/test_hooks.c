/* keel_hooks_run: real hooks (/bin/sh scripts) in a private temp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "runtime/hooks.h"
#include "util/cleanup.h"
#include "util/fs.h"

static char dir[64];

static int setup(void **state)
{
	strcpy(dir, "/tmp/keel-hooks-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

/* dir/<name> into buf; returns buf. */
static char *path_in(char buf[static 128], const char *name)
{
	snprintf(buf, 128, "%s/%s", dir, name);
	return buf;
}

/* The whole file, NUL-terminated (caller frees); NULL when missing. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (!f)
		return NULL;
	do {
		if (n + 4096 + 1 > cap) {
			cap = (n + 4096 + 1) * 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		r = fread(buf + n, 1, 4096, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define STATE "{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"status\":\"creating\",\"pid\":42}"

/* A hook running `sh -c script` with OUT=<dir>/out in its environment. */
struct sh_hook {
	char out[128], env_out[160];
	char *args[4];
	char *env[3];
	struct keel_spec_hook hook;
};

static void sh_hook(struct sh_hook *s, const char *script)
{
	path_in(s->out, "out");
	snprintf(s->env_out, sizeof(s->env_out), "OUT=%s", s->out);
	s->args[0] = "sh";
	s->args[1] = "-c";
	s->args[2] = (char *)script;
	s->args[3] = NULL;
	s->env[0] = s->env_out;
	s->env[1] = "PATH=/usr/bin:/bin";
	s->env[2] = NULL;
	s->hook = (struct keel_spec_hook){.path = "/bin/sh", .args = s->args, .env = s->env};
}

static void test_state_on_stdin(void **state)
{
	struct sh_hook s;
	keel_error_t err = {0};
	cleanup_free char *got = NULL;

	sh_hook(&s, "cat > \"$OUT\"");
	assert_int_equal(keel_hooks_run(&s.hook, 1, "prestart", STATE, &err), 0);
	got = slurp(s.out, NULL);
	assert_non_null(got);
	assert_string_equal(got, STATE);
}

/* Far more than a pipe holds: stdin is fed while the hook runs, not before. */
static void test_large_state(void **state)
{
	struct sh_hook s;
	keel_error_t err = {0};
	size_t big = 1 << 20, len = 0;
	cleanup_free char *json = malloc(big + 1);
	cleanup_free char *got = NULL;

	assert_non_null(json);
	for (size_t i = 0; i < big; i++)
		json[i] = 'a' + i % 26;
	json[big] = '\0';
	sh_hook(&s, "cat > \"$OUT\"");
	assert_int_equal(keel_hooks_run(&s.hook, 1, "createRuntime", json, &err), 0);
	got = slurp(s.out, &len);
	assert_int_equal(len, big);
	assert_memory_equal(got, json, big);
}

/* A hook that ignores a large stdin and exits: no SIGPIPE kills us, none stays pending. */
static void test_hook_ignores_stdin(void **state)
{
	struct sh_hook s;
	keel_error_t err = {0};
	size_t big = 1 << 20;
	cleanup_free char *json = malloc(big + 1);
	sigset_t pending;

	assert_non_null(json);
	memset(json, 'x', big);
	json[big] = '\0';
	sh_hook(&s, "exit 0");
	assert_int_equal(keel_hooks_run(&s.hook, 1, "poststart", json, &err), 0);
	sigpending(&pending);
	assert_false(sigismember(&pending, SIGPIPE));
}

static void test_exit_status_and_stderr(void **state)
{
	struct sh_hook s;
	keel_error_t err = {0};

	sh_hook(&s, "echo 'bad config' >&2; echo 'second line' >&2; exit 3");
	assert_int_equal(keel_hooks_run(&s.hook, 1, "prestart", STATE, &err), -1);
	assert_string_equal(err.msg,
			    "prestart hook #0 (/bin/sh): exit status 3, stderr: bad config");
}

static void test_stdout_reported(void **state)
{
	struct sh_hook s;
	keel_error_t err = {0};

	sh_hook(&s, "echo to-stdout; echo to-stderr >&2; exit 1");
	assert_int_equal(keel_hooks_run(&s.hook, 1, "poststop", STATE, &err), -1);
	assert_string_equal(err.msg, "poststop hook #0 (/bin/sh): exit status 1, "
				     "stderr: to-stderr, stdout: to-stdout");
}

static void test_killed_by_signal(void **state)
{
	struct sh_hook s;
	keel_error_t err = {0};

	sh_hook(&s, "kill -USR1 $$");
	assert_int_equal(keel_hooks_run(&s.hook, 1, "createContainer", STATE, &err), -1);
	assert_string_equal(err.msg, "createContainer hook #0 (/bin/sh): killed by signal 10");
}

static void test_timeout(void **state)
{
	char *args[] = {"sleep", "10", NULL};
	struct keel_spec_hook h = {
	    .path = "/bin/sleep", .args = args, .has_timeout = true, .timeout = 1};
	keel_error_t err = {0};
	double t0 = now_s(), took;

	assert_int_equal(keel_hooks_run(&h, 1, "startContainer", STATE, &err), -1);
	took = now_s() - t0;
	assert_string_equal(err.msg, "startContainer hook #0 (/bin/sleep): timed out after 1s");
	assert_true(took >= 0.9);
	assert_true(took < 2.0);
}

static void test_missing_binary(void **state)
{
	struct keel_spec_hook h = {.path = "/nonexistent/keel-hook"};
	keel_error_t err = {0};

	assert_int_equal(keel_hooks_run(&h, 1, "prestart", STATE, &err), -1);
	assert_int_equal(err.errnum, ENOENT);
	assert_string_equal(err.msg, "prestart hook #0 (/nonexistent/keel-hook): exec: "
				     "no such file or directory");
}

/* argv (argv[0] included) and the environment arrive exactly as given: read back from
 * /proc/<pid>/cmdline and /proc/<pid>/environ, which hold what execve received. */
static void test_args_and_env_exact(void **state)
{
	char out[128], env_out[160];
	char *args[] = {"my-argv0",
			"-c",
			"cat /proc/$$/cmdline > \"$OUT\"; cat /proc/$$/environ > \"$OUT.env\"",
			"arg 3",
			"",
			NULL};
	char *env[] = {env_out, "EMPTY=", "WITH SPACE=a b", NULL};
	struct keel_spec_hook h = {.path = "/bin/sh", .args = args, .env = env};
	keel_error_t err = {0};
	cleanup_free char *cmdline = NULL;
	cleanup_free char *environ_ = NULL;
	char env_path[160];
	size_t len;
	const char want_env_tail[] = "EMPTY=\0WITH SPACE=a b\0";

	path_in(out, "out");
	snprintf(env_out, sizeof(env_out), "OUT=%s", out);
	snprintf(env_path, sizeof(env_path), "%s.env", out);
	assert_int_equal(keel_hooks_run(&h, 1, "prestart", STATE, &err), 0);

	cmdline = slurp(out, &len);
	assert_non_null(cmdline);
	{
		size_t off = 0;
		for (size_t i = 0; args[i]; i++) {
			assert_true(off < len);
			assert_string_equal(cmdline + off, args[i]);
			off += strlen(args[i]) + 1;
		}
		assert_int_equal(off, len);
	}

	environ_ = slurp(env_path, &len);
	assert_non_null(environ_);
	assert_int_equal(len, strlen(env_out) + 1 + sizeof(want_env_tail) - 1);
	assert_string_equal(environ_, env_out);
	assert_memory_equal(environ_ + strlen(env_out) + 1, want_env_tail,
			    sizeof(want_env_tail) - 1);
}

/* No args: argv is {path}; no env: the environment is empty. */
static void test_defaults(void **state)
{
	char script[128], out[128], body[512];
	struct keel_spec_hook h = {.path = path_in(script, "hook.sh")};
	keel_error_t err = {0};
	cleanup_free char *got = NULL;

	path_in(out, "out");
	snprintf(body, sizeof(body),
		 "#!/bin/sh\ntr '\\0' '|' < /proc/$$/cmdline > %s\n"
		 "wc -c < /proc/$$/environ >> %s\n",
		 out, out);
	{
		FILE *f = fopen(script, "we");
		assert_non_null(f);
		fputs(body, f);
		fclose(f);
	}
	assert_int_equal(chmod(script, 0755), 0);
	assert_int_equal(keel_hooks_run(&h, 1, "prestart", STATE, &err), 0);
	got = slurp(out, NULL);
	assert_non_null(got);
	/* the kernel runs "/bin/sh <script>" for a #! file: argv[0] of the script is its path */
	{
		char want[512];
		snprintf(want, sizeof(want), "/bin/sh|%s|0\n", script);
		assert_string_equal(got, want);
	}
}

/* The caller's fds (even without O_CLOEXEC) do not reach the hook. */
static void test_no_fd_leak(void **state)
{
	struct sh_hook s;
	keel_error_t err = {0};
	cleanup_close int leak = open("/dev/null", O_RDONLY);
	cleanup_free char *got = NULL;

	assert_true(leak >= 0);
	/* ls (exec'd by sh in place) lists its own fds: stdio plus the directory it reads. */
	sh_hook(&s, "exec ls /proc/self/fd > \"$OUT\"");
	assert_int_equal(keel_hooks_run(&s.hook, 1, "prestart", STATE, &err), 0);
	got = slurp(s.out, NULL);
	assert_non_null(got);
	assert_string_equal(got, "0\n1\n2\n3\n");
}

/* The first failure stops the run; its index is in the message. */
static void test_sequence_stops(void **state)
{
	struct sh_hook s[3];
	struct keel_spec_hook hooks[3];
	keel_error_t err = {0};
	char marker[128];

	sh_hook(&s[0], "echo one > \"$OUT.1\"");
	sh_hook(&s[1], "exit 7");
	sh_hook(&s[2], "echo three > \"$OUT.3\"");
	for (int i = 0; i < 3; i++)
		hooks[i] = s[i].hook;
	assert_int_equal(keel_hooks_run(hooks, 3, "prestart", STATE, &err), -1);
	assert_string_equal(err.msg, "prestart hook #1 (/bin/sh): exit status 7");
	snprintf(marker, sizeof(marker), "%s.1", s[0].out);
	assert_int_equal(access(marker, F_OK), 0);
	snprintf(marker, sizeof(marker), "%s.3", s[0].out);
	assert_int_equal(access(marker, F_OK), -1);

	assert_int_equal(keel_hooks_run(hooks, 1, "prestart", STATE, &err), 0);
	assert_int_equal(keel_hooks_run(hooks, 0, "prestart", STATE, &err), 0);
}

/* A hook that leaves a background child holding stdout/stderr: we return when the hook
 * itself exits, not when the pipes close. */
static void test_background_grandchild(void **state)
{
	struct sh_hook s;
	keel_error_t err = {0};
	cleanup_free char *pid_text = NULL;
	double t0 = now_s();

	sh_hook(&s, "sleep 30 & echo $! > \"$OUT\"; exit 0");
	assert_int_equal(keel_hooks_run(&s.hook, 1, "poststart", STATE, &err), 0);
	assert_true(now_s() - t0 < 5.0);
	pid_text = slurp(s.out, NULL);
	assert_non_null(pid_text);
	assert_int_equal(kill(atoi(pid_text), SIGKILL), 0);
}

static void test_kind_names(void **state)
{
	assert_string_equal(keel_hook_kind_name(KEEL_HOOK_PRESTART), "prestart");
	assert_string_equal(keel_hook_kind_name(KEEL_HOOK_CREATE_RUNTIME), "createRuntime");
	assert_string_equal(keel_hook_kind_name(KEEL_HOOK_CREATE_CONTAINER), "createContainer");
	assert_string_equal(keel_hook_kind_name(KEEL_HOOK_START_CONTAINER), "startContainer");
	assert_string_equal(keel_hook_kind_name(KEEL_HOOK_POSTSTART), "poststart");
	assert_string_equal(keel_hook_kind_name(KEEL_HOOK_POSTSTOP), "poststop");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_state_on_stdin),
	    T(test_large_state),
	    T(test_hook_ignores_stdin),
	    T(test_exit_status_and_stderr),
	    T(test_stdout_reported),
	    T(test_killed_by_signal),
	    T(test_timeout),
	    T(test_missing_binary),
	    T(test_args_and_env_exact),
	    T(test_defaults),
	    T(test_no_fd_leak),
	    T(test_sequence_stops),
	    T(test_background_grandchild),
	    cmocka_unit_test(test_kind_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
