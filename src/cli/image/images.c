/* keel images / image ls, image inspect, history. */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "cli/image/image_cli.h"
#include "engine/logfile.h"
#include "image/manifest.h"
#include "store/imagedb.h"
#include "util/cleanup.h"
#include "util/template.h"

#define IMAGES_TABLE "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
#define IMAGES_TABLE_DIGESTS                                                                       \
	"table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"

/* Renders rows (JSON objects) with a --format; table headers come from titles. */
static int print_rows(const char *format, const char *dflt, json_t *rows, json_t *titles)
{
	keel_error_t err;
	if (keel_template_print_rows(format, dflt, rows, titles, stdout, &err) < 0) {
		fprintf(stderr, "template parsing error: %s\n", err.msg);
		return 1;
	}
	return 0;
}

/* Go's time.Time.String() of a unix time, in local time: "2024-05-01 10:00:00 +0200 CEST",
 * docker's CreatedAt for images. */
static void go_time_string(int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	localtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%S %z %Z", &tm);
}

static json_t *image_row(const struct keel_image *img, const char *repo, const char *tag,
			 const char *digest, bool no_trunc)
{
	char id[80], since[64], size[32], created[64];
	snprintf(id, sizeof(id), "%.*s", no_trunc ? 71 : 12, no_trunc ? img->id : img->id + 7);
	human_since(img->created, since, sizeof(since));
	human_size(img->size, 3, size, sizeof(size));
	go_time_string(img->created, created, sizeof(created));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Repository",
			 repo, "Tag", tag, "ID", id, "CreatedSince", since, "CreatedAt", created,
			 "Size", size, "VirtualSize", size, "Digest", digest, "Containers", "N/A",
			 "SharedSize", "N/A", "UniqueSize", "N/A");
}

static bool is_parent(struct keel_image **v, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (v[i]->parent && !strcmp(v[i]->parent, id))
			return true;
	return false;
}

/* REPOSITORY[:TAG] argument: docker matches the familiar name, tag globbing allowed. */
static bool matches(const char *filter, const char *repo, const char *tag)
{
	char want[512];
	const char *colon;
	if (!filter)
		return true;
	snprintf(want, sizeof(want), "%s", filter);
	colon = strrchr(want, ':');
	if (colon && !strchr(colon, '/')) {
		want[colon - want] = '\0';
		if (fnmatch(colon + 1, tag, 0) != 0)
			return false;
	}
	return fnmatch(want, repo, FNM_PATHNAME) == 0 ||
	       (!strncmp(want, "docker.io/library/", 18) && !strcmp(want + 18, repo)) ||
	       (!strncmp(want, "docker.io/", 10) && !strcmp(want + 10, repo));
}

struct images_opts {
	bool all, quiet, digests, no_trunc;
	const char *format, *filter;
	struct dlist filters, labels;
	const char *before, *since;
	int64_t before_t, since_t; /* the created times of those images */
	int64_t until;		   /* until=: created before this unix time */
	bool has_until;
};

/* docker's keys for images: dangling, reference, label, before, since, until. Errors as dockerd's
 * (exit 1); returns 0 or the exit code. */
static int check_filters(struct images_opts *o, int *dangling)
{
	for (size_t i = 0; i < o->filters.n; i++) {
		const char *f = o->filters.v[i], *eq = strchr(f, '='), *v = eq ? eq + 1 : "";
		size_t k = eq ? (size_t)(eq - f) : strlen(f);
		if (!eq) {
			fprintf(stderr,
				"invalid argument \"%s\" for \"-f, --filter\" flag: bad "
				"format of filter (expected name=value)\nSee 'keel images "
				"--help'.\n",
				f);
			return 125;
		}
		if (k == 8 && !strncmp(f, "dangling", 8) && (!strcmp(v, "true") || !strcmp(v, "1")))
			*dangling = 1;
		else if (k == 8 && !strncmp(f, "dangling", 8) &&
			 (!strcmp(v, "false") || !strcmp(v, "0")))
			*dangling = 0;
		else if (k == 8 && !strncmp(f, "dangling", 8)) {
			fprintf(stderr,
				"Error response from daemon: Invalid filter 'dangling=%s'\n", v);
			return 1;
		} else if (k == 9 && !strncmp(f, "reference", 9))
			o->filter = v;
		else if (k == 5 && !strncmp(f, "label", 5))
			o->labels.v[o->labels.n++] = (char *)v;
		else if (k == 6 && !strncmp(f, "before", 6))
			o->before = v;
		else if (k == 5 && !strncmp(f, "since", 5))
			o->since = v;
		else if (k == 5 && !strncmp(f, "until", 5)) {
			struct timespec now, t;
			keel_error_t err;
			clock_gettime(CLOCK_REALTIME, &now);
			if (keel_logfile_parse_time(v, &now, &t, &err) < 0) {
				fprintf(stderr, "Error response from daemon: %s\n", err.msg);
				return 1;
			}
			o->until = t.tv_sec;
			o->has_until = true;
		} else {
			fprintf(stderr, "Error response from daemon: invalid filter '%.*s'\n",
				(int)k, f);
			return 1;
		}
	}
	return 0;
}

