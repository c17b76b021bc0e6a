/* virtio-mmio devices (block, net): placeholder until they land. */
#include "vm/kvm.h"

#include <errno.h>

int vm_virtio_create(struct keel_vm *vm, keel_error_t *err)
{
	if (vm->cfg.disk || vm->cfg.tap)
		return keel_err(err, ENOTSUP, "virtio devices are not built yet");
	return 0;
}
