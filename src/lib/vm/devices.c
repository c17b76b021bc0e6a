/* The device bus (port I/O and MMIO ranges to ops tables) and the smallest device, the i8042:
 * only its reset line, which ends the VM with status 0 (how our guests and Linux's
 * `reboot=k` power off). */
#include "vm/kvm.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

int vm_add_device(struct keel_vm *vm, struct vm_device *dev, keel_error_t *err)
{
	if (vm->ndevs >= sizeof(vm->devs) / sizeof(vm->devs[0]))
		return keel_err(err, ENOSPC, "too many devices");
	dev->vm = vm;
	vm->devs[vm->ndevs++] = dev;
	return 0;
}

struct vm_device *vm_find_io(struct keel_vm *vm, uint16_t port)
{
	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct vm_device *d = vm->devs[i];
		if (d->nports && port >= d->port && port - d->port < d->nports)
			return d;
	}
	return NULL;
}

struct vm_device *vm_find_mmio(struct keel_vm *vm, uint64_t addr)
{
	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct vm_device *d = vm->devs[i];
		if (d->mmio_len && addr >= d->mmio && addr - d->mmio < d->mmio_len)
			return d;
	}
	return NULL;
}

int vm_irq_line(struct keel_vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level l = {.irq = gsi, .level = (uint32_t)level};
	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
}

static void i8042_io(struct vm_device *dev, uint16_t port, uint8_t *data, uint32_t len,
		     bool write)
{
	if (!write) {
		*data = port == 0x64 ? 0x1c : 0; /* status: input buffer empty, system flag */
		return;
	}
	if (port == 0x64 && *data == 0xfe) {
		pthread_mutex_lock(&dev->vm->lock);
		vm_end_locked(dev->vm, 0, NULL);
		pthread_mutex_unlock(&dev->vm->lock);
	}
}

static void dev_free(struct vm_device *dev)
{
	free(dev);
}

static const struct vm_device_ops i8042_ops = {
	.name = "i8042",
	.io = i8042_io,
	.free = dev_free,
};

int vm_i8042_create(struct keel_vm *vm, keel_error_t *err)
{
	struct vm_device *dev = calloc(1, sizeof(*dev));
	if (!dev)
		return keel_err(err, ENOMEM, "i8042");
	dev->ops = &i8042_ops;
	dev->port = 0x60;
	dev->nports = 5;
	if (vm_add_device(vm, dev, err) < 0) {
		free(dev);
		return -1;
	}
	return 0;
}
