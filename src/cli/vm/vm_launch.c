/* Running a VMM process: attached in the foreground, or daemonized with the console to
 * console.log. The daemon reports "running" or its error to the waiting parent over a pipe
 * (a keel_error_t crosses it as it is), so failures print one clear line and exit 1. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "cli/vm/vm_cli.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "vm/control.h"
#include "vm/vmdir.h"

int vm_open_console(const struct vm_launch *l, keel_error_t *err)
{
	char path[PATH_MAX];
	int fd;
	if (l->attached)
		return STDOUT_FILENO;
	if (keel_vm_dir_path(l->root, l->name, "console.log", path, err) < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return keel_err_sys(err, "open %s", path);
	return fd;
}

static void vmm_files_cleanup(const struct vm_launch *l)
{
	char path[PATH_MAX];
	if (keel_vm_dir_path(l->root, l->name, "control.sock", path, NULL) == 0)
		unlink(path);
	if (keel_vm_dir_path(l->root, l->name, "vmm.pid", path, NULL) == 0)
		unlink(path);
}

int vm_launch_files(struct vm_launch *l, keel_error_t *err)
{
	char path[PATH_MAX], pid[32];
	int fd;

	if (keel_vm_dir_path(l->root, l->name, "control.sock", path, err) < 0 ||
	    (fd = keel_vm_control_listen(path, err)) < 0)
		return -1;
	snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	keel_vm_dir_path(l->root, l->name, "vmm.pid", path, NULL);
	keel_write_file_atomic(path, pid, strlen(pid), 0600, NULL);
	keel_vm_dir_path(l->root, l->name, "exit", path, NULL);
	unlink(path);
	l->ctl_fd = fd;
	l->files_ready = true;
	return 0;
}

/* Builds the VM and readies its files; returns the VM or NULL. */
static struct keel_vm *vmm_prepare(struct vm_launch *l, int *console_fd, int *ctl_fd,
				   keel_error_t *err)
{
	struct keel_vm *vm;

	*console_fd = *ctl_fd = -1;
	vm = l->build(l, -1, err);
	if (!vm)
		return NULL;
	if (!l->files_ready && vm_launch_files(l, err) < 0) {
		keel_vm_free(vm);
		return NULL;
	}
	*ctl_fd = l->ctl_fd;
	return vm;
}

static void vmm_finish(struct vm_launch *l, int status, const keel_error_t *err)
{
	/* exit first: vmm.pid going away tells `stop` and `rm` that the VMM is done with the
	 * directory, so nothing may be written into it after that */
	keel_vm_dir_set_exit(l->root, l->name, status, status ? err->msg : "");
	vmm_files_cleanup(l);
	if (l->rm)
		keel_vm_dir_remove(l->root, l->name, NULL);
}

