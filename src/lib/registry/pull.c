/* `pull`: reference -> manifest (through an index when the registry has one) -> config ->
 * layers -> one transaction recording the image. Every document is checked against the
 * digest that named it (or the registry's Docker-Content-Digest for a tag) and its size. */
#include "pull.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/reference.h"
#include "store/blob.h"
#include "store/layer.h"
#include "store/store_internal.h"
#include "util/cleanup.h"

#define MANIFEST_MAX (4 << 20)
#define CONFIG_MAX   (16 << 20)

static const char ACCEPT[] =
    KEEL_MT_OCI_MANIFEST ", " KEEL_MT_D2_MANIFEST ", " KEEL_MT_OCI_INDEX ", " KEEL_MT_D2_LIST;

struct doc {
	char *body;
	size_t len;
	char digest[KEEL_DIGEST_SIZE];
	char media_type[128];
};

static void doc_clear(struct doc *d)
{
	free(d->body);
	memset(d, 0, sizeof(*d));
}

/* GET a manifest by tag or digest; verified against the digest when one named it. */
static int get_manifest(struct keel_reg_client *c, const char *repo, const char *scope,
			const char *what, const char *expect, int64_t size, struct doc *out,
			keel_error_t *err)
{
	cleanup_free char *url = NULL;
	struct keel_reg_resp r = { 0 };
	struct keel_reg_req req = { .url = NULL,
				    .scope = scope,
				    .accept = ACCEPT,
				    .body_fd = -1,
				    .max_body = MANIFEST_MAX };
	int ret = -1;
	if (asprintf(&url, "/v2/%s/manifests/%s", repo, what) < 0)
		return keel_err(err, ENOMEM, "pull");
	req.url = url;
	if (keel_reg_do(c, &req, &r, err) < 0)
		return -1;
	if (r.status != 200) {
		keel_reg_status_err(&r, NULL, err);
		goto out;
	}
	keel_sha256_digest(r.body ? r.body : "", r.len, out->digest);
	if (expect && strcmp(expect, out->digest) != 0) {
		keel_err_user(err, EILSEQ, "manifest %s: content has digest %s", expect,
			      out->digest);
		goto out;
	}
	if (!expect && r.digest[0] && strcmp(r.digest, out->digest) != 0) {
		keel_err_user(err, EILSEQ, "manifest %s: registry says digest %s, content has %s",
			      what, r.digest, out->digest);
		goto out;
	}
	if (size >= 0 && (int64_t)r.len != size) {
		keel_err_user(err, EILSEQ, "manifest %s: %zu bytes, its descriptor says %lld", what,
			      r.len, (long long)size);
		goto out;
	}
	snprintf(out->media_type, sizeof(out->media_type), "%s", r.content_type);
	out->body = steal_pointer(&r.body);
	out->len = r.len;
	ret = 0;
out:
	keel_reg_resp_clear(&r);
	return ret;
}

static int get_config(struct keel_reg_client *c, const char *repo, const char *scope,
		      const struct keel_descriptor *d, struct doc *out, keel_error_t *err)
{
	cleanup_free char *url = NULL;
	struct keel_reg_resp r = { 0 };
	struct keel_reg_req req = { .scope = scope, .body_fd = -1, .max_body = CONFIG_MAX };
	int ret = -1;
	if (asprintf(&url, "/v2/%s/blobs/%s", repo, d->digest) < 0)
		return keel_err(err, ENOMEM, "pull");
	req.url = url;
	if (keel_reg_do(c, &req, &r, err) < 0)
		return keel_err_wrap(err, "config %s", d->digest);
	if (r.status != 200) {
		keel_reg_status_err(&r, "config", err);
		goto out;
	}
	keel_sha256_digest(r.body ? r.body : "", r.len, out->digest);
	if (strcmp(out->digest, d->digest) != 0 || (int64_t)r.len != d->size) {
		keel_err_user(err, EILSEQ,
			      "config %s: got %zu bytes with digest %s (expected %lld)", d->digest,
			      r.len, out->digest, (long long)d->size);
		goto out;
	}
	out->body = steal_pointer(&r.body);
	out->len = r.len;
	ret = 0;
out:
	keel_reg_resp_clear(&r);
	return ret;
}

