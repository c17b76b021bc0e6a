/* keel top, stats, diff, cp, export, commit, port. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/container/ctr_cli.h"
#include "cli/image/image_cli.h"
#include "engine/cp.h"
#include "engine/diff.h"
#include "engine/stats.h"
#include "engine/top.h"
#include "image/image.h"
#include "util/cleanup.h"
#include "util/template.h"

/* Opens the engine and one container, the common start of these commands. */
static int open_one(const struct dcmd *cmd, int argc, char **argv, struct dargs *a,
		    struct keel_engine **e, struct keel_ctr **c)
{
	int r;
	argc = cli_ctr_globals(argc, argv, -1, true, NULL);
	if ((r = dflags_parse(cmd, argc, argv, a)))
		return r > 0 ? 0 : 125;
	if (!(*e = cli_engine()))
		return 125;
	if (!(*c = cli_ctr_get(*e, a->pos[0]))) {
		keel_engine_close(*e);
		return 1;
	}
	return -1;
}

/* `top CONTAINER [ps OPTIONS]`: everything after the container goes to ps (-o, -ef, aux). */
int cli_ctr_top(int argc, char **argv)
{
	struct keel_engine *e;
	struct keel_ctr *c;
	struct keel_top t = { 0 };
	cleanup_free pid_t *pids = NULL;
	cleanup_free char *ps_args = NULL;
	size_t n = 0, len = 1;
	keel_error_t err;
	int r;
	argc = cli_ctr_globals(argc, argv, 2, true, NULL);
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("\nUsage:  keel top CONTAINER [ps OPTIONS]\n\nDisplay the running "
		       "processes of a container\n");
		return 0;
	}
	if (argc < 2) {
		fprintf(stderr,
			"\"keel top\" requires at least 1 argument.\nSee 'keel top "
			"--help'.\n\nUsage:  keel top CONTAINER [ps OPTIONS]\n\nDisplay the "
			"running processes of a container\n");
		return 125;
	}
	for (int i = 2; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if (!(ps_args = calloc(1, len)))
		return 125;
	for (int i = 2; i < argc; i++) {
		if (i > 2)
			strcat(ps_args, " ");
		strcat(ps_args, argv[i]);
	}
	if (!(e = cli_engine()))
		return 125;
	if (!(c = cli_ctr_get(e, argv[1]))) {
		keel_engine_close(e);
		return 1;
	}
	if (keel_top_check_args(ps_args, &err) < 0 || keel_ctr_pids(e, c, &pids, &n, &err) < 0 ||
	    keel_top_run(ps_args, pids, n, &t, &err) < 0) {
		r = cli_ctr_fail(&err);
	} else {
		keel_top_print(&t, stdout);
		r = 0;
	}
	keel_top_free(&t);
	keel_ctr_free(c);
	keel_engine_close(e);
	return r;
}

/* ---------- stats ---------- */

struct stat_target {
	struct keel_ctr *c;
	const char *arg;
	struct keel_stats_sample prev, cur;
	bool have_prev, ok;
	char cgroup[128];
};

static void sample(struct keel_engine *e, struct stat_target *t)
{
	struct keel_ctr_status st;
	keel_error_t err;
	struct keel_stats_source src = { .cgroup_path = t->cgroup };
	t->prev = t->cur;
	t->have_prev = t->ok;
	t->ok = keel_ctr_status(e, t->c, &st, &err) == 0 && st.pid > 0;
	src.pid = st.pid;
	if (t->ok)
		t->ok = keel_stats_read(&src, &t->cur, &err) == 0;
}

static void print_stats(struct stat_target *v, size_t n, const char *format, bool no_trunc,
			bool clear)
{
	cleanup_json json_t *rows = json_array(), *titles = keel_stats_header_json();
	keel_error_t err;
	for (size_t i = 0; i < n; i++) {
		struct keel_stats_row row = { 0 };
		char id[65];
		if (v[i].ok)
			keel_stats_compute(v[i].have_prev ? &v[i].prev : NULL, &v[i].cur, &row);
		snprintf(id, sizeof(id), "%.*s", no_trunc ? 64 : 12, v[i].c->id);
		json_array_append_new(rows, keel_stats_row_json(&row, v[i].arg, id, v[i].c->name));
	}
	if (clear)
		printf("\033[2J\033[H");
	if (keel_template_print_rows(format, KEEL_STATS_DEFAULT_FORMAT, rows, titles, stdout,
				     &err) < 0)
		fprintf(stderr, "%s\n", err.msg);
	fflush(stdout);
}

