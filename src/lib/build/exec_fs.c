/* Root filesystem work of a build: a private overlay of an image's layers, and COPY/ADD into
 * it. Every path inside a rootfs is opened with openat2(RESOLVE_IN_ROOT): the image's
 * symlinks resolve as if the rootfs were "/", never onto the host. Entries are created with
 * *at calls on their parent's fd without following the last name. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "build/exec_internal.h"
#include "engine/cp.h"
#include "store/libarchive.h"
#include "util/cleanup.h"
#include "util/fs.h"

static int open_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC),
			       .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	while (*path == '/')
		path++;
	return (int)syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
}

int exec_mount(const char *tmp, const struct exec_image *im, bool writable, struct exec_mount *m,
	       keel_error_t *err)
{
	char tmpl[4096], *opts = NULL, *lower = NULL, *merged = NULL;
	size_t len = 0;
	int ret = -1;
	(void)writable;
	memset(m, 0, sizeof(*m));
	m->rootfd = -1;
	if (keel_mkdir_p(tmp, 0700, err) < 0)
		return -1;
	snprintf(tmpl, sizeof(tmpl), "%s/mnt-XXXXXX", tmp);
	if (!mkdtemp(tmpl))
		return keel_err_sys(err, "build: mkdtemp %s", tmpl);
	m->dir = strdup(tmpl);
	if (!m->dir || asprintf(&m->upper, "%s/upper", tmpl) < 0 ||
	    asprintf(&merged, "%s/merged", tmpl) < 0) {
		keel_err(err, ENOMEM, "build");
		goto out;
	}
	for (size_t i = 0; i < im->n; i++)
		len += strlen(im->dirs[i]) + 1;
	lower = calloc(1, len + sizeof("/empty") + strlen(tmpl) + 1);
	if (!lower) {
		keel_err(err, ENOMEM, "build");
		goto out;
	}
	for (size_t i = im->n; i-- > 0;) /* overlayfs: top-most first */
		strcat(strcat(lower, im->dirs[i]), i ? ":" : "");
	if (!im->n) {
		sprintf(lower, "%s/empty", tmpl);
		mkdir(lower, 0755);
	}
	mkdir(m->upper, 0755);
	snprintf(tmpl + strlen(tmpl), sizeof(tmpl) - strlen(tmpl), "/work");
	mkdir(tmpl, 0700);
	mkdir(merged, 0755);
	if (asprintf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, m->upper, tmpl) < 0) {
		opts = NULL;
		keel_err(err, ENOMEM, "build");
		goto out;
	}
	if (mount("overlay", merged, "overlay", 0, opts) < 0) {
		keel_err_sys(err, "build: mounting the rootfs overlay");
		goto out;
	}
	m->rootfd = open(merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (m->rootfd < 0) {
		keel_err_sys(err, "build: open %s", merged);
		umount2(merged, MNT_DETACH);
		goto out;
	}
	ret = 0;
out:
	free(opts);
	free(lower);
	free(merged);
	if (ret < 0)
		exec_mount_free(m);
	return ret;
}

void exec_unmount(struct exec_mount *m)
{
	char path[4096];
	if (m->rootfd < 0)
		return;
	close(m->rootfd);
	m->rootfd = -1;
	snprintf(path, sizeof(path), "%s/merged", m->dir);
	umount2(path, MNT_DETACH);
}

void exec_mount_free(struct exec_mount *m)
{
	keel_error_t err;
	exec_unmount(m);
	if (m->dir)
		keel_rm_rf(m->dir, &err);
	free(m->dir);
	free(m->upper);
	memset(m, 0, sizeof(*m));
	m->rootfd = -1;
}

