/* What cp, export, diff, commit and top need from a container: its rootfs as a directory fd,
 * its layers, its processes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/ctr_internal.h"
#include "engine/diff.h"
#include "image/image.h"
#include "runtime/container.h"
#include "util/cleanup.h"

int keel_ctr_rootfs_fd(struct keel_engine *e, const struct keel_ctr *c, keel_error_t *err)
{
	struct keel_ctr_status st;
	cleanup_free char *dir = keel_ctr_dir(e, c->id);
	cleanup_strv char **layers = NULL;
	char path[PATH_MAX];
	int host_ns, fd;
	if (!dir)
		return keel_err(err, ENOMEM, "out of memory");
	if (keel_ctr_status(e, c, &st, err) < 0)
		return -1;
	if (st.pid > 0 && (st.state == KEEL_CTR_RUNNING || st.state == KEEL_CTR_PAUSED)) {
		/* the rootfs is mounted only in the container's namespaces: reach it through
		 * its init (this also sees its tmpfs and bind mounts, as docker's cp does) */
		snprintf(path, sizeof(path), "/proc/%d/root", st.pid);
		fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
		return fd < 0 ? keel_err_sys(err, "opening the rootfs of %s", c->name) : fd;
	}
	/* stopped: mount it for us alone; the fd keeps the mount alive after the namespace,
	 * which nobody is in, is gone (the kernel detaches it then, as umount -l) */
	if (!(layers = keel_ctr_layers(e, c, err)) ||
	    keel_ctr_ns_enter(dir, layers, &host_ns, err) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/merged", dir);
	fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		keel_err_sys(err, "opening %s", path);
	if (keel_ctr_ns_leave(host_ns, fd < 0 ? &(keel_error_t){ 0 } : err) < 0 && fd >= 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A detached clone of the running container's root mount alone: no /proc, /sys, /dev,
 * volumes or tmpfs (they are other mounts). open_tree clones only mounts of the caller's own
 * namespace, so the clone is made inside the container's and we come back at once. */
static int live_root_clone(pid_t pid, keel_error_t *err)
{
	cleanup_close int ns = -1, self = -1, cwd = -1;
	char path[64];
	int fd, saved;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	if ((ns = open(path, O_RDONLY | O_CLOEXEC)) < 0 ||
	    (self = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC)) < 0 ||
	    (cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return keel_err_sys(err, "opening the mount namespaces");
	if (setns(ns, CLONE_NEWNS) < 0)
		return keel_err_sys(err, "entering the container's mount namespace");
	fd = (int)syscall(SYS_open_tree, AT_FDCWD, "/", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	saved = errno;
	/* setns put our root and cwd at the namespace's; both come back */
	if (setns(self, CLONE_NEWNS) < 0 || fchdir(cwd) < 0) {
		keel_err_sys(err, "returning to the host mount namespace");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	errno = saved;
	return fd < 0 ? keel_err_sys(err, "cloning the container's root mount") : fd;
}

int keel_ctr_export_fd(struct keel_engine *e, const struct keel_ctr *c, keel_error_t *err)
{
	struct keel_ctr_status st;
	if (keel_ctr_status(e, c, &st, err) < 0)
		return -1;
	if (st.pid > 0 && (st.state == KEEL_CTR_RUNNING || st.state == KEEL_CTR_PAUSED))
		return live_root_clone(st.pid, err);
	return keel_ctr_rootfs_fd(e, c, err);
}

char **keel_ctr_lowers(struct keel_engine *e, const struct keel_ctr *c, keel_error_t *err)
{
	char **v = keel_ctr_layers(e, c, err);
	size_t n = 0;
	if (!v)
		return NULL;
	while (v[n])
		n++;
	for (size_t i = 0; i < n / 2; i++) {
		char *t = v[i];
		v[i] = v[n - 1 - i];
		v[n - 1 - i] = t;
	}
	return v;
}

int keel_ctr_pids(struct keel_engine *e, const struct keel_ctr *c, pid_t **pids, size_t *n,
		  keel_error_t *err)
{
	struct keel_ctr_status st;
	if (keel_ctr_status(e, c, &st, err) < 0)
		return -1;
	if (st.state != KEEL_CTR_RUNNING && st.state != KEEL_CTR_PAUSED)
		return keel_ctr_msg(err, EBUSY, "Container %s is not running", c->id);
	return keel_container_pids(e->runtime_root, c->id, pids, n, err);
}

/* The committed image's config: the image's, with what the container changed (Cmd,
 * Entrypoint, Env, WorkingDir, User, Labels, ...) and the -c changes on top. */
static json_t *commit_config(struct keel_engine *e, const struct keel_ctr *c, char *const *changes,
			     keel_error_t *err)
{
	static const char *const keys[] = { "Cmd",  "Entrypoint", "Env",       "WorkingDir",
					    "User", "Labels",	  "StopSignal" };
	struct keel_image *img = keel_image_get(e->store, c->image_id, err);
	json_t *cc = json_object_get(c->doc, "Config"), *cfg;
	if (!img)
		return NULL;
	cfg = json_deep_copy(json_object_get(img->config, "config"));
	keel_image_free(img);
	if (!cfg)
		cfg = json_object();
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(cc, keys[i]);
		if (v && !json_is_null(v))
			json_object_set(cfg, keys[i], v);
	}
	/* the Env the container ran with includes HOSTNAME; docker's commit keeps it too */
	for (size_t i = 0; changes && changes[i]; i++)
		if (keel_image_apply_change(cfg, changes[i], err) < 0) {
			json_decref(cfg);
			return NULL;
		}
	return cfg;
}

char *keel_ctr_commit(struct keel_engine *e, const struct keel_ctr *c, const char *tag,
		      char *const *changes, const char *comment, const char *author,
		      keel_error_t *err)
{
	cleanup_free char *dir = keel_ctr_dir(e, c->id);
	cleanup_json json_t *cfg = NULL;
	char upper[PATH_MAX];
	if (!dir)
		return keel_err(err, ENOMEM, "out of memory"), NULL;
	if (!(cfg = commit_config(e, c, changes, err)))
		return NULL;
	snprintf(upper, sizeof(upper), "%s/upper", dir);
	return keel_image_commit(e->store, upper, c->image_id, cfg, comment, author, tag, err);
}

int keel_ctr_size(struct keel_engine *e, const struct keel_ctr *c, int64_t *rw, int64_t *rootfs,
		  keel_error_t *err)
{
	cleanup_free char *dir = keel_ctr_dir(e, c->id);
	struct keel_image *img;
	keel_error_t ignored;
	char upper[PATH_MAX];
	if (!dir)
		return keel_err(err, ENOMEM, "out of memory");
	snprintf(upper, sizeof(upper), "%s/upper", dir);
	if ((*rw = keel_diff_size(upper, err)) < 0)
		return -1;
	/* an image removed under the container (rmi -f) leaves just the upper dir */
	img = keel_image_get(e->store, c->image_id, &ignored);
	*rootfs = *rw + (img ? img->size : 0);
	keel_image_free(img);
	return 0;
}
