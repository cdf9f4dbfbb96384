/*
 * serial.c - see serial.h.  Bytes are gathered per line and written with one write(2), so
 * guest lines stay whole next to the VMM's own messages on the terminal.
 */
#include "dev/serial.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

/* Register offsets (PC16550D, table 2). */
#define UART_RBR_THR 0 /* DLAB=0: receive / transmit holding; DLAB=1: divisor low */
#define UART_IER     1 /* DLAB=0: interrupt enable; DLAB=1: divisor high           */
#define UART_IIR_FCR 2
#define UART_LCR     3
#define UART_MCR     4
#define UART_LSR     5
#define UART_MSR     6
#define UART_SCR     7

#define UART_LCR_DLAB  0x80
#define UART_LSR_THRE  0x20 /* transmit holding register empty */
#define UART_LSR_TEMT  0x40 /* transmitter empty               */
#define UART_IIR_NO_INT 0x01
#define UART_MSR_DCD_DSR_CTS 0xb0

#define LINE_MAX 512

struct serial {
	pthread_mutex_t lock;
	int fd;
	uint16_t base;
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	size_t len;
	char line[LINE_MAX];
};

static void flush_locked(struct serial *s)
{
	size_t off = 0;

	while (off < s->len) {
		ssize_t n = write(s->fd, s->line + off, s->len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the console is gone: drop output rather than stall the guest */
		off += (size_t)n;
	}
	s->len = 0;
}

static void transmit(struct serial *s, uint8_t byte)
{
	s->line[s->len++] = (char)byte;
	if (byte == '\n' || s->len == LINE_MAX)
		flush_locked(s);
}

static uint8_t read_reg(struct serial *s, unsigned reg)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR: return dlab ? s->dll : 0;
	case UART_IER: return dlab ? s->dlm : s->ier;
	case UART_IIR_FCR: return UART_IIR_NO_INT;
	case UART_LCR: return s->lcr;
	case UART_MCR: return s->mcr;
	case UART_LSR: return UART_LSR_THRE | UART_LSR_TEMT;
	case UART_MSR: return UART_MSR_DCD_DSR_CTS;
	default: return s->scr;
	}
}

static void write_reg(struct serial *s, unsigned reg, uint8_t v)
{
	bool dlab = s->lcr & UART_LCR_DLAB;

	switch (reg) {
	case UART_RBR_THR:
		if (dlab)
			s->dll = v;
		else
			transmit(s, v);
		break;
	case UART_IER:
		if (dlab)
			s->dlm = v;
		else
			s->ier = v & 0x0f;
		break;
	case UART_LCR: s->lcr = v; break;
	case UART_MCR: s->mcr = v & 0x1f; break;
	case UART_SCR: s->scr = v; break;
	default: break; /* FCR, LSR, MSR: nothing to model for a byte sink */
	}
}

static void serial_io(void *ctx, const struct bus_access *a)
{
	struct serial *s = ctx;
	unsigned reg = (unsigned)(a->addr - s->base) & 7;

	pthread_mutex_lock(&s->lock);
	/* Wider accesses reach consecutive registers, byte by byte, as on an ISA bus. */
	for (uint32_t i = 0; i < a->size; i++) {
		if (a->write)
			write_reg(s, (reg + i) & 7, a->data[i]);
		else
			a->data[i] = read_reg(s, (reg + i) & 7);
	}
	pthread_mutex_unlock(&s->lock);
}

struct serial *serial_create(struct bus *pio, uint16_t base, int out_fd)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->fd = out_fd;
	s->base = base;
	s->dll = 12; /* 9600 baud, the usual reset value of firmware */
	if (bus_register(pio, base, 8, serial_io, s, "serial") < 0) {
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
}

void serial_destroy(struct serial *s)
{
	if (!s)
		return;
	serial_flush(s);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
