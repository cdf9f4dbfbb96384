/*
 * ops_mmio.c - MMIO at every width (1, 2, 4, 8 bytes, aligned or not): the local APIC's
 * page, the I/O APIC's (its index and window registers and the redirection entries behind
 * them), the PCI hole and the space no device claims.  The identity map covers 0-4 GiB with
 * the 3-4 GiB hole uncached (SELFTEST_PD_ADDR), so every address below is reachable.
 *
 * Left out: guest RAM (the guest's own code and data), 0xFEFF0000-0xFEFFFFFF (the
 * accelerators' private pages: KVM's TSS and identity map, the software CPU's INIT stubs),
 * and accesses past 4 GiB (not mapped: a page fault).  What an I/O APIC window write may
 * change is filtered as every redirection entry would take it (apic.h: delivery_safe),
 * because another CPU may move the index between two accesses.
 */
#include "ops.h"

#include "apic.h"
#include "arch.h"
#include "rng.h"

#define IOAPIC_DEFAULT  0xfec00000u
#define IOAPIC_REGSEL   0x00u
#define IOAPIC_WINDOW   0x10u
#define IOAPIC_EOI      0x40u  /* ICH I/O APIC (version 0x20) EOI register */
#define IOAPIC_RTE(pin) (0x10u + 2u * (pin))
#define IOAPIC_PINS     24u
#define PRIVATE_START   0xfeff0000ull
#define PRIVATE_END     0xff000000ull
#define HOLE_TOP        0x100000000ull

static uint64_t mmio_read(uint64_t addr, unsigned width)
{
	switch (width) {
	case 1: return *(volatile uint8_t *)phys(addr);
	case 2: return *(volatile uint16_t *)phys(addr);
	case 4: return *(volatile uint32_t *)phys(addr);
	default: return *(volatile uint64_t *)phys(addr);
	}
}

static void mmio_write(uint64_t addr, unsigned width, uint64_t v)
{
	switch (width) {
	case 1: *(volatile uint8_t *)phys(addr) = (uint8_t)v; break;
	case 2: *(volatile uint16_t *)phys(addr) = (uint16_t)v; break;
	case 4: *(volatile uint32_t *)phys(addr) = (uint32_t)v; break;
	default: *(volatile uint64_t *)phys(addr) = v; break;
	}
}

/* 4 bytes most often: what the registers take. */
static unsigned rand_width(struct chaos_cpu *c)
{
	static const uint8_t widths[] = { 4, 4, 4, 4, 1, 2, 8 };

	return widths[rng_below(&c->rng, sizeof(widths))];
}

/* A register offset in a 4 KiB page (16-byte aligned), or now and then any byte. */
static uint32_t rand_offset(struct chaos_cpu *c)
{
	if (rng_one_in(&c->rng, 4))
		return rng_below(&c->rng, 4096);
	return rng_below(&c->rng, 256) * 16;
}

/* ---- the local APIC ---- */

static bool overlaps(uint32_t off, unsigned width, uint32_t reg)
{
	return off < reg + 4 && reg < off + width;
}

/*
 * A write to a register KVM and mpvmm act on (4 bytes, 16-byte aligned) goes through the
 * filtered path; another width or alignment is dropped by both (they warn) unless it
 * touches a register whose odd write might still be read as a message: then it is left out.
 */
static void lapic_odd_write(struct chaos_cpu *c, uint32_t off, unsigned width, uint64_t v)
{
	static const uint32_t sensitive[] = { LAPIC_ID, LAPIC_ICR_LO, LAPIC_LVT_CMCI, 0x320, 0x330,
					      0x340, 0x350, 0x360, LAPIC_LVT_ERROR };

	for (unsigned i = 0; i < sizeof(sensitive) / sizeof(sensitive[0]); i++) {
		if (overlaps(off, width, sensitive[i])) {
			c->filtered++;
			return;
		}
	}
	if (off + width <= 4096)
		mmio_write(LAPIC_BASE + off, width, v);
}

void op_lapic_mmio(struct chaos_cpu *c)
{
	uint32_t off = rand_offset(c);
	unsigned width = rand_width(c);

	if (off + width > 4096)
		off = 4096 - width;
	if (rng_one_in(&c->rng, 2)) {
		(void)mmio_read(LAPIC_BASE + off, width);
		return;
	}
	if (width == 4 && !(off & 0xf))
		lapic_reg_write(c, off, rand_value32(c));
	else
		lapic_odd_write(c, off, width, rand_value64(c));
}

/* ---- the I/O APIC (82093AA data sheet, 3.0; the EOI register of the ICH's) ---- */

static uint64_t ioapic_base(void)
{
	return cs.ioapic_addr ? cs.ioapic_addr : IOAPIC_DEFAULT;
}

/* A value for the window, safe as any register it may land in (both 32-bit halves). */
static uint64_t window_value(struct chaos_cpu *c, uint64_t v)
{
	uint64_t lo = delivery_safe(c, (uint32_t)v), hi = delivery_safe(c, (uint32_t)(v >> 32));

	return hi << 32 | lo;
}

static bool in_window(uint32_t off, unsigned width)
{
	/* KVM decodes offset & 0xff, mpvmm the offset: cover every byte any of them may take. */
	for (unsigned i = 0; i < width; i++)
		if (((off + i) & 0xf0) == IOAPIC_WINDOW)
			return true;
	return false;
}

