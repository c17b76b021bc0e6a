/* virtio.elf: a tiny freestanding virtio-mmio driver for the device tests.
 *
 * Runs at CPL3 (entry.S maps all 4 GiB user-accessible, so the MMIO windows are reachable) with
 * interrupts off: completions are polled through the used rings. Devices are found the way
 * Linux finds them, from `virtio_mmio.device=4K@0x<addr>:<irq>` words on the command line.
 *
 * Block: prints `BLK capacity=<sectors> ro=<0|1>` and `SECTOR0 <text>` (the first printable
 * bytes of sector 0); with `blk_write`, writes "KEEL-GUEST-WROTE-SECTOR-1" to sector 1 and
 * prints `WRITE status=<virtio status>` then `SECTOR1 <text>` read back; with `blk_loop`,
 * re-reads sector 0 every ~100 ms forever, printing `LOOP <n> <text>` (for snapshot and
 * migration tests: the queue positions must survive them).
 * Net: prints `NET mac=<mac> tx=ok` after sending one broadcast frame of ethertype 0x88b5 with
 * payload "KEEL-NET-FRAME"; with `net_rx`, waits up to 10 s for a frame and prints
 * `NET rx len=<n> <text>` (text from the payload, after the Ethernet header).
 * Then resets (the VM ends with 0), unless looping. */
#include "guest.h"

#define QSIZE 8
#define TIMEOUT_MS 10000

enum {
	R_MAGIC = 0x000, R_VERSION = 0x004, R_DEVICE_ID = 0x008, R_DEV_FEAT = 0x010,
	R_DEV_FEAT_SEL = 0x014, R_DRV_FEAT = 0x020, R_DRV_FEAT_SEL = 0x024, R_QUEUE_SEL = 0x030,
	R_QUEUE_NUM_MAX = 0x034, R_QUEUE_NUM = 0x038, R_QUEUE_READY = 0x044, R_NOTIFY = 0x050,
	R_STATUS = 0x070, R_DESC = 0x080, R_AVAIL = 0x090, R_USED = 0x0a0, R_CONFIG = 0x100,
};

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct vq {
	struct desc desc[QSIZE];
	struct {
		uint16_t flags, idx, ring[QSIZE], event;
	} avail __attribute__((aligned(16)));
	struct {
		uint16_t flags, idx;
		struct {
			uint32_t id, len;
		} ring[QSIZE];
	} used __attribute__((aligned(16)));
	uint16_t last_used, q;
	uint64_t base;
} __attribute__((aligned(4096)));

static struct vq blk_q, net_rxq, net_txq;
static uint8_t blk_buf[512] __attribute__((aligned(512)));
static uint8_t net_rxbuf[4][2048], net_txbuf[128];
static uint64_t tsc_khz = 2000000;

void *memset(void *s, int c, size_t n)
{
	unsigned char *p = s;
	while (n--)
		*p++ = (unsigned char)c;
	return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *a = d;
	const unsigned char *b = s;
	while (n--)
		*a++ = *b++;
	return d;
}

static size_t slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

/* ---- output ---- */
static char line[256];
static size_t pos;

static void out(const char *s)
{
	while (*s && pos < sizeof(line) - 1)
		line[pos++] = *s++;
}

static void out_u(uint64_t v)
{
	char tmp[24];
	int n = 0;
	do
		tmp[n++] = (char)('0' + v % 10);
	while (v /= 10);
	while (n && pos < sizeof(line) - 1)
		line[pos++] = tmp[--n];
}

static void out_hex8(uint8_t v)
{
	const char *h = "0123456789abcdef";
	char s[3] = {h[v >> 4], h[v & 15], 0};
	out(s);
}

/* Up to max printable bytes of buf. */
static void out_text(const uint8_t *buf, size_t max)
{
	for (size_t i = 0; i < max && buf[i] >= 0x20 && buf[i] < 0x7f && pos < sizeof(line) - 1; i++)
		line[pos++] = (char)buf[i];
}

static void flush(void)
{
	line[pos++] = '\n';
	sys_write(line, pos);
	pos = 0;
}

/* ---- command line ---- */
static int has_word(const char *cl, const char *w)
{
	size_t n = slen(w);
	for (const char *p = cl; *p; p++) {
		size_t i = 0;
		if (p != cl && p[-1] != ' ')
			continue;
		while (i < n && p[i] == w[i])
			i++;
		if (i == n && (p[n] == ' ' || p[n] == 0))
			return 1;
	}
	return 0;
}

/* Finds the next "virtio_mmio.device=...@0x<hex>" from *cl; returns 0 when none. */
static uint64_t next_device(const char **cl)
{
	const char *key = "virtio_mmio.device=";
	for (const char *p = *cl; *p; p++) {
		size_t i = 0;
		while (key[i] && p[i] == key[i])
			i++;
		if (key[i])
			continue;
		for (p += i; *p && *p != '@'; p++)
			;
		if (p[0] != '@' || p[1] != '0' || p[2] != 'x')
			continue;
		uint64_t v = 0;
		for (p += 3;; p++) {
			int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
			if (d < 0)
				break;
			v = v * 16 + (uint64_t)d;
		}
		*cl = p;
		return v;
	}
	return 0;
}

