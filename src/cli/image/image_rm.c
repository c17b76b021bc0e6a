/* keel tag, rmi, image prune, system df. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/container/ctr_cli.h"
#include "cli/image/image_cli.h"
#include "engine/containers.h"
#include "engine/diff.h"
#include "engine/logfile.h"
#include "store/imagedb.h"
#include "util/cleanup.h"
#include "util/template.h"

int keel_cli_tag(int argc, char **argv)
{
	const struct dflag flags[] = {{0}};
	const struct dcmd cmd = {cli_name(argv[0], "tag"), "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
				 "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
				 "keel image tag, keel tag", flags, 2, 2};
	struct dargs a;
	struct keel_store *s;
	keel_error_t err;
	cleanup_free char *id = NULL;
	int r = dflags_parse(&cmd, argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 125;
	if (!(s = cli_store(&a)))
		return 125;
	keel_store_ensure_busybox(s, &err);
	id = keel_imgdb_resolve(s, a.pos[0], &err);
	r = id ? keel_imgdb_tag(s, id, a.pos[1], &err) : -1;
	keel_store_close(s);
	if (r < 0 && err.errnum == EINVAL && id) {
		fprintf(stderr, "Error parsing reference: \"%s\" is not a valid repository/tag: %s\n",
			a.pos[1], err.msg);
		return 1;
	}
	return r < 0 ? cli_fail(&err, true) : 0;
}

static void print_events(struct keel_events *ev)
{
	for (size_t i = 0; i < ev->n; i++)
		printf("%s\n", ev->v[i]);
	fflush(stdout);
}

int keel_cli_rmi(int argc, char **argv)
{
	bool force = false, no_prune = false;
	const struct dflag flags[] = {
		{"force", 'f', DF_BOOL, &force, "Force removal of the image"},
		{"no-prune", 0, DF_BOOL, &no_prune, "Do not delete untagged parents"},
		{0},
	};
	const struct dcmd cmd = {cli_name(argv[0], "rmi"), "[OPTIONS] IMAGE [IMAGE...]",
				 "Remove one or more images", "keel image rm, keel image remove, "
							      "keel rmi", flags, 1, -1};
	struct dargs a;
	struct keel_store *s;
	keel_error_t err;
	int r = dflags_parse(&cmd, argc, argv, &a), status = 0;
	if (r)
		return r > 0 ? 0 : 125;
	if (!(s = cli_store(&a)))
		return 125;
	for (int i = 0; i < a.n; i++) {
		struct keel_events ev = {0};
		if (keel_image_remove(s, a.pos[i], force, &ev, &err) < 0) {
			fprintf(stderr, "Error%s: %s\n",
				err.errnum == ENOENT ? "" : " response from daemon", err.msg);
			status = err.errnum == ENOENT || err.errnum == EBUSY ? 1 : 125;
		}
		print_events(&ev);
		keel_events_free(&ev);
	}
	keel_store_close(s);
	return status;
}

static bool confirm(const char *what)
{
	char line[16];
	printf("WARNING! This will remove %s.\nAre you sure you want to continue? [y/N] ", what);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	return line[0] == 'y' || line[0] == 'Y';
}

/* image prune's filters, as dockerd's: until=TIME (created before), label=KEY[=VALUE],
 * label!=KEY[=VALUE]. */
struct prune_filter {
	int64_t until;
	bool has_until;
	struct dlist with, without;
};

static int prune_filters(const struct dlist *filters, struct prune_filter *f)
{
	for (size_t i = 0; i < filters->n; i++) {
		const char *s = filters->v[i], *eq = strchr(s, '=');
		size_t k = eq ? (size_t)(eq - s) : strlen(s);
		if (!eq) {
			fprintf(stderr, "invalid argument \"%s\" for \"--filter\" flag: bad format "
					"of filter (expected name=value)\n", s);
			return 125;
		}
		if (k == 5 && !strncmp(s, "until", 5)) {
			struct timespec now, t;
			keel_error_t err;
			clock_gettime(CLOCK_REALTIME, &now);
			if (keel_logfile_parse_time(eq + 1, &now, &t, &err) < 0) {
				fprintf(stderr, "Error response from daemon: %s\n", err.msg);
				return 1;
			}
			f->until = t.tv_sec;
			f->has_until = true;
		} else if (k == 5 && !strncmp(s, "label", 5)) {
			f->with.v[f->with.n++] = (char *)eq + 1;
		} else if (k == 6 && !strncmp(s, "label!", 6)) {
			f->without.v[f->without.n++] = (char *)eq + 1;
		} else {
			fprintf(stderr, "Error response from daemon: invalid filter '%.*s'\n", (int)k,
				s);
			return 1;
		}
	}
	return 0;
}

