/* keel ps / container ls: docker's columns, filters and --format. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/container/ctr_cli.h"
#include "cli/image/image_cli.h"
#include "engine/logfile.h"
#include "util/cleanup.h"
#include "util/template.h"

#define PS_TABLE                                                                                   \
	"table "                                                                                   \
	"{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"

static void status_text(const struct keel_ctr_status *st, char *out, size_t len)
{
	char d[64];
	switch (st->state) {
	case KEEL_CTR_CREATED:
		snprintf(out, len, "Created");
		break;
	case KEEL_CTR_RUNNING:
	case KEEL_CTR_PAUSED:
		cli_human_duration(cli_seconds_since(st->started_at), d, sizeof(d));
		snprintf(out, len, "Up %s%s", d, st->state == KEEL_CTR_PAUSED ? " (Paused)" : "");
		break;
	case KEEL_CTR_RESTARTING:
	case KEEL_CTR_EXITED:
		cli_human_duration(cli_seconds_since(st->finished_at), d, sizeof(d));
		snprintf(out, len, "%s (%d) %s ago",
			 st->state == KEEL_CTR_EXITED ? "Exited" : "Restarting", st->exit_code, d);
		break;
	default:
		snprintf(out, len, "Dead");
	}
}

/* Go's time.Time.String() in local time: "2024-05-01 10:00:00 +0200 CEST". */
static void created_at(const char *rfc3339, char *out, size_t len)
{
	struct timespec now, t;
	keel_error_t err;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	if (keel_logfile_parse_time(rfc3339, &now, &t, &err) < 0) {
		snprintf(out, len, "%s", rfc3339);
		return;
	}
	localtime_r(&t.tv_sec, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%S %z %Z", &tm);
}

static json_t *labels_text(const struct keel_ctr *c)
{
	json_t *l = json_object_get(json_object_get(c->doc, "Config"), "Labels"), *v;
	const char *k;
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);
	bool first = true;
	json_t *out;
	if (!f)
		return json_string("");
	json_object_foreach (l, k, v) {
		fprintf(f, "%s%s=%s", first ? "" : ",", k, json_string_value(v) ?: "");
		first = false;
	}
	fclose(f);
	out = json_string(s ? s : "");
	free(s);
	return out;
}

static json_t *row(const struct keel_ctr *c, const struct keel_ctr_status *st, bool no_trunc)
{
	cleanup_free char *cmd = keel_ctr_command(c);
	char id[80], status[128], since[80], created[80], quoted[1100];
	json_t *q;
	snprintf(id, sizeof(id), "%.*s", no_trunc ? 64 : 12, c->id);
	status_text(st, status, sizeof(status));
	cli_human_duration(cli_seconds_since(c->created), since, sizeof(since));
	strcat(since, " ago");
	created_at(c->created, created, sizeof(created));
	/* docker quotes the command (Go's %q) and cuts it to 20 runes with an ellipsis */
	q = json_string(cmd ? cmd : "");
	{
		cleanup_free char *j = json_dumps(q, JSON_ENCODE_ANY);
		snprintf(quoted, sizeof(quoted), "%s", j ? j : "\"\"");
		json_decref(q);
	}
	if (!no_trunc && strlen(quoted) > 20)
		strcpy(quoted + 19, "\xe2\x80\xa6");
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s}", "ID", id, "Image",
	    c->image_ref, "Command", quoted, "CreatedAt", created, "RunningFor", since, "Ports", "",
	    "State", keel_ctr_state_name(st->state), "Status", status, "Names", c->name, "Labels",
	    labels_text(c), "Mounts", "", "Networks",
	    json_string_value(json_object_get(json_object_get(c->doc, "HostConfig"), "NetworkMode"))
		?: "none",
	    "Size", "0B");
}

/* --filter key=value: docker's keys that keel has. Returns -1 for an unknown key. */
static int filter_match(const char *f, const struct keel_ctr *c, const struct keel_ctr_status *st)
{
	const char *eq = strchr(f, '='), *v = eq ? eq + 1 : "";
	size_t k = eq ? (size_t)(eq - f) : strlen(f);
	if (k == 6 && !strncmp(f, "status", 6))
		return !strcmp(v, keel_ctr_state_name(st->state));
	if (k == 4 && !strncmp(f, "name", 4))
		return strstr(c->name, v[0] == '/' ? v + 1 : v) != NULL;
	if (k == 2 && !strncmp(f, "id", 2))
		return !strncmp(c->id, v, strlen(v));
	if (k == 8 && !strncmp(f, "ancestor", 8))
		return !strcmp(c->image_ref, v) || !strncmp(c->image_id, v, strlen(v)) ||
		       (strlen(v) >= 4 && !strncmp(c->image_id + 7, v, strlen(v)));
	if (k == 6 && !strncmp(f, "exited", 6))
		return st->state == KEEL_CTR_EXITED && st->exit_code == atoi(v);
	if (k == 5 && !strncmp(f, "label", 5)) {
		json_t *l = json_object_get(json_object_get(c->doc, "Config"), "Labels");
		const char *e2 = strchr(v, '=');
		char key[256];
		json_t *val;
		snprintf(key, sizeof(key), "%.*s", e2 ? (int)(e2 - v) : 255, v);
		val = json_object_get(l, key);
		return val && (!e2 || !strcmp(json_string_value(val) ?: "", e2 + 1));
	}
	return -1;
}

