/* What the executor's files share (exec_build.c drives, exec_image.c makes images and
 * caches steps, exec_fs.c works on root filesystems, exec_run.c runs RUN). */
#ifndef KEEL_BUILD_EXEC_INTERNAL_H
#define KEEL_BUILD_EXEC_INTERNAL_H

#include <jansson.h>

#include "build/eval.h"
#include "build/exec.h"
#include "store/digest.h"

/* The image a stage has built so far. */
struct exec_image {
	char *id;     /* NULL: FROM scratch before any step */
	json_t *cfg;  /* the full image config (owned) */
	char **blobs; /* layer blob digests, lowest first (strv) */
	char **dirs;  /* unpacked layer dirs, lowest first (strv) */
	size_t n;
};

void exec_image_clear(struct exec_image *im);
/* Loads image id (any reference) into im (cleared first). */
/* FROM --platform=OS/ARCH[/VARIANT] against a base image's os/architecture/variant (amd64 =
 * x86_64, arm64 = aarch64); a mismatch is docker's "was found but does not match" error. */
int exec_image_check_platform(const struct exec_image *im, const char *ref, const char *platform,
			      keel_error_t *err);
int exec_image_load(struct keel_store *s, const char *ref, struct exec_image *im,
		    keel_error_t *err);
/* "dir" when the topmost of im's layers holding path (absolute in the image) has a
 * directory there, else "file": how Docker's history names a COPY --from source. Static
 * string. A whiteout above is not looked for (the source must exist to be copied). */
const char *exec_image_path_kind(const struct exec_image *im, const char *path);
/* An empty image (FROM scratch). */
int exec_image_scratch(struct exec_image *im, keel_error_t *err);

/* Makes the child of im: upper (a directory of overlay changes, may be NULL) as its layer
 * unless empty, one history entry with created_by (empty_layer without a layer), the
 * runtime config im->cfg["config"] as it is now. im then is the child. */
int exec_image_commit(struct keel_store *s, struct exec_image *im, const char *upper,
		      const char *created_by, keel_error_t *err);

/* build_cache: key -> image id. Returns the id (caller frees) or NULL when absent. */
int exec_cache_migrate(struct keel_store *s, keel_error_t *err);
char *exec_cache_get(struct keel_store *s, const char *key);
int exec_cache_put(struct keel_store *s, const char *key, const char *id, keel_error_t *err);

/* A private overlay of im's layers with a fresh upper dir under tmp (created). */
struct exec_mount {
	char *dir;    /* tmp/<rand>: upper/ work/ merged/ */
	char *upper;
	int rootfd;   /* merged, O_PATH | O_DIRECTORY; -1 when unmounted */
};
int exec_mount(const char *tmp, const struct exec_image *im, bool writable, struct exec_mount *m,
	       keel_error_t *err);
/* Unmounts (keeps upper for the commit). */
void exec_unmount(struct exec_mount *m);
/* Unmounts and removes everything. */
void exec_mount_free(struct exec_mount *m);

/* mkdir -p of an absolute path inside root, owned by uid:gid when created. */
int exec_mkdir_in_root(int rootfd, const char *path, uid_t uid, gid_t gid, keel_error_t *err);

/* --chown "user[:group]" resolved in the rootfs' /etc/passwd and /etc/group. */
int exec_chown_parse(int rootfd, const char *spec, uid_t *uid, gid_t *gid, keel_error_t *err);

struct exec_copy {
	int dst_root;	/* merged rootfs */
	const char *dest; /* expanded, absolute */
	bool dest_dir;	/* dest ends with '/' or several sources: dest is a directory */
	bool chown;
	uid_t uid;
	gid_t gid;
	bool chmod;
	mode_t mode;
	bool extract; /* ADD: local tars are unpacked */
	/* the build context (entries .dockerignore excludes are skipped, owners become 0:0),
	 * or NULL for COPY --from (owners are kept) */
	const struct keel_build_context *ctx;
};
/* Copies one source (an fd on a file or directory opened O_PATH, name its base name) as
 * COPY does. */
