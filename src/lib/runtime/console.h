/* Terminals: the pty is created inside the container (its own devpts instance) and its
 * master is handed to the caller over the console socket — one sendmsg with a short payload
 * and exactly one SCM_RIGHTS fd, which is what containerd's console.RecvFd accepts. */
#ifndef KEEL_CONSOLE_H
#define KEEL_CONSOLE_H

#include "runtime/spec.h"
#include "util/error.h"

/* Connects to the caller's listening AF_UNIX stream socket. Returns the fd (CLOEXEC). */
int keel_console_connect(const char *path, keel_error_t *err);

/* Opens a new pty from /dev/ptmx of the current mount namespace with the kernel's default
 * termios (ONLCR on: runc's init hands containerd/docker such a pty, and `docker run -t`
 * prints "\r\n"); consoleSize applied. Sets *master and *slave (both CLOEXEC). */
int keel_console_open_pty(const struct keel_spec_process *p, int *master, int *slave,
			  keel_error_t *err);

/* Sends master over sock. Closes neither. */
int keel_console_send(int sock, int master, keel_error_t *err);

/* Receives one fd from a connected console socket (used by `run -t` without a socket). */
int keel_console_recv(int sock, keel_error_t *err);

/* Makes slave the controlling terminal and fds 0-2 of the calling process (after setsid). */
int keel_console_make_ctty(int slave, keel_error_t *err);

/* Bind-mounts the pty slave onto /dev/console (created if missing), for the init. */
int keel_console_bind_dev_console(int slave, keel_error_t *err);

#endif
