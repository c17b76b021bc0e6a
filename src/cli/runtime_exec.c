/* The runtime commands that build a process or resources from flags: exec, run, update. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/runtime.h"
#include "runtime/console.h"
#include "runtime/container.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/fs.h"

static volatile pid_t forward_pid;
static volatile sig_atomic_t tty_resized;
static int tty_master = -1; /* `run -t` without a console socket: the pty we hold */

static void forward(int sig)
{
	/* With our own pty a window change resizes it (the kernel then signals the
	 * container's foreground process group itself). */
	if (sig == SIGWINCH && tty_master >= 0) {
		tty_resized = 1;
		return;
	}
	if (forward_pid > 0)
		kill(forward_pid, sig);
}

static void copy_winsize(int master)
{
	struct winsize ws;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};

void rt_forward_signals(int pid)
{
	struct sigaction sa = {.sa_handler = forward, .sa_flags = SA_RESTART};
	forward_pid = pid;
	sigemptyset(&sa.sa_mask);
	for (size_t k = 0; k < sizeof(forwarded) / sizeof(forwarded[0]); k++)
		sigaction(forwarded[k], &sa, NULL);
}

void rt_forward_stop(void)
{
	forward_pid = 0;
}

/* ---------- exec ---------- */

static json_t *base_process(const char *root, const char *id, keel_error_t *err)
{
	struct keel_state *st = keel_state_load(root, id, err);
	json_t *cfg, *proc = NULL;
	json_error_t jerr;
	if (!st)
		return NULL;
	cfg = json_loads(st->config, 0, &jerr);
	if (cfg)
		proc = json_deep_copy(json_object_get(cfg, "process"));
	if (!proc)
		keel_err(err, EINVAL, "container %s: saved config has no process", id);
	json_decref(cfg);
	keel_state_free(st);
	return proc;
}

static void add_caps(json_t *proc, const struct keel_strlist *caps)
{
	static const char *const sets[] = {"bounding", "effective", "permitted", "inheritable",
					   "ambient"};
	json_t *c = json_object_get(proc, "capabilities");
	if (!caps->n)
		return;
	if (!c) {
		c = json_object();
		json_object_set_new(proc, "capabilities", c);
	}
	for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		json_t *arr = json_object_get(c, sets[s]);
		if (!arr) {
			arr = json_array();
			json_object_set_new(c, sets[s], arr);
		}
		for (size_t k = 0; k < caps->n; k++)
			json_array_append_new(arr, json_string(caps->v[k]));
	}
}

static int set_user(json_t *proc, const char *user, const struct keel_strlist *gids,
		    keel_error_t *err)
{
	json_t *u = json_object_get(proc, "user");
	char *end;
	if (!u) {
		u = json_object();
		json_object_set_new(proc, "user", u);
	}
	if (user) {
		unsigned long uid = strtoul(user, &end, 10);
		if (end == user || (*end && *end != ':'))
			return keel_err(err, EINVAL, "invalid user %s: keel takes uid[:gid]", user);
		json_object_set_new(u, "uid", json_integer((json_int_t)uid));
		if (*end == ':') {
			char *g = end + 1;
			unsigned long gid = strtoul(g, &end, 10);
			if (end == g || *end)
				return keel_err(err, EINVAL, "invalid user %s: keel takes uid[:gid]", user);
			json_object_set_new(u, "gid", json_integer((json_int_t)gid));
		}
	}
	if (gids->n) {
		json_t *arr = json_array();
		for (size_t k = 0; k < gids->n; k++) {
			long g = strtol(gids->v[k], &end, 10);
			if (end == gids->v[k] || *end || g < 0) {
				json_decref(arr);
				return keel_err(err, EINVAL, "invalid additional gid %s", gids->v[k]);
			}
			json_array_append_new(arr, json_integer(g));
		}
		json_object_set_new(u, "additionalGids", arr);
	}
	return 0;
}

struct exec_flags {
	const char *console, *cwd, *user, *process, *pid_file, *label, *apparmor, *cgroup;
	bool tty, detach, nnp, ignore_paused;
	long preserve;
	struct keel_strlist env, caps, gids;
};

