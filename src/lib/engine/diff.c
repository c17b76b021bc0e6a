/* `docker diff` over an overlay upper dir (see diff.h for the rules). */
#include "engine/diff.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "util/cleanup.h"

struct diff_walk {
	int *lowers;
	size_t nlowers;
	keel_diff_cb cb;
	void *data;
	int count;
	char path[PATH_MAX]; /* "/a/b" of the entry being looked at */
	keel_error_t *err;
};

/* One directory level: its path length in w->path and whether it is already reported
 * (docker's changedDirs). */
struct frame {
	size_t len;
	bool changed;
	bool opaque; /* this dir or an ancestor is opaque: nothing below shows through */
};

char keel_change_letter(enum keel_change_kind kind)
{
	switch (kind) {
	case KEEL_CHANGE_ADD:
		return 'A';
	case KEEL_CHANGE_DELETE:
		return 'D';
	default:
		return 'C';
	}
}

static bool is_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 0 && minor(st->st_rdev) == 0;
}

/* overlayfs marks a directory that hides the lower ones with trusted.overlay.opaque=y (or
 * user.overlay.opaque with the userxattr mount option). */
static bool is_opaque(int dirfd)
{
	static const char *const names[] = { "trusted.overlay.opaque", "user.overlay.opaque" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char v[4];
		ssize_t n = fgetxattr(dirfd, names[i], v, sizeof(v));
		if (n == 1 && v[0] == 'y')
			return true;
	}
	return false;
}

static int open_beneath(int root, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	return (int)syscall(SYS_openat2, root, *path ? path : ".", &how, sizeof(how));
}

/* Looks rel ("a/b") up in the lower layers, top first. 1 with *st when found, 0 when not
 * (or hidden by a whiteout), -1 on an unexpected error. A parent that is missing, not a
 * directory or a symlink in that layer means the path is not in that layer. */
static int lower_lookup(struct diff_walk *w, const char *rel, struct stat *st)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	const char *base = slash ? slash + 1 : rel;
	size_t dlen = slash ? (size_t)(slash - rel) : 0;
	memcpy(dir, rel, dlen);
	dir[dlen] = '\0';
	for (size_t i = 0; i < w->nlowers; i++) {
		cleanup_close int dfd = open_beneath(w->lowers[i], dir, O_PATH | O_DIRECTORY);
		if (dfd < 0) {
			if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP || errno == EXDEV)
				continue;
			return keel_err_sys(w->err, "diff: lower layer %zu: /%s", i, dir);
		}
		if (fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			return keel_err_sys(w->err, "diff: lower layer %zu: /%s", i, rel);
		}
		return is_whiteout(st) ? 0 : 1;
	}
	return 0;
}

/* Go's sameFsTime: equal, or equal seconds when either side has no nanoseconds (some
 * filesystems and tar round them away). */
static bool same_time(const struct timespec *a, const struct timespec *b)
{
	if (a->tv_sec != b->tv_sec)
		return false;
	return a->tv_nsec == b->tv_nsec || a->tv_nsec == 0 || b->tv_nsec == 0;
}

static int emit(struct diff_walk *w, enum keel_change_kind kind, const char *path)
{
	int r = w->cb ? w->cb(kind, path, w->data) : 0;
	if (r < 0)
		return r;
	w->count++;
	return 0;
}

/* Reports the entry whose path is in w->path (st from the upper). *skip is set for a
 * directory equal to its lower one (reported only if a child changes). */
