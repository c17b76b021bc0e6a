/* VMs as files: <root>/vms/<name>/ holds config.json (docs/vm.md), console.log, vmm.log,
 * vmm.pid and control.sock while a VMM runs, and exit (status of the last run). */
#ifndef KEEL_VM_VMDIR_H
#define KEEL_VM_VMDIR_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "util/error.h"
#include "vm/vm.h"

/* The keel root: opt if given, else $KEEL_ROOT, else /var/lib/keel (borrowed). */
const char *keel_vm_root(const char *opt);

/* Fills out (PATH_MAX) with <root>/vms/<name>[/<file>]; rejects invalid names. */
int keel_vm_dir_path(const char *root, const char *name, const char *file, char *out,
		     keel_error_t *err);

/* Creates the VM's directory and config.json; fails with EEXIST if the name is taken. */
int keel_vm_dir_create(const char *root, const char *name, const struct keel_vm_config *cfg,
		       const char *origin, keel_error_t *err);

/* Reads config.json into cfg (caller clears it with keel_vm_config_clear). */
int keel_vm_dir_load(const char *root, const char *name, struct keel_vm_config *cfg,
		     keel_error_t *err);

/* Names of all VMs, sorted; *names is a NULL-terminated malloc'd vector. */
int keel_vm_dir_list(const char *root, char ***names, keel_error_t *err);

/* The pid of the VM's running VMM, or 0 when none runs. */
pid_t keel_vm_dir_pid(const char *root, const char *name);

/* Removes the VM's directory. */
int keel_vm_dir_remove(const char *root, const char *name, keel_error_t *err);

/* Records the end of a run: status and message in <dir>/exit. */
void keel_vm_dir_set_exit(const char *root, const char *name, int status, const char *msg);

/* Config as JSON text (malloc'd), for inspect. */
char *keel_vm_config_json(const struct keel_vm_config *cfg);
int keel_vm_config_from_json(const char *text, struct keel_vm_config *cfg, keel_error_t *err);

#endif
