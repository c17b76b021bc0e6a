/* libFuzzer target for the Dockerfile parser and expander: any input must give an AST or
 * a one-line "Dockerfile:LINE: ..." error, never a crash or a leak. Every stage of a parsed
 * file is expanded (with a build arg, so overrides run) and the stage graph built; the
 * first byte 'W' fuzzes the shell-word lexer alone, '.' the .dockerignore matcher.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Dwerror=false
 *   ninja -C build-fuzz tests/fuzz_dockerfile
 *   mkdir -p /tmp/df-corpus /tmp/df-seed
 *   for d in tests/fixtures/dockerfiles/[0-9]*; do cp $d/Dockerfile /tmp/df-seed/${d##*[/]}; done
 *   build-fuzz/tests/fuzz_dockerfile -max_total_time=120 /tmp/df-corpus /tmp/df-seed */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "build/dockerfile.h"
#include "build/dockerignore.h"
#include "build/eval.h"
#include "build/shellword.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_word(const char *text, size_t size)
{
	char *s = strndup(text, size), *out = NULL, **words = NULL;
	struct keel_env env = { 0 };
	keel_error_t err;
	size_t n;
	if (!s)
		return;
	keel_env_set(&env, "A", "x y", &err);
	if (keel_shell_word(s, &env, '\\', 0, &out, &err) == 0)
		free(out);
	if (keel_shell_words(s, &env, '`', KEEL_SHELL_RAW_QUOTES, &words, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++)
			free(words[i]);
		free(words);
	}
	keel_env_free(&env);
	free(s);
}

static void fuzz_ignore(const char *text, size_t size)
{
	keel_error_t err;
	struct keel_ignore *ig = keel_ignore_parse(text, size, &err);
	if (!ig)
		return;
	keel_ignore_match(ig, "a/b/c.txt");
	keel_ignore_match(ig, ".dockerignore");
	keel_ignore_free(ig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	char *args[] = { "A=1", "HTTP_PROXY=p", NULL };
	keel_error_t err = { 0 };
	struct keel_dockerfile *df;
	struct keel_df_graph g;
	char *dump;

	if (size > 0 && data[0] == 'W') {
		fuzz_word(text + 1, size - 1);
		return 0;
	}
	if (size > 0 && data[0] == '.') {
		fuzz_ignore(text + 1, size - 1);
		return 0;
	}
	df = keel_dockerfile_parse(text, size, "Dockerfile", &err);
	if (!df) {
		/* A refused file always says where and why, on one line. */
		if (strncmp(err.msg, "Dockerfile:", 11) != 0 && err.errnum != 12)
			__builtin_trap();
		return 0;
	}
	dump = keel_dockerfile_dump(df);
	free(dump);
	for (size_t i = 0; i < df->nstages; i++) {
		struct keel_df_eval_opts o = { .build_args = args };
		struct keel_df_stage_eval ev = { 0 };
		if (keel_df_eval_stage(df, i, &o, &ev, &err) == 0) {
			dump = keel_df_stage_eval_dump(&ev);
			free(dump);
		}
		keel_df_stage_eval_free(&ev);
	}
	if (keel_df_graph_build(df, args, &g, &err) == 0) {
		bool *needed = calloc(df->nstages, sizeof(bool));
		if (needed)
			keel_df_graph_needed(df, &g, NULL, needed, &err);
		free(needed);
		keel_df_graph_free(&g);
	}
	keel_dockerfile_free(df);
	return 0;
}
