/* keel images / image ls, image inspect, history. */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/image/image_cli.h"
#include "image/manifest.h"
#include "store/imagedb.h"
#include "util/cleanup.h"
#include "util/template.h"

#define IMAGES_TABLE "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
#define IMAGES_TABLE_DIGESTS                                                                       \
	"table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"

/* Renders rows (JSON objects) with a format: table (header from titles) or plain lines. */
static int print_rows(const char *format, json_t *rows, json_t *titles)
{
	keel_error_t err;
	struct keel_template *t = keel_template_parse(format, &err);
	struct keel_table *tab = NULL;
	json_t *row;
	size_t i;
	char *line;
	if (!t) {
		fprintf(stderr, "Error: %s\n", err.msg);
		return 125;
	}
	if (keel_template_is_table(t)) {
		tab = keel_table_new();
		if (keel_template_render(t, titles, &line, &err) == 0) {
			keel_table_add(tab, line);
			free(line);
		}
	}
	json_array_foreach(rows, i, row) {
		if (keel_template_render(t, row, &line, &err) < 0)
			continue;
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
	keel_template_free(t);
	return 0;
}

static json_t *image_row(const struct keel_image *img, const char *repo, const char *tag,
			 const char *digest, bool no_trunc)
{
	char id[80], since[64], size[32], created[64];
	snprintf(id, sizeof(id), "%.*s", no_trunc ? 71 : 12, no_trunc ? img->id : img->id + 7);
	human_since(img->created, since, sizeof(since));
	human_size(img->size, 3, size, sizeof(size));
	keel_format_time(img->created, 0, created, sizeof(created));
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
	struct dlist filters;
};

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
		if (dangling == 0 && untagged)
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
		{"filter", 'f', DF_LIST, &o.filters, "Filter output based on conditions provided "
						      "(dangling=true|false, reference=PATTERN)"},
		{"format", 0, DF_STRING, &o.format, "Pretty-print images using a Go template"},
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
	for (size_t i = 0; i < o.filters.n; i++) {
		if (!strcmp(o.filters.v[i], "dangling=true"))
			dangling = 1;
		else if (!strcmp(o.filters.v[i], "dangling=false"))
			dangling = 0;
		else if (!strncmp(o.filters.v[i], "reference=", 10))
			o.filter = o.filters.v[i] + 10;
		else {
			fprintf(stderr, "Error response from daemon: invalid filter '%s'\n",
				o.filters.v[i]);
			return 1;
		}
	}
	if (!(s = cli_store(&a)))
		return 125;
	if (keel_store_ensure_busybox(s, &err) < 0)
		fprintf(stderr, "keel: warning: %s\n", err.msg);
	if (keel_image_list(s, false, &v, &n, &err) < 0) {
		keel_store_close(s);
		return cli_fail(&err, true);
	}
	add_rows(rows, v, n, &o, dangling);
	keel_image_list_free(v, n);
	keel_store_close(s);
	if (o.quiet)
		return print_rows("{{.ID}}", rows, titles);
	return print_rows(o.format ? o.format : o.digests ? IMAGES_TABLE_DIGESTS : IMAGES_TABLE, rows,
			  titles);
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

/* Docker's image inspect shape. */
static json_t *inspect_json(const struct keel_image *img)
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

static int inspect_main(int argc, char **argv)
{
	const char *format = NULL;
	const struct dflag flags[] = {
		{"format", 'f', DF_STRING, &format, "Format the output using the given Go template"},
		{0},
	};
	const struct dcmd cmd = {"image inspect", "[OPTIONS] IMAGE [IMAGE...]",
				 "Display detailed information on one or more images", NULL, flags,
				 1, -1};
	struct dargs a;
	struct keel_store *s;
	cleanup_json json_t *all = json_array();
	keel_error_t err;
	int r = dflags_parse(&cmd, argc, argv, &a), status = 0;
	if (r)
		return r > 0 ? 0 : 125;
	if (!(s = cli_store(&a)))
		return 125;
	keel_store_ensure_busybox(s, &err);
	for (int i = 0; i < a.n; i++) {
		struct keel_image *img = keel_image_get(s, a.pos[i], &err);
		if (!img) {
			fprintf(stderr, "Error: %s\n", err.msg);
			status = 1;
			continue;
		}
		json_array_append_new(all, inspect_json(img));
		keel_image_free(img);
	}
	keel_store_close(s);
	if (format) {
		struct keel_template *t = keel_template_parse(format, &err);
		json_t *o;
		size_t i;
		if (!t) {
			fprintf(stderr, "Error: %s\n", err.msg);
			return 125;
		}
		json_array_foreach(all, i, o) {
			char *line;
			if (keel_template_render(t, o, &line, &err) == 0) {
				printf("%s\n", line);
				free(line);
			}
		}
		keel_template_free(t);
	} else {
		char *d = json_dumps(all, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
		printf("%s\n", d ? d : "[]");
		free(d);
	}
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

static int history_main(const char *name, int argc, char **argv)
{
	bool human = true, quiet = false, no_trunc = false;
	const char *format = NULL;
	const struct dflag flags[] = {
		{"format", 0, DF_STRING, &format, "Pretty-print images using a Go template"},
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
	size_t li = 0, i;
	int r = dflags_parse(&cmd, argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 125;
	if (!(s = cli_store(&a)))
		return 125;
	keel_store_ensure_busybox(s, &err);
	img = keel_image_get(s, a.pos[0], &err);
	keel_store_close(s);
	if (!img)
		return cli_fail(&err, true);
	hist = json_object_get(img->config, "history");
	/* Sizes go to the entries that made a layer, in order; newest first on output. */
	json_array_foreach(hist, i, h) {
		bool empty = json_is_true(json_object_get(h, "empty_layer"));
		int64_t size = !empty && li < img->n_layers ? img->layer_sizes[li++] : 0;
		char id[80];
		if (i + 1 == json_array_size(hist))
			snprintf(id, sizeof(id), "%.*s", no_trunc ? 71 : 12,
				 no_trunc ? img->id : img->id + 7);
		else
			snprintf(id, sizeof(id), "<missing>");
		json_array_insert_new(rows, 0, history_row(id, h, size, human, no_trunc));
	}
	keel_image_free(img);
	if (quiet)
		return print_rows("{{.ID}}", rows, titles);
	return print_rows(format ? format
				 : "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t"
				   "{{.Comment}}",
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
