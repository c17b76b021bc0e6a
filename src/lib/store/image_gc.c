/* Removing images (rmi, prune) and collecting what no image references any more. */
#include "store/imagedb.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/reference.h"
#include "store/blob.h"
#include "store/layer.h"
#include "store/store_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

static void finalize(sqlite3_stmt **st)
{
	if (*st)
		sqlite3_finalize(*st);
}
#define cleanup_stmt __attribute__((cleanup(finalize)))

void keel_events_free(struct keel_events *ev)
{
	for (size_t i = 0; ev && i < ev->n; i++)
		free(ev->v[i]);
	if (ev) {
		free(ev->v);
		ev->v = NULL; /* reusable */
		ev->n = 0;
	}
}

__attribute__((format(printf, 2, 3))) static void event(struct keel_events *ev, const char *fmt,
							 ...)
{
	va_list ap;
	char *s = NULL, **nv;
	if (!ev)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s || !(nv = realloc(ev->v, (ev->n + 1) * sizeof(char *)))) {
		free(s);
		return;
	}
	ev->v = nv;
	ev->v[ev->n++] = s;
}

/* Count of rows of sql with one text parameter. */
static int64_t count(struct keel_store *s, const char *sql, const char *arg, keel_error_t *err)
{
	cleanup_stmt sqlite3_stmt *st = keel_db_prepare(s, sql, err);
	if (!st)
		return -1;
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW)
		return keel_db_err(s, err, "database");
	return sqlite3_column_int64(st, 0);
}

static int exec1(struct keel_store *s, const char *sql, const char *arg, keel_error_t *err)
{
	cleanup_stmt sqlite3_stmt *st = keel_db_prepare(s, sql, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	return sqlite3_step(st) == SQLITE_DONE ? 0 : keel_db_err(s, err, "database");
}

static char *first_user(struct keel_store *s, const char *id)
{
	cleanup_stmt sqlite3_stmt *st = keel_db_prepare(
		s, "SELECT container_id FROM image_users WHERE image_id = ? LIMIT 1", NULL);
	char *r = NULL;
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		r = strndup((const char *)sqlite3_column_text(st, 0), 12);
	return r;
}

static int untag(struct keel_store *s, const char *full, struct keel_events *ev,
		 keel_error_t *err)
{
	cleanup_free char *fam = keel_ref_familiarize(full);
	/* name@digest is a repo digest (registry pulls), anything else a tag. */
	if (exec1(s, strchr(full, '@') ? "DELETE FROM repo_digests WHERE name = ?"
				       : "DELETE FROM tags WHERE name = ?", full, err) < 0)
		return -1;
	if (sqlite3_changes(s->db) > 0)
		event(ev, "Untagged: %s", fam ? fam : full);
	return 0;
}

static int untag_all(struct keel_store *s, const char *id, struct keel_events *ev,
		     keel_error_t *err)
{
	cleanup_stmt sqlite3_stmt *st = keel_db_prepare(
		s, "SELECT name FROM tags WHERE image_id = ?1 UNION ALL"
		   " SELECT name FROM repo_digests WHERE image_id = ?1 ORDER BY name", err);
	char **names = NULL;
	size_t n = 0;
	int rc, ret = 0;
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char **nv = realloc(names, (n + 1) * sizeof(char *));
		if (!nv)
			break;
		names = nv;
		names[n++] = strdup((const char *)sqlite3_column_text(st, 0));
	}
	for (size_t i = 0; i < n; i++) {
		if (ret == 0 && names[i])
			ret = untag(s, names[i], ev, err);
		free(names[i]);
	}
	free(names);
	return ret;
}

