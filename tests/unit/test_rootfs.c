/* keel_rootfs_*: each case builds a small rootfs (a copy of the static busybox) in a temp dir,
 * forks a child that enters a new mount namespace and runs prepare -> pivot -> finalize, and
 * checks from inside. The child reports a failed check as text over a pipe; the mounts die
 * with its namespace. Needs root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/rootfs.h"
#include "util/fs.h"

struct fx {
	char dir[PATH_MAX];    /* the bundle: the child's cwd */
	char rootfs[PATH_MAX]; /* dir/rootfs */
	char host[PATH_MAX];   /* a host directory an escaping mount would hit */
	struct keel_spec spec;
	struct keel_spec_mount mounts[16];
	int out; /* child: the report pipe */
};

/* ---------- child-side reporting ---------- */

#define CHECK(fx, cond, ...)                                                                       \
	do {                                                                                       \
		if (!(cond))                                                                       \
			child_fail(fx, __LINE__, #cond, __VA_ARGS__);                              \
	} while (0)

__attribute__((format(printf, 4, 5), noreturn)) static void
child_fail(struct fx *fx, int line, const char *cond, const char *fmt, ...)
{
	int e = errno;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	dprintf(fx->out, "line %d: %s failed: %s (errno: %s)", line, cond, msg, strerror(e));
	_exit(1);
}

/* ---------- fixture ---------- */

static void put(const char *dir, const char *rel, const char *content, mode_t mode)
{
	char path[PATH_MAX];
	keel_error_t err;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	assert_int_equal(keel_mkdir_p(path, 0755, &err), 0);
	*slash = '/';
	if (content)
		assert_int_equal(keel_write_file(path, content, strlen(content), mode, &err), 0);
	else
		assert_int_equal(keel_mkdir_p(path, mode, &err), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void copy_busybox(const char *rootfs)
{
	char *buf = NULL;
	keel_error_t err;
	char dst[PATH_MAX];
	ssize_t n = keel_read_file("/bin/busybox", &buf, &err);
	assert_true(n > 0);
	put(rootfs, "bin", NULL, 0755);
	snprintf(dst, sizeof(dst), "%s/bin/busybox", rootfs);
	assert_int_equal(keel_write_file(dst, buf, (size_t)n, 0755, &err), 0);
	free(buf);
	snprintf(dst, sizeof(dst), "%s/bin/sh", rootfs);
	assert_int_equal(symlink("busybox", dst), 0);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/keel-rootfs-test-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->host, sizeof(fx->host), "/tmp/keel-rootfs-host-XXXXXX");
	assert_non_null(mkdtemp(fx->host));
	put(fx->host, "marker", "host\n", 0644);
	snprintf(fx->rootfs, sizeof(fx->rootfs), "%s/rootfs", fx->dir);
	static const char *const dirs[] = {"proc", "sys", "dev", "tmp", "etc", "mnt"};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
		put(fx->rootfs, dirs[i], NULL, 0755);
	copy_busybox(fx->rootfs);
	put(fx->dir, "data/f", "data\n", 0644);
	put(fx->dir, "data/sub", NULL, 0755);
	put(fx->dir, "hostfile", "host file\n", 0644);
	fx->spec.mounts = fx->mounts;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	keel_error_t err;
	keel_rm_rf(fx->dir, &err);
	keel_rm_rf(fx->host, &err);
	free(fx);
	return 0;
}

static struct keel_spec_mount *add_mount(struct fx *fx, const char *dest, const char *type,
					 const char *source, unsigned long flags, const char *data)
{
	struct keel_spec_mount *m = &fx->mounts[fx->spec.n_mounts++];
	memset(m, 0, sizeof(*m));
	m->destination = (char *)dest;
	m->type = (char *)type;
	m->source = (char *)source;
	m->flags = flags;
	m->data = (char *)(data ? data : "");
	if (type && strcmp(type, "bind") == 0)
		m->bind = true;
	return m;
}

/* ---------- running a case ---------- */

typedef void (*check_fn)(struct fx *fx);

struct run {
	bool userns;	 /* the child is already in new user/mount/pid/... namespaces */
	check_fn before; /* in the child's namespace, before prepare */
	check_fn middle; /* after prepare, before pivot (the host is still visible) */
	check_fn inside; /* after finalize */
};

static void child(struct fx *fx, const struct run *run)
{
	keel_error_t err = {0};
	/* a new UTS namespace too: a readonly-path bug must not let a check rename the host */
	CHECK(fx, run->userns || unshare(CLONE_NEWNS | CLONE_NEWUTS) == 0, "unshare");
	/* our own test mounts (before) must not reach the host either */
	CHECK(fx, mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) == 0, "rslave /");
	CHECK(fx, chdir(fx->dir) == 0, "chdir bundle");
	if (run->before)
		run->before(fx);
	if (keel_rootfs_prepare(&fx->spec, fx->rootfs, NULL, &err) < 0)
		child_fail(fx, __LINE__, "prepare", "%s", err.msg);
	if (run->middle)
		run->middle(fx);
	if (keel_rootfs_pivot(fx->rootfs, &err) < 0)
		child_fail(fx, __LINE__, "pivot", "%s", err.msg);
	if (keel_rootfs_finalize(&fx->spec, &err) < 0)
		child_fail(fx, __LINE__, "finalize", "%s", err.msg);
	if (run->inside)
		run->inside(fx);
	_exit(0);
}

/* Forks the child; returns what it wrote and its exit status. */
static int fork_child_with(struct fx *fx, void (*fn)(struct fx *, const void *), const void *arg,
			   void (*parent)(pid_t pid, const void *arg), char *msg, size_t size)
{
	int p[2];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		fx->out = p[1];
		fn(fx, arg);
		_exit(0);
	}
	close(p[1]);
	if (parent)
		parent(pid, arg);
	size_t len = 0;
	ssize_t n;
	while (len + 1 < size && (n = read(p[0], msg + len, size - len - 1)) > 0)
		len += (size_t)n;
	msg[len] = '\0';
	close(p[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int fork_child(struct fx *fx, void (*fn)(struct fx *, const void *), const void *arg,
		      char *msg, size_t size)
{
	return fork_child_with(fx, fn, arg, NULL, msg, size);
}

static void child_run(struct fx *fx, const void *arg)
{
	child(fx, arg);
}

static void run_case(struct fx *fx, const struct run *run)
{
	char msg[1024];
	int status = fork_child(fx, child_run, run, msg, sizeof(msg));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed (status %#x): %s", status, msg);
}

static void child_prepare_only(struct fx *fx, const void *arg)
{
	keel_error_t err = {0};
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) < 0 ||
	    chdir(fx->dir) < 0)
		_exit(2);
	if (keel_rootfs_prepare(&fx->spec, fx->rootfs, NULL, &err) == 0)
		_exit(1);
	dprintf(fx->out, "%s", err.msg);
	_exit(0);
}

/* Runs prepare in a child and asserts it fails with a message containing each of `want`. */
static void expect_prepare_error(struct fx *fx, const char *want1, const char *want2)
{
	char msg[1024];
	int status = fork_child(fx, child_prepare_only, NULL, msg, sizeof(msg));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("prepare did not fail as expected (status %#x)", status);
	if (!strstr(msg, want1) || (want2 && !strstr(msg, want2)))
		fail_msg("error \"%s\" lacks \"%s\" / \"%s\"", msg, want1, want2 ? want2 : "");
}

/* ---------- inside-the-container helpers ---------- */

/* The fstype of the topmost mount at mountpoint, or "" if none. */
static void fstype_at(struct fx *fx, const char *mountpoint, char *out, size_t size, char *root,
		      size_t rsize)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	CHECK(fx, f != NULL, "open mountinfo");
	out[0] = '\0';
	if (root)
		root[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		char r[PATH_MAX], mp[PATH_MAX], fstype[64];
		const char *sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*d %*d %*s %4095s %4095s", r, mp) != 2 ||
		    sscanf(sep + 3, "%63s", fstype) != 1)
			continue;
		if (strcmp(mp, mountpoint) == 0) {
			snprintf(out, size, "%s", fstype);
			if (root)
				snprintf(root, rsize, "%s", r);
		}
	}
	fclose(f);
}

