#include "image/manifest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *str_member(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

bool keel_media_is_index(const char *mt)
{
	return !strcmp(mt, KEEL_MT_OCI_INDEX) || !strcmp(mt, KEEL_MT_D2_LIST);
}

bool keel_media_is_manifest(const char *mt)
{
	return !strcmp(mt, KEEL_MT_OCI_MANIFEST) || !strcmp(mt, KEEL_MT_D2_MANIFEST);
}

bool keel_media_is_layer(const char *mt)
{
	static const char *const ok[] = {
		KEEL_MT_OCI_LAYER, KEEL_MT_OCI_LAYER_GZ, KEEL_MT_OCI_LAYER_ZS, KEEL_MT_D2_LAYER_GZ,
		"application/vnd.docker.image.rootfs.diff.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
		"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(mt, ok[i]))
			return true;
	return false;
}

static int parse_descriptor(json_t *j, struct keel_descriptor *d, const char *what,
			    keel_error_t *err)
{
	const char *mt = str_member(j, "mediaType"), *dg = str_member(j, "digest");
	json_t *size = json_object_get(j, "size"), *plat = json_object_get(j, "platform");
	json_t *ann = json_object_get(j, "annotations");
	memset(d, 0, sizeof(*d));
	if (!json_is_object(j))
		return keel_err_user(err, EINVAL, "%s: descriptor is not an object", what);
	if (!dg || !keel_digest_valid(dg))
		return keel_err_user(err, EINVAL, "%s: invalid digest %s", what, dg ? dg : "(none)");
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return keel_err_user(err, EINVAL, "%s: invalid size", what);
	if (!mt || strlen(mt) >= sizeof(d->media_type))
		return keel_err_user(err, EINVAL, "%s: missing or bad mediaType", what);
	snprintf(d->media_type, sizeof(d->media_type), "%s", mt);
	snprintf(d->digest, sizeof(d->digest), "%s", dg);
	d->size = json_integer_value(size);
	if (json_is_object(plat)) {
		snprintf(d->os, sizeof(d->os), "%s", str_member(plat, "os") ?: "");
		snprintf(d->arch, sizeof(d->arch), "%s", str_member(plat, "architecture") ?: "");
	}
	if (json_is_object(ann)) {
		d->ref_name = str_member(ann, "org.opencontainers.image.ref.name");
		d->image_name = str_member(ann, "io.containerd.image.name");
	}
	return 0;
}

static json_t *load(const char *buf, size_t len, const char *what, keel_error_t *err)
{
	json_error_t jerr;
	json_t *j = json_loadb(buf, len, 0, &jerr);
	if (!j) {
		keel_err_user(err, EINVAL, "%s: %s (line %d)", what, jerr.text, jerr.line);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		keel_err_user(err, EINVAL, "%s: not a JSON object", what);
		return NULL;
	}
	if (json_integer_value(json_object_get(j, "schemaVersion")) != 2) {
		json_decref(j);
		keel_err_user(err, EINVAL, "%s: unsupported schemaVersion (want 2)", what);
		return NULL;
	}
	return j;
}

int keel_manifest_parse(const char *buf, size_t len, struct keel_manifest *m, keel_error_t *err)
{
	json_t *layers, *l;
	const char *mt;
	size_t i;
	memset(m, 0, sizeof(*m));
	if (!(m->json = load(buf, len, "manifest", err)))
		return -1;
	mt = str_member(m->json, "mediaType");
	/* OCI allows the mediaType to be absent in a manifest; Docker always sets it. */
	snprintf(m->media_type, sizeof(m->media_type), "%s", mt ? mt : KEEL_MT_OCI_MANIFEST);
	if (!keel_media_is_manifest(m->media_type))
		goto bad_type;
	if (parse_descriptor(json_object_get(m->json, "config"), &m->config, "manifest config",
			     err) < 0)
		goto fail;
	/* Artifacts (helm charts, signatures) are manifests too; only images are loaded. */
	if (strcmp(m->config.media_type, KEEL_MT_OCI_CONFIG) &&
	    strcmp(m->config.media_type, KEEL_MT_D2_CONFIG)) {
		keel_err_user(err, EINVAL, "manifest: config media type %s is not an image config",
			      m->config.media_type);
		goto fail;
	}
	layers = json_object_get(m->json, "layers");
	if (!json_is_array(layers)) {
		keel_err_user(err, EINVAL, "manifest: layers is not an array");
		goto fail;
	}
	m->n_layers = json_array_size(layers);
	m->layers = calloc(m->n_layers + 1, sizeof(*m->layers));
	if (!m->layers) {
		keel_err(err, ENOMEM, "manifest");
		goto fail;
	}
	json_array_foreach(layers, i, l) {
		if (parse_descriptor(l, &m->layers[i], "manifest layer", err) < 0)
			goto fail;
		if (!keel_media_is_layer(m->layers[i].media_type)) {
			keel_err_user(err, EINVAL, "manifest: unsupported layer media type %s",
				 m->layers[i].media_type);
			goto fail;
		}
	}
	return 0;
bad_type:
	keel_err_user(err, EINVAL, "manifest: unsupported media type %s", m->media_type);
fail:
	keel_manifest_free(m);
	return -1;
}

void keel_manifest_free(struct keel_manifest *m)
{
	if (m->json)
		json_decref(m->json);
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

int keel_index_parse(const char *buf, size_t len, struct keel_index *ix, keel_error_t *err)
{
	json_t *ms, *e;
	const char *mt;
	size_t i;
	memset(ix, 0, sizeof(*ix));
	if (!(ix->json = load(buf, len, "index", err)))
		return -1;
	mt = str_member(ix->json, "mediaType");
	if (mt && !keel_media_is_index(mt)) {
		keel_err_user(err, EINVAL, "index: unsupported media type %s", mt);
		goto fail;
	}
	ms = json_object_get(ix->json, "manifests");
	if (!json_is_array(ms)) {
		keel_err_user(err, EINVAL, "index: manifests is not an array");
		goto fail;
	}
	ix->n = json_array_size(ms);
	ix->manifests = calloc(ix->n + 1, sizeof(*ix->manifests));
	if (!ix->manifests) {
		keel_err(err, ENOMEM, "index");
		goto fail;
	}
	json_array_foreach(ms, i, e) if (parse_descriptor(e, &ix->manifests[i], "index entry",
							    err) < 0) goto fail;
	return 0;
fail:
	keel_index_free(ix);
	return -1;
}

void keel_index_free(struct keel_index *ix)
{
	if (ix->json)
		json_decref(ix->json);
	free(ix->manifests);
	memset(ix, 0, sizeof(*ix));
}

int keel_config_validate(json_t *cfg, size_t *n_layers, keel_error_t *err)
{
	json_t *rootfs, *ids, *v, *c;
	size_t i;
	if (!json_is_object(cfg))
		return keel_err_user(err, EINVAL, "image config is not a JSON object");
	rootfs = json_object_get(cfg, "rootfs");
	if (!json_is_object(rootfs) || !str_member(rootfs, "type") ||
	    strcmp(str_member(rootfs, "type"), "layers") != 0)
		return keel_err_user(err, EINVAL, "image config: rootfs.type must be \"layers\"");
	ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(ids))
		return keel_err_user(err, EINVAL, "image config: rootfs.diff_ids is not an array");
	json_array_foreach(ids, i, v) if (!json_is_string(v) ||
					  !keel_digest_valid(json_string_value(v))) return keel_err(
		err, EINVAL, "image config: invalid diff id #%zu", i);
	c = json_object_get(cfg, "config");
	if (c && !json_is_object(c) && !json_is_null(c))
		return keel_err_user(err, EINVAL, "image config: config is not an object");
	v = json_object_get(cfg, "history");
	if (v && !json_is_array(v) && !json_is_null(v))
		return keel_err_user(err, EINVAL, "image config: history is not an array");
	v = json_object_get(cfg, "created");
	if (v && !json_is_string(v))
		return keel_err_user(err, EINVAL, "image config: created is not a string");
	*n_layers = json_array_size(ids);
	return 0;
}

int64_t keel_parse_time(const char *s)
{
	struct tm tm = {0};
	const char *p;
	int64_t t;
	if (!s)
		return -1;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.')
		while (*++p >= '0' && *p <= '9')
			;
	t = (int64_t)timegm(&tm);
	if (*p == 'Z' || *p == 'z')
		return t;
	if ((*p == '+' || *p == '-') && strlen(p) >= 6) {
		int h = (p[1] - '0') * 10 + (p[2] - '0'), m = (p[4] - '0') * 10 + (p[5] - '0');
		int off = h * 3600 + m * 60;
		return *p == '+' ? t - off : t + off;
	}
	return *p ? -1 : t;
}

void keel_format_time(int64_t sec, long nsec, char *out, size_t len)
{
	struct tm tm;
	time_t t = (time_t)sec;
	char frac[16] = "";
	gmtime_r(&t, &tm);
	if (nsec > 0) {
		int n = snprintf(frac, sizeof(frac), ".%09ld", nsec);
		while (n > 1 && frac[n - 1] == '0')
			frac[--n] = '\0';
	}
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}
