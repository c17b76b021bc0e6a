/* `load`: docker-archive (manifest.json + config + layer tars, what `docker save` writes) and
 * oci-archive (an OCI image layout: oci-layout, index.json, blobs/). The outer archive is
 * never extracted by name: small files are held in memory, large ones streamed into the
 * blob store as they are read, and the archive's own names are only keys of that table. So
 * no name, symlink or hardlink in it reaches the file system; layers go through the safe
 * unpacker. */
#include "image/image.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/manifest.h"
#include "image/reference.h"
#include "store/blob.h"
#include "store/libarchive.h"
#include "store/store_internal.h"
#include "util/cleanup.h"

#define SMALL_FILE  (1 << 20)   /* held in memory up to this size */
#define SMALL_TOTAL (256 << 20) /* and this much in all */
#define MAX_ENTRIES 100000

struct entry {
	char *name;
	char *data; /* small files */
	size_t len;
	char digest[KEEL_DIGEST_SIZE]; /* "" until known */
	bool in_store;                 /* large file: a blob (pending until its image is added) */
	struct keel_layer_pending *pending; /* large file read as blob + unpacked layer at once */
	char *link;                    /* symlink / hardlink target, already an archive path */
};

struct outer {
	struct keel_store *s;
	struct entry *v;
	size_t n, cap, mem;
	struct keel_events *ev;
	keel_error_t *err;
};

static void outer_free(struct outer *o)
{
	for (size_t i = 0; i < o->n; i++) {
		free(o->v[i].name);
		free(o->v[i].data);
		free(o->v[i].link);
		keel_layer_pending_discard(o->s, o->v[i].pending);
		free(o->v[i].pending);
	}
	free(o->v);
}

/* Archive names as keys: "./a//b" -> "a/b"; ".." is refused (a hostile archive). */
static int clean(const char *in, const char *base, char *out, size_t len, keel_error_t *err)
{
	char tmp[PATH_MAX];
	size_t o = 0;
	snprintf(tmp, sizeof(tmp), "%s%s%s", base ? base : "", base && *base ? "/" : "", in);
	for (const char *p = tmp; *p;) {
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);
		if (n == 2 && !strncmp(p, "..", 2)) {
			if (!base || !o)
				return keel_err_user(err, EPERM, "invalid archive: %s points outside it", in);
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o)
				o--;
		} else if (n && !(n == 1 && *p == '.')) {
			if (o + n + 2 > len)
				return keel_err(err, ENAMETOOLONG, "invalid archive: name %s", in);
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p = *e ? e + 1 : e;
	}
	out[o] = '\0';
	return 0;
}

static struct entry *find(struct outer *o, const char *name)
{
	char cur[PATH_MAX];
	snprintf(cur, sizeof(cur), "%s", name);
	for (int hops = 0; hops < 16; hops++) {
		struct entry *e = NULL;
		for (size_t i = o->n; i-- > 0;)
			if (!strcmp(o->v[i].name, cur)) {
				e = &o->v[i];
				break;
			}
		if (!e || !e->link)
			return e;
		snprintf(cur, sizeof(cur), "%s", e->link);
	}
	return NULL;
}

static struct entry *new_entry(struct outer *o, const char *name)
{
	if (o->n == MAX_ENTRIES) {
		keel_err_user(o->err, EFBIG, "invalid archive: too many entries");
		return NULL;
	}
	if (o->n == o->cap) {
		size_t cap = o->cap ? o->cap * 2 : 32;
		struct entry *nv = realloc(o->v, cap * sizeof(*nv));
		if (!nv)
			goto oom;
		o->v = nv;
		o->cap = cap;
	}
	memset(&o->v[o->n], 0, sizeof(o->v[0]));
	if (!(o->v[o->n].name = strdup(name)))
		goto oom;
	return &o->v[o->n++];
oom:
	keel_err(o->err, ENOMEM, "load");
	return NULL;
}

