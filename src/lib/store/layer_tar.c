/* Writing a directory tree as a tar: the new layer of `commit` (overlayfs whiteouts turned
 * back into .wh. entries) and `export`. The walk uses directory fds and never follows a
 * symlink; entries are sorted so the same tree gives the same bytes. */
#include "store/layer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "store/libarchive.h"
#include "util/cleanup.h"

struct link_seen {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct walk {
	struct archive *out;
	struct archive_entry_linkresolver *unused;
	struct link_seen *links;
	size_t nlinks, caplinks;
	bool whiteouts;
	keel_error_t *err;
};

static int names_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names in dirfd (caller frees each and the vector). */
static char **list_dir(int dirfd, size_t *n, keel_error_t *err)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		keel_err_sys(err, "read directory");
		return NULL;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*n + 1 >= cap) {
			cap = cap ? cap * 2 : 32;
			char **nv = realloc(v, cap * sizeof(char *));
			if (!nv)
				goto oom;
			v = nv;
		}
		if (!(v[(*n)++] = strdup(de->d_name)))
			goto oom;
	}
	if (!v && !(v = calloc(1, sizeof(char *))))
		goto oom;
	v[*n] = NULL;
	qsort(v, *n, sizeof(char *), names_cmp);
	return v;
oom:
	for (size_t i = 0; v && i < *n; i++)
		free(v[i]);
	free(v);
	keel_err(err, ENOMEM, "read directory");
	return NULL;
}

static int put_header(struct walk *w, struct archive_entry *e, const char *path)
{
	if (archive_write_header(w->out, e) < ARCHIVE_WARN)
		return keel_err(w->err, EIO, "tar %s: %s", path, archive_error_string(w->out));
	return 0;
}

/* As Docker's pkg/archive writes them: a whiteout is an empty 0600 file owned like the
 * overlay whiteout device; the opaque marker takes its directory's permissions and owner. */
static int put_whiteout(struct walk *w, const char *path, const struct stat *st)
{
	struct archive_entry *e = archive_entry_new();
	int ret;
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, S_ISDIR(st->st_mode) ? st->st_mode & 0777 : 0600);
	archive_entry_set_uid(e, st->st_uid);
	archive_entry_set_gid(e, st->st_gid);
	archive_entry_set_size(e, 0);
	archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	ret = put_header(w, e, path);
	archive_entry_free(e);
	return ret;
}

static int copy_data(struct walk *w, int fd, const char *path)
{
	char buf[128 * 1024];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return keel_err_sys(w->err, "read %s", path);
		if (archive_write_data(w->out, buf, (size_t)n) < 0)
			return keel_err(w->err, EIO, "tar %s: %s", path,
					archive_error_string(w->out));
	}
	return 0;
}

/* A second name of an inode already written becomes a hardlink entry. */
static const char *seen_link(struct walk *w, const struct stat *st, const char *path)
{
	for (size_t i = 0; i < w->nlinks; i++)
		if (w->links[i].dev == st->st_dev && w->links[i].ino == st->st_ino)
			return w->links[i].path;
	if (w->nlinks == w->caplinks) {
		size_t cap = w->caplinks ? w->caplinks * 2 : 16;
		struct link_seen *n = realloc(w->links, cap * sizeof(*n));
		if (!n)
			return NULL;
		w->links = n;
		w->caplinks = cap;
	}
	w->links[w->nlinks].dev = st->st_dev;
	w->links[w->nlinks].ino = st->st_ino;
	w->links[w->nlinks].path = strdup(path);
	if (w->links[w->nlinks].path)
		w->nlinks++;
	return NULL;
}

static int walk_dir(struct walk *w, int dirfd, const char *prefix);

static void set_common(struct archive_entry *e, const char *path, const struct stat *st)
{
	archive_entry_set_pathname(e, path);
	archive_entry_set_mode(e, st->st_mode);
	archive_entry_set_uid(e, st->st_uid);
	archive_entry_set_gid(e, st->st_gid);
	archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
}

