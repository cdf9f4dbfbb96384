/*
 * ioapic.c - see ioapic.h.  Register layout and redirection semantics from the Intel 82093AA
 * I/O APIC datasheet (section 3) and the ICH9 datasheet (13.5, version 0x20 and its EOI
 * register); the message format from the Intel SDM Vol. 3A, 10.11.  It must not know who
 * receives the messages or how a CPU is interrupted.
 */
#include "dev/ioapic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "snapshot/snapfile.h"

#define ID_SHIFT 24
#define ID_MASK 0xfu             /* 82093AA 3.2.1: bits 27:24 */
#define VER_MAX_ENTRY_SHIFT 16   /* 3.2.2: bits 23:16, the highest entry's index */
/* Bits the guest may write in the low half: vector, delivery and destination mode,
 * polarity, trigger mode, mask (3.2.4; delivery status and remote IRR are read-only). */
#define RTE_LOW_WRITABLE (IOAPIC_RTE_VECTOR | IOAPIC_RTE_DELMOD | IOAPIC_RTE_LOGICAL | \
			  IOAPIC_RTE_ACTIVE_LOW | IOAPIC_RTE_LEVEL | IOAPIC_RTE_MASKED)
#define RTE_HIGH_WRITABLE ((0xffull << IOAPIC_RTE_DEST_SHIFT) | IOAPIC_RTE_EXT_DEST)
/* What the message is made of: a change to these (not the mask) is a new route. */
#define RTE_MESSAGE ((RTE_LOW_WRITABLE & ~IOAPIC_RTE_MASKED & ~IOAPIC_RTE_ACTIVE_LOW) | \
		     RTE_HIGH_WRITABLE)

struct ioapic {
	struct ioapic_config cfg;
	uint32_t regsel;
	uint8_t id;
	uint64_t rte[IOAPIC_PINS];
	uint32_t asserted; /* input levels, one bit per pin */
};

__attribute__((format(printf, 2, 3)))
static void warnf(const struct ioapic *io, const char *fmt, ...)
{
	char msg[160];
	int n;
	va_list ap;

	if (!io->cfg.warn)
		return;
	n = snprintf(msg, sizeof(msg), "I/O APIC: ");
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	io->cfg.warn(io->cfg.warn_ctx, msg);
}

struct ioapic_msi ioapic_rte_msi(uint64_t rte)
{
	uint32_t dest = (uint32_t)(rte >> IOAPIC_RTE_DEST_SHIFT) & 0xff;
	uint32_t ext = (uint32_t)((rte & IOAPIC_RTE_EXT_DEST) >> IOAPIC_RTE_EXT_DEST_SHIFT);
	uint32_t mode = (uint32_t)((rte & IOAPIC_RTE_DELMOD) >> IOAPIC_RTE_DELMOD_SHIFT);
	struct ioapic_msi m = {
		.address = MSI_ADDR_BASE | ((uint64_t)dest << MSI_ADDR_DEST_SHIFT) |
			   ((uint64_t)(ext << 8) << MSI_ADDR_DEST_HI_SHIFT) |
			   (rte & IOAPIC_RTE_LOGICAL ? MSI_ADDR_LOGICAL : 0),
		/* An I/O APIC message always asserts (10.11.2: the level bit matters for
		 * level-triggered messages only, and 1 is assert). */
		.data = (uint32_t)(rte & IOAPIC_RTE_VECTOR) | (mode << MSI_DATA_DELMOD_SHIFT) |
			MSI_DATA_ASSERT | (rte & IOAPIC_RTE_LEVEL ? MSI_DATA_LEVEL : 0),
	};

	return m;
}

static bool is_level(uint64_t rte)
{
	return rte & IOAPIC_RTE_LEVEL;
}

/* Deliver pin's interrupt: a level-triggered one waits for its EOI (remote IRR, 3.2.4). */
static void send(struct ioapic *io, unsigned pin)
{
	uint64_t *e = &io->rte[pin];
	unsigned mode = (unsigned)((*e & IOAPIC_RTE_DELMOD) >> IOAPIC_RTE_DELMOD_SHIFT);

	if (mode == 3 || mode == 6) {
		warnf(io, "pin %u: delivery mode %u is reserved: interrupt dropped", pin, mode);
		return;
	}
	if (is_level(*e))
		*e |= IOAPIC_RTE_REMOTE_IRR;
	struct ioapic_msi m = ioapic_rte_msi(*e);
	if (io->cfg.send)
		io->cfg.send(io->cfg.send_ctx, pin, &m);
}