/* The image manifest for the wanted platform: the document itself, or its entry in an index. */
static int resolve_manifest(struct keel_reg_client *c, const struct keel_ref *ref,
			    const char *scope, const struct keel_reg_options *o, struct doc *m,
			    keel_error_t *err)
{
	struct keel_platform p;
	cleanup_json json_t *ix = NULL;
	json_t *ent;
	int i;
	if (get_manifest(c, ref->path, scope, ref->digest ? ref->digest : ref->tag, ref->digest, -1,
			 m, err) < 0)
		return -1;
	ix = json_loadb(m->body, m->len, 0, NULL);
	if (!ix)
		return keel_err_user(err, EINVAL, "manifest %s: not JSON", m->digest);
	if (!m->media_type[0] || !strcmp(m->media_type, "application/json") ||
	    !strcmp(m->media_type, "text/plain"))
		snprintf(m->media_type, sizeof(m->media_type), "%s",
			 json_string_value(json_object_get(ix, "mediaType")) ?: "");
	if (!m->media_type[0] && json_is_array(json_object_get(ix, "manifests")))
		snprintf(m->media_type, sizeof(m->media_type), KEEL_MT_OCI_INDEX);
	if (!keel_media_is_index(m->media_type))
		return 0;
	if (keel_platform_parse(o ? o->platform : NULL, &p, err) < 0)
		return -1;
	i = keel_platform_select(ix, &p, err);
	if (i < 0)
		return -1;
	ent = json_array_get(json_object_get(ix, "manifests"), (size_t)i);
	{
		const char *d = json_string_value(json_object_get(ent, "digest"));
		json_int_t size = json_integer_value(json_object_get(ent, "size"));
		char dg[KEEL_DIGEST_SIZE];
		if (!d || !keel_digest_valid(d))
			return keel_err_user(err, EINVAL, "index %s: bad digest in entry %d",
					     m->digest, i);
		snprintf(dg, sizeof(dg), "%s", d);
		doc_clear(m);
		return get_manifest(c, ref->path, scope, dg, dg, size, m, err);
	}
}

static int plan(struct pull_ctx *ctx, const struct keel_manifest *man, json_t *cfg,
		keel_error_t *err)
{
	json_t *ids = json_object_get(json_object_get(cfg, "rootfs"), "diff_ids");
	ctx->n = man->n_layers;
	ctx->jobs = calloc(ctx->n + 1, sizeof(*ctx->jobs));
	if (!ctx->jobs)
		return keel_err(err, ENOMEM, "pull");
	for (size_t i = 0; i < ctx->n; i++) {
		struct pull_job *j = &ctx->jobs[i];
		int found;
		j->desc = &man->layers[i];
		j->diff_id = json_string_value(json_array_get(ids, i));
		if (i)
			memcpy(j->parent_chain, ctx->jobs[i - 1].chain_id, KEEL_DIGEST_SIZE);
		keel_layer_chain_id(i ? j->parent_chain : NULL, j->diff_id, j->chain_id);
		snprintf(j->id, sizeof(j->id), "%.12s", keel_digest_hex(j->desc->digest));
		if (!keel_media_is_layer(j->desc->media_type))
			return keel_err_user(err, EINVAL, "layer %s: unsupported media type %s",
					     j->desc->digest, j->desc->media_type);
		found = keel_imgdb_layer(ctx->s, j->chain_id, &j->rec, err);
		if (found < 0)
			return -1;
		if (found && keel_layer_exists(ctx->s, j->chain_id)) {
			j->kind = JOB_SKIP;
			j->rec.media_type = "";
			pull_emit(ctx->o, KEEL_REG_EXISTS, j->id, 0, 0, NULL);
			continue;
		}
		j->kind = keel_blob_size(ctx->s, j->desc->digest, NULL) == j->desc->size
			      ? JOB_LOCAL
			      : JOB_FETCH;
		pull_emit(ctx->o, KEEL_REG_WAITING, j->id, 0, j->desc->size, NULL);
	}
	return 0;
}

static int record(struct pull_ctx *ctx, const struct keel_ref *ref, const struct doc *cfgdoc,
		  json_t *cfg, const char *manifest_digest, keel_error_t *err)
{
	cleanup_free struct keel_layer_rec *recs = calloc(ctx->n + 1, sizeof(*recs));
	cleanup_free char *tag = NULL, *rd = NULL, *name = keel_ref_name(ref);
	struct keel_image_new img = { .id = cfgdoc->digest, .manifest_digest = manifest_digest };
	if (!recs || !name)
		return keel_err(err, ENOMEM, "pull");
	if (keel_blob_put(ctx->s, cfgdoc->body, cfgdoc->len, cfgdoc->digest, NULL, err) < 0)
		return -1;
	for (size_t i = 0; i < ctx->n; i++)
		recs[i] = ctx->jobs[i].rec;
	img.layers = recs;
	img.n_layers = ctx->n;
	img.created = keel_parse_time(json_string_value(json_object_get(cfg, "created")));
	if (img.created < 0)
		img.created = 0;
	if (ref->tag && !ref->digest) { /* name:tag@digest pulls by digest, tags nothing */
		if (asprintf(&tag, "%s:%s", name, ref->tag) < 0)
			return keel_err(err, ENOMEM, "pull");
		img.tags = &tag;
		img.n_tags = 1;
	}
	rd = keel_imgdb_repo_digest_name(name, manifest_digest, err);
	if (!rd)
		return -1;
	img.repo_digests = &rd;
	img.n_repo_digests = 1;
	if (keel_imgdb_add(ctx->s, &img, err) < 0)
		return -1;
	for (size_t i = 0; i < ctx->n; i++)
		if (ctx->jobs[i].kind != JOB_SKIP &&
		    (keel_regmeta_remember(ctx->s, ctx->jobs[i].rec.diff_id,
					   ctx->jobs[i].desc->digest, ctx->jobs[i].desc->size,
					   ctx->jobs[i].desc->media_type, err) < 0 ||
		     keel_regmeta_add_source(ctx->s, ctx->jobs[i].desc->digest, ref->domain,
					     ref->path, err) < 0))
			return -1;
	return 0;
}

