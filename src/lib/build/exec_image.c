/* Images of a build: loading the base, making each step's child (layer + config + history,
 * as Docker's legacy builder commits), and the step cache. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>

#include "build/exec_internal.h"
#include "image/image.h"
#include "image/manifest.h"
#include "store/blob.h"
#include "store/layer.h"
#include "store/libarchive.h"
#include "store/store_internal.h"
#include "util/cleanup.h"

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void exec_image_clear(struct exec_image *im)
{
	free(im->id);
	json_decref(im->cfg);
	strv_free(im->blobs);
	strv_free(im->dirs);
	memset(im, 0, sizeof(*im));
}

/* Docker's legacy builder gives every stage's config a PATH when its base has none
 * (dispatchState.setDefaultPath): FROM scratch images get one, and ENV sees it. */
static int default_path(json_t *cfg)
{
	json_t *c = json_object_get(cfg, "config"), *env, *v;
	size_t i;
	if (!json_is_object(c))
		return 0;
	env = json_object_get(c, "Env");
	if (!json_is_array(env)) {
		env = json_array();
		if (!env || json_object_set_new(c, "Env", env) < 0)
			return -1;
	}
	json_array_foreach(env, i, v)
		if (json_is_string(v) && !strncmp(json_string_value(v), "PATH=", 5))
			return 0;
	return json_array_append_new(
		env, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
}

int exec_image_scratch(struct exec_image *im, keel_error_t *err)
{
	exec_image_clear(im);
	im->cfg = json_pack("{s:s, s:s, s:{}, s:{s:s, s:[]}, s:[]}", "architecture", "amd64", "os",
			    "linux", "config", "rootfs", "type", "layers", "diff_ids", "history");
	im->blobs = calloc(1, sizeof(char *));
	im->dirs = calloc(1, sizeof(char *));
	if (!im->cfg || !im->blobs || !im->dirs || default_path(im->cfg) < 0)
		return keel_err(err, ENOMEM, "build");
	return 0;
}

int exec_image_load(struct keel_store *s, const char *ref, struct exec_image *im,
		    keel_error_t *err)
{
	struct keel_image *img = keel_image_get(s, ref, err);
	char chain[KEEL_DIGEST_SIZE];
	struct keel_layer_rec rec;
	int ret = -1;
	exec_image_clear(im);
	if (!img)
		return -1;
	im->id = strdup(img->id);
	im->cfg = json_deep_copy(img->config);
	im->blobs = calloc(img->n_layers + 1, sizeof(char *));
	im->dirs = calloc(img->n_layers + 1, sizeof(char *));
	if (!im->id || !im->cfg || !im->blobs || !im->dirs) {
		keel_err(err, ENOMEM, "build");
		goto out;
	}
	for (size_t i = 0; i < img->n_layers; i++) {
		keel_layer_chain_id(i ? chain : NULL, img->diff_ids[i], chain);
		if (keel_imgdb_layer(s, chain, &rec, err) <= 0) {
			keel_err_user(err, ENOENT, "layer %s of %s is missing", chain, ref);
			goto out;
		}
		if (!(im->blobs[i] = strdup(rec.blob_digest)) ||
		    !(im->dirs[i] = strdup(img->layers[i]))) {
			keel_err(err, ENOMEM, "build");
			goto out;
		}
		im->n = i + 1;
	}
	if (!json_is_object(json_object_get(im->cfg, "config")))
		json_object_set_new(im->cfg, "config", json_object());
	if (default_path(im->cfg) < 0) {
		keel_err(err, ENOMEM, "build");
		goto out;
	}
	ret = 0;
out:
	keel_image_free(img);
	if (ret < 0)
		exec_image_clear(im);
	return ret;
}

static const char *canonical_arch(const char *a)
{
	if (!strcmp(a, "x86_64") || !strcmp(a, "x86-64"))
		return "amd64";
	if (!strcmp(a, "aarch64"))
		return "arm64";
	return a;
}

int exec_image_check_platform(const struct exec_image *im, const char *ref, const char *platform,
			      keel_error_t *err)
{
	char want[128], *arch, *variant;
	const char *os = json_string_value(json_object_get(im->cfg, "os")) ?: "linux";
	const char *have = canonical_arch(
	    json_string_value(json_object_get(im->cfg, "architecture")) ?: "amd64");
	const char *have_variant = json_string_value(json_object_get(im->cfg, "variant"));
	snprintf(want, sizeof(want), "%s", platform);
	arch = strchr(want, '/');
	if (!arch || !arch[1])
		return keel_err_user(err, EINVAL, "failed to parse platform %s: %s", platform,
				     "expected os/arch[/variant]");
	*arch++ = '\0';
	if ((variant = strchr(arch, '/')))
		*variant++ = '\0';
	if (!strcmp(want, os) && !strcmp(canonical_arch(arch), have) &&
	    (!variant || !have_variant || !strcmp(variant, have_variant)))
		return 0;
	return keel_err_user(err, EINVAL,
			     "image with reference %s was found but does not match the specified "
			     "platform: wanted %s/%s%s%s, actual: %s/%s%s%s",
			     ref, want, canonical_arch(arch), variant ? "/" : "", variant ? variant : "",
			     os, have, have_variant ? "/" : "", have_variant ? have_variant : "");
}

const char *exec_image_path_kind(const struct exec_image *im, const char *path)
{
	struct stat st;
	for (size_t i = im->n; i-- > 0;) {
		cleanup_free char *p = NULL;
		if (asprintf(&p, "%s/%s", im->dirs[i], path[0] == '/' ? path + 1 : path) < 0)
			break;
		/* lstat: a symlink is never followed out of the layer dir */
		if (lstat(p, &st) == 0)
			return S_ISDIR(st.st_mode) ? "dir" : "file";
	}
	return "file";
}

static bool dir_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = true;
	if (!d)
		return true;
	while (empty && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			empty = false;
	closedir(d);
	return empty;
}

static json_t *array_member(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_array(v)) {
		v = json_array();
		json_object_set_new(o, k, v);
	}
	return v;
}

