/* Remote ADD (`ADD [--checksum=sha256:...] https://host/file /dest`): the download goes
 * through keel_http_fetch in keel-registry.so, loaded with dlopen on first use — the engine
 * module, where the build runs, deliberately does not link libcurl. The body lands in a
 * private file under the build's scratch dir; its sha256 is the step's cache key and is
 * checked against --checksum. Docker's rules: the file is not unpacked, its mode is 0600,
 * its mtime the Last-Modified header, its name (for a DEST/) the URL path's last part. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/exec_internal.h"
#include "registry/http_fetch.h"
#include "store/digest.h"
#include "util/cleanup.h"

bool exec_is_url(const char *src)
{
	return !strncmp(src, "http://", 7) || !strncmp(src, "https://", 8);
}

/* keel-registry.so next to the module this code is in ($KEEL_MODULE_DIR when set, as
 * src/cli/engine_entry.c sets it). Loaded once, never closed. */
static keel_http_fetch_fn fetch_fn(keel_error_t *err)
{
	static keel_http_fetch_fn fn;
	const char *env = getenv("KEEL_MODULE_DIR");
	char path[PATH_MAX];
	Dl_info info;
	void *h;
	if (fn)
		return fn;
	if (env && *env) {
		snprintf(path, sizeof(path), "%s/keel-registry.so", env);
	} else if (dladdr((void *)exec_is_url, &info) && info.dli_fname &&
		   strrchr(info.dli_fname, '/')) {
		snprintf(path, sizeof(path), "%.*s/keel-registry.so",
			 (int)(strrchr(info.dli_fname, '/') - info.dli_fname), info.dli_fname);
	} else {
		snprintf(path, sizeof(path), "keel-registry.so");
	}
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		keel_err(err, ENOENT, "remote ADD needs %s: %s", path, dlerror());
		return NULL;
	}
	*(void **)&fn = dlsym(h, "keel_http_fetch");
	if (!fn)
		keel_err(err, ENOENT, "%s: no keel_http_fetch", path);
	return fn;
}

/* The last part of the URL's path: the file name Docker gives a download into DEST/. */
static char *url_name(const char *url)
{
	const char *p = strstr(url, "://"), *end;
	const char *slash;
	p = p ? strchr(p + 3, '/') : NULL;
	if (!p)
		return NULL;
	end = p + strcspn(p, "?#");
	slash = end;
	while (slash > p && slash[-1] != '/')
		slash--;
	return slash < end ? strndup(slash, (size_t)(end - slash)) : NULL;
}

static int file_digest(int fd, char out[KEEL_DIGEST_SIZE], keel_error_t *err)
{
	struct keel_sha256 h;
	char buf[64 * 1024];
	ssize_t n;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return keel_err_sys(err, "seek");
	if (keel_sha256_init(&h, err) < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		keel_sha256_update(&h, buf, (size_t)n);
	if (n < 0) {
		keel_sha256_free(&h);
		return keel_err_sys(err, "read");
	}
	keel_sha256_final(&h, out);
	return 0;
}

int exec_fetch_url(const char *tmpdir, const char *url, const char *checksum,
		   struct exec_remote *out, keel_error_t *err)
{
	keel_http_fetch_fn fn;
	cleanup_close int fd = -1;
	memset(out, 0, sizeof(*out));
	out->mtime = -1;
	if (checksum && strncmp(checksum, "sha256:", 7))
		return keel_err_user(err, EINVAL,
				     "unsupported checksum algorithm in %s (sha256: is)", checksum);
	if (!(out->name = url_name(url)))
		return keel_err_user(err, EINVAL, "cannot determine filename from url: %s", url);
	if (asprintf(&out->path, "%s/remote.XXXXXX", tmpdir) < 0) {
		out->path = NULL;
		return keel_err(err, ENOMEM, "ADD");
	}
	if ((fd = mkostemp(out->path, O_CLOEXEC)) < 0) {
		free(out->path);
		out->path = NULL;
		return keel_err_sys(err, "ADD %s: temporary file", url);
	}
	if (!(fn = fetch_fn(err)) || fn(url, fd, &out->mtime, err) < 0 ||
	    file_digest(fd, out->digest, err) < 0)
		return -1;
	if (checksum && strcmp(checksum, out->digest))
		return keel_err_user(err, EINVAL, "ADD %s: checksum mismatch: expected %s, got %s",
				     url, checksum, out->digest);
	return 0;
}

void exec_remote_clear(struct exec_remote *r)
{
	if (r->path)
		unlink(r->path);
	free(r->path);
	free(r->name);
	memset(r, 0, sizeof(*r));
}