static int put_file(struct walk *w, int dirfd, const char *name, const char *path,
		    const struct stat *st, struct archive_entry *e)
{
	cleanup_close int fd = -1;
	char cap[256];
	ssize_t caplen;
	const char *first = st->st_nlink > 1 ? seen_link(w, st, path) : NULL;
	if (first) {
		archive_entry_set_hardlink(e, first);
		archive_entry_set_size(e, 0);
		return put_header(w, e, path);
	}
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return keel_err_sys(w->err, "open %s", path);
	archive_entry_set_size(e, st->st_size);
	caplen = fgetxattr(fd, "security.capability", cap, sizeof(cap));
	if (caplen > 0)
		archive_entry_xattr_add_entry(e, "security.capability", cap, (size_t)caplen);
	if (put_header(w, e, path) < 0)
		return -1;
	return copy_data(w, fd, path);
}

static int put_entry(struct walk *w, int dirfd, const char *name, const char *prefix)
{
	char path[PATH_MAX], target[PATH_MAX], opq[2];
	struct archive_entry *e;
	struct stat st;
	ssize_t n;
	int ret = 0;
	snprintf(path, sizeof(path), "%s%s", prefix, name);
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return keel_err_sys(w->err, "stat %s", path);
	if (w->whiteouts && S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) {
		snprintf(path, sizeof(path), "%s.wh.%s", prefix, name);
		return put_whiteout(w, path, &st);
	}
	e = archive_entry_new();
	set_common(e, path, &st);
	if (S_ISREG(st.st_mode)) {
		ret = put_file(w, dirfd, name, path, &st, e);
	} else if (S_ISDIR(st.st_mode)) {
		cleanup_close int sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
								   O_CLOEXEC);
		char sp[PATH_MAX];
		if (sub < 0) {
			ret = keel_err_sys(w->err, "open %s", path);
		} else if ((ret = put_header(w, e, path)) == 0) {
			snprintf(sp, sizeof(sp), "%s/", path);
			if (w->whiteouts &&
			    fgetxattr(sub, "trusted.overlay.opaque", opq, sizeof(opq)) == 1 &&
			    opq[0] == 'y') {
				char wp[PATH_MAX];
				snprintf(wp, sizeof(wp), "%s.wh..wh..opq", sp);
				ret = put_whiteout(w, wp, &st);
			}
			if (ret == 0)
				ret = walk_dir(w, sub, sp);
		}
	} else if (S_ISLNK(st.st_mode)) {
		n = readlinkat(dirfd, name, target, sizeof(target) - 1);
		if (n < 0) {
			ret = keel_err_sys(w->err, "readlink %s", path);
		} else {
			target[n] = '\0';
			archive_entry_set_symlink(e, target);
			ret = put_header(w, e, path);
		}
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
		archive_entry_set_rdev(e, st.st_rdev);
		ret = put_header(w, e, path);
	} /* sockets cannot be in a tar: skipped, as docker does */
	archive_entry_free(e);
	return ret;
}

static int walk_dir(struct walk *w, int dirfd, const char *prefix)
{
	size_t n;
	char **names = list_dir(dirfd, &n, w->err);
	int ret = 0;
	if (!names)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (ret == 0)
			ret = put_entry(w, dirfd, names[i], prefix);
		free(names[i]);
	}
	free(names);
	return ret;
}

int keel_layer_write_tar(int dirfd, struct archive *out, bool whiteouts, keel_error_t *err)
{
	struct walk w = {.out = out, .whiteouts = whiteouts, .err = err};
	int ret = walk_dir(&w, dirfd, "");
	for (size_t i = 0; i < w.nlinks; i++)
		free(w.links[i].path);
	free(w.links);
	return ret;
}

static la_ssize_t fd_write(struct archive *a, void *ud, const void *buf, size_t len)
{
	int fd = *(int *)ud;
	const char *p = buf;
	size_t left = len;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			archive_set_error(a, errno, "write");
			return -1;
		}
		p += n;
		left -= (size_t)n;
	}
	return (la_ssize_t)len;
}

int keel_store_tar_dir(int dirfd, int out_fd, keel_error_t *err)
{
	struct archive *a = archive_write_new();
	int ret;
	if (!a)
		return keel_err(err, ENOMEM, "tar");
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open(a, &out_fd, NULL, fd_write, NULL) != ARCHIVE_OK) {
		ret = keel_err(err, EIO, "tar: %s", archive_error_string(a));
		archive_write_free(a);
		return ret;
	}
	ret = keel_layer_write_tar(dirfd, a, false, err);
	if (archive_write_close(a) != ARCHIVE_OK && ret == 0)
		ret = keel_err(err, EIO, "tar: %s", archive_error_string(a));
	archive_write_free(a);
	return ret;
}
