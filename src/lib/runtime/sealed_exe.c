#include "runtime/sealed_exe.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

/* Already safe: a sealed memfd, or a file on a read-only mount (our detached bind below, or a
 * read-only filesystem, which a container cannot remount: it is not in its mount namespace). */
static bool exe_is_safe(int self)
{
	struct statvfs sv;
	int seals = fcntl(self, F_GET_SEALS);
	if (seals >= 0 && (seals & SEALS) == SEALS)
		return true;
	return fstatvfs(self, &sv) == 0 && (sv.f_flag & ST_RDONLY);
}

/* A detached copy of the mount holding our binary, as an O_PATH fd of the binary itself.
 * open_tree of /proc/self/exe works only while we are in the mount namespace we were
 * exec'd in: the magic link resolves to the original mount, and open_tree refuses (EINVAL)
 * a mount of another namespace. That is the case of the container monitor, spawned inside
 * the container's private mount namespace: there the binary's path is resolved instead,
 * and used only if it is still the very file we run (same device and inode). */
static int open_tree_of_exe(int self)
{
	int fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/proc/self/exe",
			      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd >= 0 || errno != EINVAL)
		return fd;
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	if (n <= 0 || (size_t)n >= sizeof(path) - 1)
		return -1;
	path[n] = '\0';
	fd = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	struct stat want, got;
	if (fd >= 0 && (fstat(self, &want) < 0 || fstat(fd, &got) < 0 ||
			want.st_dev != got.st_dev || want.st_ino != got.st_ino)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Makes a detached tree read-only; fd is closed (and -1 returned) on failure. */
static int read_only(int fd)
{
	struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
	if (fd >= 0 && syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* No copy: a detached, read-only bind mount of the binary (open_tree + mount_setattr), then
 * execveat of it. /proc/<pid>/exe then resolves through that mount: opening it for writing
 * fails with EROFS, and the mount is reachable from nowhere else. crun does the same with a
 * temporary mount point. Returns only on failure. */
static void exec_read_only_bind(int self, char **argv)
{
	cleanup_close int fd = read_only(open_tree_of_exe(self));
	if (fd < 0)
		return;
	syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
}

int keel_sealed_exe_bind(const char *path)
{
	return read_only((int)syscall(SYS_open_tree, AT_FDCWD, path,
				      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC));
}

/* The fallback where mounts cannot be made: a sealed memfd copy. */
static int exec_sealed_copy(int self, char **argv, keel_error_t *err)
{
	cleanup_close int mfd = -1;
	struct stat st;
	off_t off = 0;

	if (fstat(self, &st) < 0)
		return keel_err_sys(err, "stat /proc/self/exe");
	mfd = memfd_create("keel", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return keel_err_sys(err, "memfd_create");
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, self, &off, (size_t)(st.st_size - off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return keel_err_sys(err, "copying the runtime binary");
	}
	if (fcntl(mfd, F_ADD_SEALS, SEALS) < 0)
		return keel_err_sys(err, "sealing the runtime binary copy");
	fexecve(mfd, argv, environ);
	return keel_err_sys(err, "re-executing the sealed runtime binary");
}

int keel_sealed_exe_ensure(char **argv, keel_error_t *err)
{
	cleanup_close int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	if (self < 0)
		return keel_err_sys(err, "open /proc/self/exe");
	if (exe_is_safe(self))
		return 0;
	exec_read_only_bind(self, argv);
	return exec_sealed_copy(self, argv, err);
}
