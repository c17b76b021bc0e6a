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
	/* Registry names of the manifest this image was pulled as, "name@sha256:<manifest>"
	 * (full normalised name, no tag; see keel_imgdb_repo_digest). May be NULL. */
	char *const *repo_digests;
	size_t n_repo_digests;
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

/* Repo digests: table repo_digests(name TEXT PRIMARY KEY, image_id) with name the full
 * normalised "docker.io/library/busybox@sha256:<manifest digest>". They are what
 * `images --digests` and inspect's RepoDigests show, and keel_image_get("busybox@sha256:...")
 * finds the image by them. The registry client records one after a pull (the digest of the
 * manifest it fetched, not of an index) and after a push (the manifest it uploaded).
 *
 * keel_imgdb_repo_digest points repo@digest at image id: repo is any reference form (a tag
 * or digest in it is ignored: "busybox:1.36" records docker.io/library/busybox@<digest>),
 * digest "sha256:<64 hex>". Replaces whichever image had the same name@digest. ENOENT when
 * the image does not exist, EINVAL for a bad name or digest. Its own transaction; to add it
 * atomically with a new image, pass it in keel_image_new.repo_digests instead. */
int keel_imgdb_repo_digest(struct keel_store *s, const char *id, const char *repo,
			   const char *digest, keel_error_t *err);

/* The full "name@sha256:..." form keel_imgdb_repo_digest stores, for keel_image_new (caller
 * frees). */
char *keel_imgdb_repo_digest_name(const char *repo, const char *digest, keel_error_t *err);

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
/* Frees the lines; ev is empty (reusable) afterwards. */
void keel_events_free(struct keel_events *ev);

/* `rmi REF`: untags, and deletes the image when its last name goes (with its untagged
 * parents), unless a container uses it. Without force a shared id or a user is a conflict
 * (EBUSY, Docker's message). Collects garbage afterwards when no one is loading. */
int keel_image_remove(struct keel_store *s, const char *ref, bool force, struct keel_events *ev,
		      keel_error_t *err);

/* `image prune`: dangling images (all unused images with all) that no container uses and no
 * image has as parent. *reclaimed gets the bytes of layers freed. */
/* prune --filter: true when the image may go. */
typedef bool (*keel_prune_want_fn)(struct keel_store *s, const char *id, void *arg);
int keel_image_prune(struct keel_store *s, bool all, keel_prune_want_fn want, void *want_arg,
		     struct keel_events *ev, int64_t *reclaimed, keel_error_t *err);

/* Removes unreferenced layers and blobs and leftovers of killed writers. Takes the store
 * lock exclusive (nonblock: skip when someone is adding). Adds freed layer bytes. */
int keel_store_gc(struct keel_store *s, bool nonblock, int64_t *reclaimed, keel_error_t *err);

/* Numbers for `system df`. */
struct keel_store_usage {
	int64_t images, active, size, reclaimable;
};
int keel_store_usage(struct keel_store *s, struct keel_store_usage *u, keel_error_t *err);

#endif