/* before= / since= name images: their created times. */
static int resolve_filters(struct keel_store *s, struct images_opts *o)
{
	const char *refs[2] = { o->before, o->since };
	int64_t *out[2] = { &o->before_t, &o->since_t };
	for (int i = 0; i < 2; i++) {
		keel_error_t err;
		struct keel_image *img;
		if (!refs[i])
			continue;
		if (!(img = keel_image_get(s, refs[i], &err)))
			return cli_fail(&err, true);
		*out[i] = img->created;
		keel_image_free(img);
	}
	return 0;
}

/* label=KEY or label=KEY=VALUE, every one (docker's MatchKVList). */
static bool labels_match(const struct keel_image *img, const struct dlist *labels)
{
	for (size_t i = 0; i < labels->n; i++)
		if (!cli_image_has_label(img, labels->v[i]))
			return false;
	return true;
}

static bool image_wanted(const struct keel_image *img, const struct images_opts *o)
{
	return (!o->before || img->created < o->before_t) &&
	       (!o->has_until || img->created < o->until) &&
	       (!o->since || img->created > o->since_t) && labels_match(img, &o->labels);
}

/* The repo digest of img for repository repo (familiar form), as docker's DIGEST column. */
static const char *digest_of(const struct keel_image *img, const char *repo)
{
	size_t n = strlen(repo);
	for (char **d = img->repo_digests; d && *d; d++)
		if (!strncmp(*d, repo, n) && (*d)[n] == '@')
			return *d + n + 1;
	return "<none>";
}

/* docker's rows for a repository known only by digest (pulled as name@sha256:...): the
 * repository, tag <none>, the digest. */
static void add_digest_rows(json_t *rows, const struct keel_image *img,
			    const struct images_opts *o)
{
	for (char **d = img->repo_digests; *d; d++) {
		char repo[512];
		const char *at = strchr(*d, '@');
		bool tagged = false;
		if (!at)
			continue;
		snprintf(repo, sizeof(repo), "%.*s", (int)(at - *d), *d);
		for (char **t = img->repo_tags; *t && !tagged; t++)
			tagged = !strncmp(*t, repo, strlen(repo)) && (*t)[strlen(repo)] == ':';
		if (tagged || !matches(o->filter, repo, "<none>"))
			continue;
		json_array_append_new(rows, image_row(img, repo, "<none>", at + 1, o->no_trunc));
	}
}

static void add_rows(json_t *rows, struct keel_image **v, size_t n, const struct images_opts *o,
		     int dangling)
{
	for (size_t i = 0; i < n; i++) {
		const struct keel_image *img = v[i];
		bool untagged = !img->repo_tags[0];
		if (dangling == 1 && !untagged)
			continue;
		if ((dangling == 0 && untagged) || !image_wanted(img, o))
			continue;
		if (untagged && !img->repo_digests[0]) {
			if (o->filter || (!o->all && is_parent(v, n, img->id)))
				continue;
			json_array_append_new(rows, image_row(img, "<none>", "<none>", "<none>",
							      o->no_trunc));
			continue;
		}
		for (char **t = img->repo_tags; *t; t++) {
			char repo[512];
			const char *colon = strrchr(*t, ':');
			snprintf(repo, sizeof(repo), "%.*s", (int)(colon - *t), *t);
			if (!matches(o->filter, repo, colon + 1))
				continue;
			json_array_append_new(rows, image_row(img, repo, colon + 1,
							      digest_of(img, repo), o->no_trunc));
		}
		add_digest_rows(rows, img, o);
	}
}