static int run_attached(struct vm_launch *l)
{
	keel_error_t err = {0};
	struct termios saved, raw;
	int console_fd, ctl_fd, status;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	struct keel_vm *vm = vmm_prepare(l, &console_fd, &ctl_fd, &err);

	if (!vm)
		return vm_cli_die(&err);
	l->ran = true;
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		raw.c_oflag |= OPOST | ONLCR;
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	struct keel_vm_serve_opts o = {.listen_fd = ctl_fd, .stdin_fd = STDIN_FILENO,
				       .escape = tty, .started = l->started, .arg = l->arg};
	status = keel_vm_serve(vm, &o, &err);
	if (tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	keel_vm_free(vm);
	close(ctl_fd);
	if (status < 0)
		status = 1;
	vmm_finish(l, status, &err);
	if (status && err.msg[0])
		fprintf(stderr, "keel vm: %s\n", err.msg);
	return status;
}

/* One close_range per gap instead of a thousand close() calls (syscalls are not cheap on
 * this kvm_pvm host). a and b may be -1. */
static void close_fds_except(int a, int b)
{
	int keep[2] = {a < b ? a : b, a < b ? b : a};
	unsigned from = 3;
	for (int i = 0; i < 2; i++) {
		if (keep[i] < (int)from)
			continue;
		if (keep[i] > (int)from)
			close_range(from, (unsigned)keep[i] - 1, 0);
		from = (unsigned)keep[i] + 1;
	}
	close_range(from, ~0U, 0);
}

static void redirect_stdio(const struct vm_launch *l)
{
	char path[PATH_MAX];
	int null = open("/dev/null", O_RDWR);
	int log = -1;
	if (l->name[0] && keel_vm_dir_path(l->root, l->name, "vmm.log", path, NULL) == 0)
		log = open(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
	dup2(null, STDIN_FILENO);
	dup2(log >= 0 ? log : null, STDOUT_FILENO);
	dup2(log >= 0 ? log : null, STDERR_FILENO);
	if (null > 2)
		close(null);
	if (log > 2)
		close(log);
}

/* What the daemon tells the waiting parent: running (with the name), or why not. The struct
 * is smaller than PIPE_BUF, so each write is atomic. */
struct report {
	int ok;
	char name[80];
	keel_error_t err;
};

struct daemon_ctx {
	struct vm_launch *l;
	int fd;
};

static void send_report(int fd, int ok, const char *name, const keel_error_t *err)
{
	struct report r = {.ok = ok};
	if (name)
		snprintf(r.name, sizeof(r.name), "%s", name);
	if (err)
		r.err = *err;
	(void)!write(fd, &r, sizeof(r));
}

static int daemon_started(struct keel_vm *vm, void *arg, keel_error_t *err)
{
	struct daemon_ctx *d = arg;
	if (d->l->started && d->l->started(vm, d->l->arg, err) < 0)
		return -1;
	keel_trace("daemon: report running");
	send_report(d->fd, 1, d->l->name, NULL);
	close(d->fd);
	d->fd = -1;
	return 0;
}

/* The daemon: never returns. */
static void run_daemon(struct vm_launch *l, int report_fd)
{
	keel_error_t err = {0};
	int console_fd, ctl_fd, status;
	struct daemon_ctx d = {l, report_fd};
	struct keel_vm *vm;

	keel_trace("daemon: forked");
	setsid();
	close_fds_except(report_fd, l->keep_fd);
	redirect_stdio(l);
	keel_trace("daemon: detached");
	vm = vmm_prepare(l, &console_fd, &ctl_fd, &err);
	keel_trace("daemon: prepared");
	if (!vm) {
		send_report(report_fd, 0, NULL, &err);
		_exit(1);
	}
	redirect_stdio(l); /* the name may only be known now (receive) */
	struct keel_vm_serve_opts o = {.listen_fd = ctl_fd, .stdin_fd = -1,
				       .started = daemon_started, .arg = &d};
	status = keel_vm_serve(vm, &o, &err);
	keel_vm_free(vm);
	if (status < 0)
		status = 1;
	if (d.fd >= 0) /* never reported running */
		send_report(d.fd, 0, NULL, &err);
	vmm_finish(l, status, &err);
	if (status && err.msg[0])
		fprintf(stderr, "keel vm: %s\n", err.msg);
	_exit(status);
}

static int wait_report(int fd, pid_t child)
{
	struct report r = {0};
	ssize_t n;
	do
		n = read(fd, &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(r) && r.ok) {
		keel_trace("cli: running reported");
		printf("%s\n", r.name);
		return 0;
	}
	waitpid(child, NULL, 0);
	if (n == (ssize_t)sizeof(r))
		return vm_cli_die(&r.err);
	fprintf(stderr, "keel vm: the VMM exited before the VM ran\n");
	return 1;
}

int vm_launch(struct vm_launch *l)
{
	int p[2];
	pid_t pid;

	if (l->attached)
		return run_attached(l);
	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("keel vm: pipe");
		return 1;
	}
	fflush(stdout);
	keel_trace("cli: fork");
	pid = fork();
	if (pid < 0) {
		perror("keel vm: fork");
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		run_daemon(l, p[1]);
	}
	close(p[1]);
	if (l->keep_fd >= 0)
		close(l->keep_fd);
	int ret = wait_report(p[0], pid);
	close(p[0]);
	return ret;
}
