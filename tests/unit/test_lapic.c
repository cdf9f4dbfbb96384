/*
 * test_lapic.c - one local APIC model without a CPU or a bus: reset values, priorities
 * (TPR, PPR, ISR masking, EOI order), the ESR, xAPIC MMIO rules, ICR decoding, the timer in
 * all three modes on a hand-driven clock, x2APIC MSR #GP cases and IA32_APIC_BASE
 * transitions, and snapshots (round trips under the same and a shifted clock, damaged
 * payloads refused).  Sent IPIs and warnings are captured instead of routed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mp/lapic.h"
#include "snapshot/snapfile.h"

static uint64_t clk;
static struct lapic_ipi sent[8];
static unsigned nsent;
static unsigned nwarn;
static char last_warn[200];

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return clk;
}

static void capture_send(void *ctx, uint32_t from, const struct lapic_ipi *ipi)
{
	(void)ctx;
	assert_int_equal(from, 3);
	if (nsent < 8)
		sent[nsent] = *ipi;
	nsent++;
}

static void count_warn(void *ctx, const char *msg)
{
	(void)ctx;
	nwarn++;
	strncpy(last_warn, msg, sizeof(last_warn) - 1);
}

static struct lapic *make(uint32_t id, bool bsp, uint64_t bus_hz, uint64_t tsc_hz)
{
	struct lapic_config c = {
		.cpu = 3, .apic_id = id, .bsp = bsp, .x2apic = true, .phys_bits = 39,
		.bus_hz = bus_hz, .tsc_hz = tsc_hz, .now_ns = fake_now,
		.send = capture_send, .warn = count_warn,
	};
	clk = 0;
	nsent = nwarn = 0;
	last_warn[0] = 0;
	struct lapic *l = lapic_create(&c);
	assert_non_null(l);
	return l;
}

static uint32_t rd(struct lapic *l, uint32_t off)
{
	uint32_t v = 0xdeadbeef;

	assert_int_equal(lapic_mmio_read(l, off, 4, &v), LAPIC_OK);
	return v;
}

static void wr(struct lapic *l, uint32_t off, uint32_t v)
{
	assert_int_equal(lapic_mmio_write(l, off, 4, v), LAPIC_OK);
}

static bool irr_has(struct lapic *l, uint8_t v)
{
	return rd(l, LAPIC_IRR + (v >> 5) * 0x10) & (1u << (v & 31));
}

static bool isr_has(struct lapic *l, uint8_t v)
{
	return rd(l, LAPIC_ISR + (v >> 5) * 0x10) & (1u << (v & 31));
}

static void enable(struct lapic *l)
{
	wr(l, LAPIC_SVR, LAPIC_SVR_ENABLE | 0xff);
}

static void to_x2apic(struct lapic *l)
{
	const uint64_t x2 = LAPIC_DEFAULT_BASE | LAPIC_BASE_EN | LAPIC_BASE_EXTD;

	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_APIC_BASE, x2), LAPIC_OK);
	assert_int_equal(lapic_mode(l), LAPIC_MODE_X2APIC);
}

static void test_reset_values(void **state)
{
	struct lapic *l = make(0x12, true, 0, 0);
	uint64_t base;

	(void)state;
	assert_int_equal(rd(l, LAPIC_VER), 0x00050014);
	assert_int_equal(rd(l, LAPIC_ID), 0x12000000);
	assert_int_equal(rd(l, LAPIC_SVR), 0xff);
	assert_int_equal(rd(l, LAPIC_DFR), 0xffffffff);
	assert_int_equal(rd(l, LAPIC_LDR), 0);
	assert_int_equal(rd(l, LAPIC_TPR), 0);
	for (uint32_t off = LAPIC_LVT_TIMER; off <= LAPIC_LVT_ERROR; off += 0x10)
		assert_int_equal(rd(l, off), LAPIC_LVT_MASKED);
	assert_int_equal(lapic_msr_read(l, LAPIC_MSR_APIC_BASE, &base), LAPIC_OK);
	assert_int_equal(base, 0xfee00900);
	lapic_destroy(l);
	l = make(1, false, 0, 0);
	assert_int_equal(lapic_msr_read(l, LAPIC_MSR_APIC_BASE, &base), LAPIC_OK);
	assert_int_equal(base, 0xfee00800);
	/* The ID is fixed: a write is dropped with a warning (SDM 10.4.6). */
	wr(l, LAPIC_ID, 0x07000000);
	assert_int_equal(rd(l, LAPIC_ID), 0x01000000);
	assert_int_equal(nwarn, 1);
	lapic_destroy(l);
}

static void test_priority_and_eoi_order(void **state)
{
	struct lapic *l = make(0, true, 0, 0);

	(void)state;
	enable(l);
	assert_int_equal(lapic_pending(l), -1);
	assert_true(lapic_set_irq(l, 0x31, false));
	assert_true(lapic_set_irq(l, 0x52, true));
	assert_true(lapic_set_irq(l, 0x45, false));
	assert_true(irr_has(l, 0x52));
	assert_true(rd(l, LAPIC_TMR + 0x20) & (1u << (0x52 & 31))); /* level: TMR set */
	assert_int_equal(lapic_pending(l), 0x52);
	/* TPR class 5 masks class 5 and below (SDM 10.8.3.1). */
	wr(l, LAPIC_TPR, 0x50);
	assert_int_equal(rd(l, LAPIC_PPR), 0x50);
	assert_int_equal(lapic_pending(l), -1);
	assert_int_equal(lapic_accept(l), -1);
	wr(l, LAPIC_TPR, 0x47);
	assert_int_equal(lapic_pending(l), 0x52);
	assert_int_equal(lapic_accept(l), 0x52);
	assert_false(irr_has(l, 0x52));
	assert_true(isr_has(l, 0x52));
	/* ISR class 5 above TPR class 4: PPR = 0x50, masking 0x45. */
	assert_int_equal(rd(l, LAPIC_PPR), 0x50);
	assert_int_equal(lapic_pending(l), -1);
	/* A higher class still gets through and nests. */
	assert_true(lapic_set_irq(l, 0x61, false));
	assert_int_equal(lapic_accept(l), 0x61);
	assert_int_equal(rd(l, LAPIC_PPR), 0x60);
	/* EOI retires the highest in-service vector first. */
	wr(l, LAPIC_EOI, 0);
	assert_false(isr_has(l, 0x61));
	assert_true(isr_has(l, 0x52));
	wr(l, LAPIC_EOI, 0);
	assert_false(isr_has(l, 0x52));
	/* TPR 0x47 and nothing in service: PPR = TPR, 0x45 (class 4) stays masked. */
	assert_int_equal(rd(l, LAPIC_PPR), 0x47);
	assert_int_equal(lapic_pending(l), -1);
	wr(l, LAPIC_TPR, 0x3f);
	assert_int_equal(lapic_accept(l), 0x45);
	assert_int_equal(rd(l, LAPIC_PPR), 0x40);
	wr(l, LAPIC_TPR, 0x47); /* same class as the ISR: the TPR, low nibble and all */
	assert_int_equal(rd(l, LAPIC_PPR), 0x47);
	wr(l, LAPIC_TPR, 0x3f);
	assert_int_equal(lapic_pending(l), -1); /* 0x31: class 3 */
	wr(l, LAPIC_EOI, 0);
	wr(l, LAPIC_TPR, 0);
	assert_int_equal(lapic_accept(l), 0x31);
	wr(l, LAPIC_EOI, 0);
	wr(l, LAPIC_EOI, 0); /* an EOI with nothing in service is harmless */
	assert_int_equal(rd(l, LAPIC_PPR), 0);
	assert_int_equal(nwarn, 0);
	lapic_destroy(l);
}