static void expect_fstype(struct fx *fx, const char *mountpoint, const char *want)
{
	char got[64];
	fstype_at(fx, mountpoint, got, sizeof(got), NULL, 0);
	CHECK(fx, strcmp(got, want) == 0, "%s is \"%s\", want %s", mountpoint, got, want);
}

static bool is_ro(const char *path)
{
	struct statvfs st;
	return statvfs(path, &st) == 0 && (st.f_flag & ST_RDONLY);
}

static void expect_content(struct fx *fx, const char *path, const char *want)
{
	char buf[256] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fx, fd >= 0, "open %s", path);
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	CHECK(fx, n >= 0, "read %s", path);
	buf[n] = '\0';
	CHECK(fx, strcmp(buf, want) == 0, "%s holds \"%s\", want \"%s\"", path, buf, want);
}

/* Creating a file at path fails with EROFS. */
static void expect_erofs(struct fx *fx, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd >= 0)
		close(fd);
	CHECK(fx, fd < 0 && errno == EROFS, "%s is writable", path);
}

static void expect_writable(struct fx *fx, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	CHECK(fx, fd >= 0, "%s not writable", path);
	close(fd);
}

static void expect_device(struct fx *fx, const char *path, mode_t type, unsigned maj, unsigned min,
			  mode_t mode, uid_t uid, gid_t gid)
{
	struct stat st;
	CHECK(fx, lstat(path, &st) == 0, "stat %s", path);
	CHECK(fx, (st.st_mode & S_IFMT) == type, "%s type %o", path, st.st_mode & S_IFMT);
	CHECK(fx, major(st.st_rdev) == maj && minor(st.st_rdev) == min, "%s is %u:%u", path,
	      major(st.st_rdev), minor(st.st_rdev));
	CHECK(fx, (st.st_mode & 07777) == mode, "%s mode %o", path, st.st_mode & 07777);
	CHECK(fx, st.st_uid == uid && st.st_gid == gid, "%s owner %u:%u", path, st.st_uid,
	      st.st_gid);
}