int cli_ctr_stats(int argc, char **argv)
{
	bool no_stream = false, all = false, no_trunc = false;
	const char *format = NULL;
	const struct dflag flags[] = {
		{ "all", 'a', DF_BOOL, &all, "Show all containers (default shows just running)" },
		{ "format", 0, DF_STRING, &format,
		  "Format output using a custom template: 'table', 'table TEMPLATE', 'json' or "
		  "'TEMPLATE'" },
		{ "no-stream", 0, DF_BOOL, &no_stream,
		  "Disable streaming stats and only pull the first result" },
		{ "no-trunc", 0, DF_BOOL, &no_trunc, "Do not truncate output" },
		{ 0 },
	};
	const struct dcmd cmd = { "stats",
				  "[OPTIONS] [CONTAINER...]",
				  "Display a live stream of container(s) resource usage statistics",
				  NULL,
				  flags,
				  0,
				  -1 };
	struct keel_template *tpl;
	struct stat_target *v = NULL;
	struct keel_ctr **all_c = NULL;
	size_t n = 0, n_all = 0;
	struct dargs a;
	struct keel_engine *e;
	keel_error_t err;
	int r;
	argc = cli_ctr_globals(argc, argv, -1, true, NULL);
	if ((r = dflags_parse(&cmd, argc, argv, &a)))
		return r > 0 ? 0 : 125;
	/* a template that does not parse fails before anything is sampled */
	if (!(tpl = keel_template_parse(format && strcmp(format, "json") && strcmp(format, "table")
					    ? format
					    : KEEL_STATS_DEFAULT_FORMAT,
					&err))) {
		fprintf(stderr, "template parsing error: %s\n", err.msg);
		return 1;
	}
	if (!(e = cli_engine()))
		return 125;
	if (a.n == 0 && keel_ctr_list(e, &all_c, &n_all, &err) < 0)
		r = cli_ctr_fail(&err);
	v = calloc((size_t)a.n + n_all + 1, sizeof(*v));
	for (int i = 0; v && i < a.n; i++) {
		if (!(v[n].c = cli_ctr_get(e, a.pos[i]))) {
			r = 1;
			continue;
		}
		v[n++].arg = a.pos[i];
	}
	for (size_t i = 0; v && i < n_all; i++) {
		struct keel_ctr_status st;
		if (keel_ctr_status(e, all_c[i], &st, &err) < 0 ||
		    (!all && st.state != KEEL_CTR_RUNNING && st.state != KEEL_CTR_PAUSED))
			continue;
		v[n].arg = all_c[i]->name;
		v[n++].c = steal_pointer(&all_c[i]);
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(v[i].cgroup, sizeof(v[i].cgroup), "/keel/%s", v[i].c->id);
		sample(e, &v[i]);
	}
	/* CPU % needs two samples, as docker's first row does */
	for (bool first = true;; first = false) {
		nanosleep(
		    &(struct timespec){ .tv_sec = first ? 0 : 1, .tv_nsec = first ? 500000000 : 0 },
		    NULL);
		for (size_t i = 0; i < n; i++)
			sample(e, &v[i]);
		print_stats(v, n, format, no_trunc, !no_stream);
		if (no_stream)
			break;
	}
	for (size_t i = 0; v && i < n; i++)
		keel_ctr_free(v[i].c);
	free(v);
	keel_ctr_list_free(all_c, n_all);
	keel_template_free(tpl);
	keel_engine_close(e);
	return r;
}

/* ---------- diff ---------- */

static int print_change(enum keel_change_kind kind, const char *path, void *data)
{
	(void)data;
	printf("%c %s\n", keel_change_letter(kind), path);
	return 0;
}

