/* The VM's state as one blob, shared by snapshots and migration (format in docs/vm.md):
 *
 *   header   "KEELVMST" | u32 version | u32 nsections
 *   section  u32 tag | u32 index | u64 len | u32 crc32(data) | u32 0 | data, padded to 8
 *
 * Sections hold the config (JSON), the RAM size, per vCPU the KVM structs (sregs, regs, xsave
 * or fpu, xcrs, MSRs, LAPIC, events, MP state), the irqchip (PIC x2, IOAPIC), PIT, kvmclock
 * and each device's own versioned state. KVM structs are stored as the running kernel's ABI,
 * which is stable (they only grow with padding reserved up front). */
#include "vm/kvm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <zlib.h>

#include "util/cleanup.h"
#include "vm/vmdir.h"

#define STATE_MAGIC   "KEELVMST"
#define STATE_VERSION 1
#define MAX_MSRS      256

enum tag {
	T_CONFIG = 1, T_RAM, T_SREGS, T_REGS, T_XSAVE, T_FPU, T_XCRS, T_MSRS, T_LAPIC, T_EVENTS,
	T_MPSTATE, T_IRQCHIP, T_PIT, T_CLOCK, T_DEVICE,
};

struct sec_hdr {
	uint32_t tag, index;
	uint64_t len;
	uint32_t crc, pad;
};

struct blob {
	uint8_t *buf;
	size_t len, cap;
	uint32_t nsec;
	int failed;
};

static void put(struct blob *b, uint32_t tag, uint32_t index, const void *data, size_t len)
{
	size_t need = b->len + sizeof(struct sec_hdr) + ((len + 7) & ~7ul);
	if (b->failed)
		return;
	if (need > b->cap) {
		size_t cap = need * 2;
		uint8_t *nb = realloc(b->buf, cap);
		if (!nb) {
			b->failed = 1;
			return;
		}
		b->buf = nb;
		b->cap = cap;
	}
	struct sec_hdr h = {tag, index, len, (uint32_t)crc32(0, data, (uInt)len), 0};
	memcpy(b->buf + b->len, &h, sizeof(h));
	memcpy(b->buf + b->len + sizeof(h), data, len);
	memset(b->buf + b->len + sizeof(h) + len, 0, ((len + 7) & ~7ul) - len);
	b->len = need;
	b->nsec++;
}

/* MSRs KVM can both read and write here, found by trial: the index list includes some a
 * backend (kvm_pvm) refuses, and KVM_GET_MSRS stops at the first refusal. The answer depends
 * on KVM, not on the guest, so it is probed once per VM (an ioctl per MSR: migration does it
 * before pausing the guest, through vm_state_prepare). */
static unsigned msr_list(struct vm_cpu *cpu, uint32_t *out)
{
	struct keel_vm *vm = cpu->vm;
	struct {
		struct kvm_msr_list h;
		uint32_t idx[1024];
	} l = {.h.nmsrs = 1024};
	unsigned n = 0;
	if (vm->msrs_probed) {
		memcpy(out, vm->msr_idx, vm->nmsr_idx * sizeof(*out));
		return vm->nmsr_idx;
	}
	if (ioctl(vm->sys_fd, KVM_GET_MSR_INDEX_LIST, &l) < 0)
		return 0;
	for (unsigned i = 0; i < l.h.nmsrs && n < MAX_MSRS; i++) {
		struct {
			struct kvm_msrs h;
			struct kvm_msr_entry e;
		} m = {.h.nmsrs = 1, .e.index = l.idx[i]};
		if (ioctl(cpu->fd, KVM_GET_MSRS, &m) == 1)
			out[n++] = l.idx[i];
	}
	vm->msr_idx = malloc(n * sizeof(*out) + 1);
	if (vm->msr_idx) {
		memcpy(vm->msr_idx, out, n * sizeof(*out));
		vm->nmsr_idx = n;
		vm->msrs_probed = true;
	}
	return n;
}

int vm_state_prepare(struct keel_vm *vm, keel_error_t *err)
{
	uint32_t idx[MAX_MSRS];
	if (vm->ncpus)
		(void)msr_list(&vm->cpus[0], idx);
	return 0;
}

