/* `docker cp` (see cp.h for the rules and the safety argument).
 *
 * Every copy is a source producing libarchive entries (a tree walked fd by fd, or a tar
 * stream) and a sink consuming them (a tar stream, or a directory tree created below a root
 * fd with fixed openat2 resolve flags). The path rules only decide the sink's directory and
 * the name the top entry gets there. */
#include "engine/cp.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "store/libarchive.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define IN_ROOT	 (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
#define BENEATH	 (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
#define COPY_BUF (128 * 1024)

/* One side of a copy: the container (paths resolved in its root) or the host. */
struct side {
	int root;
	bool container;
};

/* Where entries are created: below root, each entry at "<prefix>/<name>", every parent
 * resolved with the resolve flags. */
struct dir_fixup {
	char *path;
	mode_t mode;
	struct timespec mtime;
};

struct fs_sink {
	int root;
	uint64_t resolve;
	const char *prefix;
	bool set_owner; /* chown to the entry's ids (keep) or to uid:gid */
	bool keep_ids;
	uid_t uid;
	gid_t gid;
	struct dir_fixup *dirs;
	size_t ndirs;
};

/* The sink: a tar writer or a tree. */
struct sink {
	struct archive *tar;
	struct fs_sink *fs;
};

/* Where an entry's content comes from. */
struct data_src {
	int fd;
	struct archive *tar;
};

/* Hardlinks already met in a walked tree (device, inode) -> entry name. */
struct link_seen {
	dev_t dev;
	ino_t ino;
	char *name;
};

struct walker {
	struct sink *sink;
	struct link_seen *links;
	size_t nlinks;
	keel_error_t *err;
};

static int openat2_fd(int root, const char *path, int flags, uint64_t resolve)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC), .resolve = resolve };
	return (int)syscall(SYS_openat2, root, *path ? path : ".", &how, sizeof(how));
}

static int side_open(const struct side *s, const char *path, int flags)
{
	if (s->container)
		return openat2_fd(s->root, path, flags, IN_ROOT);
	return openat(AT_FDCWD, *path ? path : ".", flags | O_CLOEXEC);
}

/* Splits path into its parent ("." when none, "/" for "/x") and its last name ("" for
 * "/"); trailing slashes are ignored. */
static void split_path(const char *path, char *dir, size_t dlen, char *base, size_t blen)
{
	size_t n = strlen(path), d;
	const char *b;
	while (n > 1 && path[n - 1] == '/')
		n--;
	for (b = path + n; b > path && b[-1] != '/';)
		b--;
	snprintf(base, blen, "%.*s", (int)(path + n - b), b);
	if (b == path) {
		snprintf(dir, dlen, "%s", n == 1 && path[0] == '/' ? "/" : ".");
		if (n == 1 && path[0] == '/')
			base[0] = '\0';
		return;
	}
	d = (size_t)(b - path);
	while (d > 1 && path[d - 1] == '/')
		d--;
	snprintf(dir, dlen, "%.*s", (int)d, path);
}

