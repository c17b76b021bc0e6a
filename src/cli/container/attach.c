/* The attach client of `run`, `start -a` and `attach`: the terminal (raw, resized) or plain
 * stdio on one side, the monitor's attach socket on the other. Detach keys are watched
 * here (the monitor does not know them); Ctrl-C of a tty is just a byte for the container,
 * without a tty keel's signals are forwarded (docker's --sig-proxy). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <termios.h>
#include <unistd.h>

#include "cli/container/ctr_cli.h"
#include "engine/monitor.h"
#include "util/cleanup.h"

struct attach_io {
	int sock;
	const char *dir;
	unsigned char keys[16];
	int n_keys, matched; /* detach keys, and how many of them are held back */
	bool stdin_open, detached, done;
	int exit_code;
};

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void send_stdin(struct attach_io *io, const char *buf, size_t len)
{
	keel_error_t ignored;
	if (len)
		keel_monitor_frame_write(io->sock, KEEL_MON_STDIN, buf, len, &ignored);
}

/* Forwards what the user typed, holding back a possible detach sequence. */
static void on_stdin(struct attach_io *io)
{
	char buf[KEEL_MON_FRAME_MAX], out[KEEL_MON_FRAME_MAX + 16];
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
	size_t o = 0;
	keel_error_t ignored;
	if (n < 0 && errno == EINTR)
		return;
	if (n <= 0) {
		keel_monitor_frame_write(io->sock, KEEL_MON_STDIN_EOF, NULL, 0, &ignored);
		io->stdin_open = false;
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)buf[i];
		if (io->n_keys && ch == io->keys[io->matched]) {
			if (++io->matched == io->n_keys) {
				send_stdin(io, out, o);
				io->detached = io->done = true;
				return;
			}
			continue;
		}
		/* not the sequence after all: what was held back goes through, and this byte
		 * may start the sequence anew (ctrl-p ctrl-p ctrl-q detaches) */
		memcpy(out + o, io->keys, (size_t)io->matched);
		o += (size_t)io->matched;
		io->matched = 0;
		if (io->n_keys && ch == io->keys[0]) {
			if (++io->matched == io->n_keys) {
				send_stdin(io, out, o);
				io->detached = io->done = true;
				return;
			}
		} else {
			out[o++] = (char)ch;
		}
		if (o >= KEEL_MON_FRAME_MAX) {
			send_stdin(io, out, o);
			o = 0;
		}
	}
	send_stdin(io, out, o);
}

static void on_sock(struct attach_io *io)
{
	char buf[KEEL_MON_FRAME_MAX];
	int type;
	keel_error_t err;
	ssize_t n = keel_monitor_frame_read(io->sock, &type, buf, sizeof(buf), &err);
	if (n < 0 || type < 0) {
		io->done = true;
		return;
	}
	if (type == KEEL_MON_STDOUT)
		write_all(STDOUT_FILENO, buf, (size_t)n);
	else if (type == KEEL_MON_STDERR)
		write_all(STDERR_FILENO, buf, (size_t)n);
	else if (type == KEEL_MON_EXIT && n >= 4) {
		int32_t code;
		memcpy(&code, buf, sizeof(code));
		io->exit_code = code;
		io->done = true;
	}
}

static void send_size(int sock)
{
	struct winsize ws;
	uint16_t sz[2];
	keel_error_t ignored;
	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0)
		return;
	sz[0] = ws.ws_row;
	sz[1] = ws.ws_col;
	keel_monitor_frame_write(sock, KEEL_MON_RESIZE, sz, sizeof(sz), &ignored);
}

static void on_signal(struct attach_io *io, int sfd, bool tty)
{
	struct signalfd_siginfo si;
	keel_error_t ignored;
	if (read(sfd, &si, sizeof(si)) != (ssize_t)sizeof(si))
		return;
	if (si.ssi_signo == SIGWINCH) {
		if (tty)
			send_size(io->sock);
		return;
	}
	keel_monitor_signal(io->dir, (int)si.ssi_signo, false, &ignored);
}

static int signal_fd(bool proxy, sigset_t *old)
{
	static const int proxied[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGWINCH);
	for (size_t i = 0; proxy && i < sizeof(proxied) / sizeof(proxied[0]); i++)
		sigaddset(&mask, proxied[i]);
	sigprocmask(SIG_BLOCK, &mask, old);
	return signalfd(-1, &mask, SFD_CLOEXEC);
}

int cli_attach_run(const char *dir, const struct cli_attach *a, int *exit_code)
{
	struct keel_monitor_req req = { .op = KEEL_MON_OP_ATTACH,
					.flags = a->stdin ? KEEL_MON_F_STDIN : 0 };
	struct attach_io io = { .dir = dir, .stdin_open = a->stdin, .exit_code = -1 };
	struct termios saved;
	bool raw = false;
	keel_error_t err;
	sigset_t old;
	cleanup_close int sfd = -1;

	if (a->stdin) {
		io.n_keys = cli_detach_keys(a->detach_keys ? a->detach_keys : "ctrl-p,ctrl-q",
					    io.keys, sizeof(io.keys));
		if (io.n_keys < 0)
			io.n_keys = 0;
	}
	if (a->tty) {
		/* the size travels with the request: a waiting container starts with it */
		struct winsize ws;
		if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 ||
		    ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0) {
			req.rows = ws.ws_row;
			req.cols = ws.ws_col;
		}
	}
	if ((io.sock = keel_monitor_connect(dir, &req, &err)) < 0) {
		fprintf(stderr, "Error response from daemon: attaching: %s\n", err.msg);
		return -1;
	}
	if (a->tty && a->stdin && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios t = saved;
		cfmakeraw(&t);
		raw = tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
	}
	sfd = signal_fd(a->sig_proxy && !a->tty, &old);
	if (a->tty)
		send_size(io.sock);
	while (!io.done) {
		struct pollfd p[3] = { { .fd = io.sock, .events = POLLIN },
				       { .fd = sfd, .events = POLLIN },
				       { .fd = io.stdin_open ? STDIN_FILENO : -1,
					 .events = POLLIN } };
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			on_sock(&io);
		if (p[1].revents && !io.done)
			on_signal(&io, sfd, a->tty);
		if (p[2].revents && !io.done)
			on_stdin(&io);
	}
	if (raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(io.sock);
	if (io.detached)
		return 1;
	*exit_code = io.exit_code;
	return 0;
}
