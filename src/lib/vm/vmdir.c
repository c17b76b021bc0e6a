/* VMs as a set of files (see vmdir.h and docs/vm.md). */
#include "vm/vmdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

const char *keel_vm_root(const char *opt)
{
	const char *env = getenv("KEEL_ROOT");
	if (opt && *opt)
		return opt;
	return env && *env ? env : "/var/lib/keel";
}

static bool valid_name(const char *n)
{
	size_t len = strlen(n);
	if (len == 0 || len > 64 || n[0] == '.' || n[0] == '-')
		return false;
	for (const char *p = n; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && *p != '_' && *p != '-' && *p != '.')
			return false;
	return true;
}

int keel_vm_dir_path(const char *root, const char *name, const char *file, char *out,
		     keel_error_t *err)
{
	int n;
	if (!valid_name(name))
		return keel_err(err, EINVAL, "invalid VM name '%s' (use [A-Za-z0-9_.-], up to 64)",
				name);
	n = snprintf(out, PATH_MAX, "%s/vms/%s%s%s", root, name, file ? "/" : "", file ? file : "");
	if (n < 0 || n >= PATH_MAX)
		return keel_err(err, ENAMETOOLONG, "VM path too long");
	return 0;
}

char *keel_vm_config_json(const struct keel_vm_config *cfg)
{
	cleanup_json json_t *j = json_pack("{s:s?, s:s?, s:s?, s:I, s:I, s:s}", "kernel",
					   cfg->kernel, "initrd", cfg->initrd, "cmdline",
					   cfg->cmdline, "cpus", (json_int_t)cfg->cpus, "memory",
					   (json_int_t)cfg->mem_bytes, "net",
					   cfg->tap ? cfg->tap : "none");
	if (!j)
		return NULL;
	if (cfg->disk)
		json_object_set_new(j, "disk", json_pack("{s:s, s:b}", "path", cfg->disk,
							 "readonly", cfg->disk_ro));
	return json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
}

static char *json_strdup(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? strdup(s) : NULL;
}

int keel_vm_config_from_json(const char *text, struct keel_vm_config *cfg, keel_error_t *err)
{
	json_error_t je;
	cleanup_json json_t *j = json_loads(text, 0, &je);
	json_t *disk;
	const char *net;

	memset(cfg, 0, sizeof(*cfg));
	if (!j || !json_is_object(j))
		return keel_err(err, EINVAL, "config.json: %s", j ? "not an object" : je.text);
	cfg->kernel = json_strdup(j, "kernel");
	cfg->initrd = json_strdup(j, "initrd");
	cfg->cmdline = json_strdup(j, "cmdline");
	cfg->cpus = (unsigned)json_integer_value(json_object_get(j, "cpus"));
	cfg->mem_bytes = (uint64_t)json_integer_value(json_object_get(j, "memory"));
	disk = json_object_get(j, "disk");
	if (disk) {
		cfg->disk = json_strdup(disk, "path");
		cfg->disk_ro = json_is_true(json_object_get(disk, "readonly"));
	}
	net = json_string_value(json_object_get(j, "net"));
	if (net && strcmp(net, "none") != 0)
		cfg->tap = strdup(net);
	if (!cfg->cpus || !cfg->mem_bytes) {
		keel_vm_config_clear(cfg);
		return keel_err(err, EINVAL, "config.json: cpus and memory are required");
	}
	return 0;
}

