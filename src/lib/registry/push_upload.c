/* The compressing upload and `push`'s entry point. An uncompressed layer is read once: each
 * 1 MiB goes through deflate (gzip, level $KEEL_PUSH_GZIP_LEVEL, default 1: pushes are bound
 * by the compressor) and sha256, and every chunk of output goes up as one PATCH, so there is
 * no temporary file and no second pass. */
#include "push.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "image/manifest.h"
#include "image/reference.h"
#include "pull.h"
#include "store/store_internal.h"
#include "util/cleanup.h"

#define CHUNK_DEFAULT (32 << 20)
#define IN_BUF	      (1 << 20)

struct chunker {
	size_t chunk; /* bytes per PATCH: $KEEL_PUSH_CHUNK_SIZE (>= 64 KiB) or 32 MiB */
	struct push_ctx *p;
	struct push_layer *l;
	char *location;
	char *buf;
	size_t len;
	int64_t sent;
	struct keel_sha256 hash;
};

static int patch(struct chunker *k, keel_error_t *err)
{
	struct keel_reg_resp r = { 0 };
	char range[64];
	struct keel_reg_req req = { .method = "PATCH",
				    .url = k->location,
				    .scope = k->p->scope,
				    .curl = k->p->curl,
				    .body = k->buf,
				    .body_len = k->len,
				    .body_fd = -1,
				    .content_type = "application/octet-stream",
				    .content_range = range };
	int ret = -1;
	if (!k->len)
		return 0;
	snprintf(range, sizeof(range), "%lld-%lld", (long long)k->sent,
		 (long long)(k->sent + (int64_t)k->len - 1));
	if (keel_reg_do(k->p->c, &req, &r, err) < 0)
		return -1;
	if (r.status == 202 && r.location) {
		free(k->location);
		k->location = steal_pointer(&r.location);
		k->sent += (int64_t)k->len;
		k->len = 0;
		pull_emit(k->p->o, KEEL_REG_PUSHING, k->l->id, k->sent, 0, NULL);
		ret = 0;
	} else {
		keel_reg_status_err(&r, "uploading", err);
	}
	keel_reg_resp_clear(&r);
	return ret;
}

static size_t chunk_size(void)
{
	const char *e = getenv("KEEL_PUSH_CHUNK_SIZE");
	long long v = e && *e ? atoll(e) : 0;
	return v >= 65536 && v <= (1LL << 30) ? (size_t)v : CHUNK_DEFAULT;
}

static int level(void)
{
	const char *e = getenv("KEEL_PUSH_GZIP_LEVEL");
	int l = e && *e ? atoi(e) : 1;
	return l < 0 || l > 9 ? 1 : l;
}

/* Incompressible data (already compressed files, random bytes) costs deflate level 1 about
 * 25 MB/s for nothing; stored blocks cost almost nothing. So each input block that did not
 * shrink by 3% switches the stream to level 0 for the next PROBE_EVERY blocks, then level 1 is
 * tried again. deflateParams keeps it one valid gzip stream. */
#define PROBE_EVERY 16

struct adapt {
	int level, cur, stored_left;
};

static void adapt_block(z_stream *z, struct adapt *a, size_t in, size_t out)
{
	int want = a->level;
	if (a->cur != 0 && in >= 64 * 1024 && out * 100 > in * 97)
		a->stored_left = PROBE_EVERY;
	if (a->stored_left > 0) {
		a->stored_left--;
		want = 0;
	}
	if (want != a->cur && deflateParams(z, want, Z_DEFAULT_STRATEGY) == Z_OK)
		a->cur = want;
}

