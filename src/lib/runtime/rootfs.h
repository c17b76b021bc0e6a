/* The container's filesystem view, built inside the init process after it entered its new
 * mount namespace (and user namespace, if any), in three steps so the caller can do the
 * console and hooks in between, as runc does:
 *
 *   keel_rootfs_prepare()   propagation, rootfs bind, every spec mount in order, /dev
 *                           (default devices, linux.devices, symlinks, /dev/pts/ptmx, shm)
 *   [createContainer hooks run here by the caller]
 *   keel_rootfs_pivot()     pivot_root into the rootfs, detach the old root
 *   [console: the caller opens /dev/ptmx and binds the slave onto /dev/console]
 *   keel_rootfs_finalize()  maskedPaths, readonlyPaths, root.readonly, rootfs propagation
 *
 * Every destination inside the rootfs is resolved relative to a directory fd that cannot be
 * escaped (openat2 RESOLVE_IN_ROOT), and the mount is made through /proc/self/fd/N, so a
 * symlink inside the rootfs can never redirect a mount onto the host. */
#ifndef KEEL_ROOTFS_H
#define KEEL_ROOTFS_H

#include "runtime/spec.h"
#include "util/error.h"

/* rootfs is the absolute path of the container's root (bundle-relative root.path already
 * resolved by the caller). Error messages name the mount: "mount #3 (/proc): ...". */
int keel_rootfs_prepare(const struct keel_spec *spec, const char *rootfs, keel_error_t *err);
int keel_rootfs_pivot(const char *rootfs, keel_error_t *err);
int keel_rootfs_finalize(const struct keel_spec *spec, keel_error_t *err);

/* Whether the spec mounts its own /dev (then keel adds no default devices there except
 * what linux.devices lists). */
bool keel_rootfs_has_dev_mount(const struct keel_spec *spec);

#endif
