/* OCI image manifests, indexes and configs, and Docker's schema2 manifest and manifest
 * list (the same shapes under other media types): parsing with validation. */
#ifndef KEEL_MANIFEST_H
#define KEEL_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/digest.h"
#include "util/error.h"

#define KEEL_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define KEEL_MT_OCI_INDEX    "application/vnd.oci.image.index.v1+json"
#define KEEL_MT_OCI_CONFIG   "application/vnd.oci.image.config.v1+json"
#define KEEL_MT_OCI_LAYER    "application/vnd.oci.image.layer.v1.tar"
#define KEEL_MT_OCI_LAYER_GZ "application/vnd.oci.image.layer.v1.tar+gzip"
#define KEEL_MT_OCI_LAYER_ZS "application/vnd.oci.image.layer.v1.tar+zstd"
#define KEEL_MT_D2_MANIFEST  "application/vnd.docker.distribution.manifest.v2+json"
#define KEEL_MT_D2_LIST      "application/vnd.docker.distribution.manifest.list.v2+json"
#define KEEL_MT_D2_CONFIG    "application/vnd.docker.container.image.v1+json"
#define KEEL_MT_D2_LAYER_GZ  "application/vnd.docker.image.rootfs.diff.tar.gzip"

struct keel_descriptor {
	char media_type[128];
	char digest[KEEL_DIGEST_SIZE];
	int64_t size;
	char os[32], arch[32];  /* platform of index entries ("" when absent) */
	const char *ref_name;   /* annotation org.opencontainers.image.ref.name (borrowed) */
	const char *image_name; /* annotation io.containerd.image.name (borrowed) */
};

struct keel_manifest {
	json_t *json; /* owns the strings descriptors borrow */
	char media_type[128];
	struct keel_descriptor config;
	struct keel_descriptor *layers;
	size_t n_layers;
};

struct keel_index {
	json_t *json;
	struct keel_descriptor *manifests;
	size_t n;
};

/* An image manifest (OCI or Docker schema2). Release with keel_manifest_free. */
int keel_manifest_parse(const char *buf, size_t len, struct keel_manifest *m, keel_error_t *err);
void keel_manifest_free(struct keel_manifest *m);

/* An index (OCI) or manifest list (Docker). Release with keel_index_free. */
int keel_index_parse(const char *buf, size_t len, struct keel_index *ix, keel_error_t *err);
void keel_index_free(struct keel_index *ix);

bool keel_media_is_index(const char *mt);
bool keel_media_is_manifest(const char *mt);
bool keel_media_is_layer(const char *mt);

/* Checks an image config: an object, rootfs.type "layers", diff_ids valid digests (their
 * count in *n_layers), optional config/history of the right types. */
int keel_config_validate(json_t *cfg, size_t *n_layers, keel_error_t *err);

/* RFC 3339 time ("2024-01-02T03:04:05.123Z", "+01:00" offsets) to unix seconds; -1 when bad. */
int64_t keel_parse_time(const char *s);
/* Unix seconds (and nanoseconds) to RFC 3339 UTC with nanoseconds trimmed as Go does. */
void keel_format_time(int64_t sec, long nsec, char *out, size_t len);

#endif
