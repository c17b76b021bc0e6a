/* config.json from an image config and `docker run` options: the process (args, env, cwd,
 * user, capabilities, rlimits), root, hostname and annotations, and the assembly of the
 * whole document. Mounts and the "linux" object are in ocispec_linux.c. */
#include "engine/ocispec_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "runtime/spec.h"
#include "util/cleanup.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define INIT_PATH    "/sbin/docker-init"

/* Docker's default capabilities, in the order dockerd writes them. */
static const int default_caps[] = {
	CAP_CHOWN,	 CAP_DAC_OVERRIDE, CAP_FSETID,		 CAP_FOWNER, CAP_MKNOD,
	CAP_NET_RAW,	 CAP_SETGID,	   CAP_SETUID,		 CAP_SETFCAP, CAP_SETPCAP,
	CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_KILL,	 CAP_AUDIT_WRITE,
};
#define N_DEFAULT_CAPS (sizeof(default_caps) / sizeof(default_caps[0]))

int keel_json_set(json_t *obj, const char *key, json_t *value)
{
	return value ? json_object_set_new(obj, key, value) : -1;
}

int keel_json_push(json_t *arr, json_t *value)
{
	return value ? json_array_append_new(arr, value) : -1;
}

uint64_t keel_ocispec_default_caps(void)
{
	uint64_t m = 0;

	for (size_t k = 0; k < N_DEFAULT_CAPS; k++)
		m |= UINT64_C(1) << default_caps[k];
	return m;
}

json_t *keel_ocispec_cap_names(uint64_t caps)
{
	json_t *a = json_array();

	for (size_t k = 0; a && k < N_DEFAULT_CAPS; k++)
		if (caps & (UINT64_C(1) << default_caps[k]))
			json_array_append_new(a, json_string(keel_cap_name(default_caps[k])));
	for (int c = 0; a && c < 64; c++)
		if ((caps & (UINT64_C(1) << c)) && !(keel_ocispec_default_caps() & (UINT64_C(1) << c)))
			json_array_append_new(a, json_string(keel_cap_name(c)));
	return a;
}

const char *keel_ocispec_init_binary(void)
{
	/* keel's own binary cannot be the init: it is linked dynamically (jansson, libseccomp,
	 * ...) and an image need not have those libraries. A static tini is what Docker uses
	 * (Debian's docker-init is a link to tini-static). */
	static const char *const candidates[] = { "/usr/libexec/keel/keel-init",
						  "/usr/bin/tini-static", "/usr/bin/docker-init",
						  "/usr/libexec/docker/docker-init" };

	for (size_t k = 0; k < sizeof(candidates) / sizeof(candidates[0]); k++)
		if (access(candidates[k], X_OK) == 0)
			return candidates[k];
	return NULL;
}

/* ---------- capabilities ---------- */

/* The calling process's bounding set: --privileged gets all of it, never more (on a host
 * without, say, CAP_SYS_RESOURCE, asking for it makes capset fail, as dockerd's does). */
static uint64_t own_bounding(void)
{
	cleanup_fclose FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	unsigned long long m = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "CapBnd: %llx", &m) == 1)
			break;
	return m;
}

static bool in_list(char *const *list, const char *s)
{
	for (size_t k = 0; list && list[k]; k++)
		if (strcmp(list[k], s) == 0)
			return true;
	return false;
}

/* dockerd's TweakCapabilities: privileged = all; cap-add ALL = all but the drops;
 * cap-drop ALL = only the adds; otherwise defaults minus drops plus adds. */
static uint64_t effective_caps(const struct keel_run_opts *o)
{
	uint64_t all = 0, caps = 0;

	for (int c = 0; c <= keel_cap_last() && c < 64; c++)
		all |= UINT64_C(1) << c;
	if (o->privileged)
		return all & own_bounding();
	if (in_list(o->cap_add, "ALL"))
		caps = all;
	else if (!in_list(o->cap_drop, "ALL"))
		caps = keel_ocispec_default_caps();
	for (size_t k = 0; o->cap_drop && o->cap_drop[k]; k++)
		if (strcmp(o->cap_drop[k], "ALL") != 0)
			caps &= ~(UINT64_C(1) << keel_cap_from_name(o->cap_drop[k]));
	for (size_t k = 0; !in_list(o->cap_add, "ALL") && o->cap_add && o->cap_add[k]; k++)
		caps |= UINT64_C(1) << keel_cap_from_name(o->cap_add[k]);
	return caps & all;
}

