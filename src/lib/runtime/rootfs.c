/* The container's filesystem: propagation, spec mounts, /dev, pivot_root, masked and
 * read-only paths. See rootfs.h for the call order.
 *
 * Every path inside the rootfs is resolved with openat2(RESOLVE_IN_ROOT) from an fd of the
 * rootfs, and every mount onto such a path goes through "/proc/self/fd/N": the kernel then
 * mounts onto exactly the inode we resolved, so a symlink planted in the image (absolute,
 * "../../..", or a magic link under a freshly mounted /proc) can never redirect a mount onto
 * the host. */
#include "runtime/rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define PROPAGATION_MASK (MS_SHARED | MS_SLAVE | MS_PRIVATE | MS_UNBINDABLE)
#define ATIME_MASK	 (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)
/* Flags that only say how to mount, not what the mount looks like. */
#define NON_ATTR_FLAGS	 (MS_BIND | MS_REC | MS_REMOUNT | MS_MOVE | PROPAGATION_MASK)
#define MAX_SYMLINK_HOPS 40

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* What prepare needs about the spec besides the mounts. */
struct rootfs_ctx {
	const struct keel_spec *spec;
	int rootfd; /* O_PATH fd of the rootfs *after* its self-bind */
	bool userns;
	bool cgroupns;
	const char *cgroup_path; /* the container's cgroup in every hierarchy, or NULL */
};

/* ---------- paths ---------- */

/* Lexically cleans an absolute path: collapses "//", drops ".", resolves ".." (clamped at
 * "/"), no trailing slash. Used only to compare destinations, never to open anything. */
static void clean_path(const char *in, char *out, size_t n)
{
	size_t len = 0;
	const char *p = in;
	if (n < 2)
		return;
	out[len++] = '/';
	while (*p) {
		const char *end;
		size_t seg;
		while (*p == '/')
			p++;
		end = strchrnul(p, '/');
		seg = (size_t)(end - p);
		if (seg == 0 || (seg == 1 && p[0] == '.')) {
			;
		} else if (seg == 2 && p[0] == '.' && p[1] == '.') {
			while (len > 1 && out[len - 1] != '/')
				len--;
			if (len > 1)
				len--;
		} else if (len + seg + 1 < n) {
			if (len > 1)
				out[len++] = '/';
			memcpy(out + len, p, seg);
			len += seg;
		}
		p = end;
	}
	out[len] = '\0';
}

static bool path_is(const char *path, const char *want)
{
	char clean[PATH_MAX];
	clean_path(path, clean, sizeof(clean));
	return strcmp(clean, want) == 0;
}

static int sys_openat2(int dirfd, const char *path, int flags, uint64_t resolve)
{
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = resolve};
	return (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
}

/* Opens path (absolute or not) as seen from inside root. RESOLVE_IN_ROOT clamps "..",
 * absolute symlinks and absolute paths to rootfd; magic links (/proc/self/root, ...) are
 * refused outright. */
