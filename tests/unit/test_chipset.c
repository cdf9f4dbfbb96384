/*
 * test_chipset.c - the PC's interrupt controllers as mpvmm wires them, through the buses as a
 * guest reaches them: ISA IRQ n on the 8259A and I/O APIC pin n, the timer on pin 2, the PIT's
 * counter 0 driving both on a fake clock, messages and INTR out, routes when an entry
 * changes, the EOI broadcast in, the ports and page it claims, and snapshots: all three
 * models mid-interrupt saved and loaded into another machine on another clock, which drives
 * its outputs as loaded and goes on the same; every truncation, trailing bytes and a bad field
 * in the last model refused with nothing changed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bus_io.h"
#include "dev/bus.h"
#include "dev/chipset.h"
#include "snapshot/snapfile.h"

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
	struct chipset *ic;
};

static struct rig make(void)
{
	struct rig r = { bus_create("I/O port"), bus_create("MMIO"), NULL };
	const struct chipset_config c = {
		.pio = r.pio, .mmio = r.mmio, .ioapic_id = 3, .now_ns = fake_now,
		.msi = on_msi, .intr = on_intr, .routes = on_routes, .timer_changed = on_timer,
	};

	clk = 1000;
	nmsi = nroutes = ntimer = 0;
	intr = false;
	r.ic = chipset_create(&c);
	assert_non_null(r.ic);
	return r;
}

static void destroy(struct rig *r)
{
	chipset_destroy(r->ic);
	bus_destroy(r->pio);
	bus_destroy(r->mmio);
}

static void mmio32(struct rig *r, uint32_t off, bool write, uint32_t *v)
{
	uint8_t data[4];

	memcpy(data, v, 4);
	struct bus_access a = { .addr = CHIPSET_IOAPIC_ADDR + off, .size = 4, .write = write,
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
	chipset_set_irq(r.ic, 4, true);
	assert_int_equal(nmsi, 1);
	assert_int_equal(msis[0].data, 0x4034u);
	assert_true(intr);
	assert_int_equal(chipset_ack(r.ic), 4); /* vector base 0 before any ICW2 */
	chipset_set_irq(r.ic, 4, false);
	/* IRQ 0 goes to pin 2, not pin 0; pins 16-23 only to the I/O APIC. */
	rte(&r, 2, 0x20);
	rte(&r, 0, 0x2f);
	struct irq_line line = chipset_line(r.ic);
	irq_pulse(&line, 0);
	assert_int_equal(nmsi, 2);
	assert_int_equal(msis[1].data & 0xff, 0x20);
	rte(&r, 20, 0x60 | (1ull << 15));
	chipset_set_irq(r.ic, 20, true);
	assert_int_equal(nmsi, 3);
	assert_int_equal(msis[2].data, 0xc060u);
	/* Level: in service until the EOI; the line still high sends again. */
	chipset_set_irq(r.ic, 20, true);
	assert_int_equal(nmsi, 3);
	chipset_eoi(r.ic, 0x60);
	assert_int_equal(nmsi, 4);
	struct ioapic_msi now[IOAPIC_PINS];
	chipset_routes(r.ic, now);
	assert_int_equal(now[20].data, 0xc060u);
	destroy(&r);
}

static void test_pit_drives_irq0(void **state)
{
	(void)state;
	struct rig r = make();

	rte(&r, 2, 0x30);
	io(r.pio, 0x21, true, 1, 0xff); /* the 8259A out of the way */
	assert_int_equal(chipset_next_event(r.ic), CHIPSET_NO_EVENT);
	io(r.pio, 0x43, true, 1, 0x34); /* counter 0, LSB then MSB, mode 2 */
	io(r.pio, 0x40, true, 1, 0xa9);
	assert_int_equal(ntimer, 0);    /* half a count: nothing to wait for yet */
	io(r.pio, 0x40, true, 1, 0x04); /* 1193: about 1 ms */
	assert_int_equal(ntimer, 1);
	uint64_t t = chipset_next_event(r.ic);
	assert_true(t > clk && t - clk > 999000 && t - clk < 1001000);
	chipset_advance(r.ic, t - 1);
	assert_int_equal(nmsi, 0);
	chipset_advance(r.ic, t);
	assert_int_equal(nmsi, 1);
	assert_int_equal(msis[0].data & 0xff, 0x30);
	assert_true(chipset_next_event(r.ic) > t);
	destroy(&r);
}

