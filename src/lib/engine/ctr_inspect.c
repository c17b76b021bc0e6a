/* `inspect`: Docker's container JSON, from the record, the monitor's status and the paths. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ctr_internal.h"
#include "util/cleanup.h"

#define ZERO_TIME "0001-01-01T00:00:00Z"

char *keel_ctr_command(const struct keel_ctr *c)
{
	const char *path = json_string_value(json_object_get(c->doc, "Path")) ?: "";
	json_t *args = json_object_get(c->doc, "Args"), *a;
	size_t i, len = 0;
	char *out = NULL;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	fputs(path, f);
	/* docker's list: an argument with a space in it is put in single quotes */
	json_array_foreach (args, i, a) {
		const char *s = json_string_value(a) ?: "";
		fprintf(f, strchr(s, ' ') ? " '%s'" : " %s", s);
	}
	fclose(f);
	return out;
}

static json_t *state_json(const struct keel_ctr_status *st)
{
	return json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:i, s:i, s:s, s:s, s:s}", "Status",
			 keel_ctr_state_name(st->state), "Running",
			 st->state == KEEL_CTR_RUNNING || st->state == KEEL_CTR_PAUSED, "Paused",
			 st->state == KEEL_CTR_PAUSED, "Restarting",
			 st->state == KEEL_CTR_RESTARTING, "OOMKilled", st->oom_killed, "Dead",
			 st->state == KEEL_CTR_DEAD, "Pid", (int)st->pid, "ExitCode", st->exit_code,
			 "Error", st->error, "StartedAt",
			 st->started_at[0] ? st->started_at : ZERO_TIME, "FinishedAt",
			 st->finished_at[0] ? st->finished_at : ZERO_TIME);
}

/* -v SRC:DST[:ro] as inspect's Mounts entries. */
static json_t *mounts_json(const struct keel_ctr *c)
{
	json_t *binds = json_object_get(json_object_get(c->doc, "HostConfig"), "Binds"), *b;
	json_t *out = json_array();
	size_t i;
	json_array_foreach (binds, i, b) {
		char buf[PATH_MAX * 2 + 8], *dst, *mode;
		snprintf(buf, sizeof(buf), "%s", json_string_value(b) ?: "");
		if (!(dst = strchr(buf, ':')))
			continue;
		*dst++ = '\0';
		mode = strchr(dst, ':');
		if (mode)
			*mode++ = '\0';
		json_array_append_new(
		    out, json_pack("{s:s, s:s, s:s, s:s, s:b, s:s}", "Type", "bind", "Source", buf,
				   "Destination", dst, "Mode", mode ? mode : "", "RW",
				   !(mode && !strcmp(mode, "ro")), "Propagation", "rprivate"));
	}
	return out;
}

static json_t *network_json(const struct keel_ctr *c)
{
	const char *mode =
	    json_string_value(json_object_get(json_object_get(c->doc, "HostConfig"), "NetworkMode"))
		?: "none";
	return json_pack("{s:s, s:s, s:b, s:{}, s:s, s:s, s:s, s:i, s:s, s:{s:{s:s, s:s, s:s, "
			 "s:i, s:s}}}",
			 "Bridge", "", "SandboxID", "", "HairpinMode", 0, "Ports", "SandboxKey", "",
			 "Gateway", "", "IPAddress", "", "IPPrefixLen", 0, "MacAddress", "",
			 "Networks", mode, "NetworkID", "", "Gateway", "", "IPAddress", "",
			 "IPPrefixLen", 0, "MacAddress", "");
}

static json_t *graph_driver_json(struct keel_engine *e, const struct keel_ctr *c, const char *dir)
{
	keel_error_t ignored;
	cleanup_strv char **layers = keel_ctr_layers(e, c, &ignored);
	char *lower = NULL, up[PATH_MAX], work[PATH_MAX], merged[PATH_MAX];
	size_t len = 0;
	json_t *g;
	for (size_t n = 0; layers && layers[n]; n++)
		len += strlen(layers[n]) + 1;
	if (layers && (lower = calloc(1, len + 1))) {
		size_t n = 0;
		while (layers[n])
			n++;
		while (n-- > 0) {
			strcat(lower, layers[n]);
			if (n)
				strcat(lower, ":");
		}
	}
	snprintf(up, sizeof(up), "%s/upper", dir);
	snprintf(work, sizeof(work), "%s/work", dir);
	snprintf(merged, sizeof(merged), "%s/merged", dir);
	g = json_pack("{s:{s:s, s:s, s:s, s:s}, s:s}", "Data", "LowerDir", lower ? lower : "",
		      "MergedDir", merged, "UpperDir", up, "WorkDir", work, "Name", "overlay2");
	free(lower);
	return g;
}

json_t *keel_ctr_inspect(struct keel_engine *e, const struct keel_ctr *c, keel_error_t *err)
{
	cleanup_free char *dir = keel_ctr_dir(e, c->id);
	cleanup_free char *log = keel_ctr_log_path(e, c);
	char name[300], resolv[PATH_MAX], hostname[PATH_MAX], hosts[PATH_MAX];
	struct keel_ctr_status st;
	json_t *o;
	if (!dir || !log)
		return keel_err(err, ENOMEM, "out of memory"), NULL;
	if (keel_ctr_status(e, c, &st, err) < 0)
		return NULL;
	/* LogConfig: with --log-driver none there is no log file, and docker's LogPath is "" */
	if (!strcmp(json_string_value(json_object_get(
			json_object_get(json_object_get(c->doc, "HostConfig"), "LogConfig"),
			"Type")) ?: "",
		    "none"))
		log[0] = '\0';
	snprintf(name, sizeof(name), "/%s", c->name);
	snprintf(resolv, sizeof(resolv), "%s/resolv.conf", dir);
	snprintf(hostname, sizeof(hostname), "%s/hostname", dir);
	snprintf(hosts, sizeof(hosts), "%s/hosts", dir);
	o = json_pack("{s:s, s:s, s:O, s:O, s:o, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s,"
		      " s:s, s:s, s:s, s:n, s:O, s:o, s:o, s:O, s:o}",
		      "Id", c->id, "Created", c->created, "Path", json_object_get(c->doc, "Path"),
		      "Args", json_object_get(c->doc, "Args"), "State", state_json(&st), "Image",
		      c->image_id, "ResolvConfPath", resolv, "HostnamePath", hostname, "HostsPath",
		      hosts, "LogPath", log, "Name", name, "RestartCount", st.restart_count,
		      "Driver", "overlay2", "Platform", "linux", "MountLabel", "", "ProcessLabel",
		      "", "AppArmorProfile", "", "ExecIDs", "HostConfig",
		      json_object_get(c->doc, "HostConfig"), "GraphDriver",
		      graph_driver_json(e, c, dir), "Mounts", mounts_json(c), "Config",
		      json_object_get(c->doc, "Config"), "NetworkSettings", network_json(c));
	if (!o)
		keel_err(err, ENOMEM, "building inspect output");
	return o;
}
