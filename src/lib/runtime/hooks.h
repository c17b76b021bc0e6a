/* OCI hooks: each runs as a child with the container's state JSON on stdin, path + args +
 * env exactly as given (args[0] is argv[0]; no PATH search), killed when its timeout passes. */
#ifndef KEEL_HOOKS_H
#define KEEL_HOOKS_H

#include <stddef.h>

#include "runtime/spec.h"
#include "util/error.h"

/* Runs hooks[0..n) in order; the first failure stops the run and sets *err to
 * "<kind> hook #<i> (<path>): exit status 3, stderr: <first line of its stderr>" (or
 * "timed out after 5s", "killed by signal 9"). kind_name is e.g. "prestart".
 * state_json is written to each hook's stdin. Not async-signal-safe; may be called in a
 * forked child (it forks again). */
int keel_hooks_run(const struct keel_spec_hook *hooks, size_t n, const char *kind_name,
		   const char *state_json, keel_error_t *err);

/* "prestart", "createRuntime", ... */
const char *keel_hook_kind_name(enum keel_hook_kind kind);

#endif