static void test_apr(void **state)
{
	struct lapic *l = make(0, true, 0, 0);

	(void)state;
	enable(l);
	wr(l, LAPIC_TPR, 0x35);
	assert_int_equal(rd(l, LAPIC_APR), 0x35);
	lapic_set_irq(l, 0x71, false);
	assert_int_equal(rd(l, LAPIC_APR), 0x70); /* a pending class above the TPR */
	assert_int_equal(lapic_accept(l), 0x71);
	assert_int_equal(rd(l, LAPIC_APR), 0x70); /* in service */
	wr(l, LAPIC_EOI, 0);
	assert_int_equal(lapic_apr(l), 0x35);
	lapic_destroy(l);
}

static void test_software_disable(void **state)
{
	struct lapic *l = make(0, true, 0, 0);

	(void)state;
	/* Software-disabled after reset: no fixed interrupts, LVT masks stick (10.4.7.2). */
	assert_false(lapic_sw_enabled(l));
	assert_false(lapic_set_irq(l, 0x40, false));
	assert_false(irr_has(l, 0x40));
	wr(l, LAPIC_LVT_LINT0, 0x700);
	assert_int_equal(rd(l, LAPIC_LVT_LINT0), 0x700 | LAPIC_LVT_MASKED);
	enable(l);
	wr(l, LAPIC_LVT_LINT0, 0x700);
	assert_int_equal(rd(l, LAPIC_LVT_LINT0), 0x700);
	assert_true(lapic_set_irq(l, 0x40, false));
	/* Disabling again masks every LVT entry; what was pending is held. */
	wr(l, LAPIC_SVR, 0xff);
	assert_int_equal(rd(l, LAPIC_LVT_LINT0), 0x700 | LAPIC_LVT_MASKED);
	assert_int_equal(lapic_pending(l), 0x40);
	/* NMI is not subject to the software enable. */
	lapic_raise_nmi(l);
	assert_true(lapic_take_nmi(l));
	assert_false(lapic_take_nmi(l));
	lapic_destroy(l);
}

static void test_esr(void **state)
{
	struct lapic *l = make(0, true, 0, 0);

	(void)state;
	enable(l);
	/* A fixed IPI with vector 5 is not sent; the error shows after an ESR write. */
	wr(l, LAPIC_ICR_LO, 0x05);
	assert_int_equal(nsent, 0);
	assert_int_equal(rd(l, LAPIC_ESR), 0);
	wr(l, LAPIC_ESR, 0);
	assert_int_equal(rd(l, LAPIC_ESR), LAPIC_ESR_SEND_ILLEGAL_VECTOR);
	wr(l, LAPIC_ESR, 0);
	assert_int_equal(rd(l, LAPIC_ESR), 0);
	/* Received illegal vector, reserved register; the unmasked error LVT raises its vector. */
	wr(l, LAPIC_LVT_ERROR, 0xee);
	assert_false(lapic_set_irq(l, 3, false));
	assert_true(irr_has(l, 0xee));
	wr(l, 0x040, 1);
	assert_int_equal(rd(l, 0x050), 0); /* a reserved read: 0, logged too */
	wr(l, LAPIC_ESR, 0);
	assert_int_equal(rd(l, LAPIC_ESR),
			 LAPIC_ESR_RECV_ILLEGAL_VECTOR | LAPIC_ESR_ILLEGAL_REGISTER);
	assert_true(nwarn >= 3);
	lapic_destroy(l);
}

/* lapic_peek: every readable register as MMIO reads it; reserved ones 0, nothing logged. */
static void test_peek(void **state)
{
	struct lapic *l = make(5, false, 0, 0);
	uint32_t reg[64];

	(void)state;
	enable(l);
	wr(l, LAPIC_TPR, 0x20);
	assert_true(lapic_set_irq(l, 0xfb, false));
	assert_true(lapic_set_irq(l, 0x31, true));
	assert_int_equal(lapic_accept(l), 0xfb);
	nwarn = 0;
	lapic_peek(l, reg);
	assert_int_equal(nwarn, 0);
	assert_int_equal(reg[LAPIC_ID / 16], 0x05000000);
	assert_int_equal(reg[LAPIC_VER / 16], LAPIC_VERSION);
	assert_int_equal(reg[LAPIC_TPR / 16], 0x20);
	assert_int_equal(reg[LAPIC_PPR / 16], 0xf0);
	assert_int_equal(reg[(LAPIC_ISR + 0x70) / 16], 1u << 27);
	assert_int_equal(reg[(LAPIC_IRR + 0x10) / 16], 1u << 17);
	assert_int_equal(reg[(LAPIC_TMR + 0x10) / 16], 1u << 17);
	assert_int_equal(reg[0x040 / 16], 0);
	for (uint32_t off = 0; off < 0x400; off += 0x10)
		if (off != LAPIC_EOI && off != 0x040 && off != 0x050 && off != 0x060 &&
		    off != 0x070 && !(off >= 0x290 && off < 0x300) && !(off >= 0x3a0 &&
		    off < 0x3e0) && off != 0x3f0 && off != 0x000 && off != 0x010)
			assert_int_equal(reg[off / 16], rd(l, off));
	assert_int_equal(nwarn, 0);
	/* No error was logged: a write to ESR latches nothing. */
	wr(l, LAPIC_ESR, 0);
	assert_int_equal(rd(l, LAPIC_ESR), 0);
	lapic_destroy(l);
}

