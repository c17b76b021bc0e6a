/* virtio-mmio transport and split virtqueues (see virtio.h). Register offsets follow the
 * virtio 1.x specification, section 4.2.2 ("MMIO Device Register Layout"). */
#include "vm/virtio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIRTIO_MAGIC  0x74726976 /* "virt" */
#define REGS_VERSION  1

enum {
	R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008, R_VENDOR_ID = 0x00c,
	R_DEV_FEAT = 0x010, R_DEV_FEAT_SEL = 0x014, R_DRV_FEAT = 0x020, R_DRV_FEAT_SEL = 0x024,
	R_QUEUE_SEL = 0x030, R_QUEUE_NUM_MAX = 0x034, R_QUEUE_NUM = 0x038, R_QUEUE_READY = 0x044,
	R_QUEUE_NOTIFY = 0x050, R_ISR = 0x060, R_ISR_ACK = 0x064, R_STATUS = 0x070,
	R_DESC_LO = 0x080, R_DESC_HI = 0x084, R_AVAIL_LO = 0x090, R_AVAIL_HI = 0x094,
	R_USED_LO = 0x0a0, R_USED_HI = 0x0a4, R_CFG_GEN = 0x0fc, R_CONFIG = 0x100,
};

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static struct virtio_queue *cur_queue(struct virtio_dev *v)
{
	return v->r.queue_sel < v->ops->nqueues ? &v->r.q[v->r.queue_sel] : NULL;
}

static void set_hi(uint64_t *x, uint32_t val)
{
	*x = (*x & 0xffffffffull) | (uint64_t)val << 32;
}

static void set_lo(uint64_t *x, uint32_t val)
{
	*x = (*x & ~0xffffffffull) | val;
}

static uint32_t reg_read(struct virtio_dev *v, uint64_t off)
{
	struct virtio_queue *q = cur_queue(v);
	switch (off) {
	case R_MAGIC: return VIRTIO_MAGIC;
	case R_VERSION: return 2;
	case R_DEVICE_ID: return v->ops->device_id;
	case R_VENDOR_ID: return 0x4c45454b; /* "KEEL" */
	case R_DEV_FEAT:
		return v->r.dev_feat_sel < 2 ? (uint32_t)(v->features >> (32 * v->r.dev_feat_sel))
					     : 0;
	case R_QUEUE_NUM_MAX: return q ? VIRTIO_QUEUE_MAX : 0;
	case R_QUEUE_READY: return q ? q->ready : 0;
	case R_ISR: return v->r.isr;
	case R_STATUS: return v->r.status;
	case R_CFG_GEN: return v->r.cfg_gen;
	default: return 0;
	}
}

static void reset(struct virtio_dev *v)
{
	memset(&v->r, 0, sizeof(v->r));
	v->r.version = REGS_VERSION;
}

static void queue_write(struct virtio_dev *v, uint64_t off, uint32_t val)
{
	struct virtio_queue *q = cur_queue(v);
	if (!q)
		return;
	switch (off) {
	case R_QUEUE_NUM:
		/* a power of two up to the maximum, as split rings require */
		q->num = (val && val <= VIRTIO_QUEUE_MAX && !(val & (val - 1))) ? val : 0;
		break;
	case R_QUEUE_READY: q->ready = val & 1; break;
	case R_DESC_LO: set_lo(&q->desc, val); break;
	case R_DESC_HI: set_hi(&q->desc, val); break;
	case R_AVAIL_LO: set_lo(&q->avail, val); break;
	case R_AVAIL_HI: set_hi(&q->avail, val); break;
	case R_USED_LO: set_lo(&q->used, val); break;
	case R_USED_HI: set_hi(&q->used, val); break;
	default: break;
	}
}