int keel_vm_dir_create(const char *root, const char *name, const struct keel_vm_config *cfg,
		       const char *origin, keel_error_t *err)
{
	char dir[PATH_MAX], vms[PATH_MAX], file[PATH_MAX];
	cleanup_free char *text = keel_vm_config_json(cfg);

	if (!text)
		return keel_err(err, ENOMEM, "config.json");
	if (keel_vm_dir_path(root, name, NULL, dir, err) < 0 ||
	    keel_vm_dir_path(root, name, "config.json", file, err) < 0)
		return -1;
	snprintf(vms, sizeof(vms), "%s/vms", root);
	if (keel_mkdir_p(vms, 0700, err) < 0)
		return -1;
	if (mkdir(dir, 0700) < 0)
		return errno == EEXIST ? keel_err(err, EEXIST, "VM '%s' already exists", name)
				       : keel_err_sys(err, "mkdir %s", dir);
	if (keel_write_file_atomic(file, text, strlen(text), 0600, err) < 0) {
		keel_rm_rf(dir, NULL);
		return -1;
	}
	if (origin) {
		keel_vm_dir_path(root, name, "origin", file, NULL);
		keel_write_file(file, origin, strlen(origin), 0600, NULL);
	}
	return 0;
}

int keel_vm_dir_load(const char *root, const char *name, struct keel_vm_config *cfg,
		     keel_error_t *err)
{
	char file[PATH_MAX];
	cleanup_free char *text = NULL;
	if (keel_vm_dir_path(root, name, "config.json", file, err) < 0)
		return -1;
	if (keel_read_file(file, &text, err) < 0) {
		if (err && err->errnum == ENOENT)
			return keel_err(err, ENOENT, "no such VM: %s", name);
		return -1;
	}
	if (keel_vm_config_from_json(text, cfg, err) < 0)
		return keel_err_wrap(err, "VM %s", name);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int keel_vm_dir_list(const char *root, char ***names, keel_error_t *err)
{
	char path[PATH_MAX];
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	size_t n = 0;
	char **v = calloc(1, sizeof(char *));

	if (!v)
		return keel_err(err, ENOMEM, "listing VMs");
	*names = v;
	snprintf(path, sizeof(path), "%s/vms", root);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : keel_err_sys(err, "opendir %s", path);
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || !valid_name(de->d_name))
			continue;
		char **nv = realloc(v, (n + 2) * sizeof(char *));
		if (!nv)
			return keel_err(err, ENOMEM, "listing VMs");
		v = *names = nv;
		v[n] = strdup(de->d_name);
		v[++n] = NULL;
	}
	qsort(v, n, sizeof(char *), cmp_str);
	return (int)n;
}

/* A VMM killed while nobody reaps it (its parent, `keel vm run -d`, is long gone and a
 * container's init may not reap) stays a zombie: it runs no VM. */
static bool is_zombie(pid_t pid)
{
	char path[64], buf[256];
	cleanup_close int fd = -1;
	ssize_t n;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		return false;
	buf[n] = 0;
	const char *p = strrchr(buf, ')'); /* the name may hold spaces and parentheses */
	return p && p[1] == ' ' && p[2] == 'Z';
}

pid_t keel_vm_dir_pid(const char *root, const char *name)
{
	char file[PATH_MAX];
	cleanup_free char *text = NULL;
	long pid;
	if (keel_vm_dir_path(root, name, "vmm.pid", file, NULL) < 0 ||
	    keel_read_file(file, &text, NULL) < 0)
		return 0;
	pid = strtol(text, NULL, 10);
	if (pid <= 0 || (kill((pid_t)pid, 0) < 0 && errno == ESRCH) || is_zombie((pid_t)pid))
		return 0;
	return (pid_t)pid;
}

int keel_vm_dir_remove(const char *root, const char *name, keel_error_t *err)
{
	char dir[PATH_MAX];
	if (keel_vm_dir_path(root, name, NULL, dir, err) < 0)
		return -1;
	return keel_rm_rf(dir, err);
}

void keel_vm_dir_set_exit(const char *root, const char *name, int status, const char *msg)
{
	char file[PATH_MAX], text[1200];
	int n = snprintf(text, sizeof(text), "%d %s\n", status, msg ? msg : "");
	if (keel_vm_dir_path(root, name, "exit", file, NULL) == 0)
		keel_write_file_atomic(file, text, (size_t)n, 0600, NULL);
}
