/* The cgroup front: resolves the container's path, picks a backend (cgroup_v1.c,
 * cgroup_v2.c) and does what both versions share: joining, listing and signalling
 * processes, and removing the directories. */
#include "runtime/cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>

#include "runtime/cgroup_backend.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define DEFAULT_ROOT "/sys/fs/cgroup"

/* ---------- knob helpers ---------- */

static int write_knob(const char *dir, const char *knob, const char *value, bool append,
		      keel_error_t *err)
{
	char path[PATH_MAX];
	int flags = O_WRONLY | O_CLOEXEC | (append ? O_APPEND : O_TRUNC);
	size_t len = strlen(value);
	cleanup_free char *line = NULL;
	const char *buf = value;
	cleanup_close int fd = -1;
	ssize_t n;

	if (snprintf(path, sizeof(path), "%s/%s", dir, knob) >= (int)sizeof(path))
		return keel_err(err, ENAMETOOLONG, "cgroup: %s", knob);
	if (append) {
		if (asprintf(&line, "%s\n", value) < 0)
			return keel_err(err, ENOMEM, "cgroup: %s", knob);
		buf = line;
		len++;
	}
	fd = open(path, flags);
	if (fd < 0)
		return keel_err_sys(err, "cgroup: %s: open %s", knob, path);
	/* A cgroup knob takes one value per write(2); a short write is an error. */
	do
		n = write(fd, buf, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return keel_err_sys(err, "cgroup: %s: write \"%s\"", knob, value);
	if ((size_t)n != len)
		return keel_err(err, EIO, "cgroup: %s: short write of \"%s\"", knob, value);
	return 0;
}

int keel_cgroup_write(const char *dir, const char *knob, const char *value, keel_error_t *err)
{
	return write_knob(dir, knob, value, false, err);
}

int keel_cgroup_append(const char *dir, const char *knob, const char *value, keel_error_t *err)
{
	return write_knob(dir, knob, value, true, err);
}

int keel_cgroup_writef(const char *dir, const char *knob, keel_error_t *err, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return keel_err(err, EINVAL, "cgroup: %s: value too long", knob);
	return keel_cgroup_write(dir, knob, buf, err);
}

int keel_cgroup_read(const char *dir, const char *knob, char **out, keel_error_t *err)
{
	char path[PATH_MAX];
	cleanup_free char *buf = NULL;
	ssize_t len;

	if (snprintf(path, sizeof(path), "%s/%s", dir, knob) >= (int)sizeof(path))
		return keel_err(err, ENAMETOOLONG, "cgroup: %s", knob);
	len = keel_read_file(path, &buf, err);
	if (len < 0)
		return keel_err_wrap(err, "cgroup: %s", knob);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		buf[--len] = '\0';
	*out = steal_pointer(&buf);
	return 0;
}

int keel_cgroup_read_u64(const char *dir, const char *knob, uint64_t *v, keel_error_t *err)
{
	cleanup_free char *s = NULL;
	char *end;

	if (keel_cgroup_read(dir, knob, &s, err) < 0)
		return -1;
	if (strcmp(s, "max") == 0 || strcmp(s, "-1") == 0) {
		*v = UINT64_MAX;
		return 0;
	}
	errno = 0;
	*v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		return keel_err(err, EINVAL, "cgroup: %s: not a number: \"%s\"", knob, s);
	return 0;
}

bool keel_cgroup_knob_exists(const char *dir, const char *knob)
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", dir, knob) >= (int)sizeof(path))
		return false;
	return access(path, F_OK) == 0;
}

static bool content_matches(const char *text, const char *want)
{
	size_t wl = strlen(want);
	const char *sp = strchr(want, ' ');

	if (!sp)
		return strcmp(text, want) == 0;
	/* "frozen 1": find the line in a keyed file such as cgroup.events. */
	for (const char *line = text; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncmp(line, want, wl) == 0 && (line[wl] == '\n' || line[wl] == '\0'))
			return true;
	}
	return false;
}

