/*
 * ops_io.c - port I/O: any of the 65,536 ports at any width, REP INS/OUTS, and the 8254 and
 * 8259A programmed the way a driver would, only wrongly.
 *
 * Some writes end a PC's run on purpose, and only those are left out (pio_write_ok): the
 * debug-exit port (--debug-exit, 0xF4 by default), the self-test result port 0xFFC, the
 * i8042 commands that pulse the reset line (0xF0-0xFE with bit 0 clear, e.g. 0xFE) and
 * 0xD1 (write output port, whose next data byte may clear the reset bit), RST_CPU in the
 * reset control register 0xCF9, SLP_EN with SLP_TYP S5 in PM1a_CNT, and the fast-reset bit of
 * port 0x92 (a PC's; mpvmm has no port 0x92).  A multi-byte OUT is judged byte by byte: a
 * device may take every byte an access covers (an OUTL at 0x61 reaches 0x64).  The
 * self-test guest's report block 0xFF0-0xFFF is a kind of its own (report-ports), so that it
 * can be left out alone.
 */
#include "ops.h"

#include "arch.h"
#include "rng.h"

#define I8042_DATA      0x60u
#define I8042_COMMAND   0x64u
#define I8042_WRITE_OUT 0xd1u   /* next byte on 0x60 drives the output port (reset = bit 0) */
#define I8042_PULSE     0xf0u   /* 0xf0-0xff pulse output bits whose command bit is 0 */
#define PORT_92         0x92u   /* PS/2 system control port A: bit 0 fast reset */
#define PCI_RESET_CTRL  0xcf9u  /* PIIX3 RC: bit 2 RST_CPU */
#define RC_RST_CPU      0x04u
#define PM1A_CNT_HI     0x605u  /* PM1a_CNT bits 15:8: SLP_EN bit 13, SLP_TYP bits 12:10 */
#define SLP_EN_HI       0x20u
#define SLP_TYP_S5      5u      /* mpvmm's DSDT \_S5 (src/x86/acpi.h) */

static bool byte_ends_run(uint16_t port, uint8_t v)
{
	switch (port) {
	case I8042_COMMAND:
		return v == I8042_WRITE_OUT || (v >= I8042_PULSE && !(v & 1));
	case PORT_92:
		return v & 1;
	case PCI_RESET_CTRL:
		return v & RC_RST_CPU;
	case PM1A_CNT_HI:
		return (v & SLP_EN_HI) && ((v >> 2) & 7) == SLP_TYP_S5;
	default:
		return false;
	}
}

bool pio_write_ok(uint16_t port, unsigned width, uint32_t value)
{
	if (port == cs.debug_exit_port || port == SELFTEST_PORT_RESULT)
		return false;
	for (unsigned i = 0; i < width; i++)
		if (byte_ends_run((uint16_t)(port + i), (uint8_t)(value >> (8 * i))))
			return false;
	return true;
}

/* Ports worth more than a uniform 1 in 65,536: the PC's chips and mpvmm's devices. */
static const uint16_t device_ports[] = {
	0x20, 0x21, 0xa0, 0xa1,                         /* 8259A pair                  */
	0x40, 0x41, 0x42, 0x43, 0x61,                   /* 8254, port B                */
	0x60, 0x64,                                     /* i8042                       */
	0x70, 0x71,                                     /* CMOS index (NMI mask), data */
	0x80, 0x92,                                     /* POST code, port A           */
	0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, /* COM1               */
	0x4d0, 0x4d1,                                   /* ELCR                        */
	0x510, 0x511,                                   /* fw_cfg selector, data       */
	0x600, 0x601, 0x602, 0x603, 0x604, 0x605,       /* ACPI PM1a event, control    */
	0xcf8, 0xcf9, 0xcfa, 0xcfb, 0xcfc, 0xcfd, 0xcfe, 0xcff, /* PCI, reset control */
};

/* The self-test's report ports have their own kind (op_report_ports): not drawn here. */
static bool report_block(uint16_t port)
{
	return (port & ~0xfu) == SELFTEST_PORT_STEP;
}

