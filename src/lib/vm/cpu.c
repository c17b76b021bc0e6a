/* vCPUs: creation (CPUID, MSRs, LAPIC), one thread each running a short loop that switches on
 * the exit reason, and the kick that brings them out of KVM_RUN for pause and stop.
 *
 * Exits are expensive on kvm_pvm (10-46 us for port I/O and MMIO; see docs/vm.md), so the loop
 * handles a whole `rep outs` (run->io.count items) per exit. */
#include "vm/kvm.h"

#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#define KICK_SIGNAL SIGUSR1

static void kick_handler(int sig)
{
	(void)sig;
}

static int get_supported_cpuid(struct keel_vm *vm, keel_error_t *err)
{
	for (unsigned n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));
		if (!c)
			return keel_err(err, ENOMEM, "cpuid");
		c->nent = n;
		if (ioctl(vm->sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			vm->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG)
			return keel_err_sys(err, "KVM_GET_SUPPORTED_CPUID");
	}
	return keel_err(err, E2BIG, "KVM_GET_SUPPORTED_CPUID: too many entries");
}

/* What KVM supports, adjusted per vCPU: APIC ids, the hypervisor bit, a topology of one core
 * per vCPU, and KVM's leaves announcing the TSC frequency (0x40000010), which our guests use
 * instead of calibrating against the PIT (a port exit per read here). */
static void filter_cpuid(struct vm_cpu *cpu, struct kvm_cpuid2 *c, uint32_t tsc_khz)
{
	for (unsigned i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffff) | (cpu->id << 24) |
				 (cpu->vm->ncpus << 16);
			e->ecx |= 1u << 31; /* hypervisor */
			break;
		case 0xb:
		case 0x1f:
			e->edx = cpu->id;
			break;
		case 0x40000000:
			e->eax = 0x40000010;
			break;
		default:
			break;
		}
	}
	if (tsc_khz && c->nent < 4096) {
		bool have = false;
		for (unsigned i = 0; i < c->nent; i++)
			if (c->entries[i].function == 0x40000010) {
				c->entries[i].eax = tsc_khz;
				have = true;
			}
		if (!have)
			c->entries[c->nent++] = (struct kvm_cpuid_entry2){
				.function = 0x40000010, .eax = tsc_khz, .ebx = 1000000};
	}
}

static int setup_cpuid(struct vm_cpu *cpu, keel_error_t *err)
{
	struct kvm_cpuid2 *src = cpu->vm->cpuid;
	size_t sz = sizeof(*src) + (src->nent + 1) * sizeof(src->entries[0]);
	struct kvm_cpuid2 *c = malloc(sz);
	int tsc = ioctl(cpu->fd, KVM_GET_TSC_KHZ, 0);
	int ret = 0;

	if (!c)
		return keel_err(err, ENOMEM, "cpuid");
	memcpy(c, src, sz - sizeof(src->entries[0]));
	filter_cpuid(cpu, c, tsc > 0 ? (uint32_t)tsc : 0);
	if (ioctl(cpu->fd, KVM_SET_CPUID2, c) < 0)
		ret = keel_err_sys(err, "KVM_SET_CPUID2");
	free(c);
	return ret;
}

/* LINT0 delivers the PIC's ExtINT, LINT1 NMIs, as firmware would have left them. */
static int setup_lapic(struct vm_cpu *cpu, keel_error_t *err)
{
	struct kvm_lapic_state l;
	if (ioctl(cpu->fd, KVM_GET_LAPIC, &l) < 0)
		return keel_err_sys(err, "KVM_GET_LAPIC");
	uint32_t *lint0 = (uint32_t *)(void *)&l.regs[0x350];
	uint32_t *lint1 = (uint32_t *)(void *)&l.regs[0x360];
	*lint0 = (*lint0 & ~0x700u & ~0x10000u) | 0x700;
	*lint1 = (*lint1 & ~0x700u & ~0x10000u) | 0x400;
	if (ioctl(cpu->fd, KVM_SET_LAPIC, &l) < 0)
		return keel_err_sys(err, "KVM_SET_LAPIC");
	return 0;
}