int cli_ctr_diff(int argc, char **argv)
{
	const struct dflag flags[] = { { 0 } };
	const struct dcmd cmd = { "diff",
				  "CONTAINER",
				  "Inspect changes to files or directories on a container's "
				  "filesystem",
				  NULL,
				  flags,
				  1,
				  1 };
	struct dargs a;
	struct keel_engine *e;
	struct keel_ctr *c;
	cleanup_strv char **lowers = NULL;
	cleanup_free char *dir = NULL;
	char upper[4200];
	keel_error_t err;
	int r = open_one(&cmd, argc, argv, &a, &e, &c);
	if (r >= 0)
		return r;
	dir = keel_ctr_dir(e, c->id);
	snprintf(upper, sizeof(upper), "%s/upper", dir ? dir : "");
	r = 0;
	if (!(lowers = keel_ctr_lowers(e, c, &err)) ||
	    keel_diff(upper, (const char *const *)lowers, print_change, NULL, &err) < 0)
		r = cli_ctr_fail(&err);
	keel_ctr_free(c);
	keel_engine_close(e);
	return r;
}

/* ---------- cp, export ---------- */

/* docker's splitCpArg: "name:path" is a container path unless the argument starts like a
 * local path ("/", ".", or has no ":" before the first "/"). */
static char *container_part(char *arg, char **path)
{
	char *colon = strchr(arg, ':'), *slash = strchr(arg, '/');
	if (arg[0] == '/' || arg[0] == '.' || !colon || (slash && slash < colon))
		return NULL;
	*colon = '\0';
	*path = colon + 1;
	return arg;
}

int cli_ctr_cp(int argc, char **argv)
{
	bool archive = false, follow = false, quiet = false;
	const struct dflag flags[] = {
		{ "archive", 'a', DF_BOOL, &archive,
		  "Archive mode (copy all uid/gid information)" },
		{ "follow-link", 'L', DF_BOOL, &follow, "Always follow symbol link in SRC_PATH" },
		{ "quiet", 'q', DF_BOOL, &quiet, "Suppress progress output during copy" },
		{ 0 },
	};
	const struct dcmd cmd = { "cp",
				  "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tkeel cp "
				  "[OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
				  "Copy files/folders between a container and the local filesystem",
				  NULL,
				  flags,
				  2,
				  2 };
	struct keel_cp_opts o = { 0 };
	struct dargs a;
	struct keel_engine *e;
	struct keel_ctr *c;
	char *src_path = NULL, *dst_path = NULL, *src_c, *dst_c;
	cleanup_close int root = -1;
	keel_error_t err;
	int r;
	argc = cli_ctr_globals(argc, argv, -1, true, NULL);
	if ((r = dflags_parse(&cmd, argc, argv, &a)))
		return r > 0 ? 0 : 125;
	/* after the parse: -a and -L set these */
	o.flags = (archive ? KEEL_CP_ARCHIVE : 0u) | (follow ? KEEL_CP_FOLLOW_LINK : 0u);
	src_c = container_part(a.pos[0], &src_path);
	dst_c = container_part(a.pos[1], &dst_path);
	if (!!src_c == !!dst_c) {
		fprintf(stderr, "%s\n",
			src_c ? "copying between containers is not supported"
			      : "must specify at least one container source");
		return 1;
	}
	if (!(e = cli_engine()))
		return 125;
	if (!(c = cli_ctr_get(e, src_c ? src_c : dst_c))) {
		keel_engine_close(e);
		return 1;
	}
	o.stream_fd = src_c ? STDOUT_FILENO : STDIN_FILENO;
	if ((root = keel_ctr_rootfs_fd(e, c, &err)) < 0 ||
	    (src_c ? keel_cp_from_container(root, src_path, a.pos[1], &o, &err)
		   : keel_cp_to_container(root, a.pos[0], dst_path, &o, &err)) < 0)
		r = cli_ctr_fail(&err);
	keel_ctr_free(c);
	keel_engine_close(e);
	return r;
}

