/* keel_seccomp_build / keel_seccomp_load. Filters are loaded in forked children (a filter
 * cannot be removed), which report what they saw through their exit code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "runtime/seccomp.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* Child exit codes: 0 = all checks passed; anything else names the failed check. */
enum { CHILD_OK = 0, CHILD_BUILD = 100, CHILD_LOAD = 101 };

typedef int (*child_check_fn)(void);

/* Builds and loads `s` in a child, then runs `check` there; returns the child's exit code. */
static int run_filtered(const struct keel_spec_seccomp *s, child_check_fn check)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		keel_error_t err = {0};
		scmp_filter_ctx ctx = keel_seccomp_build(s, &err);

		if (!ctx) {
			fprintf(stderr, "build: %s\n", err.msg);
			_exit(CHILD_BUILD);
		}
		if (keel_seccomp_load(ctx, &err) < 0) {
			fprintf(stderr, "load: %s\n", err.msg);
			_exit(CHILD_LOAD);
		}
		_exit(check());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static char tmpdir[64];

static int setup_tmp(void **state)
{
	strcpy(tmpdir, "/tmp/keel-seccomp-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_tmp(void **state)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/d", tmpdir);
	rmdir(path);
	return rmdir(tmpdir);
}

/* mkdir fails with EACCES although the directory is writable; rmdir still works. */
static int check_mkdir_denied(void)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/d", tmpdir);
	if (mkdir(path, 0755) == 0)
		return 1;
	if (errno != EACCES)
		return 2;
	if (getpid() <= 0)
		return 3;
	return CHILD_OK;
}

static void test_allow_default_errno_rule(void **state)
{
	char *names[] = {"mkdir", "mkdirat", NULL};
	struct keel_spec_syscall rule = {.names = names, .action = SCMP_ACT_ERRNO(EACCES)};
	struct keel_spec_seccomp s = {
	    .default_action = SCMP_ACT_ALLOW, .syscalls = &rule, .n_syscalls = 1};

	assert_int_equal(run_filtered(&s, check_mkdir_denied), CHILD_OK);
}

/* errnoRet given separately (as in the spec) is folded into the action. */
static void test_errno_ret_field(void **state)
{
	char *names[] = {"mkdir", "mkdirat", NULL};
	struct keel_spec_syscall rule = {.names = names,
					 .action = SCMP_ACT_ERRNO(EPERM),
					 .has_errno_ret = true,
					 .errno_ret = EACCES};
	struct keel_spec_seccomp s = {
	    .default_action = SCMP_ACT_ALLOW, .syscalls = &rule, .n_syscalls = 1};

	assert_int_equal(run_filtered(&s, check_mkdir_denied), CHILD_OK);
}

/* personality(0xffffffff) only queries; the rule refuses exactly that value. */
static int check_personality_arg(void)
{
	errno = 0;
	if (personality(0xffffffff) != -1 || errno != EPERM)
		return 1;
	if (personality(PER_LINUX) < 0)
		return 2;
	return CHILD_OK;
}

static void test_arg_rule(void **state)
{
	char *names[] = {"personality", NULL};
	struct keel_spec_syscall_arg arg = {.index = 0, .value = 0xffffffff, .op = SCMP_CMP_EQ};
	struct keel_spec_syscall rule = {
	    .names = names, .action = SCMP_ACT_ERRNO(EPERM), .args = &arg, .n_args = 1};
	struct keel_spec_seccomp s = {
	    .default_action = SCMP_ACT_ALLOW, .syscalls = &rule, .n_syscalls = 1};

	assert_int_equal(run_filtered(&s, check_personality_arg), CHILD_OK);
}

/* Two comparisons on the same argument mean "either" (runc's rule), not "both". */
static int check_personality_either(void)
{
	errno = 0;
	if (personality(PER_LINUX32) != -1 || errno != EPERM)
		return 1;
	errno = 0;
	if (personality(0xffffffff) != -1 || errno != EPERM)
		return 2;
	if (personality(PER_LINUX) < 0)
		return 3;
	return CHILD_OK;
}

static void test_same_arg_twice(void **state)
{
	char *names[] = {"personality", NULL};
	struct keel_spec_syscall_arg args[] = {
	    {.index = 0, .value = PER_LINUX32, .op = SCMP_CMP_EQ},
	    {.index = 0, .value = 0xffffffff, .op = SCMP_CMP_EQ},
	};
	struct keel_spec_syscall rule = {
	    .names = names, .action = SCMP_ACT_ERRNO(EPERM), .args = args, .n_args = 2};
	struct keel_spec_seccomp s = {
	    .default_action = SCMP_ACT_ALLOW, .syscalls = &rule, .n_syscalls = 1};

	assert_int_equal(run_filtered(&s, check_personality_either), CHILD_OK);
}