static void test_mmio_access_rules(void **state)
{
	struct lapic *l = make(0, true, 0, 0);
	uint32_t v;

	(void)state;
	enable(l);
	/* Only aligned 32-bit accesses reach a register (SDM 10.4.1). */
	assert_int_equal(lapic_mmio_write(l, LAPIC_TPR, 1, 0x20), LAPIC_OK);
	assert_int_equal(lapic_mmio_write(l, LAPIC_TPR + 4, 4, 0x20), LAPIC_OK);
	assert_int_equal(rd(l, LAPIC_TPR), 0);
	assert_int_equal(lapic_mmio_read(l, LAPIC_VER, 2, &v), LAPIC_OK);
	assert_int_equal(v, 0);
	assert_int_equal(nwarn, 3);
	/* Read-only registers ignore writes; write-only EOI reads 0. */
	wr(l, LAPIC_VER, 0);
	wr(l, LAPIC_PPR, 0xff);
	assert_int_equal(rd(l, LAPIC_VER), LAPIC_VERSION);
	assert_int_equal(rd(l, LAPIC_EOI), 0);
	assert_int_equal(lapic_mmio_read(l, 0x1000, 4, &v), LAPIC_UNCLAIMED);
	/* LDR keeps bits 31:24; DFR bits 27:0 read as ones. */
	wr(l, LAPIC_LDR, 0x12345678);
	assert_int_equal(rd(l, LAPIC_LDR), 0x12000000);
	wr(l, LAPIC_DFR, 0x0);
	assert_int_equal(rd(l, LAPIC_DFR), 0x0fffffff);
	/* In x2APIC mode the page is not the APIC's. */
	to_x2apic(l);
	assert_int_equal(lapic_mmio_read(l, LAPIC_ID, 4, &v), LAPIC_UNCLAIMED);
	assert_int_equal(lapic_mmio_write(l, LAPIC_TPR, 4, 1), LAPIC_UNCLAIMED);
	lapic_destroy(l);
}

static void test_icr_xapic(void **state)
{
	struct lapic *l = make(0, true, 0, 0);

	(void)state;
	enable(l);
	wr(l, LAPIC_ICR_HI, 0x03ffffff);
	assert_int_equal(rd(l, LAPIC_ICR_HI), 0x03000000);
	/* INIT, level assert, level-triggered, physical. */
	wr(l, LAPIC_ICR_LO, 0x0000c500);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent[0].mode, LAPIC_DM_INIT);
	assert_true(sent[0].assert);
	assert_true(sent[0].level);
	assert_false(sent[0].logical);
	assert_false(sent[0].x2apic);
	assert_int_equal(sent[0].dest, 3);
	assert_int_equal(rd(l, LAPIC_ICR_LO) & (1u << 12), 0); /* delivery status: idle */
	/* INIT level de-assert. */
	wr(l, LAPIC_ICR_LO, 0x00008500);
	assert_false(sent[1].assert);
	/* SIPI vector 0x9a, logical, all excluding self. */
	wr(l, LAPIC_ICR_LO, 0x000c0e9a);
	assert_int_equal(sent[2].mode, LAPIC_DM_SIPI);
	assert_int_equal(sent[2].vector, 0x9a);
	assert_true(sent[2].logical);
	assert_int_equal(sent[2].shorthand, LAPIC_SH_OTHERS);
	assert_true(sent[2].assert);
	/* Reserved delivery modes are not sent. */
	wr(l, LAPIC_ICR_LO, 0x00000340);
	wr(l, LAPIC_ICR_LO, 0x00000740);
	assert_int_equal(nsent, 3);
	assert_int_equal(nwarn, 2);
	lapic_destroy(l);
}

/* Divide configuration encodings and their divisors (SDM figure 10-10). */
static const struct { uint32_t dcr, div; } divides[] = {
	{ 0x0, 2 }, { 0x1, 4 }, { 0x2, 8 }, { 0x3, 16 },
	{ 0x8, 32 }, { 0x9, 64 }, { 0xa, 128 }, { 0xb, 1 },
};

static void test_timer_one_shot_divides(void **state)
{
	struct lapic *l = make(0, true, 0, 0);

	(void)state;
	enable(l);
	wr(l, LAPIC_LVT_TIMER, 0x30);
	for (size_t i = 0; i < sizeof(divides) / sizeof(divides[0]); i++) {
		clk = 1000;
		wr(l, LAPIC_TIMER_DIVIDE, divides[i].dcr);
		assert_int_equal(rd(l, LAPIC_TIMER_DIVIDE), divides[i].dcr);
		wr(l, LAPIC_TIMER_INITIAL, 100);
		uint64_t due = 1000 + 100ull * divides[i].div; /* 1 GHz: one tick per ns */
		assert_int_equal(lapic_timer_next(l), due);
		assert_int_equal(rd(l, LAPIC_TIMER_CURRENT), 100);
		clk = 1000 + 40ull * divides[i].div;
		assert_int_equal(rd(l, LAPIC_TIMER_CURRENT), 60);
		assert_false(lapic_timer_fire(l, due - 1));
		assert_false(irr_has(l, 0x30));
		clk = due;
		assert_int_equal(rd(l, LAPIC_TIMER_CURRENT), 0);
		assert_true(lapic_timer_fire(l, due));
		assert_int_equal(lapic_accept(l), 0x30);
		wr(l, LAPIC_EOI, 0);
		assert_int_equal(lapic_timer_next(l), LAPIC_TIMER_NONE);
		assert_false(lapic_timer_fire(l, due + 1000000));
	}
	/* A zero initial count stops the timer. */
	wr(l, LAPIC_TIMER_INITIAL, 5);
	wr(l, LAPIC_TIMER_INITIAL, 0);
	assert_int_equal(lapic_timer_next(l), LAPIC_TIMER_NONE);
	lapic_destroy(l);
}

static void test_timer_periodic(void **state)
{
	/* 100 MHz input clock: 10 ns per tick; divide by 4: 40 ns per count. */
	struct lapic *l = make(0, true, 100000000, 0);

	(void)state;
	enable(l);
	wr(l, LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | 0x40);
	wr(l, LAPIC_TIMER_DIVIDE, 0x1);
	clk = 500000;
	wr(l, LAPIC_TIMER_INITIAL, 25000); /* period 1 ms */
	assert_int_equal(lapic_timer_next(l), 1500000);
	clk = 1100000;
	assert_int_equal(rd(l, LAPIC_TIMER_CURRENT), 10000); /* 600 us at 40 ns per count */
	/* Late by one and a half periods: one interrupt, re-armed on the period grid. */
	assert_true(lapic_timer_fire(l, 3000000));
	assert_int_equal(lapic_timer_next(l), 3500000);
	clk = 3000000;
	assert_int_equal(rd(l, LAPIC_TIMER_CURRENT), 12500); /* 500 us into the period */
	assert_int_equal(lapic_accept(l), 0x40);
	/* Masked: counts and re-arms, raises nothing. */
	wr(l, LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | LAPIC_LVT_MASKED | 0x40);
	assert_false(lapic_timer_fire(l, 3500000));
	assert_int_equal(lapic_timer_next(l), 4500000);
	assert_false(irr_has(l, 0x40));
	/* Periodic -> one-shot keeps counting (10.5.4.1): expires once more, then stops. */
	wr(l, LAPIC_LVT_TIMER, 0x40);
	assert_true(lapic_timer_fire(l, 4500000));
	assert_int_equal(lapic_timer_next(l), LAPIC_TIMER_NONE);
	assert_int_equal(nwarn, 0);
	lapic_destroy(l);
}