int exec_mkdir_in_root(int rootfd, const char *path, uid_t uid, gid_t gid, keel_error_t *err)
{
	cleanup_free char *p = strdup(path);
	char *s;
	if (!p)
		return keel_err(err, ENOMEM, "build");
	for (s = p + 1;; s++) {
		char save = *s;
		if (*s && *s != '/')
			continue;
		*s = '\0';
		int fd = open_in_root(rootfd, p, O_PATH | O_DIRECTORY);
		if (fd < 0) {
			char *slash = strrchr(p, '/');
			cleanup_close int parent = -1;
			*slash = '\0';
			parent = open_in_root(rootfd, p, O_PATH | O_DIRECTORY);
			*slash = '/';
			if (parent < 0 || mkdirat(parent, slash + 1, 0755) < 0 ||
			    fchownat(parent, slash + 1, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
				return keel_err_sys(err, "mkdir %s", p);
		} else {
			close(fd);
		}
		*s = save;
		if (!save)
			break;
	}
	return 0;
}

/* uid (or gid) of name in the rootfs' passwd (group) file; -1 when not found. */
static long lookup_id(int rootfd, const char *file, const char *name)
{
	cleanup_close int fd = open_in_root(rootfd, file, O_RDONLY);
	cleanup_fclose FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	char line[1024];
	size_t n = strlen(name);
	if (!f)
		return -1;
	fd = -1;
	while (fgets(line, sizeof(line), f)) {
		char *p;
		if (strncmp(line, name, n) || line[n] != ':')
			continue;
		p = strchr(line + n + 1, ':'); /* past the password */
		return p ? strtol(p + 1, NULL, 10) : -1;
	}
	return -1;
}

static int id_of(int rootfd, const char *file, const char *s, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s && !*end && v >= 0) {
		*out = v;
		return 0;
	}
	*out = lookup_id(rootfd, file, s);
	return *out < 0 ? -1 : 0;
}

int exec_chown_parse(int rootfd, const char *spec, uid_t *uid, gid_t *gid, keel_error_t *err)
{
	cleanup_free char *u = strdup(spec);
	char *g;
	long uv, gv;
	if (!u)
		return keel_err(err, ENOMEM, "build");
	g = strchr(u, ':');
	if (g)
		*g++ = '\0';
	if (id_of(rootfd, "/etc/passwd", u, &uv) < 0)
		return keel_err_user(err, EINVAL, "unable to convert uid/gid chown string to host "
				     "mapping: can't find uid for user %s", u);
	if (!g)
		gv = uv;
	else if (id_of(rootfd, "/etc/group", g, &gv) < 0)
		return keel_err_user(err, EINVAL, "unable to convert uid/gid chown string to host "
				     "mapping: can't find gid for group %s", g);
	*uid = (uid_t)uv;
	*gid = (gid_t)gv;
	return 0;
}

/* Owner, mode and times of a copied entry (fd-relative, never following). */
static void set_meta(const struct exec_copy *c, int dirfd, const char *name,
		     const struct stat *st)
{
	struct timespec ts[2] = {st->st_atim, st->st_mtim};
	uid_t u = c->chown ? c->uid : (c->ctx ? 0 : st->st_uid);
	gid_t g = c->chown ? c->gid : (c->ctx ? 0 : st->st_gid);
	fchownat(dirfd, name, u, g, AT_SYMLINK_NOFOLLOW);
	if (!S_ISLNK(st->st_mode))
		fchmodat(dirfd, name, c->chmod ? c->mode : st->st_mode & 07777, 0);
	utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW);
}

static int copy_data(int in, int out, keel_error_t *err)
{
	char buf[128 * 1024];
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf)), w = 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return keel_err_sys(err, "read");
		if (n == 0)
			return 0;
		while (w < n) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));
			if (k < 0)
				return keel_err_sys(err, "write");
			w += k;
		}
	}
}

/* Removes a non-directory in the way (a planted symlink is replaced, not written through). */
static void clear_way(int dirfd, const char *name, bool want_dir)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode))
		unlinkat(dirfd, name, 0);
	else if (!want_dir && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		errno = EISDIR;
}

static int copy_entry(const struct exec_copy *c, int sdir, const char *sname, const char *rel,
		      int ddir, const char *dname, keel_error_t *err);

static int copy_children(const struct exec_copy *c, int sfd, const char *rel, int dfd,
			 keel_error_t *err)
{
	int dup_fd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;
	int ret = 0;
	if (!d) {
		if (dup_fd >= 0)
			close(dup_fd);
		return keel_err_sys(err, "opendir %s", rel);
	}
	while (ret == 0 && (de = readdir(d))) {
		cleanup_free char *sub = NULL;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (asprintf(&sub, "%s%s%s", strcmp(rel, ".") ? rel : "",
			     strcmp(rel, ".") ? "/" : "", de->d_name) < 0) {
			sub = NULL;
			ret = keel_err(err, ENOMEM, "build");
			break;
		}
		/* .dockerignore'd entries are not in the context's list */
		if (c->ctx && !keel_build_context_lookup(c->ctx, sub))
			continue;
		ret = copy_entry(c, sfd, de->d_name, sub, dfd, de->d_name, err);
	}
	closedir(d);
	return ret;
}

