/* `import` of a rootfs tar, `commit` of a container's upper dir, and the Dockerfile-style
 * changes (-c) both accept. */
#include "image/image.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "image/manifest.h"
#include "image/reference.h"
#include "store/blob.h"
#include "store/layer.h"
#include "store/libarchive.h"
#include "store/store_internal.h"
#include "util/cleanup.h"

/* "[\"a\",\"b\"]" (JSON form) or shell form -> ["/bin/sh","-c","..."]. */
static json_t *command(const char *v)
{
	json_t *j;
	while (isspace((unsigned char)*v))
		v++;
	if (*v == '[' && (j = json_loads(v, 0, NULL))) {
		size_t i;
		json_t *x;
		bool ok = json_is_array(j);
		json_array_foreach(j, i, x) ok = ok && json_is_string(x);
		if (ok)
			return j;
		json_decref(j);
	}
	return json_pack("[s, s, s]", "/bin/sh", "-c", v);
}

/* "K=V" or "K V" pairs, Dockerfile ENV / LABEL. */
static int key_values(json_t *obj, json_t *env, const char *v, keel_error_t *err)
{
	char key[256];
	const char *eq = strchr(v, '='), *sp = strchr(v, ' ');
	const char *sep = eq && (!sp || eq < sp) ? eq : sp;
	if (!sep || sep == v || (size_t)(sep - v) >= sizeof(key))
		return keel_err_user(err, EINVAL, "invalid change: %s needs KEY=VALUE", v);
	snprintf(key, sizeof(key), "%.*s", (int)(sep - v), v);
	if (obj)
		return json_object_set_new(obj, key, json_string(sep + 1));
	/* ENV replaces an existing KEY=... */
	size_t i, kl = strlen(key);
	json_t *x;
	char *line = NULL;
	if (asprintf(&line, "%s=%s", key, sep + 1) < 0)
		return keel_err(err, ENOMEM, "change");
	json_array_foreach(env, i, x) {
		const char *s = json_string_value(x);
		if (s && !strncmp(s, key, kl) && s[kl] == '=') {
			json_array_set_new(env, i, json_string(line));
			free(line);
			return 0;
		}
	}
	json_array_append_new(env, json_string(line));
	free(line);
	return 0;
}

static json_t *member(json_t *o, const char *k, json_t *(*make)(void))
{
	json_t *v = json_object_get(o, k);
	if (!v || json_is_null(v)) {
		v = make();
		json_object_set_new(o, k, v);
	}
	return v;
}

int keel_image_apply_change(json_t *c, const char *change, keel_error_t *err)
{
	char op[16];
	const char *v;
	size_t n = strcspn(change, " \t");
	if (n == 0 || n >= sizeof(op))
		return keel_err_user(err, EINVAL, "invalid change: %s", change);
	for (size_t i = 0; i < n; i++)
		op[i] = (char)toupper((unsigned char)change[i]);
	op[n] = '\0';
	v = change + n;
	while (isspace((unsigned char)*v))
		v++;
	if (!strcmp(op, "CMD"))
		return json_object_set_new(c, "Cmd", command(v));
	if (!strcmp(op, "ENTRYPOINT"))
		return json_object_set_new(c, "Entrypoint", command(v));
	if (!strcmp(op, "ENV"))
		return key_values(NULL, member(c, "Env", json_array), v, err);
	if (!strcmp(op, "LABEL"))
		return key_values(member(c, "Labels", json_object), NULL, v, err);
	if (!strcmp(op, "WORKDIR"))
		return json_object_set_new(c, "WorkingDir", json_string(v));
	if (!strcmp(op, "USER"))
		return json_object_set_new(c, "User", json_string(v));
	if (!strcmp(op, "STOPSIGNAL"))
		return json_object_set_new(c, "StopSignal", json_string(v));
	if (!strcmp(op, "EXPOSE") || !strcmp(op, "VOLUME")) {
		char key[128];
		snprintf(key, sizeof(key), "%s%s", v, !strcmp(op, "EXPOSE") && !strchr(v, '/')
							  ? "/tcp" : "");
		return json_object_set_new(
			member(c, !strcmp(op, "EXPOSE") ? "ExposedPorts" : "Volumes", json_object),
			key, json_object());
	}
	return keel_err_user(err, EINVAL, "invalid change: %s is not a supported instruction", op);
}

static void now_rfc3339(char *out, size_t len)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	keel_format_time(ts.tv_sec, ts.tv_nsec, out, len);
}

