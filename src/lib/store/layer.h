/* Layers: tar streams (plain, gzip or zstd) unpacked once into layers/<chainhex>/, with
 * OCI/AUFS whiteouts turned into overlayfs ones. Extraction resolves every path of the tar
 * inside the layer directory fd (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) and creates
 * each entry with *at calls on its parent's fd, never following the last component: no
 * name, symlink or hardlink in a layer reaches outside its directory. */
#ifndef KEEL_LAYER_H
#define KEEL_LAYER_H

#include <stdint.h>

#include "store/digest.h"
#include "store/store.h"

struct archive;

struct keel_layer_info {
	char chain_id[KEEL_DIGEST_SIZE];
	char diff_id[KEEL_DIGEST_SIZE];
	int64_t size;      /* bytes of file content */
	int64_t diff_size; /* bytes of the uncompressed tar */
};

/* chain id of a layer: its diff id at the bottom, else sha256("<parent> <diff id>"). */
void keel_layer_chain_id(const char *parent_chain, const char *diff_id,
			 char out[KEEL_DIGEST_SIZE]);

/* Unpacks the layer tar read from fd (compression detected) on top of parent_chain (NULL at
 * the bottom). expect_diff (may be NULL) is the diff id the uncompressed stream must have.
 * When the layer directory already exists nothing is unpacked (but the stream is still
 * hashed when expect_diff is NULL). Fills *out. Call with the store lock held shared. */
int keel_layer_unpack_fd(struct keel_store *s, int fd, const char *parent_chain,
			 const char *expect_diff, struct keel_layer_info *out, keel_error_t *err);

/* True when layers/<chain hex> exists. */
bool keel_layer_exists(struct keel_store *s, const char *chain_id);

/* "<root>/layers/<hex>" (caller frees). */
char *keel_layer_path(struct keel_store *s, const char *chain_id);

/* The extraction itself, from an open libarchive reader into dirfd (exposed for tests).
 * Adds the file content bytes to *size. */
int keel_layer_extract(int dirfd, struct archive *a, int64_t *size, keel_error_t *err);

/* Writes the tree under dirfd as a tar to the libarchive writer; with whiteouts, overlayfs
 * whiteouts (0:0 char devices, opaque dirs) become .wh. entries (for commit). */
int keel_layer_write_tar(int dirfd, struct archive *out, bool whiteouts, keel_error_t *err);

#endif