/* A level-triggered entry sends while its input is asserted, unmasked and not in service. */
static void service_level(struct ioapic *io, unsigned pin)
{
	uint64_t e = io->rte[pin];

	if (is_level(e) && (io->asserted & (1u << pin)) && !(e & IOAPIC_RTE_MASKED) &&
	    !(e & IOAPIC_RTE_REMOTE_IRR))
		send(io, pin);
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level)
{
	if (pin >= IOAPIC_PINS)
		return;
	uint32_t bit = 1u << pin;
	bool was = io->asserted & bit;

	io->asserted = level ? io->asserted | bit : io->asserted & ~bit;
	uint64_t e = io->rte[pin];
	if (is_level(e)) {
		service_level(io, pin);
		return;
	}
	/* 3.2.4: an edge on a masked pin is ignored, neither delivered nor held pending. */
	if (level && !was && !(e & IOAPIC_RTE_MASKED))
		send(io, pin);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t *e = &io->rte[pin];
		if ((*e & IOAPIC_RTE_VECTOR) != vector || !is_level(*e) ||
		    !(*e & IOAPIC_RTE_REMOTE_IRR))
			continue;
		*e &= ~IOAPIC_RTE_REMOTE_IRR;
		service_level(io, pin);
	}
}

/* ---- registers ----------------------------------------------------------------------------- */

static uint32_t read_reg(struct ioapic *io, uint32_t index)
{
	if (index >= IOAPIC_REG_REDTBL && index < IOAPIC_REG_REDTBL + 2 * IOAPIC_PINS) {
		uint64_t e = io->rte[(index - IOAPIC_REG_REDTBL) / 2];
		return index & 1 ? (uint32_t)(e >> 32) : (uint32_t)e;
	}
	switch (index) {
	case IOAPIC_REG_ID:
		return (uint32_t)(io->id & ID_MASK) << ID_SHIFT;
	case IOAPIC_REG_VER:
		return IOAPIC_VERSION | ((IOAPIC_PINS - 1u) << VER_MAX_ENTRY_SHIFT);
	case IOAPIC_REG_ARB: /* 3.2.3: the arbitration ID is loaded from the ID */
		return (uint32_t)(io->id & ID_MASK) << ID_SHIFT;
	}
	warnf(io, "read of register index %#x, which does not exist: reads 0", index);
	return 0;
}

static void write_rte(struct ioapic *io, unsigned pin, bool high, uint32_t v)
{
	uint64_t *e = &io->rte[pin];
	uint64_t old = *e;

	if (high) {
		*e = (*e & 0xffffffffull) | (((uint64_t)v << 32) & RTE_HIGH_WRITABLE);
	} else {
		*e = (*e & ~RTE_LOW_WRITABLE) | (v & RTE_LOW_WRITABLE);
		/* As KVM's model: an entry made edge-triggered is no longer in service. */
		if (!is_level(*e))
			*e &= ~IOAPIC_RTE_REMOTE_IRR;
	}
	if (((old ^ *e) & RTE_MESSAGE) && io->cfg.changed)
		io->cfg.changed(io->cfg.changed_ctx, pin);
	/* Unmasked (or made level) with its input asserted: a level interrupt is due now.
	 * An edge that came while masked is gone (3.2.4). */
	service_level(io, pin);
}

static void write_reg(struct ioapic *io, uint32_t index, uint32_t v)
{
	if (index >= IOAPIC_REG_REDTBL && index < IOAPIC_REG_REDTBL + 2 * IOAPIC_PINS) {
		write_rte(io, (index - IOAPIC_REG_REDTBL) / 2, index & 1, v);
		return;
	}
	switch (index) {
	case IOAPIC_REG_ID:
		io->id = (uint8_t)((v >> ID_SHIFT) & ID_MASK);
		return;
	case IOAPIC_REG_VER:
	case IOAPIC_REG_ARB:
		warnf(io, "write of %#x to read-only register index %#x ignored", v, index);
		return;
	}
	warnf(io, "write of %#x to register index %#x, which does not exist: ignored", v, index);
}

uint32_t ioapic_mmio_read(struct ioapic *io, uint32_t offset, unsigned size)
{
	if (offset == IOAPIC_IOREGSEL)
		return io->regsel;
	if (size != 4 || (offset != IOAPIC_IOWIN && offset != IOAPIC_EOIR)) {
		warnf(io, "%u-byte read at offset %#x: only IOREGSEL and IOWIN are read, 32 bits "
		      "wide", size, offset);
		return 0;
	}
	if (offset == IOAPIC_EOIR)
		return 0; /* write-only */
	return read_reg(io, io->regsel);
}

