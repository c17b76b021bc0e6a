/* Images: manifest / index / config parsing and validation (bad JSON, wrong media types,
 * bad descriptors), keel_image_get by tag, short id, long id and digest, and
 * keel_image_commit of an overlay upper dir (whiteouts and an opaque dir go back to .wh.
 * entries) read back both as the layer tar and as the unpacked layer. Runs as root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

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

#include "image/image.h"
#include "image/manifest.h"
#include "store/blob.h"
#include "store/imagedb.h"
#include "store/layer.h"
#include "store/store.h"
#include "util/fs.h"

static char tmp[64], root[128];
static struct keel_store *store;

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static int setup(void **state)
{
	keel_error_t err = { 0 };
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/keel-test-image-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(root, sizeof(root), "%s/store", tmp);
	store = keel_store_open(root, &err);
	return store ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	keel_store_close(store);
	return keel_rm_rf(tmp, NULL);
}

static int parse_m(const char *json, keel_error_t *err)
{
	struct keel_manifest m;
	int r = keel_manifest_parse(json, strlen(json), &m, err);
	if (r == 0)
		keel_manifest_free(&m);
	return r;
}

static void test_manifest_parse(void **state)
{
	const char *good = "{\"schemaVersion\":2,\"mediaType\":\"" KEEL_MT_D2_MANIFEST "\","
			   "\"config\":{\"mediaType\":\"" KEEL_MT_D2_CONFIG "\",\"digest\":\"" D1
			   "\",\"size\":10},\"layers\":[{\"mediaType\":\"" KEEL_MT_D2_LAYER_GZ
			   "\",\"digest\":\"" D2 "\",\"size\":20}]}";
	struct keel_manifest m;
	keel_error_t err = { 0 };
	(void)state;
	assert_int_equal(keel_manifest_parse(good, strlen(good), &m, &err), 0);
	assert_string_equal(m.media_type, KEEL_MT_D2_MANIFEST);
	assert_string_equal(m.config.digest, D1);
	assert_int_equal(m.config.size, 10);
	assert_int_equal(m.n_layers, 1);
	assert_string_equal(m.layers[0].digest, D2);
	assert_int_equal(m.layers[0].size, 20);
	keel_manifest_free(&m);
	/* OCI: mediaType may be absent */
	assert_int_equal(
	    parse_m("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" KEEL_MT_OCI_CONFIG
		    "\",\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}",
		    &err),
	    0);
	/* each of these is refused with EINVAL and a message naming the problem */
	static const struct {
		const char *json, *msg;
	} bad[] = {
		{ "{\"schemaVersion\":2,", "manifest" },
		{ "[]", "not a JSON object" },
		{ "{\"schemaVersion\":1,\"config\":{}}", "schemaVersion" },
		{ "{\"schemaVersion\":2,\"mediaType\":\"" KEEL_MT_OCI_INDEX "\",\"manifests\":[]}",
		  "unsupported media type" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"application/"
		  "vnd.cncf.helm.config"
		  ".v1+json\",\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}",
		  "not an image config" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" KEEL_MT_OCI_CONFIG
		  "\",\"digest\":\"sha256:abc\",\"size\":1},\"layers\":[]}",
		  "invalid digest" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" KEEL_MT_OCI_CONFIG
		  "\",\"digest\":\"" D1 "\",\"size\":-1},\"layers\":[]}",
		  "invalid size" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" KEEL_MT_OCI_CONFIG
		  "\",\"digest\":\"" D1 "\",\"size\":1},\"layers\":{}}",
		  "not an array" },
		{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" KEEL_MT_OCI_CONFIG
		  "\",\"digest\":\"" D1 "\",\"size\":1},\"layers\":[{\"mediaType\":\"text/plain\","
		  "\"digest\":\"" D2 "\",\"size\":1}]}",
		  "unsupported layer media type" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.errnum = 0;
		assert_int_equal(parse_m(bad[i].json, &err), -1);
		assert_int_equal(err.errnum, EINVAL);
		if (!strstr(err.msg, bad[i].msg))
			fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, bad[i].msg);
	}
}