int keel_cgroup_wait_for(const char *dir, const char *knob, const char *want, int timeout_ms,
			 keel_error_t *err)
{
	struct timespec ts = {0, 1000 * 1000};

	for (int waited = 0;; waited++) {
		cleanup_free char *s = NULL;
		if (keel_cgroup_read(dir, knob, &s, err) < 0)
			return -1;
		if (content_matches(s, want))
			return 0;
		if (waited >= timeout_ms)
			return keel_err(err, ETIMEDOUT,
					"cgroup: %s: still \"%s\", waiting for \"%s\"", knob, s,
					want);
		nanosleep(&ts, NULL);
	}
}

/* ---------- JSON helpers for stats ---------- */

json_t *keel_cgroup_json_u64(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

void keel_cgroup_json_set_nz(json_t *obj, const char *key, uint64_t v)
{
	if (v)
		json_object_set_new(obj, key, keel_cgroup_json_u64(v));
}

uint64_t keel_cgroup_json_get(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *keel_cgroup_flat_keyed(const char *text)
{
	cleanup_free char *copy = strdup(text ? text : "");
	cleanup_free char **lines = NULL;
	size_t n = 0, cap = 0;
	json_t *obj = json_object();
	char *save = NULL;

	if (!copy || !obj)
		return obj;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		if (n == cap) {
			char **nl = realloc(lines, (cap = cap ? cap * 2 : 64) * sizeof(*lines));
			if (!nl)
				return obj;
			lines = nl;
		}
		lines[n++] = l;
	}
	/* Sorted, as Go prints runc's map[string]uint64. */
	qsort(lines, n, sizeof(*lines), cmp_str);
	for (size_t i = 0; i < n; i++) {
		char *sp = strchr(lines[i], ' ');
		if (!sp)
			continue;
		*sp = '\0';
		json_object_set_new(obj, lines[i],
				    keel_cgroup_json_u64(strtoull(sp + 1, NULL, 10)));
	}
	return obj;
}

/* ---------- hierarchies ---------- */

int keel_cgroup_add_hier(struct keel_cgroup *cg, const char *name, const char *mount, bool unified,
			 keel_error_t *err)
{
	struct cgroup_hier *h, *nh = realloc(cg->hiers, (cg->n_hiers + 1) * sizeof(*nh));

	if (!nh)
		return keel_err(err, ENOMEM, "cgroup");
	cg->hiers = nh;
	h = &cg->hiers[cg->n_hiers];
	memset(h, 0, sizeof(*h));
	h->unified = unified;
	h->name = strdup(name);
	h->mount = strdup(mount);
	if (asprintf(&h->dir, "%s%s", mount, cg->path) < 0)
		h->dir = NULL;
	cg->n_hiers++;
	if (!h->name || !h->mount || !h->dir)
		return keel_err(err, ENOMEM, "cgroup");
	return 0;
}

struct cgroup_hier *keel_cgroup_hier(struct keel_cgroup *cg, const char *ctl)
{
	size_t len = strlen(ctl);

	for (size_t i = 0; i < cg->n_hiers; i++) {
		const char *p = cg->hiers[i].name;
		if (cg->hiers[i].unified)
			continue;
		/* Match one element of a comma-separated list: "cpu" in "cpu,cpuacct". */
		while (p && *p) {
			if (strncmp(p, ctl, len) == 0 && (p[len] == ',' || p[len] == '\0'))
				return &cg->hiers[i];
			p = strchr(p, ',');
			if (p)
				p++;
		}
	}
	return NULL;
}

/* ---------- path resolution ---------- */

static bool is_systemd_style(const char *p)
{
	const char *c1 = strchr(p, ':');
	return p[0] != '/' && c1 && strchr(c1 + 1, ':') && !strchr(strchr(c1 + 1, ':') + 1, ':');
}

/* Normalizes cgroupsPath into "/a/b": "." and empty components drop, ".." pops one, and a
 * ".." that would climb above the hierarchy root is refused. A relative path is taken
 * relative to the hierarchy root too (runc's cgroupfs driver resolves it against its own
 * cgroup instead; engines always pass absolute paths, and a root-relative meaning keeps
 * re-opening the same container from any process stable). */
static int resolve_path(const char *cgroups_path, const char *id, char **out, keel_error_t *err)
{
	cleanup_free char *copy = NULL, *res = NULL;
	char *save = NULL;
	size_t len = 0;

	if (!cgroups_path || !*cgroups_path) {
		if (!id || !*id || strchr(id, '/') || !strcmp(id, ".") || !strcmp(id, ".."))
			return keel_err(err, EINVAL, "cgroup: invalid container id \"%s\"",
					id ? id : "");
		cgroups_path = id;
	} else if (is_systemd_style(cgroups_path)) {
		return keel_err(
		    err, EINVAL,
		    "cgroup: cgroupsPath \"%s\": the systemd form \"slice:prefix:name\" "
		    "is not supported; use a path such as /keel/<id>",
		    cgroups_path);
	}
	copy = strdup(cgroups_path);
	res = calloc(1, strlen(cgroups_path) + 2);
	if (!copy || !res)
		return keel_err(err, ENOMEM, "cgroup");
	for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			if (len == 0)
				return keel_err(
				    err, EINVAL,
				    "cgroup: cgroupsPath \"%s\" escapes the cgroup root",
				    cgroups_path);
			while (len > 0 && res[len] != '/')
				len--;
			res[len] = '\0';
			continue;
		}
		len += (size_t)sprintf(res + len, "/%s", c);
	}
	if (len == 0)
		return keel_err(err, EINVAL, "cgroup: cgroupsPath \"%s\" is the root cgroup",
				cgroups_path);
	*out = steal_pointer(&res);
	return 0;
}