static int save_cpu(struct vm_cpu *cpu, struct blob *b, keel_error_t *err)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;
	struct kvm_xcrs xcrs;
	struct kvm_xsave *xs = calloc(1, sizeof(*xs));
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[MAX_MSRS];
	} *m = calloc(1, sizeof(*m));
	uint32_t idx[MAX_MSRS];
	unsigned id = cpu->id, n;
	int ret = -1;

	if (!xs || !m) {
		keel_err(err, ENOMEM, "vCPU state");
		goto out;
	}
	if (ioctl(cpu->fd, KVM_GET_SREGS, &sregs) < 0 || ioctl(cpu->fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(cpu->fd, KVM_GET_LAPIC, &lapic) < 0 ||
	    ioctl(cpu->fd, KVM_GET_VCPU_EVENTS, &ev) < 0 ||
	    ioctl(cpu->fd, KVM_GET_MP_STATE, &mp) < 0) {
		keel_err_sys(err, "reading vCPU %u state", id);
		goto out;
	}
	put(b, T_SREGS, id, &sregs, sizeof(sregs));
	put(b, T_REGS, id, &regs, sizeof(regs));
	if (ioctl(cpu->fd, KVM_GET_XSAVE, xs) == 0) {
		put(b, T_XSAVE, id, xs, sizeof(*xs));
	} else {
		struct kvm_fpu fpu;
		if (ioctl(cpu->fd, KVM_GET_FPU, &fpu) < 0) {
			keel_err_sys(err, "KVM_GET_FPU");
			goto out;
		}
		put(b, T_FPU, id, &fpu, sizeof(fpu));
	}
	if (ioctl(cpu->fd, KVM_GET_XCRS, &xcrs) == 0)
		put(b, T_XCRS, id, &xcrs, sizeof(xcrs));
	n = msr_list(cpu, idx);
	m->h.nmsrs = n;
	for (unsigned i = 0; i < n; i++)
		m->e[i].index = idx[i];
	if (n && ioctl(cpu->fd, KVM_GET_MSRS, m) != (int)n) {
		keel_err_sys(err, "KVM_GET_MSRS");
		goto out;
	}
	put(b, T_MSRS, id, m, sizeof(m->h) + n * sizeof(m->e[0]));
	put(b, T_LAPIC, id, &lapic, sizeof(lapic));
	put(b, T_EVENTS, id, &ev, sizeof(ev));
	put(b, T_MPSTATE, id, &mp, sizeof(mp));
	ret = 0;
out:
	free(xs);
	free(m);
	return ret;
}

static int save_vm(struct keel_vm *vm, struct blob *b, keel_error_t *err)
{
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock = {0};
	uint8_t dev[4096];

	for (uint32_t chip = 0; chip < 3; chip++) {
		struct kvm_irqchip ic = {.chip_id = chip};
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &ic) < 0)
			return keel_err_sys(err, "KVM_GET_IRQCHIP");
		put(b, T_IRQCHIP, chip, &ic, sizeof(ic));
	}
	if (ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0)
		return keel_err_sys(err, "KVM_GET_PIT2");
	put(b, T_PIT, 0, &pit, sizeof(pit));
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) == 0)
		put(b, T_CLOCK, 0, &clock, sizeof(clock));
	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct vm_device *d = vm->devs[i];
		size_t n = d->ops->save ? d->ops->save(d, dev, sizeof(dev)) : 0;
		if (n)
			put(b, T_DEVICE, i, dev, n);
	}
	return 0;
}

