/* keel's KVM micro-VM monitor: the public API (issue 6, docs/vm.md).
 *
 * A VM is a process-local object: keel_vm_new() builds it (KVM VM, guest memory, devices, the
 * kernel loaded, vCPUs created but not running), keel_vm_start() starts one thread per vCPU,
 * keel_vm_wait() blocks until the guest resets (status 0), fails, or is stopped. Snapshots and
 * migration work on a built VM. The library never prints or exits. */
#ifndef KEEL_VM_H
#define KEEL_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/error.h"
#include "util/trace.h"

struct keel_vm;

struct keel_vm_config {
	char *name;          /* optional, recorded in snapshots and migration streams */
	char *kernel;        /* PVH ELF or bzImage */
	char *initrd;        /* optional */
	char *cmdline;       /* optional */
	unsigned cpus;       /* 1..KEEL_VM_MAX_CPUS */
	uint64_t mem_bytes;  /* guest RAM */
	char *disk;          /* optional raw image for virtio-blk */
	bool disk_ro;
	char *tap;           /* optional tap device name for virtio-net */
};

#define KEEL_VM_MAX_CPUS 64

/* Frees the strings of a config filled by the caller (not the struct itself). */
void keel_vm_config_clear(struct keel_vm_config *cfg);

/* Builds a VM from cfg (copied). Console output goes to console_fd (borrowed; must outlive
 * the VM). Returns NULL with *err set; nothing is left behind on failure. */
struct keel_vm *keel_vm_new(const struct keel_vm_config *cfg, int console_fd, keel_error_t *err);

/* Starts the vCPU threads. */
int keel_vm_start(struct keel_vm *vm, keel_error_t *err);

/* Blocks until the VM ends; returns its exit status (0 after a guest reset, the value given to
 * keel_vm_stop, or 1 after a failure with *err set). Joins the vCPU threads. */
int keel_vm_wait(struct keel_vm *vm, keel_error_t *err);

/* An eventfd that becomes readable when the VM has ended (borrowed), for poll loops. */
int keel_vm_exit_fd(const struct keel_vm *vm);

/* Asks the VM to end with status; returns at once. Async-signal-unsafe. */
void keel_vm_stop(struct keel_vm *vm, int status);

/* Stops every vCPU outside KVM_RUN (idempotent) / lets them run again. */
int keel_vm_pause(struct keel_vm *vm, keel_error_t *err);
void keel_vm_resume(struct keel_vm *vm);
bool keel_vm_paused(const struct keel_vm *vm);

/* Feeds console input bytes to the UART (as if typed). */
void keel_vm_console_input(struct keel_vm *vm, const void *buf, size_t len);

/* Replaces the console output fd (borrowed), e.g. once a received VM has its log. */
void keel_vm_set_console(struct keel_vm *vm, int fd);

/* Adds (fd >= 0) or removes (fd < 0) a second console output, e.g. an attached client. */
void keel_vm_console_attach(struct keel_vm *vm, int fd);

/* The configuration the VM runs with (borrowed). */
const struct keel_vm_config *keel_vm_config(const struct keel_vm *vm);

void keel_vm_free(struct keel_vm *vm);

/* Parses "256M", "1G", "1024" (MiB when no suffix... see docs/vm.md: bytes need "B"). */
int keel_vm_parse_size(const char *s, uint64_t *out, keel_error_t *err);

/* ---- snapshot / restore (snapshot.c) ---- */

/* Writes the paused VM's complete state into dir (created): state.bin and memory.
 * The VM is paused first and stays paused unless leave_running. */
int keel_vm_snapshot(struct keel_vm *vm, const char *dir, bool leave_running, keel_error_t *err);

/* Builds a VM from a snapshot dir, paused state loaded, ready for keel_vm_start. Memory is the
 * snapshot's memory file mapped privately (copy-on-write), so clones share unchanged pages. */
struct keel_vm *keel_vm_restore(const char *dir, int console_fd, keel_error_t *err);

/* Checks a snapshot's header, version and checksums without building a VM. with_memory also
 * verifies the memory file's checksum (reads it all). */
int keel_vm_snapshot_verify(const char *dir, bool with_memory, keel_error_t *err);

/* ---- live migration (migrate.c) ---- */

struct keel_vm_migrate_opts {
	uint64_t max_downtime_ms; /* default 50 */
	uint64_t bandwidth;       /* bytes/s, 0 = unlimited */
	unsigned max_rounds;      /* default 30 */
};

struct keel_vm_migrate_stats {
	unsigned rounds;
	uint64_t sent_bytes;
	uint64_t total_ms;
	uint64_t downtime_ms;
};

/* Source side: sends the running VM to host:port. On success the VM is stopped (status 0)
 * and the destination runs it; on any failure before the destination's acknowledgement the
 * VM keeps running here and -1 is returned. */
int keel_vm_migrate(struct keel_vm *vm, const char *addr, const struct keel_vm_migrate_opts *o,
		    struct keel_vm_migrate_stats *stats, keel_error_t *err);

/* Destination side: accepts one migration on listen_fd (a bound, listening TCP socket) and
 * returns the received VM, paused state loaded, ready for keel_vm_start. The caller must start
 * it and then call keel_vm_migrate_ack(conn_fd). *conn_fd receives the connection. ready
 * (optional) runs once the header is in and the VM (memory, vCPUs, devices) is built, before
 * any memory arrives: the place for the caller's own slow set-up, so that the downtime is
 * only the last pages, KVM_SET_* and KVM_RUN. Its failure fails the receive. */
struct keel_vm *keel_vm_receive(int listen_fd, int console_fd, int *conn_fd,
				int (*ready)(struct keel_vm *vm, void *arg, keel_error_t *err),
				void *arg, keel_error_t *err);

/* Tells the source the guest now runs here; closes conn_fd. */
int keel_vm_migrate_ack(int conn_fd, keel_error_t *err);

#endif
