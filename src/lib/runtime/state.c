#include "runtime/state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/cgroup.h"
#include "util/cleanup.h"
#include "util/fs.h"

int keel_state_check_id(const char *id, keel_error_t *err)
{
	size_t len = id ? strlen(id) : 0;
	if (len == 0)
		return keel_err(err, 0, "container id cannot be empty");
	if (len > 1024 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return keel_err(err, 0, "invalid container id format: %s", id);
	for (const char *p = id; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '+' || c == '-' || c == '.'))
			return keel_err(err, 0, "invalid container id format: %s", id);
	}
	return 0;
}

int keel_state_dir(const char *root, const char *id, char *buf, size_t len, keel_error_t *err)
{
	int n = snprintf(buf, len, "%s/%s", root, id);
	if (n < 0 || (size_t)n >= len)
		return keel_err(err, ENAMETOOLONG, "state directory for %s", id);
	return 0;
}

int keel_state_fifo(const char *root, const char *id, char *buf, size_t len, keel_error_t *err)
{
	int n = snprintf(buf, len, "%s/%s/exec.fifo", root, id);
	if (n < 0 || (size_t)n >= len)
		return keel_err(err, ENAMETOOLONG, "exec fifo for %s", id);
	return 0;
}

static char *dup_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return strdup(s ? s : "");
}

struct keel_state *keel_state_load(const char *root, const char *id, keel_error_t *err)
{
	char path[PATH_MAX];
	cleanup_free char *text = NULL;
	cleanup_json json_t *j = NULL;
	json_error_t jerr;
	struct keel_state *st;

	if (keel_state_check_id(id, err) < 0)
		return NULL;
	if (snprintf(path, sizeof(path), "%s/%s/state.json", root, id) >= (int)sizeof(path)) {
		keel_err(err, ENAMETOOLONG, "state of %s", id);
		return NULL;
	}
	if (keel_read_file(path, &text, err) < 0) {
		if (err && err->errnum == ENOENT)
			keel_err(err, 0, "container does not exist");
		if (err)
			err->errnum = ENOENT;
		return NULL;
	}
	j = json_loads(text, 0, &jerr);
	if (!j || !json_is_object(j)) {
		keel_err(err, EINVAL, "%s: corrupt state: %s", path, jerr.text);
		return NULL;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		keel_err(err, ENOMEM, "state");
		return NULL;
	}
	st->id = dup_str(j, "id");
	st->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
	st->start_time = (unsigned long long)json_integer_value(json_object_get(j, "start_time"));
	st->bundle = dup_str(j, "bundle");
	st->rootfs = dup_str(j, "rootfs");
	st->created = dup_str(j, "created");
	st->cgroup_path = dup_str(j, "cgroup_path");
	st->owner = dup_str(j, "owner");
	st->config = dup_str(j, "config");
	st->own_pid_ns = json_is_true(json_object_get(j, "own_pid_ns"));
	st->annotations = json_incref(json_object_get(j, "annotations"));
	return st;
}

int keel_state_save(const char *root, const struct keel_state *st, keel_error_t *err)
{
	char path[PATH_MAX];
	cleanup_json json_t *j = NULL;
	cleanup_free char *text = NULL;

	j = json_pack("{s:s,s:I,s:I,s:s,s:s,s:s,s:s,s:s,s:b,s:s}", "id", st->id, "pid",
		      (json_int_t)st->pid, "start_time", (json_int_t)st->start_time, "bundle",
		      st->bundle, "rootfs", st->rootfs, "created", st->created, "cgroup_path",
		      st->cgroup_path ? st->cgroup_path : "", "owner", st->owner ? st->owner : "",
		      "own_pid_ns", st->own_pid_ns, "config", st->config ? st->config : "");
	if (!j)
		return keel_err(err, ENOMEM, "state of %s", st->id);
	if (st->annotations)
		json_object_set(j, "annotations", st->annotations);
	text = json_dumps(j, JSON_COMPACT);
	if (!text)
		return keel_err(err, ENOMEM, "state of %s", st->id);
	snprintf(path, sizeof(path), "%s/%s/state.json", root, st->id);
	return keel_write_file_atomic(path, text, strlen(text), 0600, err);
}

void keel_state_free(struct keel_state *st)
{
	if (!st)
		return;
	free(st->id);
	free(st->bundle);
	free(st->rootfs);
	free(st->created);
	free(st->cgroup_path);
	free(st->owner);
	free(st->config);
	json_decref(st->annotations);
	free(st);
}

/* /proc/<pid>/stat: "pid (comm) S ppid ..." — comm may contain spaces and ')', so parse
 * from the last ')'. Returns the state letter and the start time (field 22). */
static int read_stat(pid_t pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024];
	ssize_t n;
	cleanup_close int fd = -1;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -1;
	*state = p[2];
	p += 4; /* ") S " : p is at field 4 */
	/* fields 4..21 precede the start time */
	for (int field = 4; field <= 21; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	*start = strtoull(p, NULL, 10);
	return 0;
}

unsigned long long keel_pid_start_time(pid_t pid)
{
	char s;
	unsigned long long start = 0;
	if (read_stat(pid, &s, &start) < 0)
		return 0;
	return start;
}

bool keel_pid_alive(pid_t pid, unsigned long long start_time)
{
	char s;
	unsigned long long start;
	if (pid <= 0)
		return false;
	if (read_stat(pid, &s, &start) < 0)
		return false;
	if (s == 'Z' || s == 'X')
		return false;
	return start_time == 0 || start == start_time;
}

enum keel_status keel_state_status(const char *root, const struct keel_state *st)
{
	char fifo[PATH_MAX];
	struct stat sb;
	keel_error_t err;

	if (!keel_pid_alive(st->pid, st->start_time))
		return KEEL_STATUS_STOPPED;
	/* Frozen wins over created, as in runc: a created container can be paused. */
	if (st->cgroup_path && *st->cgroup_path) {
		struct keel_cgroup *cg =
			keel_cgroup_open(NULL, KEEL_CGROUP_AUTO, st->cgroup_path, st->id, &err);
		int frozen = cg ? keel_cgroup_is_frozen(cg, &err) : 0;
		keel_cgroup_free(cg);
		if (frozen == 1)
			return KEEL_STATUS_PAUSED;
	}
	if (keel_state_fifo(root, st->id, fifo, sizeof(fifo), NULL) == 0 && stat(fifo, &sb) == 0)
		return KEEL_STATUS_CREATED;
	return KEEL_STATUS_RUNNING;
}

const char *keel_status_name(enum keel_status s)
{
	static const char *const names[] = {"created", "running", "paused", "stopped"};
	return names[s];
}

json_t *keel_state_to_json(const char *root, const struct keel_state *st, bool with_owner)
{
	enum keel_status s = keel_state_status(root, st);
	json_t *j = json_object();
	if (!j)
		return NULL;
	json_object_set_new(j, "ociVersion", json_string("1.0.2-dev"));
	json_object_set_new(j, "id", json_string(st->id));
	json_object_set_new(j, "pid", json_integer(s == KEEL_STATUS_STOPPED ? 0 : st->pid));
	json_object_set_new(j, "status", json_string(keel_status_name(s)));
	json_object_set_new(j, "bundle", json_string(st->bundle));
	json_object_set_new(j, "rootfs", json_string(st->rootfs));
	json_object_set_new(j, "created", json_string(st->created));
	if (st->annotations && json_object_size(st->annotations) > 0)
		json_object_set(j, "annotations", st->annotations);
	json_object_set_new(j, "owner", json_string(with_owner ? "root" : ""));
	return j;
}