static uint16_t rand_port(struct chaos_cpu *c)
{
	uint16_t port = (uint16_t)rng_next(&c->rng);

	if (rng_one_in(&c->rng, 2) && !report_block(port))
		return port;
	return device_ports[rng_below(&c->rng, sizeof(device_ports) / sizeof(device_ports[0]))];
}

static unsigned rand_width(struct chaos_cpu *c)
{
	return 1u << rng_below(&c->rng, 3);
}

static uint32_t port_in(uint16_t port, unsigned width)
{
	uint32_t v = 0;

	if (width == 1)
		__asm__ volatile("inb %w1, %b0" : "=a"(v) : "Nd"(port) : "memory");
	else if (width == 2)
		__asm__ volatile("inw %w1, %w0" : "=a"(v) : "Nd"(port) : "memory");
	else
		__asm__ volatile("inl %w1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static void port_out(uint16_t port, unsigned width, uint32_t v)
{
	if (width == 1)
		__asm__ volatile("outb %b0, %w1" : : "a"(v), "Nd"(port) : "memory");
	else if (width == 2)
		__asm__ volatile("outw %w0, %w1" : : "a"(v), "Nd"(port) : "memory");
	else
		__asm__ volatile("outl %0, %w1" : : "a"(v), "Nd"(port) : "memory");
}

/* An OUT that passes the filter; one that does not is counted and left out. */
static void out_checked(struct chaos_cpu *c, uint16_t port, unsigned width, uint32_t v)
{
	if (pio_write_ok(port, width, v))
		port_out(port, width, v);
	else
		c->filtered++;
}

/*
 * The self-test guest's report block (selftest_abi.h): a step announcement or an AP's report
 * with any value, and the block's other ports; never SELFTEST_PORT_RESULT, which ends the run.
 */
void op_report_ports(struct chaos_cpu *c)
{
	static const uint16_t ports[] = { SELFTEST_PORT_STEP, SELFTEST_PORT_AP, 0xff4, 0xffd };
	uint16_t port = ports[rng_below(&c->rng, sizeof(ports) / sizeof(ports[0]))];

	out_checked(c, port, rand_width(c), rand_value32(c));
}

void op_pio(struct chaos_cpu *c)
{
	uint16_t port = rand_port(c);
	unsigned width = rand_width(c);

	if (rng_one_in(&c->rng, 2))
		(void)port_in(port, width);
	else
		out_checked(c, port, width, rand_value32(c));
}

/* REP INS/OUTS, 1-8 elements, sometimes backwards (DF = 1; restored before returning). */
static void rep_string(uint16_t port, unsigned width, bool out, uint8_t *buf, uint32_t n,
		       bool down)
{
	uint64_t cnt = n;
	void *p = down ? buf + (n - 1) * width : buf;

	if (down)
		__asm__ volatile("std" : : : "memory");
	if (out && width == 1)
		__asm__ volatile("rep outsb" : "+S"(p), "+c"(cnt) : "d"(port) : "memory");
	else if (out && width == 2)
		__asm__ volatile("rep outsw" : "+S"(p), "+c"(cnt) : "d"(port) : "memory");
	else if (out)
		__asm__ volatile("rep outsl" : "+S"(p), "+c"(cnt) : "d"(port) : "memory");
	else if (width == 1)
		__asm__ volatile("rep insb" : "+D"(p), "+c"(cnt) : "d"(port) : "memory");
	else if (width == 2)
		__asm__ volatile("rep insw" : "+D"(p), "+c"(cnt) : "d"(port) : "memory");
	else
		__asm__ volatile("rep insl" : "+D"(p), "+c"(cnt) : "d"(port) : "memory");
	__asm__ volatile("cld" : : : "memory");
}

void op_pio_string(struct chaos_cpu *c)
{
	uint16_t port = rand_port(c);
	unsigned width = rand_width(c);
	uint32_t n = 1 + rng_below(&c->rng, 8);
	bool out = rng_one_in(&c->rng, 2), down = rng_one_in(&c->rng, 8);

	if (port == cs.debug_exit_port || port == SELFTEST_PORT_RESULT) {
		c->filtered++;
		return;
	}
	for (uint32_t i = 0; out && i < n; i++) {
		uint32_t v = rand_value32(c);
		if (!pio_write_ok(port, width, v)) {
			v = 0; /* never ends a run: no filtered byte is 0 */
			c->filtered++;
		}
		for (unsigned b = 0; b < width; b++)
			c->buf[i * width + b] = (uint8_t)(v >> (8 * b));
	}
	rep_string(port, width, out, c->buf, n, down);
}

/* ---- the 8254 (Intel 82C54 data sheet): control word at 0x43, counters at 0x40-0x42 ---- */

#define PIT_CONTROL 0x43u
#define PORT_B      0x61u /* bit 0: counter 2's gate */

static uint16_t pit_count(struct chaos_cpu *c)
{
	switch (rng_below(&c->rng, 4)) {
	case 0: return (uint16_t)(1 + rng_below(&c->rng, 16)); /* tiny: an interrupt storm */
	case 1: return 0;                                     /* 65,536 */
	default: return (uint16_t)rng_next(&c->rng);
	}
}

void op_pit(struct chaos_cpu *c)
{
	uint32_t counter = rng_below(&c->rng, 3), access = 1 + rng_below(&c->rng, 3);
	uint32_t r = rng_below(&c->rng, 8);
	uint16_t count = pit_count(c);

	if (r == 0) { /* read-back of status and counts (SC = 11), any counters */
		outb(PIT_CONTROL, (uint8_t)(0xc0 | (rng_next(&c->rng) & 0x3e)));
		(void)inb((uint16_t)(0x40 + counter));
		return;
	}
	if (r == 1) { /* counter latch, then read */
		outb(PIT_CONTROL, (uint8_t)(counter << 6));
		(void)inb((uint16_t)(0x40 + counter));
		return;
	}
	if (r == 2) {
		outb(PORT_B, (uint8_t)rng_next(&c->rng));
		return;
	}
	/* mode 0-7 (6 and 7 alias 2 and 3), binary or BCD, then the count */
	outb(PIT_CONTROL, (uint8_t)(counter << 6 | access << 4 | rng_below(&c->rng, 16)));
	if (access & 1)
		outb((uint16_t)(0x40 + counter), (uint8_t)count);
	if (access & 2)
		outb((uint16_t)(0x40 + counter), (uint8_t)(count >> 8));
}

/* ---- the 8259A pair (Intel 8259A data sheet): ICW1-4 initialisation, OCW1-3 ---- */

static void pic_init(struct chaos_cpu *c, uint16_t cmd)
{
	uint8_t base = (uint8_t)(rng_one_in(&c->rng, 4) ? rng_next(&c->rng) & 0xf8 :
				 cmd == 0x20 ? 0x20 : 0x28);

	outb(cmd, (uint8_t)(0x10 | (rng_next(&c->rng) & 0x0f)));      /* ICW1, IC4 maybe */
	outb((uint16_t)(cmd + 1), base);                                /* ICW2: vectors   */
	outb((uint16_t)(cmd + 1), cmd == 0x20 ? 0x04 : 0x02);           /* ICW3: cascade   */
	outb((uint16_t)(cmd + 1), (uint8_t)(0x01 | (rng_next(&c->rng) & 0x1e))); /* ICW4 */
}

void op_pic(struct chaos_cpu *c)
{
	uint16_t cmd = rng_one_in(&c->rng, 2) ? 0x20 : 0xa0;

	switch (rng_below(&c->rng, 6)) {
	case 0:
		pic_init(c, cmd);
		break;
	case 1: /* OCW1: mask */
		outb((uint16_t)(cmd + 1), (uint8_t)rng_next(&c->rng));
		break;
	case 2: /* OCW2: EOI kinds, rotations, priority */
		outb(cmd, (uint8_t)(rng_next(&c->rng) & 0xe7));
		break;
	case 3: /* OCW3: read IRR/ISR, poll, special mask */
		outb(cmd, (uint8_t)(0x08 | (rng_next(&c->rng) & 0x67)));
		(void)inb(cmd);
		break;
	case 4: /* ELCR: edge/level per IRQ */
		outb((uint16_t)(0x4d0 + rng_below(&c->rng, 2)), (uint8_t)rng_next(&c->rng));
		break;
	default:
		(void)inb((uint16_t)(cmd + rng_below(&c->rng, 2)));
		break;
	}
}
