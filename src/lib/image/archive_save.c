/* `save`: images as a docker-archive (docker 20.10's layout: <diff>/layer.tar, <config>.json,
 * manifest.json, repositories) or an oci-archive (oci-layout, index.json, blobs/sha256/).
 * Entries carry fixed owners and mtimes, so the same images give the same bytes. */
#include "image/image.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/manifest.h"
#include "image/reference.h"
#include "store/blob.h"
#include "store/layer.h"
#include "store/libarchive.h"
#include "util/cleanup.h"

struct saver {
	struct keel_store *s;
	struct archive *a;
	json_t *written; /* names already in the archive */
	keel_error_t *err;
};

static int header(struct saver *w, const char *name, mode_t type, int64_t size)
{
	struct archive_entry *e;
	int ret = 0;
	if (json_object_get(w->written, name))
		return 1;
	json_object_set_new(w->written, name, json_true());
	e = archive_entry_new();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_size(e, type == AE_IFDIR ? 0 : size);
	archive_entry_set_mtime(e, 0, 0);
	if (archive_write_header(w->a, e) != ARCHIVE_OK)
		ret = keel_err(w->err, EIO, "writing archive: %s", archive_error_string(w->a));
	archive_entry_free(e);
	return ret;
}

static int put_bytes(struct saver *w, const char *name, const void *buf, size_t len)
{
	int r = header(w, name, AE_IFREG, (int64_t)len);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (len && archive_write_data(w->a, buf, len) != (la_ssize_t)len)
		return keel_err(w->err, EIO, "writing archive: %s", archive_error_string(w->a));
	return 0;
}

static int put_json(struct saver *w, const char *name, json_t *j)
{
	cleanup_free char *d = json_dumps(j, JSON_COMPACT);
	if (!d)
		return keel_err(w->err, ENOMEM, "save");
	return put_bytes(w, name, d, strlen(d));
}

/* Copies a blob, decompressed when uncompress (docker-archive wants plain layer.tar). */
static int put_blob(struct saver *w, const char *name, const char *digest, bool uncompress,
		    int64_t plain_size)
{
	cleanup_close int fd = keel_blob_open(w->s, digest, w->err);
	struct archive *raw = NULL;
	struct archive_entry *re;
	char *buf = NULL;
	int64_t size = -1;
	ssize_t n;
	int r, ret = -1;
	if (fd < 0)
		return -1;
	if (uncompress) {
		size = plain_size;
	} else {
		size = lseek(fd, 0, SEEK_END);
		lseek(fd, 0, SEEK_SET);
	}
	r = header(w, name, AE_IFREG, size);
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (!(buf = malloc(256 * 1024)))
		return keel_err(w->err, ENOMEM, "save");
	if (uncompress) {
		raw = archive_read_new();
		archive_read_support_filter_all(raw);
		archive_read_support_format_raw(raw);
		if (archive_read_open_fd(raw, fd, 256 * 1024) != ARCHIVE_OK ||
		    archive_read_next_header(raw, &re) != ARCHIVE_OK) {
			keel_err(w->err, EIO, "blob %s: %s", digest, archive_error_string(raw));
			goto out;
		}
	}
	while ((n = raw ? archive_read_data(raw, buf, 256 * 1024) : read(fd, buf, 256 * 1024)) > 0)
		if (archive_write_data(w->a, buf, (size_t)n) != n) {
			keel_err(w->err, EIO, "writing archive: %s", archive_error_string(w->a));
			goto out;
		}
	if (n < 0) {
		keel_err(w->err, EIO, "reading blob %s", digest);
		goto out;
	}
	ret = 0;
out:
	if (raw)
		archive_read_free(raw);
	free(buf);
	return ret;
}

static const char *blob_media_type(struct keel_store *s, const char *digest)
{
	unsigned char m[4] = {0};
	keel_error_t e;
	cleanup_close int fd = keel_blob_open(s, digest, &e);
	if (fd >= 0 && pread(fd, m, 4, 0) == 4) {
		if (m[0] == 0x1f && m[1] == 0x8b)
			return KEEL_MT_OCI_LAYER_GZ;
		if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
			return KEEL_MT_OCI_LAYER_ZS;
	}
	return KEEL_MT_OCI_LAYER;
}