static int copy_entry(const struct exec_copy *c, int sdir, const char *sname, const char *rel,
		      int ddir, const char *dname, keel_error_t *err)
{
	cleanup_close int sfd = openat(sdir, sname, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	if (sfd < 0 || fstat(sfd, &st) < 0)
		return keel_err_sys(err, "%s", rel);
	if (S_ISDIR(st.st_mode)) {
		cleanup_close int dfd = -1;
		struct stat dst;
		if (fstatat(ddir, dname, &dst, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(dst.st_mode))
			unlinkat(ddir, dname, 0);
		if (mkdirat(ddir, dname, 0755) < 0 && errno != EEXIST)
			return keel_err_sys(err, "mkdir %s", rel);
		dfd = openat(ddir, dname, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			return keel_err_sys(err, "open %s", dname);
		cleanup_close int rfd = openat(sdir, sname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rfd < 0 || copy_children(c, rfd, rel, dfd, err) < 0)
			return rfd < 0 ? keel_err_sys(err, "%s", rel) : -1;
		set_meta(c, ddir, dname, &st);
		return 0;
	}
	clear_way(ddir, dname, false);
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlinkat(sfd, "", target, sizeof(target) - 1);
		if (n < 0)
			return keel_err_sys(err, "readlink %s", rel);
		target[n] = '\0';
		if (symlinkat(target, ddir, dname) < 0)
			return keel_err_sys(err, "symlink %s", rel);
	} else if (S_ISREG(st.st_mode)) {
		char proc[64];
		cleanup_close int in = -1, out = -1;
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", sfd);
		in = open(proc, O_RDONLY | O_CLOEXEC);
		out = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			     0600);
		if (in < 0 || out < 0)
			return keel_err_sys(err, "copy %s", rel);
		if (copy_data(in, out, err) < 0)
			return -1;
	} else {
		return 0; /* sockets, devices: not copied */
	}
	set_meta(c, ddir, dname, &st);
	return 0;
}

static bool is_archive(int fd)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	bool ok;
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	ok = archive_read_open_fd(a, fd, 64 * 1024) == ARCHIVE_OK &&
	     archive_read_next_header(a, &e) == ARCHIVE_OK;
	archive_read_free(a);
	lseek(fd, 0, SEEK_SET);
	return ok;
}

/* ADD of a local archive: the members keep the archive's owners unless --chown is given
 * (Docker's legacy builder untars without ChownOpts then). */
static int extract(const struct exec_copy *c, int fd, keel_error_t *err)
{
	struct keel_cp_opts o = {.stream_fd = fd, .uid = c->chown ? c->uid : 0,
				 .gid = c->chown ? c->gid : 0,
				 .flags = c->chown ? 0 : KEEL_CP_ARCHIVE};
	if (exec_mkdir_in_root(c->dst_root, c->dest, o.uid, o.gid, err) < 0)
		return -1;
	return keel_cp_to_container(c->dst_root, "-", c->dest, &o, err);
}