int exec_copy_one(const struct exec_copy *c, int src_dirfd, const char *src_path,
		  keel_error_t *err);

/* Writes a file of len bytes at the absolute path in c->dst_root (parents made), mode 0644
 * or c->mode, owned by c's uid:gid. */
int exec_write_in_root(const struct exec_copy *c, const char *path, const void *buf, size_t len,
		       keel_error_t *err);

/* Remote ADD (exec_fetch.c). */
struct exec_remote {
	char *path;			/* the downloaded file (in the build's tmp dir) */
	char *name;			/* the URL path's last part: the name in DEST/ */
	char digest[KEEL_DIGEST_SIZE];	/* sha256 of the content: the step's cache key */
	int64_t mtime;			/* Last-Modified, -1 when absent */
};
/* True for an http:// or https:// ADD source. */
bool exec_is_url(const char *src);
/* Downloads url into tmpdir (via keel-registry.so), checks checksum ("sha256:<hex>", may
 * be NULL). out is cleared first; free it with exec_remote_clear, even on failure. */
int exec_fetch_url(const char *tmpdir, const char *url, const char *checksum,
		   struct exec_remote *out, keel_error_t *err);
/* Removes the downloaded file and frees out (NULL-safe members). */
void exec_remote_clear(struct exec_remote *r);
/* Writes a download into the image as Docker does: c->dest, or c->dest/name when dest
 * names a directory (trailing '/' or an existing directory); mode 0600 (or --chmod),
 * 0:0 (or --chown), mtime Last-Modified; never unpacked. */
int exec_add_remote(const struct exec_copy *c, const struct exec_remote *r, keel_error_t *err);

/* RUN: runs argv as a container from im with env/workdir/user, its output to out. Returns
 * the container's upper dir path in *upper (caller frees; the container is removed by
 * exec_run_done) and the exit code. */
struct exec_run {
	struct keel_ctr *ctr;
	char *upper;
	int exit_code;
};
int exec_run(struct keel_engine *e, const struct exec_image *im, char *const *argv,
	     char *const *env, const char *workdir, const char *user, bool net_host, FILE *out,
	     struct exec_run *r, keel_error_t *err);
/* Copies a started container's output (frames from its monitor) to out until it exits. */
int exec_attach_output(const char *dir, FILE *out, int *code, keel_error_t *err);
void exec_run_done(struct keel_engine *e, struct exec_run *r);

/* ---- the driver's state (exec_build.c) and the config-only steps (exec_meta.c) ---- */

struct builder {
	struct keel_engine *e;
	struct keel_store *s;
	const struct keel_build_opts *o;
	struct keel_dockerfile *df;
	char **stage_ids; /* per stage, once built */
	char *tmp;	  /* private scratch dir (overlays) */
	size_t step, nsteps;
	FILE *out;
};

/* One step being executed. */
struct step_run {
	struct builder *b;
	const struct keel_df_step *st;
	struct exec_image *im;
	bool cmd_set; /* CMD seen in this stage: ENTRYPOINT then keeps it */
};

/* "Dockerfile:LINE: msg" */
int exec_fail_at(keel_error_t *err, const struct builder *b, const struct keel_df_instr *in,
		 int errnum, const char *msg);
struct strbuf;
/* The SHELL in effect ("/bin/sh -c"), appended to sb and/or pushed to argv (each may be NULL). */
void exec_shell_words(const struct exec_image *im, struct strbuf *sb, char ***argv, size_t *n);
/* CMD/ENTRYPOINT/RUN's command: exec form as is, shell form through SHELL (strv). */
char **exec_command_argv(const struct exec_image *im, const struct keel_df_step *st, size_t *n);
/* "/bin/sh -c #(nop)  comment" (one_space: "#(nop) comment", WORKDIR/COPY's form). */
char *exec_nop(const struct exec_image *im, const char *comment, bool one_space);
json_t *exec_config_of(struct exec_image *im);
/* Applies a config-only instruction, its history comment to cm. */
int exec_apply_meta(struct step_run *r, struct strbuf *cm, keel_error_t *err);

#endif
