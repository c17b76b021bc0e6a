/* What the store's own files and the image module share (not for the container engine:
 * it uses store.h). */
#ifndef KEEL_STORE_INTERNAL_H
#define KEEL_STORE_INTERNAL_H

#include "store/store.h"

struct keel_store {
	char *root;   /* absolute */
	int root_fd;  /* O_PATH dir */
	int lock_fd;  /* store.lock */
	int lock_mode; /* 0, LOCK_SH or LOCK_EX as held by this handle */
	sqlite3 *db;
};

/* store.lock: shared while adding blobs/layers that are not yet referenced from the
 * database (a collector would see them as garbage), exclusive while collecting. Nested calls
 * are fine (the first lock wins until keel_store_unlock). */
int keel_store_lock_shared(struct keel_store *s, keel_error_t *err);
/* Exclusive; with nonblock returns 0 (not locked) when someone else holds the lock. Returns 1
 * when locked. */
int keel_store_lock_exclusive(struct keel_store *s, bool nonblock, keel_error_t *err);
void keel_store_unlock(struct keel_store *s);

/* Runs one SQL statement sequence (no results). */
int keel_db_exec(struct keel_store *s, const char *sql, keel_error_t *err);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
int keel_db_begin(struct keel_store *s, keel_error_t *err);
int keel_db_commit(struct keel_store *s, keel_error_t *err);
void keel_db_rollback(struct keel_store *s);
/* Prepares sql; on failure sets *err. */
sqlite3_stmt *keel_db_prepare(struct keel_store *s, const char *sql, keel_error_t *err);
int keel_db_err(struct keel_store *s, keel_error_t *err, const char *what);

/* Current time as unix seconds (overridable by $SOURCE_DATE_EPOCH is not used here). */
int64_t keel_now(void);

#endif
