/* Safe extraction of one layer tar into a directory fd.
 *
 * Every entry name is cleaned ("./a//b" -> "a/b"; ".." anywhere is refused: a layer has no
 * business naming its parent). The entry's parent directory is opened with openat2
 * RESOLVE_IN_ROOT relative to the layer's own directory, so symlinks met on the way
 * (absolute or relative, created by earlier entries) resolve as if the layer were "/", and
 * the entry itself is made with *at calls on that parent fd with O_NOFOLLOW /
 * AT_SYMLINK_NOFOLLOW: the last component is never followed. Hardlink targets are opened the
 * same way (O_PATH | O_NOFOLLOW) and linked with AT_EMPTY_PATH. */
#include "store/layer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "store/libarchive.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

struct dir_time {
	char *path;
	struct timespec mtime;
};

struct extract {
	int root;
	char cached[PATH_MAX]; /* parent dir whose fd is cached_fd ("" = none) */
	int cached_fd;
	bool stale; /* something was removed or a symlink made: drop the cache before next use */
	struct dir_time *dirs;
	size_t ndirs, capdirs;
	int64_t size;
	keel_error_t *err;
};

static int in_root(int root, const char *path, int flags)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};
	if (!*path)
		path = ".";
	return (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
}

/* Cleans name into out; refuses "..", empty names are the layer root (""). */
static int clean_name(const char *name, char *out, size_t outlen, keel_error_t *err)
{
	if (keel_path_clean_entry(name, out, outlen) == 0)
		return 0;
	if (errno == EPERM)
		return keel_err_user(err, EPERM, "layer entry %s points outside the layer", name);
	return keel_err(err, ENAMETOOLONG, "layer entry %s", name);
}

static void invalidate(struct extract *x)
{
	if (x->cached_fd >= 0)
		close(x->cached_fd);
	x->cached_fd = -1;
	x->cached[0] = '\0';
}

/* Opens (creating missing directories, 0755 root) the directory dir inside the layer.
 * Returns a borrowed O_PATH fd (cached until the next call or invalidate). */
static int open_parent(struct extract *x, const char *dir)
{
	char prefix[PATH_MAX];
	int fd, prev;
	if (x->stale) {
		invalidate(x);
		x->stale = false;
	}
	if (!*dir)
		return x->root;
	if (x->cached_fd >= 0 && strcmp(x->cached, dir) == 0)
		return x->cached_fd;
	invalidate(x);
	fd = in_root(x->root, dir, O_PATH | O_DIRECTORY);
	if (fd < 0 && errno == ENOENT) {
		/* Create the missing components one at a time, each resolved from the root. */
		prev = -1;
		for (const char *p = dir;; p++) {
			if (*p != '/' && *p)
				continue;
			memcpy(prefix, dir, (size_t)(p - dir));
			prefix[p - dir] = '\0';
			fd = in_root(x->root, prefix, O_PATH | O_DIRECTORY);
			if (fd < 0 && errno == ENOENT && prev >= 0) {
				const char *base = strrchr(prefix, '/');
				base = base ? base + 1 : prefix;
				if (mkdirat(prev, base, 0755) < 0 && errno != EEXIST)
					break;
				fd = in_root(x->root, prefix, O_PATH | O_DIRECTORY);
			} else if (fd < 0 && errno == ENOENT) {
				if (mkdirat(x->root, prefix, 0755) < 0 && errno != EEXIST)
					break;
				fd = in_root(x->root, prefix, O_PATH | O_DIRECTORY);
			}
			if (prev >= 0)
				close(prev);
			prev = fd;
			if (fd < 0 || !*p)
				break;
		}
		fd = prev;
	}
	if (fd < 0) {
		keel_err_sys(x->err, "layer directory %s", dir);
		return -1;
	}
	snprintf(x->cached, sizeof(x->cached), "%s", dir);
	x->cached_fd = fd;
	return fd;
}

/* rm -rf of parent/name without following symlinks anywhere. */
static int remove_at(int parent, const char *name)
{
	struct stat st;
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(st.st_mode)) {
		int dfd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		cleanup_dir DIR *d = NULL;
		struct dirent *de;
		if (dfd < 0)
			return -1;
		d = fdopendir(dfd);
		if (!d) {
			close(dfd);
			return -1;
		}
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
			    remove_at(dirfd(d), de->d_name) < 0)
				return -1;
		return unlinkat(parent, name, AT_REMOVEDIR);
	}
	return unlinkat(parent, name, 0);
}

/* Only harmless extended attributes come from a layer: trusted.overlay.* could steer
 * overlayfs (redirects, metacopy) and must be ours alone. */
static bool xattr_allowed(const char *name)
{
	return strncmp(name, "user.", 5) == 0 || strcmp(name, "security.capability") == 0;
}

static void apply_xattrs(int fd, struct archive_entry *e)
{
	const char *name;
	const void *val;
	size_t len;
	if (archive_entry_xattr_reset(e) == 0)
		return;
	while (archive_entry_xattr_next(e, &name, &val, &len) == ARCHIVE_OK)
		if (xattr_allowed(name))
			fsetxattr(fd, name, val, len, 0);
}

