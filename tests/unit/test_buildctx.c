/* The build context: walk, .dockerignore, checksums, source resolution, tar contexts. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "build/context.h"
#include "util/fs.h"

static char dir[64];

static void put(const char *rel, const char *content, mode_t mode)
{
	char path[256], *slash;
	keel_error_t err;
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	slash = strrchr(path, '/');
	*slash = '\0';
	assert_int_equal(keel_mkdir_p(path, 0755, &err), 0);
	*slash = '/';
	assert_int_equal(keel_write_file(path, content, strlen(content), mode, &err), 0);
	chmod(path, mode);
}

static int setup(void **state)
{
	char path[256];
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/keel-test-buildctx.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	put("a.txt", "a\n", 0644);
	put("b.txt", "b\n", 0644);
	put("x.log", "x\n", 0644);
	put("sub/c.txt", "c\n", 0644);
	put("sub/deeper/d.txt", "d\n", 0600);
	put("secret/key", "k\n", 0600);
	put(".dockerignore", "*.log\nsecret\n", 0644);
	snprintf(path, sizeof(path), "%s/link", dir);
	symlink("sub/c.txt", path);
	snprintf(path, sizeof(path), "%s/escape", dir);
	symlink("../../../../../etc/hostname", path);
	snprintf(path, sizeof(path), "%s/dirlink", dir);
	symlink("/sub", path);
	return 0;
}

static int teardown(void **state)
{
	keel_error_t err;
	(void)state;
	return keel_rm_rf(dir, &err);
}

static struct keel_build_context *open_ctx(void)
{
	keel_error_t err;
	struct keel_build_context *c = keel_build_context_open_dir(dir, &err);
	if (!c)
		fail_msg("%s", err.msg);
	return c;
}

static void test_walk(void **state)
{
	struct keel_build_context *c = open_ctx();
	static const char *const want[] = {
		".",	".dockerignore", "a.txt",     "b.txt",	    "dirlink",	       "escape",
		"link", "sub",		 "sub/c.txt", "sub/deeper", "sub/deeper/d.txt"
	};
	(void)state;
	assert_int_equal(c->n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < c->n; i++)
		assert_string_equal(c->entries[i].path, want[i]);
	assert_null(keel_build_context_lookup(c, "x.log"));
	assert_null(keel_build_context_lookup(c, "secret/key"));
	assert_string_equal(keel_build_context_lookup(c, "link")->link, "sub/c.txt");
	assert_true(S_ISDIR(keel_build_context_lookup(c, "sub")->mode));
	assert_int_equal(keel_build_context_lookup(c, "sub/deeper/d.txt")->mode & 0777, 0600);
	keel_build_context_free(c);
}

static void expect_resolve(struct keel_build_context *c, const char *src, const char *want)
{
	keel_error_t err;
	char **out = NULL;
	size_t n = 0;
	char joined[512] = "";
	if (keel_build_context_resolve(c, src, &out, &n, &err) < 0) {
		if (strncmp(want, "ERR:", 4) == 0 && strstr(err.msg, want + 4))
			return;
		fail_msg("%s: %s (want %s)", src, err.msg, want);
	}
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(joined, " ");
		strcat(joined, out[i]);
		free(out[i]);
	}
	free(out);
	if (strcmp(joined, want) != 0)
		fail_msg("%s -> %s, want %s", src, joined, want);
}

static void test_resolve(void **state)
{
	struct keel_build_context *c = open_ctx();
	(void)state;
	expect_resolve(c, "a.txt", "a.txt");
	expect_resolve(c, "./sub/../a.txt", "a.txt");
	expect_resolve(c, "/a.txt", "a.txt"); /* absolute = relative to the context */
	expect_resolve(c, ".", ".");
	expect_resolve(c, "*.txt", "a.txt b.txt");
	expect_resolve(c, "sub/*", "sub/c.txt sub/deeper");
	expect_resolve(c, "?.txt", "a.txt b.txt");
	expect_resolve(c, "[b].txt", "b.txt");
	expect_resolve(c, "link", "sub/c.txt");
	expect_resolve(c, "dirlink/deeper/d.txt", "sub/deeper/d.txt");
	expect_resolve(c, "../outside", "ERR:forbidden path outside the build context: ../outside");
	expect_resolve(c, "/../../etc/passwd", "ERR:forbidden path outside the build context");
	expect_resolve(c, "sub/../../x", "ERR:forbidden path");
	/* a symlink pointing out resolves inside the context, where there is nothing */
	expect_resolve(c, "escape", "ERR:etc/hostname");
	expect_resolve(c, "missing", "ERR:missing: not found in the build context");
	expect_resolve(c, "x.log", "ERR:not found in the build context (or excluded");
	expect_resolve(c, "*.nothing", "ERR:matches nothing");
	keel_build_context_free(c);
}