/* Docker 20.10 gives a non-root user the bounding set only: its effective and permitted
 * sets are empty, as after a normal execve by a non-root user. */
static json_t *caps_json(uint64_t caps, uid_t uid)
{
	json_t *o = json_object();

	if (!o || keel_json_set(o, "bounding", keel_ocispec_cap_names(caps)) < 0)
		goto fail;
	if (uid == 0 && (keel_json_set(o, "effective", keel_ocispec_cap_names(caps)) < 0 ||
			 keel_json_set(o, "permitted", keel_ocispec_cap_names(caps)) < 0))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *keel_ocispec_privileged_caps(uid_t uid)
{
	uint64_t all = 0;
	for (int c = 0; c <= keel_cap_last() && c < 64; c++)
		all |= UINT64_C(1) << c;
	return caps_json(all & own_bounding(), uid);
}

/* ---------- args, env ---------- */

static int push_json_strings(json_t *dst, const json_t *src)
{
	size_t k;
	json_t *v;

	json_array_foreach (src, k, v)
		if (json_is_string(v) && keel_json_push(dst, json_string(json_string_value(v))) < 0)
			return -1;
	return 0;
}

/* Docker's rules: ENTRYPOINT + CMD; --entrypoint replaces ENTRYPOINT and drops the image's
 * CMD ("" clears it); arguments after the image replace CMD; --init goes in front. */
static json_t *process_args(const json_t *cfg, const struct keel_run_opts *o, keel_error_t *err)
{
	cleanup_json json_t *args = json_array();

	if (!args)
		goto oom;
	if (o->init && (keel_json_push(args, json_string(INIT_PATH)) < 0 ||
			keel_json_push(args, json_string("--")) < 0))
		goto oom;
	if (o->has_entrypoint) {
		if (o->entrypoint[0] && keel_json_push(args, json_string(o->entrypoint)) < 0)
			goto oom;
	} else if (push_json_strings(args, json_object_get(cfg, "Entrypoint")) < 0) {
		goto oom;
	}
	for (size_t k = 0; o->cmd && o->cmd[k]; k++)
		if (keel_json_push(args, json_string(o->cmd[k])) < 0)
			goto oom;
	if (!o->cmd && !o->has_entrypoint &&
	    push_json_strings(args, json_object_get(cfg, "Cmd")) < 0)
		goto oom;
	if (json_array_size(args) == (o->init ? 2 : 0)) {
		keel_msg(err, EINVAL, "No command specified");
		return NULL;
	}
	return steal_pointer(&args);
oom:
	keel_msg(err, ENOMEM, "out of memory");
	return NULL;
}

/* Docker's ReplaceOrAppendEnvValues for one entry: "K=V" replaces K or is appended; a bare
 * "K" removes K. */
static int env_apply(char ***env, const char *kv)
{
	size_t klen = strcspn(kv, "=");
	size_t n = keel_strv_len(*env);

	for (size_t k = 0; k < n; k++) {
		char *e = (*env)[k];

		if (strncmp(e, kv, klen) != 0 || (e[klen] != '=' && e[klen] != '\0'))
			continue;
		if (!kv[klen]) { /* removal */
			free(e);
			memmove(&(*env)[k], &(*env)[k + 1], (n - k) * sizeof(char *));
			return 0;
		}
		if (!((*env)[k] = strdup(kv))) {
			(*env)[k] = e;
			return -1;
		}
		free(e);
		return 0;
	}
	return kv[klen] ? keel_strv_push(env, kv) : 0;
}

/* The container's Config.Env: the image's, then -e/--env-file over it. */
static int config_env(const json_t *cfg, const struct keel_run_opts *o, char ***conf)
{
	json_t *v;
	size_t k;

	json_array_foreach (json_object_get(cfg, "Env"), k, v)
		if (json_is_string(v) && env_apply(conf, json_string_value(v)) < 0)
			return -1;
	for (k = 0; o->env && o->env[k]; k++)
		if (env_apply(conf, o->env[k]) < 0)
			return -1;
	return 0;
}

json_t *keel_ocispec_config_env(const json_t *image_config, const struct keel_run_opts *o)
{
	cleanup_strv char **conf = NULL;
	json_t *out;

	if (config_env(image_config, o, &conf) < 0 || !(out = json_array()))
		return NULL;
	for (size_t k = 0; conf && conf[k]; k++)
		json_array_append_new(out, json_string(conf[k]));
	return out;
}

static json_t *process_env(const json_t *cfg, const struct keel_run_opts *o, const char *hostname)
{
	cleanup_strv char **conf = NULL, **env = NULL;
	cleanup_free char *hn = NULL;
	json_t *out;
	size_t k;

	if (config_env(cfg, o, &conf) < 0)
		return NULL;
	/* dockerd's defaults, which Config.Env then overrides. */
	if (asprintf(&hn, "HOSTNAME=%s", hostname) < 0) {
		hn = NULL;
		return NULL;
	}
	if (keel_strv_push(&env, DEFAULT_PATH) < 0 || keel_strv_push(&env, hn) < 0 ||
	    (o->tty && keel_strv_push(&env, "TERM=xterm") < 0))
		return NULL;
	for (k = 0; conf && conf[k]; k++)
		if (env_apply(&env, conf[k]) < 0)
			return NULL;
	if (!(out = json_array()))
		return NULL;
	for (k = 0; env && env[k]; k++)
		json_array_append_new(out, json_string(env[k]));
	return out;
}

/* ---------- process ---------- */

static json_t *user_json(const struct keel_user *u)
{
	json_t *gids = json_array();

	for (size_t k = 0; gids && k < u->n_gids; k++)
		json_array_append_new(gids, json_integer(u->gids[k]));
	return json_pack("{s:I, s:I, s:o}", "uid", (json_int_t)u->uid, "gid", (json_int_t)u->gid,
			 "additionalGids", gids);
}

static json_t *rlimits_json(const struct keel_run_opts *o)
{
	json_t *a = json_array();

	for (size_t k = 0; a && k < o->n_ulimits; k++) {
		char type[32];

		snprintf(type, sizeof(type), "RLIMIT_%s", o->ulimits[k].name);
		for (char *p = type; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		if (keel_json_push(a, json_pack("{s:s, s:I, s:I}", "type", type, "hard",
						(json_int_t)o->ulimits[k].hard, "soft",
						(json_int_t)o->ulimits[k].soft)) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

static const char *cwd_of(const json_t *cfg, const struct keel_run_opts *o)
{
	const char *wd = o->workdir ? o->workdir : json_string_value(json_object_get(cfg, "WorkingDir"));

	return wd && *wd ? wd : "/";
}

static json_t *process_json(const json_t *cfg, const struct keel_run_opts *o,
			    const char *hostname, int rootfs_fd, uint64_t caps, keel_error_t *err)
{
	const char *user = o->user ? o->user : json_string_value(json_object_get(cfg, "User"));
	cleanup_json json_t *p = NULL, *args = process_args(cfg, o, err);
	struct keel_user u;
	char cwd[PATH_MAX];
	int r;

	if (!args)
		return NULL;
	if (keel_user_resolve(rootfs_fd, user, o->group_add, &u, err) < 0)
		return NULL;
	/* A relative image WorkingDir is taken from "/", as dockerd does. */
	snprintf(cwd, sizeof(cwd), "%s%s", cwd_of(cfg, o)[0] == '/' ? "" : "/", cwd_of(cfg, o));
	p = json_pack("{s:b, s:o, s:O, s:o, s:s, s:o, s:i}", "terminal", o->tty, "user",
		      user_json(&u), "args", args, "env", process_env(cfg, o, hostname), "cwd", cwd,
		      "capabilities", caps_json(caps, u.uid), "oomScoreAdj", o->oom_score_adj);
	r = p && o->n_ulimits ? keel_json_set(p, "rlimits", rlimits_json(o)) : 0;
	if (p && r == 0 && o->tty)
		r = keel_ocispec_set_console_size(p);
	if (p && r == 0 && o->no_new_privileges)
		r = keel_json_set(p, "noNewPrivileges", json_true());
	keel_user_clear(&u);
	if (!p || r < 0) {
		keel_msg(err, ENOMEM, "out of memory");
		return NULL;
	}
	return steal_pointer(&p);
}

int keel_ocispec_set_console_size(json_t *process)
{
	struct winsize ws;
	if ((ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) < 0 && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0) ||
	    ws.ws_row == 0 || ws.ws_col == 0)
		return 0;
	return keel_json_set(process, "consoleSize",
			     json_pack("{s:i, s:i}", "height", (int)ws.ws_row, "width",
				       (int)ws.ws_col));
}

/* ---------- the document ---------- */

static json_t *annotations_json(const struct keel_run_opts *o)
{
	json_t *a = json_object();

	/* Labels become annotations so that hooks and `keel runtime state` see them. */
	for (size_t k = 0; a && o->labels && o->labels[k]; k++) {
		const char *eq = strchr(o->labels[k], '=');
		char key[256];

		snprintf(key, sizeof(key), "%.*s", (int)(eq - o->labels[k]), o->labels[k]);
		json_object_set_new(a, key, json_string(eq + 1));
	}
	return a;
}

static int hostname_of(const struct keel_run_opts *o, const char *id, char *buf, size_t len)
{
	if (o->hostname)
		snprintf(buf, len, "%s", o->hostname);
	else if (o->network == KEEL_NETWORK_HOST)
		return gethostname(buf, len);
	else
		snprintf(buf, len, "%.12s", id);
	return 0;
}

static int open_rootfs(const char *rootfs, keel_error_t *err)
{
	int fd;

	if (!rootfs)
		return -1;
	fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		keel_err_sys(err, "opening rootfs %s", rootfs);
	return fd;
}

static const json_t *config_of(const json_t *image_config)
{
	const json_t *inner = json_object_get(image_config, "config");

	return json_is_object(inner) ? inner : image_config;
}

json_t *keel_ocispec_generate(const json_t *image_config, const struct keel_run_opts *o,
			      const char *container_id, const char *rootfs, keel_error_t *err)
{
	const json_t *cfg = config_of(image_config);
	cleanup_close int rootfs_fd = open_rootfs(rootfs, err);
	cleanup_json json_t *spec = NULL, *process = NULL, *mounts = NULL, *linux_o = NULL;
	const char *init_bin = NULL;
	uint64_t caps = effective_caps(o);
	char hostname[256];

	if (rootfs && rootfs_fd < 0)
		return NULL;
	if (!container_id || strlen(container_id) < 12)
		return keel_msg(err, EINVAL, "container id \"%s\" is too short",
				container_id ? container_id : ""),
		       NULL;
	if (o->init && !(init_bin = keel_ocispec_init_binary()))
		return keel_msg(err, ENOENT,
				"--init: no init binary found (install tini: /usr/bin/tini-static)"),
		       NULL;
	if (hostname_of(o, container_id, hostname, sizeof(hostname)) < 0)
		return keel_err_sys(err, "gethostname"), NULL;
	if (!(process = process_json(cfg, o, hostname, rootfs_fd, caps, err)) ||
	    !(mounts = keel_ocispec_mounts(o, init_bin, err)) ||
	    !(linux_o = keel_ocispec_linux(o, container_id, caps, err)))
		return NULL;
	spec = json_pack("{s:s, s:O, s:{s:s, s:b}, s:s, s:O, s:O}", "ociVersion", "1.0.2-dev",
			 "process", process, "root", "path", rootfs ? rootfs : "rootfs", "readonly",
			 o->read_only, "hostname", hostname, "mounts", mounts, "linux", linux_o);
	if (!spec || (o->labels && keel_json_set(spec, "annotations", annotations_json(o)) < 0))
		return keel_msg(err, ENOMEM, "out of memory"), NULL;
	return steal_pointer(&spec);
}

int keel_ocispec_add_bind(json_t *spec, const char *source, const char *destination,
			  bool readonly, keel_error_t *err)
{
	json_t *mounts = json_object_get(spec, "mounts");
	json_t *m = json_pack("{s:s, s:s, s:s, s:[s]}", "destination", destination, "type", "bind",
			      "source", source, "options", "rbind");
	json_t *opts = json_object_get(m, "options");

	if (!json_is_array(mounts) || !m || (readonly && json_array_append_new(opts, json_string("ro"))) ||
	    json_array_append_new(opts, json_string("rprivate")) < 0 ||
	    json_array_append_new(mounts, m) < 0) {
		json_decref(m);
		return keel_msg(err, ENOMEM, "adding the bind mount of %s", destination);
	}
	return 0;
}
