/* Between push.c (layers, config, manifest) and push_upload.c (the compressing chunked
 * upload and the entry point). */
#ifndef KEEL_REGISTRY_PUSH_H
#define KEEL_REGISTRY_PUSH_H

#include "registry/regclient.h"

struct push_ctx {
	struct keel_store *s;
	struct keel_reg_client *c;
	const struct keel_reg_options *o;
	const char *domain, *path;
	char scope[600];
	CURL *curl; /* this thread's handle (NULL: the client's) */
};

struct push_layer {
	char diff_id[KEEL_DIGEST_SIZE];
	char id[13];
	char digest[KEEL_DIGEST_SIZE];
	int64_t size;
	char media_type[128];
	int fd;		 /* the stored blob (owned) */
	bool stored;	 /* that blob is compressed: it is what goes up */
	bool known;	 /* digest/size/media_type known before the transfer */
	bool compressed; /* gzip'd by this push: remember it */
	char from[256];	 /* a repository of this registry that has it, or "" */
};

int push_start(struct push_ctx *p, const char *digest, const char *from, char **location,
	       keel_error_t *err);
int push_finish(struct push_ctx *p, const char *location, const char *digest, int fd, int64_t len,
		keel_error_t *err);
/* gzip of the uncompressed tar in fd, uploaded in chunks while it is made; fills l. */
int push_gzip_upload(struct push_ctx *p, struct push_layer *l, int fd, keel_error_t *err);
/* Pushes the image tagged full (a full normalised name) as tag. */
int push_tag(struct push_ctx *p, const char *full, const char *tag, keel_error_t *err);

#endif
