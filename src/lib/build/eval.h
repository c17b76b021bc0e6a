/* Variable expansion of a parsed Dockerfile, exactly where Docker expands: ADD COPY ENV
 * EXPOSE FROM LABEL STOPSIGNAL USER VOLUME WORKDIR, ARG defaults, and the flags --from
 * --chown --chmod --checksum --platform. RUN, CMD, ENTRYPOINT, SHELL and HEALTHCHECK are
 * left as written (the shell in the container expands them); ONBUILD triggers are stored
 * unexpanded and expanded when they fire, in the child build.
 *
 * ARG scoping (Docker's rules):
 *  - ARGs before the first FROM are global: visible in FROM lines only, unless a stage
 *    redeclares them ("ARG NAME" without a value takes the global value);
 *  - a stage's ARG is in scope from its line to the end of the stage;
 *  - --build-arg NAME=V overrides the default of a declared ARG; an undeclared build arg
 *    is unused (see keel_df_unused_build_args), except the predefined proxy args
 *    (HTTP_PROXY, http_proxy, HTTPS_PROXY, https_proxy, FTP_PROXY, ftp_proxy, NO_PROXY,
 *    no_proxy, ALL_PROXY, all_proxy), which RUN sees without a declaration and which are
 *    kept out of the history;
 *  - ENV overrides an ARG of the same name, for expansion and in RUN's environment;
 *  - TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT, BUILDPLATFORM, BUILDOS,
 *    BUILDARCH, BUILDVARIANT are predefined in the global scope (BuildKit) and need
 *    "ARG TARGETARCH" to be seen inside a stage. */
#ifndef KEEL_BUILD_EVAL_H
#define KEEL_BUILD_EVAL_H

#include <stdbool.h>
#include <stddef.h>

#include "build/dockerfile.h"
#include "build/shellword.h"

/* True for the predefined proxy args. */
bool keel_df_arg_is_proxy(const char *name);

/* The global scope: the automatic platform args, then the ARGs before the first FROM with
 * their defaults expanded in order and build_args ("K=V", NULL-terminated, may be NULL)
 * applied. *out must be zeroed; the caller frees it (keel_env_free). */
int keel_df_global_args(const struct keel_dockerfile *df, char *const *build_args,
			struct keel_env *out, keel_error_t *err);

/* What the executor needs to know about the base image of a stage. */
struct keel_df_eval_opts {
	char *const *build_args;  /* --build-arg "K=V", NULL-terminated, may be NULL */
	char *const *base_env;	  /* the base image's config Env ("K=V"), may be NULL */
	const char *base_workdir; /* the base image's WorkingDir, NULL or "" for "/" */
};

/* One instruction with its words expanded. */
struct keel_df_step {
	const struct keel_df_instr *instr; /* borrowed from the AST */
	char **args;			   /* expanded (or as written, see above) */
	size_t nargs;
	struct keel_df_kv *kvs; /* ENV/LABEL: expanded; ARG: the effective value (NULL: none) */
	size_t nkvs;
	struct keel_df_flag *flags; /* expanded values */
	size_t nflags;
	char **heredocs;   /* per instr->heredocs: the body, expanded for COPY/ADD when allowed */
	char **env;	   /* RUN's environment here: ENV (incl. the base image's) + ARGs in
			    * scope with values, ENV winning; "K=V", NULL-terminated */
	char **build_args; /* ARGs in scope with values, in declaration order, proxy args left
			    * out: the "|N K=V" prefix Docker writes in RUN's history and a part
			    * of the cache key */
	char *workdir;	   /* absolute working directory after this step */
};

struct keel_df_stage_eval {
	char *base;		    /* FROM, expanded with the global args */
	char *platform;		    /* --platform expanded, or NULL */
	struct keel_df_step *steps; /* steps[0] is the FROM */
	size_t nsteps;
};

/* Expands stage `index`. Errors are "Dockerfile:LINE: problem". out must be zeroed; free
 * with keel_df_stage_eval_free even on failure. */
int keel_df_eval_stage(const struct keel_dockerfile *df, size_t index,
		       const struct keel_df_eval_opts *opts, struct keel_df_stage_eval *out,
		       keel_error_t *err);
void keel_df_stage_eval_free(struct keel_df_stage_eval *ev);

/* Text form of an evaluated stage for tests and debugging: one step a line,
 *   LINE KIND args... [kv k=v ...] [flags] wd=WORKDIR
 * with C-quoted strings. Caller frees; NULL on ENOMEM. */
char *keel_df_stage_eval_dump(const struct keel_df_stage_eval *ev);

/* The build args no ARG of the needed stages (needed may be NULL: all) or of the global
 * scope declares, proxy args excepted: Docker warns "[Warning] One or more build-args
 * [..] were not consumed". NULL-terminated, caller frees (strv). NULL on ENOMEM. */
char **keel_df_unused_build_args(const struct keel_dockerfile *df, const bool *needed,
				 char *const *build_args);

/* Joins a WORKDIR / COPY destination to the current directory and cleans it lexically
 * ("a/../b" -> "/b"); the result is absolute. Caller frees; NULL on ENOMEM. */
char *keel_df_path_join(const char *cwd, const char *path);

#endif
