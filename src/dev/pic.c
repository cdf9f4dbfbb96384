/*
 * pic.c - see pic.h.  Command words and priority rules from the Intel 8259A datasheet
 * ("Programming the 8259A": ICW1-4, OCW1-3; "Fully nested mode", "Automatic rotation",
 * "Special mask mode", "Poll command"); the ELCR from the PIIX/ICH datasheets (writable
 * bits: IRQ 0, 1, 2, 8 and 13 are always edge-triggered).  The structure follows the
 * well-known shape of QEMU's and KVM's models.  It must not know who takes INTR.
 */
#include "dev/pic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "snapshot/snapfile.h"

#define ELCR_MASTER_WRITABLE 0xf8u /* IRQ 0-2 edge only */
#define ELCR_SLAVE_WRITABLE 0xdeu  /* IRQ 8 and 13 edge only */

/* ICW1 (written to the command port with bit 4 set). */
#define ICW1_ICW4 0x01u
#define ICW1_SINGLE 0x02u
#define ICW1_LTIM 0x08u
#define ICW1 0x10u
/* ICW4. */
#define ICW4_8086 0x01u
#define ICW4_AEOI 0x02u
#define ICW4_SFNM 0x10u
/* OCW3 (bit 3 set, bit 4 clear); OCW2 otherwise. */
#define OCW3 0x08u
#define OCW3_RIS 0x01u
#define OCW3_RR 0x02u
#define OCW3_POLL 0x04u
#define OCW3_SMM 0x20u
#define OCW3_ESMM 0x40u

enum init_step { INIT_NONE = 0, INIT_ICW2, INIT_ICW3, INIT_ICW4 };

struct chip {
	const char *name;
	uint8_t irr, isr, imr;
	uint8_t lines;        /* input levels, for edge detection */
	uint8_t elcr, elcr_writable;
	bool ltim;            /* ICW1: every input level-triggered */
	uint8_t base;         /* ICW2: vector of IR0 */
	uint8_t lowest;       /* rotation: the IR with the lowest priority is lowest - 1 */
	enum init_step init;
	bool want_icw4, single;
	bool aeoi, rotate_aeoi, sfnm, special_mask;
	bool read_isr, poll;
	bool master;
};

struct pic {
	struct pic_config cfg;
	struct chip c[2]; /* master, slave */
	bool intr;
};

__attribute__((format(printf, 3, 4)))
static void warnf(const struct pic *p, const struct chip *c, const char *fmt, ...)
{
	char msg[160];
	int n;
	va_list ap;

	if (!p->cfg.warn)
		return;
	n = snprintf(msg, sizeof(msg), "8259A %s: ", c->name);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	p->cfg.warn(p->cfg.warn_ctx, msg);
}

static uint8_t level_mask(const struct chip *c)
{
	return c->ltim ? 0xff : c->elcr;
}

/* 0 is the highest priority, 7 the lowest, 8 none: priorities rotate with `lowest`. */
static int priority(const struct chip *c, uint8_t set)
{
	if (!set)
		return 8;
	int pr = 0;
	while (!(set & (1u << ((pr + c->lowest) & 7))))
		pr++;
	return pr;
}

/*
 * The IR this chip asks the CPU (or the master) to serve, or -1: the highest pending
 * unmasked request above everything in service.  In special mask mode masked in-service
 * levels do not block; in special fully nested mode the master lets the slave interrupt
 * its own in-service cascade level.
 */
static int chip_request(const struct chip *c)
{
	int pr = priority(c, c->irr & ~c->imr);

	if (pr == 8)
		return -1;
	uint8_t in_service = c->isr;
	if (c->special_mask)
		in_service &= ~c->imr;
	if (c->sfnm && c->master)
		in_service &= (uint8_t)~(1u << PIC_CASCADE_IRQ);
	return pr < priority(c, in_service) ? (pr + c->lowest) & 7 : -1;
}

static void chip_input(struct chip *c, unsigned ir, bool level)
{
	uint8_t bit = (uint8_t)(1u << ir);

	if (level_mask(c) & bit) {
		c->irr = level ? c->irr | bit : c->irr & ~bit;
	} else if (level && !(c->lines & bit)) {
		c->irr |= bit; /* edge: latched on the rising edge */
	}
	c->lines = level ? c->lines | bit : c->lines & ~bit;
}

