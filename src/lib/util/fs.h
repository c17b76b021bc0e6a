/* Small file helpers used across keel. All return >= 0 on success, -1 with *err. */
#ifndef KEEL_FS_H
#define KEEL_FS_H

#include <stddef.h>
#include <sys/types.h>

#include "util/error.h"

/* Writes len bytes to dirfd/path (O_WRONLY|O_TRUNC, plus O_CREAT with mode when
 * mode != 0). dirfd may be AT_FDCWD. */
int keel_write_file_at(int dirfd, const char *path, const void *buf, size_t len, mode_t mode,
		       keel_error_t *err);
int keel_write_file(const char *path, const void *buf, size_t len, mode_t mode, keel_error_t *err);

/* Writes the file as ".<name>.tmp" in the same directory, fsync-less, then renames it over
 * path: readers see the old or the new content, never half. */
int keel_write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode,
			   keel_error_t *err);

/* Reads the whole file into a NUL-terminated heap buffer (*out, caller frees);
 * returns the length. */
ssize_t keel_read_file_at(int dirfd, const char *path, char **out, keel_error_t *err);
ssize_t keel_read_file(const char *path, char **out, keel_error_t *err);

/* mkdir -p with mode for every created component. */
int keel_mkdir_p(const char *path, mode_t mode, keel_error_t *err);

/* rm -rf of path; missing is not an error. Does not cross mount points. */
int keel_rm_rf(const char *path, keel_error_t *err);

/* An archive entry's name made relative and clean ("./a//b/" -> "a/b", "/a" -> "a", "." -> ""):
 * 0, or -1 with errno EPERM when a ".." component would leave the directory it is unpacked
 * into, ENAMETOOLONG when out is too small. The callers word the error. */
int keel_path_clean_entry(const char *name, char *out, size_t len);

/* Writes a decimal number (no newline) to an existing file, e.g. cgroup knobs. */
int keel_write_u64(int dirfd, const char *path, unsigned long long v, keel_error_t *err);

#endif
