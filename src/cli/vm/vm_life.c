/* keel vm create / start / run / ls / inspect / logs / console / stop / rm / pause / resume. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/vm/vm_cli.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "vm/control.h"
#include "vm/vmdir.h"

enum { OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_CPUS, OPT_MEMORY, OPT_DISK, OPT_NET,
       OPT_NAME, OPT_RM, OPT_FORCE };

static const struct option create_opts[] = {
	{"kernel", required_argument, NULL, OPT_KERNEL},
	{"initrd", required_argument, NULL, OPT_INITRD},
	{"cmdline", required_argument, NULL, OPT_CMDLINE},
	{"cpus", required_argument, NULL, OPT_CPUS},
	{"memory", required_argument, NULL, OPT_MEMORY},
	{"disk", required_argument, NULL, OPT_DISK},
	{"net", required_argument, NULL, OPT_NET},
	{"name", required_argument, NULL, OPT_NAME},
	{"rm", no_argument, NULL, OPT_RM},
	{"detach", no_argument, NULL, 'd'},
	{"attach", no_argument, NULL, 'a'},
	{NULL, 0, NULL, 0},
};

static char *abs_path(const char *p)
{
	char *r = realpath(p, NULL);
	return r ? r : strdup(p); /* a missing file is reported when the VM starts */
}

struct create_args {
	struct keel_vm_config cfg;
	const char *name;
	bool rm, detach;
};

static int parse_create(int argc, char **argv, struct create_args *a, keel_error_t *err)
{
	int c;
	a->cfg.cpus = 1;
	a->cfg.mem_bytes = 256ULL << 20;
	while ((c = getopt_long(argc, argv, "+da", create_opts, NULL)) != -1) {
		switch (c) {
		case OPT_KERNEL: free(a->cfg.kernel); a->cfg.kernel = abs_path(optarg); break;
		case OPT_INITRD: free(a->cfg.initrd); a->cfg.initrd = abs_path(optarg); break;
		case OPT_CMDLINE: free(a->cfg.cmdline); a->cfg.cmdline = strdup(optarg); break;
		case OPT_CPUS: a->cfg.cpus = (unsigned)atoi(optarg); break;
		case OPT_MEMORY:
			if (keel_vm_parse_size(optarg, &a->cfg.mem_bytes, err) < 0)
				return -1;
			break;
		case OPT_DISK: {
			char *comma = strchr(optarg, ',');
			a->cfg.disk_ro = comma && strcmp(comma, ",ro") == 0;
			if (comma)
				*comma = 0;
			free(a->cfg.disk);
			a->cfg.disk = abs_path(optarg);
			break;
		}
		case OPT_NET:
			if (strcmp(optarg, "none") && strcmp(optarg, "tap") &&
			    strncmp(optarg, "tap:", 4))
				return keel_err(err, EINVAL,
						"--net must be tap, tap:NAME or none, not '%s'", optarg);
			free(a->cfg.tap);
			a->cfg.tap = strcmp(optarg, "none") ? strdup(optarg) : NULL;
			break;
		case OPT_NAME: a->name = optarg; break;
		case OPT_RM: a->rm = true; break;
		case 'd': a->detach = true; break;
		case 'a': break;
		default: return keel_err(err, EINVAL, "invalid option (see keel vm --help)");
		}
	}
	if (!a->cfg.kernel)
		return keel_err(err, EINVAL, "--kernel is required");
	if (a->cfg.cpus < 1 || a->cfg.cpus > KEEL_VM_MAX_CPUS)
		return keel_err(err, EINVAL, "--cpus must be 1..%d", KEEL_VM_MAX_CPUS);
	return 0;
}

int vm_cmd_create(struct vm_cli *c, int argc, char **argv)
{
	keel_error_t err = {0};
	struct create_args a = {0};
	int ret = 1;
	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "Usage: keel vm create NAME --kernel K [options]\n");
		return 125;
	}
	a.name = argv[1];
	if (parse_create(argc - 1, argv + 1, &a, &err) < 0 ||
	    keel_vm_dir_create(c->root, a.name, &a.cfg, NULL, &err) < 0)
		vm_cli_die(&err);
	else
		ret = (printf("%s\n", a.name), 0);
	keel_vm_config_clear(&a.cfg);
	return ret;
}