static bool prune_wanted(struct keel_store *s, const char *id, void *arg)
{
	const struct prune_filter *f = arg;
	keel_error_t err;
	struct keel_image *img = keel_image_get(s, id, &err);
	bool ok = img && (!f->has_until || img->created < f->until);
	for (size_t i = 0; ok && i < f->with.n; i++)
		ok = cli_image_has_label(img, f->with.v[i]);
	for (size_t i = 0; ok && i < f->without.n; i++)
		ok = !cli_image_has_label(img, f->without.v[i]);
	keel_image_free(img);
	return ok;
}

int keel_cli_image_prune(int argc, char **argv)
{
	struct prune_filter pf = { 0 };
	bool all = false, force = false;
	struct dlist filters = {0};
	const struct dflag flags[] = {
		{"all", 'a', DF_BOOL, &all, "Remove all unused images, not just dangling ones"},
		{"filter", 0, DF_FILTER, &filters, "Provide filter values (e.g. 'until=<timestamp>')"},
		{"force", 'f', DF_BOOL, &force, "Do not prompt for confirmation"},
		{0},
	};
	const struct dcmd cmd = {"image prune", "[OPTIONS]", "Remove unused images", NULL, flags, 0,
				 0};
	struct dargs a;
	struct keel_store *s;
	struct keel_events ev = {0};
	keel_error_t err;
	int64_t reclaimed = 0;
	char size[32];
	int r = dflags_parse(&cmd, argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 125;
	if ((r = prune_filters(&filters, &pf)))
		return r;
	if (!force && !confirm(all ? "all images without at least one container associated "
				     "to them"
				   : "all dangling images"))
		return 0;
	if (!(s = cli_store(&a)))
		return 125;
	r = keel_image_prune(s, all, filters.n ? prune_wanted : NULL, &pf, &ev, &reclaimed, &err);
	keel_store_close(s);
	if (ev.n) {
		printf("Deleted Images:\n");
		print_events(&ev);
		printf("\n");
	}
	keel_events_free(&ev);
	if (r < 0)
		return cli_fail(&err, true);
	human_size(reclaimed, 4, size, sizeof(size)); /* go-units HumanSize */
	printf("Total reclaimed space: %s\n", size);
	return 0;
}

/* docker's df rows use go-units HumanSize (4 significant digits). */
static json_t *df_row(const char *type, int64_t total, int64_t active, int64_t size,
		      int64_t reclaimable)
{
	char sz[32], rec[64];
	human_size(size, 4, sz, sizeof(sz));
	human_size(reclaimable, 4, rec, sizeof(rec));
	if (size > 0)
		snprintf(rec + strlen(rec), sizeof(rec) - strlen(rec), " (%d%%)",
			 (int)(reclaimable * 100 / size));
	return json_pack("{s:s, s:I, s:I, s:s, s:s}", "Type", type, "TotalCount", (json_int_t)total,
			 "Active", (json_int_t)active, "Size", sz, "Reclaimable", rec);
}

/* Containers: how many, how many running, the sum of their writable layers and the part of
 * it in containers that are not running (docker's "reclaimable"). With rows, -v's rows too
 * (ps's, SIZE the writable layer) and images[] gets each container's image id. */
static void containers_usage(const char *root, int64_t u[4], json_t *rows, json_t *images)
{
	keel_error_t err;
	struct keel_engine *e = keel_engine_open(root, NULL, &err);
	struct keel_ctr **v = NULL;
	size_t n = 0;
	if (!e)
		return;
	if (keel_ctr_list(e, &v, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			struct keel_ctr_status st;
			int64_t rw = 0, rootfs;
			bool active;
			if (keel_ctr_status(e, v[i], &st, &err) < 0)
				continue;
			active = st.state == KEEL_CTR_RUNNING || st.state == KEEL_CTR_PAUSED ||
				 st.state == KEEL_CTR_RESTARTING;
			if (keel_ctr_size(e, v[i], &rw, &rootfs, &err) < 0)
				rw = 0;
			u[0]++;
			u[1] += active;
			u[2] += rw;
			u[3] += active ? 0 : rw;
			if (rows) {
				json_t *r = cli_ps_row(e, v[i], &st, false);
				char sz[32];
				human_size(rw, 3, sz, sizeof(sz));
				json_object_set_new(r, "Size", json_string(sz));
				json_array_append_new(rows, r);
				json_array_append_new(images, json_string(v[i]->image_id));
			}
		}
	}
	keel_ctr_list_free(v, n);
	keel_engine_close(e);
}

/* Bytes of img's layers that another image also has (docker's SHARED SIZE). */
static int64_t shared_size(struct keel_image *img, struct keel_image **v, size_t n)
{
	int64_t shared = 0;
	for (size_t l = 0; l < img->n_layers; l++) {
		bool other = false;
		for (size_t i = 0; i < n && !other; i++)
			for (size_t k = 0; v[i] != img && k < v[i]->n_layers && !other; k++)
				other = !strcmp(v[i]->layers[k], img->layers[l]);
		if (other)
			shared += img->layer_sizes[l];
	}
	return shared;
}

static json_t *df_image_row(struct keel_image *img, const char *tag, int64_t shared,
			    json_int_t users)
{
	char repo[512], since[64], size[32], sh[32], un[32];
	const char *colon = tag ? strrchr(tag, ':') : NULL;
	snprintf(repo, sizeof(repo), "%.*s", colon ? (int)(colon - tag) : 6,
		 colon ? tag : "<none>");
	human_since(img->created, since, sizeof(since));
	human_size(img->size, 3, size, sizeof(size));
	human_size(shared, 3, sh, sizeof(sh));
	human_size(img->size - shared, 3, un, sizeof(un));
	return json_pack("{s:s, s:s, s:s%, s:s, s:s, s:s, s:s, s:I}", "Repository", repo, "Tag",
			 colon ? colon + 1 : "<none>", "ID", img->id + 7, (size_t)12,
			 "CreatedSince", since, "Size", size, "SharedSize", sh, "UniqueSize", un,
			 "Containers", users);
}

static void df_section(const char *title, const char *format, json_t *rows, json_t *titles)
{
	keel_error_t err;
	printf("%s\n\n", title);
	keel_template_print_rows(format, format, rows, titles, stdout, &err);
}

/* `system df -v`: docker's four sections. */
static int df_verbose(struct keel_store *s, const char *root)
{
	struct keel_image **v = NULL;
	size_t n = 0;
	keel_error_t err;
	int64_t cu[4] = { 0 };
	cleanup_json json_t *irows = json_array(), *crows = json_array(), *cimg = json_array();
	cleanup_json json_t *none = json_array();
	cleanup_json json_t *ititles = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "Repository", "REPOSITORY", "Tag", "TAG",
	    "ID", "IMAGE ID", "CreatedSince", "CREATED", "Size", "SIZE", "SharedSize",
	    "SHARED SIZE", "UniqueSize", "UNIQUE SIZE", "Containers", "CONTAINERS");
	cleanup_json json_t *ctitles =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ID", "CONTAINER ID", "Image",
		      "IMAGE", "Command", "COMMAND", "LocalVolumes", "LOCAL VOLUMES", "Size",
		      "SIZE", "RunningFor", "CREATED", "Status", "STATUS", "Names", "NAMES");
	cleanup_json json_t *vtitles =
	    json_pack("{s:s, s:s, s:s}", "Name", "VOLUME NAME", "Links", "LINKS", "Size", "SIZE");
	cleanup_json json_t *btitles =
	    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "ID", "CACHE ID", "CacheType",
		      "CACHE TYPE", "Size", "SIZE", "CreatedSince", "CREATED", "LastUsedSince",
		      "LAST USED", "UsageCount", "USAGE", "Shared", "SHARED");
	if (keel_image_list(s, false, &v, &n, &err) < 0)
		return cli_fail(&err, true);
	containers_usage(root, cu, crows, cimg);
	for (size_t i = 0; i < n; i++) {
		int64_t shared = shared_size(v[i], v, n);
		json_int_t users = 0;
		json_t *x;
		size_t k;
		json_array_foreach (cimg, k, x)
			users += !strcmp(json_string_value(x), v[i]->id);
		if (!v[i]->repo_tags[0])
			json_array_append_new(irows, df_image_row(v[i], NULL, shared, users));
		for (char **t = v[i]->repo_tags; *t; t++)
			json_array_append_new(irows, df_image_row(v[i], *t, shared, users));
	}
	keel_image_list_free(v, n);
	df_section("Images space usage:",
		   "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t"
		   "{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
		   irows, ititles);
	printf("\n");
	df_section("Containers space usage:",
		   "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t"
		   "{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
		   crows, ctitles);
	printf("\n");
	df_section("Local Volumes space usage:", "table {{.Name}}\t{{.Links}}\t{{.Size}}", none,
		   vtitles);
	printf("\nBuild cache usage: 0B\n\n");
	keel_template_print_rows("table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t"
				 "{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}",
				 NULL, none, btitles, stdout, &err);
	return 0;
}

