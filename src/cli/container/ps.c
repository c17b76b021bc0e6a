/* keel ps / container ls: docker's columns, filters and --format. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/container/ctr_cli.h"
#include "cli/image/image_cli.h"
#include "engine/diff.h"
#include "engine/logfile.h"
#include "store/store.h"
#include "util/cleanup.h"
#include "util/template.h"

#define PS_TABLE                                                                                   \
	"table "                                                                                   \
	"{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
#define PS_TABLE_SIZE PS_TABLE "\t{{.Size}}"

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

/* The labels for {{.Label "key"}} (docker's method), a new reference ({} when none). */
static json_t *labels_map(const struct keel_ctr *c)
{
	json_t *l = json_object_get(json_object_get(c->doc, "Config"), "Labels");
	return json_is_object(l) ? json_incref(l) : json_object();
}

/* docker's Mounts column: each mount's name (a bind's source), cut to 15 characters. */
static json_t *mounts_text(const struct keel_ctr *c, bool no_trunc)
{
	json_t *binds = json_object_get(json_object_get(c->doc, "HostConfig"), "Binds"), *b;
	cleanup_free char *s = NULL;
	size_t len = 0, i;
	FILE *f = open_memstream(&s, &len);
	if (!f)
		return json_string("");
	json_array_foreach (binds, i, b) {
		const char *v = json_string_value(b) ?: "", *colon = strchr(v, ':');
		size_t n = colon ? (size_t)(colon - v) : strlen(v), chars = 0, k;
		for (k = 0; k < n && (no_trunc || chars < 14 || (chars == 14 && k + 1 >= n)); k++)
			chars += ((unsigned char)v[k] & 0xc0) != 0x80;
		fprintf(f, "%s%.*s%s", i ? "," : "", (int)k, v, k < n ? "\xe2\x80\xa6" : "");
	}
	fclose(f);
	return json_string(s ? s : "");
}

/* go-units: "2B (virtual 4.3MB)", docker's SIZE column. */
static void size_text(struct keel_engine *e, const struct keel_ctr *c, char *out, size_t len)
{
	int64_t rw = 0, rootfs = 0;
	keel_error_t err;
	char a[32], b[32];
	if (keel_ctr_size(e, c, &rw, &rootfs, &err) < 0)
		rw = rootfs = 0;
	human_size(rw, 3, a, sizeof(a));
	human_size(rootfs, 3, b, sizeof(b));
	if (rootfs > 0)
		snprintf(out, len, "%s (virtual %s)", a, b);
	else
		snprintf(out, len, "%s", a);
}

struct ps_opts {
	bool all, quiet, latest, no_trunc, size;
	const char *last, *format;
	struct dlist filters;
	long limit;
	/* --filter before= / since=: positions in the newest-first list, -1 = none */
	long before, since;
};

static json_t *row(struct keel_engine *e, const struct keel_ctr *c,
		   const struct keel_ctr_status *st, const struct ps_opts *o)
{
	cleanup_free char *cmd = keel_ctr_command(c);
	char id[80], status[128], since[80], created[80], quoted[1100], size[96] = "0B";
	json_t *q;
	snprintf(id, sizeof(id), "%.*s", o->no_trunc ? 64 : 12, c->id);
	status_text(st, status, sizeof(status));
	cli_human_duration(cli_seconds_since(c->created), since, sizeof(since));
	strcat(since, " ago");
	created_at(c->created, created, sizeof(created));
	if (o->size)
		size_text(e, c, size, sizeof(size));
	/* docker quotes the command (Go's %q) and cuts it to 20 runes with an ellipsis */
	q = json_string(cmd ? cmd : "");
	{
		cleanup_free char *j = json_dumps(q, JSON_ENCODE_ANY);
		snprintf(quoted, sizeof(quoted), "%s", j ? j : "\"\"");
		json_decref(q);
	}
	if (!o->no_trunc && strlen(quoted) > 20)
		strcpy(quoted + 19, "\xe2\x80\xa6");
	return json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:s}", "ID", id,
	    "Image", c->image_ref, "Command", quoted, "CreatedAt", created, "RunningFor", since,
	    "Ports", "", "State", keel_ctr_state_name(st->state), "Status", status, "Names",
	    c->name, "Labels", labels_text(c), "Label", labels_map(c), "Mounts",
	    mounts_text(c, o->no_trunc), "LocalVolumes", "0", "Networks",
	    json_string_value(json_object_get(json_object_get(c->doc, "HostConfig"), "NetworkMode"))
		?: "none",
	    "Size", size);
}

/* ---------- --filter ---------- */

