#include "store/blob.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/cleanup.h"

static int blob_dir(struct keel_store *s, keel_error_t *err)
{
	int fd = openat(s->root_fd, "blobs/sha256", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return keel_err_sys(err, "open %s/blobs/sha256", s->root);
	return fd;
}

int keel_blob_begin(struct keel_store *s, struct keel_blob_writer *w, keel_error_t *err)
{
	cleanup_close int dfd = -1;
	memset(w, 0, sizeof(*w));
	w->store = s;
	w->fd = -1;
	if (keel_sha256_init(&w->hash, err) < 0)
		return -1;
	dfd = blob_dir(s, err);
	if (dfd < 0)
		goto fail;
	/* Random temp names: several processes write blobs at once. The collector removes
	 * .tmp- files left by killed writers (under the exclusive store lock). */
	for (int tries = 0; tries < 100; tries++) {
		snprintf(w->tmp, sizeof(w->tmp), ".tmp-%d-%08lx", getpid(), random());
		w->fd = openat(dfd, w->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (w->fd >= 0 || errno != EEXIST)
			break;
	}
	if (w->fd < 0) {
		keel_err_sys(err, "create blob in %s/blobs/sha256", s->root);
		goto fail;
	}
	return 0;
fail:
	w->tmp[0] = '\0';
	keel_sha256_free(&w->hash);
	return -1;
}

int keel_blob_write(struct keel_blob_writer *w, const void *buf, size_t len, keel_error_t *err)
{
	const char *p = buf;
	keel_sha256_update(&w->hash, buf, len);
	w->size += len;
	while (len > 0) {
		ssize_t n = write(w->fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return keel_err_sys(err, "write blob");
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void keel_blob_abort(struct keel_blob_writer *w)
{
	cleanup_close int dfd = -1;
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
	keel_sha256_free(&w->hash);
	if (!w->tmp[0])
		return;
	dfd = openat(w->store->root_fd, "blobs/sha256", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		unlinkat(dfd, w->tmp, 0);
	w->tmp[0] = '\0';
}

int keel_blob_finish(struct keel_blob_writer *w, char out[KEEL_DIGEST_SIZE], keel_error_t *err)
{
	keel_sha256_final(&w->hash, w->digest);
	if (close(w->fd) < 0) {
		w->fd = -1;
		keel_blob_abort(w);
		return keel_err_sys(err, "write blob");
	}
	w->fd = -1;
	if (out)
		memcpy(out, w->digest, KEEL_DIGEST_SIZE);
	return 0;
}

int keel_blob_publish(struct keel_blob_writer *w, keel_error_t *err)
{
	cleanup_close int dfd = blob_dir(w->store, err);
	if (dfd < 0) {
		keel_blob_abort(w);
		return -1;
	}
	/* The same content under the same name: renaming over an existing blob is harmless. */
	if (renameat(dfd, w->tmp, dfd, keel_digest_hex(w->digest)) < 0) {
		keel_err_sys(err, "store blob %s", w->digest);
		keel_blob_abort(w);
		return -1;
	}
	w->tmp[0] = '\0';
	return 0;
}

int keel_blob_commit(struct keel_blob_writer *w, const char *expect, char out[KEEL_DIGEST_SIZE],
		     keel_error_t *err)
{
	if (keel_blob_finish(w, NULL, err) < 0)
		return -1;
	if (expect && strcmp(expect, w->digest) != 0) {
		keel_err_user(err, EILSEQ, "content digest %s does not match %s", w->digest, expect);
		keel_blob_abort(w);
		return -1;
	}
	if (keel_blob_publish(w, err) < 0)
		return -1;
	if (out)
		memcpy(out, w->digest, KEEL_DIGEST_SIZE);
	return 0;
}

int keel_blob_put(struct keel_store *s, const void *buf, size_t len, const char *expect,
		  char out[KEEL_DIGEST_SIZE], keel_error_t *err)
{
	struct keel_blob_writer w;
	char d[KEEL_DIGEST_SIZE];
	cleanup_close int dfd = -1;
	keel_sha256_digest(buf, len, d);
	if (expect && strcmp(expect, d) != 0)
		return keel_err_user(err, EILSEQ, "content digest %s does not match %s", d, expect);
	dfd = blob_dir(s, err);
	if (dfd < 0)
		return -1;
	if (out)
		memcpy(out, d, KEEL_DIGEST_SIZE);
	if (faccessat(dfd, keel_digest_hex(d), F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	if (keel_blob_begin(s, &w, err) < 0)
		return -1;
	if (keel_blob_write(&w, buf, len, err) < 0) {
		keel_blob_abort(&w);
		return -1;
	}
	return keel_blob_commit(&w, d, NULL, err);
}

int keel_blob_open(struct keel_store *s, const char *digest, keel_error_t *err)
{
	cleanup_close int dfd = -1;
	int fd;
	if (!keel_digest_valid(digest))
		return keel_err_user(err, EINVAL, "invalid digest %s", digest);
	dfd = blob_dir(s, err);
	if (dfd < 0)
		return -1;
	fd = openat(dfd, keel_digest_hex(digest), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return keel_err_sys(err, "blob %s", digest);
	return fd;
}

ssize_t keel_blob_read(struct keel_store *s, const char *digest, char **out, keel_error_t *err)
{
	cleanup_close int fd = keel_blob_open(s, digest, err);
	cleanup_free char *buf = NULL;
	char d[KEEL_DIGEST_SIZE];
	struct stat st;
	size_t got = 0;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return keel_err_sys(err, "blob %s", digest);
	if (st.st_size > 64 << 20)
		return keel_err_user(err, EFBIG, "blob %s is too large to read", digest);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		return keel_err(err, ENOMEM, "blob %s", digest);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return keel_err_sys(err, "read blob %s", digest);
		got += (size_t)n;
	}
	buf[got] = '\0';
	/* Verified on every read: a blob damaged on disk is an error, never silently used. */
	keel_sha256_digest(buf, got, d);
	if (strcmp(d, digest) != 0)
		return keel_err_user(err, EILSEQ, "blob %s is corrupt (content is %s)", digest, d);
	*out = steal_pointer(&buf);
	return (ssize_t)got;
}

int64_t keel_blob_size(struct keel_store *s, const char *digest, keel_error_t *err)
{
	cleanup_close int fd = keel_blob_open(s, digest, err);
	struct stat st;
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0)
		return keel_err_sys(err, "blob %s", digest);
	return st.st_size;
}

int keel_blob_remove(struct keel_store *s, const char *digest, keel_error_t *err)
{
	cleanup_close int dfd = -1;
	if (!keel_digest_valid(digest))
		return keel_err_user(err, EINVAL, "invalid digest %s", digest);
	dfd = blob_dir(s, err);
	if (dfd < 0)
		return -1;
	if (unlinkat(dfd, keel_digest_hex(digest), 0) < 0 && errno != ENOENT)
		return keel_err_sys(err, "remove blob %s", digest);
	return 0;
}
