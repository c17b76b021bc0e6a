/* Archives: docker-archive and oci-archive save -> load into a second store keeps the image
 * id, names and layers; hostile or broken outer archives are refused with the store exactly
 * as before (no blob, no layer, no temp file left). Runs as root. */
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
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "image/image.h"
#include "store/digest.h"
#include "store/imagedb.h"
#include "store/store.h"
#include "util/fs.h"

static char tmp[64];
static struct keel_store *src, *dst;

static int setup(void **state)
{
	keel_error_t err = { 0 };
	char p[128];
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/keel-test-archive-XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	snprintf(p, sizeof(p), "%s/src", tmp);
	src = keel_store_open(p, &err);
	snprintf(p, sizeof(p), "%s/dst", tmp);
	dst = keel_store_open(p, &err);
	return src && dst ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	keel_store_close(src);
	keel_store_close(dst);
	return keel_rm_rf(tmp, NULL);
}

static int tmp_fd(void)
{
	char p[128];
	int fd;
	snprintf(p, sizeof(p), "%s/archive.XXXXXX", tmp);
	fd = mkstemp(p);
	assert_true(fd >= 0);
	unlink(p);
	return fd;
}

static void round_trip(enum keel_archive_format f)
{
	keel_error_t err = { 0 };
	struct keel_events ev = { 0 };
	struct keel_image *a, *b;
	char *refs[] = { "busybox:latest" }, *refs2[] = { "copy:1" };
	int fd = tmp_fd();
	struct stat st1, st2;
	char p1[512], p2[512];
	assert_true(keel_store_ensure_busybox(src, &err) >= 0);
	a = keel_image_get(src, "busybox", &err);
	assert_non_null(a);
	assert_int_equal(keel_imgdb_tag(src, a->id, "copy:1", &err), 0);
	assert_int_equal(keel_archive_save(src, refs, 1, f, fd, &err), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	if (keel_archive_load(dst, fd, &ev, &err) < 0)
		fail_msg("load: %s", err.msg);
	assert_int_equal(ev.n, 1);
	assert_string_equal(ev.v[0], "Loaded image: busybox:latest");
	keel_events_free(&ev);
	b = keel_image_get(dst, "busybox:latest", &err);
	assert_non_null(b);
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->n_layers, b->n_layers);
	assert_string_equal(a->diff_ids[0], b->diff_ids[0]);
	assert_int_equal(a->size, b->size);
	snprintf(p1, sizeof(p1), "%s/bin/busybox", a->layers[0]);
	snprintf(p2, sizeof(p2), "%s/bin/busybox", b->layers[0]);
	assert_int_equal(stat(p1, &st1), 0);
	assert_int_equal(stat(p2, &st2), 0);
	assert_int_equal(st1.st_size, st2.st_size);
	assert_int_equal(st1.st_mode, st2.st_mode);
	keel_image_free(b);
	/* saved by a second name, loaded again: the same id gets that name too */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(keel_archive_save(src, refs2, 1, f, fd, &err), 0);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	assert_int_equal(keel_archive_load(dst, fd, &ev, &err), 0);
	keel_events_free(&ev);
	b = keel_image_get(dst, "copy:1", &err);
	assert_non_null(b);
	assert_string_equal(a->id, b->id);
	keel_image_free(b);
	keel_image_free(a);
	close(fd);
}

static void test_round_trip_docker(void **state)
{
	(void)state;
	round_trip(KEEL_ARCHIVE_DOCKER);
}

static void test_round_trip_oci(void **state)
{
	(void)state;
	round_trip(KEEL_ARCHIVE_OCI);
}

/* ------------------------------------------------------------------------------------- */
/* hostile outer archives */

enum { F, L, H };
struct ent {
	int type;
	const char *name;
	const char *data; /* content or link target */
	size_t len;	  /* 0: strlen(data) */
};

static int write_archive(const struct ent *ents, size_t n)
{
	int fd = tmp_fd();
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_fd(a, fd), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t len = ents[i].len ? ents[i].len : strlen(ents[i].data);
		archive_entry_set_pathname(e, ents[i].name);
		archive_entry_set_perm(e, 0644);
		if (ents[i].type == F) {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, (la_int64_t)len);
		} else if (ents[i].type == L) {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, ents[i].data);
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, ents[i].data);
		}
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (ents[i].type == F)
			archive_write_data(a, ents[i].data, len);
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