void ioapic_mmio_write(struct ioapic *io, uint32_t offset, unsigned size, uint32_t value)
{
	if (offset == IOAPIC_IOREGSEL && size >= 1 && size <= 4) {
		io->regsel = value & 0xff; /* 3.1.1: bits 7:0 select, 31:8 reserved */
		return;
	}
	if (size != 4 || (offset != IOAPIC_IOWIN && offset != IOAPIC_EOIR)) {
		warnf(io, "%u-byte write of %#x at offset %#x: only IOREGSEL, IOWIN and EOI are "
		      "written, 32 bits wide", size, value, offset);
		return;
	}
	if (offset == IOAPIC_EOIR)
		ioapic_eoi(io, (uint8_t)value); /* ICH9 13.5.5: bits 7:0 are the vector */
	else
		write_reg(io, io->regsel, value);
}

uint64_t ioapic_rte(const struct ioapic *io, unsigned pin)
{
	return pin < IOAPIC_PINS ? io->rte[pin] : 0;
}

/* ---- snapshots ------------------------------------------------------------------------------ */

#define IOAPIC_SNAP_VERSION 1u
/* What an entry may hold: the writable bits and remote IRR (delivery status is always idle). */
#define RTE_STATE (RTE_LOW_WRITABLE | RTE_HIGH_WRITABLE | IOAPIC_RTE_REMOTE_IRR)

/* Layout (version 1): IOREGSEL, ID, the pin count, each entry, the input levels. */
void ioapic_save(const struct ioapic *io, struct snap_enc *e)
{
	snap_enc_u32(e, IOAPIC_SNAP_VERSION);
	snap_enc_u32(e, io->regsel);
	snap_enc_u8(e, io->id);
	snap_enc_u32(e, IOAPIC_PINS);
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		snap_enc_u64(e, io->rte[pin]);
	snap_enc_u32(e, io->asserted);
}

#define refuse(err, errlen, ...) snap_refuse(err, errlen, "I/O APIC", __VA_ARGS__)

/* An entry the guest could have made: 82093AA 3.2.4's reserved bits clear, remote IRR on
 * level-triggered entries only (write_rte clears it when an entry becomes edge). */
static bool rte_possible(uint64_t rte)
{
	return !(rte & ~RTE_STATE) && (is_level(rte) || !(rte & IOAPIC_RTE_REMOTE_IRR));
}

int ioapic_load(struct ioapic *io, struct snap_dec *d, char *err, size_t errlen)
{
	struct ioapic n = { .cfg = io->cfg };

	uint32_t version = snap_dec_u32(d);
	if (!d->bad && version != IOAPIC_SNAP_VERSION)
		return refuse(err, errlen, "version %u (this mpvmm reads %u)", version,
			      IOAPIC_SNAP_VERSION);
	n.regsel = snap_dec_u32(d);
	n.id = snap_dec_u8(d);
	uint32_t pins = snap_dec_u32(d);
	if (!d->bad && pins != IOAPIC_PINS)
		return refuse(err, errlen, "%u pins (this one has %u)", pins, IOAPIC_PINS);
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		n.rte[pin] = snap_dec_u64(d);
	n.asserted = snap_dec_u32(d);
	if (d->bad)
		return refuse(err, errlen, "truncated");
	if (n.regsel > 0xff || n.id > ID_MASK) /* 3.1.1: IOREGSEL bits 7:0; 3.2.1: 4-bit ID */
		return refuse(err, errlen, "IOREGSEL %#x or ID %#x out of range", n.regsel, n.id);
	if (n.asserted >> IOAPIC_PINS)
		return refuse(err, errlen, "input levels %#x beyond pin %u", n.asserted,
			      IOAPIC_PINS - 1);
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		if (!rte_possible(n.rte[pin]))
			return refuse(err, errlen, "redirection entry %u (%#llx) is not valid",
				      pin, (unsigned long long)n.rte[pin]);
	*io = n;
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

void ioapic_reset(struct ioapic *io)
{
	io->regsel = 0;
	io->id = io->cfg.id & ID_MASK; /* the register holds 4 bits (3.2.1) */
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		io->rte[pin] = IOAPIC_RTE_MASKED; /* 3.2.4: reset masks every entry */
}

struct ioapic *ioapic_create(const struct ioapic_config *cfg)
{
	struct ioapic *io = calloc(1, sizeof(*io));

	if (!io)
		return NULL;
	io->cfg = *cfg;
	ioapic_reset(io);
	return io;
}

void ioapic_destroy(struct ioapic *io)
{
	free(io);
}