static int check_personality_masked(void)
{
	errno = 0;
	if (personality(PER_LINUX32 | ADDR_NO_RANDOMIZE) != -1 || errno != EPERM)
		return 1;
	/* 0xffffffff & 0xff != PER_LINUX32: allowed (a query) */
	if (personality(0xffffffff) == -1)
		return 2;
	if (personality(PER_LINUX) < 0)
		return 3;
	return CHILD_OK;
}

/* MASKED_EQ: (arg & value) == valueTwo. Refuse personalities with the PER_LINUX32 bit. */
static void test_masked_eq(void **state)
{
	char *names[] = {"personality", NULL};
	struct keel_spec_syscall_arg arg = {
	    .index = 0, .value = 0xff, .value_two = PER_LINUX32, .op = SCMP_CMP_MASKED_EQ};
	struct keel_spec_syscall rule = {
	    .names = names, .action = SCMP_ACT_ERRNO(EPERM), .args = &arg, .n_args = 1};
	struct keel_spec_seccomp s = {
	    .default_action = SCMP_ACT_ALLOW, .syscalls = &rule, .n_syscalls = 1};

	assert_int_equal(run_filtered(&s, check_personality_masked), CHILD_OK);
}

/* Default ERRNO(ENOSYS via defaultErrnoRet) with an allow list. Unknown names skipped. */
static int check_allow_list(void)
{
	if (syscall(SYS_getpid) <= 0)
		return 1;
	errno = 0;
	if (syscall(SYS_getppid) != -1 || errno != ENOSYS)
		return 2;
	errno = 0;
	if (syscall(SYS_getuid) != -1 || errno != ENOSYS)
		return 3;
	return CHILD_OK;
}

static void test_default_errno_allow_list(void **state)
{
	/* mmap & co. keep sanitizer runtimes alive in the child */
	char *allowed[] = {"no_such_syscall",
			   "getpid",
			   "exit",
			   "exit_group",
			   "rt_sigreturn",
			   "also_not_a_syscall",
			   "write",
			   "mmap",
			   "munmap",
			   "mprotect",
			   "brk",
			   "madvise",
			   "futex",
			   "rt_sigprocmask",
			   "sigaltstack",
			   NULL};
	char *errno_names[] = {"getuid", NULL};
	struct keel_spec_syscall rules[] = {
	    {.names = allowed, .action = SCMP_ACT_ALLOW},
	    /* same action as the default: skipped instead of refused */
	    {.names = errno_names, .action = SCMP_ACT_ERRNO(ENOSYS)},
	};
	struct keel_spec_seccomp s = {.default_action = SCMP_ACT_ERRNO(EPERM),
				      .has_default_errno_ret = true,
				      .default_errno_ret = ENOSYS,
				      .syscalls = rules,
				      .n_syscalls = 2};

	assert_int_equal(run_filtered(&s, check_allow_list), CHILD_OK);
}

static void test_architectures_and_flags(void **state)
{
	uint32_t arches[] = {SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32};
	char *flags[] = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
			 "SECCOMP_FILTER_FLAG_TSYNC", NULL};
	char *names[] = {"mkdir", "mkdirat", "socketcall", NULL};
	struct keel_spec_syscall rule = {.names = names, .action = SCMP_ACT_ERRNO(EACCES)};
	struct keel_spec_seccomp s = {.default_action = SCMP_ACT_ALLOW,
				      .architectures = arches,
				      .n_architectures = 3,
				      .flags = flags,
				      .syscalls = &rule,
				      .n_syscalls = 1};
	uint32_t val = 0;
	keel_error_t err = {0};
	scmp_filter_ctx ctx;

	ctx = keel_seccomp_build(&s, &err);
	assert_non_null(ctx);
	assert_int_equal(seccomp_arch_exist(ctx, SCMP_ARCH_X86), 0);
	assert_int_equal(seccomp_arch_exist(ctx, SCMP_ARCH_X32), 0);
	assert_int_equal(seccomp_attr_get(ctx, SCMP_FLTATR_CTL_NNP, &val), 0);
	assert_int_equal(val, 0);
	assert_int_equal(seccomp_attr_get(ctx, SCMP_FLTATR_CTL_LOG, &val), 0);
	assert_int_equal(val, 1);
	assert_int_equal(seccomp_attr_get(ctx, SCMP_FLTATR_CTL_SSB, &val), 0);
	assert_int_equal(val, 1);
	assert_int_equal(seccomp_attr_get(ctx, SCMP_FLTATR_CTL_TSYNC, &val), 0);
	assert_int_equal(val, 1);
	seccomp_release(ctx);

	assert_int_equal(run_filtered(&s, check_mkdir_denied), CHILD_OK);
}

