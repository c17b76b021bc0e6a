/* A container's root filesystem and its /etc files.
 *
 * The overlay (image layers + the container's upper dir) is mounted in a private mount
 * namespace that only the container's monitor and the container itself share: the kernel
 * unmounts it when the last of them exits, so no crash can leave it mounted and `stop`/`rm`
 * never have to find and unmount it. Every mount of that namespace is made a slave first:
 * the host's later mounts still show up inside (as with docker), ours never leak out through
 * a shared peer group (systemd makes / shared). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/ctr_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* Appends s to a growing buffer (NUL-terminated). */
static int buf_add(char **buf, size_t *len, const char *s)
{
	size_t n = strlen(s);
	char *nb = realloc(*buf, *len + n + 1);
	if (!nb)
		return -1;
	memcpy(nb + *len, s, n + 1);
	*buf = nb;
	*len += n;
	return 0;
}

static char *overlay_options(const char *dir, char *const *layers, keel_error_t *err)
{
	char *o = NULL, tail[PATH_MAX * 2 + 32];
	size_t len = 0, n = 0;
	while (layers && layers[n])
		n++;
	if (buf_add(&o, &len, "lowerdir=") < 0)
		goto nomem;
	if (n == 0) {
		/* an image without layers: an empty lower dir */
		char empty[PATH_MAX];
		snprintf(empty, sizeof(empty), "%s/empty", dir);
		if (mkdir(empty, 0755) < 0 && errno != EEXIST)
			return free(o), keel_err_sys(err, "mkdir %s", empty), NULL;
		if (buf_add(&o, &len, empty) < 0)
			goto nomem;
	}
	/* overlayfs wants the topmost layer first */
	for (size_t i = n; i-- > 0;)
		if (buf_add(&o, &len, layers[i]) < 0 || (i > 0 && buf_add(&o, &len, ":") < 0))
			goto nomem;
	snprintf(tail, sizeof(tail), ",upperdir=%s/upper,workdir=%s/work", dir, dir);
	if (buf_add(&o, &len, tail) < 0)
		goto nomem;
	/* mount(2) takes one page of options */
	if (len >= 4096) {
		free(o);
		keel_err(err, E2BIG, "overlay options for %zu layers exceed a page", n);
		return NULL;
	}
	return o;
nomem:
	free(o);
	keel_err(err, ENOMEM, "out of memory");
	return NULL;
}

/* The private namespace keel_ctr_ns_leave_keep left, for the next keel_ctr_ns_enter of the
 * same directory (`run`: create resolves users in it, start hands it to the monitor). Tearing
 * a mount namespace down costs a few ms (the overlay's unmount waits for an RCU grace
 * period); reusing it saves that and a second overlay mount. */
static struct {
	int fd;
	char dir[PATH_MAX];
} kept = { .fd = -1 };

void keel_ctr_ns_forget(void)
{
	if (kept.fd >= 0)
		close(kept.fd);
	kept.fd = -1;
}

static int ns_reenter(int *host_ns, keel_error_t *err)
{
	int ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return keel_err_sys(err, "opening the mount namespace");
	if (setns(kept.fd, CLONE_NEWNS) < 0) {
		close(ns);
		keel_ctr_ns_forget();
		return keel_err_sys(err, "entering the container's mount namespace");
	}
	/* we are inside: the fd is no longer needed to keep it */
	keel_ctr_ns_forget();
	*host_ns = ns;
	return 0;
}

int keel_ctr_ns_enter(const char *dir, char *const *layers, int *host_ns, keel_error_t *err)
{
	cleanup_free char *opts = NULL;
	char merged[PATH_MAX];
	int ns;
	if (kept.fd >= 0 && strcmp(kept.dir, dir) == 0)
		return ns_reenter(host_ns, err);
	keel_ctr_ns_forget();
	if (!(opts = overlay_options(dir, layers, err)))
		return -1;
	snprintf(merged, sizeof(merged), "%s/merged", dir);
	ns = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
	if (ns < 0)
		return keel_err_sys(err, "opening the mount namespace");
	if (unshare(CLONE_NEWNS) < 0) {
		close(ns);
		return keel_err_sys(err, "unshare mount namespace");
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0) {
		keel_err_sys(err, "making mounts slaves");
		goto back;
	}
	if (mount("overlay", merged, "overlay", 0, opts) < 0) {
		keel_err_sys(err, "mounting the container's rootfs (overlay on %s)", merged);
		goto back;
	}
	*host_ns = ns;
	return 0;
back:
	if (setns(ns, CLONE_NEWNS) < 0) {
		/* cannot happen for root in a single-threaded process; nothing sane to do */
	}
	close(ns);
	return -1;
}

