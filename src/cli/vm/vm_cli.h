/* Shared pieces of `keel vm ...` (vm.c dispatches; vm_life.c, vm_move.c implement). */
#ifndef KEEL_CLI_VM_H
#define KEEL_CLI_VM_H

#include <stdbool.h>

#include "util/error.h"
#include "vm/vm.h"

struct vm_cli {
	const char *root;
};

/* How a VMM process gets its VM: from config (start), a snapshot (restore), a migration
 * stream (receive). build() runs in the VMM process; it may set l->name (receive learns it
 * from the stream) and must create the VM's directory when l->create_dir. */
struct vm_launch {
	const char *root;
	char name[80];
	bool attached, rm;
	bool ran; /* set once the VM was built (attached mode) */
	int keep_fd; /* fd the VMM process keeps (receive's listening socket), or -1 */
	struct keel_vm *(*build)(struct vm_launch *l, int console_fd, keel_error_t *err);
	int (*started)(struct keel_vm *vm, void *arg, keel_error_t *err);
	void *arg;
	const char *snapshot_dir;
	const char *want_name;
	int conn_fd;
	bool files_ready; /* control socket and vmm.pid made (vm_launch_files) */
	int ctl_fd;       /* the control socket once files_ready */
};

/* Runs the VMM attached (returns the VM's exit status) or daemonized (returns 0 once the VM
 * runs, 1 after printing the error). */
int vm_launch(struct vm_launch *l);

/* In the VMM process: makes the control socket and vmm.pid of l->name. vm_launch does it after
 * build(); receive does it earlier, before the guest pauses on the source. */
int vm_launch_files(struct vm_launch *l, keel_error_t *err);

/* Opens the console output of VM name: stdout when attached, else console.log. */
int vm_open_console(const struct vm_launch *l, keel_error_t *err);

int vm_cli_die(const keel_error_t *err); /* prints "keel vm: <msg>", returns 1 */

int vm_cmd_create(struct vm_cli *c, int argc, char **argv);
int vm_cmd_start(struct vm_cli *c, int argc, char **argv);
int vm_cmd_run(struct vm_cli *c, int argc, char **argv);
int vm_cmd_ls(struct vm_cli *c, int argc, char **argv);
int vm_cmd_inspect(struct vm_cli *c, int argc, char **argv);
int vm_cmd_logs(struct vm_cli *c, int argc, char **argv);
int vm_cmd_console(struct vm_cli *c, int argc, char **argv);
int vm_cmd_stop(struct vm_cli *c, int argc, char **argv);
int vm_cmd_rm(struct vm_cli *c, int argc, char **argv);
int vm_cmd_pause(struct vm_cli *c, int argc, char **argv);
int vm_cmd_resume(struct vm_cli *c, int argc, char **argv);
int vm_cmd_snapshot(struct vm_cli *c, int argc, char **argv);
int vm_cmd_restore(struct vm_cli *c, int argc, char **argv);
int vm_cmd_migrate(struct vm_cli *c, int argc, char **argv);
int vm_cmd_receive(struct vm_cli *c, int argc, char **argv);

#endif