static void test_index_parse(void **state)
{
	const char *good =
	    "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" KEEL_MT_OCI_MANIFEST
	    "\",\"digest\":\"" D1 "\",\"size\":5,\"platform\":{\"os\":\"linux\","
	    "\"architecture\":\"arm64\"},\"annotations\":{\"org.opencontainers.image"
	    ".ref.name\":\"v1\"}}]}";
	const char *bad = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\"}]}";
	struct keel_index ix;
	keel_error_t err = { 0 };
	(void)state;
	assert_int_equal(keel_index_parse(good, strlen(good), &ix, &err), 0);
	assert_int_equal(ix.n, 1);
	assert_string_equal(ix.manifests[0].arch, "arm64");
	assert_string_equal(ix.manifests[0].ref_name, "v1");
	keel_index_free(&ix);
	assert_int_equal(keel_index_parse(bad, strlen(bad), &ix, &err), -1);
	assert_int_equal(err.errnum, EINVAL);
	assert_int_equal(keel_index_parse("nope", 4, &ix, &err), -1);
	assert_true(keel_media_is_index(KEEL_MT_D2_LIST));
	assert_false(keel_media_is_manifest(KEEL_MT_OCI_INDEX));
}

static int validate(const char *json, size_t *n, keel_error_t *err)
{
	json_t *j = json_loads(json, 0, NULL);
	int r;
	assert_non_null(j);
	r = keel_config_validate(j, n, err);
	json_decref(j);
	return r;
}

static void test_config_validate(void **state)
{
	keel_error_t err = { 0 };
	size_t n = 99;
	(void)state;
	assert_int_equal(validate("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2
				  "\"]},\"config\":{\"Cmd\":[\"sh\"]}}",
				  &n, &err),
			 0);
	assert_int_equal(n, 2);
	assert_int_equal(validate("{\"rootfs\":{\"type\":\"other\",\"diff_ids\":[]}}", &n, &err),
			 -1);
	assert_int_equal(
	    validate("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:x\"]}}", &n, &err),
	    -1);
	assert_int_equal(
	    validate("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]},\"config\":1}", &n, &err),
	    -1);
	assert_int_equal(validate("[]", &n, &err), -1);
}

/* keel_image_add with a config whose diff id does not match its layer: refused, nothing
 * visible. */
static void test_add_diff_mismatch(void **state)
{
	keel_error_t err = { 0 };
	char blob[KEEL_DIGEST_SIZE], id[KEEL_DIGEST_SIZE], cfg[512];
	char tarbuf[1024] = { 0 }; /* an empty tar: two zero blocks */
	char *blobs[1] = { blob };
	struct keel_image **v;
	size_t n;
	(void)state;
	assert_int_equal(keel_blob_put(store, tarbuf, sizeof(tarbuf), NULL, blob, &err), 0);
	snprintf(cfg, sizeof(cfg), "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}", D1);
	assert_int_equal(
	    keel_image_add(store, cfg, strlen(cfg), blobs, 1, NULL, 0, NULL, NULL, id, &err), -1);
	assert_int_equal(err.errnum, EILSEQ);
	assert_false(keel_layer_exists(store, D1));
	/* and the wrong number of layers */
	assert_int_equal(
	    keel_image_add(store, cfg, strlen(cfg), blobs, 0, NULL, 0, NULL, NULL, id, &err), -1);
	assert_int_equal(err.errnum, EINVAL);
	assert_int_equal(keel_image_list(store, false, &v, &n, &err), 0);
	assert_int_equal(n, 0);
	keel_image_list_free(v, n);
}

static void test_get_by_every_name(void **state)
{
	keel_error_t err = { 0 };
	struct keel_image *img, *x;
	char ref[200];
	(void)state;
	assert_int_equal(keel_store_ensure_busybox(store, &err), 1);
	assert_int_equal(keel_store_ensure_busybox(store, &err), 0);
	img = keel_image_get(store, "busybox", &err);
	assert_non_null(img);
	assert_string_equal(img->repo_tags[0], "busybox:latest");
	assert_int_equal(img->n_layers, 1);
	assert_non_null(img->config);
	const char *refs[] = { "busybox:latest",
			       "docker.io/library/busybox:latest",
			       img->id,
			       img->id + 7,
			       NULL,
			       NULL };
	snprintf(ref, sizeof(ref), "%.12s", img->id + 7);
	refs[4] = ref;
	for (size_t i = 0; i < 5; i++) {
		x = keel_image_get(store, refs[i], &err);
		if (!x)
			fail_msg("%s: %s", refs[i], err.msg);
		assert_string_equal(x->id, img->id);
		keel_image_free(x);
	}
	/* by digest: busybox@<manifest digest> once a repo digest is recorded */
	assert_int_equal(keel_imgdb_repo_digest(store, img->id, "busybox", D2, &err), 0);
	x = keel_image_get(store, "busybox@" D2, &err);
	assert_non_null(x);
	assert_string_equal(x->id, img->id);
	keel_image_free(x);
	/* misses: ENOENT with docker's message */
	assert_null(keel_image_get(store, "busybox:nope", &err));
	assert_int_equal(err.errnum, ENOENT);
	assert_string_equal(err.msg, "No such image: busybox:nope");
	assert_null(keel_image_get(store, "0000000000", &err));
	assert_int_equal(err.errnum, ENOENT);
	keel_image_free(img);
}