int keel_ctr_ns_leave(int host_ns, keel_error_t *err)
{
	int r = setns(host_ns, CLONE_NEWNS);
	close(host_ns);
	return r < 0 ? keel_err_sys(err, "returning to the host mount namespace") : 0;
}

int keel_ctr_ns_leave_keep(const char *dir, int host_ns, keel_error_t *err)
{
	keel_ctr_ns_forget();
	if (strlen(dir) < sizeof(kept.dir)) {
		kept.fd = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
		if (kept.fd >= 0)
			snprintf(kept.dir, sizeof(kept.dir), "%s", dir);
	}
	return keel_ctr_ns_leave(host_ns, err);
}

/* ---------- /etc files ---------- */

static const char hosts_default[] = "127.0.0.1\tlocalhost\n"
				    "::1\tlocalhost ip6-localhost ip6-loopback\n"
				    "fe00::0\tip6-localnet\n"
				    "ff00::0\tip6-mcastprefix\n"
				    "ff02::1\tip6-allnodes\n"
				    "ff02::2\tip6-allrouters\n";

static int write_hosts(const char *dir, char *const *add_hosts, bool host_network,
		       keel_error_t *err)
{
	cleanup_free char *buf = NULL;
	char path[PATH_MAX];
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/hosts", dir);
	if (host_network) {
		ssize_t n = keel_read_file("/etc/hosts", &buf, err);
		if (n < 0)
			return -1;
		len = (size_t)n;
	} else if (buf_add(&buf, &len, hosts_default) < 0) {
		return keel_err(err, ENOMEM, "out of memory");
	}
	/* --add-host host:ip (docker also accepts host=ip) */
	for (size_t i = 0; add_hosts && add_hosts[i]; i++) {
		const char *h = add_hosts[i];
		const char *sep = strpbrk(h, ":=");
		char line[512];
		if (!sep)
			continue;
		snprintf(line, sizeof(line), "%s\t%.*s\n", sep + 1, (int)(sep - h), h);
		if (buf_add(&buf, &len, line) < 0)
			return keel_err(err, ENOMEM, "out of memory");
	}
	return keel_write_file(path, buf ? buf : "", len, 0644, err);
}

/* The host's resolv.conf without loopback nameservers (unreachable from another network
 * namespace); docker's fallback to Google's servers when none is left. */
static int write_resolv(const char *dir, bool host_network, keel_error_t *err)
{
	cleanup_free char *in = NULL, *out = NULL;
	char path[PATH_MAX];
	size_t len = 0;
	bool have_ns = false;
	keel_error_t ignored;
	snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	if (keel_read_file("/etc/resolv.conf", &in, &ignored) < 0)
		in = NULL;
	for (char *save = NULL, *l = in ? strtok_r(in, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		bool ns = !strncmp(l, "nameserver", 10);
		if (ns && !host_network) {
			const char *a = l + 10 + strspn(l + 10, " \t");
			if (!strncmp(a, "127.", 4) || !strcmp(a, "::1"))
				continue;
		}
		have_ns |= ns;
		if (buf_add(&out, &len, l) < 0 || buf_add(&out, &len, "\n") < 0)
			return keel_err(err, ENOMEM, "out of memory");
	}
	if (!have_ns && buf_add(&out, &len, "\nnameserver 8.8.8.8\nnameserver 8.8.4.4\n") < 0)
		return keel_err(err, ENOMEM, "out of memory");
	return keel_write_file(path, out, len, 0644, err);
}

/* docker's "init layer": the mount points the runtime needs, in a layer of their own below
 * every container's upper dir, so that `diff` and `commit` never see them. Its content is
 * the same for every container (empty placeholders), so keel keeps one, read-only, shared
 * by all: no dozen inodes to create and delete per container. Built under a temporary name
 * and renamed into place, so concurrent first uses agree. */
static int build_init_layer(const char *dir, keel_error_t *err)
{
	static const char *const dirs[] = { "",	     "/dev", "/dev/pts", "/dev/shm",
					    "/proc", "/sys", "/etc" };
	static const char *const files[] = { "/dev/console", "/etc/hostname", "/etc/hosts",
					     "/etc/resolv.conf" };
	char path[PATH_MAX];
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, dirs[i]);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return keel_err_sys(err, "mkdir %s", path);
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", dir, files[i]);
		if (keel_write_file(path, "", 0, 0755, err) < 0)
			return -1;
	}
	snprintf(path, sizeof(path), "%s/etc/mtab", dir);
	if (symlink("/proc/mounts", path) < 0 && errno != EEXIST)
		return keel_err_sys(err, "symlink %s", path);
	return 0;
}

