/* Layers: unpacking plain, gzip and zstd tars (once through keel_layer_unpack_fd, once
 * streamed with the blob written in the same pass), OCI whiteouts and opaque dirs turned into
 * overlayfs ones, and hostile entries (.., absolute names, symlink-then-write-through,
 * hardlink escapes, device nodes): each refused or kept inside the layer, and the store
 * unchanged after a refusal. Runs as root (chown, mknod, trusted.* xattrs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "store/digest.h"
#include "store/layer.h"
#include "store/store.h"
#include "util/fs.h"

static char tmp[64], root[128], outside[128];
static struct keel_store *store;

enum { F, D, L, H, C, B };
struct ent {
	int type;
	const char *name;
	const char *data; /* content, or the link target */
	unsigned dev_major, dev_minor;
};

static int setup(void **state)
{
	keel_error_t err = { 0 };
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/keel-test-layer-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(root, sizeof(root), "%s/store", tmp);
	snprintf(outside, sizeof(outside), "%s/outside", tmp);
	if (mkdir(outside, 0755) < 0)
		return -1;
	store = keel_store_open(root, &err);
	return store ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	keel_store_close(store);
	return keel_rm_rf(tmp, NULL);
}

/* A tar of ents (filter: ARCHIVE_FILTER_NONE, _GZIP or _ZSTD); caller frees. */
static char *make_tar(const struct ent *ents, size_t n, int filter, size_t *len)
{
	size_t cap = 1 << 20, used = 0;
	char *buf = malloc(cap);
	struct archive *a = archive_write_new();
	assert_non_null(buf);
	archive_write_set_format_pax_restricted(a);
	if (filter == ARCHIVE_FILTER_GZIP)
		archive_write_add_filter_gzip(a);
	else if (filter == ARCHIVE_FILTER_ZSTD)
		archive_write_add_filter_zstd(a);
	archive_write_set_bytes_in_last_block(a, 1);
	assert_int_equal(archive_write_open_memory(a, buf, cap, &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		const struct ent *x = &ents[i];
		archive_entry_set_pathname(e, x->name);
		archive_entry_set_mtime(e, 1700000000, 0);
		archive_entry_set_uid(e, 0);
		archive_entry_set_gid(e, 0);
		switch (x->type) {
		case F:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)strlen(x->data ? x->data : ""));
			break;
		case D:
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
			break;
		case L:
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, x->data);
			break;
		case H:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, x->data);
			break;
		case C:
		case B:
			archive_entry_set_filetype(e, x->type == C ? AE_IFCHR : AE_IFBLK);
			archive_entry_set_perm(e, 0600);
			archive_entry_set_rdev(e, makedev(x->dev_major, x->dev_minor));
			break;
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (x->type == F && x->data)
			assert_int_equal(archive_write_data(a, x->data, strlen(x->data)),
					 (la_ssize_t)strlen(x->data));
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	*len = used;
	return buf;
}

/* The uncompressed tar's digest: the diff id every unpack must report. */
static void diff_of(const struct ent *ents, size_t n, char out[KEEL_DIGEST_SIZE])
{
	size_t len;
	char *t = make_tar(ents, n, ARCHIVE_FILTER_NONE, &len);
	keel_sha256_digest(t, len, out);
	free(t);
}

