/* keel exec [OPTIONS] CONTAINER COMMAND [ARG...]. Options stop at the container (docker's
 * exec does not intersperse). With -t keel holds the pty master itself. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cli/container/ctr_cli.h"
#include "engine/runopts.h"
#include "runtime/console.h"
#include "runtime/container.h"
#include "util/cleanup.h"

struct exec_flags {
	bool i, t, d, privileged, help;
	const char *w, *u, *keys;
	/* -e and --env-file in the order given, as run's option parser takes them */
	char *env_args[128];
	size_t n_env_args;
	struct keel_run_opts env; /* the result: env.env */
};

static int flag_value(int argc, char **argv, int *i, const char *glued, const char **out)
{
	if (glued && *glued) {
		*out = glued[0] == '=' ? glued + 1 : glued;
		return 0;
	}
	if (*i + 1 >= argc)
		return -1;
	*out = argv[++*i];
	return 0;
}

static int set_value(struct exec_flags *f, char which, const char *v)
{
	switch (which) {
	case 'e':
	case 'E':
		if (f->n_env_args + 2 >= sizeof(f->env_args) / sizeof(f->env_args[0]))
			return -1;
		f->env_args[f->n_env_args++] = which == 'e' ? "--env" : "--env-file";
		f->env_args[f->n_env_args++] = (char *)v;
		return 0;
	case 'w':
		f->w = v;
		return 0;
	case 'u':
		f->u = v;
		return 0;
	default:
		f->keys = v;
		return 0;
	}
}

static const struct {
	const char *name;
	char s; /* short or a code for long-only */
	bool value;
} exec_opts[] = {
	{ "interactive", 'i', false }, { "tty", 't', false },  { "detach", 'd', false },
	{ "privileged", 'P', false },  { "help", 'h', false }, { "env", 'e', true },
	{ "workdir", 'w', true },      { "user", 'u', true },  { "detach-keys", 'K', true },
	{ "env-file", 'E', true },
};

static int set_bool(struct exec_flags *f, char s)
{
	switch (s) {
	case 'i':
		return f->i = true, 0;
	case 't':
		return f->t = true, 0;
	case 'd':
		return f->d = true, 0;
	case 'P':
		return f->privileged = true, 0;
	case 'h':
		return f->help = true, 0;
	}
	return -1;
}

static int parse_one(int argc, char **argv, int *i, struct exec_flags *f)
{
	const char *a = argv[*i], *v;
	if (a[1] == '-') {
		const char *eq = strchr(a + 2, '=');
		size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		for (size_t k = 0; k < sizeof(exec_opts) / sizeof(exec_opts[0]); k++) {
			if (strlen(exec_opts[k].name) != n || strncmp(exec_opts[k].name, a + 2, n))
				continue;
			if (!exec_opts[k].value)
				return set_bool(f, exec_opts[k].s);
			if (flag_value(argc, argv, i, eq, &v) < 0)
				return -1;
			return set_value(f, exec_opts[k].s, v);
		}
		fprintf(stderr, "unknown flag: %s\nSee 'keel exec --help'.\n", a);
		return -1;
	}
	for (const char *p = a + 1; *p; p++) {
		if (strchr("itdh", *p)) {
			set_bool(f, *p);
			continue;
		}
		if (strchr("ewu", *p)) {
			if (flag_value(argc, argv, i, p + 1, &v) < 0)
				return -1;
			return set_value(f, *p, v);
		}
		fprintf(stderr, "unknown shorthand flag: '%c' in %s\nSee 'keel exec --help'.\n", *p,
			a);
		return -1;
	}
	return 0;
}

/* A console socket for the pty master of a tty exec, in the run root. */
static int console_listen(const struct keel_engine *e, char *path, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(path, len, "%s/exec-%d.sock", e->run_root, getpid());
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 1) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void copy_some(int from, int to, bool *open)
{
	char buf[16384];
	ssize_t n = read(from, buf, sizeof(buf));
	if (n <= 0) {
		if (n < 0 && errno == EINTR)
			return;
		*open = false;
		return;
	}
	for (ssize_t o = 0; o < n;) {
		ssize_t w = write(to, buf + o, (size_t)(n - o));
		if (w <= 0)
			return;
		o += w;
	}
}