ssize_t vm_state_blob(struct keel_vm *vm, uint8_t **out, keel_error_t *err)
{
	struct blob b = {0};
	cleanup_free char *cfg = keel_vm_config_json(&vm->cfg);
	json_t *j;
	put(&b, 0, 0, "", 0); /* room for the header, rewritten below */
	b.nsec = 0;
	b.len = 16;
	j = cfg ? json_loads(cfg, 0, NULL) : NULL;
	if (j && vm->cfg.name)
		json_object_set_new(j, "name", json_string(vm->cfg.name));
	cleanup_free char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return keel_err(err, ENOMEM, "VM state");
	put(&b, T_CONFIG, 0, text, strlen(text));
	put(&b, T_RAM, 0, &vm->ram_size, sizeof(vm->ram_size));
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (save_cpu(&vm->cpus[i], &b, err) < 0)
			goto fail;
	if (save_vm(vm, &b, err) < 0)
		goto fail;
	if (b.failed) {
		keel_err(err, ENOMEM, "VM state");
		goto fail;
	}
	memcpy(b.buf, STATE_MAGIC, 8);
	uint32_t v = STATE_VERSION;
	memcpy(b.buf + 8, &v, 4);
	memcpy(b.buf + 12, &b.nsec, 4);
	*out = b.buf;
	return (ssize_t)b.len;
fail:
	free(b.buf);
	return -1;
}

/* Walks the sections, checking bounds and CRCs; calls fn for each. */
static int walk(const uint8_t *blob, size_t len,
		int (*fn)(void *arg, const struct sec_hdr *h, const uint8_t *data, keel_error_t *err),
		void *arg, keel_error_t *err)
{
	uint32_t version, nsec;
	size_t off = 16;
	if (len < 16 || memcmp(blob, STATE_MAGIC, 8) != 0)
		return keel_err(err, EINVAL, "not a keel VM state (bad magic)");
	memcpy(&version, blob + 8, 4);
	memcpy(&nsec, blob + 12, 4);
	if (version != STATE_VERSION)
		return keel_err(err, EINVAL, "VM state version %u, this keel reads version %u",
				version, STATE_VERSION);
	for (uint32_t i = 0; i < nsec; i++) {
		struct sec_hdr h;
		if (len - off < sizeof(h))
			return keel_err(err, EINVAL, "VM state truncated");
		memcpy(&h, blob + off, sizeof(h));
		off += sizeof(h);
		if (h.len > len - off)
			return keel_err(err, EINVAL, "VM state truncated (section %u)", i);
		if ((uint32_t)crc32(0, blob + off, (uInt)h.len) != h.crc)
			return keel_err(err, EINVAL, "VM state corrupt: checksum mismatch in section %u",
					i);
		if (fn && fn(arg, &h, blob + off, err) < 0)
			return -1;
		off += (h.len + 7) & ~7ull;
	}
	return 0;
}

struct cfg_arg {
	struct keel_vm_config *cfg;
	uint64_t ram;
	bool have_cfg;
};

static int cfg_fn(void *arg, const struct sec_hdr *h, const uint8_t *data, keel_error_t *err)
{
	struct cfg_arg *a = arg;
	if (h->tag == T_RAM && h->len == 8)
		memcpy(&a->ram, data, 8);
	if (h->tag != T_CONFIG || a->have_cfg)
		return 0;
	cleanup_free char *text = strndup((const char *)data, h->len);
	json_t *j = text ? json_loads(text, 0, NULL) : NULL;
	if (!j || keel_vm_config_from_json(text, a->cfg, err) < 0) {
		json_decref(j);
		return keel_err(err, EINVAL, "VM state: bad config section");
	}
	const char *name = json_string_value(json_object_get(j, "name"));
	a->cfg->name = name ? strdup(name) : NULL;
	json_decref(j);
	a->have_cfg = true;
	return 0;
}

int vm_state_blob_config(const uint8_t *blob, size_t len, struct keel_vm_config *cfg,
			 keel_error_t *err)
{
	struct cfg_arg a = {cfg, 0, false};
	if (walk(blob, len, cfg_fn, &a, err) < 0) {
		if (a.have_cfg)
			keel_vm_config_clear(cfg);
		return -1;
	}
	if (!a.have_cfg || a.ram != cfg->mem_bytes) {
		if (a.have_cfg)
			keel_vm_config_clear(cfg);
		return keel_err(err, EINVAL, "VM state: missing config or RAM size");
	}
	return 0;
}

