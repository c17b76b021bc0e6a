/* keel vm snapshot / restore / migrate / receive. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli/vm/vm_cli.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "vm/control.h"
#include "vm/vmdir.h"

static json_t *call(struct vm_cli *c, const char *name, json_t *req, keel_error_t *err)
{
	char path[PATH_MAX];
	if (keel_vm_dir_path(c->root, name, "control.sock", path, err) < 0)
		return NULL;
	if (!keel_vm_dir_pid(c->root, name)) {
		keel_err(err, ESRCH, "VM %s is not running", name);
		return NULL;
	}
	return keel_vm_control_call(path, req, NULL, err);
}

int vm_cmd_snapshot(struct vm_cli *c, int argc, char **argv)
{
	keel_error_t err = {0};
	bool leave = false;
	const char *pos[2] = {NULL, NULL};
	int npos = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--leave-running"))
			leave = true;
		else if (argv[i][0] != '-' && npos < 2)
			pos[npos++] = argv[i];
		else
			npos = 3;
	}
	if (npos != 2)
		return fprintf(stderr, "Usage: keel vm snapshot NAME DIR [--leave-running]\n"), 125;
	char dir[PATH_MAX];
	if (pos[1][0] == '/')
		snprintf(dir, sizeof(dir), "%s", pos[1]);
	else if (!getcwd(dir, sizeof(dir)) ||
		 strlen(dir) + strlen(pos[1]) + 2 > sizeof(dir))
		return fprintf(stderr, "keel vm: path too long\n"), 1;
	else
		strcat(strcat(dir, "/"), pos[1]);
	json_t *req = json_pack("{s:s, s:s, s:b}", "cmd", "snapshot", "dir", dir, "leave_running",
				leave);
	json_t *r = call(c, pos[0], req, &err);
	json_decref(req);
	if (!r)
		return vm_cli_die(&err);
	printf("snapshot %s: %s (%.1f ms, %s)\n", pos[0], dir,
	       json_real_value(json_object_get(r, "ms")), leave ? "running" : "paused");
	json_decref(r);
	return 0;
}

/* Runs in the VMM process. The snapshot is read and checked once, here (its state sections'
 * checksums; the memory file is mapped, not read); the VM's directory is made from the
 * restored config only once the VM exists, so a bad snapshot leaves nothing behind. */
static struct keel_vm *build_restore(struct vm_launch *l, int unused, keel_error_t *err)
{
	struct keel_vm *vm = keel_vm_restore(l->snapshot_dir, -1, err);
	int console_fd;
	if (!vm)
		return NULL;
	if (keel_vm_dir_create(l->root, l->name, keel_vm_config(vm), l->snapshot_dir, err) < 0) {
		keel_vm_free(vm);
		return NULL;
	}
	console_fd = vm_open_console(l, err);
	if (console_fd < 0) {
		keel_vm_free(vm);
		keel_vm_dir_remove(l->root, l->name, NULL);
		return NULL;
	}
	keel_vm_set_console(vm, console_fd);
	return vm;
}

int vm_cmd_restore(struct vm_cli *c, int argc, char **argv)
{
	struct vm_launch l = {.root = c->root, .keep_fd = -1, .build = build_restore};
	keel_error_t err = {0};
	const char *name = NULL, *dir = NULL;
	bool verify = false;
	static char absdir[PATH_MAX];
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--attach"))
			l.attached = true;
		else if (!strcmp(argv[i], "--verify"))
			verify = true;
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!dir && argv[i][0] != '-')
			dir = argv[i];
		else
			return fprintf(stderr, "Usage: keel vm restore DIR [--name NEW] [-a]\n"), 125;
	}
	if (!dir)
		return fprintf(stderr, "Usage: keel vm restore DIR [--name NEW] [-a]\n"), 125;
	if (!realpath(dir, absdir))
		return keel_err_sys(&err, "snapshot %s", dir), vm_cli_die(&err);
	/* Without --verify the VMM checks the state while restoring (and reports errors); the
	 * memory checksum means reading all of RAM, so only --verify does it. */
	if (verify && keel_vm_snapshot_verify(absdir, true, &err) < 0)
		return vm_cli_die(&err);
	if (!name) {
		const char *base = strrchr(absdir, '/') ? strrchr(absdir, '/') + 1 : absdir;
		snprintf(l.name, sizeof(l.name), "%s-%d", base, (int)getpid());
	} else {
		snprintf(l.name, sizeof(l.name), "%s", name);
	}
	l.snapshot_dir = absdir;
	return vm_launch(&l);
}

/* "10ms", "0.5s", "50" (ms) */
static uint64_t parse_ms(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (!strcmp(end, "s"))
		v *= 1000;
	else if (!strcmp(end, "us"))
		v /= 1000;
	return v < 1 ? 1 : (uint64_t)v;
}

