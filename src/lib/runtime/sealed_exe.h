/* CVE-2019-5736: a container process could open /proc/<init>/exe — the runtime binary —
 * and overwrite it on the host. Before entering any container, the runtime re-executes
 * itself through a detached read-only bind mount of its binary (no copy; writes through
 * /proc/<pid>/exe fail with EROFS), or, where that mount cannot be made, from a sealed memfd
 * copy. */
#ifndef KEEL_SEALED_EXE_H
#define KEEL_SEALED_EXE_H

#include "util/error.h"

/* If /proc/self/exe is not already safe (a sealed memfd or a read-only mount), re-executes
 * as above with the same argv and environment (does not return on success). Returns 0 when
 * already safe, -1 with *err on failure. */
int keel_sealed_exe_ensure(char **argv, keel_error_t *err);

/* An O_PATH fd (close-on-exec) of a detached read-only bind of the binary at path, to exec
 * through /proc/self/fd/N: the new process starts already safe, without the re-exec above.
 * -1 where such mounts cannot be made (the new process then re-executes itself). */
int keel_sealed_exe_bind(const char *path);

#endif
