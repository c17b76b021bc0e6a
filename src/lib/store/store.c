/* Opening the store: directories, the lock file, the SQLite database and its schema. */
#include "store/store_internal.h"
#include "store/digest.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

/* Version n of the store's own tables is steps[n-1]. Append, never edit. */
static const char *const store_schema[] = {
	"CREATE TABLE images ("
	"  id TEXT PRIMARY KEY,"          /* sha256:<config digest> */
	"  created INTEGER NOT NULL,"     /* config created, unix seconds */
	"  size INTEGER NOT NULL,"
	"  parent TEXT,"
	"  manifest_digest TEXT,"
	"  added INTEGER NOT NULL);"
	"CREATE TABLE layers ("
	"  chain_id TEXT PRIMARY KEY,"
	"  diff_id TEXT NOT NULL,"
	"  parent TEXT,"
	"  size INTEGER NOT NULL,"        /* file content bytes */
	"  diff_size INTEGER NOT NULL,"   /* uncompressed tar bytes */
	"  blob_digest TEXT NOT NULL,"    /* the blob as stored (maybe compressed) */
	"  media_type TEXT NOT NULL,"
	"  blob_size INTEGER NOT NULL);"
	"CREATE TABLE image_layers ("
	"  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL,"
	"  chain_id TEXT NOT NULL REFERENCES layers(chain_id),"
	"  PRIMARY KEY (image_id, idx));"
	"CREATE INDEX image_layers_chain ON image_layers(chain_id);"
	"CREATE TABLE tags ("
	"  name TEXT PRIMARY KEY,"        /* normalized: docker.io/library/busybox:latest */
	"  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,"
	"  tagged INTEGER NOT NULL);"
	"CREATE INDEX tags_image ON tags(image_id);"
	"CREATE TABLE repo_digests ("
	"  name TEXT PRIMARY KEY,"        /* docker.io/library/busybox@sha256:... */
	"  image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE);"
	"CREATE TABLE image_users ("
	"  image_id TEXT NOT NULL,"
	"  container_id TEXT NOT NULL,"
	"  PRIMARY KEY (image_id, container_id));",
};

const char *keel_store_default_root(void)
{
	const char *r = getenv("KEEL_ROOT");
	return r && *r ? r : "/var/lib/keel";
}

int64_t keel_now(void)
{
	return (int64_t)time(NULL);
}

int keel_db_err(struct keel_store *s, keel_error_t *err, const char *what)
{
	int code = sqlite3_errcode(s->db);
	return keel_err(err, code == SQLITE_BUSY ? EBUSY : EIO, "%s: %s", what,
			sqlite3_errmsg(s->db));
}

int keel_db_exec(struct keel_store *s, const char *sql, keel_error_t *err)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		keel_err(err, EIO, "database: %s", msg ? msg : sqlite3_errmsg(s->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int keel_db_begin(struct keel_store *s, keel_error_t *err)
{
	return keel_db_exec(s, "BEGIN IMMEDIATE", err);
}

int keel_db_commit(struct keel_store *s, keel_error_t *err)
{
	if (keel_db_exec(s, "COMMIT", err) < 0) {
		keel_db_rollback(s);
		return -1;
	}
	return 0;
}

void keel_db_rollback(struct keel_store *s)
{
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

sqlite3_stmt *keel_db_prepare(struct keel_store *s, const char *sql, keel_error_t *err)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		keel_db_err(s, err, "database");
		return NULL;
	}
	return st;
}

static int schema_version(struct keel_store *s, const char *component, int *version,
			  keel_error_t *err)
{
	sqlite3_stmt *st = keel_db_prepare(s, "SELECT version FROM schema WHERE component = ?", err);
	int rc;
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return keel_db_err(s, err, "reading schema version");
	return 0;
}

static int migrate_locked(struct keel_store *s, const char *component, const char *const *steps,
			  size_t n, keel_error_t *err)
{
	sqlite3_stmt *st;
	int v, rc;
	if (keel_db_exec(s, "CREATE TABLE IF NOT EXISTS schema (component TEXT PRIMARY KEY,"
			    " version INTEGER NOT NULL)", err) < 0)
		return -1;
	if (schema_version(s, component, &v, err) < 0)
		return -1;
	if ((size_t)v > n)
		return keel_err_user(err, EPROTO, "%s schema version %d is newer than this keel (%zu)",
				component, v, n);
	for (size_t i = (size_t)v; i < n; i++)
		if (keel_db_exec(s, steps[i], err) < 0)
			return keel_err_wrap(err, "migrating %s to version %zu", component, i + 1);
	st = keel_db_prepare(s, "INSERT OR REPLACE INTO schema (component, version) VALUES (?, ?)",
			     err);
	if (!st)
		return -1;
	sqlite3_bind_text(st, 1, component, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)n);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : keel_db_err(s, err, "writing schema version");
}

