/* `push`: for each layer a HEAD (the registry may have it), else a cross-repository mount
 * (when we know a repository of that registry that has it), else an upload: a blob that is
 * already compressed goes up monolithically from the store; an uncompressed layer is gzip'd
 * on the fly in chunks (PATCH) and its compressed digest remembered, so the next push of the
 * same layer is a HEAD. Then the config and the manifest (Docker schema2, or OCI when a layer
 * is zstd), whose digest is printed as Docker does and recorded as a repo digest. */
#include "push.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/manifest.h"
#include "image/reference.h"
#include "pull.h"
#include "store/blob.h"
#include "store/imagedb.h"
#include "store/layer.h"
#include "util/cleanup.h"

static int blob_exists(struct push_ctx *p, const char *digest, keel_error_t *err)
{
	cleanup_free char *url = NULL;
	struct keel_reg_resp r = { 0 };
	struct keel_reg_req req = {
		.method = "HEAD", .scope = p->scope, .curl = p->curl, .body_fd = -1
	};
	int ret;
	if (asprintf(&url, "/v2/%s/blobs/%s", p->path, digest) < 0)
		return keel_err(err, ENOMEM, "push");
	req.url = url;
	ret = keel_reg_do(p->c, &req, &r, err);
	if (ret == 0 && r.status != 200 && r.status != 404)
		ret = keel_reg_status_err(&r, digest, err);
	else if (ret == 0)
		ret = r.status == 200;
	keel_reg_resp_clear(&r);
	return ret;
}

/* POST an upload (or a mount from `from`): 1 mounted, 0 with *location to upload to. */
int push_start(struct push_ctx *p, const char *digest, const char *from, char **location,
	       keel_error_t *err)
{
	cleanup_free char *url = NULL, *scope = NULL;
	struct keel_reg_resp r = { 0 };
	struct keel_reg_req req = {
		.method = "POST", .scope = p->scope, .curl = p->curl, .body_fd = -1
	};
	int ret = -1;
	if (from) {
		if (asprintf(&url, "/v2/%s/blobs/uploads/?mount=%s&from=%s", p->path, digest,
			     from) < 0 ||
		    asprintf(&scope, "%s repository:%s:pull", p->scope, from) < 0)
			return keel_err(err, ENOMEM, "push");
		req.scope = scope;
	} else if (asprintf(&url, "/v2/%s/blobs/uploads/", p->path) < 0) {
		return keel_err(err, ENOMEM, "push");
	}
	req.url = url;
	if (keel_reg_do(p->c, &req, &r, err) < 0)
		return -1;
	if (r.status == 201 && from)
		ret = 1;
	else if (r.status == 202 && r.location)
		*location = steal_pointer(&r.location), ret = 0;
	else
		keel_reg_status_err(&r, "starting upload", err);
	keel_reg_resp_clear(&r);
	return ret;
}

/* PUT <location>&digest=D with the body (NULL: none, the data went up in PATCHes). */
int push_finish(struct push_ctx *p, const char *location, const char *digest, int fd, int64_t len,
		keel_error_t *err)
{
	cleanup_free char *url = NULL;
	struct keel_reg_resp r = { 0 };
	struct keel_reg_req req = { .method = "PUT",
				    .scope = p->scope,
				    .curl = p->curl,
				    .body_fd = fd,
				    .body_fd_len = len,
				    .content_type = "application/octet-stream" };
	int ret = -1;
	if (asprintf(&url, "%s%sdigest=%s", location, strchr(location, '?') ? "&" : "?", digest) <
	    0)
		return keel_err(err, ENOMEM, "push");
	req.url = url;
	if (keel_reg_do(p->c, &req, &r, err) < 0)
		return -1;
	if (r.status == 201)
		ret = 0;
	else
		keel_reg_status_err(&r, digest, err);
	keel_reg_resp_clear(&r);
	return ret;
}