/*
 * A periodic timer shorter than LAPIC_MIN_PERIOD_NS runs at that period (as KVM's
 * in-kernel APIC does), said once per arming; a one-shot timer is never stretched.
 */
static void test_timer_periodic_floor(void **state)
{
	/* 1 GHz input clock, divide by 1: one count per ns. */
	struct lapic *l = make(0, true, 1000000000, 0);

	(void)state;
	enable(l);
	wr(l, LAPIC_TIMER_DIVIDE, 0xb);
	wr(l, LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | 0x40);
	clk = 1000;
	wr(l, LAPIC_TIMER_INITIAL, 1); /* a 1 ns period asked for */
	assert_int_equal(lapic_timer_next(l), 1000 + LAPIC_MIN_PERIOD_NS);
	assert_int_equal(nwarn, 1);
	assert_non_null(strstr(last_warn, "200 us"));
	/* The count runs down over the whole stretched period. */
	clk = 1000 + LAPIC_MIN_PERIOD_NS / 2;
	assert_true(rd(l, LAPIC_TIMER_CURRENT) <= 1);
	/* A hostile guest sees one interrupt per floor period however late the host is. */
	assert_true(lapic_timer_fire(l, 1000 + 10 * LAPIC_MIN_PERIOD_NS));
	assert_int_equal(lapic_timer_next(l), 1000 + 11 * LAPIC_MIN_PERIOD_NS);
	assert_int_equal(nwarn, 1); /* firing again says nothing more */
	/* Exactly the floor: as asked, no warning. */
	wr(l, LAPIC_TIMER_INITIAL, (uint32_t)LAPIC_MIN_PERIOD_NS);
	assert_int_equal(nwarn, 1);
	/* One-shot, count 1: due after 1 ns, as asked. */
	wr(l, LAPIC_LVT_TIMER, 0x40);
	clk = 5000000;
	wr(l, LAPIC_TIMER_INITIAL, 1);
	assert_int_equal(lapic_timer_next(l), 5000001);
	assert_int_equal(nwarn, 1);
	lapic_destroy(l);
}

/*
 * A divide value written mid-period applies from the next expiry; when it shortens the
 * period so much that the next one is over already, the timer is due after now, not in
 * the past (found by fuzzing: the timer thread would have fired again and again).
 */
static void test_timer_periodic_divide_change(void **state)
{
	/* 100 MHz input clock: 10 ns per tick. */
	struct lapic *l = make(0, true, 100000000, 0);

	(void)state;
	enable(l);
	wr(l, LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | 0x40);
	wr(l, LAPIC_TIMER_DIVIDE, 0xa); /* divide by 128: 1000 counts are 1.28 ms */
	clk = 0;
	wr(l, LAPIC_TIMER_INITIAL, 1000);
	assert_int_equal(lapic_timer_next(l), 1280000);
	wr(l, LAPIC_TIMER_DIVIDE, 0xb); /* divide by 1: 10 us, so the 200 us floor */
	uint64_t now = 1280000 + 500000;
	assert_true(lapic_timer_fire(l, now));
	uint64_t next = lapic_timer_next(l);
	assert_true(next > now);
	assert_true(next - now <= LAPIC_MIN_PERIOD_NS);
	assert_int_equal(next, 1280000 + 3 * LAPIC_MIN_PERIOD_NS); /* on the new period's grid */
	lapic_destroy(l);
}

static void test_timer_tsc_deadline(void **state)
{
	struct lapic *l = make(0, true, 0, 2000000000); /* 2 GHz TSC */
	uint64_t v;

	(void)state;
	enable(l);
	/* One-shot mode: the MSR reads 0 and ignores writes. */
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_TSC_DEADLINE, 5000), LAPIC_OK);
	assert_int_equal(lapic_msr_read(l, LAPIC_MSR_TSC_DEADLINE, &v), LAPIC_OK);
	assert_int_equal(v, 0);
	wr(l, LAPIC_TIMER_INITIAL, 1000);
	assert_int_equal(lapic_timer_next(l), 2000); /* divide by 2 after reset */
	/* Switching to TSC-deadline disarms the count; initial-count writes are ignored. */
	wr(l, LAPIC_LVT_TIMER, LAPIC_TIMER_TSC_DEADLINE | 0x50);
	assert_int_equal(rd(l, LAPIC_LVT_TIMER), LAPIC_TIMER_TSC_DEADLINE | 0x50);
	assert_int_equal(lapic_timer_next(l), LAPIC_TIMER_NONE);
	wr(l, LAPIC_TIMER_INITIAL, 1000);
	assert_int_equal(lapic_timer_next(l), LAPIC_TIMER_NONE);
	assert_int_equal(rd(l, LAPIC_TIMER_CURRENT), 0);
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_TSC_DEADLINE, 4001), LAPIC_OK);
	assert_int_equal(lapic_msr_read(l, LAPIC_MSR_TSC_DEADLINE, &v), LAPIC_OK);
	assert_int_equal(v, 4001);
	assert_int_equal(lapic_timer_next(l), 2001); /* TSC 4001 at 2 GHz: 2000.5 ns, rounded up */
	assert_false(lapic_timer_fire(l, 2000));
	assert_true(lapic_timer_fire(l, 2001));
	assert_int_equal(lapic_accept(l), 0x50);
	/* Fired: disarmed and the MSR cleared. */
	assert_int_equal(lapic_msr_read(l, LAPIC_MSR_TSC_DEADLINE, &v), LAPIC_OK);
	assert_int_equal(v, 0);
	assert_int_equal(lapic_timer_next(l), LAPIC_TIMER_NONE);
	/* A deadline in the past is due at once; leaving the mode disarms it. */
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_TSC_DEADLINE, 10), LAPIC_OK);
	assert_int_equal(lapic_timer_next(l), 5);
	wr(l, LAPIC_LVT_TIMER, 0x50);
	assert_int_equal(lapic_timer_next(l), LAPIC_TIMER_NONE);
	lapic_destroy(l);
	/* Without a TSC frequency there is no TSC-deadline mode and no MSR. */
	l = make(0, true, 0, 0);
	enable(l);
	assert_int_equal(lapic_msr_read(l, LAPIC_MSR_TSC_DEADLINE, &v), LAPIC_GP);
	wr(l, LAPIC_LVT_TIMER, LAPIC_TIMER_TSC_DEADLINE | 0x50);
	assert_int_equal(rd(l, LAPIC_LVT_TIMER), 0x50);
	lapic_destroy(l);
}