static void listing(const char *dir, char *out, size_t len)
{
	struct dirent **v;
	int n = scandir(dir, &v, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		char sub[1024];
		if (strcmp(v[i]->d_name, ".") && strcmp(v[i]->d_name, "..") &&
		    strcmp(v[i]->d_name, "keel.db-wal") && strcmp(v[i]->d_name, "keel.db-shm") &&
		    strcmp(v[i]->d_name, "keel.db")) {
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

static int n_images(struct keel_store *s)
{
	struct keel_image **v;
	size_t n;
	keel_error_t err = { 0 };
	assert_int_equal(keel_image_list(s, false, &v, &n, &err), 0);
	keel_image_list_free(v, n);
	return (int)n;
}

/* Loads ents into dst: must fail, with msg in the error, dst unchanged. */
static void refused(const struct ent *ents, size_t n, const char *msg)
{
	char before[16384] = "", after[16384] = "", d[128];
	keel_error_t err = { 0 };
	struct keel_events ev = { 0 };
	int fd = write_archive(ents, n), images = n_images(dst);
	snprintf(d, sizeof(d), "%s/dst", tmp);
	listing(tmp, before, sizeof(before));
	assert_int_equal(keel_archive_load(dst, fd, &ev, &err), -1);
	if (!strstr(err.msg, msg))
		fail_msg("error '%s' lacks '%s'", err.msg, msg);
	assert_int_equal(ev.n, 0);
	listing(tmp, after, sizeof(after));
	assert_string_equal(before, after);
	assert_int_equal(n_images(dst), images);
	close(fd);
}

/* A big (streamed) layer: a 2 MiB tar of one file. */
static char *big_layer(size_t *len, char diff[KEEL_DIGEST_SIZE])
{
	size_t cap = 3 << 20;
	char *buf = malloc(cap), *data = calloc(1, 2 << 20);
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	archive_write_open_memory(a, buf, cap, len);
	archive_entry_set_pathname(e, "big");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, 2 << 20);
	archive_write_header(a, e);
	archive_write_data(a, data, 2 << 20);
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
	free(data);
	keel_sha256_digest(buf, *len, diff);
	return buf;
}

static void test_hostile_outer(void **state)
{
	const char *cfg_bad =
	    "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:0000000000000"
	    "000000000000000000000000000000000000000000000000000\"]}}";
	size_t blen;
	char diff[KEEL_DIGEST_SIZE], cfg_ok[256], man[512], blob[KEEL_DIGEST_SIZE], name[128];
	char *layer = big_layer(&blen, diff);
	keel_error_t err = { 0 };
	(void)state;
	/* a store with an image in it: it must stay exactly as it is */
	assert_true(keel_store_ensure_busybox(dst, &err) >= 0);
	snprintf(cfg_ok, sizeof(cfg_ok), "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
		 diff);
	{
		const struct ent v[] = { { F, "../escape", "x", 0 } };
		refused(v, 1, "outside");
	}
	{
		const struct ent v[] = { { F, "a/../../escape", "x", 0 } };
		refused(v, 1, "outside");
	}
	{
		const struct ent v[] = { { L, "manifest.json", "/etc/passwd", 0 } };
		refused(v, 1, "outside");
	}
	{
		const struct ent v[] = { { H, "manifest.json", "../../etc/passwd", 0 } };
		refused(v, 1, "outside");
	}
	{
		const struct ent v[] = { { F, "manifest.json",
					   "[{\"Config\":\"../../etc/passwd\","
					   "\"Layers\":[]}]",
					   0 } };
		refused(v, 1, "outside");
	}
	{
		const struct ent v[] = { { F, "manifest.json",
					   "[{\"Config\":\"/etc/passwd\","
					   "\"Layers\":[]}]",
					   0 } };
		refused(v, 1, "missing");
	}
	{
		const struct ent v[] = { { F, "manifest.json", "{not json", 0 } };
		refused(v, 1, "invalid archive");
	}
	{
		const struct ent v[] = { { F, "hello", "x", 0 } };
		refused(v, 1, "not a docker-archive or oci-archive");
	}
	/* a layer (big, so streamed) whose content does not match the config's diff id:
	 * neither its blob nor its tree may stay */
	snprintf(man, sizeof(man), "[{\"Config\":\"c.json\",\"Layers\":[\"l/layer.tar\"]}]");
	{
		const struct ent v[] = { { F, "l/layer.tar", layer, blen },
					 { F, "c.json", cfg_bad, 0 },
					 { F, "manifest.json", man, 0 } };
		refused(v, 3, "does not match its diff id");
	}
	/* a layer symlinked to a config that is no tar */
	{
		const struct ent v[] = { { F, "c.json", cfg_ok, 0 },
					 { L, "l/layer.tar", "../c.json", 0 },
					 { F, "manifest.json", man, 0 } };
		refused(v, 3, "layer");
	}
	/* oci: a blob whose name is not its digest, and one whose size is not its descriptor's */
	keel_sha256_digest(layer, blen, blob);
	snprintf(name, sizeof(name), "blobs/sha256/%s", keel_digest_hex(blob));
	{
		char cd[KEEL_DIGEST_SIZE], md[KEEL_DIGEST_SIZE], m[1024], ix[512], cname[128],
		    mname[128];
		for (int variant = 0; variant < 2; variant++) {
			keel_sha256_digest(cfg_ok, strlen(cfg_ok), cd);
			snprintf(
			    m, sizeof(m),
			    "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"appli"
			    "cation/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
			    "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
			    "\"digest\":\"%s\",\"size\":%zu}]}",
			    cd, strlen(cfg_ok), blob, variant ? blen + 1 : blen);
			keel_sha256_digest(m, strlen(m), md);
			snprintf(ix, sizeof(ix),
				 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
				 "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\","
				 "\"size\":%zu}]}",
				 md, strlen(m));
			snprintf(cname, sizeof(cname), "blobs/sha256/%s", keel_digest_hex(cd));
			snprintf(mname, sizeof(mname), "blobs/sha256/%s", keel_digest_hex(md));
			/* variant 0: the layer's bytes changed by one (digest mismatch) */
			if (variant == 0)
				layer[blen - 1] ^= 1;
			const struct ent v[] = { { F, "oci-layout",
						   "{\"imageLayoutVersion\":\"1.0.0\"}", 0 },
						 { F, name, layer, blen },
						 { F, cname, cfg_ok, 0 },
						 { F, mname, m, 0 },
						 { F, "index.json", ix, 0 } };
			refused(v, 5, variant == 0 ? "has digest" : "bytes");
			if (variant == 0)
				layer[blen - 1] ^= 1;
		}
	}
	free(layer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip_docker, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip_oci, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_outer, setup, teardown),
	};
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (layers keep owners)\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
