/* Layers: tar streams (plain, gzip or zstd) unpacked once into layers/<chainhex>/, with
 * OCI/AUFS whiteouts turned into overlayfs ones. Extraction resolves every path of the tar
 * inside the layer directory fd (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) and creates
 * each entry with *at calls on its parent's fd, never following the last component: no
 * name, symlink or hardlink in a layer reaches outside its directory. */
#ifndef KEEL_LAYER_H
#define KEEL_LAYER_H

#include <stdint.h>

#include <sys/types.h>

#include "store/blob.h"
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

/* Reads up to one buffer of a stream: returns its length (0 at the end) with *buf pointing
 * at it (borrowed until the next call), or -1 with *err set. */
typedef ssize_t (*keel_stream_read_fn)(void *ud, const void **buf, keel_error_t *err);

/* A layer read once (load): while its bytes stream past they are hashed into a temp blob
 * AND, when they are a tar (plain, gzip or zstd), unpacked into a temp directory
 * layers/.tmp-*. Neither is in place until the caller has checked blob_digest and diff_id and
 * called keel_layer_pending_publish; keel_layer_pending_discard drops what is left. */
struct keel_layer_pending {
	struct keel_blob_writer blob;
	char blob_digest[KEEL_DIGEST_SIZE];
	int64_t blob_size;
	char tmp_dir[64];                   /* name under layers/; "" when not unpacked */
	char diff_id[KEEL_DIGEST_SIZE];     /* of the uncompressed stream, when tmp_dir set */
	int64_t size, diff_size;            /* as in keel_layer_info */
	char unpack_error[256];             /* why it was not unpacked ("" when it was) */
	bool published;
};

/* Consumes the whole stream into p (zeroed here). A stream that is not a tar, or whose tar
 * is refused (hostile entry), is still kept as a blob with tmp_dir "" and the reason in
 * p->unpack_error; keel_image_add then unpacks that blob the ordinary way and fails with it.
 * -1 only when reading the stream or writing the store fails. Call with the store lock
 * held shared. Release with keel_layer_pending_discard (also after a publish). */
int keel_layer_stream(struct keel_store *s, keel_stream_read_fn read, void *ud,
		      struct keel_layer_pending *p, keel_error_t *err);

/* Renames the blob to its digest and, when unpacked, the tree to layers/<chain hex> (an
 * existing one wins: the temp tree is then removed). */
int keel_layer_pending_publish(struct keel_store *s, struct keel_layer_pending *p,
			       const char *chain_id, keel_error_t *err);
/* Removes the temp blob and tree unless published (NULL-safe, idempotent). */
void keel_layer_pending_discard(struct keel_store *s, struct keel_layer_pending *p);

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