static void sum(const char *src, char out[KEEL_DIGEST_SIZE])
{
	keel_error_t err;
	struct keel_build_context *c = open_ctx();
	char *srcs[] = { (char *)src };
	if (keel_build_context_checksum(c, srcs, 1, out, &err) < 0)
		fail_msg("%s", err.msg);
	keel_build_context_free(c);
}

static void test_checksums(void **state)
{
	char d1[KEEL_DIGEST_SIZE], d2[KEEL_DIGEST_SIZE], s1[KEEL_DIGEST_SIZE], s2[KEEL_DIGEST_SIZE];
	char a1[KEEL_DIGEST_SIZE], a2[KEEL_DIGEST_SIZE], path[256];
	struct timespec ts[2] = { { 1000, 0 }, { 1000, 0 } };
	(void)state;
	sum(".", d1);
	sum("sub", s1);
	sum("a.txt", a1);
	/* mtime does not count */
	snprintf(path, sizeof(path), "%s/sub/c.txt", dir);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	sum("sub", s2);
	assert_string_equal(s1, s2);
	/* an ignored file does not count */
	put("y.log", "new\n", 0644);
	sum(".", d2);
	assert_string_equal(d1, d2);
	/* content counts, and reaches the parents but not siblings */
	put("sub/c.txt", "changed\n", 0644);
	sum("sub", s2);
	assert_string_not_equal(s1, s2);
	sum(".", d2);
	assert_string_not_equal(d1, d2);
	sum("a.txt", a2);
	assert_string_equal(a1, a2);
	/* mode counts */
	put("a.txt", "a\n", 0755);
	sum("a.txt", a2);
	assert_string_not_equal(a1, a2);
	put("a.txt", "a\n", 0644);
	sum("a.txt", a2);
	assert_string_equal(a1, a2);
	put("sub/c.txt", "c\n", 0644);
}

static void test_tar(void **state)
{
	char tarpath[128];
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	keel_error_t err;
	struct keel_build_context *c;
	int fd;
	(void)state;
	snprintf(tarpath, sizeof(tarpath), "%s.tar", dir);
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, tarpath), ARCHIVE_OK);
	archive_entry_set_pathname(e, "f.txt");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0640);
	archive_entry_set_size(e, 3);
	archive_write_header(a, e);
	archive_write_data(a, "hi\n", 3);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, ".dockerignore");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 6);
	archive_write_header(a, e);
	archive_write_data(a, "*.txt\n", 6);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, "d/g");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0600);
	archive_entry_set_size(e, 0);
	archive_write_header(a, e);
	archive_entry_free(e);
	archive_write_free(a);
	fd = open(tarpath, O_RDONLY);
	assert_true(fd >= 0);
	c = keel_build_context_open_tar(fd, "/tmp", &err);
	close(fd);
	unlink(tarpath);
	if (!c)
		fail_msg("%s", err.msg);
	assert_non_null(c->tmpdir);
	assert_null(keel_build_context_lookup(c, "f.txt"));
	assert_non_null(keel_build_context_lookup(c, "d/g"));
	assert_int_equal(keel_build_context_lookup(c, "d/g")->mode & 0777, 0600);
	{
		char tmp[256];
		snprintf(tmp, sizeof(tmp), "%s", c->tmpdir);
		keel_build_context_free(c);
		assert_int_equal(access(tmp, F_OK), -1); /* removed */
	}
	/* a tar with a ".." member is refused */
	a = archive_write_new();
	e = archive_entry_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_open_filename(a, tarpath);
	archive_entry_set_pathname(e, "../evil");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 0);
	archive_write_header(a, e);
	archive_entry_free(e);
	archive_write_free(a);
	fd = open(tarpath, O_RDONLY);
	assert_null(keel_build_context_open_tar(fd, "/tmp", &err));
	close(fd);
	unlink(tarpath);
	assert_int_equal(access("/tmp/evil", F_OK), -1);
}

static void test_open(void **state)
{
	struct keel_build_context *c = open_ctx();
	keel_error_t err;
	char buf[16] = "";
	int fd = keel_build_context_open(c, "link", O_RDONLY, &err);
	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "c\n");
	close(fd);
	/* the outward symlink stays inside: there is no etc/hostname in the context */
	assert_int_equal(keel_build_context_open(c, "escape", O_RDONLY, &err), -1);
	keel_build_context_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk),	  cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_checksums), cmocka_unit_test(test_tar),
		cmocka_unit_test(test_open),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