static int file_fd(const char *buf, size_t len)
{
	char p[160];
	int fd;
	snprintf(p, sizeof(p), "%s/layer.tar", tmp);
	fd = open(p, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	unlink(p);
	return fd;
}

/* Unpacks ents through keel_layer_unpack_fd; returns its result, info in *out. */
static int unpack(const struct ent *ents, size_t n, int filter, const char *expect,
		  struct keel_layer_info *out, keel_error_t *err)
{
	size_t len;
	char *t = make_tar(ents, n, filter, &len);
	int fd = file_fd(t, len), r;
	free(t);
	r = keel_layer_unpack_fd(store, fd, NULL, expect, out, err);
	close(fd);
	return r;
}

static char *layer_file(const struct keel_layer_info *info, const char *rel)
{
	static char p[512];
	snprintf(p, sizeof(p), "%s/layers/%s/%s", root, keel_digest_hex(info->chain_id), rel);
	return p;
}

/* Everything under dir (names only, sorted, recursive), to compare before and after. */
static void listing(const char *dir, char *out, size_t len)
{
	struct dirent **v;
	int n = scandir(dir, &v, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		char sub[1024];
		if (strcmp(v[i]->d_name, ".") && strcmp(v[i]->d_name, "..")) {
			snprintf(out + strlen(out), len - strlen(out), "%s/%s\n", dir,
				 v[i]->d_name);
			snprintf(sub, sizeof(sub), "%s/%s", dir, v[i]->d_name);
			if (v[i]->d_type == DT_DIR)
				listing(sub, out, len);
		}
		free(v[i]);
	}
	if (n >= 0)
		free(v);
}

static const struct ent basic[] = {
	{ D, "etc/", NULL, 0, 0 },
	{ F, "etc/hostname", "keel\n", 0, 0 },
	{ L, "etc/alias", "hostname", 0, 0 },
	{ H, "etc/hard", "etc/hostname", 0, 0 },
	{ F, "./bin//tool", "#!/bin/sh\n", 0, 0 }, /* parent made on the way, name cleaned */
	{ C, "etc/whiteout-form", NULL, 0, 0 },	   /* a 0:0 char device is allowed */
};

static void check_basic(const struct keel_layer_info *info)
{
	char buf[64] = "";
	struct stat st, st2;
	ssize_t n;
	int fd = open(layer_file(info, "etc/hostname"), O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "keel\n");
	close(fd);
	n = readlink(layer_file(info, "etc/alias"), buf, sizeof(buf));
	assert_int_equal(n, 8);
	assert_int_equal(stat(layer_file(info, "etc/hostname"), &st), 0);
	assert_int_equal(stat(layer_file(info, "etc/hard"), &st2), 0);
	assert_int_equal(st.st_ino, st2.st_ino);
	assert_int_equal(st.st_mtime, 1700000000);
	assert_int_equal(stat(layer_file(info, "bin/tool"), &st), 0);
	assert_int_equal(lstat(layer_file(info, "etc/whiteout-form"), &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(info->size, 5 + 10);
}

static void test_unpack_compressions(void **state)
{
	static const int filters[] = { ARCHIVE_FILTER_NONE, ARCHIVE_FILTER_GZIP,
				       ARCHIVE_FILTER_ZSTD };
	char diff[KEEL_DIGEST_SIZE];
	(void)state;
	diff_of(basic, 6, diff);
	for (size_t i = 0; i < 3; i++) {
		struct keel_layer_info info;
		keel_error_t err = { 0 };
		/* the first time the diff id is learnt, then it is checked */
		assert_int_equal(unpack(basic, 6, filters[i], i ? diff : NULL, &info, &err), 0);
		assert_string_equal(info.diff_id, diff);
		assert_string_equal(info.chain_id, diff); /* bottom layer: chain = diff */
		assert_true(keel_layer_exists(store, info.chain_id));
		check_basic(&info);
		keel_rm_rf(layer_file(&info, ""), NULL);
	}
}

static void test_unpack_wrong_diff_id(void **state)
{
	struct keel_layer_info info;
	keel_error_t err = { 0 };
	char before[4096] = "", after[4096] = "";
	const char *wrong =
	    "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	(void)state;
	listing(root, before, sizeof(before));
	assert_int_equal(unpack(basic, 6, ARCHIVE_FILTER_GZIP, wrong, &info, &err), -1);
	assert_int_equal(err.errnum, EILSEQ);
	listing(root, after, sizeof(after));
	assert_string_equal(before, after);
}

/* The read callback of keel_layer_stream over a buffer, in small pieces. */
struct mem {
	const char *p;
	size_t len, off;
};

static ssize_t mem_read(void *ud, const void **buf, keel_error_t *err)
{
	struct mem *m = ud;
	size_t n = m->len - m->off < 1000 ? m->len - m->off : 1000;
	(void)err;
	*buf = m->p + m->off;
	m->off += n;
	return (ssize_t)n;
}

static void test_stream_once(void **state)
{
	static const int filters[] = { ARCHIVE_FILTER_NONE, ARCHIVE_FILTER_GZIP,
				       ARCHIVE_FILTER_ZSTD };
	char diff[KEEL_DIGEST_SIZE], blob[KEEL_DIGEST_SIZE], p[256];
	(void)state;
	diff_of(basic, 6, diff);
	for (size_t i = 0; i < 3; i++) {
		struct keel_layer_pending lp;
		struct keel_layer_info info;
		keel_error_t err = { 0 };
		size_t len;
		char *t = make_tar(basic, 6, filters[i], &len);
		struct mem m = { t, len, 0 };
		struct stat st;
		keel_sha256_digest(t, len, blob);
		assert_int_equal(keel_layer_stream(store, mem_read, &m, &lp, &err), 0);
		assert_string_equal(lp.blob_digest, blob);
		assert_int_equal(lp.blob_size, (int64_t)len);
		assert_string_equal(lp.diff_id, diff);
		assert_string_equal(lp.unpack_error, "");
		assert_true(lp.tmp_dir[0]);
		/* nothing in place yet */
		snprintf(p, sizeof(p), "%s/blobs/sha256/%s", root, keel_digest_hex(blob));
		assert_int_equal(stat(p, &st), -1);
		assert_false(keel_layer_exists(store, diff));
		assert_int_equal(keel_layer_pending_publish(store, &lp, diff, &err), 0);
		keel_layer_pending_discard(store, &lp);
		assert_int_equal(stat(p, &st), 0);
		assert_int_equal(st.st_size, (off_t)len);
		memcpy(info.chain_id, diff, KEEL_DIGEST_SIZE);
		info.size = lp.size;
		check_basic(&info);
		keel_rm_rf(layer_file(&info, ""), NULL);
		free(t);
	}
}

static void test_stream_discard_leaves_nothing(void **state)
{
	static const struct ent hostile[] = { { F, "ok", "x", 0, 0 },
					      { F, "../escape", "x", 0, 0 } };
	char before[4096] = "", after[4096] = "";
	size_t len;
	char *t;
	struct keel_layer_pending lp;
	keel_error_t err = { 0 };
	struct mem m;
	(void)state;
	listing(root, before, sizeof(before));
	/* a good layer, discarded (its image's diff id did not match) */
	t = make_tar(basic, 6, ARCHIVE_FILTER_GZIP, &len);
	m = (struct mem){ t, len, 0 };
	assert_int_equal(keel_layer_stream(store, mem_read, &m, &lp, &err), 0);
	keel_layer_pending_discard(store, &lp);
	keel_layer_pending_discard(store, &lp);
	free(t);
	listing(root, after, sizeof(after));
	assert_string_equal(before, after);
	/* a hostile one: kept as blob only, the reason recorded */
	t = make_tar(hostile, 2, ARCHIVE_FILTER_NONE, &len);
	m = (struct mem){ t, len, 0 };
	assert_int_equal(keel_layer_stream(store, mem_read, &m, &lp, &err), 0);
	assert_string_equal(lp.tmp_dir, "");
	assert_non_null(strstr(lp.unpack_error, "outside the layer"));
	assert_int_equal(lp.blob_size, (int64_t)len);
	keel_layer_pending_discard(store, &lp);
	free(t);
	after[0] = '\0';
	listing(root, after, sizeof(after));
	assert_string_equal(before, after);
	/* not a tar at all: same */
	m = (struct mem){ "this is not a tar archive", 25, 0 };
	assert_int_equal(keel_layer_stream(store, mem_read, &m, &lp, &err), 0);
	assert_string_equal(lp.tmp_dir, "");
	assert_int_equal(lp.blob_size, 25);
	keel_layer_pending_discard(store, &lp);
	after[0] = '\0';
	listing(root, after, sizeof(after));
	assert_string_equal(before, after);
}

static void test_whiteouts(void **state)
{
	static const struct ent ents[] = {
		{ D, "a/", NULL, 0, 0 },
		{ F, "a/.wh.gone", "", 0, 0 },
		{ D, "opq/", NULL, 0, 0 },
		{ F, "opq/.wh..wh..opq", "", 0, 0 },
		{ F, "opq/kept", "k", 0, 0 },
		{ F, ".wh..wh.plnk", "", 0, 0 }, /* AUFS metadata: ignored */
		{ F, ".wh.top", "", 0, 0 },
	};
	struct keel_layer_info info;
	keel_error_t err = { 0 };
	struct stat st;
	char v[4] = "";
	(void)state;
	assert_int_equal(unpack(ents, 7, ARCHIVE_FILTER_NONE, NULL, &info, &err), 0);
	assert_int_equal(lstat(layer_file(&info, "a/gone"), &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(0, 0));
	assert_int_equal(lstat(layer_file(&info, "top"), &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(lstat(layer_file(&info, "a/.wh.gone"), &st), -1);
	assert_int_equal(lgetxattr(layer_file(&info, "opq"), "trusted.overlay.opaque", v, 3), 1);
	assert_int_equal(v[0], 'y');
	assert_int_equal(lstat(layer_file(&info, "opq/kept"), &st), 0);
	assert_int_equal(lstat(layer_file(&info, "opq/.wh..wh..opq"), &st), -1);
	assert_int_equal(lstat(layer_file(&info, ".wh..wh.plnk"), &st), -1);
	assert_int_equal(lstat(layer_file(&info, "plnk"), &st), -1);
}

/* Each hostile layer: refused, the store and the directory beside it unchanged. */
static void refused(const struct ent *ents, size_t n, int errnum)
{
	struct keel_layer_info info;
	keel_error_t err = { 0 };
	char before[8192] = "", after[8192] = "";
	listing(tmp, before, sizeof(before));
	assert_int_equal(unpack(ents, n, ARCHIVE_FILTER_NONE, NULL, &info, &err), -1);
	if (errnum)
		assert_int_equal(err.errnum, errnum);
	listing(tmp, after, sizeof(after));
	assert_string_equal(before, after);
}

static void test_hostile_refused(void **state)
{
	char target[256];
	struct ent dotdot[] = { { F, "a/../../outside/x", "pwned", 0, 0 } };
	struct ent dotdot2[] = { { F, "../x", "pwned", 0, 0 } };
	struct ent hard_dotdot[] = { { F, "f", "x", 0, 0 },
				     { H, "h", "../../outside/secret", 0, 0 } };
	struct ent hard_abs[] = { { H, "h", target, 0, 0 } };
	struct ent hard_via_link[] = { { L, "l", "/", 0, 0 },
				       { H, "h", "l/../outside/secret", 0, 0 } };
	struct ent hard_via_link2[] = { { L, "l", outside, 0, 0 }, { H, "h", "l/secret", 0, 0 } };
	struct ent dev_block[] = { { B, "disk", NULL, 8, 0 } };
	struct ent dev_char[] = { { C, "etc/mem", NULL, 1, 1 } };
	(void)state;
	snprintf(target, sizeof(target), "%s/secret", outside);
	assert_int_equal(keel_write_file(target, "s3cret", 6, 0600, NULL), 0);
	refused(dotdot, 1, EPERM);
	refused(dotdot2, 1, EPERM);
	refused(hard_dotdot, 2, EPERM);
	refused(hard_abs, 1, ENOENT);
	refused(hard_via_link, 2, EPERM);
	refused(hard_via_link2, 2, ENOENT);
	refused(dev_block, 1, EPERM);
	refused(dev_char, 1, EPERM);
}

/* Absolute names and symlinks written through stay inside the layer: the layer is "/". */
static void test_contained(void **state)
{
	char abs_link[256], abs_name[256], p[300];
	struct ent ents[] = {
		{ F, abs_name, "abs", 0, 0 },		/* /tmp/.../outside/abs */
		{ L, "esc", abs_link, 0, 0 },		/* -> /tmp/.../outside */
		{ F, "esc/through", "through", 0, 0 },	/* written via the absolute symlink */
		{ L, "up", "../../../../../..", 0, 0 }, /* relative, far above the layer */
		{ F, "up/through2", "through2", 0, 0 },
		{ C, "dev/null", NULL, 1, 3 }, /* skipped: the runtime mounts /dev */
	};
	struct keel_layer_info info;
	keel_error_t err = { 0 };
	struct stat st;
	char before[4096] = "", after[4096] = "";
	(void)state;
	snprintf(abs_name, sizeof(abs_name), "%s/abs", outside);
	snprintf(abs_link, sizeof(abs_link), "%s", outside);
	listing(outside, before, sizeof(before));
	assert_int_equal(unpack(ents, 6, ARCHIVE_FILTER_NONE, NULL, &info, &err), 0);
	listing(outside, after, sizeof(after));
	assert_string_equal(before, after);
	snprintf(p, sizeof(p), "%s%s", layer_file(&info, ""), abs_name);
	assert_int_equal(stat(p, &st), 0);
	snprintf(p, sizeof(p), "%s%s/through", layer_file(&info, ""), outside);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(stat(layer_file(&info, "through2"), &st), 0);
	assert_int_equal(lstat(layer_file(&info, "dev/null"), &st), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unpack_compressions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unpack_wrong_diff_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream_discard_leaves_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_whiteouts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_contained, setup, teardown),
	};
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (chown, mknod, trusted.* xattrs)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
