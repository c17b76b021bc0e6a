/* Between pull.c (manifests, config, recording the image) and pull_layer.c (the layer
 * workers). */
#ifndef KEEL_REGISTRY_PULL_H
#define KEEL_REGISTRY_PULL_H

#include <stdatomic.h>

#include "image/manifest.h"
#include "registry/regclient.h"
#include "store/imagedb.h"

enum pull_kind { JOB_SKIP, JOB_LOCAL, JOB_FETCH };

struct pull_job {
	const struct keel_descriptor *desc;
	const char *diff_id;
	char parent_chain[KEEL_DIGEST_SIZE]; /* "" at the bottom */
	char chain_id[KEEL_DIGEST_SIZE];
	char id[13];
	enum pull_kind kind;
	struct keel_layer_rec rec; /* filled by the job (by the planner for JOB_SKIP) */
	char media_type[128];
};

struct pull_ctx {
	struct keel_store *s;
	struct keel_reg_client *c;
	const struct keel_reg_options *o;
	char blob_url[1024]; /* "/v2/<repo>/blobs/" */
	char scope[600];
	struct pull_job *jobs;
	size_t n;
	size_t next;
	pthread_mutex_t lock;
	atomic_bool cancel;
	keel_error_t err; /* the first failure */
	bool failed;
};

void pull_emit(const struct keel_reg_options *o, enum keel_reg_state st, const char *id,
	       int64_t cur, int64_t total, const char *text);

/* Runs every job on o->parallel worker threads; the first failure cancels the rest. */
int pull_layers(struct pull_ctx *ctx, keel_error_t *err);

#endif
