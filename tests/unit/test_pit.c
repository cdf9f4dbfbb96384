/*
 * test_pit.c - the 8254 on a hand-driven clock: counter 0 in modes 2 and 3 (periodic IRQ 0
 * edges, coalesced when late, the minimum period), mode 0 and 4 (one edge), reading the
 * count live, latched and through read-back with status, BCD, counter 2 as Linux calibrates
 * with it through port 0x61 (gate, OUT), gate semantics of modes 0 and 1, mistakes, and
 * snapshots (counters mid-count, mid-latch and with a status latched, saved and loaded into
 * a PIT on another clock, which goes on the same relative to it; every truncation and bad
 * fields refused, leaving the PIT as it was).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/pit.h"
#include "snapshot/snapfile.h"

static uint64_t clk;
static bool out_level;
static unsigned rises, falls, nwarn;

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return clk;
}

static void capture_out(void *ctx, bool level)
{
	(void)ctx;
	assert_true(level != out_level);
	out_level = level;
	if (level)
		rises++;
	else
		falls++;
}

static void count_warn(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
	nwarn++;
}

static struct pit *make(void)
{
	const struct pit_config c = { .now_ns = fake_now, .out = capture_out, .warn = count_warn };

	clk = 1000000000ull; /* not 0: a clock that started long ago */
	out_level = true;    /* OUT is high before any programming */
	rises = falls = nwarn = 0;
	struct pit *p = pit_create(&c);
	assert_non_null(p);
	return p;
}

/* ns for `ticks` input clocks, rounded up (when the counter has seen them). */
static uint64_t ns(uint64_t ticks)
{
	return (ticks * 1000000000ull + PIT_HZ - 1) / PIT_HZ;
}

static void program(struct pit *p, unsigned ch, uint8_t cw_mode_bits, uint16_t count)
{
	pit_io_write(p, PIT_PORT_CONTROL, (uint8_t)((ch << 6) | 0x30 | cw_mode_bits));
	pit_io_write(p, (uint16_t)(PIT_PORT_COUNTER0 + ch), (uint8_t)count);
	pit_io_write(p, (uint16_t)(PIT_PORT_COUNTER0 + ch), (uint8_t)(count >> 8));
}

static uint16_t read_lohi(struct pit *p, unsigned ch)
{
	uint8_t lo = pit_io_read(p, (uint16_t)(PIT_PORT_COUNTER0 + ch));
	uint8_t hi = pit_io_read(p, (uint16_t)(PIT_PORT_COUNTER0 + ch));

	return (uint16_t)(lo | hi << 8);
}

static uint8_t status(struct pit *p, unsigned ch)
{
	pit_io_write(p, PIT_PORT_CONTROL, (uint8_t)(0xe0 | (2u << ch))); /* read-back status */
	return pit_io_read(p, (uint16_t)(PIT_PORT_COUNTER0 + ch));
}

static void test_nothing_programmed(void **state)
{
	(void)state;
	struct pit *p = make();

	assert_int_equal(pit_next_event_ns(p), PIT_NO_EVENT);
	clk += 1000000000ull;
	pit_advance(p, clk);
	assert_int_equal(rises + falls, 0);
	pit_destroy(p);
}

static void test_mode2_periodic(void **state)
{
	(void)state;
	struct pit *p = make();
	uint64_t t0 = clk;

	program(p, 0, 2 << 1, 1193); /* about 1 ms, as Linux's PIT clockevent (HZ=1000) */
	assert_int_equal(rises + falls, 0); /* OUT stays high in mode 2 */
	assert_int_equal(pit_next_event_ns(p), t0 + ns(1193));
	pit_advance(p, t0 + ns(1193) - 1);
	assert_int_equal(rises, 0);
	clk = t0 + ns(1193);
	pit_advance(p, clk);
	assert_int_equal(rises, 1);
	assert_int_equal(falls, 1);
	assert_true(out_level);
	assert_int_equal(pit_next_event_ns(p), t0 + ns(2 * 1193));
	/* Late by many periods: one edge, then the next period after now. */
	clk = t0 + ns(10 * 1193) + 5;
	pit_advance(p, clk);
	assert_int_equal(rises, 2);
	assert_int_equal(pit_next_event_ns(p), t0 + ns(11 * 1193));
	/* The count runs n..1. */
	clk = t0 + ns(11 * 1193 + 100);
	assert_int_equal(read_lohi(p, 0), 1193 - 100);
	/* OUT low only at count 1. */
	clk = t0 + ns(12 * 1193 - 1);
	assert_int_equal(status(p, 0) & 0x80, 0);
	clk = t0 + ns(12 * 1193);
	assert_int_equal(status(p, 0) & 0x80, 0x80);
	assert_int_equal(nwarn, 0);
	pit_destroy(p);
}