/* The slave's INT is the master's IR2; the master's INT is the CPU's INTR: its level. */
static bool settle(struct pic *p)
{
	chip_input(&p->c[0], PIC_CASCADE_IRQ, chip_request(&p->c[1]) >= 0);
	return chip_request(&p->c[0]) >= 0;
}

static void update(struct pic *p)
{
	bool intr = settle(p);
	if (intr != p->intr) {
		p->intr = intr;
		if (p->cfg.output)
			p->cfg.output(p->cfg.output_ctx, intr);
	}
}

/* The chip takes request `ir`: in service (or not, with automatic EOI); an edge is used. */
static void chip_ack(struct chip *c, int ir)
{
	uint8_t bit = (uint8_t)(1u << ir);

	if (c->aeoi) {
		if (c->rotate_aeoi)
			c->lowest = (uint8_t)((ir + 1) & 7);
	} else {
		c->isr |= bit;
	}
	/* A level-triggered request stays in IRR as long as its input is high. */
	if (!(level_mask(c) & bit))
		c->irr &= ~bit;
}

int pic_ack(struct pic *p)
{
	struct chip *m = &p->c[0], *s = &p->c[1];
	int ir = chip_request(m), vector;

	if (ir < 0) {
		vector = m->base + 7; /* spurious: IR7, not put in service */
	} else if (ir == PIC_CASCADE_IRQ && !m->single) {
		int sir = chip_request(s);
		if (sir >= 0)
			chip_ack(s, sir);
		vector = s->base + (sir >= 0 ? sir : 7); /* the slave's spurious IR7 = IRQ 15 */
		chip_ack(m, ir);
	} else {
		vector = m->base + ir;
		chip_ack(m, ir);
	}
	update(p);
	return vector;
}

bool pic_output(const struct pic *p)
{
	return p->intr;
}

void pic_set_irq(struct pic *p, unsigned irq, bool level)
{
	if (irq >= PIC_IRQS || irq == PIC_CASCADE_IRQ)
		return;
	chip_input(&p->c[irq >> 3], irq & 7, level);
	update(p);
}

/* ---- command words ------------------------------------------------------------------- */

/* ICW1 starts initialisation: IMR and ISR cleared, IR7 lowest, edge mode, no special mask. */
static void chip_icw1(struct pic *p, struct chip *c, uint8_t v)
{
	c->init = INIT_ICW2;
	c->want_icw4 = v & ICW1_ICW4;
	c->single = v & ICW1_SINGLE;
	c->ltim = v & ICW1_LTIM;
	c->imr = c->isr = 0;
	c->irr &= level_mask(c); /* edge requests are forgotten, as the input must re-edge */
	c->lines = 0;
	c->lowest = 0;
	c->special_mask = c->read_isr = c->poll = false;
	c->aeoi = c->rotate_aeoi = c->sfnm = false;
	if (!c->want_icw4) /* 8259A: no ICW4 means 8080 mode, which no PC uses */
		warnf(p, c, "ICW1 %#x without ICW4: 8080/8085 mode is not modelled", v);
}

/* OCW2: EOI (specific or not, with or without rotation) and rotation commands. */
static void chip_ocw2(struct chip *c, uint8_t v)
{
	unsigned cmd = v >> 5, ir = v & 7;
	int pr;

	switch (cmd) {
	case 0: /* rotate in automatic EOI mode: clear */
	case 4: /* rotate in automatic EOI mode: set */
		c->rotate_aeoi = cmd == 4;
		break;
	case 1: /* non-specific EOI: the highest in service */
	case 5: /* rotate on non-specific EOI */
		pr = priority(c, c->isr);
		if (pr == 8)
			break;
		ir = (unsigned)(pr + c->lowest) & 7;
		c->isr &= (uint8_t)~(1u << ir);
		if (cmd == 5)
			c->lowest = (uint8_t)((ir + 1) & 7);
		break;
	case 3: /* specific EOI */
		c->isr &= (uint8_t)~(1u << ir);
		break;
	case 6: /* set priority: IR `ir` lowest */
		c->lowest = (uint8_t)((ir + 1) & 7);
		break;
	case 7: /* rotate on specific EOI */
		c->isr &= (uint8_t)~(1u << ir);
		c->lowest = (uint8_t)((ir + 1) & 7);
		break;
	default: /* 2: no operation */
		break;
	}
}

