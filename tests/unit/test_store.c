/* The store's base: blobs written to a temp file, verified, then renamed (a wrong digest
 * leaves no file at all), SQLite schema migrations, several processes opening one fresh
 * store at once, and the repo-digest API the registry client fills. */
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
#include <sys/wait.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/digest.h"
#include "store/imagedb.h"
#include "store/store.h"
#include "util/fs.h"

static char root[64];

static int setup(void **state)
{
	(void)state;
	snprintf(root, sizeof(root), "/tmp/keel-test-store-XXXXXX");
	return mkdtemp(root) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	return keel_rm_rf(root, NULL);
}

static struct keel_store *open_store(void)
{
	keel_error_t err = { 0 };
	struct keel_store *s = keel_store_open(root, &err);
	if (!s)
		fail_msg("open: %s", err.msg);
	return s;
}

/* Names in blobs/sha256, sorted, space-separated ("" when empty). */
static void blob_names(char *out, size_t len)
{
	char dir[128];
	struct dirent **v;
	int n;
	snprintf(dir, sizeof(dir), "%s/blobs/sha256", root);
	out[0] = '\0';
	n = scandir(dir, &v, NULL, alphasort);
	assert_true(n >= 0);
	for (int i = 0; i < n; i++) {
		if (v[i]->d_name[0] != '.' ||
		    (strcmp(v[i]->d_name, ".") && strcmp(v[i]->d_name, "..")))
			snprintf(out + strlen(out), len - strlen(out), "%s%s", *out ? " " : "",
				 v[i]->d_name);
		free(v[i]);
	}
	free(v);
}

#define HELLO_DIGEST "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

static void test_blob_verify_then_rename(void **state)
{
	struct keel_store *s = open_store();
	struct keel_blob_writer w;
	keel_error_t err = { 0 };
	char d[KEEL_DIGEST_SIZE], names[512], *buf = NULL;
	(void)state;
	assert_int_equal(keel_blob_begin(s, &w, &err), 0);
	assert_int_equal(keel_blob_write(&w, "hel", 3, &err), 0);
	assert_int_equal(keel_blob_write(&w, "lo", 2, &err), 0);
	/* while being written it is only a temp file, never under a digest */
	blob_names(names, sizeof(names));
	assert_non_null(strstr(names, ".tmp-"));
	assert_null(strstr(names, "2cf24d"));
	assert_int_equal(keel_blob_commit(&w, HELLO_DIGEST, d, &err), 0);
	assert_string_equal(d, HELLO_DIGEST);
	blob_names(names, sizeof(names));
	assert_string_equal(names, HELLO_DIGEST + 7);
	assert_int_equal(keel_blob_read(s, HELLO_DIGEST, &buf, &err), 5);
	assert_string_equal(buf, "hello");
	free(buf);
	assert_int_equal(keel_blob_size(s, HELLO_DIGEST, &err), 5);
	/* put of the same content again: same name, nothing else */
	assert_int_equal(keel_blob_put(s, "hello", 5, NULL, d, &err), 0);
	blob_names(names, sizeof(names));
	assert_string_equal(names, HELLO_DIGEST + 7);
	keel_store_close(s);
}

static void test_blob_wrong_digest_leaves_nothing(void **state)
{
	struct keel_store *s = open_store();
	struct keel_blob_writer w;
	keel_error_t err = { 0 };
	char names[512];
	const char *other =
	    "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	(void)state;
	assert_int_equal(keel_blob_put(s, "hello", 5, other, NULL, &err), -1);
	assert_int_equal(err.errnum, EILSEQ);
	assert_int_equal(keel_blob_begin(s, &w, &err), 0);
	assert_int_equal(keel_blob_write(&w, "hello", 5, &err), 0);
	err.errnum = 0;
	assert_int_equal(keel_blob_commit(&w, other, NULL, &err), -1);
	assert_int_equal(err.errnum, EILSEQ);
	assert_non_null(strstr(err.msg, HELLO_DIGEST));
	blob_names(names, sizeof(names));
	assert_string_equal(names, "");
	/* reading a digest that is not there: ENOENT, a bad digest: EINVAL */
	assert_int_equal(keel_blob_open(s, other, &err), -1);
	assert_int_equal(err.errnum, ENOENT);
	assert_int_equal(keel_blob_open(s, "sha256:../../x", &err), -1);
	assert_int_equal(err.errnum, EINVAL);
	keel_store_close(s);
}