static json_t *process_from_flags(const char *root, const char *id, struct exec_flags *f,
				  int argc, char **argv, keel_error_t *err)
{
	json_t *proc = base_process(root, id, err), *args, *env;
	if (!proc)
		return NULL;
	if (argc < 1) {
		json_decref(proc);
		keel_err(err, EINVAL, "exec: a command to run is required");
		return NULL;
	}
	args = json_array();
	for (int k = 0; k < argc; k++)
		json_array_append_new(args, json_string(argv[k]));
	json_object_set_new(proc, "args", args);
	env = json_object_get(proc, "env");
	if (!env) {
		env = json_array();
		json_object_set_new(proc, "env", env);
	}
	for (size_t k = 0; k < f->env.n; k++)
		json_array_append_new(env, json_string(f->env.v[k]));
	if (f->cwd)
		json_object_set_new(proc, "cwd", json_string(f->cwd));
	json_object_set_new(proc, "terminal", json_boolean(f->tty));
	if (f->nnp)
		json_object_set_new(proc, "noNewPrivileges", json_true());
	add_caps(proc, &f->caps);
	if (set_user(proc, f->user, &f->gids, err) < 0) {
		json_decref(proc);
		return NULL;
	}
	return proc;
}

static struct keel_spec_process *load_process(const char *root, const char *id,
					      struct exec_flags *f, int argc, char **argv,
					      keel_error_t *err)
{
	cleanup_free char *text = NULL;
	cleanup_json json_t *proc = NULL;
	if (f->process) {
		ssize_t n = keel_read_file(strcmp(f->process, "-") == 0 ? "/dev/stdin" : f->process,
					   &text, err);
		if (n < 0)
			return NULL;
		return keel_spec_process_parse(text, (size_t)n, "process.json", err);
	}
	proc = process_from_flags(root, id, f, argc, argv, err);
	if (!proc)
		return NULL;
	text = json_dumps(proc, JSON_COMPACT);
	return keel_spec_process_parse(text, strlen(text), "process", err);
}

int rt_cmd_exec(struct rt_ctx *ctx, int argc, char **argv)
{
	struct exec_flags f = {0};
	const struct keel_opt opts[] = {
		{"console-socket", NULL, KEEL_OPT_STRING, &f.console, "unix socket for the pty master"},
		{"cwd", NULL, KEEL_OPT_STRING, &f.cwd, "current working directory in the container"},
		{"env", "e", KEEL_OPT_LIST, &f.env, "set an environment variable (repeatable)"},
		{"tty", "t", KEEL_OPT_BOOL, &f.tty, "allocate a pseudo-TTY"},
		{"user", "u", KEEL_OPT_STRING, &f.user, "uid[:gid]"},
		{"additional-gids", "g", KEEL_OPT_LIST, &f.gids, "additional gid (repeatable)"},
		{"process", "p", KEEL_OPT_STRING, &f.process, "path to a process.json"},
		{"detach", "d", KEEL_OPT_BOOL, &f.detach, "detach from the process"},
		{"pid-file", NULL, KEEL_OPT_STRING, &f.pid_file, "write the process pid here"},
		{"process-label", NULL, KEEL_OPT_STRING, &f.label, "not supported"},
		{"apparmor", NULL, KEEL_OPT_STRING, &f.apparmor, "not supported"},
		{"no-new-privs", NULL, KEEL_OPT_BOOL, &f.nnp, "set no_new_privs"},
		{"cap", "c", KEEL_OPT_LIST, &f.caps, "add a capability (repeatable)"},
		{"preserve-fds", NULL, KEEL_OPT_INT, &f.preserve, "pass N extra fds"},
		{"cgroup", NULL, KEEL_OPT_STRING, &f.cgroup, "not supported"},
		{"ignore-paused", NULL, KEEL_OPT_BOOL, &f.ignore_paused, "exec in a paused container"},
		{0}};
	int i = 1, r = rt_parse(argc, argv, &i, opts,
				"exec [options] <container-id> <command> [args...]", 1);
	struct keel_exec_opts o;
	keel_error_t err;
	pid_t pid;
	int status = 255;

	if (r != 0) {
		status = r < 0 ? 255 : 0;
		goto out;
	}
	if (f.label || f.apparmor || f.cgroup) {
		status = rt_failf(255, "exec failed: --process-label, --apparmor and --cgroup are "
				       "not supported by keel");
		goto out;
	}
	o = (struct keel_exec_opts){.root = ctx->root, .id = argv[i], .console_socket = f.console,
				    .pid_file = f.pid_file, .preserve_fds = (int)f.preserve,
				    .detach = f.detach, .ignore_paused = f.ignore_paused};
	o.proc = load_process(ctx->root, argv[i], &f, argc - i - 1, argv + i + 1, &err);
	if (!o.proc) {
		status = rt_failf(255, "exec failed: %s", err.msg);
		goto out;
	}
	if (keel_container_exec(&o, &pid, &err) < 0) {
		status = rt_failf(255, "exec failed: %s", err.msg);
	} else if (f.detach) {
		status = 0;
	} else {
		rt_forward_signals(pid);
		status = keel_wait_status(pid);
		rt_forward_stop();
	}
	keel_spec_process_free(o.proc);
out:
	keel_strlist_free(&f.env);
	keel_strlist_free(&f.caps);
	keel_strlist_free(&f.gids);
	return status;
}

