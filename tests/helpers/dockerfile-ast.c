/* dockerfile-ast: dumps keel's parse of a Dockerfile, its expansion per stage and its stage
 * graph, for tests and for comparing with Docker by eye.
 *   dockerfile-ast [--build-arg K=V]... [--target T] [--context DIR] Dockerfile
 * Exit 1 with the error line on bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/context.h"
#include "build/dockerfile.h"
#include "build/eval.h"
#include "util/fs.h"

int main(int argc, char **argv)
{
	char *args[64] = { 0 }, *text = NULL, *s;
	size_t nargs = 0;
	const char *target = NULL, *file = NULL, *ctxdir = NULL;
	keel_error_t err = { 0 };
	ssize_t len;
	struct keel_dockerfile *df;
	struct keel_df_graph g;
	bool needed[256] = { 0 };

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--build-arg") == 0 && i + 1 < argc && nargs < 63)
			args[nargs++] = argv[++i];
		else if (strcmp(argv[i], "--target") == 0 && i + 1 < argc)
			target = argv[++i];
		else if (strcmp(argv[i], "--context") == 0 && i + 1 < argc)
			ctxdir = argv[++i];
		else
			file = argv[i];
	}
	if (!file) {
		fprintf(stderr, "usage: dockerfile-ast [--build-arg K=V] [--target T] "
				"[--context DIR] Dockerfile\n");
		return 2;
	}
	if ((len = keel_read_file(file, &text, &err)) < 0 ||
	    !(df = keel_dockerfile_parse(text, (size_t)len, "Dockerfile", &err))) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	s = keel_dockerfile_dump(df);
	printf("# ast\n%s", s);
	free(s);
	for (size_t i = 0; df->warnings && df->warnings[i]; i++)
		printf("# warning: %s\n", df->warnings[i]);
	if (keel_df_graph_build(df, args, &g, &err) < 0 || df->nstages > 256 ||
	    keel_df_graph_needed(df, &g, target, needed, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return 1;
	}
	for (size_t i = 0; i < df->nstages; i++) {
		struct keel_df_eval_opts o = { .build_args = args };
		struct keel_df_stage_eval ev = { 0 };
		printf("# stage %zu%s%s wave=%d needed=%d deps=", i, df->stages[i].name ? " " : "",
		       df->stages[i].name ? df->stages[i].name : "", g.wave[i], needed[i]);
		for (size_t k = 0; k < g.deps[i].nstages; k++)
			printf("%s%zu", k ? "," : "", g.deps[i].stages[k]);
		printf("\n");
		if (keel_df_eval_stage(df, i, &o, &ev, &err) < 0) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		s = keel_df_stage_eval_dump(&ev);
		printf("%s", s);
		free(s);
		keel_df_stage_eval_free(&ev);
	}
	if (ctxdir) {
		struct keel_build_context *c = keel_build_context_open_dir(ctxdir, &err);
		if (!c) {
			fprintf(stderr, "%s\n", err.msg);
			return 1;
		}
		printf("# context\n");
		for (size_t i = 0; i < c->n; i++)
			printf("%s %o%s%s\n", c->entries[i].path, (unsigned)c->entries[i].mode,
			       c->entries[i].link ? " -> " : "",
			       c->entries[i].link ? c->entries[i].link : "");
		keel_build_context_free(c);
	}
	keel_df_graph_free(&g);
	keel_dockerfile_free(df);
	free(text);
	return 0;
}
