/* The VMM's event loop: VM end, signals, control socket, console. Requests are handled one at
 * a time on this thread while the vCPU threads run; snapshot and migration pause them
 * themselves as they need. */
#include "vm/control.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util/cleanup.h"

#define ESCAPE_CHAR 0x1d /* Ctrl-] */

struct serve {
	struct keel_vm *vm;
	int console_fd; /* attached control client, -1 if none */
};

int keel_vm_control_listen(const char *path, keel_error_t *err)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	cleanup_close int fd = -1;
	if (strlen(path) >= sizeof(a.sun_path))
		return keel_err(err, ENAMETOOLONG, "control socket path %s", path);
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return keel_err_sys(err, "socket");
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0)
		return keel_err_sys(err, "control socket %s", path);
	return move_fd(fd);
}

static int send_line(int fd, json_t *j)
{
	cleanup_free char *s = json_dumps(j, JSON_COMPACT);
	if (!s)
		return -1;
	size_t len = strlen(s);
	s[len] = '\n'; /* replaces the NUL; json_dumps leaves room only for it */
	const char *p = s;
	for (size_t left = len + 1; left;) {
		ssize_t n = send(fd, p, left, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		left -= (size_t)n;
	}
	return 0;
}

/* Reads one line (up to 64 KiB) byte by byte, so nothing after it is consumed. */
static json_t *recv_line(int fd, keel_error_t *err)
{
	char buf[65536];
	size_t n = 0;
	json_error_t je;
	while (n < sizeof(buf) - 1) {
		ssize_t r = read(fd, buf + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			keel_err_sys(err, "control socket");
			return NULL;
		}
		if (r == 0 || buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	json_t *j = json_loads(buf, 0, &je);
	if (!j || !json_is_object(j)) {
		json_decref(j);
		keel_err(err, EPROTO, "control socket: bad message%s", n ? "" : " (connection closed)");
		return NULL;
	}
	return j;
}

json_t *keel_vm_control_call(const char *path, json_t *req, int *fd_out, keel_error_t *err)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	json_t *reply;
	if (fd < 0 || strlen(path) >= sizeof(a.sun_path)) {
		keel_err_sys(err, "socket");
		return NULL;
	}
	strcpy(a.sun_path, path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		keel_err_sys(err, "connecting to the VMM (%s)", path);
		return NULL;
	}
	if (send_line(fd, req) < 0) {
		keel_err_sys(err, "sending to the VMM");
		return NULL;
	}
	reply = recv_line(fd, err);
	if (!reply)
		return NULL;
	if (!json_is_true(json_object_get(reply, "ok"))) {
		const char *m = json_string_value(json_object_get(reply, "error"));
		keel_err(err, 0, "%s", m ? m : "request failed");
		json_decref(reply);
		return NULL;
	}
	if (fd_out)
		*fd_out = move_fd(fd);
	return reply;
}

static json_t *reply_err(const keel_error_t *e)
{
	return json_pack("{s:b, s:s}", "ok", 0, "error", e->msg);
}

static json_t *do_status(struct serve *s, json_t *req, keel_error_t *e)
{
	return json_pack("{s:b, s:s, s:i}", "ok", 1, "state",
			 keel_vm_paused(s->vm) ? "paused" : "running", "pid", (int)getpid());
}

static json_t *do_pause(struct serve *s, json_t *req, keel_error_t *e)
{
	if (keel_vm_pause(s->vm, e) < 0)
		return NULL;
	return json_pack("{s:b}", "ok", 1);
}

static json_t *do_resume(struct serve *s, json_t *req, keel_error_t *e)
{
	keel_vm_resume(s->vm);
	return json_pack("{s:b}", "ok", 1);
}

static json_t *do_stop(struct serve *s, json_t *req, keel_error_t *e)
{
	keel_vm_stop(s->vm, 0);
	return json_pack("{s:b}", "ok", 1);
}

static json_t *do_snapshot(struct serve *s, json_t *req, keel_error_t *e)
{
	const char *dir = json_string_value(json_object_get(req, "dir"));
	bool leave = json_is_true(json_object_get(req, "leave_running"));
	struct timespec a, b;
	if (!dir) {
		keel_err(e, EINVAL, "snapshot: no directory");
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	if (keel_vm_snapshot(s->vm, dir, leave, e) < 0)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	return json_pack("{s:b, s:f, s:b}", "ok", 1, "ms", ms, "paused", !leave);
}

static json_t *do_migrate(struct serve *s, json_t *req, keel_error_t *e)
{
	const char *to = json_string_value(json_object_get(req, "to"));
	struct keel_vm_migrate_opts o = {
		.max_downtime_ms = (uint64_t)json_integer_value(json_object_get(req, "max_downtime_ms")),
		.bandwidth = (uint64_t)json_integer_value(json_object_get(req, "bandwidth")),
		.max_rounds = (unsigned)json_integer_value(json_object_get(req, "max_rounds")),
	};
	struct keel_vm_migrate_stats st = {0};
	if (!to) {
		keel_err(e, EINVAL, "migrate: no destination");
		return NULL;
	}
	if (keel_vm_migrate(s->vm, to, &o, &st, e) < 0)
		return NULL;
	return json_pack("{s:b, s:i, s:I, s:I, s:I}", "ok", 1, "rounds", (int)st.rounds, "sent",
			 (json_int_t)st.sent_bytes, "total_ms", (json_int_t)st.total_ms,
			 "downtime_ms", (json_int_t)st.downtime_ms);
}

static const struct {
	const char *name;
	json_t *(*fn)(struct serve *s, json_t *req, keel_error_t *e);
} commands[] = {
	{"status", do_status},   {"pause", do_pause},       {"resume", do_resume},
	{"stop", do_stop},       {"snapshot", do_snapshot}, {"migrate", do_migrate},
};

static void handle_client(struct serve *s, int fd)
{
	keel_error_t e = {0};
	cleanup_json json_t *req = recv_line(fd, &e);
	json_t *reply = NULL;
	const char *cmd = req ? json_string_value(json_object_get(req, "cmd")) : NULL;

	if (cmd && strcmp(cmd, "console") == 0) {
		if (s->console_fd >= 0) {
			keel_err(&e, EBUSY, "another console is attached");
		} else {
			json_t *ok = json_pack("{s:b}", "ok", 1);
			send_line(fd, ok);
			json_decref(ok);
			s->console_fd = fd;
			keel_vm_console_attach(s->vm, fd);
			return;
		}
	} else if (cmd) {
		keel_err(&e, EINVAL, "unknown command '%s'", cmd);
		for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (strcmp(cmd, commands[i].name) == 0) {
				keel_err_clear(&e);
				reply = commands[i].fn(s, req, &e);
			}
	}
	if (!reply)
		reply = reply_err(&e);
	send_line(fd, reply);
	json_decref(reply);
	close(fd);
}

static void console_detach(struct serve *s)
{
	keel_vm_console_attach(s->vm, -1);
	close(s->console_fd);
	s->console_fd = -1;
}

/* Returns false when the stdin escape was typed. */
static bool pump_input(struct serve *s, int fd, bool escape, bool *eof)
{
	uint8_t buf[512];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n <= 0) {
		*eof = !(n < 0 && (errno == EINTR || errno == EAGAIN));
		return true;
	}
	if (escape && memchr(buf, ESCAPE_CHAR, (size_t)n))
		return false;
	keel_vm_console_input(s->vm, buf, (size_t)n);
	return true;
}

static int make_signalfd(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, set, NULL);
	return signalfd(-1, set, SFD_CLOEXEC);
}

static void serve_loop(struct serve *s, const struct keel_vm_serve_opts *o, int sfd)
{
	int stdin_fd = o->stdin_fd;
	for (;;) {
		struct pollfd p[5] = {
			{keel_vm_exit_fd(s->vm), POLLIN, 0}, {sfd, POLLIN, 0},
			{o->listen_fd, POLLIN, 0},           {stdin_fd, POLLIN, 0},
			{s->console_fd, POLLIN, 0},
		};
		bool eof = false;
		if (poll(p, 5, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			return;
		if (p[1].revents) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si) && si.ssi_signo != SIGPIPE)
				keel_vm_stop(s->vm, 128 + (int)si.ssi_signo);
		}
		if (p[2].revents & POLLIN) {
			int c = accept4(o->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			if (c >= 0)
				handle_client(s, c);
		}
		if (p[3].revents) {
			if (!pump_input(s, stdin_fd, o->escape, &eof))
				keel_vm_stop(s->vm, 0);
			if (eof)
				stdin_fd = -1;
		}
		if (p[4].revents) {
			pump_input(s, s->console_fd, false, &eof);
			if (eof || (p[4].revents & (POLLHUP | POLLERR)))
				console_detach(s);
		}
	}
}

int keel_vm_serve(struct keel_vm *vm, const struct keel_vm_serve_opts *o, keel_error_t *err)
{
	struct serve s = {.vm = vm, .console_fd = -1};
	sigset_t set;
	cleanup_close int sfd = make_signalfd(&set);
	int status;

	if (sfd < 0)
		return keel_err_sys(err, "signalfd");
	keel_trace("serve: start vcpus");
	if (keel_vm_start(vm, err) < 0)
		return -1;
	keel_trace("serve: vcpus started");
	if (o->started && o->started(vm, o->arg, err) < 0) {
		keel_vm_stop(vm, 1);
		keel_vm_wait(vm, NULL);
		return -1;
	}
	serve_loop(&s, o, sfd);
	status = keel_vm_wait(vm, err);
	if (s.console_fd >= 0)
		console_detach(&s);
	return status;
}