/* Everything after the manifest, with the store lock held shared. */
static int pull_image(struct pull_ctx *ctx, const struct keel_ref *ref, const struct doc *m,
		      struct keel_pull_result *out, keel_error_t *err)
{
	struct keel_manifest man = { 0 };
	struct doc cfgdoc = { 0 };
	cleanup_json json_t *cfg = NULL;
	cleanup_free char *have = NULL, *full = keel_ref_string(ref);
	size_t n;
	int ret = -1;
	if (keel_manifest_parse(m->body, m->len, &man, err) < 0)
		return keel_err_wrap(err, "manifest %s", m->digest);
	if (get_config(ctx->c, ref->path, ctx->scope, &man.config, &cfgdoc, err) < 0)
		goto out;
	cfg = json_loadb(cfgdoc.body, cfgdoc.len, 0, NULL);
	if (!cfg) {
		keel_err_user(err, EINVAL, "config %s: not JSON", cfgdoc.digest);
		goto out;
	}
	if (keel_config_validate(cfg, &n, err) < 0)
		goto out;
	if (n != man.n_layers) {
		keel_err_user(err, EINVAL, "manifest has %zu layers but its config lists %zu",
			      man.n_layers, n);
		goto out;
	}
	have = full ? keel_imgdb_resolve(ctx->s, full, NULL) : NULL;
	out->downloaded = !have || strcmp(have, cfgdoc.digest) != 0;
	if (plan(ctx, &man, cfg, err) < 0 || pull_layers(ctx, err) < 0 ||
	    record(ctx, ref, &cfgdoc, cfg, m->digest, err) < 0)
		goto out;
	snprintf(out->id, sizeof(out->id), "%s", cfgdoc.digest);
	ret = 0;
out:
	free(ctx->jobs);
	ctx->jobs = NULL;
	doc_clear(&cfgdoc);
	keel_manifest_free(&man);
	return ret;
}

int keel_registry_pull(struct keel_store *s, const char *refstr, const struct keel_reg_options *o,
		       struct keel_pull_result *out, keel_error_t *err)
{
	struct keel_ref ref;
	struct pull_ctx ctx = { .s = s, .o = o };
	struct doc m = { 0 };
	cleanup_free char *full = NULL;
	char line[600];
	int ret = -1;
	memset(out, 0, sizeof(*out));
	if (keel_ref_parse(refstr, &ref, err) < 0 || keel_ref_default_tag(&ref, err) < 0)
		return -1;
	full = keel_ref_string(&ref);
	snprintf(out->name, sizeof(out->name), "%s", full ? full : refstr);
	snprintf(ctx.scope, sizeof(ctx.scope), "repository:%s:pull", ref.path);
	snprintf(ctx.blob_url, sizeof(ctx.blob_url), "/v2/%s/blobs/", ref.path);
	ctx.c = keel_reg_client_new(ref.domain, NULL, NULL, true, err);
	if (!ctx.c)
		goto out;
	snprintf(line, sizeof(line), "%s: Pulling from %s", ref.tag ? ref.tag : ref.digest,
		 ref.path);
	pull_emit(o, KEEL_REG_MESSAGE, NULL, 0, 0, line);
	/* a mirror without the image (or broken): the next mirror, then the registry itself */
	while (resolve_manifest(ctx.c, &ref, ctx.scope, o, &m, err) < 0) {
		keel_error_t ignored;
		doc_clear(&m);
		if (keel_reg_client_next(ctx.c, &ignored) < 0)
			goto out;
	}
	snprintf(out->digest, sizeof(out->digest), "%s", m.digest);
	if (keel_store_lock_shared(s, err) < 0)
		goto out;
	ret = pull_image(&ctx, &ref, &m, out, err);
	keel_store_unlock(s);
	if (ret < 0)
		keel_store_gc(s, true, NULL, NULL); /* what this pull left is unreferenced */
out:
	if (ret < 0 && strncmp(err->msg, "manifest unknown", 16) == 0)
		keel_err_wrap(err, "manifest for %s not found", out->name);
	doc_clear(&m);
	keel_reg_client_free(ctx.c);
	keel_ref_free(&ref);
	return ret;
}