static int set_cpu(struct vm_cpu *cpu, const struct sec_hdr *h, const uint8_t *data,
		   keel_error_t *err)
{
	static const struct {
		uint32_t tag;
		unsigned long ioc;
		size_t size; /* 0: variable (MSRs) */
		const char *name;
	} t[] = {
		{T_SREGS, KVM_SET_SREGS, sizeof(struct kvm_sregs), "sregs"},
		{T_REGS, KVM_SET_REGS, sizeof(struct kvm_regs), "regs"},
		{T_XSAVE, KVM_SET_XSAVE, sizeof(struct kvm_xsave), "xsave"},
		{T_FPU, KVM_SET_FPU, sizeof(struct kvm_fpu), "fpu"},
		{T_XCRS, KVM_SET_XCRS, sizeof(struct kvm_xcrs), "xcrs"},
		{T_MSRS, KVM_SET_MSRS, 0, "msrs"},
		{T_LAPIC, KVM_SET_LAPIC, sizeof(struct kvm_lapic_state), "lapic"},
		{T_EVENTS, KVM_SET_VCPU_EVENTS, sizeof(struct kvm_vcpu_events), "events"},
		{T_MPSTATE, KVM_SET_MP_STATE, sizeof(struct kvm_mp_state), "mp state"},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (t[i].tag != h->tag)
			continue;
		if (t[i].size ? h->len != t[i].size : h->len < sizeof(struct kvm_msrs))
			return keel_err(err, EINVAL, "VM state: bad %s section", t[i].name);
		void *copy = malloc(h->len);
		if (!copy)
			return keel_err(err, ENOMEM, "VM state");
		memcpy(copy, data, h->len);
		int r = ioctl(cpu->fd, t[i].ioc, copy);
		uint32_t nmsrs = ((struct kvm_msrs *)copy)->nmsrs;
		free(copy);
		if (h->tag == T_MSRS && (nmsrs > MAX_MSRS ||
					 h->len != sizeof(struct kvm_msrs) +
							   nmsrs * sizeof(struct kvm_msr_entry)))
			return keel_err(err, EINVAL, "VM state: bad msrs section");
		if (r < 0 || (h->tag == T_MSRS && r != (int)nmsrs))
			return keel_err_sys(err, "restoring vCPU %u %s", cpu->id, t[i].name);
		return 0;
	}
	return 0;
}

static int apply_fn(void *arg, const struct sec_hdr *h, const uint8_t *data, keel_error_t *err)
{
	struct keel_vm *vm = arg;
	switch (h->tag) {
	case T_CONFIG:
	case T_RAM:
		return 0;
	case T_IRQCHIP:
		if (h->len != sizeof(struct kvm_irqchip))
			return keel_err(err, EINVAL, "VM state: bad irqchip section");
		if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, data) < 0)
			return keel_err_sys(err, "KVM_SET_IRQCHIP");
		return 0;
	case T_PIT:
		if (h->len != sizeof(struct kvm_pit_state2) ||
		    ioctl(vm->vm_fd, KVM_SET_PIT2, data) < 0)
			return keel_err_sys(err, "KVM_SET_PIT2");
		return 0;
	case T_CLOCK: {
		struct kvm_clock_data c;
		if (h->len != sizeof(c))
			return keel_err(err, EINVAL, "VM state: bad clock section");
		memcpy(&c, data, sizeof(c));
		c.flags = 0;
		(void)ioctl(vm->vm_fd, KVM_SET_CLOCK, &c);
		return 0;
	}
	case T_DEVICE:
		if (h->index >= vm->ndevs || !vm->devs[h->index]->ops->load ||
		    vm->devs[h->index]->ops->load(vm->devs[h->index], data, h->len) < 0)
			return keel_err(err, EINVAL, "VM state: bad device section %u", h->index);
		return 0;
	default:
		if (h->index >= vm->ncpus)
			return keel_err(err, EINVAL, "VM state: vCPU %u does not exist", h->index);
		return set_cpu(&vm->cpus[h->index], h, data, err);
	}
}

int vm_state_apply(struct keel_vm *vm, const uint8_t *blob, size_t len, keel_error_t *err)
{
	if (walk(blob, len, NULL, NULL, err) < 0) /* all checksums before touching the VM */
		return -1;
	return walk(blob, len, apply_fn, vm, err);
}