/* The tarball read from fd, for keel_layer_stream. */
struct fd_stream {
	int fd;
	char buf[128 * 1024];
};

static ssize_t fd_read(void *ud, const void **buf, keel_error_t *err)
{
	struct fd_stream *fs = ud;
	ssize_t n;
	while ((n = read(fs->fd, fs->buf, sizeof(fs->buf))) < 0 && errno == EINTR)
		;
	if (n < 0)
		return keel_err_sys(err, "reading the tarball");
	*buf = fs->buf;
	return n;
}

static char *import_config(char *const *changes, size_t n_changes, const char *message,
			   const char *diff_id, keel_error_t *err)
{
	cleanup_json json_t *cfg = NULL;
	char now[64], *cfg_s;
	json_t *rc = json_object();
	now_rfc3339(now, sizeof(now));
	for (size_t i = 0; rc && i < n_changes; i++)
		if (keel_image_apply_change(rc, changes[i], err) < 0) {
			json_decref(rc);
			return NULL;
		}
	cfg = json_pack("{s:s, s:s, s:s, s:o, s:{s:s, s:[s]}, s:[{s:s, s:s, s:s}]}", "architecture",
			"amd64", "os", "linux", "created", now, "config", rc, "rootfs", "type",
			"layers", "diff_ids", diff_id, "history", "created", now, "created_by",
			"", "comment", message && *message ? message : "Imported from -");
	if (!cfg || !(cfg_s = json_dumps(cfg, JSON_COMPACT))) {
		keel_err(err, ENOMEM, "import");
		return NULL;
	}
	return cfg_s;
}

/* One pass, as load: the tarball is stored as a blob and unpacked while it is read. */
static int import_locked(struct keel_store *s, int fd, char *const *changes, size_t n_changes,
			 const char *message, const char *tag, char out_id[KEEL_DIGEST_SIZE],
			 keel_error_t *err)
{
	struct keel_layer_pending lp;
	struct keel_layer_pending *pend[1] = {&lp};
	char *blobs[1] = {lp.blob_digest};
	cleanup_free struct fd_stream *fs = calloc(1, sizeof(*fs));
	cleanup_free char *full = NULL;
	cleanup_free char *cfg_s = NULL;
	int ret = -1;
	if (!fs)
		return keel_err(err, ENOMEM, "import");
	if (tag && !(full = keel_image_normalize_tag(tag, err)))
		return -1;
	fs->fd = fd;
	if (keel_layer_stream(s, fd_read, fs, &lp, err) < 0)
		return keel_err_wrap(err, "import");
	if (!lp.tmp_dir[0])
		keel_err_user(err, EINVAL, "import: %s", lp.unpack_error);
	else if ((cfg_s = import_config(changes, n_changes, message, lp.diff_id, err)))
		ret = keel_image_add_pending(s, cfg_s, strlen(cfg_s), blobs, pend, 1,
					     full ? &full : NULL, full ? 1 : 0, NULL, NULL, out_id,
					     err);
	keel_layer_pending_discard(s, &lp);
	return ret;
}

int keel_image_import(struct keel_store *s, int fd, char *const *changes, size_t n_changes,
		      const char *message, const char *tag, char out_id[KEEL_DIGEST_SIZE],
		      keel_error_t *err)
{
	int ret;
	if (keel_store_lock_shared(s, err) < 0)
		return -1;
	ret = import_locked(s, fd, changes, n_changes, message, tag, out_id, err);
	keel_store_unlock(s);
	return ret;
}

static la_ssize_t blob_cb(struct archive *a, void *ud, const void *buf, size_t len)
{
	keel_error_t e;
	if (keel_blob_write(ud, buf, len, &e) < 0) {
		archive_set_error(a, EIO, "%s", e.msg);
		return -1;
	}
	return (la_ssize_t)len;
}

int keel_image_diff_blob(struct keel_store *s, const char *upper, char out[KEEL_DIGEST_SIZE],
			 keel_error_t *err)
{
	cleanup_close int dfd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct keel_blob_writer w;
	struct archive *a;
	int ret;
	if (dfd < 0)
		return keel_err_sys(err, "open %s", upper);
	if (keel_blob_begin(s, &w, err) < 0)
		return -1;
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	ret = archive_write_open(a, &w, NULL, blob_cb, NULL) == ARCHIVE_OK
		      ? keel_layer_write_tar(dfd, a, true, err)
		      : keel_err(err, EIO, "commit: %s", archive_error_string(a));
	if (archive_write_close(a) != ARCHIVE_OK && ret == 0)
		ret = keel_err(err, EIO, "commit: %s", archive_error_string(a));
	archive_write_free(a);
	if (ret < 0) {
		keel_blob_abort(&w);
		return -1;
	}
	return keel_blob_commit(&w, NULL, out, err);
}

