/* virtio-net backed by a tap device (virtio 1.x section 5.1): queue 0 receives, queue 1
 * transmits. `--net tap` makes a tap named by the kernel (kvtap0, kvtap1, ...), `--net
 * tap:NAME` one with that name, in the VMM's network namespace, brought up. The tap is not
 * persistent: the kernel removes it when the VMM's fd closes, however the VMM ends (stop, rm,
 * a crash, SIGKILL), so nothing is left behind.
 *
 * No offloads are offered, so the 12-byte virtio_net_hdr is all zeros: it is stripped on
 * transmit and prepended on receive (no IFF_VNET_HDR). Transmit runs in the notifying vCPU
 * thread; receive in a thread that polls the tap and delivers only while the VM runs and is
 * not paused (a paused VM's frames wait in the tap's queue, so snapshots and migration see no
 * device writes after the pause). */
#include "vm/virtio.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#define VIRTIO_NET_F_MAC 5
#define NET_HDR 12
#define FRAME_MAX 65550

struct net {
	int tap, stop_efd;
	char ifname[IFNAMSIZ];
	uint8_t mac[6];
	pthread_t rx;
	bool rx_started;
	uint8_t frame[FRAME_MAX];
};

static void net_config(struct virtio_dev *v, uint64_t off, uint8_t *data, uint32_t len,
		       bool write)
{
	struct net *n = v->priv;
	if (write)
		return;
	memset(data, 0, len);
	if (off < 6)
		memcpy(data, n->mac + off, len < 6 - off ? len : 6 - off);
}

static void net_tx(struct virtio_dev *v)
{
	struct net *n = v->priv;
	struct virtio_chain c;
	bool any = false;
	while (virtio_pop(v, 1, &c) > 0) {
		size_t len = 0, skip = NET_HDR;
		for (unsigned i = 0; i < c.n; i++) { /* gather, dropping the header */
			uint32_t s = c.seg[i].len, from = skip < s ? (uint32_t)skip : s;
			skip -= from;
			if (c.seg[i].write || len + (s - from) > FRAME_MAX)
				break;
			memcpy(n->frame + len, c.seg[i].host + from, s - from);
			len += s - from;
		}
		if (len)
			(void)!write(n->tap, n->frame, len); /* a full tap queue drops, as a wire would */
		virtio_push(v, 1, &c, 0);
		any = true;
	}
	if (any)
		virtio_interrupt(v);
}

static void net_notify(struct virtio_dev *v, unsigned q)
{
	struct net *n = v->priv;
	if (q == 1) {
		net_tx(v);
	} else { /* new receive buffers: wake the receive thread */
		uint64_t one = 1;
		(void)!write(n->stop_efd, &one, sizeof(one));
	}
}

/* Delivers one frame of len bytes (in n->frame after the header room) into the next receive
 * chain. Returns false when the guest has no buffer (the frame is kept). Transport lock held. */
static bool net_deliver(struct virtio_dev *v, size_t len)
{
	struct net *n = v->priv;
	struct virtio_chain c;
	size_t done = 0, total = NET_HDR + len;
	uint8_t hdr[NET_HDR] = {0};
	hdr[10] = 1; /* num_buffers */
	if (virtio_pop(v, 0, &c) <= 0)
		return false;
	for (unsigned i = 0; i < c.n && done < total; i++) {
		if (!c.seg[i].write)
			continue;
		size_t chunk = total - done < c.seg[i].len ? total - done : c.seg[i].len;
		for (size_t k = 0; k < chunk; k++) {
			size_t pos = done + k;
			c.seg[i].host[k] = pos < NET_HDR ? hdr[pos] : n->frame[pos - NET_HDR];
		}
		done += chunk;
	}
	virtio_push(v, 0, &c, (uint32_t)done);
	virtio_interrupt(v);
	return true;
}

static bool vm_accepts_io(struct keel_vm *vm)
{
	return vm->state == VM_RUNNING && !vm->pause_req && !vm->stop_req;
}