static void test_mode3_square_wave(void **state)
{
	(void)state;
	struct pit *p = make();
	uint64_t t0 = clk;

	program(p, 0, 3 << 1, 0); /* 0 = 65536: the BIOS's 18.2 Hz */
	assert_int_equal(pit_next_event_ns(p), t0 + ns(65536));
	clk = t0 + ns(100);
	assert_int_equal(status(p, 0), 0x80 | 0x30 | (3 << 1)); /* OUT high, lohi, mode 3 */
	clk = t0 + ns(32768);
	assert_int_equal(status(p, 0) & 0x80, 0);
	/* Mode 3 counts down by two. */
	clk = t0 + ns(1000);
	assert_int_equal(read_lohi(p, 0), (uint16_t)(65536 - 2000));
	clk = t0 + ns(65536);
	pit_advance(p, clk);
	assert_int_equal(rises, 1);
	/* Control words 6 and 7 are modes 2 and 3. */
	pit_io_write(p, PIT_PORT_CONTROL, 0x3e);
	clk += 1;
	assert_int_equal(status(p, 0), 0x80 | 0x40 | 0x30 | (3 << 1)); /* null count: no count */
	pit_destroy(p);
}

static void test_mode0_one_shot(void **state)
{
	(void)state;
	struct pit *p = make();
	uint64_t t0 = clk;

	pit_io_write(p, PIT_PORT_CONTROL, 0x30);
	assert_false(out_level); /* mode 0: OUT low from the control word */
	assert_int_equal(falls, 1);
	pit_io_write(p, PIT_PORT_COUNTER0, 0x10);
	assert_int_equal(pit_next_event_ns(p), PIT_NO_EVENT); /* half a count: stopped */
	pit_io_write(p, PIT_PORT_COUNTER0, 0x00);
	assert_int_equal(pit_next_event_ns(p), t0 + ns(0x10));
	clk = t0 + ns(0x10);
	pit_advance(p, clk);
	assert_true(out_level);
	assert_int_equal(rises, 1);
	assert_int_equal(pit_next_event_ns(p), PIT_NO_EVENT);
	/* Past terminal count the counter wraps and goes on; OUT stays high. */
	clk = t0 + ns(0x20);
	assert_int_equal(read_lohi(p, 0), (uint16_t)(0x10 - 0x20));
	assert_int_equal(status(p, 0) & 0x80, 0x80);
	pit_destroy(p);
}

static void test_mode4_strobe(void **state)
{
	(void)state;
	struct pit *p = make();
	uint64_t t0 = clk;

	program(p, 0, 4 << 1, 100);
	assert_int_equal(rises + falls, 0);
	assert_int_equal(pit_next_event_ns(p), t0 + ns(101));
	clk = t0 + ns(100);
	assert_int_equal(status(p, 0) & 0x80, 0); /* low for one clock at terminal count */
	clk = t0 + ns(101);
	pit_advance(p, clk);
	assert_int_equal(rises, 1);
	assert_int_equal(pit_next_event_ns(p), PIT_NO_EVENT);
	pit_destroy(p);
}