static void test_x2apic_msrs(void **state)
{
	struct lapic *l = make(0x123, false, 0, 0);
	uint64_t v;

	(void)state;
	/* x2APIC MSRs do not exist in xAPIC mode; other MSRs are not the APIC's. */
	assert_int_equal(lapic_msr_read(l, 0x802, &v), LAPIC_GP);
	assert_int_equal(lapic_msr_write(l, 0x808, 0), LAPIC_GP);
	assert_int_equal(lapic_msr_read(l, 0x10, &v), LAPIC_UNCLAIMED);
	to_x2apic(l);
	assert_int_equal(lapic_msr_read(l, 0x802, &v), LAPIC_OK);
	assert_int_equal(v, 0x123);
	assert_int_equal(lapic_msr_read(l, 0x80d, &v), LAPIC_OK);
	assert_int_equal(v, (0x12u << 16) | (1u << 3)); /* SDM 10.12.10.2 */
	assert_int_equal(lapic_msr_write(l, 0x80f, 0x1ff), LAPIC_OK);
	assert_int_equal(lapic_msr_write(l, 0x808, 0x20), LAPIC_OK);
	assert_int_equal(lapic_msr_read(l, 0x808, &v), LAPIC_OK);
	assert_int_equal(v, 0x20);

	static const uint32_t gp_reads[] = { 0x80b, 0x83f, 0x809, 0x80c, 0x80e, 0x831, 0x82f,
					     0x801, 0x8ff, 0x840 };
	for (size_t i = 0; i < sizeof(gp_reads) / sizeof(gp_reads[0]); i++)
		assert_int_equal(lapic_msr_read(l, gp_reads[i], &v), LAPIC_GP);
	static const struct { uint32_t msr; uint64_t v; } gp_writes[] = {
		{ 0x802, 0 },          /* ID: read-only          */
		{ 0x803, 0 },          /* version                */
		{ 0x80a, 0 },          /* PPR                    */
		{ 0x80d, 0 },          /* LDR                    */
		{ 0x810, 0 },          /* ISR                    */
		{ 0x839, 0 },          /* current count          */
		{ 0x80e, 0 },          /* DFR: none in x2APIC    */
		{ 0x831, 0 },          /* ICR high: none         */
		{ 0x80b, 1 },          /* EOI: non-zero          */
		{ 0x828, 1 },          /* ESR: non-zero          */
		{ 0x808, 0x100 },      /* TPR reserved bits      */
		{ 0x80f, 0x1000 },     /* SVR bit 12             */
		{ 0x832, 1u << 20 },   /* LVT timer reserved     */
		{ 0x835, 1u << 17 },   /* LINT0 reserved         */
		{ 0x832, 3u << 17 },   /* timer mode 3; no TSC-deadline either */
		{ 0x83e, 0x4 },        /* DCR bit 2              */
		{ 0x83f, 0x100 },      /* self IPI reserved      */
		{ 0x830, 1u << 13 },   /* ICR reserved bit       */
		{ 0x830, 1u << 20 },
		{ 0x808, 1ull << 32 }, /* high half of a 32-bit register */
		{ 0x8f0, 0 },          /* reserved MSR           */
	};
	for (size_t i = 0; i < sizeof(gp_writes) / sizeof(gp_writes[0]); i++)
		assert_int_equal(lapic_msr_write(l, gp_writes[i].msr, gp_writes[i].v), LAPIC_GP);
	assert_int_equal(nsent, 0);
	/* LVT read-only bits written back are not an error. */
	assert_int_equal(lapic_msr_write(l, 0x835, 0x700 | (1u << 12) | (1u << 14)), LAPIC_OK);
	/* The 64-bit ICR: destination in 63:32, sent on the write, read back idle. */
	assert_int_equal(lapic_msr_write(l, 0x830, (0x10023ull << 32) | 0x4840 | (1u << 12)),
			 LAPIC_OK);
	assert_int_equal(nsent, 1);
	assert_true(sent[0].x2apic);
	assert_int_equal(sent[0].dest, 0x10023);
	assert_int_equal(sent[0].vector, 0x40);
	assert_true(sent[0].logical);
	assert_int_equal(lapic_msr_read(l, 0x830, &v), LAPIC_OK);
	assert_int_equal(v, (0x10023ull << 32) | 0x4840);
	/* SELF IPI: fixed to self. */
	assert_int_equal(lapic_msr_write(l, 0x83f, 0x66), LAPIC_OK);
	assert_int_equal(sent[1].shorthand, LAPIC_SH_SELF);
	assert_int_equal(sent[1].vector, 0x66);
	assert_int_equal(sent[1].mode, LAPIC_DM_FIXED);
	/* ESR write-then-read with zero; EOI with zero. */
	assert_int_equal(lapic_msr_write(l, 0x828, 0), LAPIC_OK);
	assert_int_equal(lapic_msr_write(l, 0x80b, 0), LAPIC_OK);
	lapic_destroy(l);
}