static void chip_ocw3(struct chip *c, uint8_t v)
{
	if (v & OCW3_POLL)
		c->poll = true;
	if (v & OCW3_RR)
		c->read_isr = v & OCW3_RIS;
	if (v & OCW3_ESMM)
		c->special_mask = v & OCW3_SMM;
}

static void write_cmd(struct pic *p, struct chip *c, uint8_t v)
{
	if (v & ICW1)
		chip_icw1(p, c, v);
	else if (v & OCW3)
		chip_ocw3(c, v);
	else
		chip_ocw2(c, v);
}

static void write_data(struct pic *p, struct chip *c, uint8_t v)
{
	switch (c->init) {
	case INIT_NONE: /* OCW1: the mask */
		c->imr = v;
		break;
	case INIT_ICW2:
		c->base = v & 0xf8; /* 8086 mode: T7-T3; the IR number fills bits 2:0 */
		c->init = c->single ? (c->want_icw4 ? INIT_ICW4 : INIT_NONE) : INIT_ICW3;
		break;
	case INIT_ICW3: /* cascade wiring: fixed on a PC (slave on IR2, ID 2) */
		if ((c->master && v != 1u << PIC_CASCADE_IRQ) || (!c->master && (v & 7) != 2))
			warnf(p, c, "ICW3 %#x: a PC has the slave on IR2 (master 0x04, slave 0x02)",
			      v);
		c->init = c->want_icw4 ? INIT_ICW4 : INIT_NONE;
		break;
	case INIT_ICW4:
		if (!(v & ICW4_8086))
			warnf(p, c, "ICW4 %#x: 8080/8085 mode is not modelled (8086 mode used)", v);
		c->aeoi = v & ICW4_AEOI;
		c->sfnm = v & ICW4_SFNM;
		c->init = INIT_NONE;
		break;
	}
}

/* Poll (OCW3 P=1): the next read is the highest request, acknowledged, as 0x80 | IR. */
static uint8_t poll(struct pic *p, struct chip *c)
{
	int ir = chip_request(c);

	c->poll = false;
	if (ir < 0)
		return 0;
	chip_ack(c, ir);
	if (!c->master) /* the slave polled: its request no longer needs the master's IR2 */
		p->c[0].isr &= (uint8_t)~(1u << PIC_CASCADE_IRQ);
	return (uint8_t)(0x80 | ir);
}

uint8_t pic_io_read(struct pic *p, uint16_t port)
{
	struct chip *c;
	uint8_t v;

	switch (port) {
	case PIC_MASTER_CMD: case PIC_MASTER_DATA: c = &p->c[0]; break;
	case PIC_SLAVE_CMD: case PIC_SLAVE_DATA: c = &p->c[1]; break;
	case PIC_ELCR_MASTER: return p->c[0].elcr;
	case PIC_ELCR_SLAVE: return p->c[1].elcr;
	default: return 0xff;
	}
	if (c->poll) {
		v = poll(p, c);
		update(p);
		return v;
	}
	if (port & 1)
		return c->imr;
	return c->read_isr ? c->isr : c->irr;
}

