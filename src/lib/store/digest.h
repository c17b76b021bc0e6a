/* SHA-256 digests in OCI form ("sha256:<64 lowercase hex>"): streams over OpenSSL's EVP
 * (SHA-NI; libcrypto loaded on first use), small buffers by a built-in implementation. */
#ifndef KEEL_DIGEST_H
#define KEEL_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "util/error.h"

#define KEEL_DIGEST_SIZE 72 /* "sha256:" + 64 hex + NUL */

struct keel_sha256 {
	void *ctx; /* EVP_MD_CTX */
};

/* Fails only when libcrypto cannot be loaded. */
int keel_sha256_init(struct keel_sha256 *h, keel_error_t *err);
void keel_sha256_update(struct keel_sha256 *h, const void *buf, size_t len);
/* Writes "sha256:<hex>" to out and frees the context. */
void keel_sha256_final(struct keel_sha256 *h, char out[KEEL_DIGEST_SIZE]);
/* Frees without a result (NULL-safe, idempotent). */
void keel_sha256_free(struct keel_sha256 *h);

/* One-shot digest of a buffer (the built-in implementation for small ones). */
void keel_sha256_digest(const void *buf, size_t len, char out[KEEL_DIGEST_SIZE]);
/* The same with the engine chosen: for tests that hold the two against each other. */
int keel_sha256_digest_engine(const void *buf, size_t len, bool use_libcrypto,
			      char out[KEEL_DIGEST_SIZE], keel_error_t *err);

/* True for "sha256:" + exactly 64 lowercase hex digits. */
bool keel_digest_valid(const char *d);

/* The hex part of a valid digest (borrowed pointer into d). */
const char *keel_digest_hex(const char *d);

#endif
