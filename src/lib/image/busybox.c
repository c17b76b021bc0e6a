/* The embedded default image: docker.io/library/busybox:latest made from the host's Debian
 * busybox-static, with no network. Built in memory the same way every time (fixed mtimes and
 * owners, sorted entries, compact sorted-key config), so the same binary gives the same image
 * id everywhere. The layout matches tools/mkimage.sh. */
#include "image/image.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "store/blob.h"
#include "store/libarchive.h"
#include "store/store_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define BUSYBOX_TAG "docker.io/library/busybox:latest"

extern char **environ;

struct node {
	char *path;
	mode_t mode; /* type | perm */
	const char *target;
};

static const struct {
	const char *path;
	mode_t mode;
} fixed[] = {
	{"bin", S_IFDIR | 0755}, {"dev", S_IFDIR | 0755},  {"etc", S_IFDIR | 0755},
	{"home", S_IFDIR | 0755}, {"proc", S_IFDIR | 0755}, {"root", S_IFDIR | 0700},
	{"run", S_IFDIR | 0755},  {"sbin", S_IFDIR | 0755}, {"sys", S_IFDIR | 0755},
	{"tmp", S_IFDIR | 01777}, {"usr", S_IFDIR | 0755},  {"usr/bin", S_IFDIR | 0755},
	{"usr/sbin", S_IFDIR | 0755}, {"var", S_IFDIR | 0755},
	{"bin/busybox", S_IFREG | 0755}, {"etc/group", S_IFREG | 0644},
	{"etc/passwd", S_IFREG | 0644},
};

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
			     "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
			     "user:x:1000:1000:user:/home:/bin/sh\n";
static const char group[] = "root:x:0:\nnogroup:x:65534:\nuser:x:1000:\n";

static const char *busybox_path(void)
{
	const char *p = getenv("KEEL_BUSYBOX");
	return p && *p ? p : "/bin/busybox";
}

/* `busybox --list-full`: every applet's path. */
static char *list_applets(const char *bb, keel_error_t *err)
{
	int p[2];
	pid_t pid;
	char *argv[] = {(char *)bb, "--list-full", NULL}, *out = NULL;
	posix_spawn_file_actions_t fa;
	size_t len = 0, cap = 0;
	int status;
	if (pipe2(p, O_CLOEXEC) < 0)
		return keel_err_sys(err, "pipe"), NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	if (posix_spawn(&pid, bb, &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		close(p[0]);
		close(p[1]);
		keel_err(err, errno, "running %s", bb);
		return NULL;
	}
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	for (;;) {
		ssize_t n;
		if (len + 4096 > cap) {
			char *nb = realloc(out, cap = cap ? cap * 2 : 16384);
			if (!nb)
				break;
			out = nb;
		}
		n = read(p[0], out + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(p[0]);
	waitpid(pid, &status, 0);
	if (!out || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || len == 0) {
		free(out);
		keel_err_user(err, ENOEXEC, "%s --list-full failed (want Debian's busybox-static)", bb);
		return NULL;
	}
	out[len] = '\0';
	return out;
}

static int node_cmp(const void *a, const void *b)
{
	return strcmp(((const struct node *)a)->path, ((const struct node *)b)->path);
}

static bool listed(struct node *v, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].path, path))
			return true;
	return false;
}

/* The sorted entries of the image: fixed ones plus a symlink per applet. */
static struct node *make_nodes(char *applets, size_t *count)
{
	size_t n = 0, cap = 512;
	struct node *v = calloc(cap, sizeof(*v));
	char *save = NULL;
	if (!v)
		return NULL;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		v[n++] = (struct node){.path = (char *)fixed[i].path, .mode = fixed[i].mode};
	for (char *a = strtok_r(applets, "\n", &save); a; a = strtok_r(NULL, "\n", &save)) {
		if (!*a || strstr(a, "..") || a[0] == '/' || listed(v, n, a))
			continue;
		if (n == cap) {
			struct node *nv = realloc(v, (cap *= 2) * sizeof(*v));
			if (!nv) {
				free(v);
				return NULL;
			}
			v = nv;
		}
		v[n++] = (struct node){.path = a, .mode = S_IFLNK | 0777, .target = "/bin/busybox"};
	}
	qsort(v, n, sizeof(*v), node_cmp);
	*count = n;
	return v;
}

static la_ssize_t blob_write_cb(struct archive *a, void *ud, const void *buf, size_t len)
{
	keel_error_t err;
	if (keel_blob_write(ud, buf, len, &err) < 0) {
		archive_set_error(a, EIO, "%s", err.msg);
		return -1;
	}
	return (la_ssize_t)len;
}

