/*
 * recvtty: the receiving end of the OCI --console-socket protocol, strict like containerd's
 * console.recvFd, for the integration tests.
 *
 *   recvtty SOCKET REPORT
 *
 * Listens on SOCKET (bound under a temporary name and renamed into place once listening, so a
 * test can poll for SOCKET's existence), accepts one connection and receives one message. REPORT
 * gets one "key=value" line each: payload (bytes of data), cmsgs (control messages), fds (file
 * descriptors in all of them), rights (1 if every cmsg is SCM_RIGHTS), ctrunc (MSG_CTRUNC),
 * tty (the first fd is a terminal), ptmx (it is a pty master: TIOCGPTN works), after (bytes the
 * sender wrote after the message). Then everything read from the pty master is copied to stdout
 * until the slave side is closed by everyone (EIO). Gives up after 30 s.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#define MAX_FDS 16

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char tmp[sizeof(addr.sun_path)];
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		die("socket path too long");
	memcpy(addr.sun_path, tmp, strlen(tmp) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	unlink(tmp);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		die("bind");
	if (listen(fd, 1) < 0)
		die("listen");
	if (rename(tmp, path) < 0)
		die("rename");
	return fd;
}

static void copy_master(int master)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(master, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* EIO: every slave fd is closed */
		if (write(STDOUT_FILENO, buf, (size_t)n) != n)
			die("write");
	}
}

int main(int argc, char **argv)
{
	char data[4096];
	union {
		char buf[CMSG_SPACE(sizeof(int) * MAX_FDS) * 4];
		struct cmsghdr align;
	} control;
	struct iovec iov = { .iov_base = data, .iov_len = sizeof(data) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			      .msg_controllen = sizeof(control.buf) };
	int fds[MAX_FDS * 4], nfds = 0, ncmsg = 0, rights = 1, listener, conn, tty = 0, ptmx = 0;
	unsigned int ptn;
	ssize_t payload, after = 0, n;
	struct cmsghdr *c;
	FILE *report;

	if (argc != 3) {
		fprintf(stderr, "usage: recvtty SOCKET REPORT\n");
		return 2;
	}
	alarm(30);
	listener = listen_on(argv[1]);
	conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		die("accept");
	payload = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
	if (payload < 0)
		die("recvmsg");
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		ncmsg++;
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
			rights = 0;
			continue;
		}
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && nfds < (int)(sizeof(fds) / sizeof(fds[0])); i++)
			memcpy(&fds[nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	if (nfds > 0) {
		tty = isatty(fds[0]);
		ptmx = ioctl(fds[0], TIOCGPTN, &ptn) == 0;
	}
	/* The sender closes the connection after the message; count anything else it sent. */
	while ((n = read(conn, data, sizeof(data))) > 0)
		after += n;
	close(conn);
	close(listener);

	report = fopen(argv[2], "w");
	if (!report)
		die("fopen report");
	fprintf(report, "payload=%zd\ncmsgs=%d\nfds=%d\nrights=%d\nctrunc=%d\ntty=%d\nptmx=%d\nafter=%zd\n",
		payload, ncmsg, nfds, rights, (msg.msg_flags & MSG_CTRUNC) ? 1 : 0, tty, ptmx, after);
	fclose(report);

	for (int i = 1; i < nfds; i++)
		close(fds[i]);
	if (nfds > 0 && tty)
		copy_master(fds[0]);
	return 0;
}