static void test_apic_base_transitions(void **state)
{
	struct lapic *l = make(5, false, 0, 0);
	uint64_t v;
	const uint64_t X = LAPIC_DEFAULT_BASE, X2 = X | LAPIC_BASE_EN | LAPIC_BASE_EXTD;

	(void)state;
	enable(l);
	wr(l, LAPIC_TPR, 0x30);
	/* EN = 0, EXTD = 1 is invalid; reserved bits 0-7, 9 and above MAXPHYADDR (39). */
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_APIC_BASE, X | LAPIC_BASE_EXTD), LAPIC_GP);
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_APIC_BASE, X | LAPIC_BASE_EN | 1), LAPIC_GP);
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_APIC_BASE, X | LAPIC_BASE_EN | (1u << 9)),
			 LAPIC_GP);
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_APIC_BASE, (1ull << 39) | LAPIC_BASE_EN),
			 LAPIC_GP);
	assert_int_equal(lapic_mode(l), LAPIC_MODE_XAPIC);
	assert_int_equal(rd(l, LAPIC_TPR), 0x30);
	/* xAPIC -> x2APIC is legal and keeps the state; x2APIC -> xAPIC is not. */
	to_x2apic(l);
	assert_int_equal(lapic_msr_read(l, 0x808, &v), LAPIC_OK);
	assert_int_equal(v, 0x30);
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_APIC_BASE, X | LAPIC_BASE_EN), LAPIC_GP);
	assert_int_equal(lapic_mode(l), LAPIC_MODE_X2APIC);
	/* x2APIC -> disabled resets the APIC; disabled -> x2APIC is illegal. */
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_APIC_BASE, X), LAPIC_OK);
	assert_int_equal(lapic_mode(l), LAPIC_MODE_DISABLED);
	assert_false(lapic_set_irq(l, 0x40, false));
	assert_int_equal(lapic_timer_next(l), LAPIC_TIMER_NONE);
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_APIC_BASE, X2), LAPIC_GP);
	assert_int_equal(lapic_mode(l), LAPIC_MODE_DISABLED);
	/* disabled -> xAPIC, relocated; the BSP flag of an AP cannot be set. */
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_APIC_BASE,
					 0xfed00000 | LAPIC_BASE_EN | LAPIC_BASE_BSP), LAPIC_OK);
	assert_int_equal(lapic_msr_read(l, LAPIC_MSR_APIC_BASE, &v), LAPIC_OK);
	assert_int_equal(v, 0xfed00000 | LAPIC_BASE_EN);
	assert_int_equal(lapic_base(l), 0xfed00000);
	assert_int_equal(rd(l, LAPIC_TPR), 0);
	assert_int_equal(rd(l, LAPIC_SVR), 0xff);
	lapic_destroy(l);
	/* The BSP cannot clear its flag; a CPU without x2APIC cannot set EXTD. */
	l = make(0, true, 0, 0);
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_APIC_BASE, X | LAPIC_BASE_EN), LAPIC_OK);
	assert_int_equal(lapic_msr_read(l, LAPIC_MSR_APIC_BASE, &v), LAPIC_OK);
	assert_int_equal(v, X | LAPIC_BASE_EN | LAPIC_BASE_BSP);
	lapic_destroy(l);
	struct lapic_config c = { .apic_id = 1, .x2apic = false };
	l = lapic_create(&c);
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_APIC_BASE, X2), LAPIC_GP);
	lapic_destroy(l);
}

static void test_init_keeps_id_and_base(void **state)
{
	struct lapic *l = make(0x42, false, 0, 0);
	uint64_t v;

	(void)state;
	enable(l);
	wr(l, LAPIC_TPR, 0x20);
	wr(l, LAPIC_LVT_LINT0, 0x700);
	lapic_set_irq(l, 0x80, false);
	lapic_raise_nmi(l);
	to_x2apic(l);
	lapic_init(l);
	assert_int_equal(lapic_mode(l), LAPIC_MODE_X2APIC);
	assert_int_equal(lapic_msr_read(l, 0x802, &v), LAPIC_OK);
	assert_int_equal(v, 0x42);
	assert_int_equal(lapic_msr_read(l, 0x80d, &v), LAPIC_OK);
	assert_int_equal(v, (4u << 16) | (1u << 2));
	assert_int_equal(lapic_msr_read(l, 0x808, &v), LAPIC_OK);
	assert_int_equal(v, 0);
	assert_int_equal(lapic_msr_read(l, 0x835, &v), LAPIC_OK);
	assert_int_equal(v, LAPIC_LVT_MASKED);
	assert_int_equal(lapic_pending(l), -1);
	assert_false(lapic_take_nmi(l));
	assert_false(lapic_sw_enabled(l));
	lapic_destroy(l);
}


/* ---- snapshots ------------------------------------------------------------------------ */

/* Every register that reads without side effects, in xAPIC mode. */
static const uint32_t dump_offsets[] = {
	LAPIC_ID, LAPIC_VER, LAPIC_TPR, LAPIC_APR, LAPIC_PPR, LAPIC_LDR, LAPIC_DFR, LAPIC_SVR,
	0x100, 0x110, 0x120, 0x130, 0x140, 0x150, 0x160, 0x170,
	0x180, 0x190, 0x1a0, 0x1b0, 0x1c0, 0x1d0, 0x1e0, 0x1f0,
	0x200, 0x210, 0x220, 0x230, 0x240, 0x250, 0x260, 0x270,
	LAPIC_ESR, LAPIC_ICR_LO, LAPIC_ICR_HI, LAPIC_LVT_TIMER, LAPIC_LVT_THERMAL,
	LAPIC_LVT_PERF, LAPIC_LVT_LINT0, LAPIC_LVT_LINT1, LAPIC_LVT_ERROR,
	LAPIC_TIMER_INITIAL, LAPIC_TIMER_CURRENT, LAPIC_TIMER_DIVIDE,
};
#define NDUMP (sizeof(dump_offsets) / sizeof(dump_offsets[0]))

static void dump(struct lapic *l, uint32_t out[NDUMP])
{
	for (size_t i = 0; i < NDUMP; i++)
		out[i] = rd(l, dump_offsets[i]);
}

static struct snap_enc save_of(const struct lapic *l)
{
	struct snap_enc e = { 0 };

	lapic_save(l, &e);
	assert_false(e.oom);
	return e;
}

/* lapic_load over `n` bytes; it must consume all of them when it succeeds. */
static int load_of(struct lapic *l, const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct snap_dec d;

	snap_dec_init(&d, p, n);
	int r = lapic_load(l, &d, err, errlen);
	if (r == 0)
		assert_true(snap_dec_done(&d));
	return r;
}

/*
 * An APIC with something in every register: pending and in-service vectors, a level
 * vector in the TMR, a logged error, an NMI and a one-shot timer 3000 ns into its period.
 */
static struct lapic *busy_apic(void)
{
	struct lapic *l = make(3, false, 0, 0);

	enable(l);
	wr(l, LAPIC_TPR, 0x20);
	wr(l, LAPIC_LDR, 0x05000000);
	wr(l, LAPIC_DFR, 0x0fffffff);
	wr(l, LAPIC_LVT_LINT0, 0x700);
	wr(l, LAPIC_LVT_ERROR, 0x3e);
	wr(l, LAPIC_ICR_HI, 0x07000000);
	assert_true(lapic_set_irq(l, 0x62, true));
	assert_int_equal(lapic_accept(l), 0x62);
	assert_true(lapic_set_irq(l, 0x51, false));
	assert_true(lapic_set_irq(l, 0x71, false));
	wr(l, 0x3a0, 1); /* a reserved register: ESR bit 7 pending, vector 0x3e raised */
	lapic_raise_nmi(l);
	wr(l, LAPIC_LVT_TIMER, 0x30);
	wr(l, LAPIC_TIMER_DIVIDE, 0x3); /* divide by 16 */
	clk = 1000;
	wr(l, LAPIC_TIMER_INITIAL, 500); /* due at 1000 + 8000 */
	clk = 4000;
	return l;
}