static void reg_write(struct virtio_dev *v, uint64_t off, uint32_t val)
{
	switch (off) {
	case R_DEV_FEAT_SEL: v->r.dev_feat_sel = val; break;
	case R_DRV_FEAT_SEL: v->r.drv_feat_sel = val; break;
	case R_DRV_FEAT:
		if (v->r.drv_feat_sel < 2) {
			uint64_t mask = 0xffffffffull << (32 * v->r.drv_feat_sel);
			v->r.driver_features = (v->r.driver_features & ~mask) |
					       (((uint64_t)val << (32 * v->r.drv_feat_sel)) &
						v->features);
		}
		break;
	case R_QUEUE_SEL: v->r.queue_sel = val; break;
	case R_QUEUE_NOTIFY:
		if (val < v->ops->nqueues && (v->r.status & VIRTIO_STATUS_DRIVER_OK))
			v->ops->notify(v, val);
		break;
	case R_ISR_ACK:
		v->r.isr &= ~val;
		break;
	case R_STATUS:
		if (val == 0)
			reset(v);
		else
			v->r.status = (uint8_t)val;
		break;
	default:
		queue_write(v, off, val);
		break;
	}
}

static void virtio_mmio(struct vm_device *dev, uint64_t addr, uint8_t *data, uint32_t len,
			bool write)
{
	struct virtio_dev *v = (struct virtio_dev *)dev;
	uint64_t off = addr - dev->mmio;
	uint32_t val = 0;

	pthread_mutex_lock(&v->lock);
	if (off >= R_CONFIG) {
		if (v->ops->config)
			v->ops->config(v, off - R_CONFIG, data, len, write);
		else if (!write)
			memset(data, 0, len);
	} else if (len != 4 || off % 4) {
		if (!write) /* registers are 32-bit wide; anything else reads as 0 */
			memset(data, 0, len);
	} else if (write) {
		memcpy(&val, data, 4);
		reg_write(v, off, val);
	} else {
		val = reg_read(v, off);
		memcpy(data, &val, 4);
	}
	pthread_mutex_unlock(&v->lock);
}

/* ---- split virtqueues ---- */

