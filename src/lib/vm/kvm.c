/* The VM object: /dev/kvm, guest memory, in-kernel irqchip and PIT, devices, and the
 * lifecycle (start, pause, stop, wait). Init is an ordered list of steps; a failure unwinds
 * everything done so far through keel_vm_free, which accepts a half-built VM. */
#include "vm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/cleanup.h"

void keel_vm_config_clear(struct keel_vm_config *cfg)
{
	free(cfg->name);
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	free(cfg->disk);
	free(cfg->tap);
	memset(cfg, 0, sizeof(*cfg));
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int copy_config(struct keel_vm_config *dst, const struct keel_vm_config *src,
		       keel_error_t *err)
{
	*dst = *src;
	dst->name = dup_or_null(src->name);
	dst->kernel = dup_or_null(src->kernel);
	dst->initrd = dup_or_null(src->initrd);
	dst->cmdline = dup_or_null(src->cmdline);
	dst->disk = dup_or_null(src->disk);
	dst->tap = dup_or_null(src->tap);
	if ((src->kernel && !dst->kernel) || (src->name && !dst->name) || (src->initrd && !dst->initrd) ||
	    (src->cmdline && !dst->cmdline) || (src->disk && !dst->disk) ||
	    (src->tap && !dst->tap))
		return keel_err(err, ENOMEM, "copying VM config");
	if (dst->cpus < 1 || dst->cpus > KEEL_VM_MAX_CPUS)
		return keel_err(err, EINVAL, "cpus must be 1..%d", KEEL_VM_MAX_CPUS);
	if (dst->mem_bytes < 32 * MiB || dst->mem_bytes % PAGE_SIZE)
		return keel_err(err, EINVAL, "memory must be at least 32 MiB, in whole pages");
	return 0;
}

static int open_kvm(struct keel_vm *vm, keel_error_t *err)
{
	vm->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->sys_fd < 0)
		return keel_err_sys(err, "open /dev/kvm");
	if (ioctl(vm->sys_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return keel_err(err, ENOTSUP, "/dev/kvm: unsupported KVM API version");
	vm->vm_fd = ioctl(vm->sys_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return keel_err_sys(err, "KVM_CREATE_VM");
	vm->run_size = ioctl(vm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size <= 0)
		return keel_err_sys(err, "KVM_GET_VCPU_MMAP_SIZE");
	return 0;
}

/* The irqchip (PIC, IOAPIC, LAPICs) and PIT live in the kernel: no exits for timer ticks or
 * EOIs. KVM_SET_TSS_ADDR is a VMX need; other backends (kvm_pvm) may refuse it harmlessly. */
static int create_irqchip(struct keel_vm *vm, keel_error_t *err)
{
	struct kvm_pit_config pit = {.flags = KVM_PIT_SPEAKER_DUMMY};

	(void)ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return keel_err_sys(err, "KVM_CREATE_IRQCHIP");
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return keel_err_sys(err, "KVM_CREATE_PIT2");
	return 0;
}

static int set_slot(struct keel_vm *vm, unsigned i, bool log, keel_error_t *err)
{
	struct kvm_userspace_memory_region r = {
		.slot = i,
		.flags = log ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = vm->slots[i].gpa,
		.memory_size = vm->slots[i].size,
		.userspace_addr = (uintptr_t)vm->slots[i].host,
	};
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return keel_err_sys(err, "KVM_SET_USER_MEMORY_REGION slot %u", i);
	return 0;
}

int vm_set_dirty_log(struct keel_vm *vm, bool on, keel_error_t *err)
{
	for (unsigned i = 0; i < vm->nslots; i++)
		if (set_slot(vm, i, on, err) < 0)
			return -1;
	vm->dirty_log = on;
	return 0;
}

/* Guest RAM is one host mapping: anonymous for a fresh VM (pages cost nothing until the guest
 * touches them), or a snapshot's memory file mapped MAP_PRIVATE so that restored clones share
 * every page they have not written. */
static int create_memory(struct keel_vm *vm, int mem_fd, keel_error_t *err)
{
	uint64_t size = vm->cfg.mem_bytes;
	int flags = MAP_PRIVATE | MAP_NORESERVE | (mem_fd < 0 ? MAP_ANONYMOUS : 0);

	vm->ram = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, mem_fd, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		return keel_err_sys(err, "mapping %llu bytes of guest memory",
				    (unsigned long long)size);
	}
	vm->ram_size = size;
	vm->dev_dirty = calloc((size / PAGE_SIZE + 63) / 64, 8);
	if (!vm->dev_dirty)
		return keel_err(err, ENOMEM, "dirty bitmap");
	if (mem_fd < 0)
		(void)madvise(vm->ram, size, MADV_HUGEPAGE);
	vm->slots[0] = (struct vm_mem_slot){0, size < MMIO_HOLE_START ? size : MMIO_HOLE_START,
					    vm->ram};
	vm->nslots = 1;
	if (size > MMIO_HOLE_START) {
		vm->slots[1] = (struct vm_mem_slot){MMIO_HOLE_END, size - MMIO_HOLE_START,
						    vm->ram + MMIO_HOLE_START};
		vm->nslots = 2;
	}
	return vm_set_dirty_log(vm, false, err);
}

void *vm_gpa(struct keel_vm *vm, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < vm->nslots; i++) {
		struct vm_mem_slot *s = &vm->slots[i];
		if (gpa >= s->gpa && len <= s->size && gpa - s->gpa <= s->size - len)
			return s->host + (gpa - s->gpa);
	}
	return NULL;
}

void vm_mark_dirty(struct keel_vm *vm, const void *p, uint64_t len)
{
	uint64_t off = (uint64_t)((const uint8_t *)p - vm->ram);
	if (!__atomic_load_n(&vm->dirty_log, __ATOMIC_ACQUIRE) || !len || off >= vm->ram_size)
		return;
	for (uint64_t pg = off / PAGE_SIZE; pg <= (off + len - 1) / PAGE_SIZE; pg++)
		__atomic_fetch_or(&vm->dev_dirty[pg / 64], 1ull << (pg % 64), __ATOMIC_RELAXED);
}

static struct keel_vm *vm_alloc(void)
{
	struct keel_vm *vm = calloc(1, sizeof(*vm));
	if (!vm)
		return NULL;
	vm->sys_fd = vm->vm_fd = vm->exit_efd = -1;
	vm->console_fd = vm->console_attach_fd = -1;
	for (unsigned i = 0; i < KEEL_VM_MAX_CPUS; i++)
		vm->cpus[i].fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	return vm;
}

struct keel_vm *vm_build(const struct keel_vm_config *cfg, int console_fd, int mem_fd,
			 keel_error_t *err)
{
	struct keel_vm *vm = vm_alloc();
	if (!vm) {
		keel_err(err, ENOMEM, "allocating VM");
		return NULL;
	}
	vm->console_fd = console_fd;
	if (copy_config(&vm->cfg, cfg, err) < 0 || open_kvm(vm, err) < 0)
		goto fail;
	keel_trace("build: KVM_CREATE_VM done");
	if (create_irqchip(vm, err) < 0)
		goto fail;
	keel_trace("build: irqchip+pit done");
	if (create_memory(vm, mem_fd, err) < 0)
		goto fail;
	keel_trace("build: memory mapped, slots set");
	if (vm_cpus_create(vm, err) < 0)
		goto fail;
	keel_trace("build: vcpus created");
	if (vm_serial_create(vm, err) < 0 || vm_i8042_create(vm, err) < 0 ||
	    vm_virtio_create(vm, err) < 0)
		goto fail;
	keel_trace("build: devices created");
	vm->exit_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->exit_efd < 0) {
		keel_err_sys(err, "eventfd");
		goto fail;
	}
	return vm;
fail:
	keel_vm_free(vm);
	return NULL;
}