static enum keel_cgroup_mode detect_mode(const char *root)
{
	struct statfs sfs;

	if (statfs(root, &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC)
		return KEEL_CGROUP_V2;
	return KEEL_CGROUP_V1;
}

/* ---------- public ---------- */

void keel_cgroup_free(struct keel_cgroup *cg)
{
	if (!cg)
		return;
	for (size_t i = 0; i < cg->n_hiers; i++) {
		free(cg->hiers[i].name);
		free(cg->hiers[i].mount);
		free(cg->hiers[i].dir);
	}
	free(cg->hiers);
	free(cg->root);
	free(cg->path);
	free(cg);
}

struct keel_cgroup *keel_cgroup_open(const char *root, enum keel_cgroup_mode mode,
				     const char *cgroups_path, const char *id, keel_error_t *err)
{
	struct keel_cgroup *cg = calloc(1, sizeof(*cg));
	size_t rl;

	if (!cg) {
		keel_err(err, ENOMEM, "cgroup");
		return NULL;
	}
	cg->root = strdup(root ? root : DEFAULT_ROOT);
	if (!cg->root) {
		keel_err(err, ENOMEM, "cgroup");
		goto fail;
	}
	rl = strlen(cg->root);
	while (rl > 1 && cg->root[rl - 1] == '/')
		cg->root[--rl] = '\0';
	if (resolve_path(cgroups_path, id, &cg->path, err) < 0)
		goto fail;
	cg->mode = mode == KEEL_CGROUP_AUTO ? detect_mode(cg->root) : mode;
	cg->ops = cg->mode == KEEL_CGROUP_V2 ? &keel_cgroup_v2_ops : &keel_cgroup_v1_ops;
	if (cg->ops->init(cg, err) < 0)
		goto fail;
	return cg;
fail:
	keel_cgroup_free(cg);
	return NULL;
}

enum keel_cgroup_mode keel_cgroup_get_mode(const struct keel_cgroup *cg)
{
	return cg->mode;
}

const char *keel_cgroup_path(const struct keel_cgroup *cg)
{
	return cg->path;
}

int keel_cgroup_create(struct keel_cgroup *cg, keel_error_t *err)
{
	return cg->ops->create(cg, err);
}

int keel_cgroup_apply(struct keel_cgroup *cg, const struct keel_spec_resources *res,
		      keel_error_t *err)
{
	if (!res)
		return 0;
	return cg->ops->apply(cg, res, err);
}

int keel_cgroup_enter(struct keel_cgroup *cg, pid_t pid, keel_error_t *err)
{
	for (size_t i = 0; i < cg->n_hiers; i++) {
		if (keel_cgroup_writef(cg->hiers[i].dir, "cgroup.procs", err, "%d", (int)pid) < 0)
			return keel_err_wrap(err, "joining %s", cg->hiers[i].dir);
	}
	return 0;
}

void keel_cgroup_join_close(struct keel_cgroup_join *j)
{
	for (size_t i = 0; i < j->n_tasks; i++)
		close(j->tasks_fds[i]);
	j->n_tasks = 0;
	if (j->v2_fd >= 0)
		close(j->v2_fd);
	j->v2_fd = -1;
}

int keel_cgroup_join_prepare(struct keel_cgroup *cg, struct keel_cgroup_join *j, keel_error_t *err)
{
	j->n_tasks = 0;
	j->v2_fd = -1;
	for (size_t i = 0; i < cg->n_hiers; i++) {
		const struct cgroup_hier *h = &cg->hiers[i];
		char path[PATH_MAX];
		int fd;
		if (h->unified) {
			if (j->v2_fd >= 0)
				goto refuse; /* one cgroup2 hierarchy only */
			fd = j->v2_fd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		} else {
			if (j->n_tasks == KEEL_CGROUP_JOIN_MAX)
				goto refuse;
			snprintf(path, sizeof(path), "%s/tasks", h->dir);
			fd = open(path, O_WRONLY | O_CLOEXEC);
			if (fd >= 0)
				j->tasks_fds[j->n_tasks++] = fd;
		}
		if (fd < 0) {
			keel_err_sys(err, "opening %s", h->dir);
			keel_cgroup_join_close(j);
			return -1;
		}
	}
	return 0;
refuse:
	keel_cgroup_join_close(j);
	return keel_err(err, EINVAL, "cgroup: too many hierarchies to join at birth");
}

pid_t keel_cgroup_clone(struct keel_cgroup_join *j, unsigned long flags, bool *joined)
{
	*joined = false;
	if (j && j->v2_fd >= 0) {
		struct clone_args args = {
			.flags = flags | CLONE_INTO_CGROUP,
			.exit_signal = SIGCHLD,
			.cgroup = (unsigned long long)j->v2_fd,
		};
		pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
		if (pid >= 0) {
			*joined = true;
			return pid;
		}
		/* an older kernel, or a cgroup2 that refuses it: the attach after all */
		keel_cgroup_join_close(j);
	} else if (j && j->n_tasks > 0) {
		*joined = true;
	}
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
}

int keel_cgroup_join_self(const struct keel_cgroup_join *j)
{
	for (size_t i = 0; i < j->n_tasks; i++) {
		if (write(j->tasks_fds[i], "0", 1) != 1)
			return -1;
	}
	return 0;
}

int keel_cgroup_freeze(struct keel_cgroup *cg, bool frozen, keel_error_t *err)
{
	return cg->ops->freeze(cg, frozen, err);
}

int keel_cgroup_is_frozen(struct keel_cgroup *cg, keel_error_t *err)
{
	return cg->ops->is_frozen(cg, err);
}

json_t *keel_cgroup_stats(struct keel_cgroup *cg, keel_error_t *err)
{
	return cg->ops->stats(cg, err);
}

/* ---------- processes ---------- */

struct pid_list {
	pid_t *v;
	size_t n, cap;
};

static int collect_pids(const char *dir, struct pid_list *l, int depth, keel_error_t *err)
{
	cleanup_free char *procs = NULL;
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (depth > 64)
		return keel_err(err, ELOOP, "cgroup: %s: nested too deep", dir);
	if (keel_cgroup_read(dir, "cgroup.procs", &procs, err) < 0)
		return -1;
	for (char *p = procs; *p;) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (l->n == l->cap) {
			pid_t *nv =
			    realloc(l->v, (l->cap = l->cap ? l->cap * 2 : 32) * sizeof(*nv));
			if (!nv)
				return keel_err(err, ENOMEM, "cgroup");
			l->v = nv;
		}
		l->v[l->n++] = (pid_t)v;
		p = end;
	}
	d = opendir(dir);
	if (!d)
		return keel_err_sys(err, "cgroup: opendir %s", dir);
	while ((de = readdir(d))) {
		char sub[PATH_MAX];
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		if (collect_pids(sub, l, depth + 1, err) < 0)
			return -1;
	}
	return 0;
}

