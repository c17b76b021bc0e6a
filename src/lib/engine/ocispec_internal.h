/* Parts of the config.json generator shared by ocispec.c (process, root, assembly) and
 * ocispec_linux.c (mounts, resources, devices, seccomp, paths). Not part of the API. */
#ifndef KEEL_OCISPEC_INTERNAL_H
#define KEEL_OCISPEC_INTERNAL_H

#include "engine/ocispec.h"
#include "engine/runopts_internal.h"

/* The "mounts" array: Docker's defaults (minus those a user mount replaces), --init's
 * binary, then -v/--mount binds (stable-sorted by depth) and tmpfs mounts. */
json_t *keel_ocispec_mounts(const struct keel_run_opts *o, const char *init_bin,
			    keel_error_t *err);

/* The "linux" object. caps is the bounding set (for the seccomp profile). */
json_t *keel_ocispec_linux(const struct keel_run_opts *o, const char *id, uint64_t caps,
			   keel_error_t *err);

/* Capability mask -> ["CAP_CHOWN", ...] in Docker's order (defaults first, as dockerd lists
 * them, then the rest by number). */
json_t *keel_ocispec_cap_names(uint64_t caps);

/* Adds key/value to obj, consuming value; -1 when either is NULL or on ENOMEM. */
int keel_json_set(json_t *obj, const char *key, json_t *value);
int keel_json_push(json_t *arr, json_t *value);

#endif
