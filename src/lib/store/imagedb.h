/* Image metadata in keel.db: adding images (one transaction, after their blobs and layers
 * are on disk), names, lookup, removal, garbage collection. Used by the image module and
 * the CLI; the container engine uses store.h. */
#ifndef KEEL_IMAGEDB_H
#define KEEL_IMAGEDB_H

#include "store/digest.h"
#include "store/store.h"

struct keel_layer_rec {
	char chain_id[KEEL_DIGEST_SIZE];
	char diff_id[KEEL_DIGEST_SIZE];
	char blob_digest[KEEL_DIGEST_SIZE];
	const char *media_type; /* of the blob as stored */
	int64_t size, diff_size, blob_size;
};

struct keel_image_new {
	const char *id; /* sha256:<config digest>; the config blob must be stored already */
	int64_t created;
	const char *parent;          /* or NULL */
	const char *manifest_digest; /* or NULL */
	const struct keel_layer_rec *layers;
	size_t n_layers;
	char *const *tags; /* full normalised names, moved here from whatever image had them */
	size_t n_tags;
};

/* Records the image, its layers and tags in one transaction. The caller holds the store
 * lock shared (its layers are on disk but unreferenced until this commits). */
int keel_imgdb_add(struct keel_store *s, const struct keel_image_new *img, keel_error_t *err);

/* The recorded layer with this chain id, if any (1 found, 0 not). */
int keel_imgdb_layer(struct keel_store *s, const char *chain_id, struct keel_layer_rec *out,
		     keel_error_t *err);

/* Resolves a reference (name, id, id prefix) to an image id (caller frees). ENOENT with
 * Docker's "No such image: <ref>" message, EBUSY for an ambiguous prefix. */
char *keel_imgdb_resolve(struct keel_store *s, const char *ref, keel_error_t *err);

/* Points tag (any reference form; "latest" added) at image id. */
int keel_imgdb_tag(struct keel_store *s, const char *id, const char *tag, keel_error_t *err);

/* Every image, newest first (caller frees the vector and each with keel_image_free).
 * Configs are loaded only when with_config. */
int keel_image_list(struct keel_store *s, bool with_config, struct keel_image ***out, size_t *n,
		    keel_error_t *err);
void keel_image_list_free(struct keel_image **v, size_t n);

/* Loads the image with this exact id (ENOENT when missing). */
struct keel_image *keel_imgdb_load(struct keel_store *s, const char *id, bool with_config,
				   keel_error_t *err);

/* What `rmi` did, one line each ("Untagged: busybox:latest", "Deleted: sha256:..."). */
struct keel_events {
	char **v;
	size_t n;
};
void keel_events_free(struct keel_events *ev);

/* `rmi REF`: untags, and deletes the image when its last name goes (with its untagged
 * parents), unless a container uses it. Without force a shared id or a user is a conflict
 * (EBUSY, Docker's message). Collects garbage afterwards when no one is loading. */
int keel_image_remove(struct keel_store *s, const char *ref, bool force, struct keel_events *ev,
		      keel_error_t *err);

/* `image prune`: dangling images (all unused images with all) that no container uses and no
 * image has as parent. *reclaimed gets the bytes of layers freed. */
int keel_image_prune(struct keel_store *s, bool all, struct keel_events *ev, int64_t *reclaimed,
		     keel_error_t *err);

/* Removes unreferenced layers and blobs and leftovers of killed writers. Takes the store
 * lock exclusive (nonblock: skip when someone is adding). Adds freed layer bytes. */
int keel_store_gc(struct keel_store *s, bool nonblock, int64_t *reclaimed, keel_error_t *err);

/* Numbers for `system df`. */
struct keel_store_usage {
	int64_t images, active, size, reclaimable;
};
int keel_store_usage(struct keel_store *s, struct keel_store_usage *u, keel_error_t *err);

#endif
