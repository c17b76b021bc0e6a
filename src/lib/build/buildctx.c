/* The build context (see context.h): walk, .dockerignore, checksums, source resolution. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "build/context.h"
#include "build/strbuf.h"
#include "store/libarchive.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define MAX_DEPTH 256

struct walker {
	struct keel_build_context *ctx;
	keel_error_t *err;
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int entry_cmp(const void *a, const void *b)
{
	const struct keel_ctx_entry *x = a, *y = b;
	if (strcmp(x->path, ".") == 0)
		return strcmp(y->path, ".") == 0 ? 0 : -1;
	if (strcmp(y->path, ".") == 0)
		return 1;
	return strcmp(x->path, y->path);
}

static struct keel_ctx_entry *add_entry(struct walker *w, const char *path, const struct stat *st)
{
	struct keel_ctx_entry *e = vec_grow((void **)&w->ctx->entries, &w->ctx->n, sizeof(*e));
	if (!e || !(e->path = strdup(path))) {
		keel_err(w->err, ENOMEM, "build context");
		return NULL;
	}
	e->mode = st->st_mode;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->size = st->st_size;
	return e;
}

static void hash_header(struct keel_sha256 *h, const char *type, mode_t mode)
{
	char hdr[64];
	int n = snprintf(hdr, sizeof(hdr), "%s %04o", type, (unsigned)(mode & 07777));
	keel_sha256_update(h, hdr, (size_t)n + 1);
}

static int file_digest(struct walker *w, int dirfd, const char *name, const char *path,
		       const struct stat *st, char out[KEEL_DIGEST_SIZE])
{
	struct keel_sha256 h;
	cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char buf[65536];
	ssize_t r;

	if (fd < 0)
		return keel_err_sys(w->err, "build context: opening %s", path);
	if (keel_sha256_init(&h, w->err) < 0)
		return -1;
	hash_header(&h, "file", st->st_mode);
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		keel_sha256_update(&h, buf, (size_t)r);
	if (r < 0) {
		keel_sha256_free(&h);
		return keel_err_sys(w->err, "build context: reading %s", path);
	}
	keel_sha256_final(&h, out);
	return 0;
}

static int walk_dir(struct walker *w, int dirfd, const char *rel, int depth, bool *any,
		    struct keel_sha256 *parent);

/* One directory entry: adds it (and, for a directory, what is below) unless ignored, and
 * feeds its name and checksum to the parent directory's hash. */
static int walk_one(struct walker *w, int dirfd, const char *name, const char *rel, int depth,
		    bool *any, struct keel_sha256 *parent)
{
	cleanup_free char *path = NULL;
	struct stat st;
	bool excluded;
	char digest[KEEL_DIGEST_SIZE] = "";
	struct keel_ctx_entry *e;
	cleanup_free char *link = NULL;

	if (asprintf(&path, "%s%s%s", rel ? rel : "", rel ? "/" : "", name) < 0)
		return keel_err(w->err, ENOMEM, "build context");
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return keel_err_sys(w->err, "build context: %s", path);
	excluded = keel_ignore_match(w->ctx->ignore, path);
	if (S_ISDIR(st.st_mode)) {
		bool child_any = false;
		cleanup_close int fd = -1;
		struct keel_sha256 h;
		if (excluded && !keel_ignore_has_exceptions(w->ctx->ignore))
			return 0;
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return keel_err_sys(w->err, "build context: opening %s", path);
		if (keel_sha256_init(&h, w->err) < 0)
			return -1;
		hash_header(&h, "dir", st.st_mode);
		if (walk_dir(w, fd, path, depth + 1, &child_any, &h) < 0) {
			keel_sha256_free(&h);
			return -1;
		}
		keel_sha256_final(&h, digest);
		if (excluded && !child_any)
			return 0;
	} else {
		if (excluded)
			return 0;
		if (S_ISREG(st.st_mode)) {
			if (file_digest(w, dirfd, name, path, &st, digest) < 0)
				return -1;
		} else if (S_ISLNK(st.st_mode)) {
			struct keel_sha256 h;
			char target[4096];
			ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);
			if (n < 0)
				return keel_err_sys(w->err, "build context: readlink %s", path);
			target[n] = '\0';
			if (!(link = strdup(target)) || keel_sha256_init(&h, w->err) < 0)
				return link ? -1 : keel_err(w->err, ENOMEM, "build context");
			hash_header(&h, "symlink", 0);
			keel_sha256_update(&h, target, (size_t)n);
			keel_sha256_final(&h, digest);
		} else {
			/* devices, fifos, sockets: type and mode only (Docker copies them as is) */
			struct keel_sha256 h;
			if (keel_sha256_init(&h, w->err) < 0)
				return -1;
			hash_header(&h, "special", st.st_mode);
			keel_sha256_update(&h, &st.st_rdev, sizeof(st.st_rdev));
			keel_sha256_final(&h, digest);
		}
	}
	if (!(e = add_entry(w, path, &st)))
		return -1;
	e->link = steal_pointer(&link);
	memcpy(e->digest, digest, sizeof(digest));
	*any = true;
	keel_sha256_update(parent, name, strlen(name) + 1);
	keel_sha256_update(parent, digest, strlen(digest) + 1);
	return 0;
}

