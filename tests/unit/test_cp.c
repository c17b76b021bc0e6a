/* docker cp: path rules in both directions, tar streams, ownership, hardlinks, and hostile
 * symlinks in the container (absolute, ../.., to /etc, planted in the destination) that
 * must leave the host untouched. The "container" is a plain directory opened as its rootfs
 * fd; the "host secret" is a directory outside it whose content is checked after each
 * attack. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "engine/cp.h"
#include "util/fs.h"

static char dir[] = "/tmp/keel-test-cp-XXXXXX";
static char root[300], host[300], secret[300];
static int rootfd = -1;

static void put(const char *base, const char *rel, const char *content)
{
	char p[700];
	keel_error_t err;
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	assert_int_equal(keel_write_file(p, content, strlen(content), 0644, &err), 0);
}

static void mkd(const char *base, const char *rel)
{
	char p[700];
	keel_error_t err;
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	assert_int_equal(keel_mkdir_p(p, 0755, &err), 0);
}

static void lnk(const char *base, const char *rel, const char *target)
{
	char p[700];
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	unlink(p);
	assert_int_equal(symlink(target, p), 0);
}

/* Content of base/rel, or "<missing>". */
static const char *get(const char *base, const char *rel)
{
	static char buf[4096];
	char p[700];
	keel_error_t err;
	char *s = NULL;
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	if (keel_read_file(p, &s, &err) < 0)
		return "<missing>";
	snprintf(buf, sizeof(buf), "%s", s);
	free(s);
	return buf;
}

static bool exists(const char *base, const char *rel)
{
	char p[700];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", base, rel);
	return lstat(p, &st) == 0;
}

static void assert_secret_untouched(void)
{
	char p[700];
	struct stat st;
	assert_string_equal(get(secret, "secret.txt"), "host secret\n");
	snprintf(p, sizeof(p), "%s/secret.txt", secret);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, 0);
	assert_false(exists(secret, "pwned"));
	assert_false(exists(secret, "x"));
	assert_false(exists("/etc", "keel-cp-test-probe"));
}

static int setup(void **state)
{
	keel_error_t err;
	char p[700];
	if (!mkdtemp(dir))
		return -1;
	snprintf(root, sizeof(root), "%s/rootfs", dir);
	snprintf(host, sizeof(host), "%s/host", dir);
	snprintf(secret, sizeof(secret), "%s/secret", dir);
	keel_mkdir_p(root, 0755, &err);
	keel_mkdir_p(host, 0755, &err);
	keel_mkdir_p(secret, 0755, &err);
	snprintf(p, sizeof(p), "%s/secret.txt", secret);
	if (keel_write_file(p, "host secret\n", 12, 0600, &err) < 0)
		return -1;
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return rootfd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	keel_error_t err;
	close(rootfd);
	return keel_rm_rf(dir, &err);
}

static void reset_host(void)
{
	keel_error_t err;
	assert_int_equal(keel_rm_rf(host, &err), 0);
	mkd(host, "");
}

static const char *h(const char *rel)
{
	static char p[4][700];
	static int i;
	i = (i + 1) % 4;
	snprintf(p[i], sizeof(p[i]), "%s/%s", host, rel);
	return p[i];
}