struct keel_vm *keel_vm_new(const struct keel_vm_config *cfg, int console_fd, keel_error_t *err)
{
	struct keel_vm *vm;
	if (!cfg->kernel) {
		keel_err(err, EINVAL, "no kernel given");
		return NULL;
	}
	vm = vm_build(cfg, console_fd, -1, err);
	if (vm && (vm_cpus_boot_defaults(vm, err) < 0 || vm_load_kernel(vm, err) < 0)) {
		keel_vm_free(vm);
		return NULL;
	}
	return vm;
}

void keel_vm_free(struct keel_vm *vm)
{
	if (!vm)
		return;
	if (vm->state == VM_RUNNING) {
		keel_vm_stop(vm, 1);
		keel_vm_wait(vm, NULL);
	}
	vm_cpus_destroy(vm);
	for (unsigned i = vm->ndevs; i-- > 0;)
		if (vm->devs[i]->ops->free)
			vm->devs[i]->ops->free(vm->devs[i]);
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	free(vm->cpuid);
	free(vm->msr_idx);
	free(vm->dev_dirty);
	keel_closep(&vm->exit_efd);
	keel_closep(&vm->vm_fd);
	keel_closep(&vm->sys_fd);
	keel_vm_config_clear(&vm->cfg);
	pthread_mutex_destroy(&vm->lock);
	pthread_cond_destroy(&vm->cond);
	free(vm);
}