static int write_data(struct extract *x, struct archive *a, int fd, const char *name)
{
	const void *buf;
	size_t len;
	la_int64_t off;
	int r;
	while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
		const char *p = buf;
		while (len > 0) {
			ssize_t n = pwrite(fd, p, len, off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return keel_err_sys(x->err, "write %s", name);
			p += n;
			off += n;
			len -= (size_t)n;
			x->size += n;
		}
	}
	if (r != ARCHIVE_EOF)
		return keel_err(x->err, EIO, "reading %s: %s", name, archive_error_string(a));
	return 0;
}

static int make_file(struct extract *x, struct archive *a, struct archive_entry *e, int parent,
		     const char *base, const char *name)
{
	mode_t mode = archive_entry_perm(e);
	cleanup_close int fd = openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
						    O_CLOEXEC, 0600);
	struct timespec ts[2];
	if (fd < 0)
		return keel_err_sys(x->err, "create %s", name);
	if (write_data(x, a, fd, name) < 0)
		return -1;
	if (ftruncate(fd, archive_entry_size(e)) < 0)
		return keel_err_sys(x->err, "truncate %s", name);
	if (fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return keel_err_sys(x->err, "chown %s", name);
	apply_xattrs(fd, e);
	/* chmod after chown: chown clears set-id bits. */
	if (fchmod(fd, mode) < 0)
		return keel_err_sys(x->err, "chmod %s", name);
	ts[0].tv_sec = ts[1].tv_sec = archive_entry_mtime(e);
	ts[0].tv_nsec = ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	futimens(fd, ts);
	return 0;
}

static int remember_dir(struct extract *x, const char *path, struct archive_entry *e)
{
	if (x->ndirs == x->capdirs) {
		size_t cap = x->capdirs ? x->capdirs * 2 : 64;
		struct dir_time *n = realloc(x->dirs, cap * sizeof(*n));
		if (!n)
			return keel_err(x->err, ENOMEM, "layer");
		x->dirs = n;
		x->capdirs = cap;
	}
	x->dirs[x->ndirs].path = strdup(path);
	if (!x->dirs[x->ndirs].path)
		return keel_err(x->err, ENOMEM, "layer");
	x->dirs[x->ndirs].mtime.tv_sec = archive_entry_mtime(e);
	x->dirs[x->ndirs].mtime.tv_nsec = archive_entry_mtime_nsec(e);
	x->ndirs++;
	return 0;
}