/* The last name of path, trailing slashes ignored ("" for "/"), copied into out. */
static void base_name(const char *path, char *out, size_t len)
{
	size_t n = strlen(path);
	const char *b;
	while (n > 0 && path[n - 1] == '/')
		n--;
	for (b = path + n; b > path && b[-1] != '/';)
		b--;
	snprintf(out, len, "%.*s", (int)(path + n - b), b);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Cleans an entry name ("./a//b/" -> "a/b", "/a" -> "a"); ".." is refused so no entry of a
 * stream names anything outside the destination directory. */
static int clean_name(const char *name, char *out, size_t len, keel_error_t *err)
{
	if (keel_path_clean_entry(name, out, len) == 0)
		return 0;
	if (errno == EPERM)
		return keel_err(err, EPERM, "cp: entry %s points outside the destination", name);
	return keel_err(err, ENAMETOOLONG, "cp: %s", name);
}

/* ---- the tree sink ---------------------------------------------------------------- */

static int join(const struct fs_sink *fs, const char *name, char *out, size_t len)
{
	int n;
	if (!*fs->prefix)
		n = snprintf(out, len, "%s", name);
	else
		n = snprintf(out, len, "%s%s%s", fs->prefix, *name ? "/" : "", name);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Opens (creating missing directories, 0755) the directory path below the sink's root;
 * returns an O_PATH fd. Each component is created from its parent's fd and re-resolved, so
 * no component is ever followed outside the root. */
static int sink_dir(struct fs_sink *fs, const char *path, keel_error_t *err)
{
	char prefix[PATH_MAX];
	int fd = openat2_fd(fs->root, path, O_PATH | O_DIRECTORY, fs->resolve);
	if (fd >= 0 || errno != ENOENT)
		goto out;
	for (const char *p = path;; p++) {
		if (*p && (*p != '/' || p == path))
			continue;
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(p - path), path);
		fd = openat2_fd(fs->root, prefix, O_PATH | O_DIRECTORY, fs->resolve);
		if (fd < 0 && errno == ENOENT) {
			char dir[PATH_MAX], base[NAME_MAX + 1];
			cleanup_close int pfd = -1;
			split_path(prefix, dir, sizeof(dir), base, sizeof(base));
			pfd = openat2_fd(fs->root, dir, O_PATH | O_DIRECTORY, fs->resolve);
			if (pfd < 0 || (mkdirat(pfd, base, 0755) < 0 && errno != EEXIST))
				break;
			fd = openat2_fd(fs->root, prefix, O_PATH | O_DIRECTORY, fs->resolve);
		}
		if (fd < 0 || !*p)
			break;
		close(fd);
	}
out:
	if (fd < 0)
		keel_err_sys(err, "cp: directory %s", *path ? path : "/");
	return fd;
}

static ssize_t data_read(struct data_src *d, void *buf, size_t n)
{
	if (d->tar)
		return archive_read_data(d->tar, buf, n);
	return read(d->fd, buf, n);
}

static int write_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = write(fd, buf, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

static int copy_data(struct data_src *d, int out, const char *name, keel_error_t *err)
{
	cleanup_free char *buf = malloc(COPY_BUF);
	ssize_t n;
	if (!buf)
		return keel_err(err, ENOMEM, "cp");
	while ((n = data_read(d, buf, COPY_BUF)) > 0)
		if (write_all(out, buf, (size_t)n) < 0)
			return keel_err_sys(err, "cp: writing %s", name);
	if (n < 0 && d->tar)
		return keel_err(err, EIO, "cp: reading %s: %s", name, archive_error_string(d->tar));
	if (n < 0)
		return keel_err_sys(err, "cp: reading %s", name);
	return 0;
}

static void owner_of(const struct fs_sink *fs, struct archive_entry *e, uid_t *u, gid_t *g)
{
	*u = fs->keep_ids ? (uid_t)archive_entry_uid(e) : fs->uid;
	*g = fs->keep_ids ? (gid_t)archive_entry_gid(e) : fs->gid;
}

static int make_file(struct fs_sink *fs, int pfd, const char *base, struct archive_entry *e,
		     struct data_src *d, keel_error_t *err)
{
	cleanup_close int fd =
	    openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	struct timespec ts[2] = { { .tv_sec = archive_entry_mtime(e),
				    .tv_nsec = archive_entry_mtime_nsec(e) } };
	uid_t u;
	gid_t g;
	if (fd < 0)
		return keel_err_sys(err, "cp: creating %s", archive_entry_pathname(e));
	if (d && copy_data(d, fd, archive_entry_pathname(e), err) < 0)
		return -1;
	owner_of(fs, e, &u, &g);
	/* chown before chmod: chown clears the set-id bits */
	if (fs->set_owner && fchown(fd, u, g) < 0)
		return keel_err_sys(err, "cp: chown %s", archive_entry_pathname(e));
	if (fchmod(fd, archive_entry_perm(e)) < 0)
		return keel_err_sys(err, "cp: chmod %s", archive_entry_pathname(e));
	ts[1] = ts[0];
	futimens(fd, ts);
	return 0;
}

static int make_dir(struct fs_sink *fs, int pfd, const char *base, const char *full,
		    struct archive_entry *e, bool exists, keel_error_t *err)
{
	cleanup_close int fd = -1;
	struct dir_fixup *nd;
	uid_t u;
	gid_t g;
	if (!exists && mkdirat(pfd, base, 0700) < 0)
		return keel_err_sys(err, "cp: mkdir %s", archive_entry_pathname(e));
	fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return keel_err_sys(err, "cp: %s", archive_entry_pathname(e));
	owner_of(fs, e, &u, &g);
	if (fs->set_owner && fchown(fd, u, g) < 0)
		return keel_err_sys(err, "cp: chown %s", archive_entry_pathname(e));
	/* Mode and mtime last: a read-only directory must still take its children, and
	 * creating them changes the mtime. */
	nd = realloc(fs->dirs, (fs->ndirs + 1) * sizeof(*nd));
	if (!nd)
		return keel_err(err, ENOMEM, "cp");
	fs->dirs = nd;
	nd[fs->ndirs] =
	    (struct dir_fixup){ .path = strdup(full),
				.mode = archive_entry_perm(e),
				.mtime = { archive_entry_mtime(e), archive_entry_mtime_nsec(e) } };
	if (!nd[fs->ndirs].path)
		return keel_err(err, ENOMEM, "cp");
	fs->ndirs++;
	return 0;
}

/* Hardlink to an entry already created by this copy (its name relative to the sink). */
static int make_hardlink(struct fs_sink *fs, int pfd, const char *base, const char *target,
			 keel_error_t *err)
{
	char clean[PATH_MAX], full[PATH_MAX], dir[PATH_MAX], tbase[NAME_MAX + 1];
	cleanup_close int tdir = -1;
	cleanup_close int tfd = -1;
	if (clean_name(target, clean, sizeof(clean), err) < 0)
		return -1;
	if (join(fs, clean, full, sizeof(full)) < 0)
		return keel_err(err, ENAMETOOLONG, "cp: %s", target);
	split_path(full, dir, sizeof(dir), tbase, sizeof(tbase));
	tdir = openat2_fd(fs->root, dir, O_PATH | O_DIRECTORY, fs->resolve);
	if (tdir >= 0)
		tfd = openat(tdir, tbase, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0)
		return keel_err_sys(err, "cp: hardlink target %s", target);
	if (linkat(tfd, "", pfd, base, AT_EMPTY_PATH) < 0)
		return keel_err_sys(err, "cp: hardlink to %s", target);
	return 0;
}

static int make_other(struct fs_sink *fs, int pfd, const char *base, struct archive_entry *e,
		      keel_error_t *err)
{
	const char *name = archive_entry_pathname(e);
	struct timespec ts[2] = { { archive_entry_mtime(e), archive_entry_mtime_nsec(e) } };
	uid_t u;
	gid_t g;
	switch (archive_entry_filetype(e)) {
	case AE_IFLNK:
		if (symlinkat(archive_entry_symlink(e), pfd, base) < 0)
			return keel_err_sys(err, "cp: symlink %s", name);
		break;
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		if (mknodat(pfd, base, archive_entry_mode(e), archive_entry_rdev(e)) < 0)
			return keel_err_sys(err, "cp: mknod %s", name);
		/* NOFOLLOW: a container racing us may have put a symlink there */
		if (fchmodat(pfd, base, archive_entry_perm(e), AT_SYMLINK_NOFOLLOW) < 0)
			return keel_err_sys(err, "cp: chmod %s", name);
		break;
	default:
		return 0; /* sockets and unknown types are skipped, as docker does */
	}
	owner_of(fs, e, &u, &g);
	if (fs->set_owner && fchownat(pfd, base, u, g, AT_SYMLINK_NOFOLLOW) < 0)
		return keel_err_sys(err, "cp: chown %s", name);
	ts[1] = ts[0];
	utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

static int fs_put(struct fs_sink *fs, struct archive_entry *e, struct data_src *d,
		  keel_error_t *err)
{
	char clean[PATH_MAX], full[PATH_MAX], dir[PATH_MAX], base[NAME_MAX + 1];
	const char *hard = archive_entry_hardlink(e);
	cleanup_close int pfd = -1;
	struct stat st;
	bool is_dir = archive_entry_filetype(e) == AE_IFDIR && !hard, exists;
	if (clean_name(archive_entry_pathname(e), clean, sizeof(clean), err) < 0)
		return -1;
	if (!*clean)
		return 0; /* "./": the destination directory itself is left as it is */
	if (join(fs, clean, full, sizeof(full)) < 0)
		return keel_err(err, ENAMETOOLONG, "cp: %s", clean);
	split_path(full, dir, sizeof(dir), base, sizeof(base));
	if ((pfd = sink_dir(fs, dir, err)) < 0)
		return -1;
	exists = fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
	/* docker cp's NoOverwriteDirNonDir: a directory never replaces a non-directory nor
	 * the other way round (no rm -rf of a user's tree by a stray name). */
	if (exists && is_dir != !!S_ISDIR(st.st_mode))
		return keel_err_user(err, EEXIST, "cannot overwrite %s %s with %s",
				 is_dir ? "non-directory" : "directory", full,
				 is_dir ? "directory" : "non-directory");
	/* Replace, never write through: what is there may be a planted symlink or hardlink. */
	if (exists && !is_dir && unlinkat(pfd, base, 0) < 0)
		return keel_err_sys(err, "cp: replacing %s", clean);
	if (hard)
		return make_hardlink(fs, pfd, base, hard, err);
	if (is_dir)
		return make_dir(fs, pfd, base, full, e, exists, err);
	if (archive_entry_filetype(e) == AE_IFREG)
		return make_file(fs, pfd, base, e, d, err);
	return make_other(fs, pfd, base, e, err);
}

/* Modes and mtimes of the directories made, deepest (last made) first. */
static void fs_finish(struct fs_sink *fs)
{
	for (size_t i = fs->ndirs; i-- > 0;) {
		struct dir_fixup *f = &fs->dirs[i];
		int fd = openat2_fd(fs->root, f->path, O_RDONLY | O_DIRECTORY, fs->resolve);
		if (fd >= 0) {
			struct timespec ts[2] = { f->mtime, f->mtime };
			fchmod(fd, f->mode);
			futimens(fd, ts);
			close(fd);
		}
		free(f->path);
	}
	free(fs->dirs);
	fs->dirs = NULL;
	fs->ndirs = 0;
}

static int tar_put(struct archive *tar, struct archive_entry *e, struct data_src *d,
		   keel_error_t *err)
{
	if (archive_write_header(tar, e) < ARCHIVE_WARN)
		return keel_err(err, EIO, "cp: tar: %s", archive_error_string(tar));
	if (d && archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e)) {
		cleanup_free char *buf = malloc(COPY_BUF);
		ssize_t n;
		if (!buf)
			return keel_err(err, ENOMEM, "cp");
		while ((n = data_read(d, buf, COPY_BUF)) > 0)
			if (archive_write_data(tar, buf, (size_t)n) < 0)
				return keel_err(err, EIO, "cp: tar: %s", archive_error_string(tar));
		if (n < 0)
			return keel_err_sys(err, "cp: reading %s", archive_entry_pathname(e));
	}
	return 0;
}

static int sink_put(struct sink *s, struct archive_entry *e, struct data_src *d, keel_error_t *err)
{
	return s->tar ? tar_put(s->tar, e, d, err) : fs_put(s->fs, e, d, err);
}

/* ---- the tree source -------------------------------------------------------------- */

/* Returns the name of an earlier entry for the same inode, or records this one. */
static const char *link_lookup(struct walker *w, const struct stat *st, const char *name)
{
	struct link_seen *nl;
	for (size_t i = 0; i < w->nlinks; i++)
		if (w->links[i].dev == st->st_dev && w->links[i].ino == st->st_ino)
			return w->links[i].name;
	nl = realloc(w->links, (w->nlinks + 1) * sizeof(*nl));
	if (nl) {
		w->links = nl;
		nl[w->nlinks] = (struct link_seen){ st->st_dev, st->st_ino, strdup(name) };
		if (nl[w->nlinks].name)
			w->nlinks++;
	}
	return NULL;
}

static int walk(struct walker *w, int fd, const struct stat *st, const char *name);

static int walk_children(struct walker *w, int fd, const char *name)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
	struct dirent *de;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return keel_err_sys(w->err, "cp: reading %s", *name ? name : ".");
	}
	while ((errno = 0, de = readdir(d))) {
		char child[PATH_MAX];
		struct stat cst;
		cleanup_close int cfd = -1;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(child, sizeof(child), "%s%s%s", name, *name ? "/" : "", de->d_name) >=
		    (int)sizeof(child))
			return keel_err(w->err, ENAMETOOLONG, "cp: %s/%s", name, de->d_name);
		cfd = openat(dirfd(d), de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0 && errno == ENOENT)
			continue; /* gone meanwhile (a running container) */
		if (cfd < 0 || fstat(cfd, &cst) < 0)
			return keel_err_sys(w->err, "cp: %s", child);
		if (walk(w, cfd, &cst, child) < 0)
			return -1;
	}
	if (errno)
		return keel_err_sys(w->err, "cp: reading %s", name);
	return 0;
}