/* ---- virtio-mmio ---- */
static uint32_t rd(uint64_t base, uint32_t off)
{
	return *(volatile uint32_t *)(base + off);
}

static void wr(uint64_t base, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(base + off) = v;
}

static void wr64(uint64_t base, uint32_t off, uint64_t v)
{
	wr(base, off, (uint32_t)v);
	wr(base, off + 4, (uint32_t)(v >> 32));
}

static int dev_init(uint64_t base, uint32_t features_lo, struct vq **qs, unsigned nq)
{
	wr(base, R_STATUS, 0);
	wr(base, R_STATUS, 1);     /* ACKNOWLEDGE */
	wr(base, R_STATUS, 1 | 2); /* DRIVER */
	wr(base, R_DEV_FEAT_SEL, 1);
	if (!(rd(base, R_DEV_FEAT) & 1))
		return -1; /* no VIRTIO_F_VERSION_1 */
	wr(base, R_DRV_FEAT_SEL, 1);
	wr(base, R_DRV_FEAT, 1);
	wr(base, R_DEV_FEAT_SEL, 0);
	wr(base, R_DRV_FEAT_SEL, 0);
	wr(base, R_DRV_FEAT, rd(base, R_DEV_FEAT) & features_lo);
	wr(base, R_STATUS, 1 | 2 | 8); /* FEATURES_OK */
	if (!(rd(base, R_STATUS) & 8))
		return -1;
	for (unsigned i = 0; i < nq; i++) {
		struct vq *q = qs[i];
		memset(q, 0, sizeof(*q));
		q->q = (uint16_t)i;
		q->base = base;
		wr(base, R_QUEUE_SEL, i);
		if (rd(base, R_QUEUE_NUM_MAX) < QSIZE)
			return -1;
		wr(base, R_QUEUE_NUM, QSIZE);
		wr64(base, R_DESC, (uint64_t)(uintptr_t)q->desc);
		wr64(base, R_AVAIL, (uint64_t)(uintptr_t)&q->avail);
		wr64(base, R_USED, (uint64_t)(uintptr_t)&q->used);
		wr(base, R_QUEUE_READY, 1);
	}
	wr(base, R_STATUS, 1 | 2 | 8 | 4); /* DRIVER_OK */
	return 0;
}

/* Makes chain head available (descriptors already filled) without notifying. */
static void post(struct vq *q, uint16_t head)
{
	q->avail.ring[q->avail.idx % QSIZE] = head;
	__atomic_store_n(&q->avail.idx, (uint16_t)(q->avail.idx + 1), __ATOMIC_RELEASE);
}

/* Waits for the next used element; returns its length, or -1 after the timeout. */
static int64_t wait_used(struct vq *q, uint64_t ms)
{
	uint64_t end = rdtsc() + ms * tsc_khz;
	while (__atomic_load_n(&q->used.idx, __ATOMIC_ACQUIRE) == q->last_used)
		if (rdtsc() > end)
			return -1;
	return q->used.ring[q->last_used++ % QSIZE].len;
}

static void set_desc(struct vq *q, uint16_t i, const void *addr, uint32_t len, uint16_t flags)
{
	q->desc[i] = (struct desc){(uint64_t)(uintptr_t)addr, len, flags, (uint16_t)(i + 1)};
}

/* ---- block ---- */
static int blk_io(uint32_t type, uint64_t sector)
{
	static struct {
		uint32_t type, reserved;
		uint64_t sector;
	} hdr;
	static volatile uint8_t status;
	hdr.type = type;
	hdr.sector = sector;
	status = 0xff;
	set_desc(&blk_q, 0, &hdr, sizeof(hdr), 1);
	set_desc(&blk_q, 1, blk_buf, 512, 1 | (type == 0 ? 2 : 0));
	set_desc(&blk_q, 2, (const void *)&status, 1, 2);
	post(&blk_q, 0);
	wr(blk_q.base, R_NOTIFY, 0);
	if (wait_used(&blk_q, TIMEOUT_MS) < 0)
		return -1;
	return status;
}