/* The hierarchy whose cgroup.procs lists the container: v2's one, v1's freezer (the one
 * kill_all freezes), else the first. */
static const char *procs_dir(struct keel_cgroup *cg)
{
	struct cgroup_hier *h = cg->mode == KEEL_CGROUP_V1 ? keel_cgroup_hier(cg, "freezer") : NULL;

	if (h)
		return h->dir;
	for (size_t i = 0; i < cg->n_hiers; i++)
		if (cg->mode == KEEL_CGROUP_V2 || !cg->hiers[i].unified)
			return cg->hiers[i].dir;
	return cg->n_hiers ? cg->hiers[0].dir : NULL;
}

int keel_cgroup_pids(struct keel_cgroup *cg, pid_t **pids, size_t *n, keel_error_t *err)
{
	struct pid_list l = {0};
	const char *dir = procs_dir(cg);

	if (!dir)
		return keel_err(err, ENOENT, "cgroup: no hierarchy mounted under %s", cg->root);
	if (collect_pids(dir, &l, 0, err) < 0) {
		free(l.v);
		return -1;
	}
	*pids = l.v;
	*n = l.n;
	return 0;
}

int keel_cgroup_kill_all(struct keel_cgroup *cg, int sig, keel_error_t *err)
{
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	int ret, frozen;

	ret = cg->ops->kill_fast(cg, sig, err);
	if (ret != 0)
		return ret < 0 ? -1 : 0;
	/* Freezing first keeps a forking process from leaving a child behind between the
	 * read of cgroup.procs and the kill. Without a freezer (none mounted), kill anyway. */
	frozen = cg->ops->freeze(cg, true, err) == 0;
	ret = keel_cgroup_pids(cg, &pids, &n, err);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			ret = keel_err_sys(err, "cgroup: kill %d", (int)pids[i]);
	}
	if (frozen) {
		keel_error_t thaw_err;
		if (cg->ops->freeze(cg, false, &thaw_err) < 0 && ret == 0) {
			if (err)
				*err = thaw_err;
			ret = -1;
		}
	}
	return ret;
}