static int classify(struct diff_walk *w, const struct stat *st, bool opaque, struct frame *parent,
		    bool *skip, enum keel_change_kind *kind)
{
	struct stat lst;
	int found;
	*skip = false;
	if (is_whiteout(st)) {
		*kind = KEEL_CHANGE_DELETE;
		return 0;
	}
	if (parent->opaque) {
		*kind = KEEL_CHANGE_ADD;
		return 0;
	}
	found = lower_lookup(w, w->path + 1, &lst);
	if (found < 0)
		return -1;
	if (opaque) {
		/* Deleted and made again in this layer when a lower one had it (podman's
		 * refinement of docker's rule: an opaque dir is 'D'). */
		*kind = found ? KEEL_CHANGE_DELETE : KEEL_CHANGE_ADD;
		return 0;
	}
	if (!found) {
		*kind = KEEL_CHANGE_ADD;
		return 0;
	}
	*kind = KEEL_CHANGE_MODIFY;
	if (S_ISDIR(st->st_mode) && S_ISDIR(lst.st_mode) && st->st_size == lst.st_size &&
	    st->st_mode == lst.st_mode && same_time(&st->st_mtim, &lst.st_mtim))
		*skip = true;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in dirfd, sorted bytewise; *names is a NULL-terminated strv. */
static int read_names(int dirfd, char ***names, keel_error_t *err)
{
	cleanup_strv char **v = NULL;
	size_t n = 0, cap = 0;
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return keel_err_sys(err, "diff: reading directory");
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n + 2 > cap) {
			char **nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));
			if (!nv) {
				closedir(d);
				return keel_err(err, ENOMEM, "diff");
			}
			v = nv;
		}
		v[n] = strdup(de->d_name);
		v[++n] = NULL;
		if (!v[n - 1]) {
			closedir(d);
			return keel_err(err, ENOMEM, "diff");
		}
	}
	closedir(d);
	if (v)
		qsort(v, n, sizeof(*v), cmp_names);
	*names = steal_pointer(&v);
	return 0;
}

static int walk_dir(struct diff_walk *w, int dirfd, struct frame *self);

static int walk_entry(struct diff_walk *w, int dirfd, const char *name, struct frame *parent)
{
	struct stat st;
	struct frame self = { .changed = false, .opaque = parent->opaque };
	cleanup_close int fd = -1;
	enum keel_change_kind kind;
	bool skip, opaque = false;
	int n = snprintf(w->path + parent->len, sizeof(w->path) - parent->len, "/%s", name);
	if (n < 0 || (size_t)n >= sizeof(w->path) - parent->len)
		return keel_err(w->err, ENAMETOOLONG, "diff: %s/%s", w->path, name);
	self.len = parent->len + (size_t)n;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return keel_err_sys(w->err, "diff: %s", w->path);
	if (S_ISDIR(st.st_mode)) {
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return keel_err_sys(w->err, "diff: %s", w->path);
		opaque = is_opaque(fd);
	}
	if (classify(w, &st, opaque, parent, &skip, &kind) < 0)
		return -1;
	if (!skip) {
		self.changed = S_ISDIR(st.st_mode);
		if (kind != KEEL_CHANGE_MODIFY && !parent->changed && parent->len > 0) {
			/* docker reports the parent of an added or deleted path as changed even
			 * when its mode and mtime match the lower one (moby PR 13590). */
			char saved = w->path[parent->len];
			w->path[parent->len] = '\0';
			n = emit(w, KEEL_CHANGE_MODIFY, w->path);
			w->path[parent->len] = saved;
			if (n < 0)
				return n;
			parent->changed = true;
		}
		if ((n = emit(w, kind, w->path)) < 0)
			return n;
	}
	if (fd < 0)
		return 0;
	self.opaque = parent->opaque || opaque;
	return walk_dir(w, fd, &self);
}

static int walk_dir(struct diff_walk *w, int dirfd, struct frame *self)
{
	cleanup_strv char **names = NULL;
	if (read_names(dirfd, &names, w->err) < 0)
		return -1;
	for (char **p = names; p && *p; p++) {
		int r = walk_entry(w, dirfd, *p, self);
		w->path[self->len] = '\0';
		if (r < 0)
			return r;
	}
	return 0;
}

static void close_lowers(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(fds);
}

