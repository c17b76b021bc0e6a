/* SHA-256 in OCI form. Two engines behind one interface, chosen by measurement:
 *  - OpenSSL's EVP (SHA-NI, ~2 GB/s here) for streams and large buffers — layers, blobs;
 *    libcrypto is dlopen()ed on first use: linking it into keel-engine.so cost every keel
 *    command ~1 ms of loading and relocation, `keel ps` and `keel run` included;
 *  - a small FIPS 180-4 implementation for one-shot digests of small buffers (image configs
 *    and manifests verified on read, ids): no library to load for a few hundred bytes. */
#include "store/digest.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---------- libcrypto, loaded when first needed ---------- */

struct evp {
	void *(*ctx_new)(void);
	void (*ctx_free)(void *);
	const void *(*sha256)(void);
	int (*init)(void *, const void *, void *);
	int (*update)(void *, const void *, size_t);
	int (*final)(void *, unsigned char *, unsigned int *);
};

static const struct evp *evp(keel_error_t *err)
{
	static struct evp e;
	static int state; /* 0 not tried, 1 loaded, -1 failed */
	if (state == 0) {
		void *h = dlopen("libcrypto.so.3", RTLD_NOW | RTLD_LOCAL);
		if (h) {
			*(void **)&e.ctx_new = dlsym(h, "EVP_MD_CTX_new");
			*(void **)&e.ctx_free = dlsym(h, "EVP_MD_CTX_free");
			*(void **)&e.sha256 = dlsym(h, "EVP_sha256");
			*(void **)&e.init = dlsym(h, "EVP_DigestInit_ex");
			*(void **)&e.update = dlsym(h, "EVP_DigestUpdate");
			*(void **)&e.final = dlsym(h, "EVP_DigestFinal_ex");
		}
		state = h && e.ctx_new && e.ctx_free && e.sha256 && e.init && e.update && e.final
			    ? 1 : -1;
	}
	if (state < 0) {
		keel_err(err, ENOENT, "sha256: cannot load libcrypto.so.3: %s",
			 dlerror() ? dlerror() : "missing symbols");
		return NULL;
	}
	return &e;
}

/* ---------- the small implementation (FIPS 180-4, section 6.2) ---------- */

/* first 32 bits of the fractional parts of the cube roots of the first 64 primes */
static const uint32_t k256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5,
	0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
	0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
	0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
	0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
	0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5,
	0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

struct small {
	uint32_t h[8];
	uint64_t bytes;
	unsigned char block[64];
	size_t fill;
};

static uint32_t ror(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static void compress(uint32_t h[8], const unsigned char *p)
{
	uint32_t w[64], v[8];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
		uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	memcpy(v, h, sizeof(v));
	for (int i = 0; i < 64; i++) {
		uint32_t s1 = ror(v[4], 6) ^ ror(v[4], 11) ^ ror(v[4], 25);
		uint32_t ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
		uint32_t t1 = v[7] + s1 + ch + k256[i] + w[i];
		uint32_t s0 = ror(v[0], 2) ^ ror(v[0], 13) ^ ror(v[0], 22);
		uint32_t maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
		memmove(v + 1, v, 7 * sizeof(v[0]));
		v[4] += t1;
		v[0] = t1 + s0 + maj;
	}
	for (int i = 0; i < 8; i++)
		h[i] += v[i];
}

static void small_digest(const unsigned char *p, size_t len, unsigned char md[32])
{
	/* first 32 bits of the fractional parts of the square roots of the first 8 primes */
	struct small s = {.h = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19}};
	s.bytes = len;
	for (; len >= 64; p += 64, len -= 64)
		compress(s.h, p);
	memcpy(s.block, p, len);
	s.block[len] = 0x80;
	memset(s.block + len + 1, 0, 63 - len);
	if (len >= 56) {
		compress(s.h, s.block);
		memset(s.block, 0, 56);
	}
	for (int i = 0; i < 8; i++)
		s.block[56 + i] = (unsigned char)((s.bytes * 8) >> (56 - 8 * i));
	compress(s.h, s.block);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 4; j++)
			md[4 * i + j] = (unsigned char)(s.h[i] >> (24 - 8 * j));
}

/* ---------- the interface ---------- */

static void format(const unsigned char md[32], char out[KEEL_DIGEST_SIZE])
{
	static const char hex[] = "0123456789abcdef";
	memcpy(out, "sha256:", 7);
	for (unsigned i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[md[i] >> 4];
		out[8 + 2 * i] = hex[md[i] & 15];
	}
	out[71] = '\0';
}

int keel_sha256_init(struct keel_sha256 *h, keel_error_t *err)
{
	const struct evp *e = evp(err);
	void *c = e ? e->ctx_new() : NULL;
	h->ctx = NULL;
	if (!e)
		return -1;
	if (!c || e->init(c, e->sha256(), NULL) != 1) {
		if (c)
			e->ctx_free(c);
		return keel_err(err, ENOMEM, "sha256 init");
	}
	h->ctx = c;
	return 0;
}

void keel_sha256_update(struct keel_sha256 *h, const void *buf, size_t len)
{
	if (len)
		evp(NULL)->update(h->ctx, buf, len);
}

void keel_sha256_final(struct keel_sha256 *h, char out[KEEL_DIGEST_SIZE])
{
	unsigned char md[32];
	unsigned int n = 0;
	evp(NULL)->final(h->ctx, md, &n);
	format(md, out);
	keel_sha256_free(h);
}

void keel_sha256_free(struct keel_sha256 *h)
{
	if (h && h->ctx) {
		evp(NULL)->ctx_free(h->ctx);
		h->ctx = NULL;
	}
}

int keel_sha256_digest_engine(const void *buf, size_t len, bool use_libcrypto,
			      char out[KEEL_DIGEST_SIZE], keel_error_t *err)
{
	unsigned char md[32];
	struct keel_sha256 h;
	if (!use_libcrypto) {
		small_digest(buf, len, md);
		format(md, out);
		return 0;
	}
	if (keel_sha256_init(&h, err) < 0)
		return -1;
	keel_sha256_update(&h, buf, len);
	keel_sha256_final(&h, out);
	return 0;
}

void keel_sha256_digest(const void *buf, size_t len, char out[KEEL_DIGEST_SIZE])
{
	/* The small one below 256 KiB (~1 ms here, as long as loading libcrypto takes);
	 * and wherever libcrypto cannot be loaded. */
	if (len < 256 * 1024 || keel_sha256_digest_engine(buf, len, true, out, NULL) < 0)
		keel_sha256_digest_engine(buf, len, false, out, NULL);
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
