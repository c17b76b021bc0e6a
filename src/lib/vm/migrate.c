/* Live migration, pre-copy (as in Xen's and QEMU's design).
 *
 * Source: connect; send a header (magic, RAM size, config); turn on KVM dirty logging; send
 * every non-zero page while the guest runs (round 0); then rounds of the pages dirtied
 * meanwhile (KVM_GET_DIRTY_LOG, which also re-arms tracking). When the dirty set would go out
 * within the downtime budget at the measured bandwidth, or after max_rounds, or when it stops
 * shrinking for 3 rounds (stop-and-copy, the policy for guests that dirty faster than the
 * link), the source pauses the vCPUs, sends the last dirty pages and the state blob, and waits
 * for the destination's ack. Only then does the VM end here; any failure before resumes it.
 *
 * Stream records: u32 type | u32 count | u64 len, then payload:
 *   HDR    "KEELMIG1" + u64 ram size + config JSON
 *   PAGES  count x (u64 guest RAM offset + 4096 bytes)
 *   STATE  the state blob (state.c, checksummed)
 *   END    -                                 and back from the destination: "ACK1" */
#include "vm/kvm.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "vm/vmdir.h"

#define MIG_MAGIC "KEELMIG1"
#define MIG_ACK   "ACK1"
#define BATCH     256
#define RECV_IDLE_S 10 /* a receiver gives up on a silent source: never a hung VMM */
/* Pre-copy stops once the rest would go out in this long (or half the downtime budget if
 * that is less): the more rounds it takes to get there, the shorter the pause. Each round
 * is short once the set is small, so going further than the budget costs little. */
#define FINAL_ROUND_MS 3.0

enum { R_HDR = 1, R_PAGES, R_STATE, R_END };

struct rec {
	uint32_t type, count;
	uint64_t len;
};

struct stream {
	int fd;
	uint64_t sent;
	uint64_t bandwidth; /* bytes/s, 0 = unlimited */
	uint64_t t0_ns;
};

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int send_all(struct stream *s, const void *buf, size_t len, keel_error_t *err)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(s->fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return keel_err_sys(err, "migration stream");
		p += n;
		len -= (size_t)n;
		s->sent += (uint64_t)n;
	}
	if (s->bandwidth) { /* sleep until the average rate is back under the cap */
		uint64_t due = s->t0_ns + s->sent * 1000000000ull / s->bandwidth, t = now_ns();
		if (due > t)
			usleep((useconds_t)((due - t) / 1000));
	}
	return 0;
}

static int recv_all(int fd, void *buf, size_t len, keel_error_t *err)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return keel_err(err, ETIMEDOUT, "migration stream: no data for %d s",
					RECV_IDLE_S);
		if (n < 0)
			return keel_err_sys(err, "migration stream");
		if (n == 0)
			return keel_err(err, EPIPE, "migration stream ended early");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_rec(struct stream *s, uint32_t type, uint32_t count, const void *data,
		    uint64_t len, keel_error_t *err)
{
	struct rec r = {type, count, len};
	if (send_all(s, &r, sizeof(r), err) < 0)
		return -1;
	return len ? send_all(s, data, len, err) : 0;
}

/* Sends the pages whose bits are set in bm (one bit per page of RAM). */
static int send_pages(struct keel_vm *vm, struct stream *s, const uint64_t *bm, uint64_t npages,
		      uint64_t *count, keel_error_t *err)
{
	static uint8_t buf[BATCH * (8 + PAGE_SIZE)];
	uint32_t n = 0;
	for (uint64_t p = 0; p < npages; p++) {
		if (!(bm[p / 64] & (1ull << (p % 64))))
			continue;
		uint64_t off = p * PAGE_SIZE;
		memcpy(buf + n * (8 + PAGE_SIZE), &off, 8);
		memcpy(buf + n * (8 + PAGE_SIZE) + 8, vm->ram + off, PAGE_SIZE);
		(*count)++;
		if (++n == BATCH) {
			if (send_rec(s, R_PAGES, n, buf, n * (8 + PAGE_SIZE), err) < 0)
				return -1;
			n = 0;
		}
	}
	return n ? send_rec(s, R_PAGES, n, buf, n * (8 + PAGE_SIZE), err) : 0;
}