static void expect_link(struct fx *fx, const char *path, const char *want)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	CHECK(fx, n >= 0, "readlink %s", path);
	buf[n] = '\0';
	CHECK(fx, strcmp(buf, want) == 0, "%s -> %s, want %s", path, buf, want);
}

static bool host_has_kcore;

/* ---------- the default spec (runc spec) ---------- */

static const unsigned long NSE = MS_NOSUID | MS_NOEXEC | MS_NODEV;

static struct keel_spec_device tun = {
    .path = (char *)"/dev/net/tun",
    .type = 'c',
    .major = 10,
    .minor = 200,
    .has_mode = true,
    .mode = 0620,
    .has_uid = true,
    .uid = 1,
    .has_gid = true,
    .gid = 2,
};

static char *default_masked[] = {
    (char *)"/proc/acpi",	 (char *)"/proc/kcore",
    (char *)"/proc/keys",	 (char *)"/proc/timer_list",
    (char *)"/proc/sched_debug", (char *)"/sys/firmware",
    (char *)"/proc/scsi",	 NULL,
};
static char *default_readonly[] = {
    (char *)"/proc/asound",
    (char *)"/proc/bus",
    (char *)"/proc/fs",
    (char *)"/proc/irq",
    (char *)"/proc/sys",
    (char *)"/proc/sysrq-trigger",
    NULL,
};

static void default_spec(struct fx *fx)
{
	add_mount(fx, "/proc", "proc", "proc", 0, NULL);
	add_mount(fx, "/dev", "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k");
	add_mount(fx, "/dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620,gid=5");
	add_mount(fx, "/dev/shm", "tmpfs", "shm", NSE, "mode=1777,size=65536k");
	add_mount(fx, "/dev/mqueue", "mqueue", "mqueue", NSE, NULL);
	add_mount(fx, "/sys", "sysfs", "sysfs", NSE | MS_RDONLY, NULL);
	add_mount(fx, "/sys/fs/cgroup", "cgroup", "cgroup", NSE | MS_RELATIME | MS_RDONLY, NULL);
	fx->spec.linux.devices = &tun;
	fx->spec.linux.n_devices = 1;
	fx->spec.linux.masked_paths = default_masked;
	fx->spec.linux.readonly_paths = default_readonly;
}

static void inside_default(struct fx *fx)
{
	struct stat st;
	/* pivot: the busybox rootfs, not the host */
	CHECK(fx, stat("/bin/busybox", &st) == 0, "busybox in rootfs");
	CHECK(fx, access("/etc/debian_version", F_OK) < 0, "host root still visible");
	CHECK(fx, access("/proc/self/fd", F_OK) == 0, "/proc");

	expect_fstype(fx, "/proc", "proc");
	expect_fstype(fx, "/dev", "tmpfs");
	expect_fstype(fx, "/dev/pts", "devpts");
	expect_fstype(fx, "/dev/shm", "tmpfs");
	expect_fstype(fx, "/dev/mqueue", "mqueue");
	expect_fstype(fx, "/sys", "sysfs");
	expect_fstype(fx, "/sys/fs/cgroup", "tmpfs");
	CHECK(fx, is_ro("/sys"), "/sys is rw");
	CHECK(fx, mkdir("/sys/keel-test", 0755) < 0 && errno == EROFS, "mkdir in /sys");
	CHECK(fx, !is_ro("/dev") && !is_ro("/dev/shm"), "/dev ro");
	expect_writable(fx, "/dev/shm/x");

	/* devices */
	expect_device(fx, "/dev/null", S_IFCHR, 1, 3, 0666, 0, 0);
	expect_device(fx, "/dev/zero", S_IFCHR, 1, 5, 0666, 0, 0);
	expect_device(fx, "/dev/full", S_IFCHR, 1, 7, 0666, 0, 0);
	expect_device(fx, "/dev/random", S_IFCHR, 1, 8, 0666, 0, 0);
	expect_device(fx, "/dev/urandom", S_IFCHR, 1, 9, 0666, 0, 0);
	expect_device(fx, "/dev/tty", S_IFCHR, 5, 0, 0666, 0, 0);
	expect_device(fx, "/dev/net/tun", S_IFCHR, 10, 200, 0620, 1, 2);
	expect_link(fx, "/dev/fd", "/proc/self/fd");
	expect_link(fx, "/dev/stdin", "/proc/self/fd/0");
	expect_link(fx, "/dev/stdout", "/proc/self/fd/1");
	expect_link(fx, "/dev/stderr", "/proc/self/fd/2");
	expect_link(fx, "/dev/ptmx", "pts/ptmx");
	if (host_has_kcore)
		expect_link(fx, "/dev/core", "/proc/kcore");
	int ptmx = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	CHECK(fx, ptmx >= 0, "open /dev/ptmx");
	CHECK(fx, unlockpt(ptmx) == 0 && strncmp(ptsname(ptmx), "/dev/pts/", 9) == 0, "pty");
	close(ptmx);
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	CHECK(fx, null >= 0 && write(null, "x", 1) == 1, "write /dev/null");
	close(null);

	/* cgroup v1: a ro bind of our own cgroup per hierarchy */
	char fstype[64], root[PATH_MAX];
	fstype_at(fx, "/sys/fs/cgroup/memory", fstype, sizeof(fstype), root, sizeof(root));
	CHECK(fx, strcmp(fstype, "cgroup") == 0, "memory hierarchy is \"%s\"", fstype);
	CHECK(fx, is_ro("/sys/fs/cgroup/memory") && is_ro("/sys/fs/cgroup"), "cgroup rw");
	char *self = NULL;
	keel_error_t err;
	CHECK(fx, keel_read_file("/proc/self/cgroup", &self, &err) >= 0, "read cgroup");
	char *mem = strstr(self, ":memory:");
	CHECK(fx, mem != NULL, "no memory line");
	mem += strlen(":memory:");
	mem[strcspn(mem, "\n")] = '\0';
	CHECK(fx, strcmp(root, mem) == 0, "memory bind root %s, our cgroup %s", root, mem);
	free(self);
	CHECK(fx, access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0, "knob");
	CHECK(fx, access("/sys/fs/cgroup/cpu", F_OK) == 0, "cpu hierarchy");

	/* masked and readonly paths */
	/* (this kernel has no /proc/kcore; /proc/keys is masked too) */
	if (access("/proc/kcore", F_OK) == 0)
		expect_content(fx, "/proc/kcore", "");
	expect_content(fx, "/proc/keys", "");
	CHECK(fx, access("/sys/firmware", F_OK) < 0 || is_ro("/sys/firmware"), "firmware");
	CHECK(fx, open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC) < 0 && errno == EROFS,
	      "/proc/sys writable");
	CHECK(fx, !is_ro("/"), "/ ro without root.readonly");
}