/* ---------- run ---------- */

/* `run` with a terminal and no console socket: keel holds the pty itself and copies
 * between it and its own stdio. */
static int listen_console(char *path, size_t len, keel_error_t *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	char dir[] = "/tmp/keel-console-XXXXXX";
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return keel_err_sys(err, "console socket");
	/* A private 0700 directory: nobody else can connect first or guess the name. */
	if (!mkdtemp(dir)) {
		close(fd);
		return keel_err_sys(err, "console socket directory");
	}
	snprintf(path, len, "%s/sock", dir);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
		close(fd);
		return keel_err_sys(err, "console socket %s", path);
	}
	return fd;
}

static void proxy_tty(int master)
{
	struct termios saved, raw;
	bool is_tty = tcgetattr(STDIN_FILENO, &saved) == 0;
	struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN}, {.fd = master, .events = POLLIN}};
	char buf[8192];

	if (is_tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	for (;;) {
		ssize_t n;
		if (tty_resized) {
			tty_resized = 0;
			copy_winsize(master);
		}
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			n = read(master, buf, sizeof(buf));
			if (n <= 0)
				break;
			if (write(STDOUT_FILENO, buf, (size_t)n) < 0)
				break;
		}
		if (p[0].revents) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0)
				p[0].fd = -1;
			else if (write(master, buf, (size_t)n) < 0)
				break;
		}
	}
	if (is_tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
}

static bool config_wants_tty(const char *bundle)
{
	char path[4096];
	cleanup_json json_t *j = NULL;
	snprintf(path, sizeof(path), "%s/config.json", bundle ? bundle : ".");
	j = json_load_file(path, 0, NULL);
	return json_is_true(json_object_get(json_object_get(j, "process"), "terminal"));
}

