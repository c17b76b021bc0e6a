/* The stage graph: which stage needs which (FROM <stage>, COPY --from, RUN --mount from=),
 * what a --target needs, and which stages may build in parallel. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "build/dockerfile_internal.h"
#include "build/eval.h"
#include "build/strbuf.h"
#include "util/cleanup.h"

int keel_df_stage_find(const struct keel_dockerfile *df, const char *ref)
{
	char *end;
	long idx;
	if (!ref || !*ref)
		return -1;
	for (size_t i = 0; i < df->nstages; i++)
		if (df->stages[i].name && strcasecmp(df->stages[i].name, ref) == 0)
			return (int)i;
	idx = strtol(ref, &end, 10);
	if (!*end && isdigit((unsigned char)ref[0]) && idx >= 0 && (size_t)idx < df->nstages)
		return (int)idx;
	return -1;
}

static int add_dep(struct keel_df_stage_deps *d, size_t s, keel_error_t *err)
{
	size_t *slot;
	for (size_t i = 0; i < d->nstages; i++)
		if (d->stages[i] == s)
			return 0;
	slot = vec_grow((void **)&d->stages, &d->nstages, sizeof(size_t));
	if (!slot)
		return keel_err(err, ENOMEM, "stage graph");
	*slot = s;
	/* keep sorted: insertion */
	for (size_t i = d->nstages - 1; i > 0 && d->stages[i - 1] > d->stages[i]; i--) {
		size_t t = d->stages[i];
		d->stages[i] = d->stages[i - 1];
		d->stages[i - 1] = t;
	}
	return 0;
}

/* "type=bind,from=builder,target=/x" -> "builder" (a new string) or NULL. */
static char *mount_from(const char *spec)
{
	const char *p = spec;
	while (p && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > 5 && strncmp(p, "from=", 5) == 0)
			return strndup(p + 5, len - 5);
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

/* A reference to another stage from instruction `in` of stage `self`. */
static int stage_ref(const struct keel_dockerfile *df, struct keel_df_graph *g, size_t self,
		     const struct keel_df_instr *in, const char *ref, keel_error_t *err)
{
	int s = keel_df_stage_find(df, ref);
	if (s < 0)
		return 0; /* an image */
	if ((size_t)s == self)
		return df_err(err, df, in->line, "circular dependency: stage %s refers to itself",
			      ref);
	return add_dep(&g->deps[self], (size_t)s, err);
}

static int stage_deps(const struct keel_dockerfile *df, struct keel_df_graph *g, size_t i,
		      char *const *build_args, keel_error_t *err)
{
	const struct keel_df_stage *st = &df->stages[i];
	struct keel_df_eval_opts opts = { .build_args = build_args };
	struct keel_df_stage_eval ev = { 0 };
	int r = keel_df_eval_stage(df, i, &opts, &ev, err);

	g->deps[i].base_stage = -1;
	if (r == 0) {
		int b = keel_df_stage_find(df, ev.base);
		/* FROM names earlier stages only: "FROM node AS node" is the image node. */
		if (b >= 0 && (size_t)b < i && df->stages[b].name &&
		    strcasecmp(df->stages[b].name, ev.base) == 0) {
			g->deps[i].base_stage = b;
			r = add_dep(&g->deps[i], (size_t)b, err);
		}
	}
	for (size_t k = 1; r == 0 && k < st->count; k++) {
		const struct keel_df_step *step = &ev.steps[k];
		for (size_t f = 0; r == 0 && f < step->nflags; f++) {
			const struct keel_df_flag *fl = &step->flags[f];
			cleanup_free char *m = NULL;
			if (!fl->value)
				continue;
			if (strcmp(fl->name, "from") == 0)
				r = stage_ref(df, g, i, step->instr, fl->value, err);
			else if (strcmp(fl->name, "mount") == 0 && (m = mount_from(fl->value)))
				r = stage_ref(df, g, i, step->instr, m, err);
		}
	}
	keel_df_stage_eval_free(&ev);
	return r;
}

/* Depth-first: wave = 1 + max(wave of deps); state 1 = on the path (a cycle). */
static int compute_wave(const struct keel_dockerfile *df, struct keel_df_graph *g, size_t i,
			char *state, keel_error_t *err)
{
	int w = 0;
	if (state[i] == 2)
		return 0;
	if (state[i] == 1)
		return df_err(err, df, df->instrs[df->stages[i].first].line,
			      "circular dependency detected on stage %zu%s%s", i,
			      df->stages[i].name ? " " : "",
			      df->stages[i].name ? df->stages[i].name : "");
	state[i] = 1;
	for (size_t k = 0; k < g->deps[i].nstages; k++) {
		size_t d = g->deps[i].stages[k];
		if (compute_wave(df, g, d, state, err) < 0)
			return -1;
		if (g->wave[d] + 1 > w)
			w = g->wave[d] + 1;
	}
	g->wave[i] = w;
	state[i] = 2;
	return 0;
}

int keel_df_graph_build(const struct keel_dockerfile *df, char *const *build_args,
			struct keel_df_graph *g, keel_error_t *err)
{
	cleanup_free char *state = calloc(df->nstages + 1, 1);
	memset(g, 0, sizeof(*g));
	g->deps = calloc(df->nstages + 1, sizeof(*g->deps));
	g->wave = calloc(df->nstages + 1, sizeof(int));
	g->nstages = df->nstages;
	if (!state || !g->deps || !g->wave) {
		keel_df_graph_free(g);
		return keel_err(err, ENOMEM, "stage graph");
	}
	for (size_t i = 0; i < df->nstages; i++)
		if (stage_deps(df, g, i, build_args, err) < 0) {
			keel_df_graph_free(g);
			return -1;
		}
	for (size_t i = 0; i < df->nstages; i++)
		if (compute_wave(df, g, i, state, err) < 0) {
			keel_df_graph_free(g);
			return -1;
		}
	return 0;
}

void keel_df_graph_free(struct keel_df_graph *g)
{
	for (size_t i = 0; g->deps && i < g->nstages; i++)
		free(g->deps[i].stages);
	free(g->deps);
	free(g->wave);
	memset(g, 0, sizeof(*g));
}

static void mark(const struct keel_df_graph *g, size_t i, bool *needed)
{
	if (needed[i])
		return;
	needed[i] = true;
	for (size_t k = 0; k < g->deps[i].nstages; k++)
		mark(g, g->deps[i].stages[k], needed);
}

int keel_df_graph_needed(const struct keel_dockerfile *df, const struct keel_df_graph *g,
			 const char *target, bool *needed, keel_error_t *err)
{
	int t = target && *target ? keel_df_stage_find(df, target) : (int)df->nstages - 1;
	if (t < 0)
		return keel_err_user(err, ENOENT, "target stage \"%s\" could not be found", target);
	memset(needed, 0, df->nstages * sizeof(bool));
	mark(g, (size_t)t, needed);
	return t;
}