static void test_blob_finish_publish_abort(void **state)
{
	struct keel_store *s = open_store();
	struct keel_blob_writer w;
	keel_error_t err = { 0 };
	char d[KEEL_DIGEST_SIZE], names[512];
	(void)state;
	assert_int_equal(keel_blob_begin(s, &w, &err), 0);
	assert_int_equal(keel_blob_write(&w, "hello", 5, &err), 0);
	assert_int_equal(keel_blob_finish(&w, d, &err), 0);
	assert_string_equal(d, HELLO_DIGEST);
	blob_names(names, sizeof(names));
	assert_non_null(strstr(names, ".tmp-"));
	keel_blob_abort(&w);
	keel_blob_abort(&w); /* idempotent */
	blob_names(names, sizeof(names));
	assert_string_equal(names, "");
	assert_int_equal(keel_blob_begin(s, &w, &err), 0);
	assert_int_equal(keel_blob_write(&w, "hello", 5, &err), 0);
	assert_int_equal(keel_blob_finish(&w, NULL, &err), 0);
	assert_int_equal(keel_blob_publish(&w, &err), 0);
	keel_blob_abort(&w); /* after publish: a no-op */
	blob_names(names, sizeof(names));
	assert_string_equal(names, HELLO_DIGEST + 7);
	keel_store_close(s);
}

static void test_blob_corrupt_on_disk_is_an_error(void **state)
{
	struct keel_store *s = open_store();
	keel_error_t err = { 0 };
	char p[256], *buf = NULL;
	(void)state;
	assert_int_equal(keel_blob_put(s, "hello", 5, HELLO_DIGEST, NULL, &err), 0);
	snprintf(p, sizeof(p), "%s/blobs/sha256/%s", root, HELLO_DIGEST + 7);
	assert_int_equal(keel_write_file(p, "jello", 5, 0644, &err), 0);
	assert_int_equal(keel_blob_read(s, HELLO_DIGEST, &buf, &err), -1);
	assert_int_equal(err.errnum, EILSEQ);
	assert_null(buf);
	keel_store_close(s);
}