int keel_ctr_init_layer(const char *root, char *out, size_t len, keel_error_t *err)
{
	char tmp[PATH_MAX];
	keel_error_t ignored;
	snprintf(out, len, "%s/container-init", root);
	if (access(out, F_OK) == 0)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp-%d", out, (int)getpid());
	keel_rm_rf(tmp, &ignored);
	if (build_init_layer(tmp, err) < 0) {
		keel_rm_rf(tmp, &ignored);
		return -1;
	}
	if (rename(tmp, out) < 0) {
		int e = errno;
		keel_rm_rf(tmp, &ignored);
		/* another keel made it first */
		if (e != EEXIST && e != ENOTEMPTY)
			return keel_err(err, e, "rename %s", out);
	}
	return 0;
}

int keel_ctr_dir_populate(const char *dir, const char *hostname, char *const *add_hosts,
			  bool host_network, keel_error_t *err)
{
	static const char *const subdirs[] = { "upper", "work", "merged" };
	char path[PATH_MAX], line[300];
	int n;
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return keel_err_sys(err, "mkdir %s", path);
	}
	snprintf(path, sizeof(path), "%s/hostname", dir);
	n = snprintf(line, sizeof(line), "%s\n", hostname);
	if (keel_write_file(path, line, (size_t)n, 0644, err) < 0)
		return -1;
	if (write_hosts(dir, add_hosts, host_network, err) < 0)
		return -1;
	return write_resolv(dir, host_network, err);
}

/* The image's layer dirs: recorded at create, else (older records) from the store. */
static char **image_layers(struct keel_engine *e, const struct keel_ctr *c, size_t *n,
			   keel_error_t *err)
{
	json_t *rec = json_object_get(json_object_get(c->doc, "Keel"), "Layers");
	struct keel_image *img = NULL;
	size_t cnt = json_is_array(rec) ? json_array_size(rec) : 0;
	char **v;
	if (!json_is_array(rec)) {
		if (!(img = keel_image_get(e->store, c->image_id, err)))
			return NULL;
		cnt = img->n_layers;
	}
	/* room for the init layer and the NULL */
	v = calloc(cnt + 2, sizeof(*v));
	for (*n = 0; v && *n < cnt; (*n)++) {
		const char *l = img ? img->layers[*n] : json_string_value(json_array_get(rec, *n));
		if (!l || !(v[*n] = strdup(l))) {
			for (size_t j = 0; j < *n; j++)
				free(v[j]);
			free(v);
			v = NULL;
		}
	}
	keel_image_free(img);
	if (!v)
		keel_err(err, ENOMEM, "out of memory");
	return v;
}

char **keel_ctr_layers(struct keel_engine *e, const struct keel_ctr *c, keel_error_t *err)
{
	char init[PATH_MAX];
	size_t n = 0;
	char **v = image_layers(e, c, &n, err);
	int r;
	if (!v)
		return NULL;
	/* the init layer goes on top of the image's */
	r = keel_ctr_init_layer(e->root, init, sizeof(init), err);
	if (r == 0 && !(v[n] = strdup(init)))
		r = keel_err(err, ENOMEM, "out of memory");
	if (r < 0) {
		for (size_t j = 0; j < n; j++)
			free(v[j]);
		free(v);
		return NULL;
	}
	return v;
}