static void test_latch_and_read_back(void **state)
{
	(void)state;
	struct pit *p = make();
	uint64_t t0 = clk;

	program(p, 1, 2 << 1, 5000);
	clk = t0 + ns(1000);
	pit_io_write(p, PIT_PORT_CONTROL, 0x40); /* latch counter 1 */
	clk = t0 + ns(2000);
	pit_io_write(p, PIT_PORT_CONTROL, 0x40); /* ignored: already latched */
	assert_int_equal(read_lohi(p, 1), 4000);
	assert_int_equal(read_lohi(p, 1), 3000); /* live again */
	/* Read-back of count and status: status first, then the count. */
	pit_io_write(p, PIT_PORT_CONTROL, 0xc4); /* count + status of counter 1 */
	clk = t0 + ns(3000);
	assert_int_equal(pit_io_read(p, PIT_PORT_COUNTER1), 0x80 | 0x30 | (2 << 1));
	assert_int_equal(read_lohi(p, 1), 3000);
	/* LSB-only and MSB-only access. */
	pit_io_write(p, PIT_PORT_CONTROL, 0x54); /* counter 1, LSB, mode 2 */
	pit_io_write(p, PIT_PORT_COUNTER1, 200);
	t0 = clk;
	clk = t0 + ns(50);
	assert_int_equal(pit_io_read(p, PIT_PORT_COUNTER1), 150);
	pit_io_write(p, PIT_PORT_CONTROL, 0x64); /* counter 1, MSB, mode 2 */
	pit_io_write(p, PIT_PORT_COUNTER1, 0x12);
	t0 = clk;
	clk = t0 + ns(0x100);
	assert_int_equal(pit_io_read(p, PIT_PORT_COUNTER1), 0x11);
	pit_destroy(p);
}

static void test_bcd(void **state)
{
	(void)state;
	struct pit *p = make();
	uint64_t t0 = clk;

	program(p, 1, (2 << 1) | 1, 0x1000); /* BCD 1000 */
	clk = t0 + ns(1);
	assert_int_equal(read_lohi(p, 1), 0x0999);
	clk = t0 + ns(1000);
	assert_int_equal(read_lohi(p, 1), 0x1000);
	assert_int_equal(status(p, 1) & 1, 1);
	pit_destroy(p);
}

/* Linux's pit_calibrate_tsc and quick_pit_calibrate: counter 2, mode 0, through port 0x61. */
static void test_counter2_calibration(void **state)
{
	(void)state;
	struct pit *p = make();
	uint64_t t0;

	assert_int_equal(pit_io_read(p, PIT_PORT_B) & (PIT_B_GATE2 | PIT_B_SPEAKER), 0);
	pit_io_write(p, PIT_PORT_B, (uint8_t)((pit_io_read(p, PIT_PORT_B) & ~PIT_B_SPEAKER) |
					     PIT_B_GATE2));
	t0 = clk;
	program(p, 2, 0, 0xffff);
	assert_int_equal(pit_io_read(p, PIT_PORT_B) & (PIT_B_GATE2 | PIT_B_OUT2), PIT_B_GATE2);
	clk = t0 + ns(0x100);
	assert_int_equal(read_lohi(p, 2), 0xffff - 0x100);
	/* quick_pit_calibrate reads the MSB of a live count with two inb()s. */
	clk = t0 + ns(0x1000);
	assert_int_equal(pit_io_read(p, PIT_PORT_COUNTER2), 0xff);
	assert_int_equal(pit_io_read(p, PIT_PORT_COUNTER2), 0xef);
	clk = t0 + ns(0xffff);
	assert_int_equal(pit_io_read(p, PIT_PORT_B) & PIT_B_OUT2, PIT_B_OUT2);
	/* Counter 2 is not IRQ 0. */
	assert_int_equal(pit_next_event_ns(p), PIT_NO_EVENT);
	assert_int_equal(rises + falls, 0);
	/* The refresh bit toggles. */
	clk = 0;
	uint8_t a = pit_io_read(p, PIT_PORT_B) & PIT_B_REFRESH;
	clk = 15085;
	assert_int_not_equal(pit_io_read(p, PIT_PORT_B) & PIT_B_REFRESH, a);
	pit_destroy(p);
}

