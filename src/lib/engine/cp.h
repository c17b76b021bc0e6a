/* `docker cp`: copies between a container's rootfs and the host (or a tar stream), in both
 * directions, with docker's path rules and without ever letting the container's symlinks
 * reach the host.
 *
 * Safety. The container side is a directory fd of its merged rootfs; every container path
 * (the source, the destination, the parent of every entry written) is opened with openat2
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS below it, so "..", absolute and relative symlinks
 * all resolve as if the rootfs were "/". Trees are walked fd by fd (openat O_PATH|O_NOFOLLOW
 * of one name, then fstat of that fd): a symlink met in a tree is copied as a symlink, never
 * entered, and a regular file is only opened for reading once its O_PATH fd says it is one
 * (so a container racing us cannot swap in a device node). Entries are made with *at calls
 * on their parent's fd, never following the last name; an existing non-directory in the way
 * is removed first, so a planted symlink or hardlink is replaced, not written through (a
 * directory never replaces a non-directory nor the reverse: an error, as in docker). On
 * the host side the entries of a copy land below the destination directory's fd with
 * RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS. The host paths the user typed are resolved
 * normally (they are the user's).
 *
 * Path rules (docker's):
 *   SRC is a file:   DEST missing -> written as DEST (DEST ending in "/" is an error: the
 *                    directory must exist); DEST a file -> overwritten; DEST a directory ->
 *                    DEST/<basename of SRC>.
 *   SRC is a dir:    DEST missing -> created, SRC's contents copied into it; DEST a file ->
 *                    error; DEST a directory -> DEST/<basename> unless SRC ends in "/.",
 *                    then SRC's contents go into DEST itself.
 *   SRC ending in "/" or "/." must be a directory. A symlink as SRC is copied as a link
 *   unless KEEL_CP_FOLLOW_LINK (-L) or the trailing "/" or "/." asks for its target. A
 *   symlink as DEST is followed (inside the container).
 *   SRC "-" (to a container): a tar stream (any compression libarchive knows) is unpacked
 *   into DEST, which must be an existing directory. DEST "-" (from a container): SRC is
 *   written as a tar stream (pax) with entries named from SRC's basename.
 *   Container paths are relative to the container's "/" ("tmp/x" is "/tmp/x").
 * Ownership: KEEL_CP_ARCHIVE (-a) keeps the source's uid/gid; without it, what lands in a
 * container belongs to opts->uid:gid (the container's root) and what lands on the host to
 * the calling user (docker: "the UID:GID of the user which invoked the command"). Modes,
 * mtimes and hardlinks inside the copied tree are kept; sockets are skipped.
 *
 * Not covered: paths on mounts that exist only inside a running container's mount
 * namespace (volumes, tmpfs) — the rootfs fd sees what the host sees at the merged dir. */
#ifndef KEEL_CP_H
#define KEEL_CP_H

#include <sys/types.h>

#include "util/error.h"

enum keel_cp_flags {
	KEEL_CP_ARCHIVE = 1 << 0,     /* -a: keep uid/gid */
	KEEL_CP_FOLLOW_LINK = 1 << 1, /* -L: follow a symlink named by SRC */
};

struct keel_cp_opts {
	unsigned flags; /* enum keel_cp_flags */
	int stream_fd;	/* the "-" side: tar read (to container) or written (from container);
			   0 means stdin / stdout */
	uid_t uid;	/* owner in the container without KEEL_CP_ARCHIVE (its root, */
	gid_t gid;	/* 0:0 unless a user namespace maps it) */
};

/* Copies src (a path inside the container whose merged rootfs is rootfd) to dst (a host
 * path, or "-" for a tar on opts->stream_fd). opts may be NULL (defaults). Returns 0, or
 * -1 + *err (ENOENT: "could not find the file <src> in container"). */
int keel_cp_from_container(int rootfd, const char *src, const char *dst,
			   const struct keel_cp_opts *opts, keel_error_t *err);

/* Copies src (a host path, or "-" for a tar read from opts->stream_fd) to dst inside the
 * container. Returns 0, or -1 + *err. */
int keel_cp_to_container(int rootfd, const char *src, const char *dst,
			 const struct keel_cp_opts *opts, keel_error_t *err);

#endif