static const char *const filter_keys[] = {
	"ancestor", "before", "exited",	 "expose",  "health", "id",	"is-task", "isolation",
	"label",    "name",   "network", "publish", "since",  "status", "volume",
};

static const char *const states[] = { "created", "restarting", "running", "removing",
				      "paused",	 "exited",     "dead" };

static bool in_list(const char *v, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v, list[i]))
			return true;
	return false;
}

/* The key of "key=value" into key (cap bytes); returns the value. */
static const char *split_filter(const char *f, char *key, size_t cap)
{
	const char *eq = strchr(f, '=');
	snprintf(key, cap, "%.*s", (int)(eq - f), f);
	return eq + 1;
}

/* Go's filters.Match: the value equals the text or, as a regular expression, matches
 * somewhere in it. */
static bool pattern_match(const char *pattern, const char *text)
{
	regex_t re;
	bool m;
	if (!strcmp(pattern, text))
		return true;
	if (regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB))
		return false;
	m = regexec(&re, text, 0, NULL, 0) == 0;
	regfree(&re);
	return m;
}

/* The position of a before=/since= container in the list; prints docker's error. */
static long find_ref(struct keel_engine *e, struct keel_ctr **v, size_t n, const char *ref)
{
	struct keel_ctr *c = cli_ctr_get(e, ref);
	long at = -1;
	for (size_t i = 0; c && i < n; i++)
		if (!strcmp(v[i]->id, c->id))
			at = (long)i;
	keel_ctr_free(c);
	return at;
}

/* Checks every filter as dockerd does before listing. Returns 0 or the exit code. */
static int check_filters(struct keel_engine *e, struct keel_ctr **v, size_t n, struct ps_opts *o)
{
	for (size_t i = 0; i < o->filters.n; i++) {
		char key[64];
		const char *val = split_filter(o->filters.v[i], key, sizeof(key)), *end;
		if (!in_list(key, filter_keys, sizeof(filter_keys) / sizeof(filter_keys[0]))) {
			fprintf(stderr, "Error response from daemon: invalid filter '%s'\n", key);
			return 1;
		}
		if (!strcmp(key, "status") &&
		    !in_list(val, states, sizeof(states) / sizeof(states[0]))) {
			fprintf(stderr, "Error response from daemon: invalid filter 'status=%s'\n",
				val);
			return 1;
		}
		/* dockerd prints is-task's values as a Go list */
		if (!strcmp(key, "is-task") && strcmp(val, "true") && strcmp(val, "false")) {
			fprintf(stderr,
				"Error response from daemon: invalid filter 'is-task=[%s]'\n", val);
			return 1;
		}
		if (!strcmp(key, "health") && strcmp(val, "starting") && strcmp(val, "healthy") &&
		    strcmp(val, "unhealthy") && strcmp(val, "none")) {
			fprintf(stderr,
				"Error response from daemon: Unrecognised filter value for health: "
				"%s\n",
				val);
			return 1;
		}
		if (!strcmp(key, "exited") && (strtol(val, (char **)&end, 10), !*val || *end)) {
			fprintf(stderr,
				"Error response from daemon: strconv.Atoi: parsing \"%s\": invalid "
				"syntax\n",
				val);
			return 1;
		}
		/* docker: a status filter looks at every container, not just running ones */
		if (!strcmp(key, "status"))
			o->all = true;
		if (!strcmp(key, "before") && (o->before = find_ref(e, v, n, val)) < 0)
			return 1;
		if (!strcmp(key, "since") && (o->since = find_ref(e, v, n, val)) < 0)
			return 1;
	}
	return 0;
}


static bool volume_match(const struct keel_ctr *c, const char *want)
{
	json_t *binds = json_object_get(json_object_get(c->doc, "HostConfig"), "Binds"), *b;
	size_t i, n = strlen(want);
	json_array_foreach (binds, i, b) {
		const char *s = json_string_value(b) ?: "", *colon = strchr(s, ':');
		const char *dst = colon ? colon + 1 : "", *end = strchrnul(dst, ':');
		if ((colon && (size_t)(colon - s) == n && !strncmp(s, want, n)) ||
		    ((size_t)(end - dst) == n && !strncmp(dst, want, n)))
			return true;
	}
	return false;
}

/* ancestor=IMAGE: the container's image is IMAGE or was made from it (commit's parent
 * chain), as dockerd's filter; an image that does not exist matches nothing. */