/* ORs KVM's dirty bitmaps of every slot into bm (RAM offsets). Returns the dirty count. */
static int64_t collect_dirty(struct keel_vm *vm, uint64_t *bm, keel_error_t *err)
{
	int64_t total = 0;
	uint64_t base = 0;
	for (unsigned i = 0; i < vm->nslots; i++) {
		uint64_t pages = vm->slots[i].size / PAGE_SIZE;
		cleanup_free uint64_t *kbm = calloc((pages + 63) / 64, 8);
		struct kvm_dirty_log log = {.slot = i, .dirty_bitmap = kbm};
		if (!kbm)
			return keel_err(err, ENOMEM, "dirty bitmap");
		if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
			return keel_err_sys(err, "KVM_GET_DIRTY_LOG");
		for (uint64_t w = 0; w < (pages + 63) / 64; w++) {
			if (!kbm[w])
				continue;
			total += __builtin_popcountll(kbm[w]);
			for (unsigned b = 0; b < 64; b++)
				if (kbm[w] & (1ull << b)) {
					uint64_t p = base + w * 64 + b;
					bm[p / 64] |= 1ull << (p % 64);
				}
		}
		base += pages;
	}
	for (uint64_t w = 0; w < (vm->ram_size / PAGE_SIZE + 63) / 64; w++) {
		uint64_t d = __atomic_exchange_n(&vm->dev_dirty[w], 0, __ATOMIC_ACQ_REL);
		total += __builtin_popcountll(d & ~bm[w]);
		bm[w] |= d;
	}
	return total;
}

static int connect_to(const char *addr, keel_error_t *err)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	int fd, one = 1;
	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return keel_err(err, EINVAL, "destination must be ADDR:PORT, got '%s'", addr);
	snprintf(host, sizeof(host), "%.*s", (int)(colon - addr), addr);
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return keel_err(err, EINVAL, "cannot resolve '%s'", addr);
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		keel_err_sys(err, "connecting to %s", addr);
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int send_header(struct keel_vm *vm, struct stream *s, keel_error_t *err)
{
	cleanup_free char *cfg = keel_vm_config_json(&vm->cfg);
	cleanup_json json_t *j = cfg ? json_loads(cfg, 0, NULL) : NULL;
	if (!j)
		return keel_err(err, ENOMEM, "migration header");
	if (vm->cfg.name)
		json_object_set_new(j, "name", json_string(vm->cfg.name));
	cleanup_free char *text = json_dumps(j, JSON_COMPACT);
	size_t tl = strlen(text);
	cleanup_free uint8_t *buf = malloc(16 + tl);
	memcpy(buf, MIG_MAGIC, 8);
	memcpy(buf + 8, &vm->ram_size, 8);
	memcpy(buf + 16, text, tl);
	return send_rec(s, R_HDR, 0, buf, 16 + tl, err);
}

/* Final phase with the vCPUs paused: last pages, state, end marker, wait for the ack. */
static int stop_and_copy(struct keel_vm *vm, struct stream *s, uint64_t *bm, uint64_t words,
			 uint64_t npages, uint64_t *pages_sent, keel_error_t *err)
{
	cleanup_free uint8_t *blob = NULL;
	ssize_t len;
	char ack[4];
	struct pollfd p = {s->fd, POLLIN, 0};

	/* bm still holds the pages dirtied during the last pre-copy round, never sent: add the
	 * ones dirtied since (collect_dirty ORs into bm) and send both. */
	(void)words;
	uint64_t before = *pages_sent;
	if (collect_dirty(vm, bm, err) < 0)
		return -1;
	keel_trace("migrate: last dirty log read");
	if (send_pages(vm, s, bm, npages, pages_sent, err) < 0)
		return -1;
	if (keel_tracing()) {
		char m[64];
		snprintf(m, sizeof(m), "migrate: %llu last pages",
			 (unsigned long long)(*pages_sent - before));
		keel_trace(m);
	}
	keel_trace("migrate: last pages sent");
	len = vm_state_blob(vm, &blob, err);
	if (len < 0 || send_rec(s, R_STATE, 0, blob, (uint64_t)len, err) < 0 ||
	    send_rec(s, R_END, 0, NULL, 0, err) < 0)
		return -1;
	keel_trace("migrate: state sent");
	if (poll(&p, 1, 30000) <= 0)
		return keel_err(err, ETIMEDOUT, "no acknowledgement from the destination");
	if (recv_all(s->fd, ack, 4, err) < 0 || memcmp(ack, MIG_ACK, 4) != 0)
		return keel_err(err, EPROTO, "the destination did not acknowledge");
	keel_trace("migrate: ack received");
	return 0;
}

