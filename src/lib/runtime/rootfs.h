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
 * resolved by the caller). cgroup_path is the container's cgroup (the same in every
 * hierarchy), used for `cgroup` mounts without a cgroup namespace so that the init need not
 * have joined yet; NULL reads it from /proc/self/cgroup. Error messages name the mount:
 * "mount #3 (proc on /proc): ..." (#N is the index in mounts[]). */
int keel_rootfs_prepare(const struct keel_spec *spec, const char *rootfs, const char *cgroup_path,
			keel_error_t *err);
int keel_rootfs_pivot(const char *rootfs, keel_error_t *err);
int keel_rootfs_finalize(const struct keel_spec *spec, keel_error_t *err);

/* Whether the spec mounts something at /dev. A fresh (tmpfs) /dev gets the default devices,
 * linux.devices and the /dev symlinks; a bind-mounted /dev is left alone; without a /dev
 * mount only linux.devices are created. */
bool keel_rootfs_has_dev_mount(const struct keel_spec *spec);

#endif