/* Deletes image id (no tags left, no users, no children) and then its untagged parents. */
static int delete_chain(struct keel_store *s, const char *id, struct keel_events *ev,
			keel_error_t *err)
{
	cleanup_free char *cur = strdup(id);
	while (cur) {
		cleanup_stmt sqlite3_stmt *st =
			keel_db_prepare(s, "SELECT parent FROM images WHERE id = ?", err);
		char *parent = NULL;
		if (!st)
			return -1;
		sqlite3_bind_text(st, 1, cur, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
			parent = strdup((const char *)sqlite3_column_text(st, 0));
		if (exec1(s, "DELETE FROM images WHERE id = ?", cur, err) < 0) {
			free(parent);
			return -1;
		}
		event(ev, "Deleted: %s", cur);
		free(cur);
		cur = parent;
		if (cur && (count(s, "SELECT count(*) FROM tags WHERE image_id = ?", cur, err) != 0 ||
			    count(s, "SELECT count(*) FROM images WHERE parent = ?", cur, err) != 0 ||
			    count(s, "SELECT count(*) FROM image_users WHERE image_id = ?", cur,
				  err) != 0)) {
			free(cur);
			cur = NULL;
		}
	}
	return 0;
}

static bool is_name_ref(const char *ref, const char *id)
{
	const char *hex = strncmp(ref, "sha256:", 7) == 0 ? ref + 7 : ref;
	return !(keel_is_id_prefix(ref) && strncmp(id + 7, hex, strlen(hex)) == 0);
}

static int remove_locked(struct keel_store *s, const char *ref, bool force,
			 struct keel_events *ev, keel_error_t *err)
{
	cleanup_free char *id = keel_imgdb_resolve(s, ref, err);
	cleanup_free char *user = NULL;
	int64_t ntags, children;
	if (!id)
		return -1;
	ntags = count(s, "SELECT count(*) FROM tags WHERE image_id = ?", id, err);
	children = count(s, "SELECT count(*) FROM images WHERE parent = ?", id, err);
	if (ntags < 0 || children < 0)
		return -1;
	user = first_user(s, id);
	if (is_name_ref(ref, id)) {
		struct keel_ref r;
		cleanup_free char *full = NULL;
		if (keel_ref_parse(ref, &r, err) < 0 || keel_ref_default_tag(&r, err) < 0)
			return -1;
		full = keel_ref_string(&r);
		keel_ref_free(&r);
		if (ntags == 1 && user && !force)
			return keel_err_user(err, EBUSY, "conflict: unable to remove repository reference "
					"\"%s\" (must force) - container %s is using its referenced "
					"image %.12s", ref, user, id + 7);
		if (full && strchr(full, '@') == NULL) {
			if (untag(s, full, ev, err) < 0)
				return -1;
			ntags--;
		} else if (full && untag(s, full, ev, err) < 0) {
			return -1;
		}
		if (ntags > 0 || user || children)
			return 0;
		return delete_chain(s, id, ev, err);
	}
	if (children)
		return keel_err_user(err, EBUSY, "conflict: unable to delete %.12s (cannot be forced) - "
				"image has dependent child images", id + 7);
	if (user && !force)
		return keel_err_user(err, EBUSY, "conflict: unable to delete %.12s (must be forced) - "
				"image is being used by stopped container %s", id + 7, user);
	if (ntags > 1 && !force)
		return keel_err_user(err, EBUSY, "conflict: unable to delete %.12s (must be forced) - "
				"image is referenced in multiple repositories", id + 7);
	if (untag_all(s, id, ev, err) < 0)
		return -1;
	return user ? 0 : delete_chain(s, id, ev, err);
}

int keel_image_remove(struct keel_store *s, const char *ref, bool force, struct keel_events *ev,
		      keel_error_t *err)
{
	if (keel_db_begin(s, err) < 0)
		return -1;
	if (remove_locked(s, ref, force, ev, err) < 0) {
		keel_db_rollback(s);
		return -1;
	}
	if (keel_db_commit(s, err) < 0)
		return -1;
	/* Files go after the metadata: a crash in between leaves garbage, never a dangling
	 * reference. Skipped while another process is adding (it holds the lock shared). */
	return keel_store_gc(s, true, NULL, err);
}

struct prune_want {
	keel_prune_want_fn fn;
	void *arg;
};

static int prune_round(struct keel_store *s, bool all, const struct prune_want *w,
		       struct keel_events *ev, int *removed, keel_error_t *err)
{
	const char *sql =
		all ? "SELECT id FROM images i WHERE NOT EXISTS (SELECT 1 FROM image_users u WHERE"
		      " u.image_id = i.id) AND NOT EXISTS (SELECT 1 FROM images c WHERE c.parent ="
		      " i.id)"
		    : "SELECT id FROM images i WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE"
		      " t.image_id = i.id) AND NOT EXISTS (SELECT 1 FROM image_users u WHERE"
		      " u.image_id = i.id) AND NOT EXISTS (SELECT 1 FROM images c WHERE c.parent ="
		      " i.id)";
	cleanup_stmt sqlite3_stmt *st = keel_db_prepare(s, sql, err);
	cleanup_strv char **ids = NULL;
	size_t n = 0;
	int ret = 0;
	*removed = 0;
	if (!st)
		return -1;
	/* all candidates first: a filter may keep some, and the others must still be reached */
	while (sqlite3_step(st) == SQLITE_ROW) {
		char **v = realloc(ids, (n + 2) * sizeof(*v));
		if (!v)
			return keel_err(err, ENOMEM, "out of memory");
		ids = v;
		ids[n + 1] = NULL;
		if (!(ids[n++] = strdup((const char *)sqlite3_column_text(st, 0))))
			return keel_err(err, ENOMEM, "out of memory");
	}
	sqlite3_reset(st);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (w->fn && !w->fn(s, ids[i], w->arg))
			continue;
		ret = untag_all(s, ids[i], ev, err);
		if (ret == 0)
			ret = exec1(s, "DELETE FROM images WHERE id = ?", ids[i], err);
		if (ret == 0) {
			event(ev, "deleted: %s", ids[i]);
			(*removed)++;
		}
	}
	return ret;
}