static void test_snapshot_round_trip(void **state)
{
	uint32_t a[NDUMP], b[NDUMP];
	char err[200] = "";

	(void)state;
	struct lapic *l = busy_apic();
	struct snap_enc e = save_of(l);
	dump(l, a);
	struct lapic *n = make(3, false, 0, 0);
	clk = 4000;
	assert_int_equal(load_of(n, e.buf, e.len, err, sizeof(err)), 0);
	dump(n, b);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(lapic_base(n), LAPIC_DEFAULT_BASE);
	assert_int_equal(lapic_timer_next(n), 9000);
	assert_true(lapic_nmi_pending(n));
	/* Both go on identically: the same interrupts in the same order, the timer on time. */
	for (struct lapic *x = l;; x = n) {
		assert_int_equal(lapic_pending(x), 0x71);
		assert_int_equal(lapic_accept(x), 0x71);
		wr(x, LAPIC_EOI, 0);
		assert_true(isr_has(x, 0x62)); /* in service since before the save */
		assert_int_equal(lapic_pending(x), -1);
		assert_true(rd(x, LAPIC_TMR + 0x30) & (1u << 2)); /* level-triggered */
		wr(x, LAPIC_EOI, 0);
		assert_int_equal(lapic_accept(x), 0x51);
		wr(x, LAPIC_EOI, 0);
		assert_int_equal(lapic_accept(x), 0x3e);
		wr(x, LAPIC_EOI, 0);
		assert_false(lapic_timer_fire(x, 8999));
		assert_true(lapic_timer_fire(x, 9000));
		assert_int_equal(lapic_accept(x), 0x30);
		if (x == n)
			break;
	}
	lapic_destroy(n);
	/* Under a clock that started elsewhere, the timer is as far into its period. */
	n = make(3, false, 0, 0);
	clk = 1000000;
	assert_int_equal(load_of(n, e.buf, e.len, err, sizeof(err)), 0);
	assert_int_equal(lapic_timer_next(n), 1000000 + 5000);
	assert_int_equal(rd(n, LAPIC_TIMER_CURRENT), 313); /* 3000 ns in: 187 counts of 16 ns */
	lapic_destroy(n);
	lapic_destroy(l);
	snap_enc_free(&e);
}

/* A CPU with its own TSC (KVM's), here 1,000,000 ticks ahead of the clock's count. */
static uint64_t cpu_tsc;
static uint32_t cpu_tsc_asked;

static uint64_t own_tsc(void *ctx, uint32_t cpu)
{
	(void)ctx;
	assert_int_equal(cpu, 3);
	cpu_tsc_asked++;
	return cpu_tsc;
}

static struct lapic *make_own_tsc(uint64_t tsc_hz)
{
	struct lapic_config c = {
		.cpu = 3, .apic_id = 0, .bsp = true, .x2apic = true, .phys_bits = 39,
		.tsc_hz = tsc_hz, .now_ns = fake_now, .tsc_now = own_tsc,
		.send = capture_send, .warn = count_warn,
	};
	struct lapic *l = lapic_create(&c);
	assert_non_null(l);
	cpu_tsc_asked = 0;
	return l;
}

/*
 * The deadline is a distance from the CPU's TSC when it is written, laid on the clock: the
 * clock's own count (now * tsc_hz) never decides it, so an offset between the two does not
 * move the interrupt.
 */
static void test_timer_tsc_deadline_own_tsc(void **state)
{
	char err[200] = "";
	uint64_t v;

	(void)state;
	clk = 1000;
	struct lapic *l = make_own_tsc(2000000000); /* 2 GHz */
	enable(l);
	wr(l, LAPIC_LVT_TIMER, LAPIC_TIMER_TSC_DEADLINE | 0x50);
	cpu_tsc = 1000000;
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_TSC_DEADLINE, 1004001), LAPIC_OK);
	assert_int_equal(cpu_tsc_asked, 1);
	assert_int_equal(lapic_timer_next(l), 1000 + 2001); /* 4001 ticks: 2000.5 ns, up */
	assert_int_equal(lapic_msr_read(l, LAPIC_MSR_TSC_DEADLINE, &v), LAPIC_OK);
	assert_int_equal(v, 1004001);
	clk = 3000;
	assert_false(lapic_timer_fire(l, clk));
	clk = 3001;
	assert_true(lapic_timer_fire(l, clk));
	assert_int_equal(lapic_msr_read(l, LAPIC_MSR_TSC_DEADLINE, &v), LAPIC_OK);
	assert_int_equal(v, 0);
	/* Already passed on the CPU's TSC: due now, whatever the clock's count says. */
	cpu_tsc = 5000000;
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_TSC_DEADLINE, 4999999), LAPIC_OK);
	assert_int_equal(lapic_timer_next(l), 3001);
	/* A snapshot: 2000 ticks ahead at the save, laid on the loading CPU's TSC. */
	cpu_tsc = 6000000;
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_TSC_DEADLINE, 6002000), LAPIC_OK);
	struct snap_enc e = save_of(l);
	clk = 50000;
	struct lapic *n = make_own_tsc(2000000000);
	cpu_tsc = 77000000;
	assert_int_equal(load_of(n, e.buf, e.len, err, sizeof(err)), 0);
	assert_int_equal(cpu_tsc_asked, 1);
	assert_int_equal(lapic_msr_read(n, LAPIC_MSR_TSC_DEADLINE, &v), LAPIC_OK);
	assert_int_equal(v, 77002000);
	assert_int_equal(lapic_timer_next(n), 50000 + 1000);
	lapic_destroy(n);
	lapic_destroy(l);
	snap_enc_free(&e);
}

/*
 * A TSC deadline 2^63 ticks or more ahead (any value a guest may write) is still ahead after
 * a snapshot, not read back as one already passed (which fired at once: found by fuzzing).
 */
static void test_snapshot_far_deadline(void **state)
{
	char err[200] = "";
	uint64_t v;

	(void)state;
	clk = 1000;
	struct lapic *l = make_own_tsc(2000000000);
	enable(l);
	wr(l, LAPIC_LVT_TIMER, LAPIC_TIMER_TSC_DEADLINE | 0x50);
	cpu_tsc = 1000000;
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_TSC_DEADLINE, UINT64_MAX - 5), LAPIC_OK);
	uint64_t due = lapic_timer_next(l);
	assert_true(due > clk + 1000000000000ull); /* centuries away */
	struct snap_enc e = save_of(l);
	struct lapic *n = make_own_tsc(2000000000);
	assert_int_equal(load_of(n, e.buf, e.len, err, sizeof(err)), 0);
	assert_true(lapic_timer_next(n) > clk + 1000000000000ull);
	assert_false(lapic_timer_fire(n, clk + 1000000));
	assert_int_equal(lapic_msr_read(n, LAPIC_MSR_TSC_DEADLINE, &v), LAPIC_OK);
	assert_true(v > cpu_tsc + (1ull << 62));
	lapic_destroy(n);
	lapic_destroy(l);
	snap_enc_free(&e);
}

