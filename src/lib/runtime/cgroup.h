/* Container cgroups behind one interface, two backends: v1 (per-controller hierarchies,
 * including the hybrid layout with v2 mounted at <root>/unified without controllers) and
 * v2 (unified). The backend is chosen at run time from the filesystem at the root
 * (statfs: CGROUP2_SUPER_MAGIC at <root> = v2, else v1).
 *
 * A struct keel_cgroup names one container's cgroup(s); it can be re-opened later from the
 * same (root, cgroups_path, id) — nothing is kept in memory between runtime invocations.
 * The root is "/sys/fs/cgroup" in production; unit tests pass a fake directory tree and an
 * explicit mode. */
#ifndef KEEL_CGROUP_H
#define KEEL_CGROUP_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "runtime/spec.h"
#include "util/error.h"

enum keel_cgroup_mode { KEEL_CGROUP_AUTO, KEEL_CGROUP_V1, KEEL_CGROUP_V2 };

struct keel_cgroup;

/* Resolves the container's cgroup. cgroups_path is linux.cgroupsPath (NULL/"" -> "/<id>",
 * as runc does); a relative path is taken relative to the cgroup root of the hierarchy, as
 * runc does. Nothing is created. root NULL means "/sys/fs/cgroup". Returns NULL + *err. */
struct keel_cgroup *keel_cgroup_open(const char *root, enum keel_cgroup_mode mode,
				     const char *cgroups_path, const char *id, keel_error_t *err);
void keel_cgroup_free(struct keel_cgroup *cg);

enum keel_cgroup_mode keel_cgroup_get_mode(const struct keel_cgroup *cg);

/* The path inside each hierarchy, e.g. "/docker/<id>" (borrowed). */
const char *keel_cgroup_path(const struct keel_cgroup *cg);

/* Creates the directories (every v1 controller, plus the unified one in hybrid mode; v2:
 * enables the needed controllers in the parents' cgroup.subtree_control). Existing
 * directories are reused (IDs and paths are reused by engines). */
int keel_cgroup_create(struct keel_cgroup *cg, keel_error_t *err);

/* Writes the limits. Only fields with has_ set (or non-empty lists) are touched, so this is
 * also `runc update`. Errors name the knob: "cgroup: memory.limit_in_bytes: ...". */
int keel_cgroup_apply(struct keel_cgroup *cg, const struct keel_spec_resources *res,
		      keel_error_t *err);

/* Moves pid into the container's cgroup(s) in every hierarchy. */
int keel_cgroup_enter(struct keel_cgroup *cg, pid_t pid, keel_error_t *err);

/* Freezer: freeze (true) / thaw (false); waits until the state settles. */
int keel_cgroup_freeze(struct keel_cgroup *cg, bool frozen, keel_error_t *err);
/* 1 frozen, 0 not, -1 error. */
int keel_cgroup_is_frozen(struct keel_cgroup *cg, keel_error_t *err);

/* Every pid in the cgroup (cgroup.procs, recursively for sub-cgroups). *pids is malloc'd. */
int keel_cgroup_pids(struct keel_cgroup *cg, pid_t **pids, size_t *n, keel_error_t *err);

/* Sends sig to every process in the cgroup (freezing around it so none escapes by forking). */
int keel_cgroup_kill_all(struct keel_cgroup *cg, int sig, keel_error_t *err);

/* runc `events --stats` "data" object: {"cpu":{...},"memory":{...},"pids":{...},"blkio":{...},
 * "hugetlb":{...}} — a new reference. */
json_t *keel_cgroup_stats(struct keel_cgroup *cg, keel_error_t *err);

/* Removes the directories (children first); missing is fine. Retries briefly on EBUSY while
 * the last processes exit. */
int keel_cgroup_destroy(struct keel_cgroup *cg, keel_error_t *err);

#endif
