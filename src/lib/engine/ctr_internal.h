/* What the container engine's files share (not for the CLI: it uses containers.h). */
#ifndef KEEL_CTR_INTERNAL_H
#define KEEL_CTR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/containers.h"

/* Like keel_err, but the message is docker's sentence alone (no strerror suffix); errnum
 * still says what kind of failure it is. Returns -1. */
int keel_ctr_msg(keel_error_t *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Inserts the record; EEXIST with docker's conflict message when the name is taken. */
int keel_ctr_db_insert(struct keel_engine *e, const struct keel_ctr *c, keel_error_t *err);
int keel_ctr_db_delete(struct keel_engine *e, const char *id, keel_error_t *err);

/* RFC 3339 nano UTC of now into buf (>= 48 bytes). */
void keel_ctr_now(char *buf, size_t len);

/* 64 random hex characters + NUL. */
int keel_ctr_new_id(char id[KEEL_CTR_ID_LEN + 1], keel_error_t *err);

/* Docker's name rule [a-zA-Z0-9][a-zA-Z0-9_.-]+ (a leading "/" is dropped by the caller). */
bool keel_ctr_name_valid(const char *name);

/* ---------- rootfs (ctr_rootfs.c) ---------- */

/* Moves the calling process into a new mount namespace (every mount a slave of the host's,
 * so nothing propagates back) and mounts the overlay of layers (lowest first) with dir's
 * upper/ and work/ on dir/merged. *host_ns receives an fd of the previous namespace for
 * keel_ctr_ns_leave. On failure the process is back in its namespace. Single-threaded
 * callers only (setns of a mount namespace). */
int keel_ctr_ns_enter(const char *dir, char *const *layers, int *host_ns, keel_error_t *err);

/* Returns to the namespace saved by keel_ctr_ns_enter and closes host_ns. The private
 * namespace (and the overlay in it) lives on while a process (the monitor) is inside. */
int keel_ctr_ns_leave(int host_ns, keel_error_t *err);

/* Like keel_ctr_ns_leave, but keeps the private namespace (an fd in this module) for the next
 * keel_ctr_ns_enter of the same dir, which then enters it instead of mounting again (the
 * layers must be the same). keel_ctr_ns_forget drops it; any other enter does too. */
int keel_ctr_ns_leave_keep(const char *dir, int host_ns, keel_error_t *err);
void keel_ctr_ns_forget(void);

/* Creates upper/ work/ merged/ and the hostname, hosts and resolv.conf files of a new
 * container directory. host_network: copy the host's /etc/hosts as docker does. */
int keel_ctr_dir_populate(const char *dir, const char *hostname, char *const *add_hosts,
			  bool host_network, keel_error_t *err);

/* The init layer shared by every container, <root>/container-init (made on first use), into
 * out. */
int keel_ctr_init_layer(const char *root, char *out, size_t len, keel_error_t *err);

/* The image's layer dirs for the container (from the store), then the init layer; lowest
 * first. NULL-terminated, caller frees
 * with the strv cleanup. */
char **keel_ctr_layers(struct keel_engine *e, const struct keel_ctr *c, keel_error_t *err);

#endif