static void blk_test(uint64_t base, const char *cl)
{
	struct vq *qs[] = {&blk_q};
	if (dev_init(base, 1u << 5 | 1u << 9, qs, 1) < 0) {
		out("BLK init failed");
		return flush();
	}
	uint64_t cap = rd(base, R_CONFIG) | (uint64_t)rd(base, R_CONFIG + 4) << 32;
	out("BLK capacity=");
	out_u(cap);
	out(" ro=");
	out_u((rd(base, R_DEV_FEAT) >> 5) & 1);
	flush();
	int s = blk_io(0, 0);
	out("SECTOR0 ");
	if (s == 0)
		out_text(blk_buf, 48);
	else
		out(s < 0 ? "timeout" : "error");
	flush();
	if (has_word(cl, "blk_write")) {
		const char *msg = "KEEL-GUEST-WROTE-SECTOR-1";
		memset(blk_buf, 0, sizeof(blk_buf));
		memcpy(blk_buf, msg, slen(msg));
		s = blk_io(1, 1);
		out("WRITE status=");
		out_u(s < 0 ? 99 : (uint64_t)s);
		flush();
		memset(blk_buf, 0, sizeof(blk_buf));
		s = blk_io(0, 1);
		out("SECTOR1 ");
		out_text(blk_buf, 48);
		flush();
	}
	if (!has_word(cl, "blk_loop"))
		return;
	for (uint64_t n = 1;; n++) {
		uint64_t end = rdtsc() + 100 * tsc_khz;
		memset(blk_buf, 0, sizeof(blk_buf));
		s = blk_io(0, 0);
		out("LOOP ");
		out_u(n);
		out(" ");
		if (s == 0)
			out_text(blk_buf, 16);
		else
			out(s < 0 ? "timeout" : "error");
		flush();
		while (rdtsc() < end)
			;
	}
}

/* ---- net ---- */
static void net_test(uint64_t base, const char *cl)
{
	struct vq *qs[] = {&net_rxq, &net_txq};
	uint8_t mac[6];
	if (dev_init(base, 1u << 5, qs, 2) < 0) {
		out("NET init failed");
		return flush();
	}
	for (unsigned i = 0; i < 6; i++)
		mac[i] = *(volatile uint8_t *)(base + R_CONFIG + i);
	for (uint16_t i = 0; i < 4; i++) { /* receive buffers: 12-byte header + frame */
		net_rxq.desc[i] = (struct desc){(uint64_t)(uintptr_t)net_rxbuf[i], 2048, 2, 0};
		post(&net_rxq, i);
	}
	wr(base, R_NOTIFY, 0);
	/* header (12 zero bytes) | dst broadcast | src mac | 0x88b5 | payload, padded to 60 */
	const char *payload = "KEEL-NET-FRAME";
	memset(net_txbuf, 0, sizeof(net_txbuf));
	memset(net_txbuf + 12, 0xff, 6);
	memcpy(net_txbuf + 18, mac, 6);
	net_txbuf[24] = 0x88;
	net_txbuf[25] = 0xb5;
	memcpy(net_txbuf + 26, payload, slen(payload));
	set_desc(&net_txq, 0, net_txbuf, 12 + 60, 0);
	post(&net_txq, 0);
	wr(base, R_NOTIFY, 1);
	int64_t r = wait_used(&net_txq, TIMEOUT_MS);
	out("NET mac=");
	for (unsigned i = 0; i < 6; i++) {
		if (i)
			out(":");
		out_hex8(mac[i]);
	}
	out(r < 0 ? " tx=timeout" : " tx=ok");
	flush();
	if (!has_word(cl, "net_rx"))
		return;
	/* the host sends its own frames to a new link (IPv6 neighbour discovery): skip them */
	uint64_t end = rdtsc() + TIMEOUT_MS * tsc_khz;
	int64_t len = -1;
	while (rdtsc() < end) {
		uint16_t slot = net_rxq.last_used % QSIZE;
		len = wait_used(&net_rxq, TIMEOUT_MS);
		if (len < 0)
			break;
		uint32_t id = net_rxq.used.ring[slot].id % 4;
		const uint8_t *f = net_rxbuf[id] + 12;
		if (len > 26 && f[12] == 0x88 && f[13] == 0xb5) {
			out("NET rx len=");
			out_u((uint64_t)len);
			out(" ");
			out_text(f + 14, (size_t)len - 26);
			return flush();
		}
		post(&net_rxq, (uint16_t)id);
		wr(base, R_NOTIFY, 0);
		len = -1;
	}
	out("NET rx timeout");
	flush();
}

void guest_main(struct hvm_start_info *si)
{
	const char *cl = si->cmdline_paddr ? (const char *)(uintptr_t)si->cmdline_paddr : "";
	const char *p = cl;
	uint32_t a, b, c, d;
	uint64_t base;
	int found = 0;

	memset((void *)GUEST_TSS, 0, GUEST_TSS_SIZE);
	cpuid(0x40000000, &a, &b, &c, &d);
	if (b == 0x4b4d564b && a >= 0x40000010) { /* "KVMK": the TSC rate from the VMM */
		cpuid(0x40000010, &a, &b, &c, &d);
		if (a)
			tsc_khz = a;
	}
	while ((base = next_device(&p))) {
		found++;
		if (rd(base, R_MAGIC) != 0x74726976 || rd(base, R_VERSION) != 2) {
			out("DEV bad magic or version");
			flush();
			continue;
		}
		switch (rd(base, R_DEVICE_ID)) {
		case 2: blk_test(base, cl); break;
		case 1: net_test(base, cl); break;
		default: out("DEV unknown id"); flush(); break;
		}
	}
	if (!found) {
		out("NO-DEVICES");
		flush();
	}
	out("VIRTIO-DONE");
	flush();
}