static int put_buffer(struct push_ctx *p, const char *digest, const char *buf, size_t len,
		      keel_error_t *err)
{
	cleanup_free char *loc = NULL, *url = NULL;
	struct keel_reg_resp r = { 0 };
	struct keel_reg_req req = { .method = "PUT",
				    .scope = p->scope,
				    .curl = p->curl,
				    .body = buf,
				    .body_len = len,
				    .body_fd = -1,
				    .content_type = "application/octet-stream" };
	int ret = blob_exists(p, digest, err);
	if (ret != 0)
		return ret < 0 ? -1 : 0;
	if (push_start(p, digest, NULL, &loc, err) < 0)
		return -1;
	if (asprintf(&url, "%s%sdigest=%s", loc, strchr(loc, '?') ? "&" : "?", digest) < 0)
		return keel_err(err, ENOMEM, "push");
	req.url = url;
	if (keel_reg_do(p->c, &req, &r, err) < 0)
		return -1;
	ret = r.status == 201 ? 0 : keel_reg_status_err(&r, digest, err);
	keel_reg_resp_clear(&r);
	return ret;
}

static const char *sniff(int fd)
{
	unsigned char m[4] = { 0 };
	if (pread(fd, m, sizeof(m), 0) == (ssize_t)sizeof(m)) {
		if (m[0] == 0x1f && m[1] == 0x8b)
			return KEEL_MT_D2_LAYER_GZ;
		if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
			return KEEL_MT_OCI_LAYER_ZS;
	}
	return NULL;
}

static int upload_stored(struct push_ctx *p, struct push_layer *l, int fd, const char *from,
			 keel_error_t *err)
{
	cleanup_free char *loc = NULL;
	int m = push_start(p, l->digest, from, &loc, err);
	if (m < 0)
		return -1;
	if (m == 1) {
		pull_emit(p->o, KEEL_REG_MOUNTED, l->id, 0, 0, from);
		return 0;
	}
	pull_emit(p->o, KEEL_REG_PUSHING, l->id, 0, l->size, NULL);
	if (lseek(fd, 0, SEEK_SET) < 0)
		return keel_err_sys(err, "blob");
	if (push_finish(p, loc, l->digest, fd, l->size, err) < 0)
		return -1;
	pull_emit(p->o, KEEL_REG_PUSHED, l->id, l->size, l->size, NULL);
	return 0;
}

/* Planning (main thread: the database): which blob carries layer l, where it might be
 * mounted from. l->diff_id set by the caller. */
static int plan_layer(struct push_ctx *p, const char *chain, struct push_layer *l,
		      keel_error_t *err)
{
	struct keel_layer_rec rec;
	const char *mt;
	int found = keel_imgdb_layer(p->s, chain, &rec, err);
	if (found <= 0)
		return found < 0 ? -1
				 : keel_err(err, ENOENT, "layer %s is not in the store", chain);
	l->fd = keel_blob_open(p->s, rec.blob_digest, err);
	if (l->fd < 0)
		return keel_err_wrap(err, "layer %s", l->diff_id);
	mt = sniff(l->fd);
	l->stored = mt != NULL;
	if (mt) {
		snprintf(l->digest, sizeof(l->digest), "%s", rec.blob_digest);
		snprintf(l->media_type, sizeof(l->media_type), "%s", mt);
		l->size = rec.blob_size;
		l->known = true;
	} else {
		found = keel_regmeta_compressed(p->s, l->diff_id, l->digest, &l->size,
						l->media_type, err);
		if (found < 0)
			return -1;
		l->known = found;
	}
	if (l->known && keel_regmeta_source(p->s, l->digest, p->domain, l->from, err) < 0)
		return -1;
	if (!strcmp(l->from, p->path))
		l->from[0] = '\0';
	return 0;
}

