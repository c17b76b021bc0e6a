#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int keel_write_file_at(int dirfd, const char *path, const void *buf, size_t len, mode_t mode,
		       keel_error_t *err)
{
	int flags = O_WRONLY | O_TRUNC | O_CLOEXEC | (mode ? O_CREAT : 0);
	cleanup_close int fd = openat(dirfd, path, flags, mode);
	if (fd < 0)
		return keel_err_sys(err, "open %s", path);
	if (write_all(fd, buf, len) < 0)
		return keel_err_sys(err, "write %s", path);
	return 0;
}

int keel_write_file(const char *path, const void *buf, size_t len, mode_t mode, keel_error_t *err)
{
	return keel_write_file_at(AT_FDCWD, path, buf, len, mode, err);
}

int keel_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode,
			   keel_error_t *err)
{
	char tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');
	int n;
	if (slash)
		n = snprintf(tmp, sizeof(tmp), "%.*s/.%s.tmp", (int)(slash - path), path,
			     slash + 1);
	else
		n = snprintf(tmp, sizeof(tmp), ".%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return keel_err(err, ENAMETOOLONG, "%s", path);
	if (keel_write_file(tmp, buf, len, mode ? mode : 0644, err) < 0)
		return -1;
	if (rename(tmp, path) < 0) {
		keel_err_sys(err, "rename %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

ssize_t keel_read_file_at(int dirfd, const char *path, char **out, keel_error_t *err)
{
	cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC);
	cleanup_free char *buf = NULL;
	size_t cap = 4096, len = 0;
	if (fd < 0)
		return keel_err_sys(err, "open %s", path);
	buf = malloc(cap);
	if (!buf)
		return keel_err(err, ENOMEM, "read %s", path);
	for (;;) {
		ssize_t n;
		if (len + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (!nb)
				return keel_err(err, ENOMEM, "read %s", path);
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return keel_err_sys(err, "read %s", path);
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = steal_pointer(&buf);
	return (ssize_t)len;
}

ssize_t keel_read_file(const char *path, char **out, keel_error_t *err)
{
	return keel_read_file_at(AT_FDCWD, path, out, err);
}

int keel_mkdir_p(const char *path, mode_t mode, keel_error_t *err)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	if (len == 0 || len >= sizeof(buf))
		return keel_err(err, ENAMETOOLONG, "mkdir %s", path);
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return keel_err_sys(err, "mkdir %s", buf);
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return keel_err_sys(err, "mkdir %s", buf);
	return 0;
}

static int rm_one(const char *p, const struct stat *st, int type, struct FTW *f)
{
	(void)st;
	(void)f;
	if (type == FTW_DP)
		return rmdir(p) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(p) < 0 && errno != ENOENT ? -1 : 0;
}

int keel_rm_rf(const char *path, keel_error_t *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : keel_err_sys(err, "stat %s", path);
	if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return keel_err_sys(err, "remove %s", path);
	return 0;
}

int keel_write_u64(int dirfd, const char *path, unsigned long long v, keel_error_t *err)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%llu", v);
	return keel_write_file_at(dirfd, path, buf, (size_t)n, 0, err);
}

int keel_path_clean_entry(const char *name, char *out, size_t len)
{
	size_t o = 0;
	for (const char *p = name; *p;) {
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			errno = EPERM;
			return -1;
		}
		if (n && !(n == 1 && p[0] == '.')) {
			if (o + n + 2 > len) {
				errno = ENAMETOOLONG;
				return -1;
			}
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p = *e ? e + 1 : e;
	}
	out[o] = '\0';
	return 0;
}