static int setup_msrs(struct vm_cpu *cpu, keel_error_t *err)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[1];
	} m = {.h.nmsrs = 1, .e = {{.index = 0x1a0, .data = 1}}}; /* MISC_ENABLE: fast strings */
	if (ioctl(cpu->fd, KVM_SET_MSRS, &m) < 0)
		return keel_err_sys(err, "KVM_SET_MSRS");
	return 0;
}

static int cpu_create(struct keel_vm *vm, unsigned id, keel_error_t *err)
{
	struct vm_cpu *cpu = &vm->cpus[id];
	cpu->vm = vm;
	cpu->id = id;
	cpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (cpu->fd < 0)
		return keel_err_sys(err, "KVM_CREATE_VCPU %u", id);
	vm->ncpus = id + 1;
	cpu->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, cpu->fd, 0);
	if (cpu->run == MAP_FAILED) {
		cpu->run = NULL;
		return keel_err_sys(err, "mmap kvm_run");
	}
	if (setup_cpuid(cpu, err) < 0)
		return keel_err_wrap(err, "vCPU %u", id);
	return 0;
}

/* Only a booting VM needs these: a restored or received one loads every MSR and the LAPIC
 * from its state, so they are not set twice on the restore path. */
int vm_cpus_boot_defaults(struct keel_vm *vm, keel_error_t *err)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (setup_msrs(&vm->cpus[i], err) < 0 || setup_lapic(&vm->cpus[i], err) < 0)
			return keel_err_wrap(err, "vCPU %u", i);
	return 0;
}

int vm_cpus_create(struct keel_vm *vm, keel_error_t *err)
{
	struct sigaction sa = {.sa_handler = kick_handler};
	sigemptyset(&sa.sa_mask);
	if (sigaction(KICK_SIGNAL, &sa, NULL) < 0) /* no SA_RESTART: KVM_RUN must see EINTR */
		return keel_err_sys(err, "sigaction");
	if (get_supported_cpuid(vm, err) < 0)
		return -1;
	vm->ncpus = 0;
	for (unsigned i = 0; i < vm->cfg.cpus; i++)
		if (cpu_create(vm, i, err) < 0)
			return -1;
	return 0;
}

void vm_cpus_destroy(struct keel_vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vm_cpu *cpu = &vm->cpus[i];
		if (cpu->run)
			munmap(cpu->run, (size_t)vm->run_size);
		cpu->run = NULL;
		if (cpu->fd >= 0)
			close(cpu->fd);
		cpu->fd = -1;
	}
}

/* immediate_exit makes a KVM_RUN that starts after the kick return at once; the signal
 * interrupts one already inside. Lock held. */
void vm_cpus_kick(struct keel_vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vm_cpu *cpu = &vm->cpus[i];
		if (!cpu->run)
			continue;
		cpu->run->immediate_exit = 1;
		if (cpu->started)
			pthread_kill(cpu->thread, KICK_SIGNAL);
	}
}

static void cpu_fail(struct vm_cpu *cpu, const char *msg)
{
	keel_error_t e = {0};
	struct kvm_regs r = {0};
	struct kvm_sregs s = {0};
	(void)ioctl(cpu->fd, KVM_GET_REGS, &r);
	(void)ioctl(cpu->fd, KVM_GET_SREGS, &s);
	keel_err(&e, 0, "%s (vCPU %u rip=0x%llx rsp=0x%llx rflags=0x%llx cs=0x%x cr2=0x%llx)", msg,
		 cpu->id, (unsigned long long)r.rip, (unsigned long long)r.rsp,
		 (unsigned long long)r.rflags, s.cs.selector, (unsigned long long)s.cr2);
	if (getenv("KEEL_VM_DEBUG"))
		fprintf(stderr, "rax=%llx rcx=%llx rdx=%llx rsi=%llx rdi=%llx ds=%x/%x ss=%x/%x\n",
			(unsigned long long)r.rax, (unsigned long long)r.rcx,
			(unsigned long long)r.rdx, (unsigned long long)r.rsi,
			(unsigned long long)r.rdi, s.ds.selector, s.ds.dpl, s.ss.selector, s.ss.dpl);
	pthread_mutex_lock(&cpu->vm->lock);
	vm_end_locked(cpu->vm, 1, &e);
	pthread_mutex_unlock(&cpu->vm->lock);
}