static int make_dir(struct extract *x, struct archive_entry *e, int parent, const char *base,
		    const char *path)
{
	cleanup_close int fd = -1;
	if (*base && mkdirat(parent, base, 0700) < 0 && errno != EEXIST)
		return keel_err_sys(x->err, "mkdir %s", path);
	fd = *base ? openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
		   : in_root(x->root, "", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return keel_err_sys(x->err, "open %s", path);
	if (fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return keel_err_sys(x->err, "chown %s", path);
	apply_xattrs(fd, e);
	if (fchmod(fd, archive_entry_perm(e)) < 0)
		return keel_err_sys(x->err, "chmod %s", path);
	return remember_dir(x, path, e);
}

static int make_link(struct extract *x, const char *target, int parent, const char *base,
		     const char *name)
{
	char clean[PATH_MAX];
	cleanup_close int tfd = -1;
	if (clean_name(target, clean, sizeof(clean), x->err) < 0)
		return -1;
	tfd = in_root(x->root, clean, O_PATH | O_NOFOLLOW);
	if (tfd < 0)
		return keel_err_sys(x->err, "hardlink %s to %s", name, target);
	if (linkat(tfd, "", parent, base, AT_EMPTY_PATH) < 0)
		return keel_err_sys(x->err, "hardlink %s to %s", name, target);
	return 0;
}

static int make_other(struct extract *x, struct archive_entry *e, int parent, const char *base,
		      const char *name)
{
	mode_t type = archive_entry_filetype(e);
	struct timespec ts[2];
	int r;
	switch (type) {
	case AE_IFLNK:
		r = symlinkat(archive_entry_symlink(e), parent, base);
		break;
	case AE_IFCHR:
	case AE_IFBLK:
		/* A device node in a layer is a way into the host's devices (the layer dirs are
		 * on the host, and --privileged containers see them). Only 0:0 char devices, the
		 * overlayfs whiteout form, are made. Nodes under dev/ (debootstrap's /dev/null,
		 * ...) are skipped: the runtime mounts a fresh /dev over them anyway. */
		if (type == AE_IFCHR && archive_entry_rdev(e) == 0) {
			r = mknodat(parent, base, type, 0);
			break;
		}
		if (strncmp(name, "dev/", 4) == 0)
			return 0;
		return keel_err_user(x->err, EPERM, "layer entry %s is a device node", name);
	case AE_IFIFO:
		r = mknodat(parent, base, S_IFIFO | archive_entry_perm(e), 0);
		break;
	default:
		return keel_err_user(x->err, EINVAL, "layer entry %s has an unsupported type", name);
	}
	if (r < 0)
		return keel_err_sys(x->err, "create %s", name);
	if (fchownat(parent, base, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e),
		     AT_SYMLINK_NOFOLLOW) < 0)
		return keel_err_sys(x->err, "chown %s", name);
	ts[0].tv_sec = ts[1].tv_sec = archive_entry_mtime(e);
	ts[0].tv_nsec = ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	utimensat(parent, base, ts, AT_SYMLINK_NOFOLLOW);
	if (type == AE_IFLNK)
		x->stale = true;
	return 0;
}

static int whiteout(struct extract *x, const char *dir, int parent, const char *base)
{
	const char *victim = base + strlen(WH_PREFIX);
	if (strcmp(base, WH_OPAQUE) == 0) {
		/* fsetxattr needs a real fd, not O_PATH. */
		cleanup_close int fd = in_root(x->root, dir, O_RDONLY | O_DIRECTORY);
		if (fd < 0 || fsetxattr(fd, "trusted.overlay.opaque", "y", 1, 0) < 0)
			return keel_err_sys(x->err, "opaque directory %s", *dir ? dir : "/");
		return 0;
	}
	if (strncmp(victim, WH_PREFIX, strlen(WH_PREFIX)) == 0)
		return 0; /* AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): nothing for overlayfs */
	if (!*victim || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0)
		return keel_err_user(x->err, EPERM, "bad whiteout %s/%s", dir, base);
	if (remove_at(parent, victim) < 0)
		return keel_err_sys(x->err, "whiteout %s/%s", dir, victim);
	x->stale = true;
	if (mknodat(parent, victim, S_IFCHR, makedev(0, 0)) < 0 ||
	    fchownat(parent, victim, 0, 0, AT_SYMLINK_NOFOLLOW) < 0)
		return keel_err_sys(x->err, "whiteout %s/%s", dir, victim);
	return 0;
}

static int extract_entry(struct extract *x, struct archive *a, struct archive_entry *e)
{
	char path[PATH_MAX], dir[PATH_MAX];
	const char *raw = archive_entry_pathname(e), *base, *link;
	struct stat st;
	int parent;
	bool is_dir = archive_entry_filetype(e) == AE_IFDIR;
	if (!raw)
		return keel_err_user(x->err, EINVAL, "layer entry without a name");
	if (clean_name(raw, path, sizeof(path), x->err) < 0)
		return -1;
	base = strrchr(path, '/');
	if (base) {
		memcpy(dir, path, (size_t)(base - path));
		dir[base - path] = '\0';
		base++;
	} else {
		dir[0] = '\0';
		base = path;
	}
	if (!*path) {
		if (!is_dir)
			return keel_err_user(x->err, EINVAL, "layer root entry is not a directory");
		return make_dir(x, e, x->root, "", "");
	}
	parent = open_parent(x, dir);
	if (parent < 0)
		return -1;
	if (strncmp(base, WH_PREFIX, strlen(WH_PREFIX)) == 0)
		return whiteout(x, dir, parent, base);
	/* What is already there goes, unless both are directories (tar merges those). */
	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !(is_dir && S_ISDIR(st.st_mode))) {
		if (remove_at(parent, base) < 0)
			return keel_err_sys(x->err, "replace %s", path);
		if (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode))
			x->stale = true;
	}
	link = archive_entry_hardlink(e);
	if (link)
		return make_link(x, link, parent, base, path);
	if (is_dir)
		return make_dir(x, e, parent, base, path);
	if (archive_entry_filetype(e) == AE_IFREG)
		return make_file(x, a, e, parent, base, path);
	return make_other(x, e, parent, base, path);
}

/* Directory mtimes last: every entry created inside a directory changed it. */
static void fix_dir_times(struct extract *x)
{
	for (size_t i = x->ndirs; i-- > 0;) {
		cleanup_close int fd = in_root(x->root, x->dirs[i].path, O_RDONLY | O_DIRECTORY |
									 O_NOFOLLOW);
		struct timespec ts[2] = {x->dirs[i].mtime, x->dirs[i].mtime};
		if (fd >= 0)
			futimens(fd, ts);
	}
}

int keel_layer_extract(int dirfd, struct archive *a, int64_t *size, keel_error_t *err)
{
	struct extract x = {.root = dirfd, .cached_fd = -1, .err = err};
	struct archive_entry *e;
	int r, ret = 0;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (extract_entry(&x, a, e) < 0) {
			ret = -1;
			break;
		}
	}
	if (ret == 0 && r != ARCHIVE_EOF)
		ret = keel_err(err, EIO, "reading layer: %s", archive_error_string(a));
	if (ret == 0)
		fix_dir_times(&x);
	invalidate(&x);
	for (size_t i = 0; i < x.ndirs; i++)
		free(x.dirs[i].path);
	free(x.dirs);
	if (size)
		*size += x.size;
	return ret;
}
