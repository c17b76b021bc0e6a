/* Unpacking a layer blob into layers/<chainhex>/: decompress once, hash the uncompressed
 * stream (the diff id) while the tar reader consumes it, extract into a temp directory next
 * to the final one, rename into place. A killed unpack leaves only a .tmp- directory, which
 * the collector removes. */
#include "store/layer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/libarchive.h"
#include "store/store_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

void keel_layer_chain_id(const char *parent_chain, const char *diff_id,
			 char out[KEEL_DIGEST_SIZE])
{
	char buf[2 * KEEL_DIGEST_SIZE + 2];
	if (!parent_chain) {
		snprintf(out, KEEL_DIGEST_SIZE, "%s", diff_id);
		return;
	}
	int n = snprintf(buf, sizeof(buf), "%s %s", parent_chain, diff_id);
	keel_sha256_digest(buf, (size_t)n, out);
}

char *keel_layer_path(struct keel_store *s, const char *chain_id)
{
	char *p = NULL;
	if (asprintf(&p, "%s/layers/%s", s->root, keel_digest_hex(chain_id)) < 0)
		return NULL;
	return p;
}

bool keel_layer_exists(struct keel_store *s, const char *chain_id)
{
	char rel[96];
	struct stat st;
	snprintf(rel, sizeof(rel), "layers/%s", keel_digest_hex(chain_id));
	return fstatat(s->root_fd, rel, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

/* The decompressed stream: a libarchive "raw" reader over the blob, hashed as the tar reader
 * pulls from it. */
struct hashed_stream {
	struct archive *raw;
	struct keel_sha256 hash;
	bool nohash; /* uncompressed: the diff id is the blob digest, hashed once by the blob */
	int64_t n;
	char buf[256 * 1024];
};

static la_ssize_t hs_read(struct archive *a, void *ud, const void **out)
{
	struct hashed_stream *h = ud;
	la_ssize_t n = archive_read_data(h->raw, h->buf, sizeof(h->buf));
	if (n < 0) {
		archive_set_error(a, EIO, "%s", archive_error_string(h->raw));
		return -1;
	}
	if (!h->nohash)
		keel_sha256_update(&h->hash, h->buf, (size_t)n);
	h->n += n;
	*out = h->buf;
	return n;
}

static int open_raw(struct hashed_stream *h, int fd, keel_error_t *err)
{
	struct archive_entry *e;
	h->raw = archive_read_new();
	if (!h->raw)
		return keel_err(err, ENOMEM, "layer reader");
	archive_read_support_filter_all(h->raw);
	archive_read_support_format_raw(h->raw);
	archive_read_support_format_empty(h->raw);
	if (archive_read_open_fd(h->raw, fd, 256 * 1024) != ARCHIVE_OK ||
	    archive_read_next_header(h->raw, &e) != ARCHIVE_OK)
		return keel_err_user(err, EINVAL, "layer: %s", archive_error_string(h->raw));
	return keel_sha256_init(&h->hash, err);
}

/* Hashes what the tar reader left (end-of-archive padding) so the diff id covers it all. */
static int drain(struct hashed_stream *h, keel_error_t *err)
{
	la_ssize_t n;
	while ((n = archive_read_data(h->raw, h->buf, sizeof(h->buf))) > 0) {
		if (!h->nohash)
			keel_sha256_update(&h->hash, h->buf, (size_t)n);
		h->n += n;
	}
	if (n < 0)
		return keel_err(err, EIO, "layer: %s", archive_error_string(h->raw));
	return 0;
}

static int extract_stream(struct hashed_stream *h, int dirfd, int64_t *size, keel_error_t *err)
{
	struct archive *a = archive_read_new();
	int ret;
	if (!a)
		return keel_err(err, ENOMEM, "layer reader");
	archive_read_support_format_tar(a);
	archive_read_support_format_empty(a);
	if (archive_read_open(a, h, NULL, hs_read, NULL) != ARCHIVE_OK) {
		ret = keel_err_user(err, EINVAL, "layer: %s", archive_error_string(a));
		archive_read_free(a);
		return ret;
	}
	if (dirfd >= 0) {
		ret = keel_layer_extract(dirfd, a, size, err);
	} else {
		/* Already unpacked: only the size is wanted (and the hash, by the reads). */
		struct archive_entry *e;
		int r;
		while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN)
			if (archive_entry_filetype(e) == AE_IFREG && !archive_entry_hardlink(e))
				*size += archive_entry_size(e);
		ret = r == ARCHIVE_EOF ? 0
				       : keel_err(err, EIO, "layer: %s", archive_error_string(a));
	}
	archive_read_free(a);
	return ret;
}

static int make_tmp_dir(struct keel_store *s, char *name, size_t len, int *fd, keel_error_t *err)
{
	int dfd = openat(s->root_fd, "layers", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return keel_err_sys(err, "open %s/layers", s->root);
	for (int i = 0; i < 100; i++) {
		snprintf(name, len, ".tmp-%d-%08lx", getpid(), random());
		if (mkdirat(dfd, name, 0755) == 0)
			break;
		if (errno != EEXIST) {
			close(dfd);
			return keel_err_sys(err, "mkdir %s/layers/%s", s->root, name);
		}
	}
	*fd = openat(dfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
	close(dfd);
	if (*fd < 0)
		return keel_err_sys(err, "open %s/layers/%s", s->root, name);
	return 0;
}

static void remove_tmp(struct keel_store *s, const char *name)
{
	char p[4096];
	snprintf(p, sizeof(p), "%s/layers/%s", s->root, name);
	keel_rm_rf(p, NULL);
}

/* Renames the finished temp dir to its chain id; losing the race to another process that
 * unpacked the same layer is fine. */
static int publish(struct keel_store *s, const char *tmp, const char *chain, keel_error_t *err)
{
	char from[128], to[128];
	snprintf(from, sizeof(from), "layers/%s", tmp);
	snprintf(to, sizeof(to), "layers/%s", keel_digest_hex(chain));
	if (renameat(s->root_fd, from, s->root_fd, to) == 0)
		return 0;
	if (errno == EEXIST || errno == ENOTEMPTY) {
		remove_tmp(s, tmp);
		return 0;
	}
	keel_err_sys(err, "store layer %s", chain);
	remove_tmp(s, tmp);
	return -1;
}

int keel_layer_unpack_fd(struct keel_store *s, int fd, const char *parent_chain,
			 const char *expect_diff, struct keel_layer_info *out, keel_error_t *err)
{
	struct hashed_stream *h = calloc(1, sizeof(*h));
	char tmp[64] = "";
	cleanup_close int dirfd = -1;
	int ret = -1;
	bool skip = false;
	if (!h)
		return keel_err(err, ENOMEM, "layer");
	memset(out, 0, sizeof(*out));
	if (expect_diff) {
		keel_layer_chain_id(parent_chain, expect_diff, out->chain_id);
		skip = keel_layer_exists(s, out->chain_id);
	}
	if (open_raw(h, fd, err) < 0)
		goto out;
	if (!skip && make_tmp_dir(s, tmp, sizeof(tmp), &dirfd, err) < 0)
		goto out;
	if (extract_stream(h, skip ? -1 : dirfd, &out->size, err) < 0 || drain(h, err) < 0)
		goto out;
	keel_sha256_final(&h->hash, out->diff_id);
	out->diff_size = h->n;
	if (expect_diff && strcmp(expect_diff, out->diff_id) != 0) {
		keel_err_user(err, EILSEQ, "layer content %s does not match its diff id %s",
			 out->diff_id, expect_diff);
		goto out;
	}
	keel_layer_chain_id(parent_chain, out->diff_id, out->chain_id);
	if (!skip && publish(s, tmp, out->chain_id, err) < 0) {
		tmp[0] = '\0';
		goto out;
	}
	tmp[0] = '\0';
	ret = 0;
out:
	if (tmp[0])
		remove_tmp(s, tmp);
	keel_sha256_free(&h->hash);
	if (h->raw)
		archive_read_free(h->raw);
	free(h);
	return ret;
}

/* ---------------------------------------------------------------------------------------- */
/* One pass for load: the source's bytes go to the blob as the decompressor pulls them. */

struct tee {
	keel_stream_read_fn read;
	void *ud;
	struct keel_blob_writer *blob;
	keel_error_t err; /* a source or store failure (not the layer's fault) */
	bool failed;
};

static la_ssize_t tee_read(struct archive *a, void *ud, const void **out)
{
	struct tee *t = ud;
	ssize_t n = t->read(t->ud, out, &t->err);
	if (n < 0 || (n > 0 && keel_blob_write(t->blob, *out, (size_t)n, &t->err) < 0)) {
		t->failed = true;
		archive_set_error(a, EIO, "%s", t->err.msg);
		return -1;
	}
	return n;
}

/* The source's rest (what the decompressor did not ask for) into the blob. */
static int tee_drain(struct tee *t)
{
	const void *buf;
	ssize_t n;
	while (!t->failed && (n = t->read(t->ud, &buf, &t->err)) != 0)
		if (n < 0 || keel_blob_write(t->blob, buf, (size_t)n, &t->err) < 0)
			t->failed = true;
	return t->failed ? -1 : 0;
}

/* Unpacks the tee'd stream into a new temp dir; on a refused layer the dir is removed and
 * the reason kept. Returns -1 only for a source/store failure (t->failed). */
static int stream_unpack(struct keel_store *s, struct tee *t, struct hashed_stream *h,
			 struct keel_layer_pending *p)
{
	keel_error_t lerr = {0};
	cleanup_close int dirfd = -1;
	h->raw = archive_read_new();
	if (!h->raw) {
		t->failed = true;
		return keel_err(&t->err, ENOMEM, "layer reader");
	}
	archive_read_support_filter_all(h->raw);
	archive_read_support_format_raw(h->raw);
	archive_read_support_format_empty(h->raw);
	if (archive_read_open(h->raw, t, NULL, tee_read, NULL) == ARCHIVE_OK) {
		struct archive_entry *e;
		if (archive_read_next_header(h->raw, &e) != ARCHIVE_OK)
			keel_err_user(&lerr, EINVAL, "layer: %s",
				      archive_error_string(h->raw) ?: "empty stream");
		else
			h->nohash = archive_filter_code(h->raw, 0) == ARCHIVE_FILTER_NONE;
	} else {
		keel_err_user(&lerr, EINVAL, "layer: %s",
			      archive_error_string(h->raw) ?: "unreadable stream");
	}
	if (t->failed)
		return -1;
	if (!lerr.msg[0] && (h->nohash || keel_sha256_init(&h->hash, &lerr) == 0) &&
	    make_tmp_dir(s, p->tmp_dir, sizeof(p->tmp_dir), &dirfd, &lerr) == 0 &&
	    extract_stream(h, dirfd, &p->size, &lerr) == 0 && drain(h, &lerr) == 0)
		return 0;
	if (t->failed)
		return -1;
	snprintf(p->unpack_error, sizeof(p->unpack_error), "%s",
		 lerr.msg[0] ? lerr.msg : "layer could not be unpacked");
	if (p->tmp_dir[0])
		remove_tmp(s, p->tmp_dir);
	p->tmp_dir[0] = '\0';
	return 0;
}

int keel_layer_stream(struct keel_store *s, keel_stream_read_fn read, void *ud,
		      struct keel_layer_pending *p, keel_error_t *err)
{
	struct hashed_stream *h = calloc(1, sizeof(*h));
	struct tee t = {.read = read, .ud = ud, .blob = &p->blob};
	int ret = -1;
	memset(p, 0, sizeof(*p));
	p->blob.fd = -1;
	if (!h)
		return keel_err(err, ENOMEM, "layer");
	if (keel_blob_begin(s, &p->blob, err) < 0)
		goto out;
	if (stream_unpack(s, &t, h, p) < 0 || tee_drain(&t) < 0) {
		*err = t.err;
		goto out;
	}
	if (keel_blob_finish(&p->blob, p->blob_digest, err) < 0)
		goto out;
	p->blob_size = (int64_t)p->blob.size;
	if (p->tmp_dir[0]) {
		if (h->nohash)
			memcpy(p->diff_id, p->blob_digest, KEEL_DIGEST_SIZE);
		else
			keel_sha256_final(&h->hash, p->diff_id);
		p->diff_size = h->nohash ? p->blob_size : h->n;
	}
	ret = 0;
out:
	keel_sha256_free(&h->hash);
	if (h->raw)
		archive_read_free(h->raw);
	free(h);
	if (ret < 0)
		keel_layer_pending_discard(s, p);
	return ret;
}

int keel_layer_pending_publish(struct keel_store *s, struct keel_layer_pending *p,
			       const char *chain_id, keel_error_t *err)
{
	if (p->published)
		return 0;
	if (keel_blob_publish(&p->blob, err) < 0)
		return -1;
	if (p->tmp_dir[0]) {
		int r = publish(s, p->tmp_dir, chain_id, err);
		p->tmp_dir[0] = '\0';
		if (r < 0)
			return -1;
	}
	p->published = true;
	return 0;
}

void keel_layer_pending_discard(struct keel_store *s, struct keel_layer_pending *p)
{
	if (!p)
		return;
	if (p->blob.store)
		keel_blob_abort(&p->blob);
	if (p->tmp_dir[0])
		remove_tmp(s, p->tmp_dir);
	p->tmp_dir[0] = '\0';
}