static void test_default_spec(void **state)
{
	struct fx *fx = *state;
	host_has_kcore = access("/proc/kcore", F_OK) == 0;
	default_spec(fx);
	run_case(fx, &(struct run){.inside = inside_default});
}

/* ---------- bind mounts ---------- */

static void before_bind(struct fx *fx)
{
	/* a submount in the bind source, to tell "ro" from "rro" */
	CHECK(fx, mount("tmpfs", "data/sub", "tmpfs", 0, NULL) == 0, "tmpfs on data/sub");
}

static void inside_bind(struct fx *fx)
{
	expect_content(fx, "/mnt/ro/f", "data\n");
	expect_erofs(fx, "/mnt/ro/new");
	/* MS_REMOUNT is not recursive: the submount stays writable (kernel and runc alike) */
	expect_writable(fx, "/mnt/ro/sub/x");
	expect_erofs(fx, "/mnt/rro/new");
	expect_erofs(fx, "/mnt/rro/sub/y");
	expect_content(fx, "/mnt/rw/f", "data\n");
	expect_writable(fx, "/mnt/rw/new-rw");
	/* a file source gets an empty file created as its mount point */
	expect_content(fx, "/etc/hostfile", "host file\n");
	expect_erofs(fx, "/etc/hostfile");
	struct statvfs st;
	CHECK(fx,
	      statvfs("/mnt/ro", &st) == 0 && (st.f_flag & ST_NOEXEC) && (st.f_flag & ST_NOSUID),
	      "flags of /mnt/ro");
}

static void test_bind(void **state)
{
	struct fx *fx = *state;
	static char *rro[] = {(char *)"rbind", (char *)"rro", NULL};
	add_mount(fx, "/proc", "proc", "proc", 0, NULL);
	add_mount(fx, "/mnt/ro", "bind", "data", MS_RDONLY | MS_NOEXEC | MS_NOSUID, NULL)
	    ->recursive = true;
	struct keel_spec_mount *m = add_mount(fx, "/mnt/rro", "bind", fx->dir, 0, NULL);
	m->source = (char *)"./data";
	m->recursive = true;
	m->options = rro;
	add_mount(fx, "/mnt/rw", NULL, "data", 0, NULL)->bind = true;
	add_mount(fx, "/etc/hostfile", "bind", "hostfile", MS_RDONLY, NULL);
	run_case(fx, &(struct run){.before = before_bind, .inside = inside_bind});

	/* the host side saw none of the writes that were refused or went to the rw bind */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/data/new", fx->dir);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/data/new-rw", fx->dir);
	assert_int_equal(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/rootfs/etc/hostfile", fx->dir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
}

/* ---------- masked, readonly, root.readonly ---------- */

static char *masked[] = {(char *)"/etc/secret", (char *)"/etc/secretdir", (char *)"/no/such", NULL};
static char *readonly[] = {(char *)"/etc/rodir", (char *)"/no/such/either", NULL};