/* ---------- destroy ---------- */

/* rmdir with retries: a killed process stays in cgroup.procs until it is reaped, and the
 * kernel answers EBUSY meanwhile. */
static int rmdir_retry(const char *dir, keel_error_t *err)
{
	for (int i = 0;; i++) {
		struct timespec ts = {0, (i < 10 ? 10 : 100) * 1000 * 1000};
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || i >= 40)
			return keel_err_sys(err, "cgroup: rmdir %s", dir);
		nanosleep(&ts, NULL);
	}
}

static int remove_tree(const char *dir, int depth, keel_error_t *err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (depth > 64)
		return keel_err(err, ELOOP, "cgroup: %s: nested too deep", dir);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : keel_err_sys(err, "cgroup: opendir %s", dir);
	while ((de = readdir(d))) {
		char sub[PATH_MAX];
		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name);
		if (remove_tree(sub, depth + 1, err) < 0)
			return -1;
	}
	return rmdir_retry(dir, err);
}

int keel_cgroup_destroy(struct keel_cgroup *cg, keel_error_t *err)
{
	int ret = 0;

	/* Every hierarchy is tried even after a failure, so one stuck directory does not leave
	 * the others behind; the first error is reported. */
	for (size_t i = 0; i < cg->n_hiers; i++) {
		keel_error_t e;
		if (remove_tree(cg->hiers[i].dir, 0, &e) < 0 && ret == 0) {
			if (err)
				*err = e;
			ret = -1;
		}
	}
	return ret;
}