static void test_gate(void **state)
{
	(void)state;
	struct pit *p = make();
	uint64_t t0 = clk;

	/* Mode 0: gate low holds the count, high lets it go on. */
	pit_io_write(p, PIT_PORT_B, PIT_B_GATE2);
	program(p, 2, 0, 1000);
	clk = t0 + ns(100);
	pit_io_write(p, PIT_PORT_B, 0);
	clk = t0 + ns(600);
	assert_int_equal(read_lohi(p, 2), 900);
	pit_io_write(p, PIT_PORT_B, PIT_B_GATE2);
	t0 = clk;
	clk = t0 + ns(100);
	assert_int_equal(read_lohi(p, 2), 800);
	/* Mode 1: the count starts at the gate's rising edge; OUT low until terminal count. */
	pit_io_write(p, PIT_PORT_B, 0);
	program(p, 2, 1 << 1, 50);
	clk += ns(500);
	assert_int_equal(pit_io_read(p, PIT_PORT_B) & PIT_B_OUT2, PIT_B_OUT2);
	assert_int_equal(read_lohi(p, 2), 50);
	pit_io_write(p, PIT_PORT_B, PIT_B_GATE2);
	t0 = clk;
	clk = t0 + ns(10);
	assert_int_equal(read_lohi(p, 2), 40);
	assert_int_equal(pit_io_read(p, PIT_PORT_B) & PIT_B_OUT2, 0);
	clk = t0 + ns(50);
	assert_int_equal(pit_io_read(p, PIT_PORT_B) & PIT_B_OUT2, PIT_B_OUT2);
	/* Mode 2 with the gate low: OUT high, no counting; the rising gate reloads. */
	pit_io_write(p, PIT_PORT_B, 0);
	program(p, 2, 2 << 1, 300);
	clk += ns(1000);
	assert_int_equal(read_lohi(p, 2), 300);
	pit_io_write(p, PIT_PORT_B, PIT_B_GATE2);
	t0 = clk;
	clk = t0 + ns(7);
	assert_int_equal(read_lohi(p, 2), 293);
	pit_destroy(p);
}

static void test_min_period(void **state)
{
	(void)state;
	struct pit *p = make();
	uint64_t t0 = clk;

	program(p, 0, 2 << 1, 10); /* ~8.4 us: interrupts come every 240 counts instead */
	assert_int_equal(nwarn, 1);
	assert_int_equal(pit_next_event_ns(p), t0 + ns(240));
	/* Reads stay exact. */
	clk = t0 + ns(13);
	assert_int_equal(read_lohi(p, 0), 7);
	pit_destroy(p);
}

static void test_mistakes(void **state)
{
	(void)state;
	struct pit *p = make();

	/* A count before any control word, the read-only control port, other ports. */
	pit_io_write(p, PIT_PORT_COUNTER0, 0x12);
	assert_int_equal(nwarn, 1);
	assert_int_equal(pit_next_event_ns(p), PIT_NO_EVENT);
	assert_int_equal(pit_io_read(p, PIT_PORT_CONTROL), 0xff);
	assert_int_equal(pit_io_read(p, 0x44), 0xff);
	pit_io_write(p, 0x44, 0);
	/* Count 1 in mode 2 is illegal: warned, 2 used. */
	program(p, 1, 2 << 1, 1);
	assert_int_equal(nwarn, 2);
	/* A read-back naming no counter does nothing. */
	pit_io_write(p, PIT_PORT_CONTROL, 0xc0);
	assert_int_equal(rises + falls, 0);
	pit_destroy(p);
}

static void save(const struct pit *p, struct snap_enc *e)
{
	*e = (struct snap_enc){ 0 };
	pit_save(p, e);
	assert_false(e->oom);
}

static uint64_t ctx_now(void *ctx)
{
	return *(const uint64_t *)ctx;
}

static void count_rises(void *ctx, bool level)
{
	if (level)
		(*(unsigned *)ctx)++;
}

