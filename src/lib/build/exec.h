/* The Dockerfile executor (`keel build`): runs the stages a target needs against the image
 * store, Docker's legacy builder semantics — every instruction makes an image (RUN, COPY,
 * ADD and WORKDIR a layer when they change files, the others a config change with an
 * empty_layer history entry), RUN runs as a keel container, COPY/ADD and WORKDIR work on a
 * private overlay of the parent's layers through openat2(RESOLVE_IN_ROOT). Steps are cached
 * in table build_cache (key: parent image, instruction after expansion, build args in scope,
 * COPY/ADD source checksums -> image id). docs/build.md describes the behaviour. */
#ifndef KEEL_BUILD_EXEC_H
#define KEEL_BUILD_EXEC_H

#include <stdbool.h>
#include <stdio.h>

#include "build/context.h"
#include "build/progress.h"
#include "engine/containers.h"
#include "util/error.h"

struct keel_build_opts {
	const char *dockerfile;	     /* the Dockerfile text */
	size_t dockerfile_len;
	const char *dockerfile_name; /* "Dockerfile": for messages */
	struct keel_build_context *ctx;
	char *const *build_args; /* "K=V", NULL-terminated, may be NULL */
	char *const *labels;	 /* "K=V" added to the final image, may be NULL */
	char *const *tags;	 /* applied only after the whole build succeeded, may be NULL */
	const char *target;	 /* stage name or NULL for the last */
	bool no_cache;
	FILE *out; /* progress ("Step 1/3 : ...") and RUN output; NULL: quiet */
	enum keel_progress_mode progress; /* how out shows it: AUTO = live display on a tty */
};

/* Builds; *out_id gets the final image id ("sha256:...", caller frees). Errors are one line
 * "Dockerfile:LINE: problem". On failure no tag is set and no container is left. Unshares
 * the calling process's mount namespace (the overlays it mounts die with it). */
int keel_build(struct keel_engine *e, const struct keel_build_opts *o, char **out_id,
	       keel_error_t *err);

#endif
