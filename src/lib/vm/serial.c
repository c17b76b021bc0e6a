/* 8250/16550 UART on 0x3f8, IRQ 4: the console. Output goes to the console fd (stdio when
 * attached, the log file when detached) and to an attached client, if any. Each exit carries
 * a whole `rep outsb`, written with one write(2). */
#include "vm/kvm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SERIAL_PORT 0x3f8
#define SERIAL_IRQ  4
#define RX_SIZE     256

enum { UART_IER_RDI = 1, UART_IER_THRI = 2 };
enum { UART_LSR_DR = 1, UART_LSR_THRE = 0x20, UART_LSR_TEMT = 0x40 };
enum { UART_LCR_DLAB = 0x80, UART_MCR_LOOP = 0x10 };

struct serial {
	uint8_t version; /* of the saved layout */
	uint8_t ier, lcr, mcr, msr, scr, dll, dlm, fcr;
	uint8_t thr_pending;
	uint8_t rx[RX_SIZE];
	uint16_t rx_head, rx_len;
};

static void write_out(int fd, const uint8_t *buf, size_t len)
{
	while (fd >= 0 && len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		buf += n;
		len -= (size_t)n;
	}
}

static uint8_t iir(const struct serial *s)
{
	if ((s->ier & UART_IER_RDI) && s->rx_len)
		return 0xc4;
	if ((s->ier & UART_IER_THRI) && s->thr_pending)
		return 0xc2;
	return 0xc1;
}

/* Lock held. */
static void update_irq(struct vm_device *dev)
{
	struct serial *s = dev->priv;
	vm_irq_line(dev->vm, SERIAL_IRQ, (iir(s) & 1) ? 0 : 1);
}

static uint8_t serial_read(struct vm_device *dev, struct serial *s, unsigned reg)
{
	uint8_t v;
	if ((s->lcr & UART_LCR_DLAB) && reg < 2)
		return reg ? s->dlm : s->dll;
	switch (reg) {
	case 0:
		if (!s->rx_len)
			return 0;
		v = s->rx[s->rx_head];
		s->rx_head = (uint16_t)((s->rx_head + 1) % RX_SIZE);
		s->rx_len--;
		update_irq(dev);
		return v;
	case 1: return s->ier;
	case 2:
		v = iir(s);
		if ((v & 0x0f) == 0x02) { /* reading IIR clears a THRE interrupt */
			s->thr_pending = 0;
			update_irq(dev);
		}
		return v;
	case 3: return s->lcr;
	case 4: return s->mcr;
	case 5: return UART_LSR_THRE | UART_LSR_TEMT | (s->rx_len ? UART_LSR_DR : 0);
	case 6: return (s->mcr & UART_MCR_LOOP) ? 0 : 0xb0; /* DCD, DSR, CTS */
	default: return s->scr;
	}
}

static void serial_write(struct vm_device *dev, struct serial *s, unsigned reg, uint8_t v)
{
	if ((s->lcr & UART_LCR_DLAB) && reg < 2) {
		*(reg ? &s->dlm : &s->dll) = v;
		return;
	}
	switch (reg) {
	case 1:
		s->ier = v & 0x0f;
		s->thr_pending = 1; /* enabling THRI on an empty THR raises it at once */
		break;
	case 2: s->fcr = v; return;
	case 3: s->lcr = v; return;
	case 4: s->mcr = v; return;
	case 7: s->scr = v; return;
	default: return;
	}
	update_irq(dev);
}

static void serial_io(struct vm_device *dev, uint16_t port, uint8_t *data, uint32_t len,
		      bool write)
{
	struct serial *s = dev->priv;
	struct keel_vm *vm = dev->vm;
	unsigned reg = port - SERIAL_PORT;

	pthread_mutex_lock(&vm->lock);
	if (write && reg == 0 && !(s->lcr & UART_LCR_DLAB)) {
		write_out(vm->console_fd, data, 1);
		write_out(vm->console_attach_fd, data, 1);
		s->thr_pending = 1;
		if (s->ier & UART_IER_THRI)
			update_irq(dev);
	} else if (write) {
		serial_write(dev, s, reg, *data);
	} else {
		*data = serial_read(dev, s, reg);
	}
	pthread_mutex_unlock(&vm->lock);
}

void vm_serial_input(struct vm_device *dev, const uint8_t *buf, size_t len)
{
	struct serial *s = dev->priv;
	pthread_mutex_lock(&dev->vm->lock);
	for (size_t i = 0; i < len && s->rx_len < RX_SIZE; i++) {
		s->rx[(s->rx_head + s->rx_len) % RX_SIZE] = buf[i];
		s->rx_len++;
	}
	update_irq(dev);
	pthread_mutex_unlock(&dev->vm->lock);
}

static size_t serial_save(struct vm_device *dev, uint8_t *buf, size_t cap)
{
	if (cap < sizeof(struct serial))
		return 0;
	memcpy(buf, dev->priv, sizeof(struct serial));
	return sizeof(struct serial);
}

static int serial_load(struct vm_device *dev, const uint8_t *buf, size_t len)
{
	if (len != sizeof(struct serial) || buf[0] != 1)
		return -1;
	memcpy(dev->priv, buf, len);
	return 0;
}

static void serial_free(struct vm_device *dev)
{
	free(dev->priv);
	free(dev);
}

static const struct vm_device_ops serial_ops = {
	.name = "serial",
	.io = serial_io,
	.save = serial_save,
	.load = serial_load,
	.free = serial_free,
};

int vm_serial_create(struct keel_vm *vm, keel_error_t *err)
{
	struct vm_device *dev = calloc(1, sizeof(*dev));
	struct serial *s = calloc(1, sizeof(*s));
	if (!dev || !s || vm_add_device(vm, dev, err) < 0) {
		free(dev);
		free(s);
		return err && err->msg[0] ? -1 : keel_err(err, ENOMEM, "serial");
	}
	s->version = 1;
	dev->ops = &serial_ops;
	dev->priv = s;
	dev->port = SERIAL_PORT;
	dev->nports = 8;
	vm->serial = dev;
	return 0;
}