static void handle_io(struct vm_cpu *cpu)
{
	struct kvm_run *run = cpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	struct vm_device *dev = vm_find_io(cpu->vm, run->io.port);
	bool write = run->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		if (dev)
			dev->ops->io(dev, run->io.port, data, run->io.size, write);
		else if (!write)
			memset(data, 0xff, run->io.size); /* nothing there: the bus floats */
	}
}

static void handle_mmio(struct vm_cpu *cpu)
{
	struct kvm_run *run = cpu->run;
	struct vm_device *dev = vm_find_mmio(cpu->vm, run->mmio.phys_addr);
	if (dev)
		dev->ops->mmio(dev, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
			       run->mmio.is_write);
	else if (!run->mmio.is_write)
		memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
}

/* Returns false when the loop must end. */
static bool handle_exit(struct vm_cpu *cpu)
{
	struct kvm_run *run = cpu->run;
	char msg[128];
	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(cpu);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(cpu);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		cpu_fail(cpu, "guest halted with interrupts off");
		return false;
	case KVM_EXIT_SHUTDOWN:
		cpu_fail(cpu, "guest shut down (triple fault)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		pthread_mutex_lock(&cpu->vm->lock);
		vm_end_locked(cpu->vm, 0, NULL);
		pthread_mutex_unlock(&cpu->vm->lock);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(msg, sizeof(msg), "KVM entry failed, reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(msg, sizeof(msg), "KVM internal error %u", run->internal.suberror);
		break;
	default:
		snprintf(msg, sizeof(msg), "unhandled KVM exit %u", run->exit_reason);
		break;
	}
	cpu_fail(cpu, msg);
	return false;
}

/* Parks the thread while a pause is requested. Returns false when the VM is ending. */
static bool cpu_checkpoint(struct vm_cpu *cpu)
{
	struct keel_vm *vm = cpu->vm;
	bool go;
	pthread_mutex_lock(&vm->lock);
	if (vm->pause_req && !vm->stop_req) {
		/* Complete a pending I/O or MMIO read before parking: its result is applied by the
		 * next KVM_RUN, which immediate_exit turns into a no-op that only does that. */
		cpu->run->immediate_exit = 1;
		pthread_mutex_unlock(&vm->lock);
		(void)ioctl(cpu->fd, KVM_RUN, 0);
		pthread_mutex_lock(&vm->lock);
		vm->paused++;
		pthread_cond_broadcast(&vm->cond);
		while (vm->pause_req && !vm->stop_req)
			pthread_cond_wait(&vm->cond, &vm->lock);
		vm->paused--;
	}
	cpu->run->immediate_exit = 0;
	go = !vm->stop_req;
	pthread_mutex_unlock(&vm->lock);
	return go;
}

static void *cpu_thread(void *arg)
{
	struct vm_cpu *cpu = arg;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);

	bool first = true;
	while (cpu_checkpoint(cpu)) {
		if (first) { /* keel_vm_start returns once every vCPU got here */
			first = false;
			if (cpu->id == 0)
				keel_trace("vcpu0: first KVM_RUN");
			pthread_mutex_lock(&cpu->vm->lock);
			cpu->vm->entered++;
			pthread_cond_broadcast(&cpu->vm->cond);
			pthread_mutex_unlock(&cpu->vm->lock);
		}
		if (ioctl(cpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			char msg[128];
			snprintf(msg, sizeof(msg), "KVM_RUN: %s", strerror(errno));
			cpu_fail(cpu, msg);
			break;
		}
		if (!handle_exit(cpu))
			break;
	}
	pthread_mutex_lock(&cpu->vm->lock);
	cpu->vm->running--;
	pthread_cond_broadcast(&cpu->vm->cond);
	pthread_mutex_unlock(&cpu->vm->lock);
	return NULL;
}

int vm_cpus_start(struct keel_vm *vm, keel_error_t *err)
{
	sigset_t set, old;
	int ret = 0;
	/* Threads start with the kick blocked so it never hits them before they are ready. */
	sigemptyset(&set);
	sigaddset(&set, KICK_SIGNAL);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	pthread_mutex_lock(&vm->lock);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		int e = pthread_create(&vm->cpus[i].thread, NULL, cpu_thread, &vm->cpus[i]);
		if (e) {
			ret = keel_err(err, e, "starting vCPU %u", i);
			break;
		}
		vm->cpus[i].started = true;
		vm->running++;
	}
	/* "Running" means the guest runs: wait until each thread enters KVM_RUN (or the VM
	 * ends, or is paused before it could). */
	while (!ret && vm->entered < vm->running && !vm->stop_req && !vm->pause_req)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static void flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
	*s = (struct kvm_segment){.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
				  .present = 1, .s = 1, .g = 1, .db = code64 ? 0 : 1,
				  .l = code64 ? 1 : 0};
}