/* Emits the entry for fd (an O_PATH fd, never followed) named name ("" = only its
 * children), then its children. */
static int walk(struct walker *w, int fd, const struct stat *st, const char *name)
{
	struct archive_entry *e;
	struct data_src d = { .fd = -1 };
	const char *hard = NULL;
	int r = 0;
	if (S_ISSOCK(st->st_mode))
		return 0;
	if (!*name)
		return S_ISDIR(st->st_mode) ? walk_children(w, fd, name) : 0;
	if (!(e = archive_entry_new()))
		return keel_err(w->err, ENOMEM, "cp");
	archive_entry_copy_stat(e, st);
	archive_entry_set_pathname(e, name);
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
		if (n < 0)
			r = keel_err_sys(w->err, "cp: readlink %s", name);
		target[n < 0 ? 0 : n] = '\0';
		archive_entry_set_symlink(e, target);
	} else if (S_ISREG(st->st_mode)) {
		if (st->st_nlink > 1 && (hard = link_lookup(w, st, name))) {
			archive_entry_set_hardlink(e, hard);
			archive_entry_set_size(e, 0);
		} else {
			/* Reopen the inode the O_PATH fd names: it was checked to be a
			 * regular file, whatever the path holds now. */
			char proc[64];
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
			d.fd = open(proc, O_RDONLY | O_NOCTTY | O_CLOEXEC);
			if (d.fd < 0)
				r = keel_err_sys(w->err, "cp: opening %s", name);
		}
	}
	if (r == 0)
		r = sink_put(w->sink, e, d.fd >= 0 ? &d : NULL, w->err);
	if (d.fd >= 0)
		close(d.fd);
	archive_entry_free(e);
	if (r == 0 && S_ISDIR(st->st_mode))
		r = walk_children(w, fd, name);
	return r;
}