static void test_from_container_rules(void **state)
{
	keel_error_t err;
	reset_host();
	mkd(root, "etc/app/conf.d");
	put(root, "etc/app/main.conf", "main\n");
	put(root, "etc/app/conf.d/a.conf", "a\n");
	put(root, "etc/hostname", "ctr\n");

	/* file -> missing dest: written as dest */
	assert_int_equal(keel_cp_from_container(rootfd, "/etc/hostname", h("hn"), NULL, &err), 0);
	assert_string_equal(get(host, "hn"), "ctr\n");
	/* file -> existing file: overwritten; relative container paths start at "/" */
	assert_int_equal(keel_cp_from_container(rootfd, "etc/app/main.conf", h("hn"), NULL, &err),
			 0);
	assert_string_equal(get(host, "hn"), "main\n");
	/* file -> existing dir: dir/basename */
	assert_int_equal(keel_cp_from_container(rootfd, "/etc/hostname", host, NULL, &err), 0);
	assert_string_equal(get(host, "hostname"), "ctr\n");
	/* file -> missing dest ending in "/": the directory must exist */
	assert_int_equal(keel_cp_from_container(rootfd, "/etc/hostname", h("nodir/"), NULL, &err),
			 -1);
	assert_false(exists(host, "nodir"));
	/* "file/" is not a directory */
	assert_int_equal(keel_cp_from_container(rootfd, "/etc/hostname/", host, NULL, &err), -1);
	assert_int_equal(err.errnum, ENOTDIR);
	/* missing source */
	assert_int_equal(keel_cp_from_container(rootfd, "/nope", host, NULL, &err), -1);
	assert_int_equal(err.errnum, ENOENT);
	assert_non_null(strstr(err.msg, "could not find the file /nope in container"));

	/* dir -> missing dest: created with the dir's contents */
	assert_int_equal(keel_cp_from_container(rootfd, "/etc/app", h("copy"), NULL, &err), 0);
	assert_string_equal(get(host, "copy/main.conf"), "main\n");
	assert_string_equal(get(host, "copy/conf.d/a.conf"), "a\n");
	/* dir -> existing dir: dest/basename */
	assert_int_equal(keel_cp_from_container(rootfd, "/etc/app", h("copy"), NULL, &err), 0);
	assert_string_equal(get(host, "copy/app/conf.d/a.conf"), "a\n");
	/* dir/. -> existing dir: the contents */
	mkd(host, "flat");
	assert_int_equal(keel_cp_from_container(rootfd, "/etc/app/.", h("flat"), NULL, &err), 0);
	assert_string_equal(get(host, "flat/main.conf"), "main\n");
	assert_false(exists(host, "flat/app"));
	/* dir -> existing file: error */
	assert_int_equal(keel_cp_from_container(rootfd, "/etc/app", h("hn"), NULL, &err), -1);
	assert_string_equal(get(host, "hn"), "main\n");
	/* the parent of a missing dest must exist */
	assert_int_equal(keel_cp_from_container(rootfd, "/etc/app", h("a/b/c"), NULL, &err), -1);
}