/* The transfer (a worker thread: HTTP only): HEAD, mount, or upload. */
static int transfer_layer(struct push_ctx *p, struct push_layer *l, keel_error_t *err)
{
	if (l->known) {
		int have = blob_exists(p, l->digest, err);
		if (have < 0)
			return -1;
		if (have) {
			pull_emit(p->o, KEEL_REG_EXISTS, l->id, 0, 0, NULL);
			return 0;
		}
	}
	if (l->stored)
		return upload_stored(p, l, l->fd, l->from[0] ? l->from : NULL, err);
	if (l->from[0]) {
		cleanup_free char *loc = NULL;
		int m = push_start(p, l->digest, l->from, &loc, err);
		if (m < 0)
			return -1;
		if (m == 1) {
			pull_emit(p->o, KEEL_REG_MOUNTED, l->id, 0, 0, l->from);
			return 0;
		}
	}
	l->compressed = true;
	return push_gzip_upload(p, l, l->fd, err);
}

struct workers {
	struct push_ctx *p;
	struct push_layer *ls;
	size_t n, next;
	pthread_mutex_t lock;
	bool failed;
	keel_error_t err;
};

static void *push_worker(void *arg)
{
	struct workers *w = arg;
	struct push_ctx mine = *w->p;
	keel_error_t err = { 0 };
	mine.curl = keel_reg_curl_new(&err);
	for (;;) {
		struct push_layer *l = NULL;
		pthread_mutex_lock(&w->lock);
		if (!w->failed && w->next < w->n)
			l = &w->ls[w->next++];
		pthread_mutex_unlock(&w->lock);
		if (!l)
			break;
		if (!mine.curl || transfer_layer(&mine, l, &err) < 0) {
			if (err.errnum != EACCES)
				keel_err_wrap(&err, "layer %s", l->id);
			pthread_mutex_lock(&w->lock);
			if (!w->failed)
				w->err = err;
			w->failed = true;
			pthread_mutex_unlock(&w->lock);
			break;
		}
	}
	keel_reg_curl_free(mine.curl);
	return NULL;
}

/* The layers, o->parallel (3) at a time. */
static int transfer_all(struct push_ctx *p, struct push_layer *ls, size_t n, keel_error_t *err)
{
	struct workers w = { .p = p, .ls = ls, .n = n };
	int want = p->o && p->o->parallel > 0 ? p->o->parallel : 3, started = 0;
	pthread_t t[16];
	if (want > 16)
		want = 16;
	pthread_mutex_init(&w.lock, NULL);
	for (int i = 0; i < want && (size_t)i < n; i++)
		if (pthread_create(&t[started], NULL, push_worker, &w) == 0)
			started++;
	if (!started && n)
		push_worker(&w);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&w.lock);
	if (w.failed) {
		*err = w.err;
		return -1;
	}
	return 0;
}

static json_t *descriptor(const char *mt, const char *digest, int64_t size)
{
	return json_pack("{s:s,s:I,s:s}", "mediaType", mt, "size", (json_int_t)size, "digest",
			 digest);
}

