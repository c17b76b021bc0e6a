/* The one way images enter the store: blobs first, layers unpacked, then one transaction. */
#include "image/image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/manifest.h"
#include "image/reference.h"
#include "store/blob.h"
#include "store/layer.h"
#include "store/store_internal.h"
#include "util/cleanup.h"

char *keel_image_normalize_tag(const char *tag, keel_error_t *err)
{
	struct keel_ref r;
	char *full = NULL;
	if (keel_ref_parse(tag, &r, err) < 0)
		return NULL;
	if (r.digest)
		keel_err_user(err, EINVAL, "refusing to create a tag with a digest reference");
	else if (keel_ref_default_tag(&r, err) == 0 && !(full = keel_ref_string(&r)))
		keel_err(err, ENOMEM, "tag");
	keel_ref_free(&r);
	return full;
}

static const char *sniff_media_type(int fd)
{
	unsigned char m[4] = {0};
	if (pread(fd, m, sizeof(m), 0) == (ssize_t)sizeof(m)) {
		if (m[0] == 0x1f && m[1] == 0x8b)
			return "application/vnd.oci.image.layer.v1.tar+gzip";
		if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
			return "application/vnd.oci.image.layer.v1.tar+zstd";
	}
	return "application/vnd.oci.image.layer.v1.tar";
}

static void fill_rec(struct keel_layer_rec *rec, const struct keel_layer_info *info,
		     const char *blob, int fd, int64_t blob_size)
{
	memset(rec, 0, sizeof(*rec));
	memcpy(rec->chain_id, info->chain_id, sizeof(rec->chain_id));
	memcpy(rec->diff_id, info->diff_id, sizeof(rec->diff_id));
	snprintf(rec->blob_digest, sizeof(rec->blob_digest), "%s", blob);
	rec->media_type = sniff_media_type(fd);
	rec->size = info->size;
	rec->diff_size = info->diff_size;
	rec->blob_size = blob_size;
}

/* A layer that load already unpacked while reading it: checked against the config's diff id
 * before blob or tree is renamed into place (a mismatch leaves neither). Returns 1 when done,
 * 0 when the caller must unpack the (now published) blob itself: the stream was no tar we
 * could unpack, and unpacking the blob reports why. */
static int add_pending(struct keel_store *s, struct keel_layer_pending *p, const char *blob,
		       const char *chain, const char *diff_id, struct keel_layer_rec *rec,
		       keel_error_t *err)
{
	struct keel_layer_info info = {.size = p->size, .diff_size = p->diff_size};
	cleanup_close int fd = -1;
	if (strcmp(p->blob_digest, blob) != 0)
		return keel_err(err, EINVAL, "layer %s: streamed as %s", blob, p->blob_digest);
	if (p->tmp_dir[0] && strcmp(p->diff_id, diff_id) != 0)
		return keel_err_user(err, EILSEQ, "layer %s: layer content %s does not match its "
				     "diff id %s", blob, p->diff_id, diff_id);
	bool unpacked = p->tmp_dir[0] != '\0';
	if (keel_layer_pending_publish(s, p, chain, err) < 0)
		return -1;
	if (!unpacked)
		return 0;
	fd = keel_blob_open(s, blob, err);
	if (fd < 0)
		return -1;
	memcpy(info.chain_id, chain, KEEL_DIGEST_SIZE);
	memcpy(info.diff_id, diff_id, KEEL_DIGEST_SIZE);
	fill_rec(rec, &info, blob, fd, p->blob_size);
	return 1;
}

static int add_layer(struct keel_store *s, const char *blob, struct keel_layer_pending *p,
		     const char *parent_chain, const char *diff_id, struct keel_layer_rec *rec,
		     keel_error_t *err)
{
	struct keel_layer_info info;
	cleanup_close int fd = -1;
	char chain[KEEL_DIGEST_SIZE];
	struct stat st;
	int found;
	keel_layer_chain_id(parent_chain, diff_id, chain);
	found = keel_imgdb_layer(s, chain, rec, err);
	if (found < 0)
		return -1;
	if (found && keel_layer_exists(s, chain)) {
		rec->media_type = "";
		return 1; /* media type kept from the row: INSERT OR IGNORE */
	}
	if (p && !p->published) {
		int r = add_pending(s, p, blob, chain, diff_id, rec, err);
		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	fd = keel_blob_open(s, blob, err);
	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	if (keel_layer_unpack_fd(s, fd, parent_chain, diff_id, &info, err) < 0)
		return keel_err_wrap(err, "layer %s", blob);
	fill_rec(rec, &info, blob, fd, st.st_size);
	return 0;
}

static int add_locked(struct keel_store *s, const char *config, size_t len, char *const *blobs,
		      struct keel_layer_pending *const *pending, size_t n_blobs,
		      struct keel_image_new *img, char id[KEEL_DIGEST_SIZE], keel_error_t *err)
{
	cleanup_json json_t *cfg = NULL;
	struct keel_layer_rec *recs = NULL;
	json_error_t jerr;
	json_t *ids;
	size_t n;
	int ret = -1;
	cfg = json_loadb(config, len, 0, &jerr);
	if (!cfg)
		return keel_err_user(err, EINVAL, "image config: %s", jerr.text);
	if (keel_config_validate(cfg, &n, err) < 0)
		return -1;
	if (n != n_blobs)
		return keel_err_user(err, EINVAL, "image has %zu layers but its config lists %zu", n_blobs,
				n);
	if (keel_blob_put(s, config, len, NULL, id, err) < 0)
		return -1;
	recs = calloc(n + 1, sizeof(*recs));
	if (!recs)
		return keel_err(err, ENOMEM, "image");
	ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	for (size_t i = 0; i < n; i++)
		if (add_layer(s, blobs[i], pending ? pending[i] : NULL, i ? recs[i - 1].chain_id : NULL,
			      json_string_value(json_array_get(ids, i)), &recs[i], err) < 0)
			goto out;
	img->id = id;
	img->created = keel_parse_time(json_string_value(json_object_get(cfg, "created")));
	if (img->created < 0)
		img->created = 0;
	img->layers = recs;
	img->n_layers = n;
	ret = keel_imgdb_add(s, img, err);
out:
	free(recs);
	return ret;
}

int keel_image_add_pending(struct keel_store *s, const char *config, size_t len,
			   char *const *blobs, struct keel_layer_pending *const *pending,
			   size_t n_blobs, char *const *tags, size_t n_tags,
			   const char *manifest_digest, const char *parent,
			   char out_id[KEEL_DIGEST_SIZE], keel_error_t *err)
{
	struct keel_image_new img = {.tags = tags, .n_tags = n_tags,
				     .manifest_digest = manifest_digest, .parent = parent};
	bool locked = s->lock_mode != 0;
	int ret;
	if (!locked && keel_store_lock_shared(s, err) < 0)
		return -1;
	ret = add_locked(s, config, len, blobs, pending, n_blobs, &img, out_id, err);
	if (!locked)
		keel_store_unlock(s);
	return ret;
}

int keel_image_add(struct keel_store *s, const char *config, size_t len, char *const *blobs,
		   size_t n_blobs, char *const *tags, size_t n_tags, const char *manifest_digest,
		   const char *parent, char out_id[KEEL_DIGEST_SIZE], keel_error_t *err)
{
	return keel_image_add_pending(s, config, len, blobs, NULL, n_blobs, tags, n_tags,
				      manifest_digest, parent, out_id, err);
}