static void inside_masked(struct fx *fx)
{
	expect_content(fx, "/etc/secret", "");
	DIR *d = opendir("/etc/secretdir");
	CHECK(fx, d != NULL, "opendir");
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(d);
	CHECK(fx, n == 0, "masked dir lists %d entries", n);
	CHECK(fx, access("/etc/secretdir/f", F_OK) < 0, "masked file visible");
	expect_erofs(fx, "/etc/secretdir/new");
	expect_content(fx, "/etc/rodir/f", "ro\n");
	CHECK(fx, open("/etc/rodir/f", O_WRONLY | O_CLOEXEC) < 0 && errno == EROFS, "rodir/f rw");
	if (fx->spec.root_readonly) {
		CHECK(fx, is_ro("/"), "/ rw");
		expect_erofs(fx, "/newfile");
	} else {
		/* the readonly path alone made /etc/rodir read-only */
		expect_writable(fx, "/etc/newfile");
	}
	expect_writable(fx, "/tmp/ok");
	CHECK(fx, is_ro("/dev"), "/dev rw despite ro in the spec");
	expect_device(fx, "/dev/null", S_IFCHR, 1, 3, 0666, 0, 0);
}

static void masked_case(struct fx *fx, bool with_proc)
{
	put(fx->rootfs, "etc/secret", "s3cret\n", 0600);
	put(fx->rootfs, "etc/secretdir/f", "s3cret\n", 0600);
	put(fx->rootfs, "etc/rodir/f", "ro\n", 0644);
	if (with_proc)
		add_mount(fx, "/proc", "proc", "proc", 0, NULL);
	add_mount(fx, "/dev", "tmpfs", "tmpfs", MS_NOSUID | MS_RDONLY, "mode=755");
	add_mount(fx, "/tmp", "tmpfs", "tmpfs", 0, NULL);
	fx->spec.linux.masked_paths = masked;
	fx->spec.linux.readonly_paths = readonly;
	fx->spec.root_readonly = with_proc;
	run_case(fx, &(struct run){.inside = inside_masked});
}

static void test_masked_readonly(void **state)
{
	masked_case(*state, true);
}

/* Without a /proc in the container finalize falls back to plain paths (and root stays rw
 * here, so the readonly path is seen on its own). */
static void test_masked_without_proc(void **state)
{
	masked_case(*state, false);
}

/* ---------- symlinks pointing out of the rootfs ---------- */

static struct stat host_before;

static void middle_escape(struct fx *fx)
{
	/* still in the host's view: the host dir is untouched, the rootfs one got the tmpfs */
	char inner[PATH_MAX], path[PATH_MAX];
	struct stat st;
	struct statfs sf;
	snprintf(inner, sizeof(inner), "%s%s", fx->rootfs, fx->host);
	CHECK(fx,
	      stat(fx->host, &st) == 0 && st.st_dev == host_before.st_dev &&
		  st.st_ino == host_before.st_ino,
	      "host dir was mounted over");
	snprintf(path, sizeof(path), "%s/marker", fx->host);
	CHECK(fx, access(path, F_OK) == 0, "host marker hidden");
	CHECK(fx, statfs(inner, &sf) == 0 && sf.f_type == TMPFS_MAGIC, "tmpfs not inside");
	snprintf(path, sizeof(path), "%s/sub", fx->host);
	CHECK(fx, access(path, F_OK) < 0, "dangling symlink created %s on the host", path);
}

static void inside_escape(struct fx *fx)
{
	char path[PATH_MAX];
	struct statfs sf;
	CHECK(fx, statfs(fx->host, &sf) == 0 && sf.f_type == TMPFS_MAGIC, "no tmpfs at %s",
	      fx->host);
	snprintf(path, sizeof(path), "%s/written-inside", fx->host);
	expect_writable(fx, path);
	snprintf(path, sizeof(path), "%s/sub/f", fx->host);
	expect_content(fx, path, "data\n");
	snprintf(path, sizeof(path), "%s/f", fx->host);
	expect_content(fx, path, "data\n");
}

static void test_symlink_escape(void **state)
{
	struct fx *fx = *state;
	char link[PATH_MAX], target[PATH_MAX + 32];
	/* /evil -> /../../../tmp/<host>: absolute and full of "..": must stay in the rootfs */
	put(fx->rootfs, fx->host + 1, NULL, 0755);
	snprintf(link, sizeof(link), "%s/evil", fx->rootfs);
	snprintf(target, sizeof(target), "/../../..%s", fx->host);
	assert_int_equal(symlink(target, link), 0);
	/* a relative dangling one: <host>/sub exists nowhere yet */
	snprintf(link, sizeof(link), "%s/etc/evil2", fx->rootfs);
	snprintf(target, sizeof(target), "../../../../../..%s/sub", fx->host);
	assert_int_equal(symlink(target, link), 0);
	/* a file destination through a symlink */
	snprintf(link, sizeof(link), "%s/evil3", fx->rootfs);
	snprintf(target, sizeof(target), "../..%s/f", fx->host);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(stat(fx->host, &host_before), 0);

	add_mount(fx, "/proc", "proc", "proc", 0, NULL);
	add_mount(fx, "/evil", "tmpfs", "tmpfs", 0, NULL);
	add_mount(fx, "/etc/evil2", "bind", "data", 0, NULL)->recursive = true;
	add_mount(fx, "/evil3", "bind", "data/f", 0, NULL);
	run_case(fx, &(struct run){.middle = middle_escape, .inside = inside_escape});

	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/written-inside", fx->host);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/sub", fx->host);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/f", fx->host);
	assert_int_equal(access(path, F_OK), -1);
	snprintf(path, sizeof(path), "%s/marker", fx->host);
	assert_int_equal(access(path, F_OK), 0);
}