static int walk_tree(struct sink *s, int fd, const struct stat *st, const char *top,
		     keel_error_t *err)
{
	struct walker w = { .sink = s, .err = err };
	int r = walk(&w, fd, st, top);
	for (size_t i = 0; i < w.nlinks; i++)
		free(w.links[i].name);
	free(w.links);
	return r;
}

/* ---- path rules ------------------------------------------------------------------- */

struct source {
	int fd; /* O_PATH */
	struct stat st;
	bool contents; /* "SRC/.": copy what is in the directory */
	char base[NAME_MAX + 1];
};

/* Opens src on its side following docker's rules for trailing "/", "/." and -L. */
static int open_source(const struct side *s, const char *src, bool follow, struct source *out,
		       keel_error_t *err)
{
	bool slash = ends_with(src, "/"), dot = ends_with(src, "/.") || strcmp(src, ".") == 0;
	char dir[PATH_MAX], base[NAME_MAX + 1];
	split_path(src, dir, sizeof(dir), base, sizeof(base));
	base_name(src, out->base, sizeof(out->base));
	out->contents = dot;
	if (follow || slash || dot || !*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		out->fd = side_open(s, src, O_PATH);
	} else {
		cleanup_close int pfd = side_open(s, dir, O_PATH | O_DIRECTORY);
		out->fd = pfd < 0 ? -1 : openat(pfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	}
	if (out->fd < 0 || fstat(out->fd, &out->st) < 0) {
		if (errno == ENOENT && s->container)
			return keel_err_user(err, ENOENT, "could not find the file %s in container",
					 src);
		return keel_err_sys(err, "%s", src);
	}
	if ((slash || dot) && !S_ISDIR(out->st.st_mode))
		return keel_err(err, ENOTDIR, "%s", src);
	/* "/" (or "x/..") has no usable name: copy its contents. */
	if (!*out->base || !strcmp(out->base, ".") || !strcmp(out->base, ".."))
		out->contents = S_ISDIR(out->st.st_mode);
	return 0;
}

struct plan {
	char dir[PATH_MAX]; /* destination directory (path on its side) */
	char top[PATH_MAX]; /* name of the top entry there, "" = the contents only */
};

/* Follows dst while it is a symlink (its target read inside its side, as docker does),
 * leaving the final path in out. */
static int follow_dest(const struct side *s, const char *dst, char *out, size_t len,
		       keel_error_t *err)
{
	snprintf(out, len, "%s", dst);
	for (int hops = 0; hops < 40; hops++) {
		char dir[PATH_MAX], target[PATH_MAX], next[PATH_MAX], base[NAME_MAX + 1];
		cleanup_close int pfd = -1;
		ssize_t n;
		split_path(out, dir, sizeof(dir), base, sizeof(base));
		if (!*base || (pfd = side_open(s, dir, O_PATH | O_DIRECTORY)) < 0)
			return 0;
		n = readlinkat(pfd, base, target, sizeof(target) - 1);
		if (n < 0)
			return 0;
		target[n] = '\0';
		if (target[0] == '/') /* the container's "/" on its side */
			snprintf(next, sizeof(next), "%s", target);
		else
			snprintf(next, sizeof(next), "%s/%s", dir, target);
		snprintf(out, len, "%s", next);
	}
	return keel_err(err, ELOOP, "%s", dst);
}

static int plan_dest(const struct side *s, const char *dst, const struct source *src,
		     struct plan *p, keel_error_t *err)
{
	bool src_dir = S_ISDIR(src->st.st_mode);
	bool dst_slash = ends_with(dst, "/") || ends_with(dst, "/.");
	struct stat st;
	char real[PATH_MAX], base[NAME_MAX + 1];
	cleanup_close int fd = side_open(s, dst, O_PATH);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(p->dir, sizeof(p->dir), "%s", dst);
		snprintf(p->top, sizeof(p->top), "%s", src_dir && src->contents ? "" : src->base);
		return 0;
	}
	if (fd >= 0) {
		if (dst_slash)
			return keel_err(err, ENOTDIR, "%s", dst);
		if (src_dir)
			return keel_err_user(err, EISDIR, "cannot copy a directory to a file: %s", dst);
		if (follow_dest(s, dst, real, sizeof(real), err) < 0)
			return -1;
		dst = real;
	} else if (errno != ENOENT) {
		return keel_err_sys(err, "%s", dst);
	} else if (dst_slash && !src_dir) {
		return keel_err_user(err, ENOENT, "%s: the destination directory must exist", dst);
	}
	split_path(dst, p->dir, sizeof(p->dir), base, sizeof(base));
	snprintf(p->top, sizeof(p->top), "%s", base);
	{
		cleanup_close int pfd = side_open(s, p->dir, O_PATH | O_DIRECTORY);
		if (pfd < 0)
			return keel_err_sys(err, "%s: destination directory", p->dir);
	}
	return 0;
}