static int count_rows(struct keel_store *s, const char *sql)
{
	sqlite3_stmt *st;
	int n = -1;
	assert_int_equal(sqlite3_prepare_v2(keel_store_db(s), sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

static void test_schema_migrations(void **state)
{
	static const char *const steps[] = {
		"CREATE TABLE t1 (a TEXT);",
		"INSERT INTO t1 VALUES ('x');",
		"CREATE TABLE t2 (b TEXT); INSERT INTO t1 VALUES ('y');",
	};
	static const char *const bad[] = { steps[0], steps[1], steps[2], "CREATE TABLE t1 (a);" };
	struct keel_store *s = open_store();
	keel_error_t err = { 0 };
	(void)state;
	/* the store's own tables exist, in WAL mode */
	assert_int_equal(count_rows(s, "SELECT count(*) FROM sqlite_master WHERE name IN ("
				       "'images','layers','image_layers','tags','repo_digests',"
				       "'image_users')"),
			 6);
	assert_int_equal(count_rows(s, "SELECT count(*) FROM pragma_journal_mode"
				       " WHERE journal_mode = 'wal'"),
			 1);
	assert_int_equal(keel_store_migrate(s, "test", steps, 2, &err), 0);
	assert_int_equal(count_rows(s, "SELECT count(*) FROM t1"), 1);
	/* again at the same version: nothing runs twice */
	assert_int_equal(keel_store_migrate(s, "test", steps, 2, &err), 0);
	assert_int_equal(count_rows(s, "SELECT count(*) FROM t1"), 1);
	assert_int_equal(keel_store_migrate(s, "test", steps, 3, &err), 0);
	assert_int_equal(count_rows(s, "SELECT count(*) FROM t1"), 2);
	assert_int_equal(count_rows(s, "SELECT version FROM schema WHERE component = 'test'"), 3);
	/* a failing step rolls the whole migration back; the version stays */
	assert_int_equal(keel_store_migrate(s, "test", bad, 4, &err), -1);
	assert_int_equal(count_rows(s, "SELECT version FROM schema WHERE component = 'test'"), 3);
	/* a database newer than the caller: refused */
	assert_int_equal(keel_store_migrate(s, "test", steps, 1, &err), -1);
	assert_int_equal(err.errnum, EPROTO);
	keel_store_close(s);
	/* it all survives a reopen */
	s = open_store();
	assert_int_equal(count_rows(s, "SELECT count(*) FROM t1"), 2);
	keel_store_close(s);
}

/* Eight processes open one brand-new store at once (mkdir, WAL switch, schema), migrate a
 * table of their own and write to it: none fails, nothing is lost. */
static void test_concurrent_opens(void **state)
{
	static const char *const steps[] = { "CREATE TABLE hits (pid INTEGER);" };
	enum { N = 8 };
	char fresh[128];
	pid_t pids[N];
	int status;
	struct keel_store *s;
	keel_error_t err = { 0 };
	(void)state;
	snprintf(fresh, sizeof(fresh), "%s/fresh", root);
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			int ok = 0;
			for (int k = 0; k < 20 && ok == 0; k++) {
				struct keel_store *c = keel_store_open(fresh, &err);
				char sql[128];
				if (!c)
					_exit(1);
				snprintf(sql, sizeof(sql), "INSERT INTO hits VALUES (%d)",
					 getpid());
				if (keel_store_migrate(c, "hits", steps, 1, &err) < 0 ||
				    sqlite3_exec(keel_store_db(c), sql, NULL, NULL, NULL) !=
					SQLITE_OK)
					ok = -1;
				keel_store_close(c);
			}
			_exit(ok == 0 ? 0 : 2);
		}
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	s = keel_store_open(fresh, &err);
	assert_non_null(s);
	assert_int_equal(count_rows(s, "SELECT count(*) FROM hits"), N * 20);
	assert_int_equal(count_rows(s, "SELECT count(*) FROM schema"), 2);
	keel_store_close(s);
}

/* An image row with no layers (its config blob stored), for the name tables. */
static void add_image(struct keel_store *s, const char *cfg, char id[KEEL_DIGEST_SIZE])
{
	keel_error_t err = { 0 };
	struct keel_image_new img = { 0 };
	assert_int_equal(keel_blob_put(s, cfg, strlen(cfg), NULL, id, &err), 0);
	img.id = id;
	assert_int_equal(keel_imgdb_add(s, &img, &err), 0);
}

static void test_repo_digests(void **state)
{
	struct keel_store *s = open_store();
	keel_error_t err = { 0 };
	char id[KEEL_DIGEST_SIZE], id2[KEEL_DIGEST_SIZE], ref[200];
	struct keel_image *img;
	struct keel_events ev = { 0 };
	const char *md = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	char *full;
	(void)state;
	add_image(s, "{\"a\":1}", id);
	add_image(s, "{\"a\":2}", id2);
	full = keel_imgdb_repo_digest_name("busybox:1.36", md, &err);
	assert_non_null(full);
	assert_string_equal(full, "docker.io/library/busybox@sha256:111111111111111111111111111111"
				  "1111111111111111111111111111111111");
	free(full);
	assert_int_equal(keel_imgdb_repo_digest(s, id, "busybox:1.36", md, &err), 0);
	assert_int_equal(keel_imgdb_repo_digest(s, id, "host:5000/a/b", md, &err), 0);
	img = keel_imgdb_load(s, id, false, &err);
	assert_non_null(img);
	assert_string_equal(img->repo_digests[0],
			    "busybox@sha256:1111111111111111111111111111111111"
			    "111111111111111111111111111111");
	assert_non_null(img->repo_digests[1]);
	assert_int_equal(strncmp(img->repo_digests[1], "host:5000/a/b@sha256:1111", 25), 0);
	assert_null(img->repo_digests[2]);
	keel_image_free(img);
	/* found by name@digest */
	snprintf(ref, sizeof(ref), "busybox@%s", md);
	img = keel_image_get(s, ref, &err);
	assert_non_null(img);
	assert_string_equal(img->id, id);
	keel_image_free(img);
	/* the same name@digest moves to another image */
	assert_int_equal(keel_imgdb_repo_digest(s, id2, "busybox", md, &err), 0);
	full = keel_imgdb_resolve(s, ref, &err);
	assert_string_equal(full, id2);
	free(full);
	/* errors: no such image, bad digest, bad name */
	assert_int_equal(keel_imgdb_repo_digest(s,
						"sha256:2222222222222222222222222222222222222222"
						"222222222222222222222222",
						"busybox", md, &err),
			 -1);
	assert_int_equal(err.errnum, ENOENT);
	assert_int_equal(keel_imgdb_repo_digest(s, id, "busybox", "sha256:12", &err), -1);
	assert_int_equal(err.errnum, EINVAL);
	assert_int_equal(keel_imgdb_repo_digest(s, id, "Bad Name", md, &err), -1);
	assert_int_equal(err.errnum, EINVAL);
	/* rmi name@digest untags just that */
	assert_int_equal(keel_image_remove(s, ref, false, &ev, &err), 0);
	assert_int_equal(ev.n, 2); /* untagged, and deleted: it had no other name */
	assert_non_null(strstr(ev.v[0], "Untagged: busybox@sha256:1111"));
	keel_events_free(&ev);
	assert_null(keel_imgdb_resolve(s, ref, &err));
	assert_int_equal(err.errnum, ENOENT);
	keel_store_close(s);
}


/* The built-in SHA-256 against the published vectors (FIPS 180-4 examples) and against
 * libcrypto at every padding boundary and across block counts. */
static void test_sha256_engines_agree(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} vec[] = {
		{"", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		 "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
	};
	char a[KEEL_DIGEST_SIZE], b[KEEL_DIGEST_SIZE];
	keel_error_t err;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		assert_int_equal(keel_sha256_digest_engine(vec[i].in, strlen(vec[i].in), false, a,
							   &err), 0);
		assert_string_equal(a, vec[i].want);
		assert_int_equal(keel_sha256_digest_engine(vec[i].in, strlen(vec[i].in), true, b,
							   &err), 0);
		assert_string_equal(b, vec[i].want);
	}
	size_t max = 300 * 1024;
	unsigned char *buf = malloc(max);
	assert_non_null(buf);
	for (size_t i = 0; i < max; i++)
		buf[i] = (unsigned char)(i * 131 + (i >> 8));
	static const size_t lens[] = {1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000,
				      65535, 65536, 256 * 1024 - 1, 256 * 1024, 300 * 1024};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		assert_int_equal(keel_sha256_digest_engine(buf, lens[i], false, a, &err), 0);
		assert_int_equal(keel_sha256_digest_engine(buf, lens[i], true, b, &err), 0);
		assert_string_equal(a, b);
		keel_sha256_digest(buf, lens[i], b);
		assert_string_equal(a, b);
	}
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_blob_verify_then_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_wrong_digest_leaves_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_blob_finish_publish_abort, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_corrupt_on_disk_is_an_error, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_schema_migrations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent_opens, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo_digests, setup, teardown),
		cmocka_unit_test(test_sha256_engines_agree),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