static int walk_dir(struct walker *w, int dirfd, const char *rel, int depth, bool *any,
		    struct keel_sha256 *parent)
{
	cleanup_dir DIR *d = NULL;
	cleanup_strv char **names = NULL;
	size_t n = 0;
	struct dirent *de;
	int dup;

	if (depth > MAX_DEPTH)
		return keel_err_user(w->err, ELOOP,
				     "build context: %s: directories nested too "
				     "deep",
				     rel);
	dup = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dup < 0 || !(d = fdopendir(dup))) {
		if (dup >= 0)
			close(dup);
		return keel_err_sys(w->err, "build context: reading %s", rel ? rel : ".");
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (strv_push(&names, &n, strdup(de->d_name)) < 0)
			return keel_err(w->err, ENOMEM, "build context");
	}
	if (n)
		qsort(names, n, sizeof(char *), name_cmp);
	for (size_t i = 0; i < n; i++)
		if (walk_one(w, dirfd, names[i], rel, depth, any, parent) < 0)
			return -1;
	return 0;
}

static int read_ignore(struct keel_build_context *ctx, int dirfd, keel_error_t *err)
{
	cleanup_free char *text = NULL;
	struct stat st;
	ssize_t n = 0;

	/* A .dockerignore that is not a regular file (a symlink, say) is not followed. */
	if (fstatat(dirfd, ".dockerignore", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		n = keel_read_file_at(dirfd, ".dockerignore", &text, err);
		if (n < 0)
			return -1;
	}
	ctx->ignore = keel_ignore_parse(text ? text : "", text ? (size_t)n : 0, err);
	return ctx->ignore ? 0 : -1;
}

static struct keel_build_context *walk_root(int dirfd, keel_error_t *err)
{
	struct keel_build_context *ctx = calloc(1, sizeof(*ctx));
	struct walker w = { ctx, err };
	struct keel_sha256 h;
	struct stat st;
	struct keel_ctx_entry *root;
	bool any = false;

	if (!ctx) {
		keel_err(err, ENOMEM, "build context");
		close(dirfd);
		return NULL;
	}
	ctx->rootfd = dirfd;
	if (fstat(dirfd, &st) < 0) {
		keel_err_sys(err, "build context");
		goto fail;
	}
	if (read_ignore(ctx, dirfd, err) < 0 || keel_sha256_init(&h, err) < 0)
		goto fail;
	hash_header(&h, "dir", st.st_mode);
	if (walk_dir(&w, dirfd, NULL, 0, &any, &h) < 0) {
		keel_sha256_free(&h);
		goto fail;
	}
	if (!(root = add_entry(&w, ".", &st))) {
		keel_sha256_free(&h);
		goto fail;
	}
	keel_sha256_final(&h, root->digest);
	qsort(ctx->entries, ctx->n, sizeof(*ctx->entries), entry_cmp);
	return ctx;
fail:
	keel_build_context_free(ctx);
	return NULL;
}

struct keel_build_context *keel_build_context_open_dir(const char *dir, keel_error_t *err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		keel_err_sys(err, "build context %s", dir);
		return NULL;
	}
	return walk_root(fd, err);
}

/* ---- tar contexts ---- */

