/* The build context: the files COPY and ADD may read. A directory (or a tar stream,
 * `keel build -` , unpacked safely into a private directory) is walked once into a sorted
 * list of entries, honouring .dockerignore, each with a content checksum - the cache key of
 * COPY/ADD, Docker's semantics: content, file type, permission bits and symlink targets
 * count; mtime and ownership do not (COPY writes 0:0 or --chown, which is in the
 * instruction text and so in the step's key already).
 *
 * Sources are resolved inside the context only: "../x" and absolute paths are cleaned
 * lexically and refused when they climb above the root; symlinks are followed as if the
 * context were "/" (openat2 RESOLVE_IN_ROOT semantics), never outside it. */
#ifndef KEEL_BUILD_CONTEXT_H
#define KEEL_BUILD_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "build/dockerignore.h"
#include "store/digest.h"
#include "util/error.h"

struct keel_ctx_entry {
	char *path;  /* relative, '/'-separated, no "./"; the root itself is "." */
	mode_t mode; /* type and permission bits (lstat) */
	uid_t uid;
	gid_t gid;
	off_t size;
	char *link; /* symlink target, or NULL */
	/* file: type+mode+content; symlink: type+target; dir: mode + every included child's
	 * name and checksum, recursively */
	char digest[KEEL_DIGEST_SIZE];
};

struct keel_build_context {
	int rootfd;   /* O_PATH directory fd of the context root */
	char *tmpdir; /* the private directory a tar context was unpacked into, or NULL */
	struct keel_ignore *ignore;	/* from .dockerignore (empty when absent) */
	struct keel_ctx_entry *entries; /* sorted by path; entries[0] is "." */
	size_t n;
};

/* Walks dir. Returns a new context (free with keel_build_context_free) or NULL with *err. */
struct keel_build_context *keel_build_context_open_dir(const char *dir, keel_error_t *err);

/* Reads a tar stream (plain or compressed) from fd into a new private directory under
 * tmp_parent (NULL: $TMPDIR or /tmp), refusing absolute and ".." member names, then walks
 * it. The directory is removed by keel_build_context_free. */
struct keel_build_context *keel_build_context_open_tar(int fd, const char *tmp_parent,
						       keel_error_t *err);

void keel_build_context_free(struct keel_build_context *ctx);

/* The entry at exactly path (cleaned, no symlink resolution), or NULL. Borrowed. */
const struct keel_ctx_entry *keel_build_context_lookup(const struct keel_build_context *ctx,
						       const char *path);

/* Resolves one COPY/ADD source (already expanded): cleaned relative to the root, refused
 * when it climbs out ("forbidden path outside the build context"), symlinks followed
 * inside the root, wildcards (* ? [...] per path element, as Go's filepath.Match) matched
 * against the entries. *out gets the matching context paths (NULL-terminated, caller frees
 * with cleanup_strv), *n their number (>= 1: no match is an error naming src). */
int keel_build_context_resolve(const struct keel_build_context *ctx, const char *src, char ***out,
			       size_t *n, keel_error_t *err);

/* The cache key of a COPY/ADD's sources: resolves each of srcs[0..nsrcs) and digests the
 * matches' paths and checksums in order. */
int keel_build_context_checksum(const struct keel_build_context *ctx, char *const *srcs,
				size_t nsrcs, char out[KEEL_DIGEST_SIZE], keel_error_t *err);

/* Opens path inside the context with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS):
 * symlinks resolve as if the root were "/". Returns an fd or -1 with *err. */
int keel_build_context_open(const struct keel_build_context *ctx, const char *path, int flags,
			    keel_error_t *err);

#endif