static char *build_manifest(const char *cfg_digest, size_t cfg_len, const struct push_layer *ls,
			    size_t n, const char **mt_out)
{
	bool oci = false;
	json_t *layers = json_array(), *m;
	char *text;
	for (size_t i = 0; i < n; i++)
		oci |= strcmp(ls[i].media_type, KEEL_MT_D2_LAYER_GZ) != 0;
	*mt_out = oci ? KEEL_MT_OCI_MANIFEST : KEEL_MT_D2_MANIFEST;
	for (size_t i = 0; i < n; i++) {
		const char *lmt = ls[i].media_type;
		if (oci && !strcmp(lmt, KEEL_MT_D2_LAYER_GZ))
			lmt = KEEL_MT_OCI_LAYER_GZ;
		json_array_append_new(layers, descriptor(lmt, ls[i].digest, ls[i].size));
	}
	m = json_pack(
	    "{s:i,s:s,s:o,s:o}", "schemaVersion", 2, "mediaType", *mt_out, "config",
	    descriptor(oci ? KEEL_MT_OCI_CONFIG : KEEL_MT_D2_CONFIG, cfg_digest, (int64_t)cfg_len),
	    "layers", layers);
	text = m ? json_dumps(m, JSON_INDENT(3) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(m);
	return text;
}

static int put_manifest(struct push_ctx *p, const char *tag, const char *body, const char *mt,
			char digest[KEEL_DIGEST_SIZE], keel_error_t *err)
{
	cleanup_free char *url = NULL;
	struct keel_reg_resp r = { 0 };
	struct keel_reg_req req = { .method = "PUT",
				    .scope = p->scope,
				    .curl = p->curl,
				    .body = body,
				    .body_len = strlen(body),
				    .body_fd = -1,
				    .content_type = mt };
	int ret;
	keel_sha256_digest(body, strlen(body), digest);
	if (asprintf(&url, "/v2/%s/manifests/%s", p->path, tag) < 0)
		return keel_err(err, ENOMEM, "push");
	req.url = url;
	if (keel_reg_do(p->c, &req, &r, err) < 0)
		return -1;
	ret = r.status == 201 || r.status == 200 ? 0 : keel_reg_status_err(&r, NULL, err);
	keel_reg_resp_clear(&r);
	return ret;
}

static void layers_free(struct push_layer *ls, size_t n)
{
	for (size_t i = 0; ls && i < n; i++)
		if (ls[i].fd >= 0)
			close(ls[i].fd);
	free(ls);
}

static struct push_layer *plan_all(struct push_ctx *p, const struct keel_image *img,
				   keel_error_t *err)
{
	struct push_layer *ls = calloc(img->n_layers + 1, sizeof(*ls));
	char chain[KEEL_DIGEST_SIZE] = "";
	if (!ls) {
		keel_err(err, ENOMEM, "push");
		return NULL;
	}
	for (size_t i = 0; i < img->n_layers; i++)
		ls[i].fd = -1;
	for (size_t i = 0; i < img->n_layers; i++) {
		struct push_layer *l = &ls[i];
		snprintf(l->diff_id, sizeof(l->diff_id), "%s", img->diff_ids[i]);
		snprintf(l->id, sizeof(l->id), "%.12s", keel_digest_hex(l->diff_id));
		pull_emit(p->o, KEEL_REG_WAITING, l->id, 0, 0, NULL);
		keel_layer_chain_id(i ? chain : NULL, l->diff_id, chain);
		if (plan_layer(p, chain, l, err) < 0) {
			layers_free(ls, img->n_layers);
			return NULL;
		}
	}
	return ls;
}

int push_tag(struct push_ctx *p, const char *full, const char *tag, keel_error_t *err)
{
	struct keel_image *img = keel_image_get(p->s, full, err);
	struct push_layer *ls = NULL;
	cleanup_free char *cfg = NULL, *man = NULL;
	char digest[KEEL_DIGEST_SIZE], line[256];
	const char *mt;
	ssize_t cfg_len;
	int ret = -1;
	if (!img)
		return -1;
	cfg_len = keel_blob_read(p->s, img->id, &cfg, err);
	if (cfg_len < 0 || !(ls = plan_all(p, img, err)) ||
	    transfer_all(p, ls, img->n_layers, err) < 0)
		goto out;
	for (size_t i = 0; i < img->n_layers; i++) {
		if (ls[i].compressed &&
		    keel_regmeta_remember(p->s, ls[i].diff_id, ls[i].digest, ls[i].size,
					  ls[i].media_type, err) < 0)
			goto out;
		keel_regmeta_add_source(p->s, ls[i].digest, p->domain, p->path, NULL);
	}
	if (put_buffer(p, img->id, cfg, (size_t)cfg_len, err) < 0)
		goto out;
	man = build_manifest(img->id, (size_t)cfg_len, ls, img->n_layers, &mt);
	if (!man) {
		keel_err(err, ENOMEM, "manifest");
		goto out;
	}
	if (put_manifest(p, tag, man, mt, digest, err) < 0)
		goto out;
	snprintf(line, sizeof(line), "%s: digest: %s size: %zu", tag, digest, strlen(man));
	pull_emit(p->o, KEEL_REG_MESSAGE, NULL, 0, 0, line);
	keel_imgdb_repo_digest(p->s, img->id, full, digest, NULL);
	ret = 0;
out:
	layers_free(ls, img->n_layers);
	keel_image_free(img);
	return ret;
}