static void set_size(int master)
{
	struct winsize ws;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
}

/* docker's detach keys in what the user types: a partial match is held back until the next
 * byte decides. Copies the bytes to pass on into out (room for n + 16); returns true when the
 * whole sequence was typed. */
struct detach_keys {
	unsigned char k[16];
	int n, matched;
};

static bool scan_keys(struct detach_keys *d, const char *in, size_t n, char *out, size_t *on)
{
	*on = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)in[i];
		if (d->n && ch == d->k[d->matched]) {
			if (++d->matched == d->n)
				return true;
			continue;
		}
		memcpy(out + *on, d->k, (size_t)d->matched);
		*on += (size_t)d->matched;
		d->matched = 0;
		if (d->n && ch == d->k[0]) {
			if (++d->matched == d->n)
				return true;
		} else {
			out[(*on)++] = (char)ch;
		}
	}
	return false;
}

/* stdin to the pty through the detach-key filter; false when the user detached. */
static bool forward_input(int master, struct detach_keys *d, bool *in_open)
{
	char buf[16384], out[16384 + 16];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	size_t on;
	bool detach;
	if (n <= 0) {
		if (n == 0 || errno != EINTR)
			*in_open = false;
		return true;
	}
	detach = scan_keys(d, buf, (size_t)n, out, &on);
	for (size_t o = 0; o < on;) {
		ssize_t w = write(master, out + o, on - o);
		if (w <= 0)
			break;
		o += (size_t)w;
	}
	return !detach;
}

/* Relays the terminal and the pty until the process exits, or the user types the detach keys
 * (returns 0 then: the process runs on, as with docker). */
static int pump_pty(int master, pid_t pid, bool in, struct detach_keys *d)
{
	struct termios saved;
	bool raw = false, out_open = true, in_open = in, detached = false;
	sigset_t mask;
	int sfd;
	sigemptyset(&mask);
	sigaddset(&mask, SIGWINCH);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (in && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios t = saved;
		cfmakeraw(&t);
		raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
	}
	set_size(master);
	while (out_open && !detached) {
		struct pollfd p[3] = { { .fd = master, .events = POLLIN },
				       { .fd = in_open ? STDIN_FILENO : -1, .events = POLLIN },
				       { .fd = sfd, .events = POLLIN } };
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			copy_some(master, STDOUT_FILENO, &out_open);
		if (p[1].revents)
			detached = !forward_input(master, d, &in_open);
		if (p[2].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) > 0)
				set_size(master);
		}
	}
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	close(sfd);
	if (detached) {
		fprintf(stderr, "\r\nread escape sequence\r\n");
		return 0;
	}
	return keel_wait_status(pid);
}

static int run_exec(struct keel_engine *e, struct keel_ctr *c, struct exec_flags *f, char **cmd)
{
	struct keel_ctr_exec x = { .args = cmd,
				   .env = f->env.env,
				   .workdir = f->w,
				   .user = f->u,
				   .tty = f->t && !f->d,
				   .detach = f->d,
				   .privileged = f->privileged };
	char sock[256];
	cleanup_close int lfd = -1;
	keel_error_t err;
	pid_t pid = 0;
	int status = 0, r;
	if (x.tty) {
		if ((lfd = console_listen(e, sock, sizeof(sock))) < 0) {
			fprintf(stderr, "keel: console socket: %s\n", strerror(errno));
			return 126;
		}
		x.console_socket = sock;
	}
	if (!f->i || f->d) {
		/* docker gives a process without -i an empty stdin; -d none of our stdio */
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		for (int fd = 0; null >= 0 && fd < (f->d ? 3 : 1); fd++)
			dup2(null, fd);
		if (null > 2)
			close(null);
	}
	r = keel_ctr_exec(e, c, &x, &pid, &status, &err);
	if (x.tty)
		unlink(sock);
	if (r < 0) {
		fprintf(stderr, "Error response from daemon: %s\n", err.msg);
		return r == -2 ? (err.errnum == ENOENT ? 127 : 126) : err.errnum == EBUSY ? 1 : 126;
	}
	if (x.tty) {
		int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC), master;
		master = conn >= 0 ? keel_console_recv(conn, &err) : -1;
		if (conn >= 0)
			close(conn);
		if (master < 0) {
			kill(pid, SIGKILL);
			keel_wait_status(pid);
			fprintf(stderr, "keel: receiving the pty: %s\n", err.msg);
			return 126;
		}
		struct detach_keys d = { 0 };
		if (f->i && (d.n = cli_detach_keys(f->keys ? f->keys : "ctrl-p,ctrl-q", d.k,
						   sizeof(d.k))) < 0)
			d.n = 0;
		status = pump_pty(master, pid, f->i, &d);
		close(master);
	}
	return f->d ? 0 : status;
}

