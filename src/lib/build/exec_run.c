/* RUN: the command runs as a keel container made from the step's parent image (so it gets
 * exactly what `keel run` gives: namespaces, the default seccomp profile and capabilities,
 * /etc/hosts and friends), attached, its output copied to the build's output; the
 * container's upper dir is then the step's layer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/exec_internal.h"
#include "engine/runopts.h"
#include "util/cleanup.h"

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
