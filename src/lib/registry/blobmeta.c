/* What the registry module remembers in keel.db (component "registry"):
 *   registry_compressed: the compressed blob that carried each layer (diff id) to or from a
 *                        registry, so a second push sends a HEAD instead of compressing again;
 *   registry_sources:    which repositories of which registry hold a blob, for cross-repository
 *                        mounts. */
#include "registry/regclient.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "store/store_internal.h"

static const char *const steps[] = {
	"CREATE TABLE registry_compressed (diff_id TEXT NOT NULL, media_type TEXT NOT NULL,"
	" digest TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY (diff_id, media_type));"
	"CREATE TABLE registry_sources (digest TEXT NOT NULL, registry TEXT NOT NULL,"
	" repo TEXT NOT NULL, PRIMARY KEY (digest, registry, repo));",
};

static int migrate(struct keel_store *s, keel_error_t *err)
{
	return keel_store_migrate(s, "registry", steps, sizeof(steps) / sizeof(steps[0]), err);
}

int keel_regmeta_compressed(struct keel_store *s, const char *diff_id,
			    char digest[KEEL_DIGEST_SIZE], int64_t *size, char media_type[128],
			    keel_error_t *err)
{
	sqlite3_stmt *st;
	int rc, found = 0;
	if (migrate(s, err) < 0)
		return -1;
	st = keel_db_prepare(s,
			     "SELECT digest, size, media_type FROM registry_compressed"
			     " WHERE diff_id = ? ORDER BY media_type LIMIT 1",
			     err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, diff_id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(digest, KEEL_DIGEST_SIZE, "%s", (const char *)sqlite3_column_text(st, 0));
		*size = sqlite3_column_int64(st, 1);
		snprintf(media_type, 128, "%s", (const char *)sqlite3_column_text(st, 2));
		found = 1;
	} else if (rc != SQLITE_DONE) {
		found = keel_db_err(s, err, "registry_compressed");
	}
	sqlite3_finalize(st);
	return found;
}

static int exec4(struct keel_store *s, const char *sql, const char *a, const char *b, const char *c,
		 int64_t d, keel_error_t *err)
{
	sqlite3_stmt *st;
	int rc;
	if (migrate(s, err) < 0)
		return -1;
	st = keel_db_prepare(s, sql, err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, a, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, b, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, c, -1, SQLITE_STATIC);
	if (d >= 0)
		sqlite3_bind_int64(st, 4, d);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : keel_db_err(s, err, "registry metadata");
}

int keel_regmeta_remember(struct keel_store *s, const char *diff_id, const char *digest,
			  int64_t size, const char *media_type, keel_error_t *err)
{
	return exec4(s,
		     "INSERT OR REPLACE INTO registry_compressed (diff_id, media_type, digest,"
		     " size) VALUES (?, ?, ?, ?)",
		     diff_id, media_type, digest, size, err);
}

int keel_regmeta_source(struct keel_store *s, const char *digest, const char *domain,
			char repo[256], keel_error_t *err)
{
	sqlite3_stmt *st;
	int rc, found = 0;
	if (migrate(s, err) < 0)
		return -1;
	st = keel_db_prepare(s,
			     "SELECT repo FROM registry_sources WHERE digest = ? AND"
			     " registry = ? LIMIT 1",
			     err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, digest, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, domain, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(repo, 256, "%s", (const char *)sqlite3_column_text(st, 0));
		found = 1;
	} else if (rc != SQLITE_DONE) {
		found = keel_db_err(s, err, "registry_sources");
	}
	sqlite3_finalize(st);
	return found;
}

int keel_regmeta_add_source(struct keel_store *s, const char *digest, const char *domain,
			    const char *repo, keel_error_t *err)
{
	return exec4(s,
		     "INSERT OR IGNORE INTO registry_sources (digest, registry, repo)"
		     " VALUES (?, ?, ?)",
		     digest, domain, repo, -1, err);
}
