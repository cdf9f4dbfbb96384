/*
 * serial.c - see serial.h.  Every register access runs under one lock, shared with
 * serial_receive, so the UART is one consistent state machine whichever thread touches it.
 * The transmitter is infinitely fast: a byte written to THR is sent at once, so LSR.THRE and
 * LSR.TEMT always read 1 and the THR-empty interrupt re-arms right after each write.
 * Bytes for a file or pipe are gathered per line and queued whole, so guest lines stay whole
 * next to the VMM's own messages; the queue (outq.h) writes them from a thread of its own, so
 * a host that does not read the console never holds up the guest, a pause or a stop.
 */
#include "dev/serial.h"

#include "dev/outq.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

/* Register offsets (PC16550D, table II). */
#define UART_RBR_THR 0 /* DLAB=0: receive / transmit holding; DLAB=1: divisor low */
#define UART_IER     1 /* DLAB=0: interrupt enable; DLAB=1: divisor high           */
#define UART_IIR_FCR 2
#define UART_LCR     3
#define UART_MCR     4
#define UART_LSR     5
#define UART_MSR     6
#define UART_SCR     7
#define UART_NREGS   8

#define UART_IER_RDA  0x01 /* ERBFI: received data available (and character timeout) */
#define UART_IER_THRE 0x02 /* ETBEI: transmitter holding register empty              */
#define UART_IER_RLS  0x04 /* ELSI: receiver line status                              */
#define UART_IER_MSI  0x08 /* EDSSI: modem status                                     */

/* IIR (table IV): bit 0 clear = interrupt pending; bits 3:1 the source; 7:6 FIFOs on. */
#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI    0x00
#define UART_IIR_THRE   0x02
#define UART_IIR_RDA    0x04
#define UART_IIR_RLS    0x06
#define UART_IIR_CTI    0x0c /* character timeout: data below the trigger level */
#define UART_IIR_ID     0x0f
#define UART_IIR_FIFOS  0xc0

#define UART_FCR_ENABLE   0x01
#define UART_FCR_CLEAR_RX 0x02
#define UART_FCR_CLEAR_TX 0x04
#define UART_FCR_KEPT     0xc9 /* FIFO enable, DMA mode, receiver trigger */

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR  0x01
#define UART_MCR_RTS  0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08 /* on a PC: enables the IRQ driver */
#define UART_MCR_LOOP 0x10
#define UART_MCR_MASK 0x1f

#define UART_LSR_DR   0x01 /* data ready        */
#define UART_LSR_OE   0x02 /* overrun error     */
#define UART_LSR_THRE 0x20 /* THR empty         */
#define UART_LSR_TEMT 0x40 /* transmitter empty */

#define UART_MSR_DCTS  0x01
#define UART_MSR_DDSR  0x02
#define UART_MSR_TERI  0x04
#define UART_MSR_DDCD  0x08
#define UART_MSR_DELTA 0x0f
#define UART_MSR_CTS   0x10
#define UART_MSR_DSR   0x20
#define UART_MSR_RI    0x40
#define UART_MSR_DCD   0x80
/* Outside loopback the host end is a connected, ready modem: DCD, DSR and CTS asserted. */
#define UART_MSR_HOST  (UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS)

#define LINE_MAX 512
/* At the end of a run, how long the queued output may take to reach the host. */
#define SERIAL_DRAIN_MS 1000

struct serial {
	pthread_mutex_t lock;
	struct outq *out;
	bool tty; /* out_fd is a terminal: write through, no line buffering */
	uint16_t base;
	struct irq_line irq;
	unsigned gsi;
	bool level; /* what the interrupt line was last driven to */

	uint8_t ier, lcr, mcr, msr, scr, dll, dlm, fcr;
	bool oe;           /* LSR.OE: cleared by reading LSR */
	bool thre_pending; /* the THR-empty interrupt, until IIR reports it or THR is written */

	uint8_t rx[SERIAL_FIFO_LEN];
	unsigned rx_head, rx_count;
	uint8_t rbr; /* last byte read: what RBR shows once the receiver is empty */
	bool rx_wanted; /* serial_receive came up short: notify when there is room */
	void (*rx_notify)(void *ctx);
	void *rx_ctx;

	size_t len;
	char line[LINE_MAX];
};

/* ---- transmitter ---- */

/* Hand the gathered bytes to the output queue: never waits (what does not fit is dropped). */
static void flush_locked(struct serial *s)
{
	outq_put(s->out, s->line, s->len);
	s->len = 0;
}