static int deflate_fd(struct chunker *k, int fd, keel_error_t *err)
{
	z_stream z = { 0 };
	cleanup_free unsigned char *in = malloc(IN_BUF);
	struct adapt a = { .level = level(), .cur = level() };
	int flush = Z_NO_FLUSH, ret = -1;
	if (!in || deflateInit2(&z, a.level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return keel_err(err, ENOMEM, "gzip");
	while (flush != Z_FINISH) {
		ssize_t n = read(fd, in, IN_BUF);
		uLong out0 = z.total_out;
		if (n < 0) {
			keel_err_sys(err, "reading layer");
			goto out;
		}
		flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
		z.next_in = in;
		z.avail_in = (uInt)n;
		do {
			size_t before;
			if (k->len == k->chunk && patch(k, err) < 0)
				goto out;
			before = k->len;
			z.next_out = (unsigned char *)k->buf + k->len;
			z.avail_out = (uInt)(k->chunk - k->len);
			if (deflate(&z, flush) == Z_STREAM_ERROR) {
				keel_err(err, EIO, "gzip failed");
				goto out;
			}
			k->len = k->chunk - z.avail_out;
			keel_sha256_update(&k->hash, k->buf + before, k->len - before);
		} while (z.avail_out == 0);
		if (flush != Z_FINISH) {
			/* deflateParams may flush a block into the buffer: account for it */
			size_t before = k->len;
			z.next_out = (unsigned char *)k->buf + k->len;
			z.avail_out = (uInt)(k->chunk - k->len);
			adapt_block(&z, &a, (size_t)n, (size_t)(z.total_out - out0));
			k->len = k->chunk - z.avail_out;
			keel_sha256_update(&k->hash, k->buf + before, k->len - before);
		}
	}
	ret = 0;
out:
	deflateEnd(&z);
	return ret;
}

int push_gzip_upload(struct push_ctx *p, struct push_layer *l, int fd, keel_error_t *err)
{
	struct chunker k = { .p = p, .l = l, .chunk = chunk_size() };
	int ret = -1;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return keel_err_sys(err, "layer blob");
	k.buf = malloc(k.chunk);
	if (!k.buf)
		return keel_err(err, ENOMEM, "push");
	if (keel_sha256_init(&k.hash, err) < 0)
		goto out;
	pull_emit(p->o, KEEL_REG_PUSHING, l->id, 0, 0, NULL);
	if (push_start(p, "", NULL, &k.location, err) < 0 || deflate_fd(&k, fd, err) < 0 ||
	    patch(&k, err) < 0)
		goto out;
	keel_sha256_final(&k.hash, l->digest);
	l->size = k.sent;
	snprintf(l->media_type, sizeof(l->media_type), "%s", KEEL_MT_D2_LAYER_GZ);
	if (push_finish(p, k.location, l->digest, -1, 0, err) < 0)
		goto out;
	pull_emit(p->o, KEEL_REG_PUSHED, l->id, l->size, l->size, NULL);
	ret = 0;
out:
	keel_sha256_free(&k.hash);
	free(k.location);
	free(k.buf);
	return ret;
}

/* Every tag of repository name (full), or just the one given. */
static int tags_of(struct keel_store *s, const char *name, char ***out, size_t *n,
		   keel_error_t *err)
{
	sqlite3_stmt *st = keel_db_prepare(
	    s,
	    "SELECT name FROM tags WHERE substr(name, 1, length(?1) + 1) = ?1 || ':'"
	    " ORDER BY name",
	    err);
	int rc;
	*n = 0;
	*out = NULL;
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char **v = realloc(*out, (*n + 2) * sizeof(char *));
		if (!v)
			break;
		*out = v;
		v[*n] = strdup((const char *)sqlite3_column_text(st, 0));
		v[++*n] = NULL;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : keel_err(err, EIO, "listing tags of %s", name);
}

int keel_registry_push(struct keel_store *s, const char *refstr, const struct keel_reg_options *o,
		       keel_error_t *err)
{
	struct keel_ref ref;
	struct push_ctx p = { .s = s, .o = o };
	cleanup_free char *name = NULL, *line = NULL, *have = NULL;
	cleanup_strv char **tags = NULL;
	size_t n = 0;
	int ret = -1;
	if (keel_ref_parse(refstr, &ref, err) < 0)
		return -1;
	if (ref.digest) {
		keel_err_user(err, EINVAL, "cannot push a digest reference");
		goto out;
	}
	name = keel_ref_name(&ref);
	if (!name)
		goto oom;
	if (o && o->all_tags) {
		if (ref.tag) {
			keel_err_user(err, EINVAL, "tag can't be used with --all-tags/-a");
			goto out;
		}
		if (tags_of(s, name, &tags, &n, err) < 0)
			goto out;
	} else {
		if (keel_ref_default_tag(&ref, err) < 0)
			goto out;
		tags = calloc(2, sizeof(char *));
		if (!tags || !(tags[0] = keel_ref_string(&ref)))
			goto oom;
		n = 1;
	}
	if (!n || !(have = keel_imgdb_resolve(s, tags[0], NULL))) {
		cleanup_free char *fam = keel_ref_familiarize(n ? tags[0] : name);
		keel_err_user(err, ENOENT, "An image does not exist locally with the tag: %s",
			      fam ? fam : name);
		goto out;
	}
	p.domain = ref.domain;
	p.path = ref.path;
	snprintf(p.scope, sizeof(p.scope), "repository:%s:pull,push", ref.path);
	p.c = keel_reg_client_new(ref.domain, NULL, NULL, false, err);
	if (!p.c)
		goto out;
	if (asprintf(&line, "The push refers to repository [%s]", name) < 0)
		goto oom;
	pull_emit(o, KEEL_REG_MESSAGE, NULL, 0, 0, line);
	for (size_t i = 0; i < n; i++)
		if (push_tag(&p, tags[i], strrchr(tags[i], ':') + 1, err) < 0)
			goto out;
	ret = 0;
	goto out;
oom:
	keel_err(err, ENOMEM, "push");
out:
	keel_reg_client_free(p.c);
	keel_ref_free(&ref);
	return ret;
}