int keel_vm_start(struct keel_vm *vm, keel_error_t *err)
{
	if (vm->state != VM_CREATED)
		return keel_err(err, EBUSY, "VM already started");
	vm->state = VM_RUNNING;
	if (vm_cpus_start(vm, err) < 0) {
		keel_vm_stop(vm, 1);
		keel_vm_wait(vm, NULL);
		return -1;
	}
	return 0;
}

void vm_end_locked(struct keel_vm *vm, int status, const keel_error_t *err)
{
	if (vm->stop_req)
		return;
	vm->stop_req = true;
	vm->status = status;
	if (err)
		vm->err = *err;
	pthread_cond_broadcast(&vm->cond);
	vm_cpus_kick(vm);
	uint64_t one = 1;
	(void)!write(vm->exit_efd, &one, sizeof(one));
}

void keel_vm_stop(struct keel_vm *vm, int status)
{
	pthread_mutex_lock(&vm->lock);
	vm_end_locked(vm, status, NULL);
	pthread_mutex_unlock(&vm->lock);
}

int keel_vm_wait(struct keel_vm *vm, keel_error_t *err)
{
	pthread_mutex_lock(&vm->lock);
	while (!vm->stop_req)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (vm->cpus[i].started) {
			pthread_join(vm->cpus[i].thread, NULL);
			vm->cpus[i].started = false;
		}
	vm->state = VM_ENDED;
	if (vm->status != 0 && vm->err.msg[0] && err)
		*err = vm->err;
	return vm->status;
}

int keel_vm_exit_fd(const struct keel_vm *vm)
{
	return vm->exit_efd;
}

int keel_vm_pause(struct keel_vm *vm, keel_error_t *err)
{
	pthread_mutex_lock(&vm->lock);
	vm->pause_req = true;
	vm_cpus_kick(vm);
	while (vm->paused < vm->running && !vm->stop_req)
		pthread_cond_wait(&vm->cond, &vm->lock);
	bool ended = vm->stop_req;
	pthread_mutex_unlock(&vm->lock);
	if (ended)
		return keel_err(err, ESRCH, "the VM has ended");
	return 0;
}

void keel_vm_resume(struct keel_vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->pause_req = false;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
}

bool keel_vm_paused(const struct keel_vm *vm)
{
	return vm->pause_req;
}

const struct keel_vm_config *keel_vm_config(const struct keel_vm *vm)
{
	return &vm->cfg;
}

void keel_vm_console_input(struct keel_vm *vm, const void *buf, size_t len)
{
	vm_serial_input(vm->serial, buf, len);
}

void keel_vm_set_console(struct keel_vm *vm, int fd)
{
	pthread_mutex_lock(&vm->lock);
	vm->console_fd = fd;
	pthread_mutex_unlock(&vm->lock);
}

void keel_vm_console_attach(struct keel_vm *vm, int fd)
{
	pthread_mutex_lock(&vm->lock);
	vm->console_attach_fd = fd;
	pthread_mutex_unlock(&vm->lock);
}

int keel_vm_parse_size(const char *s, uint64_t *out, keel_error_t *err)
{
	char *end;
	unsigned long long v;
	uint64_t mult = MiB;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return keel_err(err, EINVAL, "invalid size '%s'", s);
	switch (*end) {
	case 'k': case 'K': mult = 1024; end++; break;
	case 'm': case 'M': mult = MiB; end++; break;
	case 'g': case 'G': mult = GiB; end++; break;
	case 'b': case 'B': mult = 1; end++; break;
	case 0: break;
	default: return keel_err(err, EINVAL, "invalid size '%s'", s);
	}
	if ((*end == 'i' || *end == 'I') && (end[1] == 'B' || end[1] == 'b'))
		end += 2;
	else if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v > UINT64_MAX / mult)
		return keel_err(err, EINVAL, "invalid size '%s'", s);
	*out = v * mult;
	return 0;
}