/*
 * IRQ 4 pending at the 8259A (INTR high), pin 20 level-triggered awaiting its EOI with its
 * line high, the PIT's counter 0 in mode 2 (about 1 ms) on pin 2 with vector 0x30.
 */
static struct rig busy(void)
{
	struct rig r = make();

	rte(&r, 2, 0x30);
	rte(&r, 20, 0x60 | (1ull << 15));
	io(r.pio, 0x21, true, 1, 0xef);
	io(r.pio, 0x43, true, 1, 0x34);
	io(r.pio, 0x40, true, 1, 0xa9);
	io(r.pio, 0x40, true, 1, 0x04);
	chipset_set_irq(r.ic, 20, true);
	chipset_set_irq(r.ic, 4, true);
	assert_int_equal(nmsi, 1);
	assert_true(intr);
	clk += 300000;
	return r;
}

static void save(struct rig *r, struct snap_enc *e)
{
	*e = (struct snap_enc){ 0 };
	assert_int_equal(chipset_save(r->ic, e), 0);
}

static void test_snapshot_round_trip(void **state)
{
	(void)state;
	struct rig a = busy();
	struct snap_enc e;
	struct snap_dec d;
	char err[160] = "";

	save(&a, &e);
	uint64_t ahead = chipset_next_event(a.ic) - clk;
	destroy(&a);
	struct rig b = make();
	clk = 5000000000ull; /* a restored machine's clock */
	snap_dec_init(&d, e.buf, e.len);
	assert_int_equal(chipset_load(b.ic, &d, err, sizeof(err)), 0);
	/* The owner heard the loaded state: INTR, every route, the timer; nothing was sent. */
	assert_true(intr);
	assert_int_equal(nroutes, 1);
	assert_int_equal(routes[20].data, 0xc060u);
	assert_int_equal(routes[2].data & 0xff, 0x30);
	assert_int_equal(ntimer, 1);
	assert_int_equal(nmsi, 0);
	assert_int_equal(chipset_next_event(b.ic) - clk, ahead);
	/* It goes on: the 8259A answers IRQ 4, the EOI resends pin 20, the PIT ticks on pin 2. */
	assert_int_equal(chipset_ack(b.ic), 4);
	chipset_eoi(b.ic, 0x60);
	assert_int_equal(nmsi, 1);
	assert_int_equal(msis[0].data, 0xc060u);
	clk += ahead;
	chipset_advance(b.ic, clk);
	assert_int_equal(nmsi, 2);
	assert_int_equal(msis[1].data & 0xff, 0x30);
	snap_enc_free(&e);
	destroy(&b);
}

static void refuse(struct rig *r, const uint8_t *buf, size_t len, const char *why)
{
	struct snap_dec d;
	char err[160] = "";

	snap_dec_init(&d, buf, len);
	assert_int_equal(chipset_load(r->ic, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, why));
}

static void test_snapshot_refused(void **state)
{
	(void)state;
	struct rig a = busy();
	struct snap_enc e, before, after;

	save(&a, &e);
	destroy(&a);
	struct rig b = make();
	rte(&b, 5, 0x55);
	io(b.pio, 0xa1, true, 1, 0x0f);
	save(&b, &before);
	unsigned heard = nroutes + ntimer + nmsi;
	for (size_t len = 0; len < e.len; len++)
		refuse(&b, e.buf, len, "state");
	snap_enc_u8(&e, 0);
	refuse(&b, e.buf, e.len, "1 bytes too many");
	e.len--;
	e.buf[e.len - 1] = 2; /* the PIT's speaker flag, the last field */
	refuse(&b, e.buf, e.len, "8254 PIT state: speaker");
	e.buf[e.len - 1] = 0;
	e.buf[0] = 3;
	refuse(&b, e.buf, e.len, "version 3");
	assert_int_equal(nroutes + ntimer + nmsi, heard);
	save(&b, &after);
	assert_int_equal(after.len, before.len);
	assert_memory_equal(after.buf, before.buf, after.len);
	snap_enc_free(&e);
	snap_enc_free(&before);
	snap_enc_free(&after);
	destroy(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_claims),
		cmocka_unit_test(test_isa_wiring),
		cmocka_unit_test(test_pit_drives_irq0),
		cmocka_unit_test(test_snapshot_round_trip),
		cmocka_unit_test(test_snapshot_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
