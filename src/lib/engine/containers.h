/* Containers made from images: the records, their directories and their lifecycle — what
 * `keel run`, `ps`, `stop`, `rm`, ... call. docs/containers.md describes the behaviour.
 *
 * On disk, under the data root (default /var/lib/keel):
 *   keel.db                  table `containers` (component "containers" of the store's DB)
 *   containers/<id>/         config.json (the OCI bundle), upper/ work/ merged/ (overlay),
 *                            hostname, hosts, resolv.conf (bind-mounted like docker's),
 *                            <id>-json.log, monitor.json + attach.sock (see monitor.h)
 * and under the run root (default /run/keel): runtime/ (the OCI runtime's state root).
 *
 * The rootfs overlay is mounted only inside a private mount namespace that the container's
 * monitor and the container live in: it disappears with the last of them, so a crash, a
 * kill -9 or a reboot can never leak it, and the host's mount table never shows it.
 *
 * Every function returns >= 0 on success and -1 with *err on failure. A missing container
 * is err->errnum == ENOENT ("No such container: x"), a name conflict or a container in the
 * wrong state EBUSY / EEXIST. Nothing here prints or exits. */
#ifndef KEEL_CONTAINERS_H
#define KEEL_CONTAINERS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "store/store.h"
#include "util/error.h"

#define KEEL_CTR_ID_LEN 64

struct keel_engine {
	struct keel_store *store;
	char *root;	    /* data root, absolute */
	char *run_root;	    /* run state root, absolute */
	char *runtime_root; /* <run_root>/runtime */
};

/* The data root when none is given: $KEEL_ROOT or /var/lib/keel; the run root: $KEEL_RUN_ROOT
 * or /run/keel. Borrowed. */
const char *keel_engine_default_run_root(void);

/* Opens the store at root (NULL = default) and the run root (NULL = default) and migrates the
 * containers table. Caller releases with keel_engine_close (NULL is fine). */
struct keel_engine *keel_engine_open(const char *root, const char *run_root, keel_error_t *err);
void keel_engine_close(struct keel_engine *e);

/* One container record. */
struct keel_ctr {
	char id[KEEL_CTR_ID_LEN + 1];
	char *name;	 /* without docker's leading "/" */
	char *image_id;	 /* "sha256:<hex>" */
	char *image_ref; /* as the user named it ("busybox") */
	char *created;	 /* RFC 3339 nano, UTC */
	/* Docker's shape, what inspect prints and start needs: {"Path","Args","Config":{..},
	 * "HostConfig":{..}}. Config has Tty, OpenStdin, StdinOnce, Labels, StopSignal,
	 * StopTimeout; HostConfig has RestartPolicy, AutoRemove, LogConfig, ... */
	json_t *doc;
};

void keel_ctr_free(struct keel_ctr *c);

/* Container directory of id (caller frees). */
char *keel_ctr_dir(const struct keel_engine *e, const char *id);

/* Finds a container by full id, name (with or without "/") or unique id prefix, in docker's
 * order. ENOENT "No such container: x"; EBUSY for an ambiguous prefix. */
struct keel_ctr *keel_ctr_get(struct keel_engine *e, const char *ref, keel_error_t *err);

/* Every container, newest first. *out is a malloc'd array of n records. */
int keel_ctr_list(struct keel_engine *e, struct keel_ctr ***out, size_t *n, keel_error_t *err);
void keel_ctr_list_free(struct keel_ctr **v, size_t n);

/* A docker-style random name ("focused_turing"), not yet used by any container. */
char *keel_ctr_random_name(struct keel_engine *e, keel_error_t *err);

/* `rename`: EEXIST (docker's conflict message) when the name is taken. */
int keel_ctr_rename(struct keel_engine *e, struct keel_ctr *c, const char *name, keel_error_t *err);

/* ---------- status ---------- */

enum keel_ctr_state {
	KEEL_CTR_CREATED,
	KEEL_CTR_RUNNING,
	KEEL_CTR_PAUSED,
	KEEL_CTR_RESTARTING,
	KEEL_CTR_EXITED,
	KEEL_CTR_DEAD,
};

struct keel_ctr_status {
	enum keel_ctr_state state;
	pid_t pid;	    /* init, 0 when not running */
	pid_t monitor_pid;  /* 0 when none (or it is leaving after the exit) */
	pid_t monitor_last; /* the last monitor's pid, maybe still leaving; 0 = never started */
	int exit_code;
	int restart_count;
	bool oom_killed;
	char started_at[48]; /* "" = never (docker: 0001-01-01T00:00:00Z) */
	char finished_at[48];
	char error[256];
};

/* Docker's State.Status word: created, running, paused, restarting, exited, dead. */
const char *keel_ctr_state_name(enum keel_ctr_state s);

/* The container's state, reconciled with the truth (a dead monitor, a reboot: see
 * keel_monitor_reconcile; orphaned inits are killed). */
int keel_ctr_status(struct keel_engine *e, const struct keel_ctr *c, struct keel_ctr_status *st,
		    keel_error_t *err);

/* ---------- lifecycle ---------- */

