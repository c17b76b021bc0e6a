/* keel tag, rmi, image prune, system df. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/image/image_cli.h"
#include "store/imagedb.h"
#include "util/cleanup.h"

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

int keel_cli_image_prune(int argc, char **argv)
{
	bool all = false, force = false;
	struct dlist filters = {0};
	const struct dflag flags[] = {
		{"all", 'a', DF_BOOL, &all, "Remove all unused images, not just dangling ones"},
		{"filter", 0, DF_LIST, &filters, "Provide filter values (not supported yet)"},
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
	if (filters.n) {
		fprintf(stderr, "Error response from daemon: prune filters are not supported\n");
		return 1;
	}
	if (!force && !confirm(all ? "all images without at least one container associated "
				     "to them"
				   : "all dangling images"))
		return 0;
	if (!(s = cli_store(&a)))
		return 125;
	r = keel_image_prune(s, all, &ev, &reclaimed, &err);
	keel_store_close(s);
	if (ev.n) {
		printf("Deleted Images:\n");
		print_events(&ev);
		printf("\n");
	}
	keel_events_free(&ev);
	if (r < 0)
		return cli_fail(&err, true);
	human_size(reclaimed, 3, size, sizeof(size));
	printf("Total reclaimed space: %s\n", size);
	return 0;
}

static int system_df(int argc, char **argv)
{
	bool verbose = false;
	const char *format = NULL;
	const struct dflag flags[] = {
		{"format", 0, DF_STRING, &format, "Pretty-print images using a Go template "
						  "(not supported yet)"},
		{"verbose", 'v', DF_BOOL, &verbose, "Show detailed information on space usage "
						    "(not supported yet)"},
		{0},
	};
	const struct dcmd cmd = {"system df", "[OPTIONS]", "Show keel disk usage", NULL, flags, 0, 0};
	struct dargs a;
	struct keel_store *s;
	struct keel_store_usage u;
	keel_error_t err;
	char size[32], rec[32];
	int r = dflags_parse(&cmd, argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 125;
	if (!(s = cli_store(&a)))
		return 125;
	r = keel_store_usage(s, &u, &err);
	keel_store_close(s);
	if (r < 0)
		return cli_fail(&err, true);
	human_size(u.size, 4, size, sizeof(size));
	human_size(u.reclaimable, 4, rec, sizeof(rec));
	printf("%-16s%-10s%-10s%-10s%s\n", "TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE");
	printf("%-16s%-10lld%-10lld%-10s%s (%d%%)\n", "Images", (long long)u.images,
	       (long long)u.active, size, rec,
	       u.size ? (int)(u.reclaimable * 100 / u.size) : 0);
	printf("%-16s%-10d%-10d%-10s%s\n", "Containers", 0, 0, "0B", "0B");
	printf("%-16s%-10d%-10d%-10s%s\n", "Local Volumes", 0, 0, "0B", "0B");
	printf("%-16s%-10d%-10d%-10s%s\n", "Build Cache", 0, 0, "0B", "0B");
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
