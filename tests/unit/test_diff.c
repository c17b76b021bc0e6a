/* docker diff over an overlay upper dir: A/C/D rules, whiteouts, opaque dirs, docker's
 * order, parents of changes, and lower lookups that never follow a layer's symlinks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "engine/diff.h"
#include "util/fs.h"

static char dir[] = "/tmp/keel-test-diff-XXXXXX";
static char upper[300], lower1[300], lower2[300];

struct out {
	char text[8192];
};

static int collect(enum keel_change_kind kind, const char *path, void *data)
{
	struct out *o = data;
	size_t n = strlen(o->text);
	snprintf(o->text + n, sizeof(o->text) - n, "%c %s\n", keel_change_letter(kind), path);
	return 0;
}

static void mk(const char *root, const char *rel, mode_t mode)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (S_ISDIR(mode)) {
		assert_int_equal(mkdir(p, mode & 07777), 0);
	} else {
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode & 07777);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, rel, strlen(rel)), (ssize_t)strlen(rel));
		close(fd);
	}
}

static void whiteout(const char *root, const char *rel)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	assert_int_equal(mknod(p, S_IFCHR | 0, makedev(0, 0)), 0);
}

/* Makes a directory's mtime equal in both layers, so only content changes count. */
static void same_mtime(const char *rel)
{
	char a[600], b[600];
	struct stat st;
	struct timespec ts[2];
	snprintf(a, sizeof(a), "%s/%s", lower2, rel);
	snprintf(b, sizeof(b), "%s/%s", upper, rel);
	assert_int_equal(stat(a, &st), 0);
	ts[0] = ts[1] = st.st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, b, ts, 0), 0);
}

static int setup(void **state)
{
	keel_error_t err;
	if (!mkdtemp(dir))
		return -1;
	snprintf(upper, sizeof(upper), "%s/upper", dir);
	snprintf(lower1, sizeof(lower1), "%s/l1", dir);
	snprintf(lower2, sizeof(lower2), "%s/l2", dir);
	return keel_mkdir_p(upper, 0755, &err) | keel_mkdir_p(lower1, 0755, &err) |
	       keel_mkdir_p(lower2, 0755, &err);
}

static int teardown(void **state)
{
	keel_error_t err;
	return keel_rm_rf(dir, &err);
}

static void test_rules_and_order(void **state)
{
	const char *lowers[] = { lower1, lower2, NULL };
	struct out o = { "" };
	keel_error_t err;
	/* lower2 (bottom): /etc/passwd /etc/group /usr/bin/sh /var/lib/old /a.txt */
	mk(lower2, "etc", S_IFDIR | 0755);
	mk(lower2, "etc/passwd", 0644);
	mk(lower2, "etc/group", 0644);
	mk(lower2, "usr", S_IFDIR | 0755);
	mk(lower2, "usr/bin", S_IFDIR | 0755);
	mk(lower2, "usr/bin/sh", 0755);
	mk(lower2, "var", S_IFDIR | 0755);
	mk(lower2, "var/lib", S_IFDIR | 0755);
	mk(lower2, "var/lib/old", 0644);
	mk(lower2, "a.txt", 0644);
	/* lower1 (top image layer) removed /a.txt */
	whiteout(lower1, "a.txt");

	/* upper: changed passwd, deleted group, new /etc/new, new dir /new with a file,
	 * /var/lib emptied and recreated (opaque), /usr untouched but copied up, /a.txt
	 * recreated (the lower1 whiteout hides lower2's, so it is new). */
	mk(upper, "etc", S_IFDIR | 0755);
	mk(upper, "etc/passwd", 0644);
	whiteout(upper, "etc/group");
	mk(upper, "etc/new", 0644);
	mk(upper, "new", S_IFDIR | 0755);
	mk(upper, "new/file", 0644);
	mk(upper, "usr", S_IFDIR | 0755);
	mk(upper, "var", S_IFDIR | 0755);
	mk(upper, "var/lib", S_IFDIR | 0755);
	mk(upper, "var/lib/fresh", 0644);
	mk(upper, "a.txt", 0644);
	mk(upper, "a", S_IFDIR | 0755); /* "a" sorts before "a.txt" walking, as in Go */
	mk(upper, "a/x", 0644);
	char p[600];
	snprintf(p, sizeof(p), "%s/var/lib", upper);
	assert_int_equal(setxattr(p, "trusted.overlay.opaque", "y", 1, 0), 0);
	same_mtime("usr");
	same_mtime("var");
	same_mtime("etc");

	int n = keel_diff(upper, lowers, collect, &o, &err);
	assert_int_equal(n, 12);
	assert_string_equal(o.text, "A /a\n"
				    "A /a/x\n"
				    "A /a.txt\n"
				    "C /etc\n"
				    "D /etc/group\n"
				    "A /etc/new\n"
				    "C /etc/passwd\n"
				    "A /new\n"
				    "A /new/file\n"
				    "C /var\n"
				    "D /var/lib\n"
				    "A /var/lib/fresh\n");
	/* /usr equal to the lower one: not reported; /var only as the parent of a 'D' */
}

static void test_parent_of_delete_reported(void **state)
{
	const char *lowers[] = { lower2, NULL };
	struct out o = { "" };
	keel_error_t err;
	/* /usr equals the lower dir; deleting /usr/bin/sh makes /usr/bin and its parent
	 * changes: /usr/bin must be 'C' (parent of a 'D'). */
	mk(upper, "usr/bin", S_IFDIR | 0755);
	whiteout(upper, "usr/bin/sh");
	same_mtime("usr/bin");
	same_mtime("usr");
	assert_true(keel_diff(upper, lowers, collect, &o, &err) > 0);
	assert_non_null(strstr(o.text, "C /usr/bin\nD /usr/bin/sh\n"));
	assert_null(strstr(o.text, "C /usr\n"));
	assert_null(strstr(o.text, "/usr/bin/sh\nC /usr"));
}

/* A lower layer whose directory is a symlink to a host path must not make diff stat the
 * host: the lookup fails (not in that layer), so the upper entry is 'A'. */
static void test_lower_symlink_not_followed(void **state)
{
	const char *lowers[] = { lower1, NULL };
	struct out o = { "" };
	keel_error_t err;
	char up[600];
	snprintf(up, sizeof(up), "%s/hostetc", lower1);
	assert_int_equal(symlink("/etc", up), 0);
	mk(upper, "hostetc", S_IFDIR | 0755);
	mk(upper, "hostetc/passwd", 0644); /* exists on the host's /etc */
	assert_true(keel_diff(upper, lowers, collect, &o, &err) >= 0);
	assert_non_null(strstr(o.text, "A /hostetc/passwd\n"));
}

static void test_errors_and_json(void **state)
{
	const char *lowers[] = { "/nonexistent-keel-layer", NULL };
	const char *none[] = { NULL };
	keel_error_t err;
	json_t *j;
	assert_int_equal(keel_diff("/nonexistent-keel-upper", NULL, collect, NULL, &err), -1);
	assert_int_equal(keel_diff(upper, lowers, collect, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "lower dir"));
	j = keel_diff_json(upper, none, &err);
	assert_non_null(j);
	assert_true(json_array_size(j) > 5);
	json_t *first = json_array_get(j, 0);
	assert_string_equal(json_string_value(json_object_get(first, "Path")), "/a");
	assert_int_equal(json_integer_value(json_object_get(first, "Kind")), KEEL_CHANGE_ADD);
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rules_and_order),
		cmocka_unit_test(test_parent_of_delete_reported),
		cmocka_unit_test(test_lower_symlink_not_followed),
		cmocka_unit_test(test_errors_and_json),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