static void transmit(struct serial *s, uint8_t byte)
{
	s->line[s->len++] = (char)byte;
	if (s->tty || byte == '\n' || s->len == LINE_MAX)
		flush_locked(s);
}

/* ---- receiver FIFO ---- */

static bool fifo_enabled(const struct serial *s)
{
	return s->fcr & UART_FCR_ENABLE;
}

/* Without FIFOs (16450 mode) the receiver holds one byte. */
static unsigned rx_capacity(const struct serial *s)
{
	return fifo_enabled(s) ? SERIAL_FIFO_LEN : 1;
}

static unsigned rx_room(const struct serial *s)
{
	if (s->mcr & UART_MCR_LOOP)
		return 0; /* the serial input is disconnected in loopback (PC16550D, MCR bit 4) */
	return rx_capacity(s) - s->rx_count;
}

static void rx_clear(struct serial *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
}

/*
 * A byte leaves the receive shift register.  With FIFOs, an overrun loses the new byte and
 * keeps the FIFO; without, the new byte overwrites RBR (PC16550D, LSR bit 1).
 */
static void rx_push(struct serial *s, uint8_t byte)
{
	if (s->rx_count < rx_capacity(s)) {
		s->rx[(s->rx_head + s->rx_count) % SERIAL_FIFO_LEN] = byte;
		s->rx_count++;
		return;
	}
	s->oe = true;
	if (!fifo_enabled(s))
		s->rx[s->rx_head] = byte;
}

static uint8_t rx_pop(struct serial *s)
{
	if (s->rx_count) {
		s->rbr = s->rx[s->rx_head];
		s->rx_head = (s->rx_head + 1) % SERIAL_FIFO_LEN;
		s->rx_count--;
	}
	return s->rbr;
}

static unsigned rx_trigger(const struct serial *s)
{
	static const unsigned levels[4] = { 1, 4, 8, 14 }; /* FCR bits 7:6 */

	return fifo_enabled(s) ? levels[s->fcr >> 6] : 1;
}

/* ---- interrupts ---- */

/* The highest-priority pending interrupt, as IIR encodes it (PC16550D, table IV). */
static uint8_t iir(const struct serial *s)
{
	uint8_t fifos = fifo_enabled(s) ? UART_IIR_FIFOS : 0;

	if ((s->ier & UART_IER_RLS) && s->oe)
		return fifos | UART_IIR_RLS;
	if ((s->ier & UART_IER_RDA) && s->rx_count) {
		/* No receive timer: data below the trigger level has timed out at once. */
		return fifos | (s->rx_count >= rx_trigger(s) ? UART_IIR_RDA : UART_IIR_CTI);
	}
	if ((s->ier & UART_IER_THRE) && s->thre_pending)
		return fifos | UART_IIR_THRE;
	if ((s->ier & UART_IER_MSI) && (s->msr & UART_MSR_DELTA))
		return fifos | UART_IIR_MSI;
	return fifos | UART_IIR_NO_INT;
}

/*
 * The PC gates INTRPT with OUT2; in loopback OUT2's pin is forced inactive, so the gate is
 * closed too.  The line is driven on every change: the interrupt controller makes the edge.
 */
static void update_irq(struct serial *s)
{
	bool level = !(iir(s) & UART_IIR_NO_INT) && (s->mcr & UART_MCR_OUT2) &&
		     !(s->mcr & UART_MCR_LOOP);

	if (level != s->level) {
		s->level = level;
		irq_set(&s->irq, s->gsi, level);
	}
}

/* ---- modem status ---- */