static void test_snapshot_tsc_deadline_and_periodic(void **state)
{
	char err[200] = "";
	uint64_t v;

	(void)state;
	struct lapic *l = make(0, true, 0, 2000000000); /* 2 GHz TSC */
	enable(l);
	wr(l, LAPIC_LVT_TIMER, LAPIC_TIMER_TSC_DEADLINE | 0x50);
	clk = 1000; /* TSC 2000 */
	assert_int_equal(lapic_msr_write(l, LAPIC_MSR_TSC_DEADLINE, 4000), LAPIC_OK);
	struct snap_enc e = save_of(l);
	struct lapic *n = make(0, true, 0, 2000000000);
	clk = 1000;
	assert_int_equal(load_of(n, e.buf, e.len, err, sizeof(err)), 0);
	assert_int_equal(lapic_msr_read(n, LAPIC_MSR_TSC_DEADLINE, &v), LAPIC_OK);
	assert_int_equal(v, 4000);
	assert_int_equal(lapic_timer_next(n), 2000);
	lapic_destroy(n);
	/* 2000 ticks ahead of a clock at 5000 ns (TSC 10000). */
	n = make(0, true, 0, 2000000000);
	clk = 5000;
	assert_int_equal(load_of(n, e.buf, e.len, err, sizeof(err)), 0);
	assert_int_equal(lapic_msr_read(n, LAPIC_MSR_TSC_DEADLINE, &v), LAPIC_OK);
	assert_int_equal(v, 12000);
	assert_int_equal(lapic_timer_next(n), 6000);
	lapic_destroy(n);
	/* Into an APIC without TSC-deadline mode: refused. */
	n = make(0, true, 0, 0);
	assert_int_equal(load_of(n, e.buf, e.len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "LVT entry 0")); /* TSC-deadline mode: not here */
	lapic_destroy(n);
	lapic_destroy(l);
	snap_enc_free(&e);

	/* Periodic, due but not yet fired at the save: it fires once after the load. */
	l = make(0, true, 0, 0);
	enable(l);
	wr(l, LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | 0x40);
	wr(l, LAPIC_TIMER_DIVIDE, 0xb); /* divide by 1 */
	clk = 100000;
	wr(l, LAPIC_TIMER_INITIAL, 1000000); /* 1 ms */
	clk = 1500000;
	e = save_of(l);
	n = make(0, true, 0, 0);
	clk = 1500000;
	assert_int_equal(load_of(n, e.buf, e.len, err, sizeof(err)), 0);
	assert_int_equal(lapic_timer_next(n), 1100000);
	assert_true(lapic_timer_fire(n, 1500000));
	assert_int_equal(lapic_timer_next(n), 2100000);
	assert_int_equal(lapic_accept(n), 0x40);
	lapic_destroy(n);
	lapic_destroy(l);
	snap_enc_free(&e);
}

/* Damaged payloads: refused with a reason, and the APIC left exactly as it was. */
static void test_snapshot_refused(void **state)
{
	uint32_t before[NDUMP], after[NDUMP];
	char err[200];

	(void)state;
	struct lapic *l = busy_apic();
	struct snap_enc e = save_of(l);
	struct lapic *n = make(3, false, 0, 0);
	clk = 4000;
	dump(n, before);
	for (size_t len = 0; len < e.len; len++) {
		err[0] = 0;
		assert_int_equal(load_of(n, e.buf, len, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "truncated"));
	}
	dump(n, after);
	assert_memory_equal(before, after, sizeof(before));

	/* Each byte flipped: loaded or refused, never more; a refusal changes nothing. */
	uint8_t *copy = malloc(e.len);
	assert_non_null(copy);
	for (size_t i = 0; i < e.len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			struct lapic *t = make(3, false, 0, 0);
			uint32_t t0[NDUMP], t1[NDUMP];
			clk = 4000;
			dump(t, t0);
			memcpy(copy, e.buf, e.len);
			copy[i] ^= (uint8_t)(1u << bit);
			if (load_of(t, copy, e.len, err, sizeof(err)) < 0) {
				dump(t, t1);
				assert_memory_equal(t0, t1, sizeof(t0));
			}
			lapic_destroy(t);
		}
	}

	/* What the checks name (offsets: version 0, ID 4, base 8, IRR 93, SVR 25). */
	static const struct { size_t off; uint8_t x; const char *what; } cases[] = {
		{ 0, 0x02, "version" },
		{ 4, 0x01, "APIC ID" },
		{ 9, 0x01, "BSP flag" },        /* IA32_APIC_BASE bit 8 on an AP */
		{ 8, 0x01, "IA32_APIC_BASE" },  /* a reserved bit */
		{ 93, 0x20, "vectors 0-15" },   /* vector 5 pending */
		{ 26, 0x10, "reserved bits" },  /* SVR bit 12 */
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		memcpy(copy, e.buf, e.len);
		copy[cases[c].off] ^= cases[c].x;
		err[0] = 0;
		assert_int_equal(load_of(n, copy, e.len, err, sizeof(err)), -1);
		if (!strstr(err, cases[c].what))
			fail_msg("case %zu: \"%s\" does not name %s", c, err, cases[c].what);
	}
	/* Another APIC ID: refused. */
	struct lapic *other = make(4, false, 0, 0);
	assert_int_equal(load_of(other, e.buf, e.len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "APIC ID"));
	lapic_destroy(other);
	free(copy);
	lapic_destroy(n);
	lapic_destroy(l);
	snap_enc_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_values),
		cmocka_unit_test(test_priority_and_eoi_order),
		cmocka_unit_test(test_apr),
		cmocka_unit_test(test_software_disable),
		cmocka_unit_test(test_esr),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_mmio_access_rules),
		cmocka_unit_test(test_icr_xapic),
		cmocka_unit_test(test_timer_one_shot_divides),
		cmocka_unit_test(test_timer_periodic),
		cmocka_unit_test(test_timer_periodic_floor),
		cmocka_unit_test(test_timer_periodic_divide_change),
		cmocka_unit_test(test_timer_tsc_deadline),
		cmocka_unit_test(test_x2apic_msrs),
		cmocka_unit_test(test_apic_base_transitions),
		cmocka_unit_test(test_init_keeps_id_and_base),
		cmocka_unit_test(test_snapshot_round_trip),
		cmocka_unit_test(test_snapshot_tsc_deadline_and_periodic),
		cmocka_unit_test(test_snapshot_far_deadline),
		cmocka_unit_test(test_timer_tsc_deadline_own_tsc),
		cmocka_unit_test(test_snapshot_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
