/* Content-addressed blobs: blobs/sha256/<hex>. A blob is written to a temp file in the same
 * directory while being hashed, checked against the digest it must have, then renamed into
 * place: a name under blobs/ always holds exactly the bytes of its digest. */
#ifndef KEEL_BLOB_H
#define KEEL_BLOB_H

#include <stdint.h>
#include <sys/types.h>

#include "store/digest.h"
#include "store/store.h"

struct keel_blob_writer {
	struct keel_store *store;
	int fd;
	char tmp[64]; /* temp name relative to blobs/sha256 */
	struct keel_sha256 hash;
	uint64_t size;
	char digest[KEEL_DIGEST_SIZE]; /* after keel_blob_finish */
};

/* Starts a blob. Release with keel_blob_commit or keel_blob_abort. */
int keel_blob_begin(struct keel_store *s, struct keel_blob_writer *w, keel_error_t *err);
int keel_blob_write(struct keel_blob_writer *w, const void *buf, size_t len, keel_error_t *err);
/* Finishes: when expect is not NULL the content must hash to it (else EILSEQ and nothing is
 * kept). The digest is written to out (may be NULL). */
int keel_blob_commit(struct keel_blob_writer *w, const char *expect, char out[KEEL_DIGEST_SIZE],
		     keel_error_t *err);
/* Drops the temp file (idempotent; after begin, finish or a failed publish). */
void keel_blob_abort(struct keel_blob_writer *w);

/* The two halves of commit, for a caller that must verify more than the blob digest before
 * anything appears (load: the layer's diff id too): finish stops hashing and closes the temp
 * file (digest in w->digest and out, may be NULL); publish renames it to its digest. After a
 * failed finish or publish the temp file is gone; an unpublished blob needs keel_blob_abort. */
int keel_blob_finish(struct keel_blob_writer *w, char out[KEEL_DIGEST_SIZE], keel_error_t *err);
int keel_blob_publish(struct keel_blob_writer *w, keel_error_t *err);

/* A whole buffer as a blob. */
int keel_blob_put(struct keel_store *s, const void *buf, size_t len, const char *expect,
		  char out[KEEL_DIGEST_SIZE], keel_error_t *err);

/* Opens blob digest read-only (ENOENT when absent). */
int keel_blob_open(struct keel_store *s, const char *digest, keel_error_t *err);
/* Reads a blob into memory and checks its digest (for small blobs: configs, manifests). */
ssize_t keel_blob_read(struct keel_store *s, const char *digest, char **out, keel_error_t *err);
/* Size in bytes, or -1 (ENOENT). */
int64_t keel_blob_size(struct keel_store *s, const char *digest, keel_error_t *err);
/* Removes a blob (missing is fine). */
int keel_blob_remove(struct keel_store *s, const char *digest, keel_error_t *err);

#endif