static int read_small(struct outer *o, struct archive *a, struct entry *e, size_t size)
{
	la_ssize_t n;
	size_t got = 0;
	if (o->mem + size > SMALL_TOTAL)
		return keel_err_user(o->err, EFBIG, "invalid archive: too much metadata");
	e->data = malloc(size + 1);
	if (!e->data)
		return keel_err(o->err, ENOMEM, "load");
	while (got < size && (n = archive_read_data(a, e->data + got, size - got)) > 0)
		got += (size_t)n;
	if (got != size)
		return keel_err(o->err, EIO, "reading archive: %s",
				archive_error_string(a) ?: "short file");
	e->data[size] = '\0';
	e->len = size;
	o->mem += size;
	return 0;
}

/* The outer archive's current entry as a stream; the holes of a sparse entry read as zeros
 * (the block after a hole is held back until the zeros before it are out). */
struct entry_stream {
	struct archive *a;
	la_int64_t pos;      /* stream offset handed out so far */
	const void *held;    /* block waiting behind a hole */
	size_t held_len;
	la_int64_t held_off;
	char zeros[4096];
};

static ssize_t entry_read(void *ud, const void **buf, keel_error_t *err)
{
	struct entry_stream *es = ud;
	size_t len;
	la_int64_t off;
	int r;
	if (!es->held) {
		r = archive_read_data_block(es->a, &es->held, &es->held_len, &es->held_off);
		if (r == ARCHIVE_EOF) {
			es->held = NULL;
			return 0;
		}
		if (r != ARCHIVE_OK) {
			es->held = NULL;
			return keel_err(err, EIO, "reading archive: %s", archive_error_string(es->a));
		}
	}
	if (es->held_off > es->pos) {
		len = (size_t)(es->held_off - es->pos);
		len = len < sizeof(es->zeros) ? len : sizeof(es->zeros);
		*buf = es->zeros;
		es->pos += (la_int64_t)len;
		return (ssize_t)len;
	}
	*buf = es->held;
	len = es->held_len;
	off = es->held_off;
	es->held = NULL;
	es->pos = off + (la_int64_t)len;
	return (ssize_t)len;
}

/* A large entry is most likely a layer: stored as a blob and unpacked in the same pass
 * (published only once an image names it and its digests check out). */
static int read_large(struct outer *o, struct archive *a, struct entry *e)
{
	struct entry_stream *es = calloc(1, sizeof(*es));
	int ret;
	e->pending = calloc(1, sizeof(*e->pending));
	if (!es || !e->pending) {
		free(es);
		return keel_err(o->err, ENOMEM, "load");
	}
	es->a = a;
	ret = keel_layer_stream(o->s, entry_read, es, e->pending, o->err);
	free(es);
	if (ret < 0)
		return -1;
	e->in_store = true;
	memcpy(e->digest, e->pending->blob_digest, KEEL_DIGEST_SIZE);
	return 0;
}

static int read_entry(struct outer *o, struct archive *a, struct archive_entry *ae)
{
	char name[PATH_MAX], dir[PATH_MAX], target[PATH_MAX];
	const char *hard = archive_entry_hardlink(ae), *sym = archive_entry_symlink(ae);
	struct entry *e;
	char *slash;
	if (clean(archive_entry_pathname(ae) ?: "", NULL, name, sizeof(name), o->err) < 0)
		return -1;
	if (hard || (archive_entry_filetype(ae) == AE_IFLNK && sym)) {
		snprintf(dir, sizeof(dir), "%s", name);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		else
			dir[0] = '\0';
		if (sym && !hard && sym[0] == '/')
			return keel_err_user(o->err, EPERM, "invalid archive: %s points outside it", sym);
		if (clean(hard ?: sym, hard ? NULL : dir, target, sizeof(target), o->err) < 0)
			return -1;
		if (!(e = new_entry(o, name)) || !(e->link = strdup(target)))
			return keel_err(o->err, ENOMEM, "load");
		return 0;
	}
	if (archive_entry_filetype(ae) != AE_IFREG)
		return 0;
	if (!(e = new_entry(o, name)))
		return -1;
	if (archive_entry_size(ae) <= SMALL_FILE)
		return read_small(o, a, e, (size_t)archive_entry_size(ae));
	return read_large(o, a, e);
}