static int images_main(const char *name, int argc, char **argv)
{
	struct images_opts o = {0};
	const struct dflag flags[] = {
		{"all", 'a', DF_BOOL, &o.all, "Show all images (default hides intermediate images)"},
		{"digests", 0, DF_BOOL, &o.digests, "Show digests"},
		{"filter", 'f', DF_FILTER, &o.filters,
		 "Filter output based on conditions provided (before, dangling, label, "
		 "reference, since, until)"},
		{"format", 0, DF_STRING, &o.format,
		 "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or "
		 "'TEMPLATE'"},
		{"no-trunc", 0, DF_BOOL, &o.no_trunc, "Don't truncate output"},
		{"quiet", 'q', DF_BOOL, &o.quiet, "Only show image IDs"},
		{0},
	};
	const struct dcmd cmd = {name, "[OPTIONS] [REPOSITORY[:TAG]]", "List images",
				 "keel image ls, keel image list, keel images", flags, 0, 1};
	struct dargs a;
	struct keel_store *s;
	struct keel_image **v;
	size_t n;
	keel_error_t err;
	int r, dangling = -1;
	cleanup_json json_t *rows = json_array();
	cleanup_json json_t *titles = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Repository", "REPOSITORY", "Tag", "TAG",
		"ID", "IMAGE ID", "CreatedSince", "CREATED", "CreatedAt", "CREATED AT", "Size", "SIZE",
		"Digest", "DIGEST", "VirtualSize", "VIRTUAL SIZE");
	r = dflags_parse(&cmd, argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 125;
	o.filter = a.n ? a.pos[0] : NULL;
	if ((r = check_filters(&o, &dangling)))
		return r;
	if (!(s = cli_store(&a)))
		return 125;
	if (keel_store_ensure_busybox(s, &err) < 0)
		fprintf(stderr, "keel: warning: %s\n", err.msg);
	if ((r = resolve_filters(s, &o)) ||
	    keel_image_list(s, o.labels.n > 0, &v, &n, &err) < 0) {
		keel_store_close(s);
		return r ? r : cli_fail(&err, true);
	}
	add_rows(rows, v, n, &o, dangling);
	keel_image_list_free(v, n);
	keel_store_close(s);
	/* docker: -q replaces the default table, not a template of the user's */
	if (o.quiet && (!o.format || !strcmp(o.format, "table")))
		return print_rows("{{.ID}}", NULL, rows, titles);
	return print_rows(o.format, o.digests ? IMAGES_TABLE_DIGESTS : IMAGES_TABLE, rows, titles);
}

int keel_cli_images(int argc, char **argv)
{
	return images_main(cli_name(argv[0], "images"), argc, argv);
}

/* ---------------------------------------------------------------------------------------- */

static json_t *member_or(json_t *cfg, const char *k, json_t *dflt)
{
	json_t *v = json_object_get(cfg, k);
	if (v) {
		json_decref(dflt);
		return json_incref(v);
	}
	return dflt;
}

