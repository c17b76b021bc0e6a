/* What `keel build` shows while it works: Docker's legacy builder lines ("Step 2/5 : RUN ...",
 * " ---> Using cache", RUN output) when the output is not a terminal, a compact live display
 * on a terminal (one line per running stage with its step, elapsed time and the tail of its
 * RUN output; finished steps scroll above it with CACHED or their time).
 *
 * Stages may run at the same time, in worker processes (exec_build.c): a worker reports
 * through a forwarder (keel_progress_forward) that writes frames to a pipe, and the parent
 * feeds them to its renderer (keel_progress_feed). The plain renderer keeps the sequential
 * build's output byte for byte: a stage's lines are shown live while every stage before it
 * (in the order they were added) has finished, and held back until then otherwise.
 *
 * Every function accepts a NULL progress (quiet: nothing is shown). */
#ifndef KEEL_BUILD_PROGRESS_H
#define KEEL_BUILD_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util/error.h"

enum keel_progress_mode {
	KEEL_PROGRESS_AUTO,  /* TTY when out is a terminal (and TERM is not "dumb"), else PLAIN */
	KEEL_PROGRESS_PLAIN, /* Docker's legacy builder lines */
	KEEL_PROGRESS_TTY,   /* the live display */
};

struct keel_progress;

/* A renderer writing to out (borrowed, must outlive it). NULL with *err on ENOMEM. */
struct keel_progress *keel_progress_new(FILE *out, enum keel_progress_mode mode, keel_error_t *err);
/* A forwarder for a worker process: every report becomes a frame on fd (borrowed). */
struct keel_progress *keel_progress_forward(int fd, keel_error_t *err);
/* Finishes the display (the tty's live area becomes a final summary) and frees. */
void keel_progress_free(struct keel_progress *p);

/* True when p draws the live display. */
bool keel_progress_is_tty(const struct keel_progress *p);

/* Declares stage (an index < 4096) with its display name and its number of steps. Stages
 * are shown in plain output in the order they are added. */
int keel_progress_add_stage(struct keel_progress *p, size_t stage, const char *name, size_t nsteps,
			    keel_error_t *err);

/* "Step step/total : text": stage starts its next step. */
void keel_progress_step(struct keel_progress *p, size_t stage, size_t step, size_t total,
			const char *text);
/* The current step of stage came from the build cache. */
void keel_progress_cached(struct keel_progress *p, size_t stage);
/* Any other output of stage (RUN's output, " ---> <id>" lines), as it comes. */
void keel_progress_text(struct keel_progress *p, size_t stage, const void *buf, size_t len);
/* Stage finished (ok false: it failed; its last output stays on the screen). */
void keel_progress_end(struct keel_progress *p, size_t stage, bool ok);

/* A stream whose writes are keel_progress_text(p, stage, ...), unbuffered; owned by p, valid
 * until keel_progress_free. NULL when p is NULL (or on ENOMEM). */
FILE *keel_progress_stream(struct keel_progress *p, size_t stage);

/* Parent side of a forwarder: reads what is available on fd (a pipe from a worker building
 * stage) and replays it on p. Returns 1 while the pipe is open, 0 at its end, -1 on a read
 * error. */
int keel_progress_feed(struct keel_progress *p, size_t stage, int fd, keel_error_t *err);
/* Redraws the live display when it is due (call it a few times a second while waiting). */
void keel_progress_tick(struct keel_progress *p);

#endif