/* Starts a created or exited container: mounts its rootfs (private namespace), spawns its
 * monitor. With attach the container is created and waits for the first attach client
 * (run in the foreground, start -a) before it starts. Returns 0 when started; a failure to
 * run the command sets err (errnum ENOENT for "not found": docker's 127, else 126) and
 * returns -2; other failures (keel's own) return -1. Call before creating threads. */
int keel_ctr_start(struct keel_engine *e, const struct keel_ctr *c, bool attach, keel_error_t *err);

/* `stop -t`: STOPSIGNAL (or sig when > 0), SIGKILL after timeout seconds (< 0 = the
 * container's StopTimeout or 10). A stopped container succeeds at once. */
int keel_ctr_stop(struct keel_engine *e, const struct keel_ctr *c, int timeout, keel_error_t *err);

/* `kill -s`: EBUSY "Container x is not running" when it is not. */
int keel_ctr_kill(struct keel_engine *e, const struct keel_ctr *c, int sig, keel_error_t *err);

/* `wait`: blocks until the container is not running; *exit_code its code. */
int keel_ctr_wait(struct keel_engine *e, const struct keel_ctr *c, int *exit_code,
		  keel_error_t *err);

int keel_ctr_pause(struct keel_engine *e, const struct keel_ctr *c, bool pause, keel_error_t *err);

/* `rm`: a running container needs force (EBUSY otherwise, docker's words); then the record,
 * the directory, the runtime state and the image use are gone. */
int keel_ctr_remove(struct keel_engine *e, const struct keel_ctr *c, bool force, keel_error_t *err);

/* Removes every finished container whose HostConfig.AutoRemove is set (run --rm whose client
 * went away). Called by ps and prune. Returns how many. */
int keel_ctr_gc(struct keel_engine *e, keel_error_t *err);

/* The path of the json-file log (caller frees). */
char *keel_ctr_log_path(const struct keel_engine *e, const struct keel_ctr *c);

/* ---------- inspect ---------- */

/* Docker's inspect object for the container (new reference). */
json_t *keel_ctr_inspect(struct keel_engine *e, const struct keel_ctr *c, keel_error_t *err);

/* `"sleep 1000"`-style command line: Path and Args joined by spaces (caller frees). */
char *keel_ctr_command(const struct keel_ctr *c);

/* ---------- exec ---------- */

struct keel_ctr_exec {
	char **args; /* NULL-terminated, required */
	char **env;  /* "K=V" added to the container's env; NULL-terminated or NULL */
	const char *workdir, *user;
	bool tty, detach, privileged;
	const char *console_socket; /* required with tty */
};

/* Runs a process in a running container (EBUSY "Container x is not running"). Detached or
 * with a tty it returns once the process runs, *pid being the caller's child to wait for;
 * otherwise it waits and returns the exit status (code or 128+signal) in *status. A command
 * that cannot be run gives -2 with errnum ENOENT (127) or another (126). */
int keel_ctr_exec(struct keel_engine *e, const struct keel_ctr *c, const struct keel_ctr_exec *x,
		  pid_t *pid, int *status, keel_error_t *err);

/* ---------- tools (ctr_tools.c) ---------- */

/* The container's root as an O_PATH directory fd (caller closes): a running container's
 * through its init (/proc/<pid>/root), a stopped one's overlay mounted privately (the fd
 * keeps it alive; closing the fd takes it down). For cp and export. */
int keel_ctr_rootfs_fd(struct keel_engine *e, const struct keel_ctr *c, keel_error_t *err);

/* For export: like keel_ctr_rootfs_fd, but for a running container only its root mount (a
 * detached clone), as docker exports the container's layers: not /proc, /sys, /dev, nor the
 * volumes and tmpfs mounted in it. */
int keel_ctr_export_fd(struct keel_engine *e, const struct keel_ctr *c, keel_error_t *err);

/* The image layer dirs top-most first (overlayfs' lowerdir order), for diff. strv. */
char **keel_ctr_lowers(struct keel_engine *e, const struct keel_ctr *c, keel_error_t *err);

/* Host pids of a running container's processes (malloc'd); EBUSY when not running. */
int keel_ctr_pids(struct keel_engine *e, const struct keel_ctr *c, pid_t **pids, size_t *n,
		  keel_error_t *err);

/* `commit`: a new image of the container's image plus its upper dir, with the container's
 * Config (Cmd, Entrypoint, Env, WorkingDir, User, Labels) and Dockerfile-style changes
 * applied; tag and comment/author may be NULL. Returns the new id (caller frees). */
char *keel_ctr_commit(struct keel_engine *e, const struct keel_ctr *c, const char *tag,
		      char *const *changes, const char *comment, const char *author,
		      keel_error_t *err);

/* ---------- create (ctr_create.c) ---------- */

struct keel_run_opts;

/* `create`: resolves the image (busybox is built on first use), generates the bundle, writes
 * the record and the directory. image_ref as given. On failure nothing is left. Returns a
 * new record (caller frees). ENOENT "No such image: x" for an unknown image. */
struct keel_ctr *keel_ctr_create(struct keel_engine *e, const char *image_ref,
				 const struct keel_run_opts *o, keel_error_t *err);

#endif