static int extract_tar(int fd, const char *dest, keel_error_t *err)
{
	struct archive *a = archive_read_new(), *disk = archive_write_disk_new();
	struct archive_entry *ae;
	int r = 0, ar;

	if (!a || !disk) {
		r = keel_err(err, ENOMEM, "reading the context tar");
		goto out;
	}
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_all(a);
	archive_write_disk_set_options(disk, ARCHIVE_EXTRACT_PERM |
						 ARCHIVE_EXTRACT_SECURE_NODOTDOT |
						 ARCHIVE_EXTRACT_SECURE_SYMLINKS);
	if (archive_read_open_fd(a, fd, 65536) != ARCHIVE_OK) {
		r = keel_err_user(err, EINVAL, "reading the context tar: %s",
				  archive_error_string(a));
		goto out;
	}
	while ((ar = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		/* copies: setting the pathname below frees libarchive's strings */
		const char *n0 = archive_entry_pathname(ae), *h0 = archive_entry_hardlink(ae);
		cleanup_free char *name = n0 ? strdup(n0) : NULL;
		cleanup_free char *hl = h0 ? strdup(h0) : NULL;
		cleanup_free char *full = NULL;
		cleanup_free char *hfull = NULL;
		if (!name || name[0] == '/') {
			r = keel_err_user(err, EINVAL, "context tar: absolute member name %s",
					  name ? name : "(none)");
			goto out;
		}
		if (asprintf(&full, "%s/%s", dest, name) < 0 ||
		    (hl && asprintf(&hfull, "%s/%s", dest, hl) < 0)) {
			r = keel_err(err, ENOMEM, "context tar");
			goto out;
		}
		archive_entry_set_pathname(ae, full);
		if (hl)
			archive_entry_set_hardlink(ae, hfull);
		if (archive_write_header(disk, ae) != ARCHIVE_OK ||
		    archive_write_data_block(disk, NULL, 0, 0) < ARCHIVE_OK) {
			r = keel_err_user(err, EINVAL, "context tar: %s: %s", name,
					  archive_error_string(disk));
			goto out;
		}
		for (;;) {
			const void *buf;
			size_t len;
			la_int64_t off;
			int rr = archive_read_data_block(a, &buf, &len, &off);
			if (rr == ARCHIVE_EOF)
				break;
			if (rr != ARCHIVE_OK ||
			    archive_write_data_block(disk, buf, len, off) != ARCHIVE_OK) {
				r = keel_err_user(
				    err, EINVAL, "context tar: %s: %s", name,
				    archive_error_string(rr != ARCHIVE_OK ? a : disk));
				goto out;
			}
		}
		archive_write_finish_entry(disk);
	}
	if (ar != ARCHIVE_EOF)
		r = keel_err_user(err, EINVAL, "reading the context tar: %s",
				  archive_error_string(a));
out:
	if (a)
		archive_read_free(a);
	if (disk)
		archive_write_free(disk);
	return r;
}

struct keel_build_context *keel_build_context_open_tar(int fd, const char *tmp_parent,
						       keel_error_t *err)
{
	const char *parent = tmp_parent ? tmp_parent : getenv("TMPDIR");
	char *dir = NULL;
	struct keel_build_context *ctx;

	if (asprintf(&dir, "%s/keel-build-context.XXXXXX", parent && *parent ? parent : "/tmp") < 0)
		return keel_err(err, ENOMEM, "build context"), NULL;
	if (!mkdtemp(dir)) {
		keel_err_sys(err, "build context: creating %s", dir);
		free(dir);
		return NULL;
	}
	if (extract_tar(fd, dir, err) < 0 || !(ctx = keel_build_context_open_dir(dir, err))) {
		keel_error_t ignored;
		keel_rm_rf(dir, &ignored);
		free(dir);
		return NULL;
	}
	ctx->tmpdir = dir;
	return ctx;
}

void keel_build_context_free(struct keel_build_context *ctx)
{
	if (!ctx)
		return;
	if (ctx->rootfd >= 0)
		close(ctx->rootfd);
	if (ctx->tmpdir) {
		keel_error_t ignored;
		keel_rm_rf(ctx->tmpdir, &ignored);
		free(ctx->tmpdir);
	}
	for (size_t i = 0; i < ctx->n; i++) {
		free(ctx->entries[i].path);
		free(ctx->entries[i].link);
	}
	free(ctx->entries);
	keel_ignore_free(ctx->ignore);
	free(ctx);
}

/* ---- lookup and resolution ---- */

const struct keel_ctx_entry *keel_build_context_lookup(const struct keel_build_context *ctx,
						       const char *path)
{
	struct keel_ctx_entry key = { .path = (char *)path };
	return bsearch(&key, ctx->entries, ctx->n, sizeof(key), entry_cmp);
}

/* True when the lexical path climbs above its start ("..", "a/../..", "/../x"). */
static bool escapes(const char *path)
{
	int depth = 0;
	const char *p = path;
	while (*p) {
		const char *s;
		size_t len;
		while (*p == '/')
			p++;
		s = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - s);
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			if (--depth < 0)
				return true;
		} else if (len && !(len == 1 && s[0] == '.')) {
			depth++;
		}
	}
	return false;
}

/* Context-relative clean form: "" and "/" become ".". */
static char *rel_clean(const char *path)
{
	cleanup_free char *abs = NULL;
	char *c;
	if (asprintf(&abs, "/%s", path) < 0)
		return NULL;
	c = keel_path_clean(abs);
	if (c && strcmp(c, "/") == 0) {
		free(c);
		return strdup(".");
	}
	if (c)
		memmove(c, c + 1, strlen(c));
	return c;
}