static int precopy(struct keel_vm *vm, struct stream *s, const struct keel_vm_migrate_opts *o,
		   struct keel_vm_migrate_stats *st, keel_error_t *err)
{
	uint64_t npages = vm->ram_size / PAGE_SIZE, words = (npages + 63) / 64, sent_pages = 0;
	cleanup_free uint64_t *bm = calloc(words, 8);
	int64_t dirty, best = INT64_MAX;
	unsigned stale = 0;
	if (!bm)
		return keel_err(err, ENOMEM, "dirty bitmap");
	if (vm_set_dirty_log(vm, true, err) < 0)
		return -1;
	for (uint64_t p = 0; p < npages; p++) /* round 0: all non-zero pages */
		if (vm->ram[p * PAGE_SIZE] || memcmp(vm->ram + p * PAGE_SIZE,
						     vm->ram + p * PAGE_SIZE + 1, PAGE_SIZE - 1))
			bm[p / 64] |= 1ull << (p % 64);
	uint64_t t_start = now_ns(), sent_start = s->sent;
	double target_ms = (double)o->max_downtime_ms / 2;
	if (target_ms > FINAL_ROUND_MS)
		target_ms = FINAL_ROUND_MS;
	for (st->rounds = 1;; st->rounds++) {
		if (send_pages(vm, s, bm, npages, &sent_pages, err) < 0)
			return -1;
		/* The rate over the whole migration so far: a small round's own rate is inflated
		 * by the socket buffer, which swallows it without waiting for the link. */
		double secs = (double)(now_ns() - t_start) / 1e9;
		double rate = secs > 0 ? (double)(s->sent - sent_start) / secs : 1e12;
		memset(bm, 0, words * 8);
		if ((dirty = collect_dirty(vm, bm, err)) < 0)
			return -1;
		double eta_ms = (double)dirty * (PAGE_SIZE + 8) / (rate > 1 ? rate : 1) * 1e3;
		stale = dirty < best ? 0 : stale + 1;
		best = dirty < best ? dirty : best;
		if (keel_tracing()) {
			char m[96];
			snprintf(m, sizeof(m), "migrate: round %u: %lld dirty, eta %.1f ms at %.0f MB/s",
				 st->rounds, (long long)dirty, eta_ms, rate / 1e6);
			keel_trace(m);
		}
		if (eta_ms <= target_ms || st->rounds >= o->max_rounds || stale >= 3)
			break;
	}
	if (vm_state_prepare(vm, err) < 0) /* MSR probing: before the pause, not in it */
		return -1;
	uint64_t pause_t = now_ns();
	keel_trace("migrate: pause");
	if (keel_vm_pause(vm, err) < 0)
		return -1;
	keel_trace("migrate: paused");
	if (stop_and_copy(vm, s, bm, words, npages, &sent_pages, err) < 0) {
		keel_vm_resume(vm);
		return -1;
	}
	st->downtime_ms = (now_ns() - pause_t + 999999) / 1000000;
	return 0;
}

int keel_vm_migrate(struct keel_vm *vm, const char *addr, const struct keel_vm_migrate_opts *o,
		    struct keel_vm_migrate_stats *st, keel_error_t *err)
{
	struct keel_vm_migrate_opts opts = *o;
	struct stream s = {.fd = -1, .bandwidth = o->bandwidth, .t0_ns = now_ns()};
	int ret;
	if (!opts.max_downtime_ms)
		opts.max_downtime_ms = 50;
	if (!opts.max_rounds)
		opts.max_rounds = 30;
	if (keel_vm_paused(vm))
		return keel_err(err, EBUSY, "migrate: the VM is paused");
	memset(st, 0, sizeof(*st));
	s.fd = connect_to(addr, err);
	if (s.fd < 0)
		return keel_err_wrap(err, "migrate");
	ret = send_header(vm, &s, err);
	if (ret == 0)
		ret = precopy(vm, &s, &opts, st, err);
	close(s.fd);
	{
		keel_error_t ignore;
		vm_set_dirty_log(vm, false, &ignore); /* the guest runs on here, or is gone */
	}
	if (ret < 0)
		return keel_err_wrap(err, "migrate (the VM keeps running here)");
	st->sent_bytes = s.sent;
	st->total_ms = (now_ns() - s.t0_ns) / 1000000;
	keel_vm_stop(vm, 0);
	return 0;
}

/* ---- destination ---- */

