/* Internals of the VM monitor, shared by its files (kvmtool's seams: struct keel_vm, a device
 * ops table, a vCPU loop that switches on the exit reason). Not part of the public API. */
#ifndef KEEL_VM_KVM_H
#define KEEL_VM_KVM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vm/vm.h"

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)
#define PAGE_SIZE 4096ULL

/* Guest-physical layout (see docs/vm.md). RAM above 3 GiB continues at 4 GiB. */
#define BOOT_GDT        0x500ULL    /* 4 descriptors: null, null, code 0x10, data 0x18 */
#define BOOT_START_INFO 0x6000ULL   /* hvm_start_info */
#define BOOT_MODLIST    0x6040ULL   /* one hvm_modlist_entry (initrd) */
#define BOOT_MEMMAP     0x6100ULL   /* hvm_memmap_table_entry[] */
#define BOOT_ZERO_PAGE  0x7000ULL   /* bzImage boot_params */
#define BOOT_PGTABLE    0x9000ULL   /* bzImage: pml4, pdpt, pd at +0, +0x1000, +0x2000 */
#define BOOT_CMDLINE    0x20000ULL
#define BOOT_CMDLINE_MAX 0x10000ULL
#define LOW_RAM_END     0x9fc00ULL
#define HIGH_RAM_START  0x100000ULL
#define MMIO_HOLE_START (3 * GiB)
#define MMIO_HOLE_END   (4 * GiB)
#define VIRTIO_MMIO_BASE 0xd0000000ULL /* one 4 KiB window per device */
#define VIRTIO_MMIO_IRQ  5             /* first GSI; one per device */

struct keel_vm;
struct vm_device;

/* A device behind the bus: port I/O and/or MMIO handlers, state for snapshots. */
struct vm_device_ops {
	const char *name;
	void (*io)(struct vm_device *dev, uint16_t port, uint8_t *data, uint32_t len, bool write);
	void (*mmio)(struct vm_device *dev, uint64_t addr, uint8_t *data, uint32_t len,
		     bool write);
	/* Appends the device's state (versioned by its own first byte) to buf; returns size. */
	size_t (*save)(struct vm_device *dev, uint8_t *buf, size_t cap);
	int (*load)(struct vm_device *dev, const uint8_t *buf, size_t len);
	void (*free)(struct vm_device *dev);
};

struct vm_device {
	const struct vm_device_ops *ops;
	struct keel_vm *vm;
	uint16_t port, nports;  /* port range, nports 0 if none */
	uint64_t mmio, mmio_len; /* MMIO range, mmio_len 0 if none */
	void *priv;
};

struct vm_cpu {
	struct keel_vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct vm_mem_slot {
	uint64_t gpa, size;
	uint8_t *host;
};

enum vm_run_state { VM_CREATED, VM_RUNNING, VM_ENDED };

struct keel_vm {
	struct keel_vm_config cfg;
	int sys_fd, vm_fd;
	int run_size;

	/* guest RAM: one mapping, split into slots around the 3..4 GiB hole */
	uint8_t *ram;
	uint64_t ram_size;
	struct vm_mem_slot slots[2];
	unsigned nslots;
	bool dirty_log; /* slots registered with KVM_MEM_LOG_DIRTY_PAGES */
	/* Pages the VMM itself wrote (virtio) while dirty_log is on: KVM's log only sees the
	 * guest's writes. One bit per page of RAM, set and taken atomically. */
	uint64_t *dev_dirty;

	struct kvm_cpuid2 *cpuid;
	uint32_t *msr_idx; /* MSRs saved with the state (state.c), probed once */
	unsigned nmsr_idx;
	bool msrs_probed;
	struct vm_cpu cpus[KEEL_VM_MAX_CPUS];
	unsigned ncpus;

	struct vm_device *devs[16];
	unsigned ndevs;
	struct vm_device *serial;

