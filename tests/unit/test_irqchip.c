/*
 * test_irqchip.c - the PC's interrupt controllers as mpvmm wires them, through the buses as a
 * guest reaches them: ISA IRQ n on the 8259A and I/O APIC pin n, the timer on pin 2, the PIT's
 * counter 0 driving both on a fake clock, messages and INTR out, routes when an entry
 * changes, the EOI broadcast in, and the ports and page it claims.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bus_io.h"
#include "dev/bus.h"
#include "dev/irqchip.h"

static uint64_t clk;
static struct ioapic_msi msis[8];
static unsigned nmsi, nroutes, ntimer;
static bool intr;
static struct ioapic_msi routes[IOAPIC_PINS];

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return clk;
}

static void on_msi(void *ctx, const struct ioapic_msi *m)
{
	(void)ctx;
	if (nmsi < 8)
		msis[nmsi] = *m;
	nmsi++;
}

static void on_intr(void *ctx, bool level)
{
	(void)ctx;
	intr = level;
}

static void on_routes(void *ctx, const struct ioapic_msi m[IOAPIC_PINS])
{
	(void)ctx;
	memcpy(routes, m, sizeof(routes));
	nroutes++;
}

static void on_timer(void *ctx)
{
	(void)ctx;
	ntimer++;
}

struct rig {
	struct bus *pio, *mmio;
	struct irqchip *ic;
};

static struct rig make(void)
{
	struct rig r = { bus_create("I/O port"), bus_create("MMIO"), NULL };
	const struct irqchip_config c = {
		.pio = r.pio, .mmio = r.mmio, .ioapic_id = 3, .now_ns = fake_now,
		.msi = on_msi, .intr = on_intr, .routes = on_routes, .timer_changed = on_timer,
	};

	clk = 1000;
	nmsi = nroutes = ntimer = 0;
	intr = false;
	r.ic = irqchip_create(&c);
	assert_non_null(r.ic);
	return r;
}

static void destroy(struct rig *r)
{
	irqchip_destroy(r->ic);
	bus_destroy(r->pio);
	bus_destroy(r->mmio);
}

static void mmio32(struct rig *r, uint32_t off, bool write, uint32_t *v)
{
	uint8_t data[4];

	memcpy(data, v, 4);
	struct bus_access a = { .addr = IRQCHIP_IOAPIC_ADDR + off, .size = 4, .write = write,
				.data = data };
	assert_true(bus_dispatch(r->mmio, &a));
	memcpy(v, data, 4);
}

static void rte(struct rig *r, unsigned pin, uint64_t v)
{
	uint32_t sel = 0x11 + 2 * pin, hi = (uint32_t)(v >> 32), lo = (uint32_t)v;

	mmio32(r, IOAPIC_IOREGSEL, true, &sel);
	mmio32(r, IOAPIC_IOWIN, true, &hi);
	sel--;
	mmio32(r, IOAPIC_IOREGSEL, true, &sel);
	mmio32(r, IOAPIC_IOWIN, true, &lo);
}

static void test_claims(void **state)
{
	(void)state;
	struct rig r = make();
	uint32_t v = 1; /* the version register through IOREGSEL/IOWIN */

	mmio32(&r, IOAPIC_IOREGSEL, true, &v);
	mmio32(&r, IOAPIC_IOWIN, false, &v);
	assert_int_equal(v, 0x00170020u);
	/* 8259A IMR, ELCR, PIT control and port B answer; their neighbours are not ours. */
	io(r.pio, 0x21, true, 1, 0x5a);
	assert_int_equal(io(r.pio, 0x21, false, 1, 0), 0x5a);
	io(r.pio, 0x4d1, true, 1, 0x40); /* IRQ 14 level-triggered */
	assert_int_equal(io(r.pio, 0x4d1, false, 1, 0), 0x40);
	assert_int_equal(io(r.pio, 0x61, false, 1, 0) & 0x03, 0); /* gate 2 low, speaker off */
	assert_int_equal(bus_unclaimed(r.pio), 0);
	io(r.pio, 0x22, false, 1, 0);
	assert_int_equal(bus_unclaimed(r.pio), 1);
	destroy(&r);
}

static void test_isa_wiring(void **state)
{
	(void)state;
	struct rig r = make();

	/* IRQ 4 on pin 4, edge; the 8259A (IMR clear at power-up) raises INTR too. */
	rte(&r, 4, 0x34 | (1ull << 56));
	assert_int_equal(nroutes, 2); /* each half changed the message */
	assert_int_equal(routes[4].data, 0x4034u);
	assert_int_equal(routes[4].address, 0xfee01000u);
	irqchip_set_irq(r.ic, 4, true);
	assert_int_equal(nmsi, 1);
	assert_int_equal(msis[0].data, 0x4034u);
	assert_true(intr);
	assert_int_equal(irqchip_ack(r.ic), 4); /* vector base 0 before any ICW2 */
	irqchip_set_irq(r.ic, 4, false);
	/* IRQ 0 goes to pin 2, not pin 0; pins 16-23 only to the I/O APIC. */
	rte(&r, 2, 0x20);
	rte(&r, 0, 0x2f);
	struct irq_line line = irqchip_line(r.ic);
	irq_pulse(&line, 0);
	assert_int_equal(nmsi, 2);
	assert_int_equal(msis[1].data & 0xff, 0x20);
	rte(&r, 20, 0x60 | (1ull << 15));
	irqchip_set_irq(r.ic, 20, true);
	assert_int_equal(nmsi, 3);
	assert_int_equal(msis[2].data, 0xc060u);
	/* Level: in service until the EOI; the line still high sends again. */
	irqchip_set_irq(r.ic, 20, true);
	assert_int_equal(nmsi, 3);
	irqchip_eoi(r.ic, 0x60);
	assert_int_equal(nmsi, 4);
	struct ioapic_msi now[IOAPIC_PINS];
	irqchip_routes(r.ic, now);
	assert_int_equal(now[20].data, 0xc060u);
	destroy(&r);
}

static void test_pit_drives_irq0(void **state)
{
	(void)state;
	struct rig r = make();

	rte(&r, 2, 0x30);
	io(r.pio, 0x21, true, 1, 0xff); /* the 8259A out of the way */
	assert_int_equal(irqchip_next_event(r.ic), IRQCHIP_NO_EVENT);
	io(r.pio, 0x43, true, 1, 0x34); /* counter 0, LSB then MSB, mode 2 */
	io(r.pio, 0x40, true, 1, 0xa9);
	assert_int_equal(ntimer, 0);    /* half a count: nothing to wait for yet */
	io(r.pio, 0x40, true, 1, 0x04); /* 1193: about 1 ms */
	assert_int_equal(ntimer, 1);
	uint64_t t = irqchip_next_event(r.ic);
	assert_true(t > clk && t - clk > 999000 && t - clk < 1001000);
	irqchip_advance(r.ic, t - 1);
	assert_int_equal(nmsi, 0);
	irqchip_advance(r.ic, t);
	assert_int_equal(nmsi, 1);
	assert_int_equal(msis[0].data & 0xff, 0x30);
	assert_true(irqchip_next_event(r.ic) > t);
	destroy(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_isa_wiring),
		cmocka_unit_test(test_pit_drives_irq0),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