static uint16_t load16(const void *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

static void fail(struct virtio_dev *v)
{
	v->r.status |= VIRTIO_STATUS_FAILED; /* DEVICE_NEEDS_RESET would be 0x40 */
}

int virtio_pop(struct virtio_dev *v, unsigned qi, struct virtio_chain *c)
{
	struct virtio_queue *q = &v->r.q[qi];
	struct keel_vm *vm = v->dev.vm;
	if (!q->ready || !q->num)
		return 0;
	uint8_t *avail = vm_gpa(vm, q->avail, 4 + 2 * (uint64_t)q->num);
	struct vring_desc *desc = vm_gpa(vm, q->desc, 16 * (uint64_t)q->num);
	if (!avail || !desc)
		return fail(v), -1;
	if (load16(avail + 2) == q->last_avail)
		return 0;
	uint16_t head;
	memcpy(&head, avail + 4 + 2 * (q->last_avail % q->num), 2);
	if (head >= q->num)
		return fail(v), -1;
	q->last_avail++;
	c->head = head;
	c->n = 0;
	for (uint16_t i = head;;) {
		struct vring_desc d = desc[i];
		if (c->n == sizeof(c->seg) / sizeof(c->seg[0]) || !(c->seg[c->n].host =
								    vm_gpa(vm, d.addr, d.len)))
			return fail(v), -1;
		c->seg[c->n].len = d.len;
		c->seg[c->n].write = d.flags & VRING_DESC_F_WRITE;
		c->n++;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 1;
		if (d.next >= q->num)
			return fail(v), -1;
		i = d.next;
	}
}

void virtio_push(struct virtio_dev *v, unsigned qi, const struct virtio_chain *c, uint32_t len)
{
	struct virtio_queue *q = &v->r.q[qi];
	struct keel_vm *vm = v->dev.vm;
	uint8_t *used = vm_gpa(vm, q->used, 4 + 8 * (uint64_t)q->num);
	uint32_t elem[2] = {c->head, len};
	if (!used)
		return fail(v);
	for (unsigned i = 0; i < c->n; i++) /* what we wrote: migration must resend it */
		if (c->seg[i].write)
			vm_mark_dirty(vm, c->seg[i].host, c->seg[i].len);
	memcpy(used + 4 + 8 * (q->used_idx % q->num), elem, 8);
	q->used_idx++;
	__atomic_store_n((uint16_t *)(used + 2), q->used_idx, __ATOMIC_RELEASE);
	vm_mark_dirty(vm, used, 4 + 8 * (uint64_t)q->num);
}

/* An edge on the device's GSI, as kvmtool does for virtio-mmio. */
void virtio_interrupt(struct virtio_dev *v)
{
	v->r.isr |= 1;
	vm_irq_line(v->dev.vm, v->irq, 1);
	vm_irq_line(v->dev.vm, v->irq, 0);
}

/* ---- device plumbing ---- */

static size_t virtio_save(struct vm_device *dev, uint8_t *buf, size_t cap)
{
	struct virtio_dev *v = (struct virtio_dev *)dev;
	if (cap < sizeof(v->r))
		return 0;
	pthread_mutex_lock(&v->lock);
	if (v->ops->quiesce)
		v->ops->quiesce(v);
	memcpy(buf, &v->r, sizeof(v->r));
	pthread_mutex_unlock(&v->lock);
	return sizeof(v->r);
}

static int virtio_load(struct vm_device *dev, const uint8_t *buf, size_t len)
{
	struct virtio_dev *v = (struct virtio_dev *)dev;
	struct virtio_regs r;
	if (len != sizeof(r))
		return -1;
	memcpy(&r, buf, len);
	if (r.version != REGS_VERSION)
		return -1;
	for (unsigned i = 0; i < VIRTIO_MAX_QUEUES; i++)
		if (r.q[i].num > VIRTIO_QUEUE_MAX || (i >= v->ops->nqueues && r.q[i].ready))
			return -1;
	pthread_mutex_lock(&v->lock);
	v->r = r;
	pthread_mutex_unlock(&v->lock);
	return 0;
}

static void virtio_free(struct vm_device *dev)
{
	struct virtio_dev *v = (struct virtio_dev *)dev;
	if (v->ops->free)
		v->ops->free(v);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

static const struct vm_device_ops virtio_ops = {
	.name = "virtio-mmio",
	.mmio = virtio_mmio,
	.save = virtio_save,
	.load = virtio_load,
	.free = virtio_free,
};

int virtio_register(struct keel_vm *vm, struct virtio_dev *v, unsigned index, keel_error_t *err)
{
	v->dev.ops = &virtio_ops;
	v->dev.mmio = VIRTIO_MMIO_BASE + index * PAGE_SIZE;
	v->dev.mmio_len = PAGE_SIZE;
	v->irq = VIRTIO_MMIO_IRQ + index;
	v->features |= 1ull << VIRTIO_F_VERSION_1;
	pthread_mutex_init(&v->lock, NULL);
	reset(v);
	if (vm_add_device(vm, &v->dev, err) < 0) {
		pthread_mutex_destroy(&v->lock);
		return -1;
	}
	return 0;
}

/* Devices in a fixed order (block, then net) so that a snapshot's device sections and the
 * command line announcement match on restore. */
int vm_virtio_create(struct keel_vm *vm, keel_error_t *err)
{
	unsigned index = 0;
	if (vm->cfg.disk && vm_virtio_blk_create(vm, index++, err) < 0)
		return keel_err_wrap(err, "virtio-blk %s", vm->cfg.disk);
	if (vm->cfg.tap && vm_virtio_net_create(vm, index++, err) < 0)
		return keel_err_wrap(err, "virtio-net");
	return 0;
}

int vm_virtio_cmdline(const struct keel_vm *vm, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = 0;
	for (unsigned i = 0; i < vm->ndevs; i++) {
		const struct vm_device *d = vm->devs[i];
		if (d->ops != &virtio_ops)
			continue;
		int n = snprintf(buf + off, len - off, " virtio_mmio.device=4K@0x%llx:%u",
				 (unsigned long long)d->mmio, ((const struct virtio_dev *)d)->irq);
		if (n < 0 || (size_t)n >= len - off)
			return -1;
		off += (size_t)n;
	}
	return (int)off;
}