int keel_diff(const char *upper, const char *const *lowers, keel_diff_cb cb, void *data,
	      keel_error_t *err)
{
	struct diff_walk w = { .cb = cb, .data = data, .err = err };
	struct frame root = { .len = 0, .changed = true, .opaque = false };
	cleanup_close int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t n = 0;
	int r;
	if (ufd < 0)
		return keel_err_sys(err, "diff: upper dir %s", upper);
	while (lowers && lowers[n])
		n++;
	w.lowers = calloc(n ? n : 1, sizeof(int));
	if (!w.lowers)
		return keel_err(err, ENOMEM, "diff");
	for (size_t i = 0; i < n; i++)
		w.lowers[i] = -1;
	for (w.nlowers = 0; w.nlowers < n; w.nlowers++) {
		w.lowers[w.nlowers] = open(lowers[w.nlowers], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (w.lowers[w.nlowers] < 0) {
			keel_err_sys(err, "diff: lower dir %s", lowers[w.nlowers]);
			close_lowers(w.lowers, w.nlowers);
			return -1;
		}
	}
	w.path[0] = '\0';
	r = walk_dir(&w, ufd, &root);
	close_lowers(w.lowers, w.nlowers);
	return r < 0 ? r : w.count;
}

struct json_ctx {
	json_t *arr;
};

static int add_json(enum keel_change_kind kind, const char *path, void *data)
{
	struct json_ctx *c = data;
	json_t *o = json_pack("{s:s,s:i}", "Path", path, "Kind", (int)kind);
	if (!o || json_array_append_new(c->arr, o) < 0)
		return -ENOMEM;
	return 0;
}

json_t *keel_diff_json(const char *upper, const char *const *lowers, keel_error_t *err)
{
	cleanup_json json_t *arr = json_array();
	struct json_ctx c = { .arr = arr };
	int r;
	if (!arr) {
		keel_err(err, ENOMEM, "diff");
		return NULL;
	}
	r = keel_diff(upper, lowers, add_json, &c, err);
	if (r == -ENOMEM) {
		keel_err(err, ENOMEM, "diff");
		return NULL;
	}
	if (r < 0)
		return NULL;
	return steal_pointer(&arr);
}

/* ---------- sizes ---------- */

struct size_walk {
	int64_t total;
	struct {
		dev_t dev;
		ino_t ino;
	} * seen; /* inodes with more than one link, counted once */
	size_t nseen;
};

static bool seen_before(struct size_walk *w, const struct stat *st)
{
	void *nv;
	for (size_t i = 0; i < w->nseen; i++)
		if (w->seen[i].dev == st->st_dev && w->seen[i].ino == st->st_ino)
			return true;
	if (!(nv = realloc(w->seen, (w->nseen + 1) * sizeof(*w->seen))))
		return false;
	w->seen = nv;
	w->seen[w->nseen].dev = st->st_dev;
	w->seen[w->nseen++].ino = st->st_ino;
	return false;
}

static int size_dir(struct size_walk *w, int dirfd, keel_error_t *err)
{
	cleanup_dir DIR *d = fdopendir(dirfd);
	struct dirent *de;
	if (!d) {
		close(dirfd);
		return keel_err_sys(err, "reading a directory");
	}
	while ((de = readdir(d))) {
		struct stat st;
		int fd;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* gone meanwhile: the container is running */
		if (!S_ISDIR(st.st_mode)) {
			if (st.st_nlink < 2 || !seen_before(w, &st))
				w->total += st.st_size;
			continue;
		}
		fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && size_dir(w, fd, err) < 0)
			return -1;
	}
	return 0;
}

int64_t keel_diff_size(const char *dir, keel_error_t *err)
{
	struct size_walk w = { 0 };
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), r;
	if (fd < 0)
		return errno == ENOENT ? 0 : keel_err_sys(err, "opening %s", dir);
	r = size_dir(&w, fd, err);
	free(w.seen);
	return r < 0 ? -1 : w.total;
}