/* Follows symlinks element by element as RESOLVE_IN_ROOT would, over the entry list. */
static char *follow(const struct keel_build_context *ctx, const char *path, int *hops)
{
	cleanup_free char *cur = rel_clean(path);
	if (!cur)
		return NULL;
	for (char *s = cur;; s++) {
		if (*s == '/' || *s == '\0') {
			char save = *s;
			const struct keel_ctx_entry *e;
			*s = '\0';
			e = keel_build_context_lookup(ctx, cur);
			*s = save;
			if (e && e->link) {
				cleanup_free char *next = NULL;
				const char *dir = cur;
				char *slash;
				if (++*hops > 40)
					return NULL;
				*s = '\0';
				slash = strrchr(cur, '/');
				if (e->link[0] == '/')
					dir = "";
				else if (slash)
					*slash = '\0';
				else
					dir = "";
				if (asprintf(&next, "%s/%s%s%s", dir, e->link, save ? "/" : "",
					     save ? s + 1 : "") < 0)
					return NULL;
				return follow(ctx, next, hops);
			}
			if (!save)
				break;
		}
	}
	return steal_pointer(&cur);
}

static bool has_wildcards(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			continue;
		}
		if (*s == '*' || *s == '?' || *s == '[')
			return true;
	}
	return false;
}

int keel_build_context_resolve(const struct keel_build_context *ctx, const char *src, char ***out,
			       size_t *n, keel_error_t *err)
{
	cleanup_free char *clean = NULL;
	char **res = NULL;
	size_t cnt = 0;
	int hops = 0;

	if (escapes(src))
		return keel_err_user(err, EPERM, "forbidden path outside the build context: %s",
				     src);
	if (!(clean = rel_clean(src)))
		return keel_err(err, ENOMEM, "build context");
	if (has_wildcards(clean)) {
		for (size_t i = 0; i < ctx->n; i++)
			if (fnmatch(clean, ctx->entries[i].path, FNM_PATHNAME) == 0 &&
			    strv_push(&res, &cnt, strdup(ctx->entries[i].path)) < 0) {
				strv_free(res);
				return keel_err(err, ENOMEM, "build context");
			}
		if (!cnt)
			return keel_err_user(err, ENOENT,
					     "no source files were specified: %s "
					     "matches nothing in the build context",
					     src);
	} else {
		char *real = follow(ctx, clean, &hops);
		if (!real)
			return hops > 40 ? keel_err_user(err, ELOOP, "%s: too many symlinks", src)
					 : keel_err(err, ENOMEM, "build context");
		if (!keel_build_context_lookup(ctx, real)) {
			int r = keel_err_user(err, ENOENT,
					      "%s%s%s%s: not found in the build context "
					      "(or excluded by .dockerignore)",
					      src, strcmp(real, clean) ? " (a symlink to " : "",
					      strcmp(real, clean) ? real : "",
					      strcmp(real, clean) ? ")" : "");
			free(real);
			return r;
		}
		if (strv_push(&res, &cnt, real) < 0)
			return keel_err(err, ENOMEM, "build context");
	}
	*out = res;
	*n = cnt;
	return 0;
}

int keel_build_context_checksum(const struct keel_build_context *ctx, char *const *srcs,
				size_t nsrcs, char out[KEEL_DIGEST_SIZE], keel_error_t *err)
{
	struct keel_sha256 h;
	if (keel_sha256_init(&h, err) < 0)
		return -1;
	for (size_t i = 0; i < nsrcs; i++) {
		cleanup_strv char **paths = NULL;
		size_t n = 0;
		if (keel_build_context_resolve(ctx, srcs[i], &paths, &n, err) < 0) {
			keel_sha256_free(&h);
			return -1;
		}
		for (size_t k = 0; k < n; k++) {
			const struct keel_ctx_entry *e = keel_build_context_lookup(ctx, paths[k]);
			keel_sha256_update(&h, paths[k], strlen(paths[k]) + 1);
			keel_sha256_update(&h, e->digest, strlen(e->digest) + 1);
		}
	}
	keel_sha256_final(&h, out);
	return 0;
}

int keel_build_context_open(const struct keel_build_context *ctx, const char *path, int flags,
			    keel_error_t *err)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
				.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS };
	int fd = (int)syscall(SYS_openat2, ctx->rootfd, *path ? path : ".", &how, sizeof(how));
	if (fd < 0)
		return keel_err_sys(err, "build context: opening %s", path);
	return fd;
}