/* Blob digests of the parent's layers, lowest first, plus room for one more. */
static char **parent_blobs(struct keel_store *s, const struct keel_image *p, keel_error_t *err)
{
	char **v = calloc(p->n_layers + 2, sizeof(char *)), chain[KEEL_DIGEST_SIZE];
	struct keel_layer_rec rec;
	for (size_t i = 0; v && i < p->n_layers; i++) {
		keel_layer_chain_id(i ? chain : NULL, p->diff_ids[i], chain);
		if (keel_imgdb_layer(s, chain, &rec, err) <= 0 || !(v[i] = strdup(rec.blob_digest))) {
			for (size_t k = 0; k < i; k++)
				free(v[k]);
			free(v);
			keel_err_user(err, ENOENT, "parent layer %s is missing", chain);
			return NULL;
		}
	}
	return v;
}

static json_t *commit_config(const struct keel_image *parent, json_t *config, const char *diff,
			     const char *comment, const char *author)
{
	char now[64];
	json_t *c = parent ? json_deep_copy(parent->config)
			   : json_pack("{s:s, s:s, s:{s:s, s:[]}}", "architecture", "amd64", "os",
				       "linux", "rootfs", "type", "layers", "diff_ids");
	json_t *hist;
	if (!c)
		return NULL;
	now_rfc3339(now, sizeof(now));
	json_object_set_new(c, "created", json_string(now));
	if (config)
		json_object_set_new(c, "config", json_deep_copy(config));
	json_object_set_new(c, "author", json_string(author ? author : ""));
	json_object_set_new(c, "comment", json_string(comment ? comment : ""));
	json_array_append_new(json_object_get(json_object_get(c, "rootfs"), "diff_ids"),
			      json_string(diff));
	hist = member(c, "history", json_array);
	json_array_append_new(hist, json_pack("{s:s, s:s, s:s}", "created", now, "author",
					      author ? author : "", "comment",
					      comment ? comment : ""));
	return c;
}

static char *commit_locked(struct keel_store *s, const char *upper, const char *parent_id,
			   json_t *config, const char *comment, const char *author,
			   const char *tag, keel_error_t *err)
{
	struct keel_image *parent = NULL;
	char diff[KEEL_DIGEST_SIZE], id[KEEL_DIGEST_SIZE], **blobs = NULL;
	cleanup_free char *full = NULL;
	cleanup_free char *cfg_s = NULL;
	cleanup_json json_t *cfg = NULL;
	size_t n = 0;
	char *ret = NULL;
	if (tag && !(full = keel_image_normalize_tag(tag, err)))
		return NULL;
	if (parent_id && !(parent = keel_image_get(s, parent_id, err)))
		return NULL;
	blobs = parent ? parent_blobs(s, parent, err) : calloc(2, sizeof(char *));
	n = parent ? parent->n_layers : 0;
	if (!blobs || keel_image_diff_blob(s, upper, diff, err) < 0 || !(blobs[n] = strdup(diff)))
		goto out;
	if (!(cfg = commit_config(parent, config, diff, comment, author)) ||
	    !(cfg_s = json_dumps(cfg, JSON_COMPACT))) {
		keel_err(err, ENOMEM, "commit");
		goto out;
	}
	if (keel_image_add(s, cfg_s, strlen(cfg_s), blobs, n + 1, full ? &full : NULL,
			   full ? 1 : 0, NULL, parent ? parent->id : NULL, id, err) == 0)
		ret = strdup(id);
out:
	for (size_t i = 0; blobs && i <= n; i++)
		free(blobs[i]);
	free(blobs);
	keel_image_free(parent);
	return ret;
}

char *keel_image_commit(struct keel_store *s, const char *upper_dir, const char *parent_id,
			json_t *config, const char *comment, const char *author, const char *tag,
			keel_error_t *err)
{
	char *id;
	if (keel_store_lock_shared(s, err) < 0)
		return NULL;
	id = commit_locked(s, upper_dir, parent_id, config, comment, author, tag, err);
	keel_store_unlock(s);
	return id;
}