/* ---------- errors ---------- */

static void test_proc_on_file(void **state)
{
	struct fx *fx = *state;
	put(fx->rootfs, "notadir", "x", 0644);
	add_mount(fx, "/tmp", "tmpfs", "tmpfs", 0, NULL);
	add_mount(fx, "/notadir", "proc", "proc", 0, NULL);
	expect_prepare_error(fx, "mount #1 (proc on /notadir): ", "not a directory");
}

static void test_unknown_fs(void **state)
{
	struct fx *fx = *state;
	add_mount(fx, "/x", "keelnosuchfs", "none", 0, NULL);
	expect_prepare_error(fx, "mount #0 (keelnosuchfs on /x): ", "no such device");
}

static void test_bind_missing_source(void **state)
{
	struct fx *fx = *state;
	add_mount(fx, "/x", "bind", "no-such-source", 0, NULL);
	expect_prepare_error(fx, "mount #0 (bind on /x): source no-such-source", "no such file");
}

/* Only the lxcfs-style files may be covered inside /proc. */
static void test_mount_over_proc(void **state)
{
	struct fx *fx = *state;
	add_mount(fx, "/proc", "proc", "proc", 0, NULL);
	add_mount(fx, "/proc/keys", "bind", "hostfile", 0, NULL);
	expect_prepare_error(fx, "mount #1 (bind on /proc/keys): ", "inside /proc");
}

static void test_tmpfs_over_proc(void **state)
{
	struct fx *fx = *state;
	add_mount(fx, "/proc", "proc", "proc", 0, NULL);
	add_mount(fx, "/proc/sys", "tmpfs", "tmpfs", 0, NULL);
	expect_prepare_error(fx, "mount #1 (tmpfs on /proc/sys): ", "inside /proc");
}

static void inside_proc_uptime(struct fx *fx)
{
	expect_content(fx, "/proc/uptime", "host file\n");
}

static void test_mount_over_proc_allowed(void **state)
{
	struct fx *fx = *state;
	add_mount(fx, "/proc", "proc", "proc", 0, NULL);
	add_mount(fx, "/proc/uptime", "bind", "hostfile", 0, NULL);
	run_case(fx, &(struct run){.inside = inside_proc_uptime});
}

/* ---------- tmpcopyup ---------- */

static void inside_copyup(struct fx *fx)
{
	struct statfs sf;
	struct stat st;
	CHECK(fx, statfs("/etc/copyme", &sf) == 0 && sf.f_type == TMPFS_MAGIC, "not a tmpfs");
	expect_content(fx, "/etc/copyme/a", "hello\n");
	CHECK(fx,
	      stat("/etc/copyme/a", &st) == 0 && (st.st_mode & 07777) == 0640 && st.st_uid == 12 &&
		  st.st_gid == 34,
	      "mode/owner of a");
	CHECK(fx, stat("/etc/copyme/sub", &st) == 0 && (st.st_mode & 07777) == 0700, "sub");
	expect_content(fx, "/etc/copyme/sub/b", "bee\n");
	expect_link(fx, "/etc/copyme/link", "a");
	expect_writable(fx, "/etc/copyme/new");
	CHECK(fx, statfs("/etc/copyro", &sf) == 0 && sf.f_type == TMPFS_MAGIC, "copyro");
	expect_content(fx, "/etc/copyro/c", "sea\n");
	expect_erofs(fx, "/etc/copyro/new");
}

static void test_tmpcopyup(void **state)
{
	struct fx *fx = *state;
	char path[PATH_MAX];
	put(fx->rootfs, "etc/copyme/a", "hello\n", 0640);
	put(fx->rootfs, "etc/copyme/sub/b", "bee\n", 0644);
	assert_int_equal(chmod(strcat(strcpy(path, fx->rootfs), "/etc/copyme/sub"), 0700), 0);
	snprintf(path, sizeof(path), "%s/etc/copyme/a", fx->rootfs);
	assert_int_equal(chown(path, 12, 34), 0);
	snprintf(path, sizeof(path), "%s/etc/copyme/link", fx->rootfs);
	assert_int_equal(symlink("a", path), 0);
	put(fx->rootfs, "etc/copyro/c", "sea\n", 0644);

	add_mount(fx, "/proc", "proc", "proc", 0, NULL);
	add_mount(fx, "/etc/copyme", "tmpfs", "tmpfs", 0, "mode=755")->tmpcopyup = true;
	add_mount(fx, "/etc/copyro", "tmpfs", "tmpfs", MS_RDONLY, NULL)->tmpcopyup = true;
	run_case(fx, &(struct run){.inside = inside_copyup});
	/* the image's directory underneath is untouched */
	snprintf(path, sizeof(path), "%s/etc/copyme/new", fx->rootfs);
	assert_int_equal(access(path, F_OK), -1);
}

/* ---------- propagation ---------- */