static void test_bad_flag(void **state)
{
	char *flags[] = {"SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_BOGUS", NULL};
	struct keel_spec_seccomp s = {.default_action = SCMP_ACT_ALLOW, .flags = flags};
	keel_error_t err = {0};

	assert_null(keel_seccomp_build(&s, &err));
	assert_non_null(strstr(err.msg, "SECCOMP_FILTER_FLAG_BOGUS"));
	assert_int_equal(err.errnum, EINVAL);
}

static void test_listener_path(void **state)
{
	struct keel_spec_seccomp s = {.default_action = SCMP_ACT_ALLOW,
				      .listener_path = "/run/notify.sock"};
	keel_error_t err = {0};

	assert_null(keel_seccomp_build(&s, &err));
	assert_string_equal(err.msg, "seccomp notify (listenerPath) is not supported");
	assert_int_equal(err.errnum, ENOTSUP);
}

/* Known flag without an effect here: accepted. NOTIFY actions need a listener: refused. */
static void test_wait_killable_and_notify(void **state)
{
	char *flags[] = {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", NULL};
	char *names[] = {"mkdir", NULL};
	struct keel_spec_syscall rule = {.names = names, .action = SCMP_ACT_NOTIFY};
	struct keel_spec_seccomp s = {.default_action = SCMP_ACT_ALLOW, .flags = flags};
	keel_error_t err = {0};
	scmp_filter_ctx ctx = keel_seccomp_build(&s, &err);

	assert_non_null(ctx);
	seccomp_release(ctx);

	s.syscalls = &rule;
	s.n_syscalls = 1;
	assert_null(keel_seccomp_build(&s, &err));
	assert_string_equal(err.msg, "seccomp notify (SCMP_ACT_NOTIFY) is not supported");

	s.n_syscalls = 0;
	s.default_action = SCMP_ACT_NOTIFY;
	assert_null(keel_seccomp_build(&s, &err));
	assert_int_equal(err.errnum, ENOTSUP);
}

static void test_bad_arch_and_arg_index(void **state)
{
	uint32_t arches[] = {0x12345678};
	char *names[] = {"personality", NULL};
	struct keel_spec_syscall_arg arg = {.index = 6, .value = 1, .op = SCMP_CMP_EQ};
	struct keel_spec_syscall rule = {
	    .names = names, .action = SCMP_ACT_ERRNO(EPERM), .args = &arg, .n_args = 1};
	struct keel_spec_seccomp s = {
	    .default_action = SCMP_ACT_ALLOW, .architectures = arches, .n_architectures = 1};
	keel_error_t err = {0};

	assert_null(keel_seccomp_build(&s, &err));
	assert_non_null(strstr(err.msg, "architecture"));

	s.n_architectures = 0;
	s.syscalls = &rule;
	s.n_syscalls = 1;
	assert_null(keel_seccomp_build(&s, &err));
	assert_non_null(strstr(err.msg, "argument index 6"));
}

/* ---------- Docker/Podman's default profile: correctness and speed ---------- */

#define DEFAULT_PROFILE "/usr/share/containers/seccomp.json"

/* What a `docker run` with default capabilities on amd64 keeps of the profile's
 * includes/excludes (the engine resolves them before writing config.json). */
static const char *const default_caps[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
    NULL,
};

static bool any_in(json_t *list, const char *const *set)
{
	size_t i;
	json_t *v;

	json_array_foreach(list, i, v)
	{
		for (const char *const *s = set; *s; s++)
			if (strcmp(json_string_value(v), *s) == 0)
				return true;
	}
	return false;
}

/* Does the rule apply to a default-capability amd64 container? */
static bool rule_applies(json_t *rule)
{
	static const char *const arch[] = {"amd64", NULL};
	json_t *inc = json_object_get(rule, "includes");
	json_t *exc = json_object_get(rule, "excludes");
	json_t *caps, *arches;

	caps = json_object_get(inc, "caps");
	arches = json_object_get(inc, "arches");
	for (size_t i = 0; i < json_array_size(caps); i++) {
		const char *one[] = {json_string_value(json_array_get(caps, i)), NULL};
		const char *const *dc = default_caps;

		while (*dc && strcmp(*dc, one[0]) != 0)
			dc++;
		if (!*dc)
			return false;
	}
	if (json_array_size(arches) && !any_in(arches, arch))
		return false;
	if (any_in(json_object_get(exc, "caps"), default_caps) ||
	    any_in(json_object_get(exc, "arches"), arch))
		return false;
	return true;
}

static uint32_t action_of(const char *name, json_t *errno_ret, unsigned dflt_errno)
{
	if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
		return SCMP_ACT_ALLOW;
	if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
		return SCMP_ACT_ERRNO(errno_ret ? json_integer_value(errno_ret) : dflt_errno);
	if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
		return SCMP_ACT_KILL_PROCESS;
	if (strcmp(name, "SCMP_ACT_LOG") == 0)
		return SCMP_ACT_LOG;
	fail_msg("unexpected action %s", name);
	return 0;
}

static int op_of(const char *name)
{
	static const char *const ops[] = {
	    [SCMP_CMP_NE] = "SCMP_CMP_NE",
	    [SCMP_CMP_LT] = "SCMP_CMP_LT",
	    [SCMP_CMP_LE] = "SCMP_CMP_LE",
	    [SCMP_CMP_EQ] = "SCMP_CMP_EQ",
	    [SCMP_CMP_GE] = "SCMP_CMP_GE",
	    [SCMP_CMP_GT] = "SCMP_CMP_GT",
	    [SCMP_CMP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
	};
	for (int i = SCMP_CMP_NE; i <= SCMP_CMP_MASKED_EQ; i++)
		if (strcmp(ops[i], name) == 0)
			return i;
	fail_msg("unexpected op %s", name);
	return -1;
}

/* Fills one spec rule from a profile rule; pointers borrow from the JSON. */
static void convert_rule(json_t *rule, struct keel_spec_syscall *out, size_t *n_names)
{
	json_t *names = json_object_get(rule, "names");
	json_t *args = json_object_get(rule, "args");
	size_t n_args = json_array_size(args);

	out->names = calloc(json_array_size(names) + 1, sizeof(char *));
	assert_non_null(out->names);
	for (size_t i = 0; i < json_array_size(names); i++)
		out->names[i] = (char *)json_string_value(json_array_get(names, i));
	*n_names += json_array_size(names);
	out->action = action_of(json_string_value(json_object_get(rule, "action")),
				json_object_get(rule, "errnoRet"), EPERM);
	out->args = n_args ? calloc(n_args, sizeof(*out->args)) : NULL;
	out->n_args = n_args;
	for (size_t i = 0; i < n_args; i++) {
		json_t *a = json_array_get(args, i);

		out->args[i].index = json_integer_value(json_object_get(a, "index"));
		out->args[i].value = json_integer_value(json_object_get(a, "value"));
		out->args[i].value_two = json_integer_value(json_object_get(a, "valueTwo"));
		out->args[i].op = op_of(json_string_value(json_object_get(a, "op")));
	}
}

static void free_profile(struct keel_spec_seccomp *s)
{
	for (size_t i = 0; i < s->n_syscalls; i++) {
		free(s->syscalls[i].names);
		free(s->syscalls[i].args);
	}
	free(s->syscalls);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int check_profile(void)
{
	errno = 0;
	/* bpf needs CAP_SYS_ADMIN in the profile: errnoRet 1 */
	if (syscall(SYS_bpf, -1, NULL, 0) != -1 || errno != EPERM)
		return 1;
	/* personality is allowed for a few values only; others get defaultErrnoRet */
	if (personality(0xffffffff) == -1)
		return 2;
	errno = 0;
	if (personality(PER_BSD) != -1 || errno != ENOSYS)
		return 3;
	if (getpid() <= 0 || getppid() <= 0)
		return 4;
	return CHILD_OK;
}

/* Builds + loads in a child, reporting both durations over a pipe. */
static void time_load(const struct keel_spec_seccomp *s, double *build_us, double *load_us)
{
	int fds[2], status;
	double t[2] = {0, 0};
	pid_t pid;

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		keel_error_t err = {0};
		double t0 = now_us(), t1;
		scmp_filter_ctx ctx = keel_seccomp_build(s, &err);

		t1 = now_us();
		if (!ctx || keel_seccomp_load(ctx, &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			_exit(CHILD_BUILD);
		}
		t[0] = t1 - t0;
		t[1] = now_us() - t1;
		if (write(fds[1], t, sizeof(t)) != sizeof(t))
			_exit(CHILD_LOAD);
		_exit(check_profile());
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], t, sizeof(t)), sizeof(t));
	close(fds[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), CHILD_OK);
	*build_us = t[0];
	*load_us = t[1];
}

static void test_docker_profile(void **state)
{
	cleanup_json json_t *root = json_load_file(DEFAULT_PROFILE, 0, NULL);
	uint32_t arches[] = {SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32};
	struct keel_spec_seccomp s = {.architectures = arches, .n_architectures = 3};
	json_t *rules, *rule;
	size_t i, n_names = 0;
	double build = 0, load = 0, b, l, t0;
	enum { ROUNDS = 10 };

	if (!root)
		skip();
	s.default_action = action_of(json_string_value(json_object_get(root, "defaultAction")),
				     json_object_get(root, "defaultErrnoRet"), EPERM);
	rules = json_object_get(root, "syscalls");
	s.syscalls = calloc(json_array_size(rules), sizeof(*s.syscalls));
	assert_non_null(s.syscalls);
	json_array_foreach(rules, i, rule)
	{
		if (rule_applies(rule))
			convert_rule(rule, &s.syscalls[s.n_syscalls++], &n_names);
	}

	for (int r = 0; r < ROUNDS; r++) {
		time_load(&s, &b, &l);
		build += b;
		load += l;
	}
	/* Building alone, in this process (warm caches, as a runtime would be). */
	t0 = now_us();
	for (int r = 0; r < ROUNDS; r++) {
		keel_error_t err = {0};
		scmp_filter_ctx ctx = keel_seccomp_build(&s, &err);

		assert_non_null(ctx);
		seccomp_release(ctx);
	}
	print_message("# default profile: %zu rules, %zu names, 3 arches: build %.0f us, "
		      "load %.0f us (child, mean of %d); build in-process %.0f us\n",
		      s.n_syscalls, n_names, build / ROUNDS, load / ROUNDS, ROUNDS,
		      (now_us() - t0) / ROUNDS);
	free_profile(&s);
}

/* The compiled program is cached by key: the second compile reads the same instructions
 * back, a different key builds anew, and the cached program really filters. */
static void test_compiled_cache(void **state)
{
	char *names[] = {"mkdir", "mkdirat", NULL};
	struct keel_spec_syscall rule = {.names = names, .action = SCMP_ACT_ERRNO(EACCES)};
	struct keel_spec_seccomp s = {
	    .default_action = SCMP_ACT_ALLOW, .syscalls = &rule, .n_syscalls = 1};
	struct keel_seccomp_prog a, b;
	keel_error_t err;
	char cache[128];
	struct stat st;
	int status, files = 0;
	DIR *d;
	pid_t pid;

	snprintf(cache, sizeof(cache), "%s/cache", tmpdir);
	assert_int_equal(keel_seccomp_compile(&s, "{\"k\":1}", cache, &a, &err), 0);
	assert_int_equal(keel_seccomp_compile(&s, "{\"k\":1}", cache, &b, &err), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.insns, b.insns, a.len * sizeof(struct sock_filter));
	keel_seccomp_prog_free(&b);
	assert_int_equal(keel_seccomp_compile(&s, "{\"k\":2}", cache, &b, &err), 0);
	keel_seccomp_prog_free(&b);
	d = opendir(cache);
	assert_non_null(d);
	for (struct dirent *de; (de = readdir(d));)
		files += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 2);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || keel_seccomp_prog_load(&a, &err) < 0)
			_exit(CHILD_LOAD);
		_exit(check_mkdir_denied());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), CHILD_OK);
	keel_seccomp_prog_free(&a);
	assert_int_equal(keel_rm_rf(cache, &err), 0);
	assert_int_equal(stat(cache, &st), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_allow_default_errno_rule, setup_tmp, teardown_tmp),
	    cmocka_unit_test_setup_teardown(test_errno_ret_field, setup_tmp, teardown_tmp),
	    cmocka_unit_test(test_arg_rule),
	    cmocka_unit_test(test_same_arg_twice),
	    cmocka_unit_test(test_masked_eq),
	    cmocka_unit_test(test_default_errno_allow_list),
	    cmocka_unit_test_setup_teardown(test_architectures_and_flags, setup_tmp, teardown_tmp),
	    cmocka_unit_test(test_bad_flag),
	    cmocka_unit_test(test_listener_path),
	    cmocka_unit_test(test_wait_killable_and_notify),
	    cmocka_unit_test(test_bad_arch_and_arg_index),
	    cmocka_unit_test(test_docker_profile),
	    cmocka_unit_test_setup_teardown(test_compiled_cache, setup_tmp, teardown_tmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