/* The layer records of an image, lowest first. */
static struct keel_layer_rec *layer_recs(struct keel_store *s, const struct keel_image *img,
					 keel_error_t *err)
{
	struct keel_layer_rec *v = calloc(img->n_layers + 1, sizeof(*v));
	char chain[KEEL_DIGEST_SIZE];
	if (!v) {
		keel_err(err, ENOMEM, "save");
		return NULL;
	}
	for (size_t i = 0; i < img->n_layers; i++) {
		keel_layer_chain_id(i ? chain : NULL, img->diff_ids[i], chain);
		if (keel_imgdb_layer(s, chain, &v[i], err) <= 0) {
			if (err->errnum == 0)
				keel_err_user(err, ENOENT, "layer %s is missing", chain);
			free(v);
			return NULL;
		}
	}
	return v;
}

/* Reference given by name -> its full tag; by id -> NULL. */
static char *ref_tag(struct keel_store *s, const char *ref, const char *id)
{
	const char *hex = !strncmp(ref, "sha256:", 7) ? ref + 7 : ref;
	if (keel_is_id_prefix(ref) && !strncmp(id + 7, hex, strlen(hex)))
		return NULL;
	return keel_image_normalize_tag(ref, NULL);
	(void)s;
}

static int docker_one(struct saver *w, const struct keel_image *img, const char *tag,
		      json_t *manifest, json_t *repos, char *cfg, size_t cfg_len)
{
	cleanup_free struct keel_layer_rec *recs = layer_recs(w->s, img, w->err);
	json_t *layers = json_array(), *entry, *tags = json_array();
	char name[128];
	if (!recs)
		return -1;
	for (size_t i = 0; i < img->n_layers; i++) {
		const char *hex = keel_digest_hex(recs[i].diff_id);
		snprintf(name, sizeof(name), "%s", hex);
		if (header(w, name, AE_IFDIR, 0) < 0)
			return -1;
		snprintf(name, sizeof(name), "%s/VERSION", hex);
		if (put_bytes(w, name, "1.0", 3) < 0)
			return -1;
		snprintf(name, sizeof(name), "%s/layer.tar", hex);
		if (put_blob(w, name, recs[i].blob_digest,
			     strcmp(recs[i].blob_digest, recs[i].diff_id) != 0,
			     recs[i].diff_size) < 0)
			return -1;
		json_array_append_new(layers, json_string(name));
	}
	snprintf(name, sizeof(name), "%s.json", keel_digest_hex(img->id));
	if (put_bytes(w, name, cfg, cfg_len) < 0)
		return -1;
	if (tag) {
		cleanup_free char *fam = keel_ref_familiarize(tag);
		char *colon = fam ? strrchr(fam, ':') : NULL;
		json_array_append_new(tags, json_string(fam));
		if (colon && img->n_layers) {
			*colon = '\0';
			json_t *r = json_object_get(repos, fam);
			if (!r)
				json_object_set_new(repos, fam, r = json_object());
			json_object_set_new(r, colon + 1, json_string(keel_digest_hex(
								   recs[img->n_layers - 1].diff_id)));
		}
	}
	entry = json_pack("{s:s, s:o, s:o}", "Config", name, "RepoTags", tags, "Layers", layers);
	return json_array_append_new(manifest, entry) == 0 ? 0 : -1;
}

