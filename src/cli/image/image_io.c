/* keel load, save, import. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/image/image_cli.h"
#include "image/image.h"
#include "util/cleanup.h"

int keel_cli_load(int argc, char **argv)
{
	const char *input = NULL;
	bool quiet = false;
	const struct dflag flags[] = {
		{"input", 'i', DF_STRING, &input, "Read from tar archive file, instead of STDIN"},
		{"quiet", 'q', DF_BOOL, &quiet, "Suppress the load output"},
		{0},
	};
	const struct dcmd cmd = {cli_name(argv[0], "load"), "[OPTIONS]",
				 "Load an image from a tar archive (docker-archive or oci-archive, "
				 "maybe compressed) or STDIN", "keel image load, keel load", flags, 0,
				 0};
	struct dargs a;
	struct keel_store *s;
	struct keel_events ev = {0};
	keel_error_t err;
	cleanup_close int fd = -1;
	int r = dflags_parse(&cmd, argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 125;
	if (input) {
		fd = open(input, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "Error: open %s: %s\n", input, strerror(errno));
			return 1;
		}
	} else if (isatty(0)) {
		fprintf(stderr, "requested load from stdin, but stdin is empty\n");
		return 1;
	}
	if (!(s = cli_store(&a)))
		return 125;
	r = keel_archive_load(s, input ? fd : 0, &ev, &err);
	keel_store_close(s);
	for (size_t i = 0; r == 0 && i < ev.n; i++)
		printf("%s\n", ev.v[i]);
	keel_events_free(&ev);
	if (r < 0) {
		fprintf(stderr, "Error: %s\n", err.msg);
		return 1;
	}
	return 0;
}

int keel_cli_save(int argc, char **argv)
{
	const char *output = NULL, *format = "docker";
	const struct dflag flags[] = {
		{"format", 0, DF_STRING, &format, "Archive format: docker (default) or oci"},
		{"output", 'o', DF_STRING, &output, "Write to a file, instead of STDOUT"},
		{0},
	};
	const struct dcmd cmd = {cli_name(argv[0], "save"), "[OPTIONS] IMAGE [IMAGE...]",
				 "Save one or more images to a tar archive (streamed to STDOUT by "
				 "default)", "keel image save, keel save", flags, 1, -1};
	struct dargs a;
	struct keel_store *s;
	keel_error_t err;
	enum keel_archive_format f;
	char tmp[4096];
	int fd = 1, r = dflags_parse(&cmd, argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 125;
	if (!strcmp(format, "docker") || !strcmp(format, "docker-archive"))
		f = KEEL_ARCHIVE_DOCKER;
	else if (!strcmp(format, "oci") || !strcmp(format, "oci-archive"))
		f = KEEL_ARCHIVE_OCI;
	else {
		fprintf(stderr, "Error: unknown archive format %s (want docker or oci)\n", format);
		return 125;
	}
	if (!output && isatty(1)) {
		fprintf(stderr, "Error: cowardly refusing to save to a terminal. Use the -o flag or "
				"redirect\n");
		return 1;
	}
	if (!(s = cli_store(&a)))
		return 125;
	keel_store_ensure_busybox(s, &err);
	/* -o: a temp file renamed over the target, so a failed save leaves no half archive. */
	if (output) {
		snprintf(tmp, sizeof(tmp), "%s.keel-tmp", output);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "Error: open %s: %s\n", output, strerror(errno));
			keel_store_close(s);
			return 1;
		}
	}
	r = keel_archive_save(s, a.pos, (size_t)a.n, f, fd, &err);
	keel_store_close(s);
	if (output) {
		if (close(fd) < 0 && r == 0)
			r = keel_err_sys(&err, "write %s", output);
		if (r == 0 && rename(tmp, output) < 0)
			r = keel_err_sys(&err, "rename %s", output);
		if (r < 0)
			unlink(tmp);
	}
	return r < 0 ? cli_fail(&err, true) : 0;
}

int keel_cli_import(int argc, char **argv)
{
	struct dlist changes = {0};
	const char *message = NULL, *platform = NULL;
	const struct dflag flags[] = {
		{"change", 'c', DF_LIST, &changes, "Apply Dockerfile instruction to the created "
						    "image"},
		{"message", 'm', DF_STRING, &message, "Set commit message for imported image"},
		{"platform", 0, DF_STRING, &platform, "Set platform (only linux/amd64)"},
		{0},
	};
	const struct dcmd cmd = {cli_name(argv[0], "import"), "[OPTIONS] file|- [REPOSITORY[:TAG]]",
				 "Import the contents from a tarball to create a filesystem image",
				 "keel image import, keel import", flags, 1, 2};
	struct dargs a;
	struct keel_store *s;
	keel_error_t err;
	char id[KEEL_DIGEST_SIZE];
	cleanup_close int fd = -1;
	int r = dflags_parse(&cmd, argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 125;
	if (platform && strcmp(platform, "linux/amd64") && strcmp(platform, "linux")) {
		fprintf(stderr, "Error: platform %s is not supported\n", platform);
		return 125;
	}
	if (strcmp(a.pos[0], "-") != 0) {
		if (strstr(a.pos[0], "://")) {
			fprintf(stderr, "Error: importing from a URL is not supported\n");
			return 125;
		}
		fd = open(a.pos[0], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "Error: open %s: %s\n", a.pos[0], strerror(errno));
			return 1;
		}
	}
	if (!(s = cli_store(&a)))
		return 125;
	r = keel_image_import(s, fd >= 0 ? fd : 0, changes.v, changes.n, message,
			      a.n > 1 ? a.pos[1] : NULL, id, &err);
	keel_store_close(s);
	if (r < 0)
		return cli_fail(&err, true);
	printf("%s\n", id);
	return 0;
}
