/* `exec`: a new process in a running container, built from the container's own process
 * (env, capabilities, rlimits, ...) with docker's exec flags applied. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/ctr_internal.h"
#include "engine/ocispec.h"
#include "runtime/container.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* Replaces or appends K=V in a process env array. */
static void env_set(json_t *env, const char *kv)
{
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : strlen(kv), i;
	json_t *v;
	json_array_foreach (env, i, v) {
		const char *s = json_string_value(v) ?: "";
		if (!strncmp(s, kv, klen) && (s[klen] == '=' || s[klen] == '\0')) {
			json_array_set_new(env, i, json_string(kv));
			return;
		}
	}
	json_array_append_new(env, json_string(kv));
}

static int set_user(json_t *proc, pid_t init, const char *user, keel_error_t *err)
{
	char root[64];
	struct keel_user u = { 0 };
	cleanup_close int fd = -1;
	json_t *gids;
	snprintf(root, sizeof(root), "/proc/%d/root", init);
	fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (keel_user_resolve(fd, user, NULL, &u, err) < 0)
		return -1;
	gids = json_array();
	for (size_t i = 0; i < u.n_gids; i++)
		json_array_append_new(gids, json_integer(u.gids[i]));
	json_object_set_new(proc, "user",
			    json_pack("{s:i, s:i, s:o}", "uid", (int)u.uid, "gid", (int)u.gid,
				      "additionalGids", gids));
	keel_user_clear(&u);
	return 0;
}

static struct keel_spec_process *build_process(struct keel_engine *e, const struct keel_ctr *c,
					       const struct keel_ctr_exec *x, pid_t init,
					       keel_error_t *err)
{
	cleanup_free char *dir = keel_ctr_dir(e, c->id), *text = NULL, *out = NULL;
	cleanup_json json_t *spec = NULL;
	char path[PATH_MAX];
	json_t *proc, *args;
	json_error_t jerr;
	if (!dir)
		return keel_err(err, ENOMEM, "out of memory"), NULL;
	snprintf(path, sizeof(path), "%s/config.json", dir);
	if (keel_read_file(path, &text, err) < 0)
		return NULL;
	if (!(spec = json_loads(text, 0, &jerr)) ||
	    !json_is_object(proc = json_object_get(spec, "process")))
		return keel_ctr_msg(err, EINVAL, "%s: %s", path, jerr.text), NULL;
	args = json_array();
	for (size_t i = 0; x->args[i]; i++)
		json_array_append_new(args, json_string(x->args[i]));
	json_object_set_new(proc, "args", args);
	json_object_set_new(proc, "terminal", json_boolean(x->tty));
	json_object_del(proc, "consoleSize");
	if (x->tty) {
		env_set(json_object_get(proc, "env"), "TERM=xterm");
		if (keel_ocispec_set_console_size(proc) < 0)
			return keel_err(err, ENOMEM, "out of memory"), NULL;
	}
	for (size_t i = 0; x->env && x->env[i]; i++)
		env_set(json_object_get(proc, "env"), x->env[i]);
	if (x->workdir && *x->workdir)
		json_object_set_new(proc, "cwd", json_string(x->workdir));
	if (x->user && *x->user && set_user(proc, init, x->user, err) < 0)
		return NULL;
	/* exec --privileged: every capability, whatever the container was given (docker) */
	if (x->privileged) {
		json_t *uid = json_object_get(json_object_get(proc, "user"), "uid");
		json_t *caps = keel_ocispec_privileged_caps((uid_t)json_integer_value(uid));
		if (!caps || json_object_set_new(proc, "capabilities", caps) < 0)
			return keel_err(err, ENOMEM, "out of memory"), NULL;
	}
	if (!(out = json_dumps(proc, JSON_COMPACT)))
		return keel_err(err, ENOMEM, "out of memory"), NULL;
	return keel_spec_process_parse(out, strlen(out), "exec process", err);
}

int keel_ctr_exec(struct keel_engine *e, const struct keel_ctr *c, const struct keel_ctr_exec *x,
		  pid_t *pid, int *status, keel_error_t *err)
{
	struct keel_ctr_status st;
	struct keel_spec_process *p;
	struct keel_exec_opts eo;
	int r;
	if (keel_ctr_status(e, c, &st, err) < 0)
		return -1;
	if (st.state == KEEL_CTR_PAUSED)
		return keel_ctr_msg(
		    err, EBUSY, "Container %s is paused, unpause the container before exec", c->id);
	if (st.state != KEEL_CTR_RUNNING)
		return keel_ctr_msg(err, EBUSY, "Container %s is not running", c->id);
	if (!(p = build_process(e, c, x, st.pid, err)))
		return -1;
	eo = (struct keel_exec_opts){ .root = e->runtime_root,
				      .id = c->id,
				      .proc = p,
				      .console_socket = x->console_socket,
				      .detach = x->detach || x->tty };
	r = keel_container_exec(&eo, pid, err);
	keel_spec_process_free(p);
	if (r < 0)
		return err->errnum == ENOENT || err->errnum == EACCES ? -2 : -1;
	*status = 0;
	if (!eo.detach)
		*status = keel_wait_status(*pid);
	return 0;
}