static struct keel_vm *build_from_config(struct vm_launch *l, int unused, keel_error_t *err)
{
	struct keel_vm_config cfg = {0};
	struct keel_vm *vm = NULL;
	int console_fd;
	if (keel_vm_dir_load(l->root, l->name, &cfg, err) < 0)
		return NULL;
	cfg.name = strdup(l->name);
	console_fd = vm_open_console(l, err);
	if (console_fd >= 0)
		vm = keel_vm_new(&cfg, console_fd, err);
	keel_vm_config_clear(&cfg);
	return vm; /* console_fd stays open for the VMM's life */
}

static int start_vm(struct vm_cli *c, const char *name, bool attached, bool rm, bool *ran)
{
	struct vm_launch l = {.root = c->root, .attached = attached, .rm = rm, .keep_fd = -1,
			      .build = build_from_config};
	keel_error_t err = {0};
	char path[PATH_MAX];
	if (keel_vm_dir_path(c->root, name, "config.json", path, &err) < 0)
		return vm_cli_die(&err);
	if (access(path, F_OK) < 0)
		return keel_err(&err, ENOENT, "no such VM: %s", name), vm_cli_die(&err);
	if (keel_vm_dir_pid(c->root, name))
		return keel_err(&err, EBUSY, "VM %s is already running", name), vm_cli_die(&err);
	snprintf(l.name, sizeof(l.name), "%s", name);
	int ret = vm_launch(&l);
	if (ran)
		*ran = attached ? l.ran : ret == 0;
	return ret;
}

int vm_cmd_start(struct vm_cli *c, int argc, char **argv)
{
	bool attached = false;
	const char *name = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-a") || !strcmp(argv[i], "--attach"))
			attached = true;
		else if (!name && argv[i][0] != '-')
			name = argv[i];
		else
			return fprintf(stderr, "keel vm: start: unexpected '%s'\n", argv[i]), 125;
	}
	if (!name)
		return fprintf(stderr, "Usage: keel vm start NAME [-a]\n"), 125;
	return start_vm(c, name, attached, false, NULL);
}

int vm_cmd_run(struct vm_cli *c, int argc, char **argv)
{
	keel_error_t err = {0};
	struct create_args a = {0};
	char gen[32];
	int ret;
	if (parse_create(argc, argv, &a, &err) < 0) {
		keel_vm_config_clear(&a.cfg);
		return vm_cli_die(&err);
	}
	if (!a.name) {
		snprintf(gen, sizeof(gen), "vm-%lx%04x", (unsigned long)time(NULL),
			 (unsigned)getpid() & 0xffff);
		a.name = gen;
	}
	ret = keel_vm_dir_create(c->root, a.name, &a.cfg, NULL, &err);
	keel_vm_config_clear(&a.cfg);
	if (ret < 0)
		return vm_cli_die(&err);
	bool ran = false;
	ret = start_vm(c, a.name, !a.detach, a.rm, &ran);
	if (!ran) /* never booted: leave nothing behind */
		keel_vm_dir_remove(c->root, a.name, NULL);
	return ret;
}

/* "running", "paused", "stopped" or "created" (never started). */
static const char *vm_state(struct vm_cli *c, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX];
	if (keel_vm_dir_pid(c->root, name)) {
		keel_error_t err;
		json_t *req = json_pack("{s:s}", "cmd", "status");
		keel_vm_dir_path(c->root, name, "control.sock", path, NULL);
		json_t *r = keel_vm_control_call(path, req, NULL, &err);
		json_decref(req);
		snprintf(buf, len, "%s", r ? json_string_value(json_object_get(r, "state")) : "running");
		json_decref(r);
		return buf;
	}
	keel_vm_dir_path(c->root, name, "exit", path, NULL);
	return access(path, F_OK) == 0 ? "stopped" : "created";
}

int vm_cmd_ls(struct vm_cli *c, int argc, char **argv)
{
	keel_error_t err = {0};
	cleanup_strv char **names = NULL;
	if (keel_vm_dir_list(c->root, &names, &err) < 0)
		return vm_cli_die(&err);
	printf("%-24s %-8s %-5s %-8s %s\n", "NAME", "STATE", "CPUS", "MEMORY", "PID");
	for (char **n = names; *n; n++) {
		struct keel_vm_config cfg = {0};
		char st[32], mem[32];
		if (keel_vm_dir_load(c->root, *n, &cfg, &err) < 0)
			continue;
		snprintf(mem, sizeof(mem), "%lluM", (unsigned long long)(cfg.mem_bytes >> 20));
		printf("%-24s %-8s %-5u %-8s %d\n", *n, vm_state(c, *n, st, sizeof(st)), cfg.cpus,
		       mem, (int)keel_vm_dir_pid(c->root, *n));
		keel_vm_config_clear(&cfg);
	}
	return 0;
}

