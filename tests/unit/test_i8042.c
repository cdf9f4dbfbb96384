/*
 * test_i8042.c - the 8042 keyboard controller through bus accesses: the probe Linux's i8042
 * driver makes (status, self-test, command byte, port tests, AUX loopback and its IRQ 12),
 * the reset line (command 0xFE, output port bit 0) reaching vm_control's reset hook or, with
 * none, a stop with status 0, and a hostile guest on every port, width and value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev/bus.h"
#include "bus_io.h"
#include "dev/i8042.h"
#include "snapshot/snapfile.h"

struct record {
	int stops, resets, status;
	char why[160];
	bool level[16];
	int edges[16];
};

static void rec_stop(void *vm, int status, const char *why)
{
	struct record *r = vm;

	r->stops++;
	r->status = status;
	strncpy(r->why, why, sizeof(r->why) - 1);
}

static void rec_reset(void *vm, const char *why)
{
	struct record *r = vm;

	r->resets++;
	strncpy(r->why, why, sizeof(r->why) - 1);
}

static void rec_irq(void *ctx, unsigned gsi, bool level)
{
	struct record *r = ctx;

	assert_true(gsi == I8042_KBD_GSI || gsi == I8042_AUX_GSI);
	assert_true(level != r->level[gsi]); /* driven on changes only */
	r->level[gsi] = level;
	r->edges[gsi] += level;
}

static void cmd(struct bus *b, uint8_t c)
{
	io(b, I8042_COMMAND_PORT, true, 1, c);
}

static void put(struct bus *b, uint8_t v)
{
	io(b, I8042_DATA_PORT, true, 1, v);
}

static uint8_t status(struct bus *b)
{
	return (uint8_t)io(b, I8042_COMMAND_PORT, false, 1, 0);
}

static uint8_t get(struct bus *b)
{
	return (uint8_t)io(b, I8042_DATA_PORT, false, 1, 0);
}

struct kbc {
	struct record r;
	struct vm_control ctl;
	struct irq_line irq;
	struct bus *bus;
	struct i8042 *k;
};

static void setup(struct kbc *t, bool reset_hook)
{
	memset(t, 0, sizeof(*t));
	t->ctl = (struct vm_control){ .stop = rec_stop, .reset = reset_hook ? rec_reset : NULL,
				      .vm = &t->r };
	t->irq = (struct irq_line){ .set = rec_irq, .ctx = &t->r };
	t->bus = bus_create("pio");
	t->k = i8042_create(t->bus, &t->ctl, &t->irq);
	assert_non_null(t->k);
}

static void teardown(struct kbc *t)
{
	i8042_destroy(t->k);
	bus_destroy(t->bus);
}

static void test_linux_probe(void **state)
{
	struct kbc t;

	(void)state;
	setup(&t, true);
	assert_int_equal(status(t.bus) & 0x03, 0); /* empty, ready for commands */
	assert_true(status(t.bus) & 0x04);          /* system flag: POST passed */
	cmd(t.bus, 0x20);
	assert_true(status(t.bus) & 0x01);
	assert_true(t.r.level[I8042_KBD_GSI]); /* OBF with the keyboard interrupt enabled */
	uint8_t ctr = get(t.bus);
	assert_int_equal(ctr & 0x05, 0x05);
	assert_false(t.r.level[I8042_KBD_GSI]);
	assert_int_equal(status(t.bus) & 0x01, 0);

	cmd(t.bus, 0xaa);
	assert_int_equal(get(t.bus), 0x55);
	cmd(t.bus, 0xab);
	assert_int_equal(get(t.bus), 0x00);
	cmd(t.bus, 0xad);
	cmd(t.bus, 0x20);
	assert_true(get(t.bus) & 0x10); /* keyboard disabled */
	cmd(t.bus, 0xae);
	cmd(t.bus, 0x20);
	assert_false(get(t.bus) & 0x10);

	/* Write the command byte: interrupts off, then AUX loopback without an IRQ. */
	cmd(t.bus, 0x60);
	assert_true(status(t.bus) & 0x08); /* last write was a command */
	put(t.bus, 0x44);
	cmd(t.bus, 0x20);
	assert_int_equal(get(t.bus), 0x44);
	cmd(t.bus, 0xd3);
	put(t.bus, 0x5a);
	assert_int_equal(status(t.bus) & 0x21, 0x21); /* OBF, AUX data */
	assert_false(t.r.level[I8042_AUX_GSI]);
	assert_int_equal(get(t.bus), 0x5a);
	/* AUX disable / enable shows in the command byte (Linux's bit assignment test). */
	cmd(t.bus, 0xa7);
	cmd(t.bus, 0x20);
	assert_true(get(t.bus) & 0x20);
	cmd(t.bus, 0xa8);
	cmd(t.bus, 0x20);
	assert_false(get(t.bus) & 0x20);
	/* IRQ 12 delivery test: AUX interrupt on, loop a byte. */
	cmd(t.bus, 0x60);
	put(t.bus, 0x46);
	cmd(t.bus, 0xd3);
	put(t.bus, 0xa5);
	assert_true(t.r.level[I8042_AUX_GSI]);
	assert_int_equal(t.r.edges[I8042_AUX_GSI], 1);
	assert_int_equal(get(t.bus), 0xa5);
	assert_false(t.r.level[I8042_AUX_GSI]);
	cmd(t.bus, 0xa9);
	assert_int_equal(get(t.bus), 0x00);
	assert_int_equal(t.r.stops + t.r.resets, 0);
	teardown(&t);
}

