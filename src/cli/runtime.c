/* `keel-runtime` / `keel runtime`: runc's command line over libkeel's runtime. */
#include "cli/runtime.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/commands.h"
#include "keel-config.h"
#include "runtime/container.h"
#include "runtime/sealed_exe.h"
#include "runtime/signals.h"
#include "runtime/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

#define DEFAULT_ROOT "/run/keel/runtime"

int rt_fail(const keel_error_t *err, int code)
{
	keel_log(KEEL_LOG_ERROR, "%s", err->msg);
	return code;
}

int rt_failf(int code, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	keel_log(KEEL_LOG_ERROR, "%s", msg);
	return code;
}

int rt_parse(int argc, char **argv, int *i, const struct keel_opt *opts, const char *usage,
	     int need)
{
	char errbuf[256];
	int r = keel_args_parse(argc, argv, i, opts, errbuf, sizeof(errbuf));
	if (r == 1) {
		printf("Usage: %s\n\nOptions:\n", usage);
		keel_args_usage(opts, stdout);
		return 1;
	}
	if (r < 0) {
		rt_failf(1, "%s", errbuf);
		return -1;
	}
	if (argc - *i < need) {
		rt_failf(1, "%s: %d argument%s required; usage: %s", argv[0], need,
			 need == 1 ? "" : "s", usage);
		return -1;
	}
	return 0;
}

static int print_json(json_t *j, size_t flags)
{
	char *s = json_dumps(j, flags);
	if (!s)
		return 1;
	printf("%s\n", s);
	free(s);
	return 0;
}