static uint8_t modem_inputs(const struct serial *s)
{
	uint8_t m = s->mcr, in = 0;

	if (!(m & UART_MCR_LOOP))
		return UART_MSR_HOST;
	/* Loopback (PC16550D, MCR bit 4): DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
	in |= (m & UART_MCR_DTR) ? UART_MSR_DSR : 0;
	in |= (m & UART_MCR_RTS) ? UART_MSR_CTS : 0;
	in |= (m & UART_MCR_OUT1) ? UART_MSR_RI : 0;
	in |= (m & UART_MCR_OUT2) ? UART_MSR_DCD : 0;
	return in;
}

/* Latch the delta bits for inputs that changed (TERI: RI's trailing edge only). */
static void update_msr(struct serial *s)
{
	uint8_t in = modem_inputs(s), old = s->msr, changed = (uint8_t)(in ^ old);
	uint8_t delta = old & UART_MSR_DELTA;

	delta |= (changed & UART_MSR_CTS) ? UART_MSR_DCTS : 0;
	delta |= (changed & UART_MSR_DSR) ? UART_MSR_DDSR : 0;
	delta |= ((old & UART_MSR_RI) && !(in & UART_MSR_RI)) ? UART_MSR_TERI : 0;
	delta |= (changed & UART_MSR_DCD) ? UART_MSR_DDCD : 0;
	s->msr = in | delta;
}

/* ---- registers ---- */

static uint8_t read_lsr(struct serial *s)
{
	uint8_t v = UART_LSR_THRE | UART_LSR_TEMT;

	v |= s->rx_count ? UART_LSR_DR : 0;
	v |= s->oe ? UART_LSR_OE : 0;
	s->oe = false;
	return v;
}

static uint8_t read_iir(struct serial *s)
{
	uint8_t v = iir(s);

	if ((v & UART_IIR_ID) == UART_IIR_THRE)
		s->thre_pending = false; /* reading IIR clears THRE when it is the source */
	return v;
}

static uint8_t read_msr(struct serial *s)
{
	uint8_t v = s->msr;

	s->msr &= (uint8_t)~UART_MSR_DELTA;
	return v;
}

static uint8_t read_reg(struct serial *s, unsigned reg)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR: return dlab ? s->dll : rx_pop(s);
	case UART_IER: return dlab ? s->dlm : s->ier;
	case UART_IIR_FCR: return read_iir(s);
	case UART_LCR: return s->lcr;
	case UART_MCR: return s->mcr;
	case UART_LSR: return read_lsr(s);
	case UART_MSR: return read_msr(s);
	default: return s->scr;
	}
}

static void write_thr(struct serial *s, uint8_t v)
{
	s->thre_pending = false; /* writing THR clears the interrupt ... */
	update_irq(s);
	if (s->mcr & UART_MCR_LOOP)
		rx_push(s, v);
	else
		transmit(s, v);
	s->thre_pending = true; /* ... and the byte is gone at once: THR is empty again */
}

static void write_ier(struct serial *s, uint8_t v)
{
	bool was = s->ier & UART_IER_THRE;

	s->ier = v & 0x0f;
	/* Enabling ETBEI while THR is empty raises THRE: Linux's 8250 driver relies on it. */
	if (!was && (s->ier & UART_IER_THRE))
		s->thre_pending = true;
}

/* FCR0 must be set for the other bits to take; changing FCR0 clears both FIFOs. */
static void write_fcr(struct serial *s, uint8_t v)
{
	bool was = fifo_enabled(s);

	if (!(v & UART_FCR_ENABLE)) {
		if (was)
			rx_clear(s);
		s->fcr = 0;
		return;
	}
	if (!was || (v & UART_FCR_CLEAR_RX))
		rx_clear(s);
	s->fcr = v & UART_FCR_KEPT; /* the transmitter has no FIFO to clear */
}

static void write_reg(struct serial *s, unsigned reg, uint8_t v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR:
		if (dlab)
			s->dll = v;
		else
			write_thr(s, v);
		break;
	case UART_IER:
		if (dlab)
			s->dlm = v;
		else
			write_ier(s, v);
		break;
	case UART_IIR_FCR: write_fcr(s, v); break;
	case UART_LCR: s->lcr = v; break;
	case UART_MCR:
		s->mcr = v & UART_MCR_MASK;
		update_msr(s);
		break;
	case UART_SCR: s->scr = v; break;
	default: break; /* LSR, MSR: read-only (factory test writes are not modelled) */
	}
}

/* Someone waits for room in the receiver and now there is: tell them, once. */
static void notify_room(struct serial *s)
{
	if (s->rx_wanted && rx_room(s) && s->rx_notify) {
		s->rx_wanted = false;
		s->rx_notify(s->rx_ctx);
	}
}

static void serial_io(void *ctx, const struct bus_access *a)
{
	struct serial *s = ctx;
	uint64_t first = a->addr - s->base;

	pthread_mutex_lock(&s->lock);
	/* Wider accesses reach consecutive registers, byte by byte, as on an ISA bus. */
	for (uint32_t i = 0; i < a->size; i++) {
		uint64_t reg = first + i;
		if (reg >= UART_NREGS) {
			if (!a->write)
				a->data[i] = 0xff; /* past the UART: nothing drives the bus */
			continue;
		}
		if (a->write)
			write_reg(s, (unsigned)reg, a->data[i]);
		else
			a->data[i] = read_reg(s, (unsigned)reg);
		update_irq(s);
	}
	notify_room(s);
	pthread_mutex_unlock(&s->lock);
}