static void test_reset(void **state)
{
	struct kbc t;

	(void)state;
	setup(&t, true);
	cmd(t.bus, 0xfe);
	assert_int_equal(t.r.resets, 1);
	assert_int_equal(t.r.stops, 0);
	cmd(t.bus, 0xff); /* pulse nothing */
	cmd(t.bus, 0xfd); /* pulse bit 1 (A20): not a reset */
	assert_int_equal(t.r.resets, 1);
	cmd(t.bus, 0xd1);
	put(t.bus, 0x03); /* reset line high: nothing */
	assert_int_equal(t.r.resets, 1);
	cmd(t.bus, 0xd0);
	assert_int_equal(get(t.bus), 0x03);
	cmd(t.bus, 0xd1);
	put(t.bus, 0x02); /* bit 0 clear: reset */
	assert_int_equal(t.r.resets, 2);
	teardown(&t);

	/* Without a reset hook, reset means stop with status 0 (--on-reboot exit). */
	setup(&t, false);
	io(t.bus, I8042_COMMAND_PORT, true, 1, 0xfe);
	assert_int_equal(t.r.stops, 1);
	assert_int_equal(t.r.status, 0);
	assert_non_null(strstr(t.r.why, "reset"));
	teardown(&t);
}

static void test_hostile_sweep(void **state)
{
	struct kbc t;
	static const uint32_t widths[] = { 1, 2, 4 };
	unsigned seed = 42;

	(void)state;
	setup(&t, true);
	for (int i = 0; i < 100000; i++) {
		uint16_t port = (uint16_t)(0x5e + rand_r(&seed) % 10);
		uint32_t size = widths[rand_r(&seed) % 3];
		bool write = rand_r(&seed) & 1;
		uint32_t got = io(t.bus, port, write, size, (uint32_t)rand_r(&seed));
		if (!write && port == I8042_COMMAND_PORT)
			assert_int_equal(got & 0x02, 0); /* the input buffer is never full */
	}
	/* Whatever happened, the controller still answers. */
	while (status(t.bus) & 0x01)
		get(t.bus);
	cmd(t.bus, 0xaa);
	assert_int_equal(get(t.bus), 0x55);
	int resets = t.r.resets;
	cmd(t.bus, 0xfe);
	assert_int_equal(t.r.resets, resets + 1);
	teardown(&t);
}

/*
 * A snapshot with bytes queued loads whole; every shorter payload is refused and leaves the
 * controller exactly as it was (device.h: checked whole before anything changes).
 */
static void test_snapshot_all_or_nothing(void **state)
{
	struct kbc a, b;
	struct snap_enc e = { 0 }, before = { 0 }, after = { 0 };
	struct snap_dec d;
	char err[128];

	(void)state;
	setup(&a, true);
	setup(&b, true);
	cmd(a.bus, 0x60);
	put(a.bus, 0x47); /* the configuration byte */
	cmd(a.bus, 0xd2);
	put(a.bus, 0xaa); /* a byte "from the keyboard" waits in the output buffer */
	assert_int_equal(i8042_save(a.k, &e), 0);
	assert_int_equal(i8042_save(b.k, &before), 0);
	for (size_t n = 0; n < e.len; n++) {
		snap_dec_init(&d, e.buf, n);
		assert_int_equal(i8042_load(b.k, &d, err, sizeof(err)), -1);
		after.len = 0;
		assert_int_equal(i8042_save(b.k, &after), 0);
		assert_int_equal(after.len, before.len);
		assert_memory_equal(after.buf, before.buf, before.len);
	}
	snap_dec_init(&d, e.buf, e.len);
	assert_int_equal(i8042_load(b.k, &d, err, sizeof(err)), 0);
	assert_int_equal(get(b.bus), 0xaa);
	cmd(b.bus, 0x20);
	assert_int_equal(get(b.bus), 0x47);
	snap_enc_free(&e);
	snap_enc_free(&before);
	snap_enc_free(&after);
	teardown(&a);
	teardown(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_linux_probe),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_hostile_sweep),
		cmocka_unit_test(test_snapshot_all_or_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
