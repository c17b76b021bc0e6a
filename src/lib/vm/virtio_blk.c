/* virtio-blk backed by a raw file (virtio 1.x section 5.2). Read-only disks offer
 * VIRTIO_BLK_F_RO and answer writes with VIRTIO_BLK_S_IOERR. Requests are served with
 * preadv/pwritev in the vCPU thread that notified: no request is ever in flight while the vCPUs
 * are paused, so a snapshot or migration only needs the disk flushed (quiesce). */
#include "vm/virtio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECTOR 512ULL
#define VIRTIO_BLK_F_RO    5
#define VIRTIO_BLK_F_FLUSH 9

enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8 };
enum { S_OK = 0, S_IOERR = 1, S_UNSUPP = 2 };

struct blk {
	int fd;
	bool ro;
	uint64_t sectors;
};

struct blk_req {
	uint32_t type, reserved;
	uint64_t sector;
};

static void blk_config(struct virtio_dev *v, uint64_t off, uint8_t *data, uint32_t len,
		       bool write)
{
	struct blk *b = v->priv;
	uint8_t cfg[8];
	memcpy(cfg, &b->sectors, 8); /* capacity, in 512-byte sectors; the rest reads 0 */
	if (write)
		return;
	memset(data, 0, len);
	if (off < sizeof(cfg))
		memcpy(data, cfg + off, len < sizeof(cfg) - off ? len : sizeof(cfg) - off);
}

static int full_io(int fd, uint8_t *buf, size_t len, uint64_t off, bool write)
{
	while (len) {
		ssize_t n = write ? pwrite(fd, buf, len, (off_t)off) : pread(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Serves one request chain: header, data segments, status byte. Returns bytes written into
 * guest memory. */
static uint32_t blk_request(struct blk *b, struct virtio_chain *c)
{
	struct blk_req h;
	uint8_t *status = c->seg[c->n - 1].host;
	uint32_t written = 1;
	uint64_t off;

	if (c->n < 2 || c->seg[0].len < sizeof(h) || c->seg[c->n - 1].len < 1 ||
	    !c->seg[c->n - 1].write)
		return 0;
	memcpy(&h, c->seg[0].host, sizeof(h));
	off = h.sector * SECTOR;
	*status = S_OK;
	switch (h.type) {
	case T_IN:
	case T_OUT:
		if (h.type == T_OUT && b->ro) {
			*status = S_IOERR;
			break;
		}
		for (unsigned i = 1; i + 1 < c->n; i++) {
			uint32_t len = c->seg[i].len;
			if (h.sector > b->sectors || off + len > b->sectors * SECTOR ||
			    c->seg[i].write != (h.type == T_IN) ||
			    full_io(b->fd, c->seg[i].host, len, off, h.type == T_OUT) < 0) {
				*status = S_IOERR;
				break;
			}
			off += len;
			written += h.type == T_IN ? len : 0;
		}
		break;
	case T_FLUSH:
		if (!b->ro && fdatasync(b->fd) < 0)
			*status = S_IOERR;
		break;
	case T_GET_ID:
		if (c->n == 3 && c->seg[1].write) {
			uint32_t n = c->seg[1].len < 20 ? c->seg[1].len : 20;
			memset(c->seg[1].host, 0, n);
			memcpy(c->seg[1].host, "keel-virtio-blk", n < 15 ? n : 15);
			written += n;
		}
		break;
	default:
		*status = S_UNSUPP;
		break;
	}
	return written;
}

static void blk_notify(struct virtio_dev *v, unsigned q)
{
	struct virtio_chain c;
	bool any = false;
	int r;
	while ((r = virtio_pop(v, q, &c)) > 0) {
		virtio_push(v, q, &c, blk_request(v->priv, &c));
		any = true;
	}
	if (any)
		virtio_interrupt(v);
}

static void blk_quiesce(struct virtio_dev *v)
{
	struct blk *b = v->priv;
	if (!b->ro)
		(void)fdatasync(b->fd);
}

static void blk_free(struct virtio_dev *v)
{
	struct blk *b = v->priv;
	if (b && b->fd >= 0)
		close(b->fd);
	free(b);
}

static const struct virtio_backend_ops blk_ops = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.nqueues = 1,
	.config = blk_config,
	.notify = blk_notify,
	.quiesce = blk_quiesce,
	.free = blk_free,
};

int vm_virtio_blk_create(struct keel_vm *vm, unsigned index, keel_error_t *err)
{
	struct virtio_dev *v = calloc(1, sizeof(*v));
	struct blk *b = calloc(1, sizeof(*b));
	struct stat st;

	if (!v || !b) {
		free(v);
		free(b);
		return keel_err(err, ENOMEM, "virtio-blk");
	}
	b->ro = vm->cfg.disk_ro;
	b->fd = open(vm->cfg.disk, (b->ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (b->fd < 0 || fstat(b->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int e = b->fd < 0 ? errno : EINVAL;
		blk_free(&(struct virtio_dev){.priv = b});
		free(v);
		return e == EINVAL ? keel_err(err, e, "not a regular file")
				   : keel_err(err, e, "%s", strerror(e));
	}
	b->sectors = (uint64_t)st.st_size / SECTOR;
	v->ops = &blk_ops;
	v->priv = b;
	v->features = (1ull << VIRTIO_BLK_F_FLUSH) | (b->ro ? 1ull << VIRTIO_BLK_F_RO : 0);
	if (virtio_register(vm, v, index, err) < 0) {
		blk_free(v);
		free(v);
		return -1;
	}
	return 0;
}