int cli_ctr_export(int argc, char **argv)
{
	const char *output = NULL;
	const struct dflag flags[] = {
		{ "output", 'o', DF_STRING, &output, "Write to a file, instead of STDOUT" },
		{ 0 },
	};
	const struct dcmd cmd = { "export",
				  "[OPTIONS] CONTAINER",
				  "Export a container's filesystem as a tar archive",
				  NULL,
				  flags,
				  1,
				  1 };
	struct dargs a;
	struct keel_engine *e;
	struct keel_ctr *c;
	cleanup_close int root = -1, dir = -1, out = -1;
	keel_error_t err;
	int r = open_one(&cmd, argc, argv, &a, &e, &c);
	if (r >= 0)
		return r;
	r = 0;
	if (!output && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "cowardly refusing to save to a terminal. Use the -o flag or "
				"redirect\n");
		r = 1;
	} else if ((out = output ? open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
				 : dup(STDOUT_FILENO)) < 0) {
		fprintf(stderr, "Error: %s: %s\n", output ? output : "stdout", strerror(errno));
		r = 1;
	} else if ((root = keel_ctr_export_fd(e, c, &err)) < 0 ||
		   ((dir = openat(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 &&
		    keel_err_sys(&err, "opening the rootfs") < 0) ||
		   keel_store_tar_dir(dir, out, &err) < 0) {
		r = cli_ctr_fail(&err);
	}
	keel_ctr_free(c);
	keel_engine_close(e);
	return r;
}

/* ---------- commit, port ---------- */

int cli_ctr_commit(int argc, char **argv)
{
	const char *author = NULL, *message = NULL;
	bool pause = true;
	struct dlist changes = { 0 };
	const struct dflag flags[] = {
		{ "author", 'a', DF_STRING, &author,
		  "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")" },
		{ "change", 'c', DF_LIST, &changes,
		  "Apply Dockerfile instruction to the created image" },
		{ "message", 'm', DF_STRING, &message, "Commit message" },
		{ "pause", 'p', DF_BOOL, &pause, "Pause container during commit (default true)" },
		{ 0 },
	};
	const struct dcmd cmd = { "commit",
				  "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
				  "Create a new image from a container's changes",
				  NULL,
				  flags,
				  1,
				  2 };
	struct dargs a;
	struct keel_engine *e;
	struct keel_ctr *c;
	struct keel_ctr_status st;
	bool paused = false;
	keel_error_t err, ignored;
	char *id;
	int r = open_one(&cmd, argc, argv, &a, &e, &c);
	if (r >= 0)
		return r;
	/* a consistent upper dir: freeze the container while it is read, as docker does */
	if (pause && keel_ctr_status(e, c, &st, &ignored) == 0 && st.state == KEEL_CTR_RUNNING)
		paused = keel_ctr_pause(e, c, true, &ignored) == 0;
	id = keel_ctr_commit(e, c, a.n > 1 ? a.pos[1] : NULL, changes.v, message, author, &err);
	if (paused)
		keel_ctr_pause(e, c, false, &ignored);
	r = 0;
	if (!id)
		r = cli_ctr_fail(&err);
	else
		printf("%s\n", id);
	free(id);
	keel_ctr_free(c);
	keel_engine_close(e);
	return r;
}

int cli_ctr_port(int argc, char **argv)
{
	const struct dflag flags[] = { { 0 } };
	const struct dcmd cmd = { "port",
				  "CONTAINER [PRIVATE_PORT[/PROTO]]",
				  "List port mappings or a specific mapping for the container",
				  NULL,
				  flags,
				  1,
				  2 };
	struct dargs a;
	struct keel_engine *e;
	struct keel_ctr *c;
	int r = open_one(&cmd, argc, argv, &a, &e, &c);
	if (r >= 0)
		return r;
	/* networks "none" and "host" publish nothing (bridge networking comes later) */
	r = 0;
	if (a.n > 1) {
		fprintf(stderr, "Error: No public port '%s%s' published for %s\n", a.pos[1],
			strchr(a.pos[1], '/') ? "" : "/tcp", a.pos[0]);
		r = 1;
	}
	keel_ctr_free(c);
	keel_engine_close(e);
	return r;
}

/* ---------- inspect ---------- */

/* docker puts SizeRw and SizeRootFs after GraphDriver. */
static json_t *with_sizes(struct keel_engine *e, const struct keel_ctr *c, json_t *o)
{
	int64_t rw, rootfs;
	keel_error_t err;
	json_t *out, *v;
	const char *k;
	if (keel_ctr_size(e, c, &rw, &rootfs, &err) < 0)
		return o;
	out = json_object();
	json_object_foreach (o, k, v) {
		json_object_set(out, k, v);
		if (!strcmp(k, "GraphDriver")) {
			json_object_set_new(out, "SizeRw", json_integer(rw));
			json_object_set_new(out, "SizeRootFs", json_integer(rootfs));
		}
	}
	json_decref(o);
	return out;
}

enum inspect_type { INSPECT_ANY, INSPECT_CONTAINER, INSPECT_IMAGE };

/* One name: a container first, then an image (docker's order); prints docker's error. */
static json_t *inspect_one(struct keel_engine *e, const char *ref, enum inspect_type type,
			   bool size)
{
	keel_error_t err;
	if (type != INSPECT_IMAGE) {
		struct keel_ctr *c = keel_ctr_get(e, ref, &err);
		json_t *o = c ? keel_ctr_inspect(e, c, &err) : NULL;
		bool found = c != NULL;
		if (o && size)
			o = with_sizes(e, c, o);
		keel_ctr_free(c);
		if (found && !o)
			fprintf(stderr, "Error: %s\n", err.msg);
		if (found)
			return o;
	}
	if (type != INSPECT_CONTAINER) {
		struct keel_image *img = keel_image_get(e->store, ref, &err);
		json_t *o = img ? cli_image_inspect_json(img) : NULL;
		keel_image_free(img);
		if (o)
			return o;
	}
	fprintf(stderr, "Error: No such %s: %s\n",
		type == INSPECT_CONTAINER ? "container"
		: type == INSPECT_IMAGE	  ? "image"
					  : "object",
		ref);
	return NULL;
}

/* The flags' variables are read after parsing: *format, *type_p, *size. */
static int inspect_main(const struct dcmd *cmd, int argc, char **argv, const char *const *format,
			const char *const *type_p, const bool *size)
{
	const char *type_s;
	enum inspect_type type = INSPECT_ANY;
	struct keel_template *t;
	struct dargs a;
	struct keel_engine *e;
	keel_error_t err;
	json_t *all;
	int r;
	argc = cli_ctr_globals(argc, argv, -1, true, NULL);
	if ((r = dflags_parse(cmd, argc, argv, &a)))
		return r > 0 ? 0 : 125;
	type_s = *type_p;
	if (type_s && !strcmp(type_s, "container"))
		type = INSPECT_CONTAINER;
	else if (type_s && !strcmp(type_s, "image"))
		type = INSPECT_IMAGE;
	else if (type_s && *type_s) {
		fprintf(stderr, "\"%s\" is not a valid value for --type\n", type_s);
		return 1;
	}
	if ((r = cli_inspect_template(*format, &t)))
		return r;
	if (!(e = cli_engine())) {
		keel_template_free(t);
		return 125;
	}
	if (type != INSPECT_CONTAINER)
		keel_store_ensure_busybox(e->store, &err);
	all = json_array();
	for (int i = 0; i < a.n; i++) {
		json_t *o = inspect_one(e, a.pos[i], type, *size);
		if (o)
			json_array_append_new(all, o);
		else
			r = 1;
	}
	cli_inspect_print(all, t);
	json_decref(all);
	keel_template_free(t);
	keel_engine_close(e);
	return r;
}

int cli_inspect(int argc, char **argv)
{
	const char *format = NULL, *type = NULL;
	bool size = false;
	const struct dflag flags[] = {
		{ "format", 'f', DF_STRING, &format,
		  "Format output using a custom template: 'json' or 'TEMPLATE'" },
		{ "size", 's', DF_BOOL, &size,
		  "Display total file sizes if the type is container" },
		{ "type", 0, DF_STRING, &type,
		  "Only inspect objects of the given type (container or image)" },
		{ 0 },
	};
	const struct dcmd cmd = { "inspect",
				  "[OPTIONS] NAME|ID [NAME|ID...]",
				  "Return low-level information on keel objects (containers, "
				  "images)",
				  NULL,
				  flags,
				  1,
				  -1 };
	return inspect_main(&cmd, argc, argv, &format, &type, &size);
}

int cli_container_inspect(int argc, char **argv)
{
	const char *format = NULL, *type = "container";
	bool size = false;
	const struct dflag flags[] = {
		{ "format", 'f', DF_STRING, &format,
		  "Format output using a custom template: 'json' or 'TEMPLATE'" },
		{ "size", 's', DF_BOOL, &size, "Display total file sizes" },
		{ 0 },
	};
	const struct dcmd cmd = { "container inspect",
				  "[OPTIONS] CONTAINER [CONTAINER...]",
				  "Display detailed information on one or more containers",
				  NULL,
				  flags,
				  1,
				  -1 };
	return inspect_main(&cmd, argc, argv, &format, &type, &size);
}