static struct keel_vm *recv_header(int fd, int console_fd, keel_error_t *err)
{
	struct rec r;
	struct keel_vm_config cfg = {0};
	struct keel_vm *vm;
	uint64_t ram;
	if (recv_all(fd, &r, sizeof(r), err) < 0)
		return NULL;
	if (r.type != R_HDR || r.len < 16 || r.len > 65536) {
		keel_err(err, EPROTO, "migration stream: bad header");
		return NULL;
	}
	cleanup_free char *buf = calloc(1, r.len + 1);
	if (!buf || recv_all(fd, buf, r.len, err) < 0)
		return NULL;
	memcpy(&ram, buf + 8, 8);
	if (memcmp(buf, MIG_MAGIC, 8) != 0 ||
	    keel_vm_config_from_json(buf + 16, &cfg, err) < 0 || cfg.mem_bytes != ram) {
		keel_vm_config_clear(&cfg);
		keel_err(err, EPROTO, "migration stream: bad header");
		return NULL;
	}
	json_t *j = json_loads(buf + 16, 0, NULL);
	const char *name = json_string_value(json_object_get(j, "name"));
	cfg.name = name ? strdup(name) : NULL;
	json_decref(j);
	vm = vm_build(&cfg, console_fd, -1, err);
	keel_vm_config_clear(&cfg);
	return vm;
}

static int recv_pages(struct keel_vm *vm, int fd, const struct rec *r, keel_error_t *err)
{
	static uint8_t buf[BATCH * (8 + PAGE_SIZE)];
	if (r->count > BATCH || r->len != r->count * (8 + PAGE_SIZE))
		return keel_err(err, EPROTO, "migration stream: bad page record");
	if (recv_all(fd, buf, r->len, err) < 0)
		return -1;
	for (uint32_t i = 0; i < r->count; i++) {
		uint64_t off;
		memcpy(&off, buf + i * (8 + PAGE_SIZE), 8);
		if (off % PAGE_SIZE || off >= vm->ram_size)
			return keel_err(err, EPROTO, "migration stream: page outside guest memory");
		memcpy(vm->ram + off, buf + i * (8 + PAGE_SIZE) + 8, PAGE_SIZE);
	}
	return 0;
}

static int recv_body(struct keel_vm *vm, int fd, keel_error_t *err)
{
	bool have_state = false;
	for (;;) {
		struct rec r;
		if (recv_all(fd, &r, sizeof(r), err) < 0)
			return -1;
		switch (r.type) {
		case R_PAGES:
			if (recv_pages(vm, fd, &r, err) < 0)
				return -1;
			break;
		case R_STATE: {
			if (r.len > (64u << 20))
				return keel_err(err, EPROTO, "migration stream: state too large");
			cleanup_free uint8_t *blob = malloc(r.len ? r.len : 1);
			keel_trace("receive: state record");
			if (!blob || recv_all(fd, blob, r.len, err) < 0 ||
			    vm_state_apply(vm, blob, r.len, err) < 0)
				return -1;
			keel_trace("receive: state applied");
			have_state = true;
			break;
		}
		case R_END:
			keel_trace("receive: end of stream");
			if (!have_state)
				return keel_err(err, EPROTO, "migration stream: ended without state");
			return 0;
		default:
			return keel_err(err, EPROTO, "migration stream: unknown record %u", r.type);
		}
	}
}

struct keel_vm *keel_vm_receive(int listen_fd, int console_fd, int *conn_fd,
				int (*ready)(struct keel_vm *vm, void *arg, keel_error_t *err),
				void *arg, keel_error_t *err)
{
	cleanup_close int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	struct keel_vm *vm;
	if (fd < 0) {
		keel_err_sys(err, "accept");
		return NULL;
	}
	struct timeval idle = {.tv_sec = RECV_IDLE_S};
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); /* the ack goes at once */
	vm = recv_header(fd, console_fd, err);
	if (vm && ((ready && ready(vm, arg, err) < 0) || recv_body(vm, fd, err) < 0)) {
		keel_vm_free(vm);
		vm = NULL;
	}
	if (!vm) {
		keel_err_wrap(err, "receive");
		return NULL;
	}
	*conn_fd = move_fd(fd);
	return vm;
}

int keel_vm_migrate_ack(int conn_fd, keel_error_t *err)
{
	ssize_t n = send(conn_fd, MIG_ACK, 4, MSG_NOSIGNAL);
	close(conn_fd);
	if (n != 4)
		return keel_err_sys(err, "acknowledging the migration");
	return 0;
}