static void inside_shared(struct fx *fx)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	bool shared = false;
	CHECK(fx, f != NULL, "mountinfo");
	while (fgets(line, sizeof(line), f)) {
		char mp[PATH_MAX];
		if (sscanf(line, "%*d %*d %*s %*s %4095s", mp) == 1 && strcmp(mp, "/") == 0)
			shared = strstr(line, " shared:") != NULL;
	}
	fclose(f);
	CHECK(fx, shared, "/ is not shared");
}

static void test_rootfs_propagation_shared(void **state)
{
	struct fx *fx = *state;
	add_mount(fx, "/proc", "proc", "proc", 0, NULL);
	fx->spec.linux.rootfs_propagation = MS_SHARED | MS_REC;
	run_case(fx, &(struct run){.inside = inside_shared});
}

/* ---------- no /dev mount ---------- */

static void inside_no_dev(struct fx *fx)
{
	/* the image's own /dev is left alone: no defaults, only linux.devices */
	CHECK(fx, access("/dev/null", F_OK) < 0, "default devices created in the image's /dev");
	CHECK(fx, access("/dev/fd", F_OK) < 0, "symlinks created in the image's /dev");
	expect_device(fx, "/dev/net/tun", S_IFCHR, 10, 200, 0620, 1, 2);
}

static void test_no_dev_mount(void **state)
{
	struct fx *fx = *state;
	fx->spec.linux.devices = &tun;
	fx->spec.linux.n_devices = 1;
	run_case(fx, &(struct run){.inside = inside_no_dev});
}

static void test_has_dev_mount(void **state)
{
	struct fx *fx = *state;
	assert_false(keel_rootfs_has_dev_mount(&fx->spec));
	add_mount(fx, "/proc", "proc", "proc", 0, NULL);
	add_mount(fx, "/dev/pts", "devpts", "devpts", 0, NULL);
	assert_false(keel_rootfs_has_dev_mount(&fx->spec));
	add_mount(fx, "//dev/", "tmpfs", "tmpfs", 0, NULL);
	assert_true(keel_rootfs_has_dev_mount(&fx->spec));
}

/* ---------- cgroup namespace ---------- */

static void before_cgroupns(struct fx *fx)
{
	CHECK(fx, unshare(CLONE_NEWCGROUP) == 0, "unshare cgroup");
}

static void inside_cgroupns(struct fx *fx)
{
	/* fresh v1 mounts, each showing the namespace's root, read-only */
	char fstype[64], root[PATH_MAX];
	fstype_at(fx, "/sys/fs/cgroup/memory", fstype, sizeof(fstype), root, sizeof(root));
	CHECK(fx, strcmp(fstype, "cgroup") == 0 && strcmp(root, "/") == 0,
	      "memory is %s rooted at %s", fstype, root);
	fstype_at(fx, "/sys/fs/cgroup/systemd", fstype, sizeof(fstype), root, sizeof(root));
	CHECK(fx, strcmp(fstype, "cgroup") == 0, "name=systemd hierarchy is %s", fstype);
	CHECK(fx, is_ro("/sys/fs/cgroup/memory") && is_ro("/sys/fs/cgroup"), "cgroup rw");
	CHECK(fx, access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) == 0, "knob");
}

static void test_cgroupns(void **state)
{
	struct fx *fx = *state;
	static struct keel_spec_namespace ns[] = {{.type = KEEL_NS_MNT}, {.type = KEEL_NS_CGROUP}};
	fx->spec.linux.namespaces = ns;
	fx->spec.linux.n_namespaces = 2;
	add_mount(fx, "/proc", "proc", "proc", 0, NULL);
	add_mount(fx, "/sys", "sysfs", "sysfs", NSE | MS_RDONLY, NULL);
	add_mount(fx, "/sys/fs/cgroup", "cgroup", "cgroup", NSE | MS_RDONLY, NULL);
	run_case(fx, &(struct run){.before = before_cgroupns, .inside = inside_cgroupns});
}

/* ---------- in a user namespace ---------- */

/* The child unshares a user namespace, waits for the parent to map it (identity, as root in
 * the init namespace may), then takes new mount/pid/uts/ipc namespaces and forks pid 1 there,
 * which runs the usual prepare/pivot/finalize. */
struct userns_run {
	struct run run;
	int ready[2], go[2];
};

static void child_userns(struct fx *fx, const void *arg)
{
	const struct userns_run *u = arg;
	char c;
	close(u->ready[0]);
	close(u->go[1]);
	/* Mounts made before the user namespace get their flags locked in the mount namespace
	 * made after it: bind remounts of them must keep nosuid/nodev/noexec and the atime. */
	CHECK(fx, unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_SLAVE | MS_REC, NULL) == 0,
	      "unshare mount");
	CHECK(fx, chdir(fx->dir) == 0, "chdir");
	CHECK(fx,
	      mount("tmpfs", "locked1", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME,
		    NULL) == 0,
	      "locked1");
	CHECK(fx,
	      mount("tmpfs", "locked2", "tmpfs", MS_NOSUID | MS_STRICTATIME | MS_NODIRATIME,
		    NULL) == 0,
	      "locked2");
	CHECK(fx, unshare(CLONE_NEWUSER) == 0, "unshare user");
	CHECK(fx, write(u->ready[1], "r", 1) == 1, "sync");
	CHECK(fx, read(u->go[0], &c, 1) == 1, "parent did not map us");
	CHECK(fx, unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC) == 0,
	      "unshare");
	pid_t pid = fork();
	CHECK(fx, pid >= 0, "fork");
	if (pid == 0)
		child(fx, &u->run);
	int status;
	CHECK(fx, waitpid(pid, &status, 0) == pid, "wait");
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