void pic_io_write(struct pic *p, uint16_t port, uint8_t value)
{
	switch (port) {
	case PIC_MASTER_CMD: write_cmd(p, &p->c[0], value); break;
	case PIC_MASTER_DATA: write_data(p, &p->c[0], value); break;
	case PIC_SLAVE_CMD: write_cmd(p, &p->c[1], value); break;
	case PIC_SLAVE_DATA: write_data(p, &p->c[1], value); break;
	case PIC_ELCR_MASTER:
	case PIC_ELCR_SLAVE: {
		struct chip *c = &p->c[port == PIC_ELCR_SLAVE];
		if (value & ~c->elcr_writable)
			warnf(p, c, "ELCR %#x: IRQs %s are edge-triggered only", value,
			      c->master ? "0-2" : "8 and 13");
		c->elcr = value & c->elcr_writable;
		break;
	}
	default:
		return;
	}
	update(p);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static void chip_reset(struct chip *c, bool master)
{
	*c = (struct chip){
		.name = master ? "master" : "slave",
		.master = master,
		.elcr_writable = master ? ELCR_MASTER_WRITABLE : ELCR_SLAVE_WRITABLE,
		.want_icw4 = true,
	};
}

void pic_reset(struct pic *p)
{
	chip_reset(&p->c[0], true);
	chip_reset(&p->c[1], false);
	update(p);
}

struct pic *pic_create(const struct pic_config *cfg)
{
	struct pic *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cfg = *cfg;
	pic_reset(p);
	return p;
}

void pic_destroy(struct pic *p)
{
	free(p);
}

/* ---- snapshots ------------------------------------------------------------------------------ */

#define PIC_SNAP_VERSION 1u

enum chip_flag {
	F_LTIM = 1u << 0,
	F_WANT_ICW4 = 1u << 1,
	F_SINGLE = 1u << 2,
	F_AEOI = 1u << 3,
	F_ROTATE_AEOI = 1u << 4,
	F_SFNM = 1u << 5,
	F_SPECIAL_MASK = 1u << 6,
	F_READ_ISR = 1u << 7,
	F_POLL = 1u << 8,
	F_ALL = (1u << 9) - 1,
};

static uint32_t chip_flags(const struct chip *c)
{
	return (c->ltim ? F_LTIM : 0) | (c->want_icw4 ? F_WANT_ICW4 : 0) |
	       (c->single ? F_SINGLE : 0) | (c->aeoi ? F_AEOI : 0) |
	       (c->rotate_aeoi ? F_ROTATE_AEOI : 0) | (c->sfnm ? F_SFNM : 0) |
	       (c->special_mask ? F_SPECIAL_MASK : 0) | (c->read_isr ? F_READ_ISR : 0) |
	       (c->poll ? F_POLL : 0);
}

/* Per chip: IRR, ISR, IMR, input levels, ELCR, ICW2 base, lowest priority, init step, flags. */
static void chip_save(const struct chip *c, struct snap_enc *e)
{
	const uint8_t regs[] = { c->irr, c->isr, c->imr, c->lines, c->elcr, c->base, c->lowest,
				 (uint8_t)c->init };

	snap_enc_bytes(e, regs, sizeof(regs));
	snap_enc_u32(e, chip_flags(c));
}

void pic_save(const struct pic *p, struct snap_enc *e)
{
	snap_enc_u32(e, PIC_SNAP_VERSION);
	chip_save(&p->c[0], e);
	chip_save(&p->c[1], e);
}

/* Decodes into `c` (already reset); a reason, or NULL if the chip's state is possible. */
static const char *chip_decode(struct chip *c, struct snap_dec *d)
{
	uint8_t r[8];

	snap_dec_bytes(d, r, sizeof(r));
	uint32_t f = snap_dec_u32(d);
	if (d->bad)
		return "truncated";
	if (f & ~(uint32_t)F_ALL)
		return "unknown flags";
	if (r[4] & ~c->elcr_writable) /* PIIX/ICH: IRQ 0-2, 8 and 13 are edge only */
		return "ELCR bits that are edge-only";
	if (r[5] & 7) /* 8086 mode: ICW2 gives T7-T3 */
		return "a vector base that is not a multiple of 8";
	if (r[6] > 7 || r[7] > INIT_ICW4)
		return "priority or initialisation step out of range";
	c->irr = r[0], c->isr = r[1], c->imr = r[2], c->lines = r[3], c->elcr = r[4];
	c->base = r[5], c->lowest = r[6], c->init = (enum init_step)r[7];
	c->ltim = f & F_LTIM, c->want_icw4 = f & F_WANT_ICW4, c->single = f & F_SINGLE;
	c->aeoi = f & F_AEOI, c->rotate_aeoi = f & F_ROTATE_AEOI, c->sfnm = f & F_SFNM;
	c->special_mask = f & F_SPECIAL_MASK, c->read_isr = f & F_READ_ISR;
	c->poll = f & F_POLL;
	return NULL;
}

int pic_load(struct pic *p, struct snap_dec *d, char *err, size_t errlen)
{
	struct pic n = { .cfg = p->cfg };
	const char *why = NULL;

	uint32_t version = snap_dec_u32(d);
	if (!d->bad && version != PIC_SNAP_VERSION) {
		snprintf(err, errlen, "8259A state: version %u (this mpvmm reads %u)", version,
			 PIC_SNAP_VERSION);
		return -1;
	}
	chip_reset(&n.c[0], true);
	chip_reset(&n.c[1], false);
	int i = 0;
	for (; i < 2 && !why; i++)
		why = chip_decode(&n.c[i], d);
	if (why) {
		snprintf(err, errlen, "8259A %s state: %s", n.c[i - 1].name, why);
		return -1;
	}
	n.intr = settle(&n);
	*p = n;
	return 0;
}