	pthread_mutex_t lock; /* guards everything below and device state */
	pthread_cond_t cond;
	enum vm_run_state state;
	bool pause_req, stop_req;
	unsigned paused;  /* vCPUs parked */
	unsigned running; /* vCPU threads alive */
	unsigned entered; /* vCPU threads that reached their first KVM_RUN */
	int status;
	keel_error_t err; /* first failure of a vCPU thread */
	int exit_efd;
	int console_fd;
	int console_attach_fd;
};

/* ---- kvm.c ---- */
/* Guest-physical to host pointer; NULL when [gpa, gpa+len) is not RAM. */
void *vm_gpa(struct keel_vm *vm, uint64_t gpa, uint64_t len);
int vm_set_dirty_log(struct keel_vm *vm, bool on, keel_error_t *err);
/* Records a VMM write to guest RAM at host pointer p (inside vm->ram) for migration. */
void vm_mark_dirty(struct keel_vm *vm, const void *p, uint64_t len);
/* Ends the VM with status (first caller wins), waking keel_vm_wait. Lock held by caller. */
void vm_end_locked(struct keel_vm *vm, int status, const keel_error_t *err);
/* Creates the KVM VM, memory and devices without a kernel (restore/receive use it). */
struct keel_vm *vm_build(const struct keel_vm_config *cfg, int console_fd, int mem_fd,
			 keel_error_t *err);

/* ---- cpu.c ---- */
int vm_cpus_create(struct keel_vm *vm, keel_error_t *err);
/* MSR and LAPIC defaults for a VM that boots (not for restore or migration). */
int vm_cpus_boot_defaults(struct keel_vm *vm, keel_error_t *err);
void vm_cpus_destroy(struct keel_vm *vm);
int vm_cpus_start(struct keel_vm *vm, keel_error_t *err);
void vm_cpus_kick(struct keel_vm *vm);
/* Registers for the PVH 32-bit entry / the 64-bit bzImage entry on the boot vCPU. */
int vm_cpu_boot_pvh(struct vm_cpu *cpu, uint64_t entry, uint64_t start_info, keel_error_t *err);
int vm_cpu_boot_64(struct vm_cpu *cpu, uint64_t entry, uint64_t zero_page, keel_error_t *err);

/* ---- boot.c ---- */
int vm_load_kernel(struct keel_vm *vm, keel_error_t *err);

/* ---- devices ---- */
int vm_add_device(struct keel_vm *vm, struct vm_device *dev, keel_error_t *err);
struct vm_device *vm_find_io(struct keel_vm *vm, uint16_t port);
struct vm_device *vm_find_mmio(struct keel_vm *vm, uint64_t addr);
int vm_serial_create(struct keel_vm *vm, keel_error_t *err);
int vm_i8042_create(struct keel_vm *vm, keel_error_t *err);
int vm_virtio_create(struct keel_vm *vm, keel_error_t *err);
/* Appends " virtio_mmio.device=4K@0x<addr>:<irq>" per virtio device to buf; returns the
 * length, or -1 when buf is too small. */
int vm_virtio_cmdline(const struct keel_vm *vm, char *buf, size_t len);
void vm_serial_input(struct vm_device *dev, const uint8_t *buf, size_t len);
int vm_irq_line(struct keel_vm *vm, unsigned gsi, int level);

/* ---- state.c: the snapshot/migration state blob ---- */
ssize_t vm_state_blob(struct keel_vm *vm, uint8_t **out, keel_error_t *err);
/* Does the state blob's slow, guest-independent probing ahead of time (the MSR list). */
int vm_state_prepare(struct keel_vm *vm, keel_error_t *err);
int vm_state_apply(struct keel_vm *vm, const uint8_t *blob, size_t len, keel_error_t *err);
/* Parses the config section of a state blob into cfg. */
int vm_state_blob_config(const uint8_t *blob, size_t len, struct keel_vm_config *cfg,
			 keel_error_t *err);

#endif