static int read_outer(struct outer *o, int fd)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	int r, ret = 0;
	if (!a)
		return keel_err(o->err, ENOMEM, "load");
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, 256 * 1024) != ARCHIVE_OK) {
		ret = keel_err_user(o->err, EINVAL, "invalid archive: %s", archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK || r == ARCHIVE_WARN)
		if ((ret = read_entry(o, a, ae)) < 0)
			goto out;
	if (r != ARCHIVE_EOF)
		ret = keel_err_user(o->err, EINVAL, "invalid archive: %s", archive_error_string(a));
out:
	archive_read_free(a);
	return ret;
}

/* The entry's content as a blob (stored and checked against expect when given). A large
 * entry is still pending (*pending, may be NULL): keel_image_add_pending publishes it. */
static int entry_blob_sized(struct outer *o, const char *name, const char *expect,
			    int64_t size, char out[KEEL_DIGEST_SIZE],
			    struct keel_layer_pending **pending)
{
	struct entry *e = find(o, name);
	if (pending)
		*pending = e ? e->pending : NULL;
	if (!e)
		return keel_err_user(o->err, ENOENT, "invalid archive: %s is missing", name);
	if (!e->in_store && !e->digest[0] &&
	    keel_blob_put(o->s, e->data, e->len, NULL, e->digest, o->err) < 0)
		return -1;
	if (expect && strcmp(expect, e->digest) != 0)
		return keel_err_user(o->err, EILSEQ, "invalid archive: %s has digest %s, not %s", name,
				e->digest, expect);
	if (size >= 0 && size != (e->pending ? e->pending->blob_size : (int64_t)e->len))
		return keel_err_user(o->err, EILSEQ, "invalid archive: %s has %" PRId64 " bytes, "
				     "its descriptor says %" PRId64, name,
				     e->pending ? e->pending->blob_size : (int64_t)e->len, size);
	memcpy(out, e->digest, KEEL_DIGEST_SIZE);
	return 0;
}

static int entry_blob(struct outer *o, const char *name, const char *expect,
		      char out[KEEL_DIGEST_SIZE], struct keel_layer_pending **pending)
{
	return entry_blob_sized(o, name, expect, -1, out, pending);
}

/* Small JSON documents by name. */
static struct entry *entry_json(struct outer *o, const char *name)
{
	struct entry *e = find(o, name);
	if (!e)
		keel_err_user(o->err, ENOENT, "invalid archive: %s is missing", name);
	else if (e->in_store) {
		keel_err_user(o->err, EFBIG, "invalid archive: %s is too large", name);
		e = NULL;
	}
	return e;
}

static void loaded(struct outer *o, char *const *tags, size_t n, const char *id)
{
	struct keel_events *ev = o->ev;
	for (size_t i = 0; i <= n && ev; i++) {
		char *s = NULL, **nv;
		cleanup_free char *fam = i < n ? keel_ref_familiarize(tags[i]) : NULL;
		if (i == n && n)
			break;
		if (asprintf(&s, i < n ? "Loaded image: %s" : "Loaded image ID: %s",
			     i < n ? (fam ?: tags[i]) : id) < 0)
			return;
		if (!(nv = realloc(ev->v, (ev->n + 1) * sizeof(char *)))) {
			free(s);
			return;
		}
		ev->v = nv;
		ev->v[ev->n++] = s;
	}
}

