/* RUN: the command runs as a keel container made from the step's parent image (so it gets
 * exactly what `keel run` gives: namespaces, the default seccomp profile and capabilities,
 * /etc/hosts and friends), attached, its output copied to the build's output; the
 * container's upper dir is then the step's layer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/exec_internal.h"
#include "engine/runopts.h"
#include "util/cleanup.h"
#include "util/fs.h"

static char **strv_dup(char *const *v)
{
	size_t n = 0;
	char **r;
	while (v && v[n])
		n++;
	r = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; r && i < n; i++)
		if (!(r[i] = strdup(v[i]))) {
			while (i--)
				free(r[i]);
			free(r);
			return NULL;
		}
	return r;
}

/* True when path (absolute) exists in one of im's layers. */
static bool in_layers(const struct exec_image *im, const char *path)
{
	struct stat st;
	for (size_t i = 0; i < im->n; i++) {
		cleanup_free char *p = NULL;
		if (asprintf(&p, "%s%s", im->dirs[i], path) >= 0 && lstat(p, &st) == 0)
			return true;
	}
	return false;
}

/* Docker runs a RUN step with an anonymous volume on each VOLUME path of the config, so
 * whatever the command writes there is lost with the volume: drop it from the upper dir.
 * The volume's mount point stays when the image did not have it (Docker makes it in the
 * container's layer). The path is walked with O_NOFOLLOW: a symlink the command planted
 * in upper is never followed out. */
static int prune_volume(const char *upper, const struct exec_image *im, const char *vol,
			keel_error_t *err)
{
	cleanup_free char *clean = keel_df_path_join("/", vol), *base = NULL;
	cleanup_close int fd = -1;
	char *p, *save = NULL, *next;
	bool existed;
	if (!clean)
		return keel_err(err, ENOMEM, "RUN");
	if (!strcmp(clean, "/"))
		return 0;
	existed = in_layers(im, clean);
	if ((fd = open(upper, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return 0;
	p = strtok_r(clean + 1, "/", &save);
	while (p && (next = strtok_r(NULL, "/", &save))) {
		int d = openat(fd, p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (d < 0)
			return 0; /* nothing under the volume in upper */
		close(fd);
		fd = d;
		p = next;
	}
	if (asprintf(&base, "/proc/self/fd/%d/%s", fd, p) < 0)
		return keel_err(err, ENOMEM, "RUN");
	if (keel_rm_rf(base, err) < 0)
		return -1;
	if (!existed)
		return keel_mkdir_p(base, 0755, err);
	return 0;
}

/* Each VOLUME path the image lacks, made in the fresh upper dir before the container
 * starts: Docker creates the volume's mount point, so `RUN echo x > /vol/f` works there. */
static int volume_dirs(const char *upper, const struct exec_image *im, keel_error_t *err)
{
	json_t *vols = json_object_get(json_object_get(im->cfg, "config"), "Volumes");
	const char *k;
	json_t *v;
	json_object_foreach(vols, k, v) {
		cleanup_free char *clean = keel_df_path_join("/", k), *path = NULL;
		if (!clean || asprintf(&path, "%s%s", upper, clean) < 0)
			return keel_err(err, ENOMEM, "RUN");
		/* upper is new and empty: no symlink can be on this path yet */
		if (strcmp(clean, "/") && !in_layers(im, clean) && keel_mkdir_p(path, 0755, err) < 0)
			return -1;
	}
	return 0;
}

static int prune_volumes(const char *upper, const struct exec_image *im, keel_error_t *err)
{
	json_t *vols = json_object_get(json_object_get(im->cfg, "config"), "Volumes");
	const char *k;
	json_t *v;
	json_object_foreach(vols, k, v)
		if (prune_volume(upper, im, k, err) < 0)
			return -1;
	return 0;
}

int exec_run(struct keel_engine *e, const struct exec_image *im, char *const *argv,
	     char *const *env, const char *workdir, const char *user, bool net_host, FILE *out,
	     struct exec_run *r, keel_error_t *err)
{
	struct keel_run_opts o = {0};
	cleanup_free char *dir = NULL;
	int ret = -1, s;
	memset(r, 0, sizeof(*r));
	o.has_entrypoint = true; /* RUN ignores the image's ENTRYPOINT */
	o.entrypoint = strdup("");
	o.cmd = strv_dup(argv);
	o.env = strv_dup(env);
	o.workdir = workdir && *workdir ? strdup(workdir) : NULL;
	o.user = user && *user ? strdup(user) : NULL;
	o.network = net_host ? KEEL_NETWORK_HOST : KEEL_NETWORK_NONE;
	/* HOME, when the env has none, comes from the user's passwd entry: the runtime sets it
	 * as runc does (runtime/process.c) */
	if (!o.entrypoint || !o.cmd || (env && !o.env)) {
		keel_err(err, ENOMEM, "RUN");
		goto out;
	}
	if (!(r->ctr = keel_ctr_create(e, im->id, &o, err)))
		goto out;
	if (!(dir = keel_ctr_dir(e, r->ctr->id)) ||
	    asprintf(&r->upper, "%s/upper", dir) < 0) {
		r->upper = NULL;
		keel_err(err, ENOMEM, "RUN");
		goto out;
	}
	if (volume_dirs(r->upper, im, err) < 0)
		goto out;
	if (out)
		fprintf(out, " ---> Running in %.12s\n", r->ctr->id), fflush(out);
	s = keel_ctr_start(e, r->ctr, true, err);
	if (s == -2) {
		/* the command could not be started: docker's 127 / 126 */
		r->exit_code = err->errnum == ENOENT ? 127 : 126;
		if (out)
			fprintf(out, "%s\n", err->msg);
		ret = 0;
		goto out;
	}
	if (s < 0)
		goto out;
	ret = exec_attach_output(dir, out, &r->exit_code, err);
	if (ret == 0 && prune_volumes(r->upper, im, err) < 0)
		ret = -1;
out:
	keel_runopts_free(&o);
	return ret;
}

void exec_run_done(struct keel_engine *e, struct exec_run *r)
{
	keel_error_t err;
	if (r->ctr) {
		keel_ctr_remove(e, r->ctr, true, &err);
		keel_ctr_free(r->ctr);
	}
	free(r->upper);
	memset(r, 0, sizeof(*r));
}
