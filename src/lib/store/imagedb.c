/* Image records: add, look up, tag, load, list, users. */
#include "store/imagedb.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/reference.h"
#include "store/blob.h"
#include "store/layer.h"
#include "store/store_internal.h"
#include "util/cleanup.h"

static void finalize(sqlite3_stmt **st)
{
	if (*st)
		sqlite3_finalize(*st);
}
#define cleanup_stmt __attribute__((cleanup(finalize)))

/* Appends a copy of s to a NULL-terminated vector. */
static int strv_push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(char *));
	if (!nv)
		return -1;
	*v = nv;
	if (!(nv[*n] = strdup(s)))
		return -1;
	nv[++*n] = NULL;
	return 0;
}

static void strv_free(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

static char *query_one(struct keel_store *s, const char *sql, const char *arg, int *found,
		       keel_error_t *err);

static int step_done(struct keel_store *s, sqlite3_stmt *st, keel_error_t *err)
{
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : keel_db_err(s, err, "database");
}

static int add_layers(struct keel_store *s, const struct keel_image_new *img, keel_error_t *err)
{
	cleanup_stmt sqlite3_stmt *l = keel_db_prepare(
		s, "INSERT OR IGNORE INTO layers (chain_id, diff_id, parent, size, diff_size,"
		   " blob_digest, media_type, blob_size) VALUES (?,?,?,?,?,?,?,?)", err);
	cleanup_stmt sqlite3_stmt *il = keel_db_prepare(
		s, "INSERT INTO image_layers (image_id, idx, chain_id) VALUES (?,?,?)", err);
	if (!l || !il)
		return -1;
	for (size_t i = 0; i < img->n_layers; i++) {
		const struct keel_layer_rec *r = &img->layers[i];
		sqlite3_bind_text(l, 1, r->chain_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(l, 2, r->diff_id, -1, SQLITE_STATIC);
		if (i)
			sqlite3_bind_text(l, 3, img->layers[i - 1].chain_id, -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(l, 3);
		sqlite3_bind_int64(l, 4, r->size);
		sqlite3_bind_int64(l, 5, r->diff_size);
		sqlite3_bind_text(l, 6, r->blob_digest, -1, SQLITE_STATIC);
		sqlite3_bind_text(l, 7, r->media_type, -1, SQLITE_STATIC);
		sqlite3_bind_int64(l, 8, r->blob_size);
		if (step_done(s, l, err) < 0)
			return -1;
		sqlite3_bind_text(il, 1, img->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(il, 2, (sqlite3_int64)i);
		sqlite3_bind_text(il, 3, r->chain_id, -1, SQLITE_STATIC);
		if (step_done(s, il, err) < 0)
			return -1;
	}
	return 0;
}

static int set_tag(struct keel_store *s, const char *id, const char *name, keel_error_t *err)
{
	cleanup_stmt sqlite3_stmt *st = keel_db_prepare(
		s, "INSERT OR REPLACE INTO tags (name, image_id, tagged) VALUES (?,?,?)", err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, keel_now());
	return step_done(s, st, err);
}

static int set_repo_digest(struct keel_store *s, const char *id, const char *name,
			   keel_error_t *err)
{
	cleanup_stmt sqlite3_stmt *st = keel_db_prepare(
		s, "INSERT OR REPLACE INTO repo_digests (name, image_id) VALUES (?,?)", err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	return step_done(s, st, err);
}

char *keel_imgdb_repo_digest_name(const char *repo, const char *digest, keel_error_t *err)
{
	struct keel_ref r;
	cleanup_free char *name = NULL;
	char *full = NULL;
	if (!keel_digest_valid(digest)) {
		keel_err_user(err, EINVAL, "invalid digest %s", digest ? digest : "(null)");
		return NULL;
	}
	if (keel_ref_parse(repo, &r, err) < 0)
		return NULL;
	name = keel_ref_name(&r);
	keel_ref_free(&r);
	if (!name || asprintf(&full, "%s@%s", name, digest) < 0) {
		keel_err(err, ENOMEM, "repo digest");
		return NULL;
	}
	return full;
}

int keel_imgdb_repo_digest(struct keel_store *s, const char *id, const char *repo,
			   const char *digest, keel_error_t *err)
{
	cleanup_free char *full = keel_imgdb_repo_digest_name(repo, digest, err);
	int found;
	cleanup_free char *have = NULL;
	if (!full)
		return -1;
	if (keel_db_begin(s, err) < 0)
		return -1;
	have = query_one(s, "SELECT id FROM images WHERE id = ?", id, &found, err);
	if (found == 0)
		keel_err_user(err, ENOENT, "No such image: %s", id);
	if (found <= 0 || set_repo_digest(s, id, full, err) < 0) {
		keel_db_rollback(s);
		return -1;
	}
	return keel_db_commit(s, err);
}

static int add_locked(struct keel_store *s, const struct keel_image_new *img, keel_error_t *err)
{
	cleanup_stmt sqlite3_stmt *st = keel_db_prepare(
		s, "INSERT OR IGNORE INTO images (id, created, size, parent, manifest_digest, added)"
		   " VALUES (?,?,?,?,?,?)", err);
	int64_t size = 0;
	if (!st)
		return -1;
	for (size_t i = 0; i < img->n_layers; i++)
		size += img->layers[i].size;
	sqlite3_bind_text(st, 1, img->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, img->created);
	sqlite3_bind_int64(st, 3, size);
	sqlite3_bind_text(st, 4, img->parent, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, img->manifest_digest, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, keel_now());
	if (sqlite3_step(st) != SQLITE_DONE)
		return keel_db_err(s, err, "adding image");
	/* Loading an image twice changes nothing but its names. */
	if (sqlite3_changes(s->db) > 0 && add_layers(s, img, err) < 0)
		return -1;
	for (size_t i = 0; i < img->n_tags; i++)
		if (set_tag(s, img->id, img->tags[i], err) < 0)
			return -1;
	for (size_t i = 0; i < img->n_repo_digests; i++)
		if (set_repo_digest(s, img->id, img->repo_digests[i], err) < 0)
			return -1;
	return 0;
}

int keel_imgdb_add(struct keel_store *s, const struct keel_image_new *img, keel_error_t *err)
{
	if (keel_db_begin(s, err) < 0)
		return -1;
	if (add_locked(s, img, err) < 0) {
		keel_db_rollback(s);
		return -1;
	}
	return keel_db_commit(s, err);
}

int keel_imgdb_layer(struct keel_store *s, const char *chain_id, struct keel_layer_rec *out,
		     keel_error_t *err)
{
	cleanup_stmt sqlite3_stmt *st = keel_db_prepare(
		s, "SELECT diff_id, size, diff_size, blob_digest, blob_size FROM layers"
		   " WHERE chain_id = ?", err);
	int rc;
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, chain_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return keel_db_err(s, err, "reading layer");
	memset(out, 0, sizeof(*out));
	snprintf(out->chain_id, sizeof(out->chain_id), "%s", chain_id);
	snprintf(out->diff_id, sizeof(out->diff_id), "%s", sqlite3_column_text(st, 0));
	out->size = sqlite3_column_int64(st, 1);
	out->diff_size = sqlite3_column_int64(st, 2);
	snprintf(out->blob_digest, sizeof(out->blob_digest), "%s", sqlite3_column_text(st, 3));
	out->blob_size = sqlite3_column_int64(st, 4);
	return 1;
}

/* One text column of the first row of sql bound to arg, or NULL (*found says which). */
static char *query_one(struct keel_store *s, const char *sql, const char *arg, int *found,
		       keel_error_t *err)
{
	cleanup_stmt sqlite3_stmt *st = keel_db_prepare(s, sql, err);
	int rc;
	char *r;
	*found = -1;
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		*found = 0;
		return NULL;
	}
	if (rc != SQLITE_ROW) {
		keel_db_err(s, err, "database");
		return NULL;
	}
	r = strdup((const char *)sqlite3_column_text(st, 0));
	*found = r ? 1 : -1;
	if (!r)
		keel_err(err, ENOMEM, "database");
	if (r && sqlite3_step(st) == SQLITE_ROW) {
		*found = 2; /* more than one row */
	}
	return r;
}

static char *resolve_name(struct keel_store *s, const char *ref, int *found, keel_error_t *err)
{
	struct keel_ref r;
	keel_error_t ignored;
	cleanup_free char *full = NULL;
	char *id;
	*found = 0;
	if (keel_ref_parse(ref, &r, &ignored) < 0 || keel_ref_default_tag(&r, &ignored) < 0)
		return NULL;
	full = keel_ref_string(&r);
	if (!full) {
		keel_ref_free(&r);
		keel_err(err, ENOMEM, "reference");
		*found = -1;
		return NULL;
	}
	if (r.digest) {
		id = query_one(s, "SELECT image_id FROM repo_digests WHERE name = ?", full, found,
			       err);
		if (*found == 0)
			id = query_one(s, "SELECT id FROM images WHERE manifest_digest = ? OR id = ?1",
				       r.digest, found, err);
	} else {
		id = query_one(s, "SELECT image_id FROM tags WHERE name = ?", full, found, err);
	}
	keel_ref_free(&r);
	return id;
}

char *keel_imgdb_resolve(struct keel_store *s, const char *ref, keel_error_t *err)
{
	char pattern[80];
	const char *hex = strncmp(ref, "sha256:", 7) == 0 ? ref + 7 : ref;
	int found;
	char *id;
	if (keel_is_hex64(hex)) {
		snprintf(pattern, sizeof(pattern), "sha256:%s", hex);
		id = query_one(s, "SELECT id FROM images WHERE id = ?", pattern, &found, err);
		if (found)
			return id;
	} else {
		id = resolve_name(s, ref, &found, err);
		if (found)
			return found < 0 ? NULL : id;
	}
	if (keel_is_id_prefix(ref) && found == 0) {
		snprintf(pattern, sizeof(pattern), "sha256:%s%%", hex);
		id = query_one(s, "SELECT id FROM images WHERE id LIKE ?", pattern, &found, err);
		if (found == 2) {
			free(id);
			keel_err_user(err, EBUSY, "ambiguous image id prefix %s", ref);
			return NULL;
		}
		if (found)
			return id;
	}
	if (found == 0)
		keel_err_user(err, ENOENT, "No such image: %s", ref);
	return NULL;
}

int keel_imgdb_tag(struct keel_store *s, const char *id, const char *tag, keel_error_t *err)
{
	struct keel_ref r;
	cleanup_free char *full = NULL;
	int ret;
	if (keel_ref_parse(tag, &r, err) < 0)
		return -1;
	if (r.digest) {
		keel_ref_free(&r);
		return keel_err_user(err, EINVAL, "refusing to create a tag with a digest reference");
	}
	ret = keel_ref_default_tag(&r, err);
	full = ret < 0 ? NULL : keel_ref_string(&r);
	keel_ref_free(&r);
	if (ret < 0 || !full)
		return keel_err(err, ENOMEM, "tag");
	if (keel_db_begin(s, err) < 0)
		return -1;
	if (set_tag(s, id, full, err) < 0) {
		keel_db_rollback(s);
		return -1;
	}
	return keel_db_commit(s, err);
}

static int load_names(struct keel_store *s, struct keel_image *img, keel_error_t *err)
{
	static const char *const sql[2] = {
		"SELECT name FROM tags WHERE image_id = ? ORDER BY name",
		"SELECT name FROM repo_digests WHERE image_id = ? ORDER BY name",
	};
	for (int k = 0; k < 2; k++) {
		cleanup_stmt sqlite3_stmt *st = keel_db_prepare(s, sql[k], err);
		char ***v = k ? &img->repo_digests : &img->repo_tags;
		size_t n = 0;
		int rc;
		if (!st)
			return -1;
		if (!(*v = calloc(1, sizeof(char *))))
			return keel_err(err, ENOMEM, "image");
		sqlite3_bind_text(st, 1, img->id, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
			cleanup_free char *f =
				keel_ref_familiarize((const char *)sqlite3_column_text(st, 0));
			if (!f || strv_push(v, &n, f) < 0)
				return keel_err(err, ENOMEM, "image");
		}
		if (rc != SQLITE_DONE)
			return keel_db_err(s, err, "reading image names");
	}
	return 0;
}

static int load_layers(struct keel_store *s, struct keel_image *img, keel_error_t *err)
{
	cleanup_stmt sqlite3_stmt *st = keel_db_prepare(
		s, "SELECT l.chain_id, l.diff_id, l.size FROM image_layers il JOIN layers l"
		   " ON l.chain_id = il.chain_id WHERE il.image_id = ? ORDER BY il.idx", err);
	size_t n = 0, m = 0;
	int rc;
	if (!st)
		return -1;
	img->layers = calloc(1, sizeof(char *));
	img->diff_ids = calloc(1, sizeof(char *));
	if (!img->layers || !img->diff_ids)
		return keel_err(err, ENOMEM, "image");
	sqlite3_bind_text(st, 1, img->id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cleanup_free char *p = keel_layer_path(s, (const char *)sqlite3_column_text(st, 0));
		if (!p || strv_push(&img->layers, &n, p) < 0 ||
		    strv_push(&img->diff_ids, &m, (const char *)sqlite3_column_text(st, 1)) < 0)
			return keel_err(err, ENOMEM, "image");
		int64_t *ns = realloc(img->layer_sizes, n * sizeof(int64_t));
		if (!ns)
			return keel_err(err, ENOMEM, "image");
		img->layer_sizes = ns;
		ns[n - 1] = sqlite3_column_int64(st, 2);
	}
	if (rc != SQLITE_DONE)
		return keel_db_err(s, err, "reading image layers");
	img->n_layers = n;
	return 0;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? strdup((const char *)t) : NULL;
}

struct keel_image *keel_imgdb_load(struct keel_store *s, const char *id, bool with_config,
				   keel_error_t *err)
{
	cleanup_stmt sqlite3_stmt *st = keel_db_prepare(
		s, "SELECT created, size, parent, manifest_digest FROM images WHERE id = ?", err);
	struct keel_image *img;
	cleanup_free char *buf = NULL;
	ssize_t len;
	json_error_t jerr;
	int rc;
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE)
			keel_err_user(err, ENOENT, "No such image: %s", id);
		else
			keel_db_err(s, err, "reading image");
		return NULL;
	}
	img = calloc(1, sizeof(*img));
	if (!img || !(img->id = strdup(id))) {
		free(img);
		keel_err(err, ENOMEM, "image");
		return NULL;
	}
	img->created = sqlite3_column_int64(st, 0);
	img->size = sqlite3_column_int64(st, 1);
	img->parent = col_dup(st, 2);
	img->manifest_digest = col_dup(st, 3);
	if (load_names(s, img, err) < 0 || load_layers(s, img, err) < 0)
		goto fail;
	if (with_config) {
		len = keel_blob_read(s, id, &buf, err);
		if (len < 0)
			goto fail;
		img->config = json_loadb(buf, (size_t)len, 0, &jerr);
		if (!img->config) {
			keel_err_user(err, EINVAL, "image %s: config: %s", id, jerr.text);
			goto fail;
		}
	}
	return img;
fail:
	keel_image_free(img);
	return NULL;
}

struct keel_image *keel_image_get(struct keel_store *s, const char *ref, keel_error_t *err)
{
	cleanup_free char *id = keel_imgdb_resolve(s, ref, err);
	if (!id)
		return NULL;
	return keel_imgdb_load(s, id, true, err);
}

void keel_image_free(struct keel_image *img)
{
	if (!img)
		return;
	free(img->id);
	strv_free(img->repo_tags);
	strv_free(img->repo_digests);
	if (img->config)
		json_decref(img->config);
	strv_free(img->layers);
	strv_free(img->diff_ids);
	free(img->layer_sizes);
	free(img->parent);
	free(img->manifest_digest);
	free(img);
}

void keel_image_list_free(struct keel_image **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		keel_image_free(v[i]);
	free(v);
}

int keel_image_list(struct keel_store *s, bool with_config, struct keel_image ***out, size_t *n,
		    keel_error_t *err)
{
	cleanup_stmt sqlite3_stmt *st = keel_db_prepare(
		s, "SELECT id FROM images ORDER BY created DESC, added DESC, id", err);
	struct keel_image **v = NULL;
	size_t cnt = 0;
	int rc;
	*out = NULL;
	*n = 0;
	if (!st)
		return -1;
	/* One read transaction: a consistent view while other processes write. */
	sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct keel_image **nv = realloc(v, (cnt + 1) * sizeof(*v));
		if (!nv)
			goto oom;
		v = nv;
		v[cnt] = keel_imgdb_load(s, (const char *)sqlite3_column_text(st, 0), with_config,
					 err);
		if (!v[cnt])
			goto fail;
		cnt++;
	}
	sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_DONE) {
		keel_db_err(s, err, "listing images");
		keel_image_list_free(v, cnt);
		return -1;
	}
	*out = v;
	*n = cnt;
	return 0;
oom:
	keel_err(err, ENOMEM, "listing images");
fail:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	keel_image_list_free(v, cnt);
	return -1;
}

int keel_image_use(struct keel_store *s, const char *image_id, const char *container_id,
		   keel_error_t *err)
{
	cleanup_stmt sqlite3_stmt *st = keel_db_prepare(
		s, "INSERT OR IGNORE INTO image_users (image_id, container_id) VALUES (?, ?)", err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, image_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, container_id, -1, SQLITE_STATIC);
	return step_done(s, st, err);
}

int keel_image_unuse(struct keel_store *s, const char *container_id, keel_error_t *err)
{
	cleanup_stmt sqlite3_stmt *st =
		keel_db_prepare(s, "DELETE FROM image_users WHERE container_id = ?", err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, container_id, -1, SQLITE_STATIC);
	return step_done(s, st, err);
}