int exec_copy_one(const struct exec_copy *c, int src_dirfd, const char *src_path,
		  keel_error_t *err)
{
	cleanup_close int sfd = open_in_root(src_dirfd, src_path, O_PATH);
	cleanup_close int ddir = -1;
	cleanup_free char *dest = NULL;
	const char *base = strrchr(src_path, '/');
	struct stat st, dst;
	char *slash;
	uid_t u = c->chown ? c->uid : 0;
	gid_t g = c->chown ? c->gid : 0;
	base = base ? base + 1 : src_path;
	if (sfd < 0 || fstat(sfd, &st) < 0)
		return keel_err_sys(err, "%s", src_path);
	if (S_ISREG(st.st_mode) && c->extract) {
		char proc[64];
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", sfd);
		cleanup_close int rfd = open(proc, O_RDONLY | O_CLOEXEC);
		if (rfd >= 0 && is_archive(rfd))
			return extract(c, rfd, err);
	}
	if (S_ISDIR(st.st_mode)) {
		cleanup_close int rfd = -1, dfd = -1;
		if (exec_mkdir_in_root(c->dst_root, c->dest, u, g, err) < 0)
			return -1;
		dfd = open_in_root(c->dst_root, c->dest, O_PATH | O_DIRECTORY);
		rfd = open_in_root(src_dirfd, src_path, O_RDONLY | O_DIRECTORY);
		if (dfd < 0 || rfd < 0)
			return keel_err_sys(err, "copy %s", src_path);
		return copy_children(c, rfd, src_path, dfd, err);
	}
	/* a file: into dest when dest is (or is to be) a directory, else as dest */
	{
		cleanup_close int probe = open_in_root(c->dst_root, c->dest, O_PATH);
		bool into = c->dest_dir || (probe >= 0 && fstat(probe, &dst) == 0 &&
					    S_ISDIR(dst.st_mode));
		if (asprintf(&dest, "%s%s%s", c->dest, into ? "/" : "", into ? base : "") < 0)
			return keel_err(err, ENOMEM, "build");
	}
	slash = strrchr(dest, '/');
	*slash = '\0';
	if (exec_mkdir_in_root(c->dst_root, *dest ? dest : "/", u, g, err) < 0)
		return -1;
	ddir = open_in_root(c->dst_root, *dest ? dest : "/", O_PATH | O_DIRECTORY);
	if (ddir < 0)
		return keel_err_sys(err, "copy %s", src_path);
	{
		/* the entry itself, opened through its parent so the top-level symlink of a
		 * source is followed (Docker copies what it points at) */
		cleanup_close int sdir = -1;
		char *ss = strrchr(src_path, '/');
		cleanup_free char *sp = strdup(src_path);
		if (!sp)
			return keel_err(err, ENOMEM, "build");
		if (ss)
			sp[ss - src_path] = '\0';
		sdir = open_in_root(src_dirfd, ss ? sp : ".", O_PATH | O_DIRECTORY);
		if (sdir < 0)
			return keel_err_sys(err, "%s", src_path);
		if (S_ISLNK(st.st_mode) || fstatat(sdir, base, &dst, AT_SYMLINK_NOFOLLOW) < 0 ||
		    S_ISLNK(dst.st_mode)) {
			/* followed symlink: copy from the resolved fd's directory */
			char proc[64];
			cleanup_close int in = -1, out = -1;
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", sfd);
			in = open(proc, O_RDONLY | O_CLOEXEC);
			clear_way(ddir, slash + 1, false);
			out = openat(ddir, slash + 1,
				     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (in < 0 || out < 0 || copy_data(in, out, err) < 0)
				return keel_err_sys(err, "copy %s", src_path);
			set_meta(c, ddir, slash + 1, &st);
			return 0;
		}
		return copy_entry(c, sdir, base, src_path, ddir, slash + 1, err);
	}
}

/* Creates (truncates) the file path inside c->dst_root, 0600 until its owner and mode are
 * set, its parent directories made as COPY makes them (owned by --chown's ids); the way is
 * cleared of whatever the layer had there. Returns the open fd or -1 with *err. */
static int create_in_root(const struct exec_copy *c, const char *path, keel_error_t *err)
{
	cleanup_free char *parent = strdup(path);
	cleanup_close int dfd = -1;
	char *slash = parent ? strrchr(parent, '/') : NULL;
	const char *name;
	int fd;
	if (!slash)
		return keel_err(err, ENOMEM, "build");
	*slash = '\0';
	name = path + (slash - parent) + 1;
	if (exec_mkdir_in_root(c->dst_root, *parent ? parent : "/", c->uid, c->gid, err) < 0)
		return -1;
	dfd = open_in_root(c->dst_root, *parent ? parent : "/", O_PATH | O_DIRECTORY);
	if (dfd < 0)
		return keel_err_sys(err, "open %s", parent);
	clear_way(dfd, name, false);
	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return keel_err_sys(err, "create %s", path);
	return fd;
}

int exec_write_in_root(const struct exec_copy *c, const char *path, const void *buf, size_t len,
		       keel_error_t *err)
{
	cleanup_close int fd = create_in_root(c, path, err);
	if (fd < 0)
		return -1;
	if (write(fd, buf, len) != (ssize_t)len)
		return keel_err_sys(err, "write %s", path);
	if (fchown(fd, c->chown ? c->uid : 0, c->chown ? c->gid : 0) < 0 ||
	    fchmod(fd, c->chmod ? c->mode : 0644) < 0)
		return keel_err_sys(err, "chmod %s", path);
	return 0;
}

int exec_add_remote(const struct exec_copy *c, const struct exec_remote *r, keel_error_t *err)
{
	cleanup_free char *path = NULL;
	cleanup_close int in = -1, fd = -1, probe = -1;
	bool into_dir = c->dest_dir;
	if (!into_dir) {
		/* an existing directory takes the file under the URL's name, as in Docker */
		probe = open_in_root(c->dst_root, c->dest, O_PATH | O_DIRECTORY);
		into_dir = probe >= 0;
	}
	if (asprintf(&path, "%s%s%s", c->dest, into_dir ? "/" : "", into_dir ? r->name : "") < 0)
		return keel_err(err, ENOMEM, "ADD");
	if ((in = open(r->path, O_RDONLY | O_CLOEXEC)) < 0)
		return keel_err_sys(err, "open %s", r->path);
	if ((fd = create_in_root(c, path, err)) < 0)
		return -1;
	if (copy_data(in, fd, err) < 0)
		return -1;
	if (fchown(fd, c->chown ? c->uid : 0, c->chown ? c->gid : 0) < 0 ||
	    fchmod(fd, c->chmod ? c->mode : 0600) < 0)
		return keel_err_sys(err, "chmod %s", path);
	if (r->mtime >= 0) {
		struct timespec ts[2] = {{.tv_sec = r->mtime}, {.tv_sec = r->mtime}};
		if (futimens(fd, ts) < 0)
			return keel_err_sys(err, "utimes %s", path);
	}
	return 0;
}