const char *rt_abs_path(const char *p, char *buf, size_t len)
{
	char cwd[4096];
	if (!p || p[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return p;
	snprintf(buf, len, "%s/%s", cwd, p);
	return buf;
}

int rt_listen_fds(void)
{
	const char *v = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	long n = v ? strtol(v, NULL, 10) : 0;
	/* Only fds meant for us: a stale LISTEN_FDS inherited from further up would hand the
	 * caller's fds 3.. to the container. */
	if (!pid || strtol(pid, NULL, 10) != getpid())
		return 0;
	return n > 0 && n < 1024 ? (int)n : 0;
}

/* Every simple command: parse, call one library entry, print. */

static int cmd_create(struct rt_ctx *ctx, int argc, char **argv)
{
	const char *bundle = NULL, *pid_file = NULL, *console = NULL;
	bool no_pivot = false, no_keyring = false;
	long preserve = 0;
	const struct keel_opt opts[] = {
		{"bundle", "b", KEEL_OPT_STRING, &bundle, "path to the bundle (default: cwd)"},
		{"console-socket", NULL, KEEL_OPT_STRING, &console, "unix socket to send the pty master to"},
		{"pid-file", NULL, KEEL_OPT_STRING, &pid_file, "write the init's pid here"},
		{"no-pivot", NULL, KEEL_OPT_BOOL, &no_pivot, "accepted; keel always pivots"},
		{"no-new-keyring", NULL, KEEL_OPT_BOOL, &no_keyring, "keep the caller's session keyring"},
		{"preserve-fds", NULL, KEEL_OPT_INT, &preserve, "pass N extra fds (3..3+N-1)"},
		{0}};
	int i = 1, r = rt_parse(argc, argv, &i, opts, "create [options] <container-id>", 1);
	char pid_buf[4096], sock_buf[4096];
	struct keel_create_opts o = {.root = ctx->root, .id = argv[i], .bundle = bundle,
				     .pid_file = rt_abs_path(pid_file, pid_buf, sizeof(pid_buf)),
				     .console_socket = rt_abs_path(console, sock_buf, sizeof(sock_buf)),
				     .preserve_fds = (int)preserve, .listen_fds = rt_listen_fds(),
				     .no_pivot = no_pivot,
				     .no_new_keyring = no_keyring};
	keel_error_t err;
	pid_t pid;
	if (r != 0)
		return r < 0 ? 1 : 0;
	if (keel_container_create(&o, &pid, &err) < 0)
		return rt_fail(&err, 1);
	return 0;
}

static int cmd_id_only(int argc, char **argv, const char *usage, const char **id)
{
	const struct keel_opt opts[] = {{0}};
	int i = 1, r = rt_parse(argc, argv, &i, opts, usage, 1);
	if (r != 0)
		return r < 0 ? 1 : 0;
	*id = argv[i];
	return -1;
}

static int cmd_start(struct rt_ctx *ctx, int argc, char **argv)
{
	const char *id;
	keel_error_t err;
	int r = cmd_id_only(argc, argv, "start <container-id>", &id);
	if (r >= 0)
		return r;
	return keel_container_start(ctx->root, id, &err) < 0 ? rt_fail(&err, 1) : 0;
}

static int cmd_pause(struct rt_ctx *ctx, int argc, char **argv)
{
	const char *id;
	keel_error_t err;
	int r = cmd_id_only(argc, argv, "pause <container-id>", &id);
	if (r >= 0)
		return r;
	return keel_container_pause(ctx->root, id, &err) < 0 ? rt_fail(&err, 1) : 0;
}

static int cmd_resume(struct rt_ctx *ctx, int argc, char **argv)
{
	const char *id;
	keel_error_t err;
	int r = cmd_id_only(argc, argv, "resume <container-id>", &id);
	if (r >= 0)
		return r;
	return keel_container_resume(ctx->root, id, &err) < 0 ? rt_fail(&err, 1) : 0;
}

static int cmd_state(struct rt_ctx *ctx, int argc, char **argv)
{
	const char *id;
	keel_error_t err;
	cleanup_json json_t *j = NULL;
	int r = cmd_id_only(argc, argv, "state <container-id>", &id);
	if (r >= 0)
		return r;
	j = keel_container_state(ctx->root, id, &err);
	if (!j)
		return rt_fail(&err, 1);
	return print_json(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
}

static int cmd_kill(struct rt_ctx *ctx, int argc, char **argv)
{
	bool all = false;
	const struct keel_opt opts[] = {
		{"all", "a", KEEL_OPT_BOOL, &all, "send the signal to every process of the container"},
		{0}};
	int i = 1, r = rt_parse(argc, argv, &i, opts, "kill [options] <container-id> [signal]", 1);
	const char *signame;
	keel_error_t err;
	int sig;
	if (r != 0)
		return r < 0 ? 1 : 0;
	signame = i + 1 < argc ? argv[i + 1] : "SIGTERM";
	sig = keel_signal_parse(signame);
	if (sig < 0)
		return rt_failf(1, "unknown signal \"%s\"", signame);
	return keel_container_kill(ctx->root, argv[i], sig, all, &err) < 0 ? rt_fail(&err, 1) : 0;
}

static int cmd_delete(struct rt_ctx *ctx, int argc, char **argv)
{
	bool force = false;
	const struct keel_opt opts[] = {
		{"force", "f", KEEL_OPT_BOOL, &force, "kill a running container and delete it"},
		{0}};
	int i = 1, r = rt_parse(argc, argv, &i, opts, "delete [options] <container-id>", 1);
	keel_error_t err;
	if (r != 0)
		return r < 0 ? 1 : 0;
	return keel_container_delete(ctx->root, argv[i], force, &err) < 0 ? rt_fail(&err, 1) : 0;
}

/* runc prints the list through Go's tabwriter (minwidth 12, padding 3): each column is as
 * wide as its widest cell plus 3, at least 12; the last column is not padded. */
static void print_list_table(json_t *arr)
{
	enum { COLS = 6 };
	static const char *const heads[COLS] = {"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"};
	size_t rows = json_array_size(arr) + 1, w[COLS] = {0};
	char **cells = calloc(rows * COLS, sizeof(char *));
	json_t *c;
	size_t k;

	if (!cells)
		return;
	for (int col = 0; col < COLS; col++)
		cells[col] = strdup(heads[col]);
	json_array_foreach (arr, k, c) {
		char **row = cells + (k + 1) * COLS;
		row[0] = strdup(json_string_value(json_object_get(c, "id")));
		if (asprintf(&row[1], "%lld", (long long)json_integer_value(json_object_get(c, "pid"))) < 0)
			row[1] = NULL;
		row[2] = strdup(json_string_value(json_object_get(c, "status")));
		row[3] = strdup(json_string_value(json_object_get(c, "bundle")));
		row[4] = strdup(json_string_value(json_object_get(c, "created")));
		row[5] = strdup(json_string_value(json_object_get(c, "owner")));
	}
	for (size_t r = 0; r < rows; r++)
		for (int col = 0; col < COLS; col++) {
			size_t len = cells[r * COLS + col] ? strlen(cells[r * COLS + col]) : 0;
			if (len + 3 > w[col])
				w[col] = len + 3;
		}
	for (size_t r = 0; r < rows; r++) {
		for (int col = 0; col < COLS; col++) {
			const char *v = cells[r * COLS + col] ? cells[r * COLS + col] : "";
			if (col == COLS - 1)
				printf("%s\n", v);
			else
				printf("%-*s", (int)(w[col] < 12 ? 12 : w[col]), v);
			free(cells[r * COLS + col]);
		}
	}
	free(cells);
}

static int cmd_list(struct rt_ctx *ctx, int argc, char **argv)
{
	const char *format = "table";
	bool quiet = false;
	const struct keel_opt opts[] = {
		{"format", "f", KEEL_OPT_STRING, &format, "table or json"},
		{"quiet", "q", KEEL_OPT_BOOL, &quiet, "only container IDs"},
		{0}};
	int i = 1, r = rt_parse(argc, argv, &i, opts, "list [options]", 0);
	keel_error_t err;
	cleanup_json json_t *arr = NULL;
	size_t k;
	json_t *c;
	if (r != 0)
		return r < 0 ? 1 : 0;
	arr = keel_container_list(ctx->root, &err);
	if (!arr)
		return rt_fail(&err, 1);
	if (quiet) {
		json_array_foreach (arr, k, c)
			printf("%s\n", json_string_value(json_object_get(c, "id")));
		return 0;
	}
	if (strcmp(format, "json") == 0)
		return print_json(arr, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (strcmp(format, "table") != 0)
		return rt_failf(1, "invalid format option");
	print_list_table(arr);
	return 0;
}

/* `ps ID [ps-args]`: the host's ps, keeping the container's rows (runc does the same). */
static int ps_table(pid_t *pids, size_t n, int argc, char **argv)
{
	int fd[2];
	pid_t child;
	FILE *f;
	char line[4096];
	int pid_col = -1, row = 0;

	if (pipe(fd) < 0)
		return rt_failf(1, "pipe: %s", strerror(errno));
	child = fork();
	if (child == 0) {
		char *args[64] = {"ps"};
		int k = 1;
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		if (argc == 0)
			args[k++] = "-ef";
		for (int a = 0; a < argc && k < 63; a++)
			args[k++] = argv[a];
		execvp("ps", args);
		_exit(127);
	}
	close(fd[1]);
	f = fdopen(fd[0], "r");
	while (f && fgets(line, sizeof(line), f)) {
		char copy[4096], *tok, *save = NULL;
		int col = 0;
		long val = -1;
		snprintf(copy, sizeof(copy), "%s", line);
		for (tok = strtok_r(copy, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save), col++) {
			if (row == 0 && strcmp(tok, "PID") == 0)
				pid_col = col;
			else if (row > 0 && col == pid_col)
				val = strtol(tok, NULL, 10);
		}
		if (row++ == 0) {
			fputs(line, stdout);
			continue;
		}
		for (size_t k = 0; k < n; k++)
			if (pids[k] == val)
				fputs(line, stdout);
	}
	if (f)
		fclose(f);
	waitpid(child, NULL, 0);
	if (pid_col < 0)
		return rt_failf(1, "couldn't find PID field in ps output");
	return 0;
}

static int cmd_ps(struct rt_ctx *ctx, int argc, char **argv)
{
	const char *format = "table";
	const struct keel_opt opts[] = {{"format", "f", KEEL_OPT_STRING, &format, "table or json"},
					{0}};
	int i = 1, r = rt_parse(argc, argv, &i, opts, "ps [options] <container-id> [ps options]", 1);
	keel_error_t err;
	pid_t *pids = NULL;
	size_t n = 0;
	if (r != 0)
		return r < 0 ? 1 : 0;
	if (keel_container_pids(ctx->root, argv[i], &pids, &n, &err) < 0)
		return rt_fail(&err, 1);
	if (strcmp(format, "json") == 0) {
		printf("[");
		for (size_t k = 0; k < n; k++)
			printf("%s%d", k ? "," : "", pids[k]);
		printf("]\n");
		free(pids);
		return 0;
	}
	if (strcmp(format, "table") != 0) {
		free(pids);
		return rt_failf(1, "invalid format option");
	}
	r = ps_table(pids, n, argc - i - 1, argv + i + 1);
	free(pids);
	return r;
}

static int parse_interval(const char *s, unsigned *ms)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v <= 0)
		return -1;
	if (strcmp(end, "ms") == 0)
		*ms = (unsigned)v;
	else if (strcmp(end, "s") == 0 || *end == '\0')
		*ms = (unsigned)(v * 1000);
	else if (strcmp(end, "m") == 0)
		*ms = (unsigned)(v * 60000);
	else
		return -1;
	return 0;
}

static int cmd_events(struct rt_ctx *ctx, int argc, char **argv)
{
	bool stats = false;
	const char *interval = "5s";
	const struct keel_opt opts[] = {
		{"stats", NULL, KEEL_OPT_BOOL, &stats, "print the container's stats once and exit"},
		{"interval", NULL, KEEL_OPT_STRING, &interval, "stats interval (default 5s)"},
		{0}};
	int i = 1, r = rt_parse(argc, argv, &i, opts, "events [options] <container-id>", 1);
	unsigned ms;
	keel_error_t err;
	if (r != 0)
		return r < 0 ? 1 : 0;
	if (parse_interval(interval, &ms) < 0)
		return rt_failf(1, "invalid interval \"%s\"", interval);
	for (;;) {
		json_t *ev = keel_container_stats(ctx->root, argv[i], &err);
		if (!ev)
			return rt_fail(&err, 1);
		print_json(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(ev);
		fflush(stdout);
		if (stats)
			return 0;
		usleep(ms * 1000);
	}
}

static int cmd_spec(struct rt_ctx *ctx, int argc, char **argv)
{
	const char *bundle = NULL;
	bool rootless = false;
	const struct keel_opt opts[] = {
		{"bundle", "b", KEEL_OPT_STRING, &bundle, "where to write config.json"},
		{"rootless", NULL, KEEL_OPT_BOOL, &rootless, "not supported"},
		{0}};
	int i = 1, r = rt_parse(argc, argv, &i, opts, "spec [options]", 0);
	char path[4096];
	cleanup_json json_t *j = NULL;
	keel_error_t err;
	if (r != 0)
		return r < 0 ? 1 : 0;
	if (rootless)
		return rt_failf(1, "spec --rootless is not supported by keel");
	snprintf(path, sizeof(path), "%s/config.json", bundle ? bundle : ".");
	if (access(path, F_OK) == 0)
		return rt_failf(1, "File %s exists. Remove it first", path);
	j = keel_spec_default();
	if (!j || json_dump_file(j, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0)
		return keel_err_sys(&err, "writing %s", path), rt_fail(&err, 1);
	return 0;
}

static int cmd_features(struct rt_ctx *ctx, int argc, char **argv);

static int cmd_not_supported(struct rt_ctx *ctx, int argc, char **argv)
{
	return rt_failf(1, "%s is not supported: keel has no CRIU support (CRIU does not work on "
			   "this kernel)",
			argv[0]);
}

static const struct {
	const char *name;
	int (*fn)(struct rt_ctx *ctx, int argc, char **argv);
	const char *help;
} commands[] = {
	{"checkpoint", cmd_not_supported, "checkpoint a running container (not supported)"},
	{"create", cmd_create, "create a container"},
	{"delete", cmd_delete, "delete any resources held by the container"},
	{"events", cmd_events, "display container events such as stats"},
	{"exec", rt_cmd_exec, "execute new process inside the container"},
	{"features", cmd_features, "show the enabled features"},
	{"kill", cmd_kill, "send a signal to the container's init process"},
	{"list", cmd_list, "list containers started by keel with the given root"},
	{"pause", cmd_pause, "pause all processes within the container"},
	{"ps", cmd_ps, "ps displays the processes running inside a container"},
	{"restore", cmd_not_supported, "restore a container from a checkpoint (not supported)"},
	{"resume", cmd_resume, "resumes all processes that have been previously paused"},
	{"run", rt_cmd_run, "create and run a container"},
	{"spec", cmd_spec, "create a new specification file"},
	{"start", cmd_start, "executes the user defined process in a created container"},
	{"state", cmd_state, "output the state of a container"},
	{"update", rt_cmd_update, "update container resource constraints"},
};

static const char *const hook_names[] = {"prestart", "createRuntime", "createContainer",
					  "startContainer", "poststart", "poststop", NULL};
static const char *const mount_options[] = {
	"acl", "async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec",
	"iversion", "lazytime", "loud", "mand", "noacl", "noatime", "nodev", "nodiratime",
	"noexec", "noiversion", "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid",
	"nosymfollow", "private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount",
	"rexec", "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime",
	"rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared",
	"rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared", "silent",
	"slave", "strictatime", "suid", "symfollow", "sync", "tmpcopyup", "unbindable", NULL};
static const char *const seccomp_actions[] = {
	"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
	"SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP", NULL};
static const char *const seccomp_operators[] = {
	"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
	"SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE", NULL};
static const char *const seccomp_archs[] = {
	"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
	"SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32",
	"SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64",
	"SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_X32", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64",
	NULL};

static json_t *str_array(const char *const *v)
{
	json_t *a = json_array();
	for (; *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static int cmd_features(struct rt_ctx *ctx, int argc, char **argv)
{
	cleanup_json json_t *j = json_object();
	json_t *linux = json_object(), *ns = json_array(), *caps = json_array();
	for (int t = 0; t < KEEL_NS_TYPES; t++)
		json_array_append_new(ns, json_string(keel_ns_name(t)));
	for (int c = 0; c <= keel_cap_last(); c++)
		if (keel_cap_name(c))
			json_array_append_new(caps, json_string(keel_cap_name(c)));
	json_object_set_new(j, "ociVersionMin", json_string("1.0.0"));
	json_object_set_new(j, "ociVersionMax", json_string("1.1.0"));
	json_object_set_new(j, "hooks", str_array(hook_names));
	json_object_set_new(j, "mountOptions", str_array(mount_options));
	json_object_set_new(linux, "namespaces", ns);
	json_object_set_new(linux, "capabilities", caps);
	json_object_set_new(linux, "cgroup", json_pack("{s:b,s:b,s:b,s:b}", "v1", 1, "v2", 1,
						       "systemd", 0, "systemdUser", 0));
	json_object_set_new(linux, "seccomp",
			    json_pack("{s:b,s:o,s:o,s:o}", "enabled", 1, "actions",
				      str_array(seccomp_actions), "operators",
				      str_array(seccomp_operators), "archs", str_array(seccomp_archs)));
	json_object_set_new(linux, "apparmor", json_pack("{s:b}", "enabled", 0));
	json_object_set_new(linux, "selinux", json_pack("{s:b}", "enabled", 0));
	json_object_set_new(j, "linux", linux);
	json_object_set_new(j, "annotations", json_object());
	return print_json(j, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
}

/* The commands after which a process of ours lives inside the container. */
static bool enters_container(const char *cmd)
{
	return strcmp(cmd, "create") == 0 || strcmp(cmd, "run") == 0 || strcmp(cmd, "exec") == 0;
}

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"NAME:\n   %s - keel's OCI runtime, a drop-in replacement for runc\n\n"
		"USAGE:\n   %s [global options] command [command options] [arguments...]\n\n"
		"COMMANDS:\n",
		prog, prog);
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		fprintf(f, "   %-11s %s\n", commands[k].name, commands[k].help);
	fprintf(f, "\nGLOBAL OPTIONS:\n"
		   "   --root value        state directory (default: " DEFAULT_ROOT ")\n"
		   "   --log value         log file (default: stderr)\n"
		   "   --log-format value  text or json (default: text)\n"
		   "   --debug             debug logging\n"
		   "   --systemd-cgroup    not supported (cgroupfs only)\n"
		   "   --criu value        ignored (checkpoint/restore are not supported)\n"
		   "   --rootless value    ignored (keel runs as root)\n"
		   "   --help, -h          show help\n"
		   "   --version, -v       print the version\n");
}

int keel_cli_runtime(int argc, char **argv)
{
	const char *root = DEFAULT_ROOT, *log = NULL, *log_format = "text", *criu = NULL,
		   *rootless = NULL;
	bool debug = false, systemd = false, version = false;
	const struct keel_opt globals[] = {
		{"root", NULL, KEEL_OPT_STRING, &root, NULL},
		{"log", NULL, KEEL_OPT_STRING, &log, NULL},
		{"log-format", NULL, KEEL_OPT_STRING, &log_format, NULL},
		{"debug", NULL, KEEL_OPT_BOOL, &debug, NULL},
		{"systemd-cgroup", NULL, KEEL_OPT_BOOL, &systemd, NULL},
		{"criu", NULL, KEEL_OPT_STRING, &criu, NULL},
		{"rootless", NULL, KEEL_OPT_STRING, &rootless, NULL},
		{"version", "v", KEEL_OPT_BOOL, &version, NULL},
		{0}};
	const char *prog = strcmp(argv[0], "runtime") == 0 ? "keel runtime" : "keel-runtime";
	struct rt_ctx ctx;
	char errbuf[256];
	int i = 1, r;

	r = keel_args_parse(argc, argv, &i, globals, errbuf, sizeof(errbuf));
	if (r == 1) {
		usage(stdout, prog);
		return 0;
	}
	keel_log_open(log, log_format && strcmp(log_format, "json") == 0, debug);
	if (r < 0)
		return rt_failf(1, "%s", errbuf);
	if (version) {
		printf("%s version %s\ncommit: %s\nspec: 1.1.0\n", prog, KEEL_VERSION, KEEL_COMMIT);
		return 0;
	}
	if (systemd)
		return rt_failf(1, "--systemd-cgroup is not supported by keel: use the cgroupfs "
				   "driver");
	if (i >= argc) {
		usage(stderr, prog);
		return 1;
	}
	/* create chdirs into the bundle: every path the caller gave must be absolute by then. */
	{
		static char abs_root[4096];
		if (root[0] != '/' && realpath(".", abs_root) &&
		    strlen(abs_root) + strlen(root) + 2 < sizeof(abs_root)) {
			strcat(abs_root, "/");
			strcat(abs_root, root);
			root = abs_root;
		}
	}
	ctx.root = root;
	ctx.prog = prog;
	if (enters_container(argv[i])) {
		keel_error_t err;
		/* argv as we got it: the sealed copy parses it again from the top. */
		if (keel_sealed_exe_ensure(strcmp(prog, "keel runtime") == 0 ? argv - 1 : argv, &err) < 0)
			return rt_fail(&err, 1);
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[i], commands[k].name) == 0)
			return commands[k].fn(&ctx, argc - i, argv + i);
	if (strcmp(argv[i], "help") == 0) {
		usage(stdout, prog);
		return 0;
	}
	fprintf(stderr, "No help topic for '%s'\n", argv[i]);
	return 3;
}