/* Both boot ABIs want the selectors backed by a real GDT (boot.c writes it at BOOT_GDT), in
 * case the kernel reloads a segment before it has its own; no IDT until the kernel sets one. */
static int set_boot_sregs(struct vm_cpu *cpu, struct kvm_sregs *s, keel_error_t *err)
{
	s->gdt = (struct kvm_dtable){.base = BOOT_GDT, .limit = 4 * 8 - 1};
	s->idt = (struct kvm_dtable){.base = 0, .limit = 0};
	if (ioctl(cpu->fd, KVM_SET_SREGS, s) < 0)
		return keel_err_sys(err, "KVM_SET_SREGS");
	return 0;
}

/* PVH: 32-bit protected mode, paging off, flat segments, %ebx = start_info. */
int vm_cpu_boot_pvh(struct vm_cpu *cpu, uint64_t entry, uint64_t start_info, keel_error_t *err)
{
	struct kvm_sregs s;
	struct kvm_regs r = {.rip = entry, .rbx = start_info, .rflags = 2};

	if (ioctl(cpu->fd, KVM_GET_SREGS, &s) < 0)
		return keel_err_sys(err, "KVM_GET_SREGS");
	flat_segment(&s.cs, 0x10, 0xb, false);
	flat_segment(&s.ds, 0x18, 0x3, false);
	s.es = s.fs = s.gs = s.ss = s.ds;
	s.tr = (struct kvm_segment){.limit = 0x67, .type = 0xb, .present = 1};
	s.cr0 = 0x11; /* PE | ET */
	s.cr4 = 0;
	s.efer = 0;
	if (set_boot_sregs(cpu, &s, err) < 0)
		return -1;
	if (ioctl(cpu->fd, KVM_SET_REGS, &r) < 0)
		return keel_err_sys(err, "KVM_SET_REGS");
	return 0;
}

/* Linux 64-bit boot protocol: long mode, identity-mapped page tables at BOOT_PGTABLE (built by
 * the loader), %rsi = boot_params. */
int vm_cpu_boot_64(struct vm_cpu *cpu, uint64_t entry, uint64_t zero_page, keel_error_t *err)
{
	struct kvm_sregs s;
	struct kvm_regs r = {.rip = entry, .rsi = zero_page, .rflags = 2};

	if (ioctl(cpu->fd, KVM_GET_SREGS, &s) < 0)
		return keel_err_sys(err, "KVM_GET_SREGS");
	flat_segment(&s.cs, 0x10, 0xb, true);
	flat_segment(&s.ds, 0x18, 0x3, false);
	s.es = s.fs = s.gs = s.ss = s.ds;
	s.tr = (struct kvm_segment){.limit = 0x67, .type = 0xb, .present = 1};
	s.cr3 = BOOT_PGTABLE;
	s.cr4 = 0x20;          /* PAE */
	s.cr0 = 0x80000011;    /* PG | ET | PE */
	s.efer = 0x500;        /* LME | LMA */
	if (set_boot_sregs(cpu, &s, err) < 0)
		return -1;
	if (ioctl(cpu->fd, KVM_SET_REGS, &r) < 0)
		return keel_err_sys(err, "KVM_SET_REGS");
	return 0;
}