static json_t *strv_json(char **v)
{
	json_t *a = json_array();
	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

json_t *cli_image_inspect_json(const struct keel_image *img)
{
	json_t *cfg = img->config, *layers = strv_json(img->diff_ids), *o;
	char lower[65536] = "";
	size_t off = 0;
	for (size_t i = img->n_layers; i-- > 0;)
		off += (size_t)snprintf(lower + off, off < sizeof(lower) ? sizeof(lower) - off : 0,
					"%s%s", off ? ":" : "", img->layers[i]);
	o = json_pack("{s:s, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I, s:I,"
		      " s:{s:{s:s}, s:s}, s:{s:s, s:o}, s:{s:s}}",
		      "Id", img->id, "RepoTags", strv_json(img->repo_tags), "RepoDigests",
		      strv_json(img->repo_digests), "Parent", img->parent ? img->parent : "",
		      "Comment", member_or(cfg, "comment", json_string("")), "Created",
		      member_or(cfg, "created", json_string("0001-01-01T00:00:00Z")), "Container",
		      member_or(cfg, "container", json_string("")), "ContainerConfig",
		      member_or(cfg, "container_config", json_object()), "DockerVersion",
		      member_or(cfg, "docker_version", json_string("")), "Author",
		      member_or(cfg, "author", json_string("")), "Config",
		      member_or(cfg, "config", json_null()), "Architecture",
		      member_or(cfg, "architecture", json_string("")), "Os",
		      member_or(cfg, "os", json_string("")), "Size", (json_int_t)img->size,
		      "VirtualSize", (json_int_t)img->size, "GraphDriver", "Data", "LowerDir", lower,
		      "Name", "overlay", "RootFS", "Type", "layers", "Layers", layers, "Metadata",
		      "LastTagTime", "0001-01-01T00:00:00Z");
	return o;
}

int cli_inspect_template(const char *format, struct keel_template **t)
{
	keel_error_t err;
	*t = NULL;
	if (!format || !*format || !strcmp(format, "json"))
		return 0;
	if (!(*t = keel_template_parse(format, &err))) {
		fprintf(stderr, "template parsing error: %s\n", err.msg);
		return 64;
	}
	return 0;
}

void cli_inspect_print(json_t *all, const struct keel_template *t)
{
	keel_error_t err;
	json_t *o;
	size_t i;
	if (!t) {
		char *d = keel_template_json(all, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		printf("%s\n", d ? d : "[]");
		free(d);
		return;
	}
	json_array_foreach (all, i, o) {
		char *line;
		if (keel_template_render(t, o, &line, &err) == 0) {
			printf("%s\n", line);
			free(line);
		}
	}
}

static int inspect_main(int argc, char **argv)
{
	const char *format = NULL;
	const struct dflag flags[] = {
		{"format", 'f', DF_STRING, &format,
		 "Format output using a custom template: 'json' or 'TEMPLATE'"},
		{0},
	};
	const struct dcmd cmd = {"image inspect", "[OPTIONS] IMAGE [IMAGE...]",
				 "Display detailed information on one or more images", NULL, flags,
				 1, -1};
	struct dargs a;
	struct keel_store *s;
	struct keel_template *t;
	cleanup_json json_t *all = json_array();
	keel_error_t err;
	int r = dflags_parse(&cmd, argc, argv, &a), status = 0;
	if (r)
		return r > 0 ? 0 : 125;
	if ((r = cli_inspect_template(format, &t)))
		return r;
	if (!(s = cli_store(&a))) {
		keel_template_free(t);
		return 125;
	}
	keel_store_ensure_busybox(s, &err);
	for (int i = 0; i < a.n; i++) {
		struct keel_image *img = keel_image_get(s, a.pos[i], &err);
		if (!img) {
			fprintf(stderr, "Error: %s\n", err.msg);
			status = 1;
			continue;
		}
		json_array_append_new(all, cli_image_inspect_json(img));
		keel_image_free(img);
	}
	keel_store_close(s);
	cli_inspect_print(all, t);
	keel_template_free(t);
	return status;
}

/* ---------------------------------------------------------------------------------------- */

/* Docker's Ellipsis: at most n display characters, the last one "…". */
static void ellipsis(const char *s, size_t n, char *out, size_t len)
{
	size_t chars = 0, i = 0;
	for (const char *p = s; *p; p++)
		chars += ((unsigned char)*p & 0xc0) != 0x80;
	if (chars <= n) {
		snprintf(out, len, "%s", s);
		return;
	}
	for (chars = 0; s[i] && chars < n - 1; chars++)
		for (i++; ((unsigned char)s[i] & 0xc0) == 0x80; i++)
			;
	snprintf(out, len, "%.*s…", (int)i, s);
}

static json_t *history_row(const char *id, json_t *h, int64_t size, bool human, bool no_trunc)
{
	const char *created_s = json_string_value(json_object_get(h, "created"));
	const char *by = json_string_value(json_object_get(h, "created_by"));
	char since[64], sz[32], by_s[4096];
	int64_t created = keel_parse_time(created_s);
	if (human) {
		human_since(created < 0 ? 0 : created, since, sizeof(since));
		human_size(size, 3, sz, sizeof(sz));
	} else {
		snprintf(since, sizeof(since), "%s", created_s ? created_s : "");
		snprintf(sz, sizeof(sz), "%lld", (long long)size);
	}
	if (no_trunc)
		snprintf(by_s, sizeof(by_s), "%s", by ? by : "");
	else
		ellipsis(by ? by : "", 45, by_s, sizeof(by_s));
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "ID", id, "CreatedSince", since,
			 "CreatedAt", created_s ? created_s : "", "CreatedBy", by_s, "Size", sz,
			 "Comment", json_string_value(json_object_get(h, "comment")) ?: "");
}

/* Docker names the history rows, newest first, by the image and then its parents (commit,
 * build) as far as they are in the store; the rows below are "<missing>". Fills ids[0..n)
 * with "sha256:..." (owned) and returns n. */
static size_t history_ids(struct keel_store *s, const struct keel_image *img, char **ids,
			  size_t max)
{
	struct keel_image *cur = NULL;
	const char *id = img->id, *parent = img->parent;
	size_t n = 0;
	keel_error_t ignored;

	while (n < max && (ids[n] = strdup(id))) {
		n++;
		if (!parent)
			break;
		keel_image_free(cur);
		if (!(cur = keel_image_get(s, parent, &ignored)))
			break;
		id = cur->id;
		parent = cur->parent;
	}
	keel_image_free(cur);
	return n;
}

static int history_main(const char *name, int argc, char **argv)
{
	bool human = true, quiet = false, no_trunc = false;
	const char *format = NULL;
	const struct dflag flags[] = {
		{"format", 0, DF_STRING, &format,
		 "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or "
		 "'TEMPLATE'"},
		{"human", 'H', DF_BOOL, &human, "Print sizes and dates in human readable format "
						 "(default true)"},
		{"no-trunc", 0, DF_BOOL, &no_trunc, "Don't truncate output"},
		{"quiet", 'q', DF_BOOL, &quiet, "Only show image IDs"},
		{0},
	};
	const struct dcmd cmd = {name, "[OPTIONS] IMAGE", "Show the history of an image",
				 "keel image history, keel history", flags, 1, 1};
	struct dargs a;
	struct keel_store *s;
	struct keel_image *img;
	keel_error_t err;
	cleanup_json json_t *rows = json_array();
	cleanup_json json_t *titles = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:s}", "ID", "IMAGE", "CreatedSince", "CREATED",
		"CreatedAt", "CREATED AT", "CreatedBy", "CREATED BY", "Size", "SIZE", "Comment",
		"COMMENT");
	json_t *hist, *h;
	char *ids[64];
	size_t li = 0, i, n_ids;
	int r = dflags_parse(&cmd, argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 125;
	if (!(s = cli_store(&a)))
		return 125;
	keel_store_ensure_busybox(s, &err);
	img = keel_image_get(s, a.pos[0], &err);
	n_ids = img ? history_ids(s, img, ids, sizeof(ids) / sizeof(ids[0])) : 0;
	keel_store_close(s);
	if (!img)
		return cli_fail(&err, true);
	hist = json_object_get(img->config, "history");
	/* Sizes go to the entries that made a layer, in order; newest first on output. */
	json_array_foreach(hist, i, h) {
		bool empty = json_is_true(json_object_get(h, "empty_layer"));
		int64_t size = !empty && li < img->n_layers ? img->layer_sizes[li++] : 0;
		size_t from_top = json_array_size(hist) - 1 - i;
		char id[80];
		if (from_top < n_ids)
			snprintf(id, sizeof(id), "%.*s", no_trunc ? 71 : 12,
				 no_trunc ? ids[from_top] : ids[from_top] + 7);
		else
			snprintf(id, sizeof(id), "<missing>");
		json_array_insert_new(rows, 0, history_row(id, h, size, human, no_trunc));
	}
	keel_image_free(img);
	for (i = 0; i < n_ids; i++)
		free(ids[i]);
	if (quiet && (!format || !strcmp(format, "table")))
		return print_rows("{{.ID}}", NULL, rows, titles);
	return print_rows(format,
			  "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
			  rows, titles);
}