static const char *one_name(int argc, char **argv, const char *usage)
{
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "Usage: keel vm %s\n", usage);
		return NULL;
	}
	return argv[1];
}

int vm_cmd_inspect(struct vm_cli *c, int argc, char **argv)
{
	keel_error_t err = {0};
	struct keel_vm_config cfg = {0};
	char path[PATH_MAX], st[32];
	cleanup_free char *cfg_text = NULL, *exit_text = NULL;
	const char *name = one_name(argc, argv, "inspect NAME");
	if (!name)
		return 125;
	if (keel_vm_dir_load(c->root, name, &cfg, &err) < 0)
		return vm_cli_die(&err);
	cfg_text = keel_vm_config_json(&cfg);
	keel_vm_config_clear(&cfg);
	keel_vm_dir_path(c->root, name, NULL, path, NULL);
	json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:o}", "name", name, "dir", path, "state",
			      vm_state(c, name, st, sizeof(st)), "pid",
			      (int)keel_vm_dir_pid(c->root, name), "config",
			      json_loads(cfg_text, 0, NULL));
	keel_vm_dir_path(c->root, name, "exit", path, NULL);
	if (keel_read_file(path, &exit_text, NULL) >= 0) {
		char *msg = strchr(exit_text, ' ');
		if (msg)
			msg[strcspn(msg, "\n")] = 0;
		json_object_set_new(j, "exit", json_pack("{s:i, s:s}", "status", atoi(exit_text),
							 "message", msg ? msg + 1 : ""));
	}
	cleanup_free char *out = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	printf("%s\n", out);
	return 0;
}

int vm_cmd_logs(struct vm_cli *c, int argc, char **argv)
{
	keel_error_t err = {0};
	char path[PATH_MAX], buf[65536];
	bool follow = argc == 3 && (!strcmp(argv[2], "-f") || !strcmp(argv[2], "--follow"));
	const char *name = argc >= 2 ? argv[1] : NULL;
	if (argc == 3 && !strcmp(argv[1], "-f")) {
		follow = true;
		name = argv[2];
	}
	if (!name || (argc == 3 && !follow) || argc > 3)
		return fprintf(stderr, "Usage: keel vm logs NAME [-f]\n"), 125;
	if (keel_vm_dir_path(c->root, name, "console.log", path, &err) < 0)
		return vm_cli_die(&err);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		keel_vm_dir_path(c->root, name, "config.json", path, NULL);
		if (access(path, F_OK) < 0)
			return keel_err(&err, ENOENT, "no such VM: %s", name), vm_cli_die(&err);
		if (!follow)
			return 0;
	}
	for (;;) {
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf)) : 0;
		if (n > 0) {
			fwrite(buf, 1, (size_t)n, stdout);
			continue;
		}
		fflush(stdout);
		if (!follow || !keel_vm_dir_pid(c->root, name))
			break;
		usleep(50000);
		if (fd < 0) {
			keel_vm_dir_path(c->root, name, "console.log", path, NULL);
			fd = open(path, O_RDONLY | O_CLOEXEC);
		}
	}
	return 0;
}

static int control(struct vm_cli *c, const char *name, const char *cmd, json_t **reply,
		   int *fd, keel_error_t *err)
{
	char path[PATH_MAX];
	json_t *req;
	if (keel_vm_dir_path(c->root, name, "control.sock", path, err) < 0)
		return -1;
	if (!keel_vm_dir_pid(c->root, name)) {
		keel_vm_dir_path(c->root, name, "config.json", path, NULL);
		return access(path, F_OK) < 0 ? keel_err(err, ENOENT, "no such VM: %s", name)
					      : keel_err(err, ESRCH, "VM %s is not running", name);
	}
	req = json_pack("{s:s}", "cmd", cmd);
	json_t *r = keel_vm_control_call(path, req, fd, err);
	json_decref(req);
	if (!r)
		return -1;
	if (reply)
		*reply = r;
	else
		json_decref(r);
	return 0;
}