static void free_strs(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int docker_image(struct outer *o, json_t *m)
{
	json_t *layers = json_object_get(m, "Layers"), *tags = json_object_get(m, "RepoTags"), *v;
	const char *cfg_name = json_string_value(json_object_get(m, "Config"));
	char **blobs = NULL, **names = NULL, cfg_path[PATH_MAX], id[KEEL_DIGEST_SIZE];
	struct keel_layer_pending **pend = NULL;
	size_t nl = json_array_size(layers), nt = 0, i;
	struct entry *cfg;
	int ret = -1;
	if (!cfg_name || !json_is_array(layers) || (tags && !json_is_array(tags) && !json_is_null(tags)))
		return keel_err_user(o->err, EINVAL, "invalid archive: bad manifest.json entry");
	if (clean(cfg_name, NULL, cfg_path, sizeof(cfg_path), o->err) < 0 ||
	    !(cfg = entry_json(o, cfg_path)))
		return -1;
	blobs = calloc(nl + 1, sizeof(char *));
	pend = calloc(nl + 1, sizeof(*pend));
	names = calloc(json_array_size(tags) + 1, sizeof(char *));
	if (!blobs || !pend || !names) {
		keel_err(o->err, ENOMEM, "load");
		goto out;
	}
	json_array_foreach(layers, i, v) {
		char p[PATH_MAX], d[KEEL_DIGEST_SIZE];
		if (!json_is_string(v) ||
		    clean(json_string_value(v), NULL, p, sizeof(p), o->err) < 0 ||
		    entry_blob(o, p, NULL, d, &pend[i]) < 0 || !(blobs[i] = strdup(d)))
			goto out;
	}
	json_array_foreach(tags, i, v) {
		if (!json_is_string(v)) {
			keel_err_user(o->err, EINVAL, "invalid archive: bad RepoTags");
			goto out;
		}
		if (!(names[nt] = keel_image_normalize_tag(json_string_value(v), o->err)))
			goto out;
		nt++;
	}
	if (keel_image_add_pending(o->s, cfg->data, cfg->len, blobs, pend, nl, names, nt, NULL,
				   NULL, id, o->err) < 0)
		goto out;
	loaded(o, names, nt, id);
	ret = 0;
out:
	free(pend);
	free_strs(blobs, nl);
	free_strs(names, nt);
	return ret;
}

static int load_docker(struct outer *o, struct entry *mj)
{
	json_error_t jerr;
	cleanup_json json_t *m = json_loadb(mj->data, mj->len, 0, &jerr);
	json_t *img;
	size_t i;
	if (!m || !json_is_array(m) || json_array_size(m) == 0)
		return keel_err_user(o->err, EINVAL, "invalid archive: manifest.json: %s",
				m ? "not a list of images" : jerr.text);
	json_array_foreach(m, i, img) if (docker_image(o, img) < 0) return -1;
	return 0;
}

static int blob_path(const char *digest, char *out, size_t len)
{
	return snprintf(out, len, "blobs/sha256/%s", keel_digest_hex(digest));
}

static int oci_manifest(struct outer *o, const struct keel_descriptor *d, const char *name)
{
	char p[PATH_MAX], md[KEEL_DIGEST_SIZE], id[KEEL_DIGEST_SIZE], **blobs = NULL;
	struct keel_layer_pending **pend = NULL;
	struct keel_manifest m;
	struct entry *me, *ce;
	char *tag = NULL;
	int ret = -1;
	blob_path(d->digest, p, sizeof(p));
	if (entry_blob_sized(o, p, d->digest, d->size, md, NULL) < 0 || !(me = entry_json(o, p)))
		return -1;
	if (keel_manifest_parse(me->data, me->len, &m, o->err) < 0)
		return -1;
	blob_path(m.config.digest, p, sizeof(p));
	if (entry_blob_sized(o, p, m.config.digest, m.config.size, md, NULL) < 0 ||
	    !(ce = entry_json(o, p)))
		goto out;
	blobs = calloc(m.n_layers + 1, sizeof(char *));
	pend = calloc(m.n_layers + 1, sizeof(*pend));
	if (!blobs || !pend) {
		keel_err(o->err, ENOMEM, "load");
		goto out;
	}
	for (size_t i = 0; i < m.n_layers; i++) {
		blob_path(m.layers[i].digest, p, sizeof(p));
		if (entry_blob_sized(o, p, m.layers[i].digest, m.layers[i].size, md, &pend[i]) < 0 ||
		    !(blobs[i] = strdup(md)))
			goto out;
	}
	if (name && !(tag = keel_image_normalize_tag(name, o->err)))
		goto out;
	if (keel_image_add_pending(o->s, ce->data, ce->len, blobs, pend, m.n_layers, &tag,
				   tag ? 1 : 0, d->digest, NULL, id, o->err) < 0)
		goto out;
	loaded(o, &tag, tag ? 1 : 0, id);
	ret = 0;
out:
	free(pend);
	free_strs(blobs, m.n_layers);
	free(tag);
	keel_manifest_free(&m);
	return ret;
}

static bool platform_ok(const struct keel_descriptor *d)
{
	return (!d->os[0] || !strcmp(d->os, "linux")) && (!d->arch[0] || !strcmp(d->arch, "amd64"));
}

/* The image name an index entry carries: containerd's annotation, or a ref.name that is a
 * whole reference (skopeo/podman), not only a tag. */
static const char *entry_name(const struct keel_descriptor *d)
{
	if (d->image_name)
		return d->image_name;
	if (d->ref_name && (strchr(d->ref_name, '/') || strchr(d->ref_name, ':')))
		return d->ref_name;
	return NULL;
}

static int oci_index(struct outer *o, const char *path, const char *expect, const char *name,
		     int depth)
{
	struct keel_index ix;
	struct entry *e;
	char d[KEEL_DIGEST_SIZE];
	int ret = 0, done = 0;
	if (depth > 2)
		return keel_err_user(o->err, ELOOP, "invalid archive: indexes nested too deep");
	if (expect && entry_blob(o, path, expect, d, NULL) < 0)
		return -1;
	if (!(e = entry_json(o, path)) || keel_index_parse(e->data, e->len, &ix, o->err) < 0)
		return -1;
	for (size_t i = 0; i < ix.n && ret == 0; i++) {
		const struct keel_descriptor *m = &ix.manifests[i];
		const char *n = entry_name(m) ?: name;
		char p[PATH_MAX];
		if (!platform_ok(m))
			continue;
		blob_path(m->digest, p, sizeof(p));
		if (keel_media_is_index(m->media_type))
			ret = oci_index(o, p, m->digest, n, depth + 1);
		else if (keel_media_is_manifest(m->media_type))
			ret = oci_manifest(o, m, n);
		else
			continue;
		done++;
		if (depth > 0) /* a multi-platform index: one image for this machine */
			break;
	}
	keel_index_free(&ix);
	if (ret == 0 && !done)
		return keel_err_user(o->err, ENOENT, "invalid archive: no linux/amd64 image in %s", path);
	return ret;
}

int keel_archive_load(struct keel_store *s, int fd, struct keel_events *ev, keel_error_t *err)
{
	struct outer o = {.s = s, .ev = ev, .err = err};
	struct entry *mj;
	int ret;
	if (keel_store_lock_shared(s, err) < 0)
		return -1;
	ret = read_outer(&o, fd);
	if (ret == 0 && o.n == 0)
		ret = keel_err_user(err, EINVAL, "invalid archive: it is empty");
	if (ret == 0) {
		if ((mj = find(&o, "manifest.json")) && !mj->in_store)
			ret = load_docker(&o, mj);
		else if (find(&o, "index.json"))
			ret = oci_index(&o, "index.json", NULL, NULL, 0);
		else
			ret = keel_err_user(err, EINVAL, "invalid archive: no manifest.json or index.json "
						    "(not a docker-archive or oci-archive)");
	}
	outer_free(&o);
	keel_store_unlock(s);
	/* What a failed load stored is garbage: collect it unless others are adding. */
	if (ret < 0)
		keel_store_gc(s, true, NULL, NULL);
	return ret;
}
