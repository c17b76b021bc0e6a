/* `keel build [OPTIONS] CONTEXT|-`: docker build's command line, legacy builder output. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/exec.h"
#include "cli/image/image_cli.h"
#include "cli/commands.h"
#include "util/cleanup.h"
#include "util/fs.h"

struct build_cli {
	struct dlist tags, build_args, labels;
	const char *file, *target, *iidfile, *progress;
	bool no_cache, quiet;
};

/* The Dockerfile: -f as given (relative to the working directory), else CONTEXT/Dockerfile;
 * with a tar context, a path inside it. */
static ssize_t read_dockerfile(const struct build_cli *c, const char *ctxdir,
			       const struct keel_build_context *ctx, char **text, keel_error_t *err)
{
	cleanup_free char *path = NULL;
	if (!ctxdir) {
		cleanup_close int fd = keel_build_context_open(ctx, c->file ? c->file : "Dockerfile",
							       O_RDONLY, err);
		char proc[64];
		if (fd < 0)
			return -1;
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		return keel_read_file(proc, text, err);
	}
	if (c->file && strcmp(c->file, "-"))
		return keel_read_file(c->file, text, err);
	if (asprintf(&path, "%s/Dockerfile", ctxdir) < 0)
		return keel_err(err, ENOMEM, "build");
	return keel_read_file(path, text, err);
}

/* --progress: docker buildx's names (auto, plain, tty). */
static int progress_mode(const char *v, enum keel_progress_mode *m)
{
	static const struct {
		const char *name;
		enum keel_progress_mode mode;
	} modes[] = {
		{"auto", KEEL_PROGRESS_AUTO},
		{"plain", KEEL_PROGRESS_PLAIN},
		{"tty", KEEL_PROGRESS_TTY},
	};
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!v || !strcmp(v, modes[i].name)) {
			*m = v ? modes[i].mode : KEEL_PROGRESS_AUTO;
			return 0;
		}
	fprintf(stderr, "invalid --progress value %s: auto, plain or tty\n", v);
	return -1;
}

static int run(struct build_cli *c, const char *context)
{
	struct keel_build_context *ctx = NULL;
	struct keel_engine *e = NULL;
	cleanup_free char *text = NULL, *id = NULL;
	const char *ctxdir = strcmp(context, "-") ? context : NULL;
	keel_error_t err = {0};
	enum keel_progress_mode mode;
	ssize_t len;
	int ret = 1;
	if (progress_mode(c->progress, &mode) < 0)
		return 125;
	ctx = ctxdir ? keel_build_context_open_dir(ctxdir, &err)
		     : keel_build_context_open_tar(STDIN_FILENO, NULL, &err);
	if (!ctx)
		goto out;
	if ((len = read_dockerfile(c, ctxdir, ctx, &text, &err)) < 0)
		goto out;
	if (!(e = keel_engine_open(NULL, NULL, &err)))
		goto out;
	struct keel_build_opts o = {
		.dockerfile = text,
		.dockerfile_len = (size_t)len,
		.dockerfile_name = "Dockerfile",
		.ctx = ctx,
		.build_args = c->build_args.n ? c->build_args.v : NULL,
		.labels = c->labels.n ? c->labels.v : NULL,
		.tags = c->tags.n ? c->tags.v : NULL,
		.target = c->target,
		.no_cache = c->no_cache,
		.out = c->quiet ? NULL : stdout,
		.progress = mode,
	};
	if (keel_build(e, &o, &id, &err) < 0)
		goto out;
	if (c->iidfile && keel_write_file(c->iidfile, id, strlen(id), 0644, &err) < 0)
		goto out;
	if (c->quiet) {
		printf("%s\n", id);
	} else {
		printf("Successfully built %.12s\n", id + 7);
		for (size_t i = 0; i < c->tags.n; i++)
			printf("Successfully tagged %s%s\n", c->tags.v[i],
			       strchr(strrchr(c->tags.v[i], '/') ?: c->tags.v[i], ':') ? ""
										 : ":latest");
	}
	ret = 0;
out:
	fflush(stdout);
	if (ret)
		fprintf(stderr, "%s\n", err.msg);
	keel_engine_close(e);
	keel_build_context_free(ctx);
	return ret;
}

int keel_cli_build(int argc, char **argv)
{
	struct build_cli c = {0};
	const struct dflag flags[] = {
		{"tag", 't', DF_LIST, &c.tags, "Name and optionally a tag in the 'name:tag' format"},
		{"file", 'f', DF_STRING, &c.file, "Name of the Dockerfile (Default is 'PATH/Dockerfile')"},
		{"build-arg", 0, DF_LIST, &c.build_args, "Set build-time variables"},
		{"label", 0, DF_LIST, &c.labels, "Set metadata for an image"},
		{"target", 0, DF_STRING, &c.target, "Set the target build stage to build."},
		{"no-cache", 0, DF_BOOL, &c.no_cache, "Do not use cache when building the image"},
		{"quiet", 'q', DF_BOOL, &c.quiet,
		 "Suppress the build output and print image ID on success"},
		{"iidfile", 0, DF_STRING, &c.iidfile, "Write the image ID to the file"},
		{"progress", 0, DF_STRING, &c.progress,
		 "Set type of progress output (auto, plain, tty): a live display on a terminal"},
		{0},
	};
	const struct dcmd cmd = {"build", "[OPTIONS] PATH | -", "Build an image from a Dockerfile",
				 NULL, flags, 1, 1};
	struct dargs a = {0};
	int r = dflags_parse(&cmd, argc, argv, &a);
	if (r != 0)
		return r > 0 ? 0 : 125;
	return run(&c, a.pos[0]);
}
