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

/* Joining at birth, without the RCU grace period an attach costs. Writing a pid into a v1
 * cgroup.procs (or anything into v2's) takes cgroup_threadgroup_rwsem for writing, which waits
 * for an RCU grace period whenever no other attach happened just before: 7-15 ms here, the
 * largest single cost of a container start. Two ways in avoid it:
 *  - v1: a single-threaded process writing "0" (itself, as one thread) into a hierarchy's
 *    `tasks` file does not take that lock (kernel/cgroup/cgroup.c cgroup_procs_write_start).
 *    The files are opened by the runtime (permission is the opener's) and written by the
 *    init first thing after its clone;
 *  - v2 (unified): clone3(CLONE_INTO_CGROUP) with the directory's fd, so the init is born
 *    there (Linux >= 5.7).
 * A struct keel_cgroup_join holds those fds. */
#define KEEL_CGROUP_JOIN_MAX 16
struct keel_cgroup_join {
	int tasks_fds[KEEL_CGROUP_JOIN_MAX]; /* v1: each hierarchy's <cgroup>/tasks, O_WRONLY */
	size_t n_tasks;
	int v2_fd; /* the unified cgroup's directory for CLONE_INTO_CGROUP, or -1 */
};

/* Opens the fds; -1 (and nothing open) when this cgroup cannot be joined that way. */
int keel_cgroup_join_prepare(struct keel_cgroup *cg, struct keel_cgroup_join *j, keel_error_t *err);
/* A raw clone (no new stack: like fork; flags may create namespaces) of the caller. With j
 * prepared, the child is born in j's cgroup2 and *joined is true: the child must call
 * keel_cgroup_join_self first thing. Otherwise (no j, or a kernel refusing CLONE_INTO_CGROUP)
 * j is closed, *joined false, and the caller moves the child with keel_cgroup_enter. */
pid_t keel_cgroup_clone(struct keel_cgroup_join *j, unsigned long flags, bool *joined);
/* In the new process, first thing: joins every v1 hierarchy. 0 or -1 with errno. */
int keel_cgroup_join_self(const struct keel_cgroup_join *j);
void keel_cgroup_join_close(struct keel_cgroup_join *j);

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