/*
 * Counter 0 in mode 2 past its first edge and mid-period; counter 1 in mode 3 with its
 * status latched; counter 2 in mode 0 gated through port 0x61 (speaker on), its count
 * latched and half read.
 */
static struct pit *mid_count(uint64_t *t0)
{
	struct pit *p = make();

	*t0 = clk;
	program(p, 0, 2 << 1, 1193);
	clk = *t0 + ns(1193);
	pit_advance(p, clk);
	assert_int_equal(rises, 1);
	program(p, 1, 3 << 1, 100);
	pit_io_write(p, PIT_PORT_B, PIT_B_GATE2 | PIT_B_SPEAKER);
	program(p, 2, 0, 5000);
	clk = *t0 + ns(1193 + 300);
	pit_io_write(p, PIT_PORT_CONTROL, 0xe0 | (1u << 2) | 0x20); /* read-back: status of 1 */
	pit_io_write(p, PIT_PORT_CONTROL, 0x80);                    /* latch counter 2 */
	(void)pit_io_read(p, PIT_PORT_COUNTER2);                     /* its LSB */
	return p;
}

static void test_snapshot_round_trip(void **state)
{
	(void)state;
	uint64_t t0, clk2 = 7000000000ull;
	unsigned rises2 = 0;
	struct pit *p = mid_count(&t0);
	const struct pit_config c = { .now_ns = ctx_now, .clock_ctx = &clk2,
				      .out = count_rises, .out_ctx = &rises2 };
	struct pit *q = pit_create(&c);
	struct snap_enc e;
	struct snap_dec d;
	char err[160] = "";

	save(p, &e);
	snap_dec_init(&d, e.buf, e.len);
	assert_int_equal(pit_load(q, &d, err, sizeof(err)), 0);
	assert_true(snap_dec_done(&d));
	assert_int_equal(rises2, 0); /* a load hands no edge out */
	/* The next IRQ 0 edge lies as far ahead on the new clock as on the old one. */
	assert_int_equal(pit_next_event_ns(p) - clk, pit_next_event_ns(q) - clk2);
	assert_int_equal(pit_next_event_ns(p), t0 + ns(2 * 1193));
	/* Latched and live reads, status and port B (less its refresh bit) go on alike. */
	assert_int_equal(pit_io_read(q, PIT_PORT_COUNTER2), pit_io_read(p, PIT_PORT_COUNTER2));
	assert_int_equal(pit_io_read(q, PIT_PORT_COUNTER1), pit_io_read(p, PIT_PORT_COUNTER1));
	assert_int_equal(pit_io_read(q, PIT_PORT_COUNTER1), pit_io_read(p, PIT_PORT_COUNTER1));
	assert_int_equal(read_lohi(q, 0), read_lohi(p, 0));
	assert_int_equal(read_lohi(q, 0), 1193 - 300);
	assert_int_equal(pit_io_read(q, PIT_PORT_B) & ~PIT_B_REFRESH,
			 pit_io_read(p, PIT_PORT_B) & ~PIT_B_REFRESH);
	/* Both reach the next edge after the same time, and count on alike after it. */
	uint64_t dt = pit_next_event_ns(p) - clk;
	clk += dt;
	clk2 += dt;
	pit_advance(p, clk);
	pit_advance(q, clk2);
	assert_int_equal(rises, 2);
	assert_int_equal(rises2, 1);
	assert_int_equal(pit_next_event_ns(p) - clk, pit_next_event_ns(q) - clk2);
	clk += ns(400);
	clk2 += ns(400);
	assert_int_equal(read_lohi(q, 0), read_lohi(p, 0));
	assert_int_equal(read_lohi(q, 2), read_lohi(p, 2));
	snap_enc_free(&e);
	pit_destroy(p);
	pit_destroy(q);
}

/* Offsets in the payload: version, counters, then counter 0's mode, RW, flags, count. */
#define SNAP_C0_FLAGS 10
#define SNAP_C0_COUNT 14