int keel_image_prune(struct keel_store *s, bool all, keel_prune_want_fn want, void *want_arg,
		     struct keel_events *ev, int64_t *reclaimed, keel_error_t *err)
{
	const struct prune_want w = { want, want_arg };
	int removed;
	if (keel_db_begin(s, err) < 0)
		return -1;
	/* Rounds: removing a child makes its parent prunable. */
	do {
		if (prune_round(s, all, &w, ev, &removed, err) < 0) {
			keel_db_rollback(s);
			return -1;
		}
	} while (removed > 0);
	if (keel_db_commit(s, err) < 0)
		return -1;
	for (size_t i = 0; ev && i < ev->n; i++)
		if (strncmp(ev->v[i], "Untagged: ", 10) == 0)
			memcpy(ev->v[i], "untagged: ", 10);
	return keel_store_gc(s, false, reclaimed, err);
}

/* Removes leftovers named .tmp-* in dir (relative to the root). */
static void remove_tmp_entries(struct keel_store *s, const char *dir)
{
	char p[4096];
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	snprintf(p, sizeof(p), "%s/%s", s->root, dir);
	d = opendir(p);
	while (d && (de = readdir(d)))
		if (strncmp(de->d_name, ".tmp-", 5) == 0) {
			snprintf(p, sizeof(p), "%s/%s/%s", s->root, dir, de->d_name);
			keel_rm_rf(p, NULL);
		}
}