static int add_history(struct exec_image *im, const char *diff, const char *created_by)
{
	struct timespec ts;
	char now[64];
	const char *author;
	json_t *h;
	clock_gettime(CLOCK_REALTIME, &ts);
	keel_format_time(ts.tv_sec, ts.tv_nsec, now, sizeof(now));
	json_object_set_new(im->cfg, "created", json_string(now));
	h = json_pack("{s:s, s:s}", "created", now, "created_by", created_by);
	if (!h)
		return -1;
	/* MAINTAINER's author goes into every later history entry too, as Docker commits
	 * each step with the stage's maintainer. */
	author = json_string_value(json_object_get(im->cfg, "author"));
	if (author && *author)
		json_object_set_new(h, "author", json_string(author));
	if (diff)
		json_array_append_new(array_member(json_object_get(im->cfg, "rootfs"), "diff_ids"),
				      json_string(diff));
	else
		json_object_set_new(h, "empty_layer", json_true());
	return json_array_append_new(array_member(im->cfg, "history"), h);
}

static int commit_locked(struct keel_store *s, struct exec_image *im, const char *upper,
			 const char *created_by, keel_error_t *err)
{
	char diff[KEEL_DIGEST_SIZE], id[KEEL_DIGEST_SIZE];
	cleanup_free char *cfg_s = NULL;
	bool layer = upper && !dir_empty(upper);
	char **blobs;
	if (layer && keel_image_diff_blob(s, upper, diff, err) < 0)
		return -1;
	/* Docker's builder records which image a step ran on. */
	json_object_set_new(json_object_get(im->cfg, "config"), "Image",
			    json_string(im->id ? im->id : ""));
	if (add_history(im, layer ? diff : NULL, created_by) < 0 ||
	    !(cfg_s = json_dumps(im->cfg, JSON_COMPACT)))
		return keel_err(err, ENOMEM, "build");
	if (layer) {
		blobs = realloc(im->blobs, (im->n + 2) * sizeof(char *));
		if (!blobs)
			return keel_err(err, ENOMEM, "build");
		im->blobs = blobs;
		if (!(blobs[im->n] = strdup(diff)))
			return keel_err(err, ENOMEM, "build");
		blobs[im->n + 1] = NULL;
	}
	if (keel_image_add(s, cfg_s, strlen(cfg_s), im->blobs, im->n + (layer ? 1 : 0), NULL, 0,
			   NULL, im->id, id, err) < 0)
		return -1;
	return exec_image_load(s, id, im, err);
}

int exec_image_commit(struct keel_store *s, struct exec_image *im, const char *upper,
		      const char *created_by, keel_error_t *err)
{
	int ret;
	if (keel_store_lock_shared(s, err) < 0)
		return -1;
	ret = commit_locked(s, im, upper, created_by, err);
	keel_store_unlock(s);
	return ret;
}

static const char *const cache_schema[] = {
	"CREATE TABLE build_cache (key TEXT PRIMARY KEY, image_id TEXT NOT NULL);",
};

int exec_cache_migrate(struct keel_store *s, keel_error_t *err)
{
	return keel_store_migrate(s, "build_cache", cache_schema, 1, err);
}

char *exec_cache_get(struct keel_store *s, const char *key)
{
	sqlite3_stmt *st = NULL;
	char *id = NULL;
	if (sqlite3_prepare_v2(keel_store_db(s), "SELECT image_id FROM build_cache WHERE key = ?",
			       -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = strdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return id;
}

int exec_cache_put(struct keel_store *s, const char *key, const char *id, keel_error_t *err)
{
	sqlite3_stmt *st = NULL;
	int rc;
	if (sqlite3_prepare_v2(keel_store_db(s),
			       "INSERT OR REPLACE INTO build_cache (key, image_id) VALUES (?, ?)",
			       -1, &st, NULL) != SQLITE_OK)
		return keel_err(err, EIO, "build cache: %s", sqlite3_errmsg(keel_store_db(s)));
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return keel_err(err, EIO, "build cache: %s", sqlite3_errmsg(keel_store_db(s)));
	return 0;
}