/* -e and --env-file, read by run's own option parser (docker's rules for both). */
static int exec_env(struct exec_flags *f)
{
	char *argv[sizeof(f->env_args) / sizeof(f->env_args[0]) + 2] = { "exec" };
	keel_error_t err;
	int i = 1;
	memcpy(argv + 1, f->env_args, f->n_env_args * sizeof(char *));
	if (keel_runopts_parse((int)f->n_env_args + 1, argv, &i, &f->env, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		keel_runopts_free(&f->env);
		return -1;
	}
	return 0;
}

int cli_ctr_exec(int argc, char **argv)
{
	struct exec_flags f = { 0 };
	struct keel_engine *e;
	struct keel_ctr *c;
	int i, r;
	argc = cli_ctr_globals(argc, argv, -1, true, NULL);
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		}
		if (parse_one(argc, argv, &i, &f) < 0)
			return 125;
	}
	if (f.help) {
		printf("\nUsage:  keel exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\n"
		       "Execute a command in a running container\n\n"
		       "Aliases:\n  keel container exec, keel exec\n\n"
		       "Options:\n"
		       "  -d, --detach               Detached mode: run command in the background\n"
		       "      --detach-keys string   Override the key sequence for detaching a "
		       "container (default \"ctrl-p,ctrl-q\")\n"
		       "  -e, --env list             Set environment variables\n"
		       "      --env-file list        Read in a file of environment variables\n"
		       "  -i, --interactive          Keep STDIN open even if not attached\n"
		       "      --privileged           Give extended privileges to the command\n"
		       "  -t, --tty                  Allocate a pseudo-TTY\n"
		       "  -u, --user string          Username or UID (format: "
		       "\"<name|uid>[:<group|gid>]\")\n"
		       "  -w, --workdir string       Working directory inside the container\n");
		return 0;
	}
	if (argc - i < 2) {
		fprintf(stderr,
			"\"keel exec\" requires at least 2 arguments.\nSee 'keel exec "
			"--help'.\n\nUsage:  keel exec [OPTIONS] CONTAINER COMMAND [ARG...]\n\n"
			"Execute a command in a running container\n");
		return 125;
	}
	if (f.keys && cli_detach_keys(f.keys, (unsigned char[16]){ 0 }, 16) < 0) {
		fprintf(stderr, "Invalid detach keys (%s) provided\n", f.keys);
		return 1;
	}
	if (exec_env(&f) < 0)
		return 1;
	if (f.t && f.i && !f.d && !isatty(STDIN_FILENO)) {
		fprintf(stderr, "the input device is not a TTY\n");
		return 1;
	}
	if (!(e = cli_engine()))
		return 125;
	if (!(c = cli_ctr_get(e, argv[i]))) {
		keel_engine_close(e);
		return 1;
	}
	r = run_exec(e, c, &f, argv + i + 1);
	keel_runopts_free(&f.env);
	keel_ctr_free(c);
	keel_engine_close(e);
	return r;
}