int keel_cli_history(int argc, char **argv)
{
	return history_main(cli_name(argv[0], "history"), argc, argv);
}

/* `keel image SUBCOMMAND`: management-command form of every image verb. */
int keel_cli_image(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} subs[] = {
		{"ls", keel_cli_images},   {"list", keel_cli_images}, {"inspect", inspect_main},
		{"history", keel_cli_history}, {"tag", keel_cli_tag}, {"rm", keel_cli_rmi},
		{"remove", keel_cli_rmi},  {"prune", keel_cli_image_prune}, {"load", keel_cli_load},
		{"save", keel_cli_save},   {"import", keel_cli_import},
	};
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("\nUsage:  keel image COMMAND\n\nManage images\n\nCommands:\n"
		       "  history     Show the history of an image\n"
		       "  import      Import the contents from a tarball to create a filesystem image\n"
		       "  inspect     Display detailed information on one or more images\n"
		       "  load        Load an image from a tar archive or STDIN\n"
		       "  ls          List images\n"
		       "  prune       Remove unused images\n"
		       "  rm          Remove one or more images\n"
		       "  save        Save one or more images to a tar archive (streamed to STDOUT by "
		       "default)\n"
		       "  tag         Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE\n\n"
		       "Run 'keel image COMMAND --help' for more information on a command.\n");
		return argc < 2 ? 125 : 0;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(argv[1], subs[i].name))
			return subs[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "keel: 'image %s' is not a keel command.\nSee 'keel image --help'\n",
		argv[1]);
	return 125;
}
