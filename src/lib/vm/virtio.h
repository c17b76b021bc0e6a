/* virtio-mmio transport (virtio 1.x, "modern" register layout, version 2) and split
 * virtqueues, shared by the block and net backends. Not part of the public API.
 *
 * Device i sits at VIRTIO_MMIO_BASE + i * 4 KiB with GSI VIRTIO_MMIO_IRQ + i, announced to the
 * guest on its command line as `virtio_mmio.device=4K@0x<base>:<irq>` (boot.c). Queue
 * notifications are handled in the vCPU thread that wrote QueueNotify: an exit costs 50-75 us
 * here, so doing the I/O right there is cheaper than waking a thread. */
#ifndef KEEL_VM_VIRTIO_H
#define KEEL_VM_VIRTIO_H

#include "vm/kvm.h"

#define VIRTIO_MAX_QUEUES 2
#define VIRTIO_QUEUE_MAX  256
#define VIRTIO_F_VERSION_1 32

enum { VIRTIO_ID_NET = 1, VIRTIO_ID_BLOCK = 2 };
enum { VRING_DESC_F_NEXT = 1, VRING_DESC_F_WRITE = 2 };
enum { VIRTIO_STATUS_FAILED = 0x80, VIRTIO_STATUS_DRIVER_OK = 4 };

struct virtio_dev;

/* What a device type adds to the transport. */
struct virtio_backend_ops {
	const char *name;
	uint32_t device_id;
	unsigned nqueues;
	/* Reads/writes the device config space (offset from 0x100). Transport lock held. */
	void (*config)(struct virtio_dev *v, uint64_t off, uint8_t *data, uint32_t len, bool write);
	/* The driver notified queue q. Transport lock held. */
	void (*notify)(struct virtio_dev *v, unsigned q);
	/* Before the device state is saved (flush the disk); may be NULL. */
	void (*quiesce)(struct virtio_dev *v);
	void (*free)(struct virtio_dev *v);
};

/* The transport's registers and queue positions: what a snapshot saves (fixed layout). */
struct virtio_queue {
	uint32_t num, ready;
	uint64_t desc, avail, used;
	uint16_t last_avail, used_idx;
	uint32_t pad;
};

struct virtio_regs {
	uint8_t version; /* of this layout */
	uint8_t status, isr, pad;
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel, cfg_gen;
	uint64_t driver_features;
	struct virtio_queue q[VIRTIO_MAX_QUEUES];
};

struct virtio_dev {
	struct vm_device dev;
	const struct virtio_backend_ops *ops;
	uint64_t features; /* offered */
	unsigned irq;
	pthread_mutex_t lock;
	struct virtio_regs r;
	void *priv;
};

/* One descriptor chain popped from a queue: up to 64 segments. */
struct virtio_chain {
	uint16_t head;
	unsigned n;
	struct {
		uint8_t *host;
		uint32_t len;
		bool write; /* device-writable */
	} seg[64];
};

/* Registers v (whose ops, features, priv the caller set) as device number index. On failure
 * the caller still owns v. */
int virtio_register(struct keel_vm *vm, struct virtio_dev *v, unsigned index, keel_error_t *err);

/* Pops the next available chain of queue q: 1 when one was popped, 0 when the queue is
 * empty or not ready, -1 when the driver gave a bad chain (the device is marked failed). */
int virtio_pop(struct virtio_dev *v, unsigned q, struct virtio_chain *c);

/* Returns chain c to the driver with len bytes written, marking written pages dirty. */
void virtio_push(struct virtio_dev *v, unsigned q, const struct virtio_chain *c, uint32_t len);

/* Raises the used-buffer interrupt. */
void virtio_interrupt(struct virtio_dev *v);

int vm_virtio_blk_create(struct keel_vm *vm, unsigned index, keel_error_t *err);
int vm_virtio_net_create(struct keel_vm *vm, unsigned index, keel_error_t *err);

#endif