static int put_node(struct archive *a, const struct node *nd, const char *bb, time_t mtime,
		    keel_error_t *err)
{
	struct archive_entry *e = archive_entry_new();
	const char *data = NULL;
	cleanup_free char *bin = NULL;
	ssize_t len = 0;
	int ret = 0;
	archive_entry_set_pathname(e, nd->path);
	archive_entry_set_mode(e, nd->mode);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_uname(e, "root");
	archive_entry_set_gname(e, "root");
	archive_entry_set_mtime(e, mtime, 0);
	if (nd->target)
		archive_entry_set_symlink(e, nd->target);
	if (S_ISREG(nd->mode)) {
		if (!strcmp(nd->path, "etc/passwd"))
			data = passwd, len = (ssize_t)strlen(passwd);
		else if (!strcmp(nd->path, "etc/group"))
			data = group, len = (ssize_t)strlen(group);
		else if ((len = keel_read_file(bb, &bin, err)) < 0)
			ret = -1;
		else
			data = bin;
		archive_entry_set_size(e, len < 0 ? 0 : len);
	}
	if (ret == 0 && archive_write_header(a, e) != ARCHIVE_OK)
		ret = keel_err(err, EIO, "busybox layer: %s", archive_error_string(a));
	if (ret == 0 && data && archive_write_data(a, data, (size_t)len) != len)
		ret = keel_err(err, EIO, "busybox layer: %s", archive_error_string(a));
	archive_entry_free(e);
	return ret;
}

/* Writes the layer tar into the blob store; its digest (uncompressed) is the diff id. */
static int make_layer(struct keel_store *s, const char *bb, time_t mtime,
		      char digest[KEEL_DIGEST_SIZE], keel_error_t *err)
{
	cleanup_free char *applets = list_applets(bb, err);
	cleanup_free struct node *nodes = NULL;
	struct keel_blob_writer w;
	struct archive *a;
	size_t n = 0;
	int ret = 0;
	if (!applets)
		return -1;
	if (!(nodes = make_nodes(applets, &n)))
		return keel_err(err, ENOMEM, "busybox");
	if (keel_blob_begin(s, &w, err) < 0)
		return -1;
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_per_block(a, 10240);
	if (archive_write_open(a, &w, NULL, blob_write_cb, NULL) != ARCHIVE_OK)
		ret = keel_err(err, EIO, "busybox layer: %s", archive_error_string(a));
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = put_node(a, &nodes[i], bb, mtime, err);
	if (archive_write_close(a) != ARCHIVE_OK && ret == 0)
		ret = keel_err(err, EIO, "busybox layer: %s", archive_error_string(a));
	archive_write_free(a);
	if (ret < 0) {
		keel_blob_abort(&w);
		return -1;
	}
	return keel_blob_commit(&w, NULL, digest, err);
}

static char *make_config(const char *diff_id, time_t mtime)
{
	char created[32];
	struct tm tm;
	gmtime_r(&mtime, &tm);
	strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cleanup_json json_t *c = json_pack(
		"{s:s, s:s, s:s, s:{s:[s], s:[s]}, s:{s:s, s:[s]}, s:[{s:s, s:s}]}",
		"architecture", "amd64", "os", "linux", "created", created,
		"config", "Env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"Cmd", "sh", "rootfs", "type", "layers", "diff_ids", diff_id, "history", "created",
		created, "created_by", "keel: Debian busybox-static");
	return c ? json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
}

int keel_store_ensure_busybox(struct keel_store *s, keel_error_t *err)
{
	char diff[KEEL_DIGEST_SIZE], id[KEEL_DIGEST_SIZE];
	cleanup_free char *found = NULL;
	cleanup_free char *cfg = NULL;
	char *tag = BUSYBOX_TAG, *blobs[1] = {diff};
	const char *bb = busybox_path();
	keel_error_t ignored;
	found = keel_imgdb_resolve(s, BUSYBOX_TAG, &ignored);
	if (found)
		return 0;
	struct stat st;
	if (access(bb, X_OK) < 0 || stat(bb, &st) < 0)
		return keel_err_sys(err, "no busybox image and no %s to build it from "
					 "(apt-get install busybox-static)", bb);
	/* The binary's mtime (the package's build date) dates the image: the same package
	 * gives the same bytes, hence the same image ID, on every machine. */
	/* Shared lock from the first blob on: a collector must not take the layer blob away
	 * before the image references it. */
	if (keel_store_lock_shared(s, err) < 0)
		return -1;
	if (make_layer(s, bb, st.st_mtime, diff, err) < 0 ||
	    (!(cfg = make_config(diff, st.st_mtime)) && keel_err(err, ENOMEM, "config") < 0) ||
	    keel_image_add(s, cfg, strlen(cfg), blobs, 1, &tag, 1, NULL, NULL, id, err) < 0) {
		keel_store_unlock(s);
		return keel_err_wrap(err, "building the busybox image");
	}
	keel_store_unlock(s);
	return 1;
}