static bool descends(struct keel_engine *e, const struct keel_ctr *c, const char *ref)
{
	keel_error_t err;
	struct keel_image *anc = keel_image_get(e->store, ref, &err);
	char id[80];
	bool found = false;
	if (!anc)
		return false;
	snprintf(id, sizeof(id), "%s", c->image_id);
	for (int depth = 0; depth < 64 && !found && id[0]; depth++) {
		struct keel_image *img;
		found = !strcmp(id, anc->id);
		if (found || !(img = keel_image_get(e->store, id, &err)))
			break;
		snprintf(id, sizeof(id), "%s", img->parent ? img->parent : "");
		keel_image_free(img);
	}
	keel_image_free(anc);
	return found;
}

/* One filter value against a container (the key is known valid). */
static bool match_one(struct keel_engine *e, const char *key, const char *v,
		      const struct keel_ctr *c, const struct keel_ctr_status *st)
{
	json_t *hc = json_object_get(c->doc, "HostConfig");
	char slashed[300];
	if (!strcmp(key, "status"))
		return !strcmp(v, keel_ctr_state_name(st->state));
	if (!strcmp(key, "name")) {
		snprintf(slashed, sizeof(slashed), "/%s", c->name);
		return pattern_match(v, slashed) || pattern_match(v, c->name);
	}
	if (!strcmp(key, "id"))
		return pattern_match(v, c->id);
	if (!strcmp(key, "ancestor"))
		return descends(e, c, v);
	if (!strcmp(key, "exited"))
		return st->state != KEEL_CTR_RUNNING && st->state != KEEL_CTR_PAUSED &&
		       st->started_at[0] && st->exit_code == atoi(v);
	if (!strcmp(key, "label"))
		return cli_ctr_has_label(c, v);
	if (!strcmp(key, "volume"))
		return volume_match(c, v);
	if (!strcmp(key, "network"))
		return !strcmp(v, json_string_value(json_object_get(hc, "NetworkMode")) ?: "none");
	if (!strcmp(key, "isolation"))
		return pattern_match(v, json_string_value(json_object_get(hc, "Isolation")) ?: "");
	if (!strcmp(key, "health"))
		return !strcmp(v, "none"); /* no healthchecks yet */
	if (!strcmp(key, "is-task"))
		return !strcmp(v, "false");
	return false; /* publish, expose: keel publishes no ports yet */
}

/* Values of one key OR together, different keys AND; label values AND (docker's
 * MatchKVList). before/since were resolved to list positions. */
static bool filters_match(struct keel_engine *e, const struct ps_opts *o, size_t pos,
			  const struct keel_ctr *c, const struct keel_ctr_status *st)
{
	if ((o->before >= 0 && (long)pos <= o->before) || (o->since >= 0 && (long)pos >= o->since))
		return false;
	for (size_t i = 0; i < o->filters.n; i++) {
		char key[64], k2[64];
		const char *v = split_filter(o->filters.v[i], key, sizeof(key));
		bool any = false;
		if (!strcmp(key, "before") || !strcmp(key, "since"))
			continue;
		if (!strcmp(key, "label")) {
			if (!cli_ctr_has_label(c, v))
				return false;
			continue;
		}
		for (size_t j = 0; j < o->filters.n && !any; j++) {
			const char *v2 = split_filter(o->filters.v[j], k2, sizeof(k2));
			any = !strcmp(key, k2) && match_one(e, key, v2, c, st);
		}
		if (!any)
			return false;
	}
	return true;
}

/* ---------- the command ---------- */

static int print_rows(const char *format, json_t *rows)
{
	keel_error_t err;
	cleanup_json json_t *titles =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}",
		      "ID", "CONTAINER ID", "Image", "IMAGE", "Command", "COMMAND", "CreatedAt",
		      "CREATED AT", "RunningFor", "CREATED", "Ports", "PORTS", "State", "STATE",
		      "Status", "STATUS", "Names", "NAMES", "Labels", "LABELS", "Mounts", "MOUNTS",
		      "LocalVolumes", "LOCAL VOLUMES", "Networks", "NETWORKS", "Size", "SIZE");
	json_t *r;
	size_t i;
	/* .Label is for {{.Label "k"}} only: docker's JSON has no such member */
	if (!strcmp(format, "json") || strstr(format, "json ."))
		json_array_foreach (rows, i, r)
			json_object_del(r, "Label");
	if (keel_template_print_rows(format, PS_TABLE, rows, titles, stdout, &err) < 0) {
		fprintf(stderr, "template parsing error: %s\n", err.msg);
		return 1;
	}
	return 0;
}