int vm_cmd_console(struct vm_cli *c, int argc, char **argv)
{
	keel_error_t err = {0};
	struct termios saved, raw;
	int fd = -1;
	const char *name = one_name(argc, argv, "console NAME");
	if (!name)
		return 125;
	if (control(c, name, "console", NULL, &fd, &err) < 0)
		return vm_cli_die(&err);
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	char buf[4096];
	int in = STDIN_FILENO;
	for (;;) {
		struct pollfd p[2] = {{fd, POLLIN, 0}, {in, POLLIN, 0}};
		if (poll(p, 2, -1) < 0)
			break;
		if (p[0].revents) {
			ssize_t n = read(fd, buf, sizeof(buf));
			if (n <= 0)
				break;
			(void)!write(STDOUT_FILENO, buf, (size_t)n);
		}
		if (p[1].revents) {
			ssize_t n = read(in, buf, sizeof(buf));
			if (n <= 0) {
				in = -1;
				continue;
			}
			if (tty && memchr(buf, 0x1d, (size_t)n))
				break;
			(void)!write(fd, buf, (size_t)n);
		}
	}
	if (tty)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	close(fd);
	return 0;
}

/* Waits up to ms for the VMM to go. */
static bool wait_gone(struct vm_cli *c, const char *name, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (!keel_vm_dir_pid(c->root, name))
			return true;
		usleep(10000);
	}
	return !keel_vm_dir_pid(c->root, name);
}

static int force_stop(struct vm_cli *c, const char *name)
{
	char path[PATH_MAX];
	pid_t pid = keel_vm_dir_pid(c->root, name);
	if (pid) {
		kill(pid, SIGKILL);
		wait_gone(c, name, 5000);
	}
	keel_vm_dir_path(c->root, name, "control.sock", path, NULL);
	unlink(path);
	keel_vm_dir_path(c->root, name, "vmm.pid", path, NULL);
	unlink(path);
	if (pid)
		keel_vm_dir_set_exit(c->root, name, 137, "killed");
	return 0;
}

int vm_cmd_stop(struct vm_cli *c, int argc, char **argv)
{
	keel_error_t err = {0};
	bool force = false;
	const char *name = NULL;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--force") || !strcmp(argv[i], "-f"))
			force = true;
		else if (!name && argv[i][0] != '-')
			name = argv[i];
		else
			return fprintf(stderr, "Usage: keel vm stop NAME [--force]\n"), 125;
	}
	if (!name)
		return fprintf(stderr, "Usage: keel vm stop NAME [--force]\n"), 125;
	if (force) {
		char path[PATH_MAX];
		if (keel_vm_dir_path(c->root, name, "config.json", path, &err) < 0 ||
		    access(path, F_OK) < 0)
			return keel_err(&err, ENOENT, "no such VM: %s", name), vm_cli_die(&err);
		force_stop(c, name);
	} else {
		if (control(c, name, "stop", NULL, NULL, &err) < 0)
			return vm_cli_die(&err);
		if (!wait_gone(c, name, 10000))
			return fprintf(stderr, "keel vm: %s did not stop; try --force\n", name), 1;
	}
	printf("%s\n", name);
	return 0;
}

int vm_cmd_rm(struct vm_cli *c, int argc, char **argv)
{
	keel_error_t err = {0};
	bool force = false;
	int ret = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--force")) {
			force = true;
			continue;
		}
		char path[PATH_MAX];
		if (keel_vm_dir_path(c->root, argv[i], "config.json", path, &err) < 0 ||
		    access(path, F_OK) < 0) {
			ret = (keel_err(&err, ENOENT, "no such VM: %s", argv[i]), vm_cli_die(&err));
			continue;
		}
		if (keel_vm_dir_pid(c->root, argv[i])) {
			if (!force) {
				fprintf(stderr, "keel vm: VM %s is running (stop it or use -f)\n",
					argv[i]);
				ret = 1;
				continue;
			}
			force_stop(c, argv[i]);
		}
		if (keel_vm_dir_remove(c->root, argv[i], &err) < 0)
			ret = vm_cli_die(&err);
		else
			printf("%s\n", argv[i]);
	}
	return ret;
}

static int simple(struct vm_cli *c, int argc, char **argv, const char *cmd)
{
	keel_error_t err = {0};
	if (argc != 2)
		return fprintf(stderr, "Usage: keel vm %s NAME\n", cmd), 125;
	if (control(c, argv[1], cmd, NULL, NULL, &err) < 0)
		return vm_cli_die(&err);
	printf("%s\n", argv[1]);
	return 0;
}

int vm_cmd_pause(struct vm_cli *c, int argc, char **argv)
{
	return simple(c, argc, argv, "pause");
}

int vm_cmd_resume(struct vm_cli *c, int argc, char **argv)
{
	return simple(c, argc, argv, "resume");
}