static int open_in_root(int rootfd, const char *path, int flags)
{
	int fd;
	do
		fd = sys_openat2(rootfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
	while (fd < 0 && errno == EAGAIN);
	return fd;
}

/* The name under which mount(2) reaches the inode behind fd. */
struct fdpath {
	char s[32];
};

static struct fdpath fdpath(int fd)
{
	struct fdpath p;
	snprintf(p.s, sizeof(p.s), "/proc/self/fd/%d", fd);
	return p;
}

enum leaf { LEAF_DIR, LEAF_FILE };

/* Creates component `name` in parentfd: a directory, or an empty file for a file leaf. */
static int create_component(int parentfd, const char *name, bool file)
{
	if (!file)
		return mkdirat(parentfd, name, 0755);
	int fd = openat(parentfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* One pass over `path`: creates every missing component. When a component cannot be created
 * because a dangling symlink sits there, rewrites `path` to go through the symlink's target
 * (still resolved inside root later) and returns 1 so the caller starts over. */
static int create_missing(int rootfd, char *path, size_t size, enum leaf leaf)
{
	char prefix[PATH_MAX] = "";
	const char *p = path;
	while (*p) {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t seg = (size_t)(end - p), plen = strlen(prefix);
		if (seg == 0)
			break;
		if (plen + seg + 2 >= sizeof(prefix))
			return errno = ENAMETOOLONG, -1;
		char name[NAME_MAX + 1];
		if (seg > NAME_MAX)
			return errno = ENAMETOOLONG, -1;
		memcpy(name, p, seg);
		name[seg] = '\0';
		snprintf(prefix + plen, sizeof(prefix) - plen, "/%s", name);

		cleanup_close int fd = open_in_root(rootfd, prefix, O_PATH);
		if (fd >= 0) {
			p = end;
			continue;
		}
		if (errno != ENOENT)
			return -1;
		prefix[plen] = '\0';
		cleanup_close int parent =
		    open_in_root(rootfd, plen ? prefix : "/", O_PATH | O_DIRECTORY);
		if (parent < 0)
			return -1;
		bool last = *end == '\0' || end[strspn(end, "/")] == '\0';
		if (create_component(parent, name, last && leaf == LEAF_FILE) == 0) {
			snprintf(prefix + plen, sizeof(prefix) - plen, "/%s", name);
			p = end;
			continue;
		}
		if (errno != EEXIST)
			return -1;
		/* A dangling symlink: continue at its target, relative to its directory. */
		char target[PATH_MAX], rest[PATH_MAX];
		ssize_t n = readlinkat(parent, name, target, sizeof(target) - 1);
		if (n < 0)
			return -1;
		target[n] = '\0';
		snprintf(rest, sizeof(rest), "%s", end);
		int w = target[0] == '/' ? snprintf(path, size, "%s%s", target, rest)
					 : snprintf(path, size, "%s/%s%s", prefix, target, rest);
		if (w < 0 || (size_t)w >= size)
			return errno = ENAMETOOLONG, -1;
		return 1;
	}
	return 0;
}

/* Resolves dest inside root, creating what is missing (directories, and an empty file as
 * the last component for LEAF_FILE), and returns an O_PATH fd of it. */
static int open_dest(int rootfd, const char *dest, enum leaf leaf)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s", dest) >= (int)sizeof(path))
		return errno = ENAMETOOLONG, -1;
	for (int hops = 0; hops < MAX_SYMLINK_HOPS; hops++) {
		int fd = open_in_root(rootfd, path, O_PATH);
		if (fd >= 0 || errno != ENOENT)
			return fd;
		int r = create_missing(rootfd, path, sizeof(path), leaf);
		if (r < 0)
			return -1;
		if (r == 0)
			return open_in_root(rootfd, path, O_PATH);
	}
	return errno = ELOOP, -1;
}

/* ---------- mount flag helpers ---------- */

/* The per-mount flags of the mount that fd lives on, as MS_* flags. In a user namespace the
 * kernel locks nosuid/nodev/noexec/ro/atime of mounts inherited from a more privileged
 * namespace: a MS_REMOUNT|MS_BIND that tries to drop one of them fails with EPERM. */
static unsigned long mount_flags_of(int fd)
{
	static const struct {
		unsigned long st, ms;
	} map[] = {
	    {ST_RDONLY, MS_RDONLY},	{ST_NOSUID, MS_NOSUID},	  {ST_NODEV, MS_NODEV},
	    {ST_NOEXEC, MS_NOEXEC},	{ST_NOATIME, MS_NOATIME}, {ST_NODIRATIME, MS_NODIRATIME},
	    {ST_RELATIME, MS_RELATIME},
	};
	struct statvfs st;
	unsigned long flags = 0;
	if (fstatvfs(fd, &st) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (st.f_flag & map[i].st)
			flags |= map[i].ms;
	/* statvfs has no bit for strictatime. A remount that passes no atime flag keeps the
	 * atime mode, but one passing MS_NODIRATIME alone gets the default relatime: on a
	 * locked strictatime mount that is EPERM. */
	if (!(flags & (MS_NOATIME | MS_RELATIME)))
		flags |= MS_STRICTATIME;
	return flags;
}

/* Changes the per-mount flags of the mount at target (whose root fd is) to `flags`, keeping
 * the flags the mount has now unless the caller explicitly cleared them ("rw", "suid", ...).
 * MS_REMOUNT|MS_BIND touches only per-mount flags, so it also works in a user namespace. */
static int remount_bind(const char *target, int fd, unsigned long flags, unsigned long clear)
{
	unsigned long keep = mount_flags_of(fd) & ~clear;
	if ((flags | clear) & ATIME_MASK)
		keep &= ~ATIME_MASK;
	flags = (flags & ~NON_ATTR_FLAGS) | keep | MS_BIND | MS_REMOUNT;
	for (int tries = 0;; tries++) {
		if (mount(NULL, target, NULL, flags, NULL) == 0)
			return 0;
		/* EBUSY while the mount is still busy being set up; runc retries likewise */
		if (errno != EBUSY || tries == 5)
			return -1;
		usleep(100 * 1000);
	}
}

static int remount_bind_fd(int fd, unsigned long flags, unsigned long clear)
{
	return remount_bind(fdpath(fd).s, fd, flags, clear);
}

/* Applies propagation (one type per call, as the kernel wants). */
static int apply_propagation(const char *target, unsigned long prop)
{
	static const unsigned long types[] = {MS_PRIVATE, MS_SLAVE, MS_SHARED, MS_UNBINDABLE};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (prop & types[i] &&
		    mount(NULL, target, NULL, types[i] | (prop & MS_REC), NULL) < 0)
			return -1;
	return 0;
}

/* Recursive mount attributes ("rro", "rnosuid", ...; runc's names), applied with
 * mount_setattr(AT_RECURSIVE) so they reach submounts too, which MS_REMOUNT never does. */
enum rattr_op { RATTR_SET, RATTR_CLEAR, RATTR_ATIME };

static const struct rattr {
	const char *name;
	enum rattr_op op;
	uint64_t attr;
} rattrs[] = {
    {"rro", RATTR_SET, MOUNT_ATTR_RDONLY},
    {"rrw", RATTR_CLEAR, MOUNT_ATTR_RDONLY},
    {"rnosuid", RATTR_SET, MOUNT_ATTR_NOSUID},
    {"rsuid", RATTR_CLEAR, MOUNT_ATTR_NOSUID},
    {"rnodev", RATTR_SET, MOUNT_ATTR_NODEV},
    {"rdev", RATTR_CLEAR, MOUNT_ATTR_NODEV},
    {"rnoexec", RATTR_SET, MOUNT_ATTR_NOEXEC},
    {"rexec", RATTR_CLEAR, MOUNT_ATTR_NOEXEC},
    {"rnodiratime", RATTR_SET, MOUNT_ATTR_NODIRATIME},
    {"rdiratime", RATTR_CLEAR, MOUNT_ATTR_NODIRATIME},
    {"rnosymfollow", RATTR_SET, MOUNT_ATTR_NOSYMFOLLOW},
    {"rsymfollow", RATTR_CLEAR, MOUNT_ATTR_NOSYMFOLLOW},
    /* atime values are an enum, not bits: setting one needs the whole mask in attr_clr */
    {"rrelatime", RATTR_ATIME, MOUNT_ATTR_RELATIME},
    {"rnoatime", RATTR_ATIME, MOUNT_ATTR_NOATIME},
    {"rstrictatime", RATTR_ATIME, MOUNT_ATTR_STRICTATIME},
};

static int apply_rattrs(int fd, char **options)
{
	struct mount_attr attr = {0};
	bool any = false;
	for (char **o = options; o && *o; o++) {
		for (size_t i = 0; i < sizeof(rattrs) / sizeof(rattrs[0]); i++) {
			const struct rattr *r = &rattrs[i];
			if (strcmp(*o, r->name) != 0)
				continue;
			any = true;
			if (r->op == RATTR_ATIME) {
				attr.attr_clr |= MOUNT_ATTR__ATIME;
				attr.attr_set = (attr.attr_set & ~MOUNT_ATTR__ATIME) | r->attr;
			} else if (r->op == RATTR_CLEAR) {
				attr.attr_clr |= r->attr;
				attr.attr_set &= ~r->attr;
			} else {
				attr.attr_set |= r->attr;
				attr.attr_clr &= ~r->attr;
			}
		}
	}
	if (!any)
		return 0;
	return mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr));
}

/* ---------- /proc/self/mountinfo ---------- */

struct mountinfo {
	char *root, *mountpoint, *optional, *fstype, *source, *super;
};

/* Undoes the kernel's octal escapes (\040 for space, ...) in place. */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* Splits one mountinfo line in place. */
static bool parse_mountinfo_line(char *line, struct mountinfo *mi)
{
	char *save = NULL, *f[6];
	for (int i = 0; i < 6; i++)
		if (!(f[i] = strtok_r(i ? NULL : line, " ", &save)))
			return false;
	mi->root = f[3];
	mi->mountpoint = f[4];
	mi->optional = save; /* optional fields up to " - " */
	char *sep = strstr(save, " - ");
	if (!sep) {
		if (strncmp(save, "- ", 2) != 0)
			return false;
		sep = save - 1;
	}
	*sep = '\0';
	char *rest = sep + 3;
	save = NULL;
	mi->fstype = strtok_r(rest, " ", &save);
	mi->source = strtok_r(NULL, " ", &save);
	mi->super = strtok_r(NULL, " \n", &save);
	if (!mi->fstype || !mi->source || !mi->super)
		return false;
	unescape(mi->root);
	unescape(mi->mountpoint);
	return true;
}

/* /proc/self/mountinfo read and split once: the kernel formats every mount of the namespace
 * for each read (mangle_path, seq_file), which showed in profiles when it was read once per
 * cgroup hierarchy. */
struct mount_table {
	char *text;
	struct mountinfo *v;
	size_t n;
};

static void mount_table_free(struct mount_table *t)
{
	free(t->text);
	free(t->v);
	t->text = NULL;
	t->v = NULL;
	t->n = 0;
}

static int mount_table_load(struct mount_table *t, keel_error_t *err)
{
	size_t cap = 0;
	char *save = NULL;
	*t = (struct mount_table){ 0 };
	if (keel_read_file("/proc/self/mountinfo", &t->text, err) < 0)
		return -1;
	for (char *line = strtok_r(t->text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct mountinfo mi;
		if (!parse_mountinfo_line(line, &mi))
			continue;
		if (t->n == cap) {
			cap = cap ? cap * 2 : 64;
			struct mountinfo *v = realloc(t->v, cap * sizeof(*v));
			if (!v) {
				mount_table_free(t);
				return keel_err(err, ENOMEM, "out of memory");
			}
			t->v = v;
		}
		t->v[t->n++] = mi;
	}
	return 0;
}

typedef int (*mountinfo_fn)(const struct mountinfo *mi, void *arg);

/* Calls fn for every mount of t; a positive return stops the walk and is returned. */
static int mount_table_each(const struct mount_table *t, mountinfo_fn fn, void *arg)
{
	for (size_t i = 0; i < t->n; i++) {
		int r = fn(&t->v[i], arg);
		if (r != 0)
			return r;
	}
	return 0;
}

/* Whether a comma list contains word. */
static bool list_has(const char *list, const char *word, size_t wlen)
{
	for (const char *p = list; *p;) {
		const char *end = strchrnul(p, ',');
		if ((size_t)(end - p) == wlen && strncmp(p, word, wlen) == 0)
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

/* ---------- propagation of the tree ---------- */

struct parent_mount {
	const char *path;
	size_t best;
	char mountpoint[PATH_MAX];
	bool shared;
};

static int find_parent_mount(const struct mountinfo *mi, void *arg)
{
	struct parent_mount *pm = arg;
	size_t n = strlen(mi->mountpoint);
	bool prefix =
	    strcmp(mi->mountpoint, "/") == 0 || (strncmp(pm->path, mi->mountpoint, n) == 0 &&
						 (pm->path[n] == '/' || pm->path[n] == '\0'));
	if (prefix && (n >= pm->best || pm->best == 0)) {
		pm->best = n;
		snprintf(pm->mountpoint, sizeof(pm->mountpoint), "%s", mi->mountpoint);
		pm->shared = strstr(mi->optional, "shared:") != NULL;
	}
	return 0;
}

/* pivot_root refuses a new root whose parent mount is shared, and mounts under a shared
 * parent would propagate to the host: make that parent private (as runc does). Only matters
 * with rootfsPropagation "shared"/"rshared"; the default rslave leaves nothing shared. */
static int make_parent_private(const char *rootfs, keel_error_t *err)
{
	char real[PATH_MAX];
	struct parent_mount pm = {.path = real};
	struct mount_table t;
	if (!realpath(rootfs, real))
		return keel_err_sys(err, "resolve rootfs %s", rootfs);
	if (mount_table_load(&t, err) < 0)
		return -1;
	mount_table_each(&t, find_parent_mount, &pm);
	mount_table_free(&t);
	if (pm.shared && mount(NULL, pm.mountpoint, NULL, MS_PRIVATE, NULL) < 0)
		return keel_err_sys(err, "make %s private", pm.mountpoint);
	return 0;
}

/* ---------- copy-up (tmpcopyup) ---------- */

static int copy_tree(int src, int dst);

static int copy_data(int src, int dst)
{
	char buf[65536];
	ssize_t n;
	while ((n = read(src, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(dst, buf + off, (size_t)(n - off));
			if (w < 0)
				return -1;
			off += w;
		}
	}
	return n < 0 ? -1 : 0;
}

static int copy_entry(int src, int dst, const char *name, const struct stat *st)
{
	mode_t perm = st->st_mode & 07777;
	if (S_ISDIR(st->st_mode)) {
		if (mkdirat(dst, name, 0700) < 0)
			return -1;
		cleanup_close int s =
		    openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		cleanup_close int d =
		    openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s < 0 || d < 0 || copy_tree(s, d) < 0)
			return -1;
	} else if (S_ISREG(st->st_mode)) {
		cleanup_close int s = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		cleanup_close int d =
		    openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (s < 0 || d < 0 || copy_data(s, d) < 0)
			return -1;
	} else if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(src, name, target, sizeof(target) - 1);
		if (n < 0)
			return -1;
		target[n] = '\0';
		if (symlinkat(target, dst, name) < 0)
			return -1;
	} else if (mknodat(dst, name, st->st_mode, st->st_rdev) < 0) {
		return -1;
	}
	if (fchownat(dst, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	/* after chown, which clears set-id bits */
	if (!S_ISLNK(st->st_mode) && fchmodat(dst, name, perm, 0) < 0)
		return -1;
	struct timespec times[2] = {st->st_atim, st->st_mtim};
	return utimensat(dst, name, times, AT_SYMLINK_NOFOLLOW);
}

/* Copies the content of directory src into directory dst (both O_RDONLY dir fds). */
static int copy_tree(int src, int dst)
{
	int dupfd = dup(src);
	if (dupfd < 0)
		return -1;
	cleanup_dir DIR *d = fdopendir(dupfd);
	if (!d) {
		close(dupfd);
		return -1;
	}
	struct dirent *de;
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(src, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    copy_entry(src, dst, de->d_name, &st) < 0)
			return -1;
	}
	return errno ? -1 : 0;
}

/* ---------- one spec mount ---------- */

/* Mounts that may land on top of procfs: lxcfs-style overrides, nothing else (runc's list).
 * Anything else mounted over /proc could fool the runtime's own later reads of /proc. */
static const char *const proc_overridable[] = {
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
    NULL,
};

static int check_proc_dest(int fd, const char *dest, keel_error_t *err)
{
	struct statfs sf;
	if (fstatfs(fd, &sf) < 0)
		return keel_err_sys(err, "statfs destination");
	if (sf.f_type != PROC_SUPER_MAGIC)
		return 0;
	for (const char *const *p = proc_overridable; *p; p++)
		if (path_is(dest, *p))
			return 0;
	return keel_err(err, EPERM, "destination is inside /proc");
}

/* Reopens dest after a mount so the fd is the new mount's root, not the covered inode. */
static int reopen_dest(const struct rootfs_ctx *c, const char *dest, keel_error_t *err)
{
	int fd = open_in_root(c->rootfd, dest, O_PATH);
	if (fd < 0)
		return keel_err_sys(err, "reopen destination");
	return fd;
}

/* What every mount does once it exists: bind remount of flags, propagation, r* attrs. */
static int finish_mount(const struct rootfs_ctx *c, const struct keel_spec_mount *m,
			unsigned long flags, bool remount, keel_error_t *err)
{
	cleanup_close int fd = reopen_dest(c, m->destination, err);
	if (fd < 0)
		return -1;
	/* A bind mount ignores every flag but MS_BIND|MS_REC on creation: set them now. */
	if (remount && (flags & ~NON_ATTR_FLAGS) && remount_bind_fd(fd, flags, m->clear) < 0)
		return keel_err_sys(err, "remount");
	if (m->propagation && apply_propagation(fdpath(fd).s, m->propagation) < 0)
		return keel_err_sys(err, "set propagation");
	if (apply_rattrs(fd, m->options) < 0)
		return keel_err_sys(err, "mount_setattr");
	return 0;
}

static unsigned long attr_flags(const struct keel_spec_mount *m)
{
	return m->flags & ~NON_ATTR_FLAGS;
}

/* The flags a filesystem is mounted with: /dev stays writable until finalize so the devices
 * can be made in it. */
static unsigned long fs_flags(const struct keel_spec_mount *m)
{
	unsigned long flags = attr_flags(m);
	if (path_is(m->destination, "/dev"))
		flags &= ~MS_RDONLY;
	return flags;
}

/* Binds host path src onto dest (inside the rootfs). */
static int bind_onto(const struct rootfs_ctx *c, const char *src, const char *dest, bool rec,
		     keel_error_t *err)
{
	struct stat st;
	if (stat(src, &st) < 0)
		return keel_err_sys(err, "source %s", src);
	cleanup_close int fd =
	    open_dest(c->rootfd, dest, S_ISDIR(st.st_mode) ? LEAF_DIR : LEAF_FILE);
	if (fd < 0)
		return keel_err_sys(err, "create destination");
	if (check_proc_dest(fd, dest, err) < 0)
		return -1;
	if (mount(src, fdpath(fd).s, NULL, MS_BIND | (rec ? MS_REC : 0), NULL) < 0)
		return keel_err_sys(err, "bind %s", src);
	return 0;
}

static int mount_bind(struct rootfs_ctx *c, const struct keel_spec_mount *m, keel_error_t *err)
{
	if (!m->source)
		return keel_err(err, EINVAL, "bind mount without a source");
	if (bind_onto(c, m->source, m->destination, m->recursive, err) < 0)
		return -1;
	return finish_mount(c, m, attr_flags(m), true, err);
}

/* The common path of every filesystem mount: resolve, check, mount. */
static int mount_fs_at(const struct rootfs_ctx *c, const struct keel_spec_mount *m,
		       const char *type, unsigned long flags, const char *data, bool want_dir,
		       keel_error_t *err)
{
	cleanup_close int fd = open_dest(c->rootfd, m->destination, LEAF_DIR);
	if (fd < 0)
		return keel_err_sys(err, "create destination");
	if (want_dir) {
		struct stat st;
		if (fstat(fd, &st) < 0)
			return keel_err_sys(err, "stat destination");
		if (!S_ISDIR(st.st_mode))
			return keel_err(err, ENOTDIR, "destination is not a directory");
	}
	if (strcmp(type, "proc") != 0 && check_proc_dest(fd, m->destination, err) < 0)
		return -1;
	const char *source = m->source ? m->source : type;
	if (mount(source, fdpath(fd).s, type, flags, data && *data ? data : NULL) < 0)
		return keel_err_sys(err, "mount");
	return 0;
}

static int mount_generic(struct rootfs_ctx *c, const struct keel_spec_mount *m, keel_error_t *err)
{
	unsigned long flags = fs_flags(m);
	if (mount_fs_at(c, m, m->type, flags, m->data, false, err) < 0)
		return -1;
	return finish_mount(c, m, flags, false, err);
}

/* proc and sysfs only on a real directory: mounting them over a file is an old attack. */
static int mount_kernfs(struct rootfs_ctx *c, const struct keel_spec_mount *m, keel_error_t *err)
{
	unsigned long flags = attr_flags(m);
	if (mount_fs_at(c, m, m->type, flags, m->data, true, err) == 0)
		return finish_mount(c, m, flags, false, err);
	/* sysfs belongs to the network namespace's owner: in a new user namespace without a new
	 * network namespace the kernel says EPERM. Show the host's /sys instead (runc does). */
	if (strcmp(m->type, "sysfs") != 0 || (err->errnum != EPERM && err->errnum != EBUSY))
		return -1;
	keel_err_clear(err);
	if (bind_onto(c, "/sys", m->destination, true, err) < 0)
		return -1;
	return finish_mount(c, m, flags | MS_NOSUID | MS_NODEV | MS_NOEXEC, true, err);
}

/* tmpfs, with tmpcopyup: the fd of the covered directory stays usable after the tmpfs
 * hides it, so its content is copied straight across — no temporary mount elsewhere. */
static int mount_tmpfs(struct rootfs_ctx *c, const struct keel_spec_mount *m, keel_error_t *err)
{
	if (!m->tmpcopyup)
		return mount_generic(c, m, err);
	unsigned long flags = fs_flags(m);
	cleanup_close int old = -1;
	cleanup_close int fd = open_dest(c->rootfd, m->destination, LEAF_DIR);
	if (fd < 0)
		return keel_err_sys(err, "create destination");
	old = open_in_root(c->rootfd, m->destination, O_RDONLY | O_DIRECTORY);
	if (old < 0)
		return keel_err_sys(err, "open destination");
	if (mount(m->source ? m->source : "tmpfs", fdpath(fd).s, "tmpfs", flags & ~MS_RDONLY,
		  m->data && *m->data ? m->data : NULL) < 0)
		return keel_err_sys(err, "mount");
	cleanup_close int new = open_in_root(c->rootfd, m->destination, O_RDONLY | O_DIRECTORY);
	if (new < 0)
		return keel_err_sys(err, "reopen destination");
	if (copy_tree(old, new) < 0)
		return keel_err_sys(err, "tmpcopyup");
	return finish_mount(c, m, flags, (flags & MS_RDONLY) != 0, err);
}

/* ---------- cgroup ---------- */

struct cg_hier {
	char controllers[256];	 /* "memory", "cpu,cpuacct", "name=systemd" */
	char path[PATH_MAX];	 /* our cgroup in it, from /proc/self/cgroup */
	char source[PATH_MAX];	 /* host directory of that cgroup */
	char base[NAME_MAX + 1]; /* basename of the hierarchy's mount point */
};

static int match_hierarchy(const struct mountinfo *mi, void *arg)
{
	struct cg_hier *h = arg;
	if (strcmp(mi->fstype, "cgroup") != 0)
		return 0;
	for (const char *p = h->controllers; *p;) {
		const char *end = strchrnul(p, ',');
		if (!list_has(mi->super, p, (size_t)(end - p)))
			return 0;
		p = *end ? end + 1 : end;
	}
	const char *slash = strrchr(mi->mountpoint, '/');
	if (!h->base[0])
		snprintf(h->base, sizeof(h->base), "%s", slash ? slash + 1 : mi->mountpoint);
	/* The host directory of our cgroup, when this mount shows it; else look further. Inside
	 * a cgroup namespace mountinfo says "/.." for a root above ours: only the name is
	 * usable then. */
	size_t rl = strlen(mi->root);
	const char *rel = h->path;
	if (strcmp(mi->root, "/") != 0) {
		if (strncmp(h->path, mi->root, rl) != 0 || (h->path[rl] && h->path[rl] != '/'))
			return 0;
		rel = h->path + rl;
	}
	snprintf(h->base, sizeof(h->base), "%s", slash ? slash + 1 : mi->mountpoint);
	snprintf(h->source, sizeof(h->source), "%s%s", mi->mountpoint,
		 strcmp(rel, "/") == 0 ? "" : rel);
	return 1;
}

/* Mounts one v1 hierarchy at <m->destination>/<base>: the host directory of our cgroup bound
 * read-only, or with a cgroup namespace a fresh cgroup mount that shows the namespace root. */
static int mount_hierarchy(struct rootfs_ctx *c, const struct keel_spec_mount *m,
			   const struct cg_hier *h, keel_error_t *err)
{
	char dest[PATH_MAX];
	snprintf(dest, sizeof(dest), "%s/%s", m->destination, h->base);
	struct keel_spec_mount sub = *m;
	sub.destination = dest;
	if (c->cgroupns) {
		cleanup_close int fd = open_dest(c->rootfd, dest, LEAF_DIR);
		if (fd < 0)
			return keel_err_sys(err, "create %s", dest);
		unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (m->flags & MS_RDONLY);
		if (mount("cgroup", fdpath(fd).s, "cgroup", flags, h->controllers) < 0)
			return keel_err_sys(err, "mount cgroup %s", h->controllers);
		return finish_mount(c, &sub, flags, false, err);
	}
	if (!h->source[0])
		return keel_err(err, ENOENT, "cgroup %s: our cgroup %s is not under its mount",
				h->controllers, h->path);
	if (bind_onto(c, h->source, dest, true, err) < 0)
		return -1;
	return finish_mount(c, &sub, attr_flags(m), true, err);
}

/* Comounted controllers ("cpu,cpuacct") also get a symlink per name, as on the host. */
static void link_comounted(int dirfd, const struct cg_hier *h)
{
	if (!strchr(h->base, ','))
		return;
	char names[sizeof(h->base)];
	snprintf(names, sizeof(names), "%s", h->base);
	char *save = NULL;
	for (char *n = strtok_r(names, ",", &save); n; n = strtok_r(NULL, ",", &save))
		(void)symlinkat(h->base, dirfd, n);
}

/* cgroup v1: a tmpfs at the destination with one entry per hierarchy we are in. */
static int mount_cgroup_v1(struct rootfs_ctx *c, const struct keel_spec_mount *m, keel_error_t *err)
{
	struct keel_spec_mount root = *m;
	root.type = "tmpfs";
	root.source = "tmpfs";
	root.data = "mode=755";
	root.flags = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	root.propagation = 0;
	root.options = NULL;
	if (mount_generic(c, &root, err) < 0)
		return -1;

	cleanup_free char *buf = NULL;
	if (keel_read_file("/proc/self/cgroup", &buf, err) < 0)
		return -1;
	cleanup_close int dirfd = reopen_dest(c, m->destination, err);
	if (dirfd < 0)
		return -1;
	struct mount_table t;
	if (mount_table_load(&t, err) < 0)
		return -1;
	int ret = 0;
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *ctrl = strchr(line, ':'), *path = ctrl ? strchr(ctrl + 1, ':') : NULL;
		if (!path || path == ctrl + 1)
			continue; /* the v2 "0::/..." line of a hybrid host */
		struct cg_hier h = {0};
		snprintf(h.controllers, sizeof(h.controllers), "%.*s", (int)(path - ctrl - 1),
			 ctrl + 1);
		/* The init may not have joined its cgroups yet (the create process moves it
		 * there while it mounts): the hierarchies come from /proc/self/cgroup, the path
		 * from the caller. */
		snprintf(h.path, sizeof(h.path), "%s", c->cgroup_path ? c->cgroup_path : path + 1);
		mount_table_each(&t, match_hierarchy, &h);
		if (!h.base[0])
			continue; /* hierarchy not mounted on the host */
		if ((ret = mount_hierarchy(c, m, &h, err)) < 0)
			break;
		link_comounted(dirfd, &h);
	}
	mount_table_free(&t);
	if (ret == 0 && m->flags & MS_RDONLY &&
	    remount_bind_fd(dirfd, MS_RDONLY | root.flags, 0) < 0)
		return keel_err_sys(err, "remount read-only");
	return ret;
}

/* cgroup v2: a cgroup2 mount; where the kernel refuses it (user namespace without cgroup
 * namespace) bind our own cgroup directory instead. */
static int mount_cgroup_v2(struct rootfs_ctx *c, const struct keel_spec_mount *m, keel_error_t *err)
{
	struct keel_spec_mount v2 = *m;
	v2.type = "cgroup2";
	v2.source = "cgroup2";
	v2.data = NULL;
	if (mount_fs_at(c, &v2, "cgroup2", attr_flags(m), NULL, true, err) == 0)
		return finish_mount(c, m, attr_flags(m), false, err);
	if (err->errnum != EPERM && err->errnum != EBUSY)
		return -1;
	cleanup_free char *buf = NULL;
	char src[PATH_MAX];
	if (c->cgroup_path) {
		snprintf(src, sizeof(src), "/sys/fs/cgroup%s", c->cgroup_path);
	} else {
		if (keel_read_file("/proc/self/cgroup", &buf, err) < 0)
			return -1;
		char *line = strstr(buf, "0::");
		if (!line)
			return keel_err(err, ENOENT, "no cgroup v2 path in /proc/self/cgroup");
		snprintf(src, sizeof(src), "/sys/fs/cgroup%.*s", (int)strcspn(line + 3, "\n"),
			 line + 3);
	}
	keel_err_clear(err);
	if (bind_onto(c, src, m->destination, true, err) < 0)
		return -1;
	return finish_mount(c, m, attr_flags(m), true, err);
}

static int mount_cgroup(struct rootfs_ctx *c, const struct keel_spec_mount *m, keel_error_t *err)
{
	struct statfs sf;
	if (statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
		return mount_cgroup_v2(c, m, err);
	return mount_cgroup_v1(c, m, err);
}

/* ---------- dispatch ---------- */

typedef int (*mount_fn)(struct rootfs_ctx *c, const struct keel_spec_mount *m, keel_error_t *err);

static const struct {
	const char *type;
	mount_fn fn;
} mount_kinds[] = {
    {"proc", mount_kernfs},
    {"sysfs", mount_kernfs},
    {"tmpfs", mount_tmpfs},
    {"cgroup", mount_cgroup},
};

static bool is_bind(const struct keel_spec_mount *m)
{
	return m->bind || m->recursive || !m->type || strcmp(m->type, "bind") == 0 ||
	       strcmp(m->type, "rbind") == 0;
}

static const char *type_name(const struct keel_spec_mount *m)
{
	return is_bind(m) ? "bind" : m->type;
}

static int mount_one(struct rootfs_ctx *c, const struct keel_spec_mount *m, keel_error_t *err)
{
	if (!m->destination || m->destination[0] != '/')
		return keel_err(err, EINVAL, "destination must be absolute");
	if (is_bind(m))
		return mount_bind(c, m, err);
	for (size_t i = 0; i < sizeof(mount_kinds) / sizeof(mount_kinds[0]); i++)
		if (strcmp(m->type, mount_kinds[i].type) == 0)
			return mount_kinds[i].fn(c, m, err);
	return mount_generic(c, m, err);
}

/* ---------- /dev ---------- */

static const struct {
	const char *path;
	unsigned major, minor;
} default_devices[] = {
    {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},	   {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

/* Binds the host's node of the same path onto an empty file: what is left when mknod is not
 * allowed (user namespaces). */
static int bind_device(int parent, const char *name, const char *host_path)
{
	int fd = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0000);
	if (fd >= 0)
		close(fd);
	else if (errno != EEXIST)
		return -1;
	cleanup_close int target = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (target < 0)
		return -1;
	return mount(host_path, fdpath(target).s, NULL, MS_BIND, NULL);
}

static int create_device(struct rootfs_ctx *c, const struct keel_spec_device *d, keel_error_t *err)
{
	char dir[PATH_MAX];
	clean_path(d->path, dir, sizeof(dir));
	char *slash = strrchr(dir, '/');
	char name[NAME_MAX + 1];
	if (!slash || !slash[1] || strlen(slash + 1) > NAME_MAX)
		return keel_err(err, EINVAL, "device %s: bad path", d->path);
	snprintf(name, sizeof(name), "%s", slash + 1);
	*(slash == dir ? slash + 1 : slash) = '\0';
	cleanup_close int parent = open_dest(c->rootfd, dir, LEAF_DIR);
	if (parent < 0)
		return keel_err_sys(err, "device %s: create %s", d->path, dir);

	mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
	mode_t perm = d->has_mode ? d->mode & 07777 : 0666;
	dev_t dev = d->type == 'p' ? 0 : makedev((unsigned)d->major, (unsigned)d->minor);
	/* In a user namespace mknod of a device is always EPERM; a fifo is fine. */
	if (c->userns && type != S_IFIFO) {
		if (bind_device(parent, name, d->path) < 0)
			return keel_err_sys(err, "device %s: bind host node", d->path);
		return 0;
	}
	if (mknodat(parent, name, type | perm, dev) < 0) {
		if (errno == EEXIST)
			return 0; /* linux.devices came first and win over the defaults */
		if (errno == EPERM && type != S_IFIFO && bind_device(parent, name, d->path) == 0)
			return 0;
		return keel_err_sys(err, "device %s: mknod", d->path);
	}
	/* mknod applied our umask; chown before chmod since chown clears set-id bits */
	if (fchownat(parent, name, d->has_uid ? d->uid : 0, d->has_gid ? d->gid : 0,
		     AT_SYMLINK_NOFOLLOW) < 0 ||
	    fchmodat(parent, name, perm, 0) < 0)
		return keel_err_sys(err, "device %s: set owner and mode", d->path);
	return 0;
}

static int create_dev_links(struct rootfs_ctx *c, bool ptmx, keel_error_t *err)
{
	static const char *const links[][2] = {
	    {"/proc/self/fd", "fd"},	   {"/proc/self/fd/0", "stdin"},
	    {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
	    {"/proc/kcore", "core"},
	};
	cleanup_close int dev = open_in_root(c->rootfd, "/dev", O_PATH | O_DIRECTORY);
	if (dev < 0)
		return keel_err_sys(err, "open /dev");
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (strcmp(links[i][1], "core") == 0 && access("/proc/kcore", F_OK) < 0)
			continue;
		if (symlinkat(links[i][0], dev, links[i][1]) < 0 && errno != EEXIST)
			return keel_err_sys(err, "symlink /dev/%s", links[i][1]);
	}
	if (!ptmx)
		return 0;
	/* the devpts instance's own ptmx, not the host's /dev/ptmx */
	if (unlinkat(dev, "ptmx", 0) < 0 && errno != ENOENT)
		return keel_err_sys(err, "remove /dev/ptmx");
	if (symlinkat("pts/ptmx", dev, "ptmx") < 0)
		return keel_err_sys(err, "symlink /dev/ptmx");
	return 0;
}

static const struct keel_spec_mount *find_mount(const struct keel_spec *spec, const char *dest)
{
	for (size_t i = spec->n_mounts; i-- > 0;)
		if (path_is(spec->mounts[i].destination, dest))
			return &spec->mounts[i];
	return NULL;
}

/* A bind-mounted /dev is the user's own: keel touches nothing in it (as runc). Without a
 * /dev mount only linux.devices are made; a fresh /dev (tmpfs) gets the defaults too. */
static int setup_dev(struct rootfs_ctx *c, keel_error_t *err)
{
	const struct keel_spec_mount *devm = find_mount(c->spec, "/dev");
	if (devm && is_bind(devm))
		return 0;
	for (size_t i = 0; i < c->spec->linux.n_devices; i++)
		if (create_device(c, &c->spec->linux.devices[i], err) < 0)
			return -1;
	if (!devm)
		return 0;
	for (size_t i = 0; i < sizeof(default_devices) / sizeof(default_devices[0]); i++) {
		struct keel_spec_device d = {
		    .path = (char *)default_devices[i].path,
		    .type = 'c',
		    .major = default_devices[i].major,
		    .minor = default_devices[i].minor,
		};
		if (create_device(c, &d, err) < 0)
			return -1;
	}
	const struct keel_spec_mount *pts = find_mount(c->spec, "/dev/pts");
	return create_dev_links(c, pts && pts->type && strcmp(pts->type, "devpts") == 0, err);
}

/* ---------- public ---------- */

static bool has_ns(const struct keel_spec *spec, enum keel_ns_type type)
{
	for (size_t i = 0; i < spec->linux.n_namespaces; i++)
		if (spec->linux.namespaces[i].type == type)
			return true;
	return false;
}

bool keel_rootfs_has_dev_mount(const struct keel_spec *spec)
{
	return find_mount(spec, "/dev") != NULL;
}

int keel_rootfs_prepare(const struct keel_spec *spec, const char *rootfs, const char *cgroup_path,
			keel_error_t *err)
{
	keel_error_t local;
	if (!err)
		err = &local; /* the mount code reads err->errnum to pick fallbacks */
	unsigned long prop =
	    spec->linux.rootfs_propagation ? spec->linux.rootfs_propagation : MS_SLAVE | MS_REC;
	if (mount(NULL, "/", NULL, prop, NULL) < 0)
		return keel_err_sys(err, "set propagation of /");
	if (make_parent_private(rootfs, err) < 0)
		return -1;
	if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return keel_err_sys(err, "bind rootfs %s onto itself", rootfs);

	struct rootfs_ctx c = {
	    .spec = spec,
	    .userns = has_ns(spec, KEEL_NS_USER),
	    .cgroupns = has_ns(spec, KEEL_NS_CGROUP),
	    .cgroup_path = cgroup_path,
	};
	/* opened after the self-bind, so mounts land on the new mount, not under it */
	cleanup_close int rootfd = c.rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return keel_err_sys(err, "open rootfs %s", rootfs);
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct keel_spec_mount *m = &spec->mounts[i];
		if (mount_one(&c, m, err) < 0)
			return keel_err_wrap(err, "mount #%zu (%s on %s)", i, type_name(m),
					     m->destination ? m->destination : "?");
	}
	if (setup_dev(&c, err) < 0)
		return keel_err_wrap(err, "/dev");
	return 0;
}

int keel_rootfs_pivot(const char *rootfs, keel_error_t *err)
{
	cleanup_close int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (oldroot < 0)
		return keel_err_sys(err, "open /");
	cleanup_close int newroot = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (newroot < 0)
		return keel_err_sys(err, "open rootfs %s", rootfs);
	if (fchdir(newroot) < 0)
		return keel_err_sys(err, "chdir %s", rootfs);
	/* pivot_root(".", "."): the old root ends up stacked on top of the new one, which
	 * spares us a directory for it inside the container. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return keel_err_sys(err, "pivot_root");
	if (fchdir(oldroot) < 0)
		return keel_err_sys(err, "chdir old root");
	/* rslave first: detaching a shared old root would propagate the unmount to the host */
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
		return keel_err_sys(err, "make old root rslave");
	if (umount2(".", MNT_DETACH) < 0)
		return keel_err_sys(err, "detach old root");
	if (chdir("/") < 0)
		return keel_err_sys(err, "chdir /");
	return 0;
}

/* After pivot "/" is the container, so the fd trick needs the container's own /proc; a
 * rootfs without a procfs there gets plain paths (nothing outside is reachable any more). */
struct final_ctx {
	int rootfd;
	bool procfd;
};

static const char *target_of(const struct final_ctx *f, int fd, const char *path,
			     struct fdpath *buf)
{
	if (!f->procfd)
		return path;
	*buf = fdpath(fd);
	return buf->s;
}

static int mask_path(const struct final_ctx *f, const char *path, keel_error_t *err)
{
	cleanup_close int fd = open_in_root(f->rootfd, path, O_PATH);
	if (fd < 0)
		return errno == ENOENT ? 0 : keel_err_sys(err, "masked path %s", path);
	struct stat st;
	struct fdpath buf;
	if (fstat(fd, &st) < 0)
		return keel_err_sys(err, "masked path %s", path);
	const char *target = target_of(f, fd, path, &buf);
	int r = S_ISDIR(st.st_mode) ? mount("tmpfs", target, "tmpfs", MS_RDONLY, NULL)
				    : mount("/dev/null", target, NULL, MS_BIND, NULL);
	if (r < 0)
		return keel_err_sys(err, "masked path %s", path);
	return 0;
}

static int readonly_path(const struct final_ctx *f, const char *path, keel_error_t *err)
{
	cleanup_close int fd = open_in_root(f->rootfd, path, O_PATH);
	if (fd < 0)
		return errno == ENOENT ? 0 : keel_err_sys(err, "readonly path %s", path);
	struct fdpath buf;
	const char *target = target_of(f, fd, path, &buf);
	if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0)
		return keel_err_sys(err, "readonly path %s: bind", path);
	cleanup_close int top = open_in_root(f->rootfd, path, O_PATH);
	if (top < 0 || remount_bind(target_of(f, top, path, &buf), top, MS_RDONLY, 0) < 0)
		return keel_err_sys(err, "readonly path %s: remount", path);
	/* MS_REMOUNT is never recursive: submounts need mount_setattr */
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	if (mount_setattr(top, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0 &&
	    errno != ENOSYS)
		return keel_err_sys(err, "readonly path %s: mount_setattr", path);
	return 0;
}

static int remount_ro(const struct final_ctx *f, const char *path, keel_error_t *err)
{
	struct fdpath buf;
	cleanup_close int fd = open_in_root(f->rootfd, path, O_PATH);
	if (fd < 0 || remount_bind(target_of(f, fd, path, &buf), fd, MS_RDONLY, 0) < 0)
		return keel_err_sys(err, "remount %s read-only", path);
	return 0;
}

int keel_rootfs_finalize(const struct keel_spec *spec, keel_error_t *err)
{
	struct statfs sf;
	struct final_ctx f = {.procfd = statfs("/proc/self/fd", &sf) == 0 &&
					sf.f_type == PROC_SUPER_MAGIC};
	cleanup_close int rootfd = f.rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return keel_err_sys(err, "open /");
	for (char **p = spec->linux.masked_paths; p && *p; p++)
		if (mask_path(&f, *p, err) < 0)
			return -1;
	for (char **p = spec->linux.readonly_paths; p && *p; p++)
		if (readonly_path(&f, *p, err) < 0)
			return -1;
	const struct keel_spec_mount *devm = find_mount(spec, "/dev");
	if (devm && devm->flags & MS_RDONLY && remount_ro(&f, "/dev", err) < 0)
		return -1;
	if (spec->root_readonly && remount_ro(&f, "/", err) < 0)
		return -1;
	/* Applied to the container's "/" now that it is "/": done in prepare it would have
	 * reached the host's root mount. MS_PRIVATE was taken care of by prepare. */
	unsigned long prop = spec->linux.rootfs_propagation;
	if (prop && !(prop & MS_PRIVATE) && mount(NULL, "/", NULL, prop, NULL) < 0)
		return keel_err_sys(err, "set rootfs propagation");
	return 0;
}