int keel_store_migrate(struct keel_store *s, const char *component, const char *const *steps,
		       size_t n, keel_error_t *err)
{
	int v = -1;
	/* Fast path without a write transaction: most opens find the schema current. */
	if (schema_version(s, component, &v, err) == 0 && (size_t)v == n)
		return 0;
	if (keel_db_begin(s, err) < 0)
		return -1;
	if (migrate_locked(s, component, steps, n, err) < 0) {
		keel_db_rollback(s);
		return -1;
	}
	return keel_db_commit(s, err);
}

static int open_db(struct keel_store *s, keel_error_t *err)
{
	cleanup_free char *path = NULL, *lock = NULL;
	cleanup_close int lfd = -1;
	if (asprintf(&path, "%s/keel.db", s->root) < 0 || asprintf(&lock, "%s/open.lock", s->root) < 0)
		return keel_err(err, ENOMEM, "database path");
	/* Opens are serialized (briefly) by a lock of their own: several processes creating a
	 * fresh database at once — the WAL switch, the first schema — can otherwise see SQLITE_BUSY
	 * without the busy handler being consulted. Released when this function returns. */
	lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0 || flock(lfd, LOCK_EX) < 0)
		return keel_err_sys(err, "locking %s", lock);
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		keel_err(err, EIO, "opening %s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : "out of memory");
		return -1;
	}
	/* busy_timeout first: switching a fresh database to WAL takes a lock that a concurrent
	 * opener may hold. synchronous=NORMAL is crash-safe in WAL mode (a power cut may lose
	 * the last transaction, never corrupt). wal_autocheckpoint is small because each keel
	 * process is usually the database's only connection, and the first connection rebuilds
	 * the WAL index by reading every frame of the WAL: with SQLite's default (1000 pages) a
	 * `keel run` read ~400 frames before doing anything. 64 pages keeps that read short and
	 * costs a checkpoint every dozen or so runs. */
	sqlite3_busy_timeout(s->db, 60000);
	if (keel_db_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			    " PRAGMA wal_autocheckpoint=64; PRAGMA foreign_keys=ON;", err) < 0)
		return keel_err_wrap(err, "opening %s", path);
	return keel_store_migrate(s, "store", store_schema,
				  sizeof(store_schema) / sizeof(store_schema[0]), err);
}

static int make_dirs(const char *root, keel_error_t *err)
{
	static const char *const sub[] = {"blobs/sha256", "layers", "tmp"};
	char p[PATH_MAX];
	if (keel_mkdir_p(root, 0711, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", root, sub[i]);
		if (keel_mkdir_p(p, 0700, err) < 0)
			return -1;
	}
	return 0;
}

struct keel_store *keel_store_open(const char *root, keel_error_t *err)
{
	struct keel_store *s;
	char abs[PATH_MAX];
	if (!root || !*root)
		root = keel_store_default_root();
	if (make_dirs(root, err) < 0)
		return NULL;
	if (!realpath(root, abs)) {
		keel_err_sys(err, "store root %s", root);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->root = strdup(abs))) {
		free(s);
		keel_err(err, ENOMEM, "store");
		return NULL;
	}
	s->lock_fd = -1;
	s->root_fd = open(abs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0) {
		keel_err_sys(err, "open %s", abs);
		goto fail;
	}
	s->lock_fd = openat(s->root_fd, "store.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0) {
		keel_err_sys(err, "open %s/store.lock", abs);
		goto fail;
	}
	if (open_db(s, err) < 0)
		goto fail;
	return s;
fail:
	keel_store_close(s);
	return NULL;
}

void keel_store_close(struct keel_store *s)
{
	if (!s)
		return;
	if (s->db)
		sqlite3_close_v2(s->db);
	if (s->lock_fd >= 0)
		close(s->lock_fd);
	if (s->root_fd >= 0)
		close(s->root_fd);
	free(s->root);
	free(s);
}

sqlite3 *keel_store_db(struct keel_store *s)
{
	return s->db;
}

const char *keel_store_root(struct keel_store *s)
{
	return s->root;
}

int keel_store_lock_shared(struct keel_store *s, keel_error_t *err)
{
	if (s->lock_mode)
		return 0;
	while (flock(s->lock_fd, LOCK_SH) < 0)
		if (errno != EINTR)
			return keel_err_sys(err, "locking the store");
	s->lock_mode = LOCK_SH;
	return 0;
}

int keel_store_lock_exclusive(struct keel_store *s, bool nonblock, keel_error_t *err)
{
	if (s->lock_mode == LOCK_EX)
		return 1;
	/* Converting a shared lock is not atomic in flock(2); callers never hold one here. */
	while (flock(s->lock_fd, LOCK_EX | (nonblock ? LOCK_NB : 0)) < 0) {
		if (errno == EWOULDBLOCK && nonblock)
			return 0;
		if (errno != EINTR)
			return keel_err_sys(err, "locking the store");
	}
	s->lock_mode = LOCK_EX;
	return 1;
}

void keel_store_unlock(struct keel_store *s)
{
	if (!s->lock_mode)
		return;
	flock(s->lock_fd, LOCK_UN);
	s->lock_mode = 0;
}
