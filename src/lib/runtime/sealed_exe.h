/* CVE-2019-5736: a container process could open /proc/<init>/exe — the runtime binary —
 * and overwrite it on the host. Before entering any container, the runtime re-executes
 * itself from a sealed memfd copy, so that file is an anonymous, write-sealed copy and the
 * host binary is never reachable from inside. */
#ifndef KEEL_SEALED_EXE_H
#define KEEL_SEALED_EXE_H

#include "util/error.h"

/* If /proc/self/exe is not already a sealed memfd, copies it into one and fexecve()s it
 * with the same argv and environment (does not return on success). Returns 0 when already
 * sealed, -1 with *err on failure. */
int keel_sealed_exe_ensure(char **argv, keel_error_t *err);

#endif
