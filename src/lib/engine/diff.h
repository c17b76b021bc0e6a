/* `docker diff`: the changes of a container's overlay upper dir against its image layers.
 *
 * Walks the upper dir depth first, names in byte order within each directory (the order
 * Go's filepath.Walk gives docker), and reports for each path:
 *   'D'  an overlay whiteout (char device 0:0), or an opaque directory
 *        (trusted.overlay.opaque=y) that hid a directory of a lower layer;
 *   'C'  a path that also exists in a lower layer (directories only when their mode or
 *        mtime differ, as docker does), and the parent of every 'A' or 'D' not yet reported;
 *   'A'  a path found in no lower layer.
 * The upper root itself is never reported. Nothing is followed: symlinks in the upper dir
 * are entries, and lower paths are looked up below each layer's fd without symlinks
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so a hostile layer cannot make keel stat
 * host files. Lower layers are searched top first; a whiteout found in one ends the search
 * (the path does not exist below it). Under an opaque directory every entry is 'A' (the
 * lower contents are hidden); docker would say 'C' for names that also existed below. */
#ifndef KEEL_DIFF_H
#define KEEL_DIFF_H

#include <stdint.h>

#include <jansson.h>

#include "util/error.h"

/* The Engine API's numbers for a change's kind ("Kind" in GET /containers/{id}/changes). */
enum keel_change_kind {
	KEEL_CHANGE_MODIFY = 0,
	KEEL_CHANGE_ADD = 1,
	KEEL_CHANGE_DELETE = 2,
};

/* Called once per change, in docker's order. path is absolute ("/etc/passwd") and borrowed
 * for the call. A negative return stops the walk and is returned by keel_diff (set *err in
 * the callback's own way, e.g. through data). */
typedef int (*keel_diff_cb)(enum keel_change_kind kind, const char *path, void *data);

/* Compares upper against lowers (NULL-terminated, top-most layer first, as overlayfs'
 * lowerdir= lists them; may be NULL or empty). Returns the number of changes, or -1 + *err. */
int keel_diff(const char *upper, const char *const *lowers, keel_diff_cb cb, void *data,
	      keel_error_t *err);

/* 'C', 'A' or 'D'. */
char keel_change_letter(enum keel_change_kind kind);

/* The changes as the Engine API's JSON array [{"Path":"/x","Kind":1}, ...] (new reference),
 * or NULL + *err. */
json_t *keel_diff_json(const char *upper, const char *const *lowers, keel_error_t *err);

/* The bytes under dir as docker's directory.Size counts a container's SizeRw: the sizes of
 * everything but directories (symlinks by their own size, whiteouts 0), a hard-linked inode
 * once. Nothing is followed. A missing dir is 0. Returns the size, or -1 + *err. */
int64_t keel_diff_size(const char *dir, keel_error_t *err);

struct keel_engine;
struct keel_ctr;

/* A container's sizes as `ps -s` and `inspect -s` show them: *rw its upper dir
 * (keel_diff_size), *rootfs that plus its image's size (docker's SizeRw / SizeRootFs).
 * Implemented in ctr_tools.c. Returns 0, or -1 + *err. */
int keel_ctr_size(struct keel_engine *e, const struct keel_ctr *c, int64_t *rw, int64_t *rootfs,
		  keel_error_t *err);

#endif