/* Makes the tree sink for plan p on side s. The host's sink root is the destination
 * directory itself (entries stay beneath it); the container's is its rootfs. */
static int fs_sink_init(struct fs_sink *fs, const struct side *s, const struct plan *p,
			const struct keel_cp_opts *o, keel_error_t *err)
{
	*fs = (struct fs_sink){ .keep_ids = o->flags & KEEL_CP_ARCHIVE,
				.uid = o->uid,
				.gid = o->gid };
	if (s->container) {
		fs->root = s->root;
		fs->resolve = IN_ROOT;
		fs->prefix = p->dir;
		fs->set_owner = true;
		return 0;
	}
	fs->root = open(p->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fs->root < 0)
		return keel_err_sys(err, "%s", p->dir);
	fs->resolve = BENEATH;
	fs->prefix = "";
	fs->set_owner = fs->keep_ids;
	return 0;
}

static int copy_tree(const struct side *from, const char *src, const struct side *to,
		     const char *dst, const struct keel_cp_opts *o, keel_error_t *err)
{
	struct source s = { .fd = -1 };
	struct plan p;
	struct fs_sink fs;
	struct sink sink = { .fs = &fs };
	int r;
	if (open_source(from, src, o->flags & KEEL_CP_FOLLOW_LINK, &s, err) < 0) {
		if (s.fd >= 0)
			close(s.fd);
		return -1;
	}
	r = plan_dest(to, dst, &s, &p, err);
	if (r == 0)
		r = fs_sink_init(&fs, to, &p, o, err);
	if (r == 0) {
		r = walk_tree(&sink, s.fd, &s.st, p.top, err);
		fs_finish(&fs);
		if (!to->container)
			close(fs.root);
	}
	close(s.fd);
	return r;
}