/* ---- host side ---- */

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t n)
{
	size_t taken = 0;

	pthread_mutex_lock(&s->lock);
	while (taken < n && rx_room(s))
		rx_push(s, buf[taken++]);
	if (taken < n)
		s->rx_wanted = true;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return taken;
}

void serial_set_rx_notify(struct serial *s, void (*fn)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&s->lock);
	s->rx_notify = fn;
	s->rx_ctx = ctx;
	pthread_mutex_unlock(&s->lock);
}

void serial_connect_irq(struct serial *s, const struct irq_line *irq, unsigned gsi)
{
	pthread_mutex_lock(&s->lock);
	s->irq = *irq;
	s->gsi = gsi;
	s->level = false;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

struct serial *serial_create(struct bus *pio, uint16_t base, int out_fd)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->out = outq_create(out_fd, OUTQ_DEFAULT_CAP, "the guest's console (COM1)");
	if (!s->out) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return NULL;
	}
	s->tty = isatty(out_fd);
	s->base = base;
	s->dll = 12; /* 9600 baud, the usual reset value of firmware */
	s->msr = UART_MSR_HOST;
	s->thre_pending = false; /* reset: IER is 0, nothing pending (PC16550D, table III) */
	if (bus_register(pio, base, UART_NREGS, serial_io, s, "serial") < 0) {
		serial_destroy(s);
		return NULL;
	}
	return s;
}

void serial_flush(struct serial *s)
{
	pthread_mutex_lock(&s->lock);
	flush_locked(s);
	pthread_mutex_unlock(&s->lock);
	outq_drain(s->out, SERIAL_DRAIN_MS);
}

uint64_t serial_dropped(struct serial *s)
{
	return outq_dropped(s->out);
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	flush_locked(s);
	pthread_mutex_unlock(&s->lock);
	/* serial_flush waited already at the end of a run: only what came since. */
	outq_destroy(s->out, SERIAL_DRAIN_MS / 5);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

/* ---- snapshots ---- */

int serial_save(struct serial *s, struct snap_enc *e)
{
	pthread_mutex_lock(&s->lock);
	flush_locked(s); /* what the guest wrote is out before the state is taken */
	const uint8_t regs[] = { s->ier, s->lcr, s->mcr, s->msr, s->scr, s->dll, s->dlm, s->fcr,
				 s->oe, s->thre_pending, s->rbr };
	snap_enc_bytes(e, regs, sizeof(regs));
	snap_enc_u32(e, s->rx_count);
	for (unsigned i = 0; i < s->rx_count; i++)
		snap_enc_u8(e, s->rx[(s->rx_head + i) % SERIAL_FIFO_LEN]);
	pthread_mutex_unlock(&s->lock);
	return e->oom ? -1 : 0;
}

int serial_load(struct serial *s, struct snap_dec *d, char *err, size_t errlen)
{
	uint8_t regs[11], rx[SERIAL_FIFO_LEN];

	/* Decoded and checked whole before anything changes (device.h). */
	snap_dec_bytes(d, regs, sizeof(regs));
	uint32_t count = snap_dec_u32(d);
	if (d->bad || count > SERIAL_FIFO_LEN) {
		snprintf(err, errlen, "serial: bad state");
		return -1;
	}
	snap_dec_bytes(d, rx, count);
	if (!snap_dec_done(d)) {
		snprintf(err, errlen, "serial: bad state");
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	s->ier = regs[0];
	s->lcr = regs[1];
	s->mcr = regs[2];
	s->msr = regs[3];
	s->scr = regs[4];
	s->dll = regs[5];
	s->dlm = regs[6];
	s->fcr = regs[7];
	s->oe = regs[8] != 0;
	s->thre_pending = regs[9] != 0;
	s->rbr = regs[10];
	s->rx_head = 0;
	s->rx_count = count;
	memcpy(s->rx, rx, count);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* ---- the device table's row (dev/device.h) ---- */

DEVICE_UNTYPED(serial)

static void *device_create(const struct device_env *env)
{
	struct serial *s = serial_create(env->pio, SERIAL_COM1_BASE, env->console_fd);

	if (s)
		serial_connect_irq(s, env->irq, SERIAL_COM1_GSI);
	return s;
}

const struct device_desc serial_device = {
	.name = "serial port",
	.snap_id = 0,
	.claims = { { DEVICE_PIO, SERIAL_COM1_BASE, UART_NREGS } },
	.create = device_create,
	.destroy = serial_untyped_destroy,
	.save = serial_untyped_save,
	.load = serial_untyped_load,
};