static int oci_one(struct saver *w, const struct keel_image *img, const char *tag, json_t *index,
		   char *cfg, size_t cfg_len)
{
	cleanup_free struct keel_layer_rec *recs = layer_recs(w->s, img, w->err);
	cleanup_json json_t *m = NULL;
	cleanup_free char *mbuf = NULL;
	json_t *layers = json_array(), *desc;
	char name[128], md[KEEL_DIGEST_SIZE];
	if (!recs)
		return -1;
	if (header(w, "blobs", AE_IFDIR, 0) < 0 || header(w, "blobs/sha256", AE_IFDIR, 0) < 0)
		return -1;
	for (size_t i = 0; i < img->n_layers; i++) {
		snprintf(name, sizeof(name), "blobs/sha256/%s", keel_digest_hex(recs[i].blob_digest));
		if (put_blob(w, name, recs[i].blob_digest, false, 0) < 0)
			return -1;
		json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType",
							blob_media_type(w->s, recs[i].blob_digest),
							"digest", recs[i].blob_digest, "size",
							(json_int_t)recs[i].blob_size));
	}
	snprintf(name, sizeof(name), "blobs/sha256/%s", keel_digest_hex(img->id));
	if (put_bytes(w, name, cfg, cfg_len) < 0)
		return -1;
	m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
		      KEEL_MT_OCI_MANIFEST, "config", "mediaType", KEEL_MT_OCI_CONFIG, "digest",
		      img->id, "size", (json_int_t)cfg_len, "layers", layers);
	if (!m || !(mbuf = json_dumps(m, JSON_COMPACT)))
		return keel_err(w->err, ENOMEM, "save");
	keel_sha256_digest(mbuf, strlen(mbuf), md);
	snprintf(name, sizeof(name), "blobs/sha256/%s", keel_digest_hex(md));
	if (put_bytes(w, name, mbuf, strlen(mbuf)) < 0)
		return -1;
	desc = json_pack("{s:s, s:s, s:I, s:{s:s, s:s}}", "mediaType", KEEL_MT_OCI_MANIFEST, "digest",
			 md, "size", (json_int_t)strlen(mbuf), "platform", "architecture",
			 json_string_value(json_object_get(img->config, "architecture")) ?: "amd64",
			 "os", json_string_value(json_object_get(img->config, "os")) ?: "linux");
	if (tag) {
		const char *colon = strrchr(tag, ':');
		json_object_set_new(desc, "annotations",
				    json_pack("{s:s, s:s}", "io.containerd.image.name", tag,
					      "org.opencontainers.image.ref.name",
					      colon ? colon + 1 : "latest"));
	}
	return json_array_append_new(json_object_get(index, "manifests"), desc);
}

static int save_all(struct saver *w, char *const *refs, size_t n, enum keel_archive_format f)
{
	cleanup_json json_t *manifest = json_array();
	cleanup_json json_t *repos = json_object();
	cleanup_json json_t *index = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
					       KEEL_MT_OCI_INDEX, "manifests");
	for (size_t i = 0; i < n; i++) {
		struct keel_image *img = keel_image_get(w->s, refs[i], w->err);
		cleanup_free char *tag = NULL;
		cleanup_free char *cfg = NULL;
		ssize_t len;
		int r;
		if (!img)
			return -1;
		tag = ref_tag(w->s, refs[i], img->id);
		len = keel_blob_read(w->s, img->id, &cfg, w->err);
		r = len < 0 ? -1
		    : f == KEEL_ARCHIVE_DOCKER
			    ? docker_one(w, img, tag, manifest, repos, cfg, (size_t)len)
			    : oci_one(w, img, tag, index, cfg, (size_t)len);
		keel_image_free(img);
		if (r < 0)
			return -1;
	}
	if (f == KEEL_ARCHIVE_DOCKER)
		return put_json(w, "manifest.json", manifest) < 0 ||
			       (json_object_size(repos) && put_json(w, "repositories", repos) < 0)
			       ? -1
			       : 0;
	if (put_bytes(w, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30) < 0)
		return -1;
	return put_json(w, "index.json", index);
}

static la_ssize_t fd_write(struct archive *a, void *ud, const void *buf, size_t len)
{
	int fd = *(int *)ud;
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			archive_set_error(a, errno, "write: %s", strerror(errno));
			return -1;
		}
		done += (size_t)n;
	}
	return (la_ssize_t)len;
}

int keel_archive_save(struct keel_store *s, char *const *refs, size_t n, enum keel_archive_format f,
		      int fd, keel_error_t *err)
{
	struct saver w = {.s = s, .err = err, .written = json_object()};
	int ret;
	w.a = archive_write_new();
	if (!w.a || !w.written) {
		json_decref(w.written);
		return keel_err(err, ENOMEM, "save");
	}
	archive_write_set_format_pax_restricted(w.a);
	archive_write_set_bytes_in_last_block(w.a, 1);
	if (archive_write_open(w.a, &fd, NULL, fd_write, NULL) != ARCHIVE_OK)
		ret = keel_err(err, EIO, "writing archive: %s", archive_error_string(w.a));
	else
		ret = save_all(&w, refs, n, f);
	if (archive_write_close(w.a) != ARCHIVE_OK && ret == 0)
		ret = keel_err(err, EIO, "writing archive: %s", archive_error_string(w.a));
	archive_write_free(w.a);
	json_decref(w.written);
	return ret;
}