static void mk(const char *dir, const char *rel, const char *content)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	if (!content)
		assert_int_equal(mkdir(p, 0755), 0);
	else
		assert_int_equal(keel_write_file(p, content, strlen(content), 0644, NULL), 0);
}

/* The entry names of a layer blob, one per line. */
static void tar_names(const char *digest, char *out, size_t len)
{
	keel_error_t err = { 0 };
	int fd = keel_blob_open(store, digest, &err);
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	assert_true(fd >= 0);
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	assert_int_equal(archive_read_open_fd(a, fd, 65536), ARCHIVE_OK);
	out[0] = '\0';
	while (archive_read_next_header(a, &e) == ARCHIVE_OK)
		snprintf(out + strlen(out), len - strlen(out), "%s\n", archive_entry_pathname(e));
	archive_read_free(a);
	close(fd);
}

static void test_commit_whiteouts_round_trip(void **state)
{
	keel_error_t err = { 0 };
	char upper[256], names[4096], p[512], v[4] = "";
	struct keel_image *base, *img;
	struct keel_layer_rec rec;
	struct stat st;
	json_t *cfg = json_pack("{s:[s]}", "Cmd", "true");
	char *id;
	(void)state;
	assert_true(keel_store_ensure_busybox(store, &err) >= 0);
	base = keel_image_get(store, "busybox", &err);
	assert_non_null(base);
	snprintf(upper, sizeof(upper), "%s/upper", tmp);
	mk(tmp, "upper", NULL);
	mk(upper, "etc", NULL);
	mk(upper, "etc/motd", "hi\n");
	mk(upper, "opq", NULL);
	mk(upper, "opq/new", "n");
	snprintf(p, sizeof(p), "%s/opq", upper);
	assert_int_equal(setxattr(p, "trusted.overlay.opaque", "y", 1, 0), 0);
	snprintf(p, sizeof(p), "%s/etc/group", upper);
	assert_int_equal(mknod(p, S_IFCHR, makedev(0, 0)), 0);
	snprintf(p, sizeof(p), "%s/gone", upper);
	assert_int_equal(mknod(p, S_IFCHR, makedev(0, 0)), 0);
	id =
	    keel_image_commit(store, upper, base->id, cfg, "a comment", "me", "committed:v1", &err);
	if (!id)
		fail_msg("commit: %s", err.msg);
	img = keel_image_get(store, "committed:v1", &err);
	assert_non_null(img);
	assert_string_equal(img->id, id);
	assert_int_equal(img->n_layers, 2);
	assert_string_equal(img->layers[0], base->layers[0]);
	assert_string_equal(img->parent, base->id);
	assert_string_equal(json_string_value(json_array_get(
				json_object_get(json_object_get(img->config, "config"), "Cmd"), 0)),
			    "true");
	assert_string_equal(json_string_value(json_object_get(img->config, "author")), "me");
	/* the layer tar carries .wh. entries again */
	{
		char chain[KEEL_DIGEST_SIZE];
		keel_layer_chain_id(base->diff_ids[0], img->diff_ids[1], chain);
		assert_int_equal(keel_imgdb_layer(store, chain, &rec, &err), 1);
	}
	tar_names(rec.blob_digest, names, sizeof(names));
	assert_non_null(strstr(names, "etc/.wh.group\n"));
	assert_non_null(strstr(names, ".wh.gone\n"));
	assert_non_null(strstr(names, "opq/.wh..wh..opq\n"));
	assert_non_null(strstr(names, "opq/new\n"));
	assert_non_null(strstr(names, "etc/motd\n"));
	assert_null(strstr(names, "etc/group\n"));
	/* and the unpacked layer has overlayfs whiteouts again */
	snprintf(p, sizeof(p), "%s/etc/group", img->layers[1]);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
	snprintf(p, sizeof(p), "%s/opq", img->layers[1]);
	assert_int_equal(lgetxattr(p, "trusted.overlay.opaque", v, 3), 1);
	snprintf(p, sizeof(p), "%s/etc/motd", img->layers[1]);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, 3);
	free(id);
	json_decref(cfg);
	keel_image_free(img);
	keel_image_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manifest_parse),
		cmocka_unit_test(test_index_parse),
		cmocka_unit_test(test_config_validate),
		cmocka_unit_test_setup_teardown(test_add_diff_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get_by_every_name, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_whiteouts_round_trip, setup, teardown),
	};
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (mknod, trusted.* xattrs)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
