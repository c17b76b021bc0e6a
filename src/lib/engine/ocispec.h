/* From an image config and `docker run` options to the OCI config.json keel's runtime runs:
 * the document dockerd 20.10 would hand to runc for the same image and flags (its defaults
 * for capabilities, seccomp, masked and read-only paths, mounts, devices, namespaces), with
 * keel's own choices where Docker's do not apply (cgroupsPath /keel/<id>, no networking
 * hook, network "none" by default). docs/run-options.md maps every flag.
 *
 * The only host state read: the container's /etc/passwd and /etc/group (inside `rootfs`,
 * through openat2(RESOLVE_IN_ROOT), never by joining paths), host device nodes for --device
 * and --privileged, the capability bounding set of the calling process for --privileged,
 * and the location of the init binary for --init. */
#ifndef KEEL_OCISPEC_H
#define KEEL_OCISPEC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "engine/runopts.h"
#include "util/error.h"

/* Builds config.json. image_config is the image's config blob (the object with "config":
 * {Env, Cmd, Entrypoint, WorkingDir, User, Labels, StopSignal, ...}) or that inner "config"
 * object itself, or NULL for an empty image. container_id is the 64-hex id (its first 12
 * characters are the default hostname); rootfs is the root.path to write and the directory
 * the user database is read from (may be NULL: then only numeric users work).
 * Returns a new object the caller owns, or NULL with *err set in Docker's words
 * ("unable to find user foo: no matching entries in passwd file"). */
/* Sets process.consoleSize from the calling terminal's window (stdin's, else stdout's), when
 * there is one: the runtime sizes the pty before the process starts, so the first thing the
 * container reads (`stty size`, a shell's prompt) is right; a resize from the client after the
 * start came too late for it (docker sends ConsoleSize at create for the same reason).
 * 0 or -1 (out of memory). */
int keel_ocispec_set_console_size(json_t *process);

/* process.capabilities of a privileged process (docker's --privileged, exec --privileged):
 * every capability the caller holds; a non-root uid gets them in the bounding set only. */
json_t *keel_ocispec_privileged_caps(uid_t uid);

json_t *keel_ocispec_generate(const json_t *image_config, const struct keel_run_opts *o,
			      const char *container_id, const char *rootfs, keel_error_t *err);

/* The container's Config.Env as dockerd records it: the image's Env with -e/--env-file
 * applied, without the defaults (PATH, HOSTNAME, TERM) that only the process env gets; so
 * `commit` does not bake a container's HOSTNAME into an image. image_config is the inner
 * "config" object. New array, or NULL when out of memory. */
json_t *keel_ocispec_config_env(const json_t *image_config, const struct keel_run_opts *o);

/* Appends a bind mount as dockerd writes /etc/resolv.conf, /etc/hostname and /etc/hosts
 * (options rbind, [ro,] rprivate) to spec's mounts. The engine calls it for the files it
 * keeps in the container's directory. Returns 0 or -1 with *err. */
int keel_ocispec_add_bind(json_t *spec, const char *source, const char *destination,
			  bool readonly, keel_error_t *err);

/* Docker's default seccomp profile (OCI linux.seccomp object) for a container whose
 * capability bounding set is `caps` (bit n = capability n). New object, caller owns. */
json_t *keel_seccomp_default(uint64_t caps, keel_error_t *err);

/* A profile in Docker's seccomp format (--security-opt seccomp=FILE: "defaultAction",
 * "architectures" or "archMap", "syscalls" with "name"/"names", "includes"/"excludes" of
 * "caps", "arches" and "minKernel") resolved for this container into an OCI linux.seccomp
 * object, as dockerd does. New object, caller owns; NULL with *err on a malformed profile. */
json_t *keel_seccomp_from_docker(const char *text, uint64_t caps, keel_error_t *err);

/* Docker's 14 default capabilities as a mask. */
uint64_t keel_ocispec_default_caps(void);

/* A resolved process user. */
struct keel_user {
	uid_t uid;
	gid_t gid;
	gid_t *gids; /* additionalGids: the primary gid first, as dockerd writes them */
	size_t n_gids;
};

/* Resolves `user` ("", "name", "uid", "name:group", "uid:gid", ...) and --group-add entries
 * against rootfs_fd's /etc/passwd and /etc/group with runc's rules (a numeric uid need not
 * exist; a name must). rootfs_fd may be -1 (no user database). Fills *out (release with
 * keel_user_clear). Returns 0 or -1 with *err. */
int keel_user_resolve(int rootfs_fd, const char *user, char *const *group_add,
		      struct keel_user *out, keel_error_t *err);
void keel_user_clear(struct keel_user *u);

/* Where --init's binary comes from: the first of keel's own static init (when installed),
 * Debian's tini-static and docker-init that exists; NULL when none does. Static storage. */
const char *keel_ocispec_init_binary(void);

#endif
