/* Adding images to the store from their parts, and the operations built on it: load and
 * save of archives, import of a rootfs tar, the embedded busybox image. */
#ifndef KEEL_IMAGE_H
#define KEEL_IMAGE_H

#include <stddef.h>

#include "store/digest.h"
#include "store/imagedb.h"
#include "store/layer.h"
#include "store/store.h"

/* Records an image whose config is config[0..len) and whose layer blobs (lowest first) are
 * already in the store: unpacks the layers not yet unpacked, checking each against the
 * config's diff ids, then adds image and tags (full normalised names) in one transaction.
 * Takes the store lock shared for its duration. Writes the id to out_id. */
int keel_image_add(struct keel_store *s, const char *config, size_t len, char *const *blobs,
		   size_t n_blobs, char *const *tags, size_t n_tags, const char *manifest_digest,
		   const char *parent, char out_id[KEEL_DIGEST_SIZE], keel_error_t *err);

/* keel_image_add for layers read in one pass (keel_layer_stream): pending[i], when not NULL,
 * is layer i still in temp files, with blobs[i] == pending[i]->blob_digest. Each is renamed
 * into place only after its diff id matched the config; the caller discards them all
 * afterwards (keel_layer_pending_discard: a no-op for the published ones). pending itself
 * may be NULL. The registry client can pull the same way: stream each layer download
 * through keel_layer_stream, then add. */
int keel_image_add_pending(struct keel_store *s, const char *config, size_t len,
			   char *const *blobs, struct keel_layer_pending *const *pending,
			   size_t n_blobs, char *const *tags, size_t n_tags,
			   const char *manifest_digest, const char *parent,
			   char out_id[KEEL_DIGEST_SIZE], keel_error_t *err);

/* Full normalised name of a user-given tag ("busybox" -> docker.io/library/busybox:latest);
 * caller frees. Digest references are refused. */
char *keel_image_normalize_tag(const char *tag, keel_error_t *err);

/* `load`: reads a docker-archive or an oci-archive (either maybe gzip/zstd compressed) from
 * fd and adds its images. Events: "Loaded image: busybox:latest" / "Loaded image ID: ...".
 * A broken or hostile archive fails with one message and adds nothing. */
int keel_archive_load(struct keel_store *s, int fd, struct keel_events *ev, keel_error_t *err);

enum keel_archive_format { KEEL_ARCHIVE_DOCKER, KEEL_ARCHIVE_OCI };

/* `save`: writes the images named by refs (names keep their tag in the archive, ids are
 * saved untagged) as one archive to fd. */
int keel_archive_save(struct keel_store *s, char *const *refs, size_t n, enum keel_archive_format f,
		      int fd, keel_error_t *err);

/* `import`: a rootfs tar (maybe compressed) from fd as a one-layer image. changes are
 * Dockerfile instructions (CMD, ENV, ...; may be NULL), message the history comment, tag
 * may be NULL. Writes the id to out_id. */
int keel_image_import(struct keel_store *s, int fd, char *const *changes, size_t n_changes,
		      const char *message, const char *tag, char out_id[KEEL_DIGEST_SIZE],
		      keel_error_t *err);

/* Applies one Dockerfile-style change ("CMD [\"sh\"]", "ENV A=b", "WORKDIR /x", "USER u",
 * "ENTRYPOINT ...", "EXPOSE 80/tcp", "LABEL k=v", "VOLUME /v", "STOPSIGNAL SIGTERM") to an
 * image runtime config object (the "config" member). */
int keel_image_apply_change(json_t *config, const char *change, keel_error_t *err);

/* Writes an overlay upper dir as an uncompressed tar blob — whiteouts turned back into .wh.
 * entries — and puts its digest (the new layer's diff id) in out. For commit, import and
 * build. */
int keel_image_diff_blob(struct keel_store *s, const char *upper, char out[KEEL_DIGEST_SIZE],
			 keel_error_t *err);

#endif
