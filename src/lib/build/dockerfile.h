/* The Dockerfile language: parser to an AST (Docker's Dockerfile reference, BuildKit's
 * frontend semantics), and the stage graph of a multi-stage file.
 *
 * Parsing is pure text work: no variable is expanded here (see eval.h), no file read.
 * Every error is one line "NAME:LINE: problem" (NAME is the name given to the parser,
 * usually "Dockerfile"), with errnum EINVAL. */
#ifndef KEEL_BUILD_DOCKERFILE_H
#define KEEL_BUILD_DOCKERFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"

enum keel_df_kind {
	KEEL_DF_ADD,
	KEEL_DF_ARG,
	KEEL_DF_CMD,
	KEEL_DF_COPY,
	KEEL_DF_ENTRYPOINT,
	KEEL_DF_ENV,
	KEEL_DF_EXPOSE,
	KEEL_DF_FROM,
	KEEL_DF_HEALTHCHECK,
	KEEL_DF_LABEL,
	KEEL_DF_MAINTAINER,
	KEEL_DF_ONBUILD,
	KEEL_DF_RUN,
	KEEL_DF_SHELL,
	KEEL_DF_STOPSIGNAL,
	KEEL_DF_USER,
	KEEL_DF_VOLUME,
	KEEL_DF_WORKDIR,
	KEEL_DF_KIND_COUNT,
};

/* "--name=value" (value as written, unexpanded) or "--name" (value NULL). */
struct keel_df_flag {
	char *name;
	char *value;
};

/* ENV, LABEL, ARG pairs, as written (quotes and escapes still in; eval.h removes them).
 * value is NULL for "ARG NAME" without a default. */
struct keel_df_kv {
	char *key;
	char *value;
};

/* One here-document of RUN, COPY or ADD. content ends with its last newline; with chomp
 * ("<<-") leading tabs are already stripped from every line. expand is false when the
 * delimiter was quoted ('EOF' or "EOF"): the body is then taken literally. */
struct keel_df_heredoc {
	char *name;
	char *content;
	bool expand;
	bool chomp;
	unsigned fd; /* "3<<EOF": the fd the body is fed to (0 when not given) */
};

/* HEALTHCHECK: none for "HEALTHCHECK NONE"; durations in nanoseconds (0: not given). */
struct keel_df_health {
	bool none;
	int64_t interval, timeout, start_period, start_interval;
	int retries;
};

/* One instruction. The meaning of args depends on the kind:
 *   FROM                 words: image [AS name] (the stage records them too)
 *   RUN CMD ENTRYPOINT   json ? the array's strings : one string, the rest of the line
 *   SHELL                the JSON array (always json)
 *   COPY ADD VOLUME      json ? the array's strings : whitespace-separated words;
 *                        COPY/ADD: the last is the destination
 *   EXPOSE               whitespace-separated words
 *   USER WORKDIR STOPSIGNAL MAINTAINER   one string
 *   HEALTHCHECK          the test command as for CMD (none: no args)
 *   ONBUILD              one string, the trigger as written; trigger is it parsed
 *   ENV LABEL ARG        no args; kvs instead */
struct keel_df_instr {
	enum keel_df_kind kind;
	int line, end_line; /* first and last line in the file, heredoc bodies included */
	char *original;	    /* the logical line: continuations joined, heredoc bodies not */
	struct keel_df_flag *flags;
	size_t nflags;
	bool json;
	char **args; /* NULL-terminated */
	size_t nargs;
	struct keel_df_kv *kvs;
	size_t nkvs;
	struct keel_df_heredoc *heredocs;
	size_t nheredocs;
	struct keel_df_health health;
	struct keel_df_instr *trigger; /* ONBUILD only */
	bool legacy_kv;		       /* ENV/LABEL written "KEY value" (one pair) */
};

/* A build stage: FROM and the instructions after it up to the next FROM. */
struct keel_df_stage {
	size_t index;
	char *base;	/* the FROM reference as written (may contain $ARGs) */
	char *name;	/* "AS name", lowercased, or NULL */
	char *platform; /* --platform as written, or NULL */
	size_t first;	/* index of its FROM in keel_dockerfile.instrs */
	size_t count;	/* instructions, FROM included */
};

struct keel_dockerfile {
	char *name;   /* as given to the parser, for messages */
	char escape;  /* '\\' or '`' (# escape=) */
	char *syntax; /* "# syntax=" value or NULL; recorded, not acted on */
	struct keel_df_instr *instrs;
	size_t ninstrs;
	size_t nglobal; /* instrs[0..nglobal): the ARGs before the first FROM */
	struct keel_df_stage *stages;
	size_t nstages;
	char **warnings; /* "NAME:LINE: text", NULL-terminated (may be NULL) */
	size_t nwarnings;
};

/* Parses text (len bytes, need not be NUL-terminated). name labels messages. Returns a new
 * AST (free with keel_dockerfile_free) or NULL with *err "name:LINE: problem". */
struct keel_dockerfile *keel_dockerfile_parse(const char *text, size_t len, const char *name,
					      keel_error_t *err);
void keel_dockerfile_free(struct keel_dockerfile *df);

/* "FROM", "RUN", ... (static string). */
const char *keel_df_kind_name(enum keel_df_kind kind);

/* The value of flag --name (borrowed), NULL when absent; *present (may be NULL) tells a
 * bare "--name" from absence. The last occurrence wins, as in Docker. */
const char *keel_df_flag(const struct keel_df_instr *in, const char *name, bool *present);

/* Writes the AST as text, one instruction per line, for tests and debugging:
 *   LINE KIND [flags] json|shell|kv [args...] with strings JSON-quoted. Caller frees. */
char *keel_dockerfile_dump(const struct keel_dockerfile *df);

/* ---- stage graph ---- */

/* How a stage depends on another: FROM <stage>, COPY --from=<stage|index>, or an external
 * image (COPY --from=image, FROM image). */
struct keel_df_stage_deps {
	size_t *stages; /* indices of the stages it needs directly (sorted, unique) */
	size_t nstages;
	int base_stage; /* the stage FROM names, or -1 for an image / scratch */
};

struct keel_df_graph {
	size_t nstages;
	struct keel_df_stage_deps *deps; /* one per stage */
	int *wave; /* wave[i]: 0 for stages needing no stage, else 1 + max over deps; stages of
		    * one wave do not depend on each other and may be built in parallel */
};

/* Builds the graph. Stage references in FROM and COPY --from are resolved after expanding
 * global build args (args: "K=V" list of --build-arg, may be NULL) as Docker does;
 * COPY --from may name any other stage, FROM only an earlier one (FROM x AS x is the image
 * x). A cycle is an error naming the line. */
int keel_df_graph_build(const struct keel_dockerfile *df, char *const *build_args,
			struct keel_df_graph *g, keel_error_t *err);
void keel_df_graph_free(struct keel_df_graph *g);

/* Index of the stage named or numbered by ref ("builder", "0"), -1 if none. */
int keel_df_stage_find(const struct keel_dockerfile *df, const char *ref);

/* Marks in needed[nstages] the stages a build of target (a name or index; NULL or "" for
 * the last stage) needs: the target and everything it reaches. Returns the target's index,
 * or -1 with *err when no such stage exists. */
int keel_df_graph_needed(const struct keel_dockerfile *df, const struct keel_df_graph *g,
			 const char *target, bool *needed, keel_error_t *err);

#endif
