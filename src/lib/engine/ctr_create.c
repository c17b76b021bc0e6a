/* `create`: from an image and `docker run` options to a container record and directory. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/ctr_internal.h"
#include "engine/ocispec.h"
#include "engine/logconfig.h"
#include "engine/runopts.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/trace.h"

/* Finds the image; the embedded busybox is built the first time it is asked for. */
static struct keel_image *find_image(struct keel_engine *e, const char *ref, keel_error_t *err)
{
	struct keel_image *img = keel_image_get(e->store, ref, err);
	if (img || err->errnum != ENOENT)
		return img;
	if (!strcmp(ref, "busybox") || !strcmp(ref, "busybox:latest") ||
	    !strcmp(ref, "library/busybox") || !strcmp(ref, "docker.io/library/busybox") ||
	    !strcmp(ref, "docker.io/library/busybox:latest")) {
		if (keel_store_ensure_busybox(e->store, err) < 0)
			return NULL;
		return keel_image_get(e->store, ref, err);
	}
	keel_ctr_msg(err, ENOENT, "No such image: %s%s", ref,
		     strchr(ref, ':') || strchr(ref, '@') ? "" : ":latest");
	return NULL;
}

static json_t *strv_json(char *const *v)
{
	json_t *a = json_array();
	for (size_t i = 0; a && v && v[i]; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *labels_json(const json_t *image_cfg, char *const *labels)
{
	json_t *l = json_deep_copy(json_object_get(image_cfg, "Labels"));
	if (!json_is_object(l)) {
		json_decref(l);
		l = json_object();
	}
	for (size_t i = 0; l && labels && labels[i]; i++) {
		const char *eq = strchr(labels[i], '=');
		char key[256];
		snprintf(key, sizeof(key), "%.*s", eq ? (int)(eq - labels[i]) : 255, labels[i]);
		json_object_set_new(l, key, json_string(eq ? eq + 1 : ""));
	}
	return l;
}

/* Path and Args as docker reports them: the user's command, not --init's wrapper. */
static void set_path_args(json_t *doc, const json_t *spec, bool init)
{
	json_t *args = json_object_get(json_object_get(spec, "process"), "args");
	size_t start = 0, n = json_array_size(args);
	json_t *a = json_array();
	for (size_t i = 0; init && i < n; i++)
		if (!strcmp(json_string_value(json_array_get(args, i)) ?: "", "--")) {
			start = i + 1;
			break;
		}
	json_object_set_new(doc, "Path",
			    json_string(json_string_value(json_array_get(args, start)) ?: ""));
	for (size_t i = start + 1; i < n; i++)
		json_array_append(a, json_array_get(args, i));
	json_object_set_new(doc, "Args", a);
}

static json_t *config_json(const struct keel_run_opts *o, const json_t *icfg, const char *hostname,
			   const char *image_ref)
{
	const char *stop_sig = o->stop_signal
				   ? o->stop_signal
				   : json_string_value(json_object_get(icfg, "StopSignal"));
	json_t *c = json_pack(
		"{s:s, s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:o, s:O, s:s, s:s, s:O, s:o}",
		"Hostname", hostname, "Domainname", "", "User",
		o->user ? o->user : json_string_value(json_object_get(icfg, "User")) ?: "",
		"AttachStdin", o->interactive && !o->detach, "AttachStdout", !o->detach,
		"AttachStderr", !o->detach, "Tty", o->tty, "OpenStdin", o->interactive, "StdinOnce",
		o->interactive && !o->detach, "Env", keel_ocispec_config_env(icfg, o), "Cmd",
		o->cmd ? json_null() : json_object_get(icfg, "Cmd") ?: json_null(), "Image",
		image_ref, "WorkingDir",
		o->workdir ? o->workdir : json_string_value(json_object_get(icfg, "WorkingDir")) ?: "",
		"Entrypoint",
		o->has_entrypoint ? json_null() : json_object_get(icfg, "Entrypoint") ?: json_null(),
		"Labels", labels_json(icfg, o->labels));
	if (!c)
		return NULL;
	if (o->cmd)
		json_object_set_new(c, "Cmd", strv_json(o->cmd));
	if (o->has_entrypoint && o->entrypoint && *o->entrypoint)
		json_object_set_new(c, "Entrypoint", json_pack("[s]", o->entrypoint));
	if (stop_sig)
		json_object_set_new(c, "StopSignal", json_string(stop_sig));
	if (o->has_stop_timeout)
		json_object_set_new(c, "StopTimeout", json_integer(o->stop_timeout));
	return c;
}

static json_t *binds_json(const struct keel_run_opts *o)
{
	json_t *b = json_array();
	for (size_t i = 0; b && i < o->n_mounts; i++) {
		const struct keel_mount_opt *m = &o->mounts[i];
		char buf[PATH_MAX * 2 + 8];
		if (m->kind != KEEL_MOUNT_BIND || !m->from_volume_flag)
			continue;
		snprintf(buf, sizeof(buf), "%s:%s%s", m->source, m->target,
			 m->readonly ? ":ro" : "");
		json_array_append_new(b, json_string(buf));
	}
	return b;
}

static json_t *host_config_json(const struct keel_run_opts *o)
{
	json_t *h = json_pack(
	    "{s:o, s:s, s:{s:s, s:i}, s:b, s:b, s:b, s:o, s:o, s:b, s:I, s:I, s:I, s:I, s:I,"
	    " s:o, s:o}",
	    "Binds", binds_json(o), "NetworkMode",
	    o->network == KEEL_NETWORK_HOST ? "host" : "none", "RestartPolicy", "Name",
	    keel_restart_name(o->restart), "MaximumRetryCount", o->restart_max, "AutoRemove", o->rm,
	    "Privileged", o->privileged, "ReadonlyRootfs", o->read_only, "CapAdd",
	    o->cap_add ? strv_json(o->cap_add) : json_null(), "CapDrop",
	    o->cap_drop ? strv_json(o->cap_drop) : json_null(), "Init", o->init, "Memory",
	    (json_int_t)o->memory, "MemorySwap", (json_int_t)o->memory_swap, "NanoCpus",
	    (json_int_t)o->nano_cpus, "CpuShares", (json_int_t)o->cpu_shares, "PidsLimit",
	    (json_int_t)(o->has_pids_limit ? o->pids_limit : 0), "LogConfig",
	    keel_logconfig_json(o->log_driver, o->log_opts), "ExtraHosts",
	    o->add_hosts ? strv_json(o->add_hosts) : json_null());
	return h;
}

/* The layers start mounts (keel_ctr_layers): the image's, then the init layer. */
static char **start_layers(struct keel_engine *e, const struct keel_image *img, keel_error_t *err)
{
	char init[PATH_MAX];
	size_t n = 0;
	char **v;
	if (keel_ctr_init_layer(e->root, init, sizeof(init), err) < 0)
		return NULL;
	while (img->layers[n])
		n++;
	if (!(v = calloc(n + 2, sizeof(*v))))
		return keel_err(err, ENOMEM, "out of memory"), NULL;
	memcpy(v, img->layers, n * sizeof(*v));
	v[n] = strdup(init);
	if (!v[n]) {
		free(v);
		return keel_err(err, ENOMEM, "out of memory"), NULL;
	}
	return v;
}

/* Mounts the rootfs in a private namespace to generate the spec: users and groups are looked
 * up in the image's /etc/passwd through the real (merged) view. The mount is the one start
 * makes (same layers), and the namespace is kept for it: `run` mounts once. */
static json_t *generate_spec(struct keel_engine *e, const char *dir, const struct keel_image *img,
			     const struct keel_run_opts *o, const char *id, keel_error_t *err)
{
	char merged[PATH_MAX];
	char **layers = start_layers(e, img, err);
	json_t *spec = NULL;
	int host_ns;
	size_t n = 0;
	if (!layers)
		return NULL;
	snprintf(merged, sizeof(merged), "%s/merged", dir);
	if (keel_ctr_ns_enter(dir, layers, &host_ns, err) < 0)
		goto out;
	spec = keel_ocispec_generate(img->config, o, id, merged, err);
	if (keel_ctr_ns_leave_keep(dir, host_ns, spec ? err : &(keel_error_t){ 0 }) < 0) {
		json_decref(spec);
		spec = NULL;
	}
	if (!spec)
		keel_ctr_ns_forget();
out:
	/* the image's strings are borrowed; only the init layer's is ours */
	while (layers[n])
		n++;
	free(layers[n - 1]);
	free(layers);
	return spec;
}

static int add_etc_binds(json_t *spec, const char *dir, bool ro, keel_error_t *err)
{
	static const char *const files[] = { "resolv.conf", "hostname", "hosts" };
	char src[PATH_MAX], dst[64];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(src, sizeof(src), "%s/%s", dir, files[i]);
		snprintf(dst, sizeof(dst), "/etc/%s", files[i]);
		if (keel_ocispec_add_bind(spec, src, dst, ro, err) < 0)
			return -1;
	}
	return 0;
}

/* Everything but the database row: the directory with bundle and /etc files. */
static int make_dir(struct keel_engine *e, struct keel_ctr *c, const struct keel_image *img,
		    const struct keel_run_opts *o, const char *dir, keel_error_t *err)
{
	const char *hostname = o->hostname;
	char short_id[13], path[PATH_MAX], host[256] = "";
	cleanup_json json_t *spec = NULL;
	cleanup_free char *text = NULL;
	json_t *icfg = json_object_get(img->config, "config");
	snprintf(short_id, sizeof(short_id), "%.12s", c->id);
	if (!hostname && o->network == KEEL_NETWORK_HOST &&
	    gethostname(host, sizeof(host) - 1) == 0)
		hostname = host;
	if (!hostname)
		hostname = short_id;
	if (mkdir(dir, 0710) < 0)
		return keel_err_sys(err, "mkdir %s", dir);
	if (keel_ctr_dir_populate(dir, hostname, o->add_hosts, o->network == KEEL_NETWORK_HOST,
				  err) < 0 ||
	    !(spec = generate_spec(e, dir, img, o, c->id, err)) ||
	    add_etc_binds(spec, dir, o->read_only, err) < 0)
		return -1;
	/* the bundle is the directory: a relative root keeps the spec movable */
	json_object_set_new(json_object_get(spec, "root"), "path", json_string("merged"));
	if (!(text = json_dumps(spec, JSON_INDENT(2))))
		return keel_err(err, ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "%s/config.json", dir);
	if (keel_write_file(path, text, strlen(text), 0600, err) < 0)
		return -1;
	c->doc = json_object();
	set_path_args(c->doc, spec, o->init);
	json_object_set_new(c->doc, "Config", config_json(o, icfg, hostname, c->image_ref));
	json_object_set_new(c->doc, "HostConfig", host_config_json(o));
	/* what the lifecycle needs that docker keeps elsewhere: the stop signal as a number,
	 * and the layer dirs (content-addressed, so stable), so that start does not read and
	 * verify the image again */
	json_object_set_new(
	    c->doc, "Keel",
	    json_pack("{s:i, s:o}", "StopSignal",
		      o->stop_signal_num
			  ? o->stop_signal_num
			  : keel_signal_from_name(
				json_string_value(json_object_get(icfg, "StopSignal")) ?: ""),
		      "Layers", strv_json(img->layers)));
	if (!json_object_get(c->doc, "Config") || !json_object_get(c->doc, "HostConfig"))
		return keel_err(err, ENOMEM, "out of memory");
	return 0;
}

static struct keel_ctr *new_record(struct keel_engine *e, const struct keel_image *img,
				   const char *ref, const struct keel_run_opts *o,
				   keel_error_t *err)
{
	struct keel_ctr *c = calloc(1, sizeof(*c));
	char now[48];
	if (!c)
		return keel_err(err, ENOMEM, "out of memory"), NULL;
	keel_ctr_now(now, sizeof(now));
	c->image_id = strdup(img->id);
	c->image_ref = strdup(ref);
	c->created = strdup(now);
	if (o->name) {
		const char *n = o->name[0] == '/' ? o->name + 1 : o->name;
		if (!keel_ctr_name_valid(n)) {
			keel_ctr_msg(
			    err, EINVAL,
			    "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are "
			    "allowed",
			    o->name);
			goto fail;
		}
		c->name = strdup(n);
	} else if (!(c->name = keel_ctr_random_name(e, err))) {
		goto fail;
	}
	if (!c->image_id || !c->image_ref || !c->created || !c->name) {
		keel_err(err, ENOMEM, "out of memory");
		goto fail;
	}
	if (keel_ctr_new_id(c->id, err) < 0)
		goto fail;
	return c;
fail:
	keel_ctr_free(c);
	return NULL;
}

struct keel_ctr *keel_ctr_create(struct keel_engine *e, const char *image_ref,
				 const struct keel_run_opts *o, keel_error_t *err)
{
	keel_trace("engine: create");
	struct keel_image *img = find_image(e, image_ref, err);
	struct keel_ctr *c = NULL;
	cleanup_free char *dir = NULL;
	char parent[PATH_MAX];
	keel_error_t ignored;

	if (!img)
		return NULL;
	if (!(c = new_record(e, img, image_ref, o, err)))
		goto out;
	snprintf(parent, sizeof(parent), "%s/containers", e->root);
	if (!(dir = keel_ctr_dir(e, c->id)) || keel_mkdir_p(parent, 0710, err) < 0) {
		if (!dir)
			keel_err(err, ENOMEM, "out of memory");
		goto fail;
	}
	keel_trace("engine: image found, record made");
	if (make_dir(e, c, img, o, dir, err) < 0)
		goto fail_dir;
	keel_trace("engine: directory made");
	/* the row last: a crash before leaves only an unreferenced directory */
	if (keel_ctr_db_insert(e, c, err) < 0)
		goto fail_dir;
	if (keel_image_use(e->store, img->id, c->id, err) < 0) {
		keel_ctr_db_delete(e, c->id, &ignored);
		goto fail_dir;
	}
	goto out;
fail_dir:
	keel_ctr_ns_forget();
	keel_rm_rf(dir, &ignored);
fail:
	keel_ctr_free(c);
	c = NULL;
out:
	keel_image_free(img);
	return c;
}