static void refuse(struct pit *p, struct snap_enc *e, size_t off, uint8_t v, const char *why)
{
	uint8_t old = e->buf[off];
	struct snap_dec d;
	char err[160] = "";

	e->buf[off] = v;
	snap_dec_init(&d, e->buf, e->len);
	assert_int_equal(pit_load(p, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, why));
	e->buf[off] = old;
}

/*
 * Mode 0 on counter 2 with its gate low, saved between the two bytes of a new count: the
 * state restores (the first byte stops the count, and nothing is left held), and the second
 * byte then loads a count that waits for the gate.  Found by fuzzing: it was refused.
 */
static void test_snapshot_between_count_bytes(void **state)
{
	(void)state;
	struct pit *p = make(), *q = make();
	struct snap_enc e;
	struct snap_dec d;
	char err[160] = "";

	program(p, 2, 0, 1000); /* gate low (port 0x61 bit 0 clear) */
	clk += ns(100);
	assert_int_equal(read_lohi(p, 2), 1000); /* held */
	pit_io_write(p, PIT_PORT_COUNTER0 + 2, 0x34); /* the first byte of 0x1234 */
	save(p, &e);
	snap_dec_init(&d, e.buf, e.len);
	assert_int_equal(pit_load(q, &d, err, sizeof(err)), 0);
	pit_io_write(q, PIT_PORT_COUNTER0 + 2, 0x12);
	clk += ns(500);
	assert_int_equal(read_lohi(q, 2), 0x1234); /* waits for the gate */
	pit_io_write(q, PIT_PORT_B, PIT_B_GATE2);
	clk += ns(100);
	assert_int_equal(read_lohi(q, 2), 0x1234 - 100);
	snap_enc_free(&e);
	pit_destroy(q);
	pit_destroy(p);
}

static void test_snapshot_refused(void **state)
{
	(void)state;
	uint64_t t0;
	struct pit *p = mid_count(&t0);
	const struct pit_config c = { .now_ns = fake_now };
	struct pit *q = pit_create(&c);
	struct snap_enc e, before, after;
	struct snap_dec d;
	char err[160];

	program(q, 0, 3 << 1, 4000);
	save(p, &e);
	save(q, &before);
	for (size_t len = 0; len < e.len; len++) {
		err[0] = 0;
		snap_dec_init(&d, e.buf, len);
		assert_int_equal(pit_load(q, &d, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "8254 PIT state"));
	}
	refuse(q, &e, 0, 9, "version 9");
	refuse(q, &e, 4, 2, "2 counters");
	refuse(q, &e, 8, 6, "counter 0: mode");                     /* 8254: modes 0-5 */
	refuse(q, &e, SNAP_C0_COUNT + 2, 2, "counter 0: count");     /* 0x20000 + 1193 */
	refuse(q, &e, SNAP_C0_FLAGS, e.buf[SNAP_C0_FLAGS] & ~0x20, "tied high"); /* gate low */
	refuse(q, &e, SNAP_C0_FLAGS + 3, 0x80, "unknown counter flags");
	refuse(q, &e, e.len - 1, 2, "speaker");
	save(q, &after);
	assert_int_equal(after.len, before.len);
	assert_memory_equal(after.buf, before.buf, after.len);
	snap_enc_free(&e);
	snap_enc_free(&before);
	snap_enc_free(&after);
	pit_destroy(p);
	pit_destroy(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_programmed),
		cmocka_unit_test(test_mode2_periodic),
		cmocka_unit_test(test_mode3_square_wave),
		cmocka_unit_test(test_mode0_one_shot),
		cmocka_unit_test(test_mode4_strobe),
		cmocka_unit_test(test_latch_and_read_back),
		cmocka_unit_test(test_bcd),
		cmocka_unit_test(test_counter2_calibration),
		cmocka_unit_test(test_gate),
		cmocka_unit_test(test_min_period),
		cmocka_unit_test(test_mistakes),
		cmocka_unit_test(test_snapshot_round_trip),
		cmocka_unit_test(test_snapshot_refused),
		cmocka_unit_test(test_snapshot_between_count_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
