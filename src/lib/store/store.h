/* keel's image store: the library API the CLI and the container engine call.
 *
 * On disk under a root (default /var/lib/keel, or $KEEL_ROOT, or --root):
 *   keel.db               SQLite metadata (WAL): images, layers, tags, image users, and any
 *                         table another module adds through keel_store_migrate()
 *   blobs/sha256/<hex>    content-addressed blobs (configs, layer tars as received)
 *   layers/<chainhex>/    each layer unpacked once (overlayfs whiteouts), shared read-only
 *   store.lock            flock: shared by writers that add (load, import, commit),
 *                         exclusive for garbage collection (prune, rmi's cleanup)
 *
 * Every function returns >= 0 on success and -1 with *err set on failure (constructors
 * return NULL). A missing image is err->errnum == ENOENT; a conflict (image in use, tag
 * ambiguous) is EBUSY. Nothing here prints or exits. Several processes may use one root at
 * once: metadata changes are SQLite transactions, files appear by rename only. */
#ifndef KEEL_STORE_H
#define KEEL_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "util/error.h"

struct keel_store;

/* The root to use when the caller got none: $KEEL_ROOT, else /var/lib/keel. Borrowed. */
const char *keel_store_default_root(void);

/* Opens (creating when needed) the store at root and migrates its schema. Caller owns the
 * result; release with keel_store_close (NULL is fine). */
struct keel_store *keel_store_open(const char *root, keel_error_t *err);
void keel_store_close(struct keel_store *s);

/* The store's SQLite handle (borrowed; valid until keel_store_close). WAL mode, foreign keys
 * on, busy_timeout set: other modules may run their own statements and transactions on it
 * (use BEGIN IMMEDIATE for writes). */
sqlite3 *keel_store_db(struct keel_store *s);

/* The root directory, absolute (borrowed). */
const char *keel_store_root(struct keel_store *s);

/* Brings `component`'s tables to version n: runs steps[v..n-1] (SQL, one string a version)
 * in one transaction, where v is the version recorded in table `schema`. Safe to call from
 * several processes at once; a database newer than the caller knows is an error (EPROTO). */
int keel_store_migrate(struct keel_store *s, const char *component, const char *const *steps,
		       size_t n, keel_error_t *err);

/* ---------------------------------------------------------------------------------------- */
/* images */

struct keel_image {
	char *id;              /* "sha256:<64 hex>" = digest of the config blob */
	char **repo_tags;      /* NULL-terminated, familiar form ("busybox:latest") */
	char **repo_digests;   /* NULL-terminated ("busybox@sha256:..."), often empty: recorded
				  by the registry client (keel_imgdb_repo_digest in imagedb.h) */
	json_t *config;        /* the full image config JSON (owned) */
	char **layers;         /* absolute layer dirs, lowest first, NULL-terminated: overlayfs
				  lowerdir is them joined by ':' in REVERSE order */
	char **diff_ids;       /* "sha256:..." per layer, same order, NULL-terminated */
	int64_t *layer_sizes;  /* bytes of file content per layer, same order */
	size_t n_layers;
	int64_t size;          /* bytes of file content in all layers */
	int64_t created;       /* config "created" as unix seconds (0 when absent) */
	char *parent;          /* parent image id (commit) or NULL */
	char *manifest_digest; /* manifest it was loaded with, or NULL */
};

/* Looks an image up by reference: a name ("busybox", "busybox:1", "host:5000/a/b:t",
 * "name@sha256:..."), a full id ("sha256:<hex>" or "<hex>"), or an unambiguous id prefix.
 * Names win over id prefixes, as in Docker. ENOENT when nothing matches, EBUSY when a prefix
 * is ambiguous. Caller frees with keel_image_free. */
struct keel_image *keel_image_get(struct keel_store *s, const char *ref, keel_error_t *err);
void keel_image_free(struct keel_image *img);

/* Makes sure docker.io/library/busybox:latest exists, building it from the host's Debian
 * busybox-static (/bin/busybox, or $KEEL_BUSYBOX) when missing. Deterministic: the same
 * binary gives the same image id on every machine. Returns 1 when it built it, 0 when the
 * tag already existed. */
int keel_store_ensure_busybox(struct keel_store *s, keel_error_t *err);

/* `commit`: makes a new image from parent_id's layers plus one layer made of upper_dir (an
 * overlayfs upper dir: 0:0 char devices become .wh.<name> entries, opaque dirs get
 * .wh..wh..opq). config is the new image's runtime config (the "config" member: Cmd, Env,
 * ...; borrowed); comment and author may be NULL; tag (any reference form) may be NULL.
 * parent_id may be NULL for an image of just this layer. Returns the new id
 * ("sha256:...", caller frees). Crash-safe: a killed commit leaves no visible image. */
char *keel_image_commit(struct keel_store *s, const char *upper_dir, const char *parent_id,
			json_t *config, const char *comment, const char *author, const char *tag,
			keel_error_t *err);

/* Image users: the engine records each container made from an image, so rmi and prune leave
 * the image (and its layers) alone while a container uses it. Idempotent. Backed by table
 * image_users(image_id, container_id). */
int keel_image_use(struct keel_store *s, const char *image_id, const char *container_id,
		   keel_error_t *err);
int keel_image_unuse(struct keel_store *s, const char *container_id, keel_error_t *err);

/* Writes dir (a directory fd, read relative to it, never following symlinks out) as an
 * uncompressed tar to out_fd: for `export` of a container rootfs. */
int keel_store_tar_dir(int dirfd, int out_fd, keel_error_t *err);

#endif
