/* The OCI runtime's operations on one container, each a short list of named steps. State is
 * kept under a root directory (runc's --root), one directory per container id; see state.h.
 *
 * Process model (what containerd's shim relies on): `create` returns once the init is
 * blocked before exec'ing process.args, with namespaces, mounts and cgroups in place; the
 * init is a direct child of the create process, so it is reparented to the caller's
 * subreaper when create exits; `start` releases it through the exec fifo. */
#ifndef KEEL_CONTAINER_H
#define KEEL_CONTAINER_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "runtime/spec.h"
#include "util/error.h"

struct keel_create_opts {
	const char *root;           /* state root (runc --root) */
	const char *id;
	const char *bundle;         /* NULL = cwd */
	const char *pid_file;       /* NULL = none; written atomically, no trailing newline */
	const char *console_socket; /* required when process.terminal */
	int preserve_fds;
	int listen_fds;             /* systemd socket activation: LISTEN_FDS of the caller */
	bool no_pivot;
	bool no_new_keyring;
};

/* Creates the container; on success *pid is the init's host pid. On failure nothing is left
 * behind: no state directory, cgroup, mount or process. The calling process's cwd becomes the
 * bundle directory (relative mount sources resolve against it, as with runc). */
int keel_container_create(const struct keel_create_opts *o, pid_t *pid, keel_error_t *err);

/* Releases a created container's init to exec process.args; runs poststart hooks. */
int keel_container_start(const char *root, const char *id, keel_error_t *err);

/* Sends sig to the init, or with all to every process in its cgroup. */
int keel_container_kill(const char *root, const char *id, int sig, bool all, keel_error_t *err);

/* Removes a stopped (or, with force, any) container: kills, runs poststop hooks, removes the
 * cgroup and the state. force on an unknown id succeeds. */
int keel_container_delete(const char *root, const char *id, bool force, keel_error_t *err);

/* runc state JSON; new reference. */
json_t *keel_container_state(const char *root, const char *id, keel_error_t *err);

/* Array of state objects (owner filled) for every container under root; new reference. */
json_t *keel_container_list(const char *root, keel_error_t *err);

int keel_container_pause(const char *root, const char *id, keel_error_t *err);
int keel_container_resume(const char *root, const char *id, keel_error_t *err);

/* Host pids of every process of the container (malloc'd array). */
int keel_container_pids(const char *root, const char *id, pid_t **pids, size_t *n,
			keel_error_t *err);

int keel_container_update(const char *root, const char *id, const struct keel_spec_resources *r,
			  keel_error_t *err);

/* `events --stats` object {"type":"stats","id":..,"data":{..}}; new reference. */
json_t *keel_container_stats(const char *root, const char *id, keel_error_t *err);

struct keel_exec_opts {
	const char *root;
	const char *id;
	struct keel_spec_process *proc; /* complete process (the CLI merges flags and defaults) */
	const char *console_socket;
	const char *pid_file;
	int preserve_fds;
	bool detach;
	bool ignore_paused;
};

/* Runs a new process in the container. Detached: returns once it runs (*status = 0).
 * Otherwise waits and sets *status to its exit status (128+signal when killed). */
int keel_container_exec(const struct keel_exec_opts *o, pid_t *pid, keel_error_t *err);

/* Loads the container's saved config (the one it was created with). */
struct keel_spec *keel_container_spec(const char *root, const char *id, keel_error_t *err);

/* Waits for a child pid, returning its status the shell way (code, or 128+signal). */
int keel_wait_status(pid_t pid);

#endif
