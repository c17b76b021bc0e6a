/* Capabilities of the container process: the bounding set is dropped while still root,
 * the other four sets are set after the uid switch (PR_SET_KEEPCAPS keeps permitted across
 * setuid), then ambient caps are raised. */
#ifndef KEEL_CAPS_H
#define KEEL_CAPS_H

#include "runtime/spec.h"
#include "util/error.h"

/* Drops every capability not in c->bounding from the bounding set. */
int keel_caps_drop_bounding(const struct keel_spec_caps *c, keel_error_t *err);

/* Sets effective, permitted and inheritable, then raises the ambient ones. */
int keel_caps_apply(const struct keel_spec_caps *c, keel_error_t *err);

#endif