int rt_cmd_run(struct rt_ctx *ctx, int argc, char **argv)
{
	const char *bundle = NULL, *pid_file = NULL, *console = NULL;
	bool detach = false, no_subreaper = false, no_pivot = false, no_keyring = false, keep = false;
	long preserve = 0;
	const struct keel_opt opts[] = {
		{"bundle", "b", KEEL_OPT_STRING, &bundle, "path to the bundle (default: cwd)"},
		{"console-socket", NULL, KEEL_OPT_STRING, &console, "unix socket for the pty master"},
		{"detach", "d", KEEL_OPT_BOOL, &detach, "detach from the container's process"},
		{"pid-file", NULL, KEEL_OPT_STRING, &pid_file, "write the init's pid here"},
		{"no-subreaper", NULL, KEEL_OPT_BOOL, &no_subreaper, "accepted"},
		{"no-pivot", NULL, KEEL_OPT_BOOL, &no_pivot, "accepted; keel always pivots"},
		{"no-new-keyring", NULL, KEEL_OPT_BOOL, &no_keyring, "keep the session keyring"},
		{"preserve-fds", NULL, KEEL_OPT_INT, &preserve, "pass N extra fds"},
		{"keep", NULL, KEEL_OPT_BOOL, &keep, "do not delete the container after it exits"},
		{0}};
	int i = 1, r = rt_parse(argc, argv, &i, opts, "run [options] <container-id>", 1);
	char sock_path[108] = "", pid_buf[4096], sock_buf[4096];
	cleanup_close int listen_fd = -1, master = -1;
	struct keel_create_opts o;
	keel_error_t err;
	pid_t pid;
	int status;

	if (r != 0)
		return r < 0 ? 1 : 0;
	if (!console && !detach && config_wants_tty(bundle)) {
		if ((listen_fd = listen_console(sock_path, sizeof(sock_path), &err)) < 0)
			return rt_fail(&err, 1);
		console = sock_path;
	}
	o = (struct keel_create_opts){.root = ctx->root, .id = argv[i], .bundle = bundle,
				      .pid_file = rt_abs_path(pid_file, pid_buf, sizeof(pid_buf)),
				      .console_socket = rt_abs_path(console, sock_buf, sizeof(sock_buf)),
				      .preserve_fds = (int)preserve, .listen_fds = rt_listen_fds(),
				      .no_new_keyring = no_keyring};
	r = keel_container_create(&o, &pid, &err);
	if (sock_path[0]) {
		unlink(sock_path);
		*strrchr(sock_path, '/') = '\0';
		rmdir(sock_path);
	}
	if (r < 0)
		return rt_fail(&err, 1);
	if (listen_fd >= 0) {
		int conn = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (conn >= 0) {
			master = keel_console_recv(conn, &err);
			close(conn);
		}
		if (master >= 0) {
			/* The caller's terminal is raw while we copy: the pty does the \n -> \r\n
			 * (runc leaves ONLCR off for engines, which translate themselves). */
			struct termios t;
			if (tcgetattr(master, &t) == 0) {
				t.c_oflag |= OPOST | ONLCR;
				tcsetattr(master, TCSANOW, &t);
			}
			copy_winsize(master);
			tty_master = master;
		}
	}
	if (keel_container_start(ctx->root, argv[i], &err) < 0) {
		keel_error_t ignored;
		keel_container_delete(ctx->root, argv[i], true, &ignored);
		return rt_fail(&err, 1);
	}
	if (detach)
		return 0;
	rt_forward_signals(pid);
	if (master >= 0)
		proxy_tty(master);
	status = keel_wait_status(pid);
	rt_forward_stop();
	if (!keep && keel_container_delete(ctx->root, argv[i], true, &err) < 0)
		rt_fail(&err, 1);
	return status;
}

/* ---------- update ---------- */

struct update_flags {
	const char *resources, *memory, *memory_swap, *memory_reservation, *kernel_memory,
		*cpu_shares, *cpu_quota, *cpu_period, *cpu_rt_period, *cpu_rt_runtime,
		*cpuset_cpus, *cpuset_mems, *pids_limit, *blkio_weight, *l3;
};

/* "64m" -> bytes; "-1" stays -1. */
static int parse_size(const char *s, json_int_t *out)
{
	char *end;
	double v = strtod(s, &end);
	json_int_t mult = 1;
	if (end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': mult = 1024; end++; break;
	case 'm': case 'M': mult = 1024 * 1024; end++; break;
	case 'g': case 'G': mult = 1024LL * 1024 * 1024; end++; break;
	case 't': case 'T': mult = 1024LL * 1024 * 1024 * 1024; end++; break;
	default: break;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end)
		return -1;
	*out = (json_int_t)(v * (double)mult);
	return 0;
}

static int put_num(json_t *obj, const char *key, const char *val, bool size, keel_error_t *err)
{
	json_int_t v;
	char *end;
	if (!val)
		return 0;
	if (size) {
		if (parse_size(val, &v) < 0)
			return keel_err(err, EINVAL, "invalid value for %s: %s", key, val);
	} else {
		v = strtoll(val, &end, 10);
		if (end == val || *end)
			return keel_err(err, EINVAL, "invalid value for %s: %s", key, val);
	}
	json_object_set_new(obj, key, json_integer(v));
	return 0;
}