static int gc_layers(struct keel_store *s, int64_t *reclaimed, keel_error_t *err)
{
	cleanup_stmt sqlite3_stmt *st = keel_db_prepare(
		s, "SELECT chain_id, size FROM layers l WHERE NOT EXISTS (SELECT 1 FROM"
		   " image_layers il WHERE il.chain_id = l.chain_id)", err);
	cleanup_stmt sqlite3_stmt *del = keel_db_prepare(s, "DELETE FROM layers WHERE chain_id = ?",
							 err);
	int rc;
	if (!st || !del)
		return -1;
	if (keel_db_begin(s, err) < 0)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		sqlite3_bind_text(del, 1, (const char *)sqlite3_column_text(st, 0), -1,
				  SQLITE_TRANSIENT);
		if (sqlite3_step(del) != SQLITE_DONE) {
			keel_db_rollback(s);
			return keel_db_err(s, err, "collecting layers");
		}
		sqlite3_reset(del);
		if (reclaimed)
			*reclaimed += sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return keel_db_commit(s, err);
}

/* Is name (hex) referenced by a row of the given query? */
static bool referenced(struct keel_store *s, sqlite3_stmt *st, const char *hex)
{
	char d[KEEL_DIGEST_SIZE];
	bool r;
	snprintf(d, sizeof(d), "sha256:%s", hex);
	sqlite3_bind_text(st, 1, d, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return r;
}

/* Files on disk that no row names: layer dirs and blobs of removed images, of killed loads. */
static void gc_files(struct keel_store *s)
{
	cleanup_stmt sqlite3_stmt *lq =
		keel_db_prepare(s, "SELECT 1 FROM layers WHERE chain_id = ?", NULL);
	cleanup_stmt sqlite3_stmt *bq = keel_db_prepare(
		s, "SELECT 1 FROM images WHERE id = ?1 OR manifest_digest = ?1 UNION ALL"
		   " SELECT 1 FROM layers WHERE blob_digest = ?1 LIMIT 1", NULL);
	char p[4096];
	cleanup_dir DIR *ld = NULL;
	cleanup_dir DIR *bd = NULL;
	struct dirent *de;
	if (!lq || !bq)
		return;
	snprintf(p, sizeof(p), "%s/layers", s->root);
	ld = opendir(p);
	while (ld && (de = readdir(ld)))
		if (keel_is_hex64(de->d_name) && !referenced(s, lq, de->d_name)) {
			snprintf(p, sizeof(p), "%s/layers/%s", s->root, de->d_name);
			keel_rm_rf(p, NULL);
		}
	snprintf(p, sizeof(p), "%s/blobs/sha256", s->root);
	bd = opendir(p);
	while (bd && (de = readdir(bd)))
		if (keel_is_hex64(de->d_name) && !referenced(s, bq, de->d_name)) {
			snprintf(p, sizeof(p), "%s/blobs/sha256/%s", s->root, de->d_name);
			unlink(p);
		}
}

int keel_store_gc(struct keel_store *s, bool nonblock, int64_t *reclaimed, keel_error_t *err)
{
	int r = keel_store_lock_exclusive(s, nonblock, err);
	if (r <= 0)
		return r;
	r = gc_layers(s, reclaimed, err);
	if (r == 0) {
		gc_files(s);
		remove_tmp_entries(s, "layers");
		remove_tmp_entries(s, "blobs/sha256");
		remove_tmp_entries(s, "tmp");
	}
	keel_store_unlock(s);
	return r;
}

int keel_store_usage(struct keel_store *s, struct keel_store_usage *u, keel_error_t *err)
{
	memset(u, 0, sizeof(*u));
	u->images = count(s, "SELECT count(*) FROM images", NULL, err);
	u->active = count(s, "SELECT count(DISTINCT image_id) FROM image_users u JOIN images i"
			     " ON i.id = u.image_id", NULL, err);
	u->size = count(s, "SELECT coalesce(sum(size), 0) FROM layers", NULL, err);
	/* Layers no in-use image needs. */
	u->reclaimable = count(
		s, "SELECT coalesce(sum(size), 0) FROM layers l WHERE NOT EXISTS (SELECT 1 FROM"
		   " image_layers il JOIN image_users u ON u.image_id = il.image_id WHERE"
		   " il.chain_id = l.chain_id)", NULL, err);
	return u->images < 0 || u->active < 0 || u->size < 0 || u->reclaimable < 0 ? -1 : 0;
}