static uint32_t ioapic_offset(struct chaos_cpu *c)
{
	static const uint8_t offsets[] = { IOAPIC_REGSEL, IOAPIC_REGSEL, IOAPIC_WINDOW,
					   IOAPIC_WINDOW, IOAPIC_EOI };

	if (rng_one_in(&c->rng, 6))
		return rand_offset(c);
	return offsets[rng_below(&c->rng, sizeof(offsets))];
}

void op_ioapic_mmio(struct chaos_cpu *c)
{
	uint32_t off = ioapic_offset(c);
	unsigned width = rand_width(c);
	uint64_t v = rand_value64(c);

	if (off + width > 4096)
		off = 4096 - width;
	if (rng_one_in(&c->rng, 2)) {
		(void)mmio_read(ioapic_base() + off, width);
		return;
	}
	if (in_window(off, width))
		v = window_value(c, v);
	else if (off == IOAPIC_REGSEL && rng_below(&c->rng, 4))
		v = rng_below(&c->rng, 0x40); /* ID, version, arbitration, the 24 entries, past */
	mmio_write(ioapic_base() + off, width, v);
}

/* Select, then write the window: filtered as any register, since the index may move. */
static void ioapic_write(struct chaos_cpu *c, uint32_t reg, uint32_t v)
{
	volatile uint32_t *sel = phys(ioapic_base() + IOAPIC_REGSEL);
	volatile uint32_t *win = phys(ioapic_base() + IOAPIC_WINDOW);

	*sel = reg;
	*win = delivery_safe(c, v);
}

/* A destination for an entry: a CPU, the BSP, one nobody has, broadcast, extended bits. */
static uint32_t rte_high(struct chaos_cpu *c)
{
	uint32_t id = cs.apic_ids[rng_below(&c->rng, cs.ncpus)];

	switch (rng_below(&c->rng, 6)) {
	case 0: return 0xffu << 24;
	case 1: return (uint32_t)rng_next(&c->rng);            /* with KVM's extended ID bits */
	case 2: return (uint32_t)(0x80 + rng_below(&c->rng, 0x7f)) << 24; /* nobody (< 0xff) */
	default: return (id & 0xff) << 24;
	}
}

/* An entry (82093AA 3.2.4): vector, delivery and destination mode, polarity, trigger, mask. */
void op_rte(struct chaos_cpu *c)
{
	uint32_t pin = rng_one_in(&c->rng, 8) ? IOAPIC_PINS + rng_below(&c->rng, 8) :
		       rng_below(&c->rng, IOAPIC_PINS);
	uint32_t lo = (uint32_t)rng_next(&c->rng) & 0x1afff; /* bits 12 and 14 are read-only */

	switch (rng_below(&c->rng, 8)) {
	case 0:
		ioapic_write(c, 0x00, rand_value32(c)); /* ID */
		return;
	case 1:
		*(volatile uint32_t *)phys(ioapic_base() + IOAPIC_EOI) = (uint32_t)rng_next(&c->rng);
		return;
	case 2:
		*(volatile uint32_t *)phys(ioapic_base() + IOAPIC_REGSEL) = IOAPIC_RTE(pin);
		(void)*(volatile uint32_t *)phys(ioapic_base() + IOAPIC_WINDOW);
		return;
	default:
		ioapic_write(c, IOAPIC_RTE(pin) + 1, rte_high(c));
		ioapic_write(c, IOAPIC_RTE(pin), lo);
		return;
	}
}

/* ---- the rest of the hole ---- */

/* An address in one of the unclaimed or PCI ranges of 0-4 GiB (never RAM, never private). */
static uint64_t hole_address(struct chaos_cpu *c)
{
	uint64_t ram_end = cs.bi->mem_size;

	switch (rng_below(&c->rng, 6)) {
	case 0: /* between the end of RAM and 3 GiB: nothing is there */
		if (ram_end < 0xc0000000ull)
			return ram_end + rng_next(&c->rng) % (0xc0000000ull - ram_end);
		return 0xc0000000ull + rng_below(&c->rng, 0x10000000);
	case 1: /* 3 GiB to the PCI hole */
		return 0xc0000000ull + rng_below(&c->rng, 0x20000000);
	case 2: /* HPET's page and what follows the I/O APIC */
		return 0xfec01000ull + rng_below(&c->rng, 0x1fe000);
	case 3: /* between the local APIC's page and the private pages */
		return 0xfee01000ull + rng_below(&c->rng, 0x1ef000);
	case 4: /* the top 16 MiB, where firmware would be */
		return PRIVATE_END + rng_below(&c->rng, (uint32_t)(HOLE_TOP - PRIVATE_END));
	default: /* the PCI hole */
		return 0xe0000000ull + rng_below(&c->rng, 0x1ec00000);
	}
}

void op_hole_mmio(struct chaos_cpu *c)
{
	uint64_t addr = hole_address(c);
	unsigned width = rand_width(c);

	if (addr + width > HOLE_TOP)
		addr = HOLE_TOP - width;
	if (addr < PRIVATE_END && addr + width > PRIVATE_START)
		addr = PRIVATE_START - width;
	if (rng_one_in(&c->rng, 2))
		(void)mmio_read(addr, width);
	else
		mmio_write(addr, width, rand_value64(c));
}