static json_t *resources_from_flags(const struct update_flags *u, keel_error_t *err)
{
	json_t *r = json_object(), *mem = json_object(), *cpu = json_object(), *pids = json_object(),
	       *blk = json_object();
	json_object_set_new(r, "memory", mem);
	json_object_set_new(r, "cpu", cpu);
	json_object_set_new(r, "pids", pids);
	json_object_set_new(r, "blockIO", blk);
	if (put_num(mem, "limit", u->memory, true, err) < 0 ||
	    put_num(mem, "swap", u->memory_swap, true, err) < 0 ||
	    put_num(mem, "reservation", u->memory_reservation, true, err) < 0 ||
	    put_num(mem, "kernel", u->kernel_memory, true, err) < 0 ||
	    put_num(cpu, "shares", u->cpu_shares, false, err) < 0 ||
	    put_num(cpu, "quota", u->cpu_quota, false, err) < 0 ||
	    put_num(cpu, "period", u->cpu_period, false, err) < 0 ||
	    put_num(cpu, "realtimePeriod", u->cpu_rt_period, false, err) < 0 ||
	    put_num(cpu, "realtimeRuntime", u->cpu_rt_runtime, false, err) < 0 ||
	    put_num(pids, "limit", u->pids_limit, false, err) < 0 ||
	    put_num(blk, "weight", u->blkio_weight, false, err) < 0) {
		json_decref(r);
		return NULL;
	}
	if (u->cpuset_cpus)
		json_object_set_new(cpu, "cpus", json_string(u->cpuset_cpus));
	if (u->cpuset_mems)
		json_object_set_new(cpu, "mems", json_string(u->cpuset_mems));
	return r;
}

int rt_cmd_update(struct rt_ctx *ctx, int argc, char **argv)
{
	struct update_flags u = {0};
	const struct keel_opt opts[] = {
		{"resources", "r", KEEL_OPT_STRING, &u.resources, "LinuxResources JSON file, - for stdin"},
		{"memory", NULL, KEEL_OPT_STRING, &u.memory, "memory limit"},
		{"memory-swap", NULL, KEEL_OPT_STRING, &u.memory_swap, "memory+swap limit"},
		{"memory-reservation", NULL, KEEL_OPT_STRING, &u.memory_reservation, "soft limit"},
		{"kernel-memory", NULL, KEEL_OPT_STRING, &u.kernel_memory, "kernel memory limit"},
		{"cpu-share", NULL, KEEL_OPT_STRING, &u.cpu_shares, "relative CPU weight (shares)"},
		{"cpu-quota", NULL, KEEL_OPT_STRING, &u.cpu_quota, "CFS quota (us)"},
		{"cpu-period", NULL, KEEL_OPT_STRING, &u.cpu_period, "CFS period (us)"},
		{"cpu-rt-period", NULL, KEEL_OPT_STRING, &u.cpu_rt_period, "realtime period (us)"},
		{"cpu-rt-runtime", NULL, KEEL_OPT_STRING, &u.cpu_rt_runtime, "realtime runtime (us)"},
		{"cpuset-cpus", NULL, KEEL_OPT_STRING, &u.cpuset_cpus, "CPUs allowed"},
		{"cpuset-mems", NULL, KEEL_OPT_STRING, &u.cpuset_mems, "memory nodes allowed"},
		{"pids-limit", NULL, KEEL_OPT_STRING, &u.pids_limit, "maximum number of pids"},
		{"blkio-weight", NULL, KEEL_OPT_STRING, &u.blkio_weight, "block IO weight"},
		{"l3-cache-schema", NULL, KEEL_OPT_STRING, &u.l3, "not supported"},
		{0}};
	int i = 1, r = rt_parse(argc, argv, &i, opts, "update [options] <container-id>", 1);
	cleanup_free char *text = NULL;
	struct keel_spec_resources *res;
	keel_error_t err;

	if (r != 0)
		return r < 0 ? 1 : 0;
	if (u.l3)
		return rt_failf(1, "intel RDT (--l3-cache-schema) is not supported by keel");
	if (u.resources) {
		if (keel_read_file(strcmp(u.resources, "-") == 0 ? "/dev/stdin" : u.resources,
				   &text, &err) < 0)
			return rt_fail(&err, 1);
	} else {
		json_t *j = resources_from_flags(&u, &err);
		if (!j)
			return rt_fail(&err, 1);
		text = json_dumps(j, JSON_COMPACT);
		json_decref(j);
	}
	res = keel_spec_resources_parse(text, strlen(text), "resources", &err);
	if (!res)
		return rt_fail(&err, 1);
	r = keel_container_update(ctx->root, argv[i], res, &err);
	keel_spec_resources_free(res);
	return r < 0 ? rt_fail(&err, 1) : 0;
}