static void test_modes_times_owner_links(void **state)
{
	keel_error_t err;
	struct keel_cp_opts a = { .flags = KEEL_CP_ARCHIVE };
	struct stat st, st2;
	char p[700];
	reset_host();
	mkd(root, "data/sub");
	put(root, "data/sub/file", "content\n");
	snprintf(p, sizeof(p), "%s/data/sub/file", root);
	assert_int_equal(chmod(p, 04751), 0);
	assert_int_equal(lchown(p, 1234, 5678), 0);
	assert_int_equal(chmod(p, 04751), 0);
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
	snprintf(p, sizeof(p), "%s/data/hard", root);
	char q[700];
	snprintf(q, sizeof(q), "%s/data/sub/file", root);
	unlink(p);
	assert_int_equal(link(q, p), 0);
	lnk(root, "data/rel", "sub/file");
	snprintf(p, sizeof(p), "%s/data/sub", root);
	assert_int_equal(chmod(p, 0500), 0);

	assert_int_equal(keel_cp_from_container(rootfd, "/data", h("plain"), NULL, &err), 0);
	assert_int_equal(stat(h("plain/sub/file"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 04751);
	assert_int_equal(st.st_uid, geteuid()); /* without -a: the calling user */
	assert_int_equal(st.st_mtim.tv_sec, 1000000000);
	assert_int_equal(stat(h("plain/sub"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0500);
	assert_int_equal(lstat(h("plain/rel"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	/* the hardlink stays one */
	assert_int_equal(stat(h("plain/hard"), &st), 0);
	assert_int_equal(stat(h("plain/sub/file"), &st2), 0);
	assert_int_equal(st.st_ino, st2.st_ino);

	assert_int_equal(keel_cp_from_container(rootfd, "/data", h("arch"), &a, &err), 0);
	assert_int_equal(stat(h("arch/sub/file"), &st), 0);
	assert_int_equal(st.st_uid, 1234);
	assert_int_equal(st.st_gid, 5678);
	assert_int_equal(st.st_mode & 07777, 04751); /* chmod after chown keeps set-id */

	/* into the container: owner is opts uid:gid, or kept with -a */
	struct keel_cp_opts o = { .uid = 1000, .gid = 1001 };
	assert_int_equal(keel_cp_to_container(rootfd, h("arch"), "/in", &o, &err), 0);
	snprintf(p, sizeof(p), "%s/in/sub/file", root);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 1001);
	assert_int_equal(keel_cp_to_container(rootfd, h("arch"), "/in2", &a, &err), 0);
	snprintf(p, sizeof(p), "%s/in2/sub/file", root);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_uid, 1234);
	snprintf(p, sizeof(p), "%s/data/sub", root);
	chmod(p, 0755);
}

static void test_follow_link_flag(void **state)
{
	keel_error_t err;
	struct keel_cp_opts l = { .flags = KEEL_CP_FOLLOW_LINK };
	struct stat st;
	reset_host();
	put(root, "target.txt", "target\n");
	lnk(root, "link.txt", "/target.txt");
	assert_int_equal(keel_cp_from_container(rootfd, "/link.txt", h("nofollow"), NULL, &err), 0);
	assert_int_equal(lstat(h("nofollow"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(keel_cp_from_container(rootfd, "/link.txt", h("follow"), &l, &err), 0);
	assert_int_equal(lstat(h("follow"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_string_equal(get(host, "follow"), "target\n");
}

static void test_to_container_rules(void **state)
{
	keel_error_t err;
	reset_host();
	put(host, "f.txt", "from host\n");
	mkd(host, "tree/d");
	put(host, "tree/d/x", "x\n");
	mkd(root, "dst");
	assert_int_equal(keel_cp_to_container(rootfd, h("f.txt"), "/dst", NULL, &err), 0);
	assert_string_equal(get(root, "dst/f.txt"), "from host\n");
	assert_int_equal(keel_cp_to_container(rootfd, h("f.txt"), "/", NULL, &err), 0);
	assert_string_equal(get(root, "f.txt"), "from host\n");
	assert_int_equal(keel_cp_to_container(rootfd, h("f.txt"), "/dst/renamed", NULL, &err), 0);
	assert_string_equal(get(root, "dst/renamed"), "from host\n");
	assert_int_equal(keel_cp_to_container(rootfd, h("tree"), "/dst", NULL, &err), 0);
	assert_string_equal(get(root, "dst/tree/d/x"), "x\n");
	assert_int_equal(keel_cp_to_container(rootfd, h("tree/."), "/dst", NULL, &err), 0);
	assert_string_equal(get(root, "dst/d/x"), "x\n");
	assert_int_equal(keel_cp_to_container(rootfd, h("tree"), "/dst/f.txt", NULL, &err), -1);
	assert_int_equal(keel_cp_to_container(rootfd, h("nope"), "/dst", NULL, &err), -1);
	/* a destination symlink is followed inside the container */
	lnk(root, "dst/tolink", "/dst/renamed");
	put(host, "g.txt", "via link\n");
	assert_int_equal(keel_cp_to_container(rootfd, h("g.txt"), "/dst/tolink", NULL, &err), 0);
	assert_string_equal(get(root, "dst/renamed"), "via link\n");
}

/* Container symlinks pointing at the host: absolute to the secret dir, ../.. climbing to
 * it, and /etc. Every read and write must stay inside the rootfs. */
static void test_hostile_symlinks(void **state)
{
	keel_error_t err;
	char climb[700];
	reset_host();
	mkd(root, "evil");
	mkd(root, "etc");
	lnk(root, "evil/abs", secret);
	snprintf(climb, sizeof(climb), "../../../../../../../../..%s", secret);
	lnk(root, "evil/rel", climb);
	lnk(root, "evil/etc", "/etc");
	snprintf(climb, sizeof(climb), "%s/secret.txt", secret);
	lnk(root, "evil/abs_file", climb);

	/* reads: through a link the path resolves in the container, where it does not exist */
	assert_int_equal(
	    keel_cp_from_container(rootfd, "/evil/abs/secret.txt", h("s1"), NULL, &err), -1);
	assert_int_equal(
	    keel_cp_from_container(rootfd, "/evil/rel/secret.txt", h("s2"), NULL, &err), -1);
	struct keel_cp_opts l = { .flags = KEEL_CP_FOLLOW_LINK };
	assert_int_equal(keel_cp_from_container(rootfd, "/evil/abs_file", h("s3"), &l, &err), -1);
	assert_int_equal(keel_cp_from_container(rootfd, "/evil/rel/", h("s4"), NULL, &err), -1);
	assert_false(exists(host, "s1") || exists(host, "s2") || exists(host, "s3") ||
		     exists(host, "s4"));
	/* a tree with links copies the links, never their targets */
	assert_int_equal(keel_cp_from_container(rootfd, "/evil", h("tree"), NULL, &err), 0);
	struct stat st;
	assert_int_equal(lstat(h("tree/abs"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_false(exists(host, "tree/abs/secret.txt") && !S_ISLNK(st.st_mode));

	/* writes through links land in the container */
	put(host, "payload", "pwned\n");
	assert_int_equal(
	    keel_cp_to_container(rootfd, h("payload"), "/evil/etc/keel-cp-test-probe", NULL, &err),
	    0);
	assert_string_equal(get(root, "etc/keel-cp-test-probe"), "pwned\n");
	/* dest "evil/abs" resolves to <rootfs><secret>, which does not exist in the container */
	assert_int_equal(keel_cp_to_container(rootfd, h("payload"), "/evil/abs/pwned", NULL, &err),
			 -1);
	assert_int_equal(keel_cp_to_container(rootfd, h("payload"), "/evil/rel/x", NULL, &err), -1);
	/* a dest that is a link to a host file: its target does not exist in the container, so
	 * the link itself is replaced by the file */
	assert_int_equal(keel_cp_to_container(rootfd, h("payload"), "/evil/abs_file", NULL, &err),
			 0);
	assert_string_equal(get(root, "evil/abs_file"), "pwned\n");
	assert_secret_untouched();
}

/* A previous copy left symlinks to the host secret in the host destination. A container
 * file copied over such a link replaces the link; a container directory meeting one is an
 * error (docker's no-overwrite-dir-non-dir): neither writes through. */
static void test_planted_link_in_host_dest(void **state)
{
	keel_error_t err;
	char p[700];
	struct stat st;
	reset_host();
	mkd(root, "plant/secret");
	put(root, "plant/secret/secret.txt", "overwritten\n");
	put(root, "plant/pwned", "file\n");
	mkd(host, "out");
	lnk(host, "out/secret", secret);
	snprintf(p, sizeof(p), "%s/secret.txt", secret);
	lnk(host, "out/pwned", p);
	assert_int_equal(keel_cp_from_container(rootfd, "/plant/.", h("out"), NULL, &err), -1);
	assert_non_null(strstr(err.msg, "cannot overwrite non-directory"));
	assert_int_equal(lstat(h("out/secret"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_secret_untouched();
	/* the file entry replaces the planted link (the top entry through the tree sink) */
	assert_int_equal(keel_cp_from_container(rootfd, "/plant/pwned", h("out"), NULL, &err), 0);
	assert_int_equal(lstat(h("out/pwned"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_string_equal(get(host, "out/pwned"), "file\n");
	assert_secret_untouched();
	/* and a container file never replaces a host directory */
	mkd(host, "out/dir/keep");
	put(root, "plant/dir", "file\n");
	assert_int_equal(keel_cp_from_container(rootfd, "/plant/dir", h("out"), NULL, &err), -1);
	assert_true(exists(host, "out/dir/keep"));
}

/* A tar stream whose entries go through a symlink it planted itself: still in the rootfs. */
static void test_tar_stream_into_container(void **state)
{
	keel_error_t err;
	char tarp[700];
	struct archive *a = archive_write_new();
	struct archive_entry *e;
	int fd;
	snprintf(tarp, sizeof(tarp), "%s/in.tar", dir);
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, tarp), ARCHIVE_OK);
	/* a symlink to the host secret dir, then a file "through" it */
	e = archive_entry_new();
	archive_entry_set_pathname(e, "link");
	archive_entry_set_filetype(e, AE_IFLNK);
	archive_entry_set_perm(e, 0777);
	archive_entry_set_symlink(e, secret);
	archive_write_header(a, e);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, "link/pwned");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 6);
	archive_write_header(a, e);
	archive_write_data(a, "pwned\n", 6);
	archive_entry_clear(e);
	archive_entry_set_pathname(e, "ok/file");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0640);
	archive_entry_set_size(e, 3);
	archive_write_header(a, e);
	archive_write_data(a, "ok\n", 3);
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);

	mkd(root, "tarin");
	/* the container has its own directory at the secret's path */
	char inside[700];
	snprintf(inside, sizeof(inside), "%s%s", root, secret);
	assert_int_equal(keel_mkdir_p(inside, 0755, &err), 0);
	fd = open(tarp, O_RDONLY);
	struct keel_cp_opts o = { .stream_fd = fd };
	assert_int_equal(keel_cp_to_container(rootfd, "-", "/tarin", &o, &err), 0);
	close(fd);
	assert_string_equal(get(root, "tarin/ok/file"), "ok\n");
	/* the file went into the container's copy of the secret path */
	assert_string_equal(get(inside, "pwned"), "pwned\n");
	assert_secret_untouched();

	/* dest must be an existing directory */
	fd = open(tarp, O_RDONLY);
	o.stream_fd = fd;
	assert_int_equal(keel_cp_to_container(rootfd, "-", "/tarin/ok/file", &o, &err), -1);
	assert_int_equal(keel_cp_to_container(rootfd, "-", "/nowhere", &o, &err), -1);
	close(fd);

	/* ".." in an entry is refused */
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_open_filename(a, tarp);
	e = archive_entry_new();
	archive_entry_set_pathname(e, "../../escape");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 0);
	archive_write_header(a, e);
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	fd = open(tarp, O_RDONLY);
	o.stream_fd = fd;
	assert_int_equal(keel_cp_to_container(rootfd, "-", "/tarin", &o, &err), -1);
	assert_int_equal(err.errnum, EPERM);
	close(fd);
	assert_false(exists(root, "escape"));
	assert_false(exists(dir, "escape"));
}

static void test_tar_stream_out(void **state)
{
	keel_error_t err;
	char tarp[700];
	struct archive *a;
	struct archive_entry *e;
	char names[1024] = "";
	int fd;
	mkd(root, "out/d");
	put(root, "out/d/f", "data\n");
	lnk(root, "out/l", "/etc/passwd");
	snprintf(tarp, sizeof(tarp), "%s/out.tar", dir);
	fd = open(tarp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	struct keel_cp_opts o = { .stream_fd = fd };
	assert_int_equal(keel_cp_from_container(rootfd, "/out", "-", &o, &err), 0);
	close(fd);
	a = archive_read_new();
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_filename(a, tarp, 10240), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		strcat(names, archive_entry_pathname(e));
		if (archive_entry_filetype(e) == AE_IFLNK) {
			strcat(names, "->");
			strcat(names, archive_entry_symlink(e));
		}
		if (archive_entry_filetype(e) == AE_IFREG) {
			char buf[16] = "";
			archive_read_data(a, buf, sizeof(buf) - 1);
			strcat(names, "=");
			strcat(names, buf);
		}
		strcat(names, ";");
	}
	archive_read_free(a);
	/* names start at the source's basename; the link is stored, not followed */
	assert_non_null(strstr(names, "out/;"));
	assert_non_null(strstr(names, "out/d/;"));
	assert_non_null(strstr(names, "out/d/f=data\n;"));
	assert_non_null(strstr(names, "out/l->/etc/passwd;"));
	assert_null(strstr(names, "root:"));
}

/* A device node in the container is copied as a node: its content is never read (a
 * container could otherwise make keel read a host disk through a node it made). "/" as the
 * source copies the rootfs' contents. */
static void test_device_node_and_root(void **state)
{
	keel_error_t err;
	struct stat st;
	char p[700];
	reset_host();
	mkd(root, "devs");
	snprintf(p, sizeof(p), "%s/devs/zero", root);
	unlink(p);
	assert_int_equal(mknod(p, S_IFCHR | 0600, makedev(1, 5)), 0);
	assert_int_equal(keel_cp_from_container(rootfd, "/devs", h("devs"), NULL, &err), 0);
	assert_int_equal(lstat(h("devs/zero"), &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, makedev(1, 5));
	mkd(host, "all");
	assert_int_equal(keel_cp_from_container(rootfd, "/", h("all"), NULL, &err), 0);
	assert_true(exists(host, "all/devs/zero"));
	assert_false(exists(host, "all/rootfs"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_container_rules),
		cmocka_unit_test(test_modes_times_owner_links),
		cmocka_unit_test(test_follow_link_flag),
		cmocka_unit_test(test_to_container_rules),
		cmocka_unit_test(test_hostile_symlinks),
		cmocka_unit_test(test_planted_link_in_host_dest),
		cmocka_unit_test(test_tar_stream_into_container),
		cmocka_unit_test(test_tar_stream_out),
		cmocka_unit_test(test_device_node_and_root),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
