#include "runtime/console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "util/cleanup.h"

int keel_console_connect(const char *path, keel_error_t *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	cleanup_close int fd = -1;
	if (strlen(path) >= sizeof(addr.sun_path))
		return keel_err(err, ENAMETOOLONG, "console socket %s", path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return keel_err_sys(err, "console socket");
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return keel_err_sys(err, "connect to console socket %s", path);
	return move_fd(fd);
}

int keel_console_open_pty(const struct keel_spec_process *p, int *master, int *slave,
			  keel_error_t *err)
{
	cleanup_close int m = -1, s = -1;
	int unlock = 0;

	m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		return keel_err_sys(err, "open /dev/ptmx");
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
		return keel_err_sys(err, "unlock pty");
	/* TIOCGPTPEER opens the slave through the master, so no path lookup in a devpts that
	 * the container could have replaced. */
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return keel_err_sys(err, "open pty slave");
	if (p->has_console_size) {
		struct winsize ws = {.ws_row = (unsigned short)p->console_height,
				     .ws_col = (unsigned short)p->console_width};
		if (ioctl(s, TIOCSWINSZ, &ws) < 0)
			return keel_err_sys(err, "set console size");
	}
	*master = move_fd(m);
	*slave = move_fd(s);
	return 0;
}

int keel_console_send(int sock, int master, keel_error_t *err)
{
	char payload[] = "/dev/ptmx";
	struct iovec iov = {.iov_base = payload, .iov_len = sizeof(payload) - 1};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	memset(u.buf, 0, sizeof(u.buf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &master, sizeof(int));
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		return keel_err_sys(err, "send pty master over console socket");
	return 0;
}

int keel_console_recv(int sock, keel_error_t *err)
{
	char payload[4096];
	struct iovec iov = {.iov_base = payload, .iov_len = sizeof(payload)};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr msg = {.msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0)
		return keel_err_sys(err, "receive pty master");
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
		return keel_err(err, EPROTO, "console socket: no pty master received");
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

int keel_console_make_ctty(int slave, keel_error_t *err)
{
	if (setsid() < 0 && errno != EPERM)
		return keel_err_sys(err, "setsid");
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return keel_err_sys(err, "set controlling terminal");
	for (int fd = 0; fd < 3; fd++)
		if (dup2(slave, fd) < 0)
			return keel_err_sys(err, "dup2 pty to fd %d", fd);
	return 0;
}

int keel_console_bind_dev_console(int slave, keel_error_t *err)
{
	char src[64];
	int fd = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno != EEXIST && errno != ENXIO && errno != EIO)
		return keel_err_sys(err, "create /dev/console");
	if (fd >= 0)
		close(fd);
	snprintf(src, sizeof(src), "/proc/self/fd/%d", slave);
	if (mount(src, "/dev/console", NULL, MS_BIND, NULL) < 0)
		return keel_err_sys(err, "bind pty onto /dev/console");
	return 0;
}
