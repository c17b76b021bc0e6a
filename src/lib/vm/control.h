/* The VMM process: runs a built VM and serves its control socket (one JSON request line, one
 * JSON reply line; docs/vm.md lists the commands) and, when attached, its console. */
#ifndef KEEL_VM_CONTROL_H
#define KEEL_VM_CONTROL_H

#include <jansson.h>
#include <stdbool.h>

#include "util/error.h"
#include "vm/vm.h"

struct keel_vm_serve_opts {
	int listen_fd; /* control socket (listening), or -1 */
	int stdin_fd;  /* attached console input, or -1 */
	bool escape;   /* Ctrl-] on stdin_fd stops the VM (raw tty) */
	/* Called after keel_vm_start, e.g. to ack a migration; may be NULL. */
	int (*started)(struct keel_vm *vm, void *arg, keel_error_t *err);
	void *arg;
};

/* Starts vm and serves until it ends. SIGTERM/SIGINT/SIGHUP stop the VM (128+sig). Returns
 * the VM's exit status; *err is set when the VM failed. */
int keel_vm_serve(struct keel_vm *vm, const struct keel_vm_serve_opts *o, keel_error_t *err);

/* A listening unix socket at path (replacing a stale one). */
int keel_vm_control_listen(const char *path, keel_error_t *err);

/* Connects to path, sends req, returns the reply object (new reference). A reply with
 * "ok": false becomes an error with its message. *fd_out (optional) keeps the connection. */
json_t *keel_vm_control_call(const char *path, json_t *req, int *fd_out, keel_error_t *err);

#endif