static void *net_rx_thread(void *arg)
{
	struct virtio_dev *v = arg;
	struct net *n = v->priv;
	struct keel_vm *vm = v->dev.vm;
	ssize_t pending = 0; /* a frame read but not yet delivered */

	for (;;) {
		struct pollfd p[2] = {{n->stop_efd, POLLIN, 0}, {n->tap, POLLIN, 0}};
		uint64_t junk;
		/* with a frame pending, wait for a kick (new buffers) or retry every 10 ms */
		if (poll(p, pending ? 1 : 2, pending ? 10 : -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents && read(n->stop_efd, &junk, sizeof(junk)) > 0 && junk >= (1ull << 62))
			break;
		if (!pending && (p[1].revents & POLLIN)) {
			pending = read(n->tap, n->frame, FRAME_MAX);
			if (pending < 0)
				pending = 0;
		}
		if (!pending)
			continue;
		pthread_mutex_lock(&vm->lock); /* excludes pause: see the comment on top */
		if (vm_accepts_io(vm)) {
			pthread_mutex_lock(&v->lock);
			if ((v->r.status & VIRTIO_STATUS_DRIVER_OK) && net_deliver(v, (size_t)pending))
				pending = 0;
			pthread_mutex_unlock(&v->lock);
		}
		pthread_mutex_unlock(&vm->lock);
	}
	return NULL;
}

static void net_free(struct virtio_dev *v)
{
	struct net *n = v->priv;
	if (!n)
		return;
	if (n->rx_started) {
		uint64_t stop = 1ull << 62;
		(void)!write(n->stop_efd, &stop, sizeof(stop));
		pthread_join(n->rx, NULL);
	}
	if (n->tap >= 0)
		close(n->tap); /* the kernel removes the tap */
	if (n->stop_efd >= 0)
		close(n->stop_efd);
	free(n);
}

static const struct virtio_backend_ops net_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.nqueues = 2,
	.config = net_config,
	.notify = net_notify,
	.free = net_free,
};

/* "tap" or "tap:NAME". */
static int tap_open(struct net *n, const char *spec, keel_error_t *err)
{
	struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
	const char *name = !strncmp(spec, "tap:", 4) ? spec + 4 : "kvtap%d";
	int s;

	if (strcmp(spec, "tap") && strncmp(spec, "tap:", 4))
		return keel_err(err, EINVAL, "--net must be tap, tap:NAME or none, not '%s'", spec);
	if (!*name || strlen(name) >= IFNAMSIZ)
		return keel_err(err, EINVAL, "tap name '%s' must be 1..%d characters", name,
				IFNAMSIZ - 1);
	n->tap = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (n->tap < 0)
		return keel_err_sys(err, "open /dev/net/tun");
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(n->tap, TUNSETIFF, &ifr) < 0)
		return keel_err_sys(err, "creating tap %s", name);
	snprintf(n->ifname, sizeof(n->ifname), "%s", ifr.ifr_name);
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return keel_err_sys(err, "socket");
	ifr.ifr_flags = IFF_UP;
	int r = ioctl(s, SIOCSIFFLAGS, &ifr);
	close(s);
	if (r < 0)
		return keel_err_sys(err, "bringing up %s", n->ifname);
	return 0;
}

/* A locally administered MAC derived from the VM's name: stable across restarts, snapshots
 * and migration. */
static void make_mac(const struct keel_vm *vm, uint8_t mac[6])
{
	const char *name = vm->cfg.name ? vm->cfg.name : vm->cfg.kernel;
	uint32_t h = (uint32_t)crc32(0, (const Bytef *)name, (uInt)strlen(name));
	mac[0] = 0x02;
	mac[1] = 0x4b; /* 'K' */
	memcpy(mac + 2, &h, 4);
}

int vm_virtio_net_create(struct keel_vm *vm, unsigned index, keel_error_t *err)
{
	struct virtio_dev *v = calloc(1, sizeof(*v));
	struct net *n = calloc(1, sizeof(*n));
	if (!v || !n) {
		free(v);
		free(n);
		return keel_err(err, ENOMEM, "virtio-net");
	}
	n->tap = -1;
	n->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v->ops = &net_ops;
	v->priv = n;
	v->features = 1ull << VIRTIO_NET_F_MAC;
	make_mac(vm, n->mac);
	if (n->stop_efd < 0 || tap_open(n, vm->cfg.tap, err) < 0) {
		if (n->stop_efd < 0)
			keel_err_sys(err, "eventfd");
		net_free(v);
		free(v);
		return -1;
	}
	if (virtio_register(vm, v, index, err) < 0) {
		net_free(v);
		free(v);
		return -1;
	}
	int e = pthread_create(&n->rx, NULL, net_rx_thread, v);
	if (e) /* registered: keel_vm_free frees it */
		return keel_err(err, e, "virtio-net receive thread");
	n->rx_started = true;
	return 0;
}