static const struct keel_cp_opts default_opts;

int keel_cp_from_container(int rootfd, const char *src, const char *dst,
			   const struct keel_cp_opts *o, keel_error_t *err)
{
	struct side c = { .root = rootfd, .container = true }, h = { .root = AT_FDCWD };
	struct source s = { .fd = -1 };
	struct sink sink = { 0 };
	int r;
	o = o ? o : &default_opts;
	if (strcmp(dst, "-") != 0)
		return copy_tree(&c, src, &h, dst, o, err);
	if (open_source(&c, src, o->flags & KEEL_CP_FOLLOW_LINK, &s, err) < 0) {
		if (s.fd >= 0)
			close(s.fd);
		return -1;
	}
	sink.tar = archive_write_new();
	if (!sink.tar || archive_write_set_format_pax_restricted(sink.tar) != ARCHIVE_OK ||
	    archive_write_open_fd(sink.tar, o->stream_fd > 0 ? o->stream_fd : 1) != ARCHIVE_OK) {
		r = keel_err(err, EIO, "cp: tar: %s",
			     sink.tar ? archive_error_string(sink.tar) : "out of memory");
	} else {
		r = walk_tree(&sink, s.fd, &s.st, s.contents ? "" : s.base, err);
		if (archive_write_close(sink.tar) != ARCHIVE_OK && r == 0)
			r = keel_err(err, EIO, "cp: tar: %s", archive_error_string(sink.tar));
	}
	if (sink.tar)
		archive_write_free(sink.tar);
	close(s.fd);
	return r;
}