int vm_cmd_migrate(struct vm_cli *c, int argc, char **argv)
{
	keel_error_t err = {0};
	const char *name = NULL, *to = NULL;
	uint64_t downtime = 50, bw = 0;
	unsigned rounds = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--to") && i + 1 < argc)
			to = argv[++i];
		else if (!strcmp(argv[i], "--max-downtime") && i + 1 < argc)
			downtime = parse_ms(argv[++i]);
		else if (!strcmp(argv[i], "--max-rounds") && i + 1 < argc)
			rounds = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--bandwidth") && i + 1 < argc) {
			if (keel_vm_parse_size(argv[++i], &bw, &err) < 0)
				return vm_cli_die(&err);
		} else if (!name && argv[i][0] != '-')
			name = argv[i];
		else
			name = NULL, i = argc;
	}
	if (!name || !to)
		return fprintf(stderr, "Usage: keel vm migrate NAME --to ADDR:PORT "
				       "[--max-downtime 50ms] [--bandwidth 100M]\n"), 125;
	json_t *req = json_pack("{s:s, s:s, s:I, s:I, s:i}", "cmd", "migrate", "to", to,
				"max_downtime_ms", (json_int_t)downtime, "bandwidth",
				(json_int_t)bw, "max_rounds", (int)rounds);
	json_t *r = call(c, name, req, &err);
	json_decref(req);
	if (!r)
		return vm_cli_die(&err);
	printf("migrated %s: rounds=%lld sent=%lld total=%lldms downtime=%lldms\n", name,
	       (long long)json_integer_value(json_object_get(r, "rounds")),
	       (long long)json_integer_value(json_object_get(r, "sent")),
	       (long long)json_integer_value(json_object_get(r, "total_ms")),
	       (long long)json_integer_value(json_object_get(r, "downtime_ms")));
	json_decref(r);
	return 0;
}

static int listen_tcp(const char *addr, keel_error_t *err)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE}, *res;
	int one = 1, fd;
	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return keel_err(err, EINVAL, "listen address must be ADDR:PORT, got '%s'", addr);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	if (getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &res) != 0)
		return keel_err(err, EINVAL, "cannot resolve '%s'", addr);
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 1) < 0) {
		keel_err_sys(err, "listening on %s", addr);
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

struct recv_ctx {
	int listen_fd, conn_fd;
	bool dir_made;
};

/* Called by keel_vm_receive once the stream's header is in and the VM is built, before the
 * memory: everything a VM needs on disk (directory, console log, control socket, vmm.pid) is
 * made while the guest still runs on the source, not in the downtime. */
static int receive_ready(struct keel_vm *vm, void *arg, keel_error_t *err)
{
	struct vm_launch *l = arg;
	struct recv_ctx *r = l->arg;
	int fd;
	if (!l->name[0]) {
		const char *n = keel_vm_config(vm)->name;
		snprintf(l->name, sizeof(l->name), "%s", n ? n : "migrated");
	}
	if (keel_vm_dir_create(l->root, l->name, keel_vm_config(vm), "migration", err) < 0)
		return -1;
	r->dir_made = true;
	fd = vm_open_console(l, err);
	if (fd < 0)
		return -1;
	keel_vm_set_console(vm, fd);
	return vm_launch_files(l, err);
}

static struct keel_vm *build_receive(struct vm_launch *l, int unused, keel_error_t *err)
{
	struct recv_ctx *r = l->arg;
	struct keel_vm *vm = keel_vm_receive(r->listen_fd, -1, &r->conn_fd, receive_ready, l, err);
	close(r->listen_fd);
	if (vm)
		return vm;
	/* nothing left behind: no directory, socket or pid file of a VM that never came */
	if (l->files_ready) {
		close(l->ctl_fd);
		l->files_ready = false;
	}
	if (r->dir_made)
		keel_vm_dir_remove(l->root, l->name, NULL);
	return NULL;
}

static int receive_started(struct keel_vm *vm, void *arg, keel_error_t *err)
{
	struct recv_ctx *r = arg;
	return keel_vm_migrate_ack(r->conn_fd, err);
}

int vm_cmd_receive(struct vm_cli *c, int argc, char **argv)
{
	static struct recv_ctx r = {-1, -1, false};
	struct vm_launch l = {.root = c->root, .build = build_receive,
			      .started = receive_started, .arg = &r};
	keel_error_t err = {0};
	const char *addr = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--listen") && i + 1 < argc)
			addr = argv[++i];
		else if (!strcmp(argv[i], "--name") && i + 1 < argc)
			snprintf(l.name, sizeof(l.name), "%s", argv[++i]);
		else if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--attach"))
			l.attached = true;
		else
			addr = NULL, i = argc;
	}
	if (!addr)
		return fprintf(stderr, "Usage: keel vm receive --listen ADDR:PORT [--name NAME]\n"),
		       125;
	if (l.name[0]) {
		char path[PATH_MAX];
		if (keel_vm_dir_path(c->root, l.name, "config.json", path, &err) < 0)
			return vm_cli_die(&err);
		if (access(path, F_OK) == 0)
			return keel_err(&err, EEXIST, "VM '%s' already exists", l.name),
			       vm_cli_die(&err);
	}
	r.listen_fd = listen_tcp(addr, &err);
	if (r.listen_fd < 0)
		return vm_cli_die(&err);
	l.keep_fd = r.listen_fd;
	fprintf(stderr, "listening on %s\n", addr);
	return vm_launch(&l);
}