/* Which containers, newest first, after the options and filters. */
static json_t *ps_rows(struct keel_engine *e, struct keel_ctr **v, size_t n,
		       const struct ps_opts *o)
{
	json_t *rows = json_array();
	for (size_t i = 0; i < n && (o->limit <= 0 || (long)json_array_size(rows) < o->limit);
	     i++) {
		struct keel_ctr_status st;
		keel_error_t err;
		if (keel_ctr_status(e, v[i], &st, &err) < 0)
			continue;
		/* dockerd: a stopped container shows with -a, -n N or a status filter */
		if (!o->all && o->limit <= 0 && st.state != KEEL_CTR_RUNNING &&
		    st.state != KEEL_CTR_PAUSED && st.state != KEEL_CTR_RESTARTING)
			continue;
		if (filters_match(e, o, i, v[i], &st))
			json_array_append_new(rows, row(e, v[i], &st, o));
	}
	return rows;
}

/* The flag errors docker's CLI gives before asking the daemon (exit 125). */
static int check_flags(struct ps_opts *o)
{
	char *end;
	for (size_t i = 0; i < o->filters.n; i++)
		if (!strchr(o->filters.v[i], '=')) {
			fprintf(stderr,
				"invalid argument \"%s\" for \"-f, --filter\" flag: bad format of "
				"filter (expected name=value)\nSee 'keel ps --help'.\n",
				o->filters.v[i]);
			return 125;
		}
	if (o->last) {
		o->limit = strtol(o->last, &end, 10);
		if (!*o->last || *end) {
			fprintf(
			    stderr,
			    "invalid argument \"%s\" for \"-n, --last\" flag: strconv.ParseInt: "
			    "parsing \"%s\": invalid syntax\nSee 'keel ps --help'.\n",
			    o->last, o->last);
			return 125;
		}
	}
	if (o->latest && o->limit == -1)
		o->limit = 1;
	/* docker asks for sizes when the template shows them */
	if (o->format && strstr(o->format, ".Size"))
		o->size = true;
	return 0;
}

int cli_ctr_ps(int argc, char **argv)
{
	struct ps_opts o = { .limit = -1, .before = -1, .since = -1 };
	const struct dflag flags[] = {
		{ "all", 'a', DF_BOOL, &o.all, "Show all containers (default shows just running)" },
		{ "filter", 'f', DF_FILTER, &o.filters,
		  "Filter output based on conditions provided (ancestor, before, exited, "
		  "health, id, is-task, isolation, label, name, network, since, status, "
		  "volume)" },
		{ "format", 0, DF_STRING, &o.format,
		  "Format output using a custom template: 'table', 'table TEMPLATE', 'json' "
		  "or 'TEMPLATE'" },
		{ "last", 'n', DF_INT, &o.last,
		  "Show n last created containers (includes all states) (default -1)" },
		{ "latest", 'l', DF_BOOL, &o.latest,
		  "Show the latest created container (includes all states)" },
		{ "no-trunc", 0, DF_BOOL, &o.no_trunc, "Don't truncate output" },
		{ "quiet", 'q', DF_BOOL, &o.quiet, "Only display container IDs" },
		{ "size", 's', DF_BOOL, &o.size, "Display total file sizes" },
		{ 0 },
	};
	const struct dcmd cmd = {
		"ps",
		"[OPTIONS]",
		"List containers",
		"keel container ls, keel container list, keel container ps, keel ps",
		flags,
		0,
		0
	};
	struct dargs a;
	struct keel_engine *e;
	struct keel_ctr **v = NULL;
	size_t n = 0;
	keel_error_t err;
	json_t *rows;
	int r;
	argc = cli_ctr_globals(argc, argv, -1, true, NULL);
	if ((r = dflags_parse(&cmd, argc, argv, &a)))
		return r > 0 ? 0 : 125;
	if ((r = check_flags(&o)))
		return r;
	if (!(e = cli_engine()))
		return 125;
	keel_ctr_gc(e, &err);
	if (keel_ctr_list(e, &v, &n, &err) < 0) {
		keel_engine_close(e);
		return cli_ctr_fail(&err);
	}
	if (!(r = check_filters(e, v, n, &o))) {
		rows = ps_rows(e, v, n, &o);
		if (o.quiet && !o.format)
			r = print_rows("{{.ID}}", rows);
		else
			r = print_rows(o.format ? o.format
				       : o.size ? PS_TABLE_SIZE
						: PS_TABLE,
				       rows);
		json_decref(rows);
	}
	keel_ctr_list_free(v, n);
	keel_engine_close(e);
	return r;
}

json_t *cli_ps_row(struct keel_engine *e, const struct keel_ctr *c,
		   const struct keel_ctr_status *st, bool no_trunc)
{
	struct ps_opts o = { .no_trunc = no_trunc };
	json_t *r = row(e, c, st, &o);
	json_object_del(r, "Label");
	return r;
}
