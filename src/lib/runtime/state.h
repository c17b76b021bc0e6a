/* A container's persistent state: <root>/<id>/state.json plus the exec fifo, written by
 * `create`, read by every later command. Nothing lives in memory between commands; the
 * status is recomputed from the kernel each time (is the init alive, is its start time
 * the one we recorded, is the fifo still there, is the freezer frozen). */
#ifndef KEEL_STATE_H
#define KEEL_STATE_H

#include <stdbool.h>
#include <sys/types.h>

#include <jansson.h>

#include "util/error.h"

enum keel_status { KEEL_STATUS_CREATED, KEEL_STATUS_RUNNING, KEEL_STATUS_PAUSED, KEEL_STATUS_STOPPED };

struct keel_state {
	char *id;
	pid_t pid;                    /* host pid of the init */
	unsigned long long start_time; /* field 22 of /proc/<pid>/stat, guards against pid reuse */
	char *bundle;                 /* absolute */
	char *rootfs;                 /* absolute */
	char *created;                /* RFC 3339 with nanoseconds, UTC */
	char *cgroup_path;            /* as resolved by the cgroup module */
	char *owner;                  /* "" as runc's state prints */
	json_t *annotations;          /* object or NULL */
	bool own_pid_ns;              /* the container has its own pid namespace */
	char *config;                 /* the config.json text as it was at create */
};

/* Validates a container id as runc does: [A-Za-z0-9_+.-], not "." or "..", <= 1024 bytes. */
int keel_state_check_id(const char *id, keel_error_t *err);

/* <root>/<id> into buf. */
int keel_state_dir(const char *root, const char *id, char *buf, size_t len, keel_error_t *err);

/* Loads <root>/<id>/state.json. A missing container gives "container does not exist"
 * with errnum ENOENT. Caller frees with keel_state_free. */
struct keel_state *keel_state_load(const char *root, const char *id, keel_error_t *err);
int keel_state_save(const char *root, const struct keel_state *st, keel_error_t *err);
void keel_state_free(struct keel_state *st);

/* Recomputes the status from the kernel (and the freezer when a cgroup is given). */
enum keel_status keel_state_status(const char *root, const struct keel_state *st);
const char *keel_status_name(enum keel_status s);

/* Whether pid is alive (not a zombie) and started at start_time. */
bool keel_pid_alive(pid_t pid, unsigned long long start_time);
/* Field 22 of /proc/<pid>/stat, 0 on error. */
unsigned long long keel_pid_start_time(pid_t pid);

/* The state JSON as `runc state` prints it (status computed). New reference. */
json_t *keel_state_to_json(const char *root, const struct keel_state *st, bool with_owner);

/* The exec fifo's path for a container: <root>/<id>/exec.fifo */
int keel_state_fifo(const char *root, const char *id, char *buf, size_t len, keel_error_t *err);

#endif