/* Unpacks the tar on fd into the container directory dst (which must exist). */
static int untar_into(int rootfd, int fd, const char *dst, const struct keel_cp_opts *o,
		      keel_error_t *err)
{
	struct side c = { .root = rootfd, .container = true };
	struct plan p = { .top = "" };
	struct fs_sink fs;
	struct archive *a;
	struct archive_entry *e;
	struct stat st;
	int r = 0, ar;
	{
		cleanup_close int dfd = side_open(&c, dst, O_PATH);
		if (dfd < 0 || fstat(dfd, &st) < 0)
			return keel_err_sys(err, "could not find the file %s in container", dst);
		if (!S_ISDIR(st.st_mode))
			return keel_err_user(err, ENOTDIR, "%s: destination must be a directory", dst);
	}
	snprintf(p.dir, sizeof(p.dir), "%s", dst);
	fs_sink_init(&fs, &c, &p, o, err);
	if (!(a = archive_read_new()))
		return keel_err(err, ENOMEM, "cp");
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (archive_read_open_fd(a, fd, COPY_BUF) != ARCHIVE_OK) {
		r = keel_err(err, EINVAL, "cp: reading tar: %s", archive_error_string(a));
		goto out;
	}
	while ((ar = archive_read_next_header(a, &e)) == ARCHIVE_OK || ar == ARCHIVE_WARN) {
		struct data_src d = { .fd = -1, .tar = a };
		if ((r = fs_put(&fs, e, &d, err)) < 0)
			goto out;
	}
	if (ar != ARCHIVE_EOF)
		r = keel_err(err, EINVAL, "cp: reading tar: %s", archive_error_string(a));
out:
	fs_finish(&fs);
	archive_read_free(a);
	return r;
}

int keel_cp_to_container(int rootfd, const char *src, const char *dst, const struct keel_cp_opts *o,
			 keel_error_t *err)
{
	struct side c = { .root = rootfd, .container = true }, h = { .root = AT_FDCWD };
	o = o ? o : &default_opts;
	if (strcmp(src, "-") == 0)
		return untar_into(rootfd, o->stream_fd > 0 ? o->stream_fd : 0, dst, o, err);
	return copy_tree(&h, src, &c, dst, o, err);
}
