#include "store/digest.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

int keel_sha256_init(struct keel_sha256 *h, keel_error_t *err)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	if (!c || EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		h->ctx = NULL;
		return keel_err(err, ENOMEM, "sha256 init");
	}
	h->ctx = c;
	return 0;
}

void keel_sha256_update(struct keel_sha256 *h, const void *buf, size_t len)
{
	if (len)
		EVP_DigestUpdate(h->ctx, buf, len);
}

void keel_sha256_final(struct keel_sha256 *h, char out[KEEL_DIGEST_SIZE])
{
	unsigned char md[32];
	unsigned int n = 0;
	static const char hex[] = "0123456789abcdef";
	EVP_DigestFinal_ex(h->ctx, md, &n);
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[71] = '\0';
	keel_sha256_free(h);
}

void keel_sha256_free(struct keel_sha256 *h)
{
	if (h && h->ctx) {
		EVP_MD_CTX_free(h->ctx);
		h->ctx = NULL;
	}
}

void keel_sha256_digest(const void *buf, size_t len, char out[KEEL_DIGEST_SIZE])
{
	unsigned char md[32];
	static const char hex[] = "0123456789abcdef";
	EVP_Digest(buf, len, md, NULL, EVP_sha256(), NULL);
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[71] = '\0';
}

bool keel_digest_valid(const char *d)
{
	if (!d || strncmp(d, "sha256:", 7) != 0 || strlen(d) != 71)
		return false;
	for (const char *p = d + 7; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return true;
}

const char *keel_digest_hex(const char *d)
{
	return d + 7;
}