/* Filters of one key OR together, different keys AND (docker's rule). */
static int filters_match(const struct dlist *fl, const struct keel_ctr *c,
			 const struct keel_ctr_status *st)
{
	for (size_t i = 0; i < fl->n; i++) {
		const char *eq = strchr(fl->v[i], '=');
		size_t k = eq ? (size_t)(eq - fl->v[i]) : strlen(fl->v[i]);
		bool any = false;
		for (size_t j = 0; j < fl->n; j++) {
			int m;
			if (strncmp(fl->v[j], fl->v[i], k) || fl->v[j][k] != '=')
				continue;
			if ((m = filter_match(fl->v[j], c, st)) < 0)
				return -1;
			any |= m;
		}
		if (!any)
			return 0;
	}
	return 1;
}

static int print_rows(const char *format, json_t *rows)
{
	keel_error_t err;
	struct keel_template *t = keel_template_parse(format, &err);
	struct keel_table *tab = NULL;
	json_t *r, *titles;
	size_t i;
	char *line;
	if (!t) {
		fprintf(stderr, "template parsing error: %s\n", err.msg);
		return 125;
	}
	titles = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
			   "ID", "CONTAINER ID", "Image", "IMAGE", "Command", "COMMAND",
			   "CreatedAt", "CREATED AT", "RunningFor", "CREATED", "Ports", "PORTS",
			   "State", "STATE", "Status", "STATUS", "Names", "NAMES", "Labels",
			   "LABELS", "Mounts", "MOUNTS", "Networks", "NETWORKS", "Size", "SIZE");
	if (keel_template_is_table(t)) {
		tab = keel_table_new();
		if (keel_template_render(t, titles, &line, &err) == 0) {
			keel_table_add(tab, line);
			free(line);
		}
	}
	json_array_foreach (rows, i, r) {
		if (keel_template_render(t, r, &line, &err) < 0) {
			fprintf(stderr, "template: %s\n", err.msg);
			continue;
		}
		if (tab)
			keel_table_add(tab, line);
		else
			printf("%s\n", line);
		free(line);
	}
	if (tab) {
		keel_table_print(tab, stdout);
		keel_table_free(tab);
	}
	json_decref(titles);
	keel_template_free(t);
	return 0;
}

int cli_ctr_ps(int argc, char **argv)
{
	bool all = false, quiet = false, latest = false, no_trunc = false, size = false;
	bool status_filter = false;
	const char *last = NULL, *format = NULL;
	struct dlist filters = { 0 };
	const struct dflag flags[] = {
		{ "all", 'a', DF_BOOL, &all, "Show all containers (default shows just running)" },
		{ "filter", 'f', DF_LIST, &filters, "Filter output based on conditions provided" },
		{ "format", 0, DF_STRING, &format, "Pretty-print containers using a Go template" },
		{ "last", 'n', DF_STRING, &last,
		  "Show n last created containers (includes all states)" },
		{ "latest", 'l', DF_BOOL, &latest,
		  "Show the latest created container (includes all states)" },
		{ "no-trunc", 0, DF_BOOL, &no_trunc, "Don't truncate output" },
		{ "quiet", 'q', DF_BOOL, &quiet, "Only display container IDs" },
		{ "size", 's', DF_BOOL, &size, "Display total file sizes" },
		{ 0 },
	};
	const struct dcmd cmd = {
		"ps", "[OPTIONS]", "List containers", "ps, ls, list", flags, 0, 0
	};
	struct dargs a;
	struct keel_engine *e;
	struct keel_ctr **v = NULL;
	size_t n = 0;
	long limit = -1;
	keel_error_t err;
	json_t *rows;
	int r;
	argc = cli_ctr_globals(argc, argv, -1, true, NULL);
	if ((r = dflags_parse(&cmd, argc, argv, &a)))
		return r > 0 ? 0 : 125;
	if (last)
		limit = strtol(last, NULL, 10);
	if (latest)
		limit = 1;
	if (limit >= 0)
		all = true;
	/* docker: a status filter looks at every container, not just running ones */
	for (size_t i = 0; i < filters.n; i++)
		status_filter |=
		    !strncmp(filters.v[i], "status=", 7) || !strncmp(filters.v[i], "exited=", 7);
	if (!(e = cli_engine()))
		return 125;
	keel_ctr_gc(e, &err);
	if (keel_ctr_list(e, &v, &n, &err) < 0) {
		keel_engine_close(e);
		return cli_ctr_fail(&err);
	}
	rows = json_array();
	for (size_t i = 0; i < n && (limit < 0 || (long)i < limit); i++) {
		struct keel_ctr_status st;
		int m;
		if (keel_ctr_status(e, v[i], &st, &err) < 0)
			continue;
		if (!all && !status_filter && st.state != KEEL_CTR_RUNNING &&
		    st.state != KEEL_CTR_PAUSED && st.state != KEEL_CTR_RESTARTING)
			continue;
		if ((m = filters_match(&filters, v[i], &st)) < 0) {
			fprintf(stderr, "Error response from daemon: invalid filter '%s'\n",
				filters.v[0]);
			r = 1;
			break;
		}
		if (!m)
			continue;
		json_array_append_new(rows, row(v[i], &st, no_trunc));
	}
	if (r == 0)
		r = print_rows(quiet && !format ? "{{.ID}}" : format ? format : PS_TABLE, rows);
	json_decref(rows);
	keel_ctr_list_free(v, n);
	keel_engine_close(e);
	return r;
}