static void map_userns(pid_t pid, const void *arg)
{
	const struct userns_run *u = arg;
	char c, path[64];
	keel_error_t err;
	static const char map[] = "0 0 4294967295\n";
	close(u->ready[1]);
	close(u->go[0]);
	assert_int_equal(read(u->ready[0], &c, 1), 1);
	snprintf(path, sizeof(path), "/proc/%d/uid_map", pid);
	assert_int_equal(keel_write_file(path, map, strlen(map), 0, &err), 0);
	snprintf(path, sizeof(path), "/proc/%d/gid_map", pid);
	assert_int_equal(keel_write_file(path, map, strlen(map), 0, &err), 0);
	assert_int_equal(write(u->go[1], "g", 1), 1);
	close(u->ready[0]);
	close(u->go[1]);
}

static void inside_userns(struct fx *fx)
{
	/* mknod is EPERM here: the devices are the host's nodes bound onto empty files */
	expect_device(fx, "/dev/null", S_IFCHR, 1, 3, 0666, 0, 0);
	expect_device(fx, "/dev/zero", S_IFCHR, 1, 5, 0666, 0, 0);
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	CHECK(fx, null >= 0 && write(null, "x", 1) == 1, "write /dev/null");
	close(null);
	expect_link(fx, "/dev/ptmx", "pts/ptmx");
	expect_fstype(fx, "/proc", "proc");
	expect_fstype(fx, "/dev/pts", "devpts");
	expect_fstype(fx, "/dev/mqueue", "mqueue");
	/* no network namespace of our own: sysfs is the host's /sys bound read-only */
	expect_fstype(fx, "/sys", "sysfs");
	CHECK(fx, is_ro("/sys"), "/sys rw");
	CHECK(fx, is_ro("/sys/fs/cgroup/memory"), "cgroup rw");
	/* ro remounts that had to keep the locked flags of their source */
	expect_erofs(fx, "/mnt/ro/new");
	expect_erofs(fx, "/mnt/locked1/new");
	expect_erofs(fx, "/mnt/locked2/new");
	struct statvfs st;
	CHECK(fx,
	      statvfs("/mnt/locked1", &st) == 0 && (st.f_flag & ST_NOEXEC) &&
		  (st.f_flag & ST_NODEV) && (st.f_flag & ST_NOATIME),
	      "locked1 lost its flags");
	CHECK(fx, is_ro("/"), "/ rw");
	expect_erofs(fx, "/newfile");
	expect_content(fx, "/proc/keys", "");
	CHECK(fx, open("/proc/sys/kernel/hostname", O_WRONLY | O_CLOEXEC) < 0 && errno == EROFS,
	      "/proc/sys writable");
	CHECK(fx, getpid() == 1, "not pid 1");
}

static void test_userns(void **state)
{
	struct fx *fx = *state;
	static struct keel_spec_namespace ns[] = {
	    {.type = KEEL_NS_USER}, {.type = KEEL_NS_MNT}, {.type = KEEL_NS_PID},
	    {.type = KEEL_NS_UTS},  {.type = KEEL_NS_IPC},
	};
	default_spec(fx);
	fx->spec.linux.devices = NULL;
	fx->spec.linux.n_devices = 0;
	fx->spec.linux.namespaces = ns;
	fx->spec.linux.n_namespaces = sizeof(ns) / sizeof(ns[0]);
	fx->spec.root_readonly = true;
	add_mount(fx, "/mnt/ro", "bind", "data", MS_RDONLY | MS_NOSUID, NULL)->recursive = true;
	put(fx->dir, "locked1", NULL, 0755);
	put(fx->dir, "locked2", NULL, 0755);
	add_mount(fx, "/mnt/locked1", "bind", "locked1", MS_RDONLY, NULL);
	add_mount(fx, "/mnt/locked2", "bind", "locked2", MS_RDONLY | MS_NOEXEC, NULL);

	struct userns_run u = {.run = {.userns = true, .inside = inside_userns}};
	assert_int_equal(pipe2(u.ready, O_CLOEXEC), 0);
	assert_int_equal(pipe2(u.go, O_CLOEXEC), 0);
	char msg[1024];
	int status = fork_child_with(fx, child_userns, &u, map_userns, msg, sizeof(msg));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("child failed (status %#x): %s", status, msg);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root\n");
		return 0;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_default_spec, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bind, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_masked_readonly, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_masked_without_proc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_symlink_escape, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_proc_on_file, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_unknown_fs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bind_missing_source, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mount_over_proc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mount_over_proc_allowed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tmpcopyup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rootfs_propagation_shared, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_no_dev_mount, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_has_dev_mount, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_tmpfs_over_proc, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cgroupns, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_userns, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