static int system_df(int argc, char **argv)
{
	bool verbose = false;
	const char *format = NULL;
	const struct dflag flags[] = {
		{ "format", 0, DF_STRING, &format,
		  "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or "
		  "'TEMPLATE'" },
		{ "verbose", 'v', DF_BOOL, &verbose, "Show detailed information on space usage" },
		{ 0 },
	};
	const struct dcmd cmd = {
		"system df", "[OPTIONS]", "Show keel disk usage", NULL, flags, 0, 0
	};
	struct dargs a;
	struct keel_store *s;
	struct keel_store_usage u;
	keel_error_t err;
	int64_t cu[4] = { 0 };
	cleanup_json json_t *rows = json_array();
	cleanup_json json_t *titles =
	    json_pack("{s:s, s:s, s:s, s:s, s:s}", "Type", "TYPE", "TotalCount", "TOTAL", "Active",
		      "ACTIVE", "Size", "SIZE", "Reclaimable", "RECLAIMABLE");
	int r = dflags_parse(&cmd, argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 125;
	if (verbose && format) {
		fprintf(stderr, "the verbose and the format options conflict\n");
		return 1;
	}
	if (!(s = cli_store(&a)))
		return 125;
	if (verbose) {
		r = df_verbose(s, a.root);
		keel_store_close(s);
		return r;
	}
	r = keel_store_usage(s, &u, &err);
	keel_store_close(s);
	if (r < 0)
		return cli_fail(&err, true);
	containers_usage(a.root, cu, NULL, NULL);
	json_array_append_new(rows, df_row("Images", u.images, u.active, u.size, u.reclaimable));
	json_array_append_new(rows, df_row("Containers", cu[0], cu[1], cu[2], cu[3]));
	json_array_append_new(rows, df_row("Local Volumes", 0, 0, 0, 0));
	json_array_append_new(rows, df_row("Build Cache", 0, 0, 0, 0));
	if (keel_template_print_rows(format,
				     "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t"
				     "{{.Reclaimable}}",
				     rows, titles, stdout, &err) < 0) {
		fprintf(stderr, "template parsing error: %s\n", err.msg);
		return 1;
	}
	return 0;
}

int keel_cli_system(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "df"))
		return system_df(argc - 1, argv + 1);
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("\nUsage:  keel system COMMAND\n\nManage keel\n\nCommands:\n"
		       "  df          Show keel disk usage\n\n"
		       "Run 'keel system COMMAND --help' for more information on a command.\n");
		return argc < 2 ? 125 : 0;
	}
	fprintf(stderr, "keel: 'system %s' is not a keel command.\nSee 'keel system --help'\n",
		argv[1]);
	return 125;
}
