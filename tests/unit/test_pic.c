/*
 * test_pic.c - the 8259A pair without a machine: initialisation as Linux and a BIOS do it,
 * INTR and the vector of INTA, priority and masking, non-specific / specific / automatic EOI
 * and rotation, the cascade on IRQ 2, reading IRR and ISR, poll, spurious IRQ 7 and 15,
 * edge against level (ELCR and LTIM), special mask mode, guest mistakes (warned), and
 * snapshots (a pair mid-interrupt saved, loaded into another and going on the same; every
 * truncation and a bad field refused, leaving the pair as it was).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/pic.h"
#include "snapshot/snapfile.h"

static bool intr;
static unsigned nedges, nwarn;
static char last_warn[200];

static void capture_output(void *ctx, bool level)
{
	(void)ctx;
	assert_true(level != intr); /* called on changes only */
	intr = level;
	nedges++;
}

static void count_warn(void *ctx, const char *msg)
{
	(void)ctx;
	nwarn++;
	strncpy(last_warn, msg, sizeof(last_warn) - 1);
}

/* What Linux's init_8259A does (arch/x86/kernel/i8259.c), vector bases 0x20 and 0x28. */
static void linux_init(struct pic *p, bool aeoi)
{
	pic_io_write(p, PIC_MASTER_DATA, 0xff);
	pic_io_write(p, PIC_SLAVE_DATA, 0xff);
	pic_io_write(p, PIC_MASTER_CMD, 0x11);           /* ICW1: edge, cascade, ICW4 */
	pic_io_write(p, PIC_MASTER_DATA, 0x20);          /* ICW2 */
	pic_io_write(p, PIC_MASTER_DATA, 1u << 2);       /* ICW3: slave on IR2 */
	pic_io_write(p, PIC_MASTER_DATA, aeoi ? 3 : 1);  /* ICW4: 8086, (auto) EOI */
	pic_io_write(p, PIC_SLAVE_CMD, 0x11);
	pic_io_write(p, PIC_SLAVE_DATA, 0x28);
	pic_io_write(p, PIC_SLAVE_DATA, 2);
	pic_io_write(p, PIC_SLAVE_DATA, 1);
	pic_io_write(p, PIC_MASTER_DATA, 0);
	pic_io_write(p, PIC_SLAVE_DATA, 0);
}

static struct pic *make(bool aeoi)
{
	const struct pic_config c = { .output = capture_output, .warn = count_warn };

	intr = false;
	nedges = nwarn = 0;
	last_warn[0] = 0;
	struct pic *p = pic_create(&c);
	assert_non_null(p);
	linux_init(p, aeoi);
	assert_false(intr);
	return p;
}

static void eoi(struct pic *p, uint16_t cmd)
{
	pic_io_write(p, cmd, 0x20); /* OCW2: non-specific EOI */
}

static void pulse(struct pic *p, unsigned irq)
{
	pic_set_irq(p, irq, true);
	pic_set_irq(p, irq, false);
}

static void test_init_and_ack(void **state)
{
	(void)state;
	struct pic *p = make(false);

	pulse(p, 4);
	assert_true(intr);
	assert_true(pic_output(p));
	assert_int_equal(pic_io_read(p, PIC_MASTER_CMD), 0x10); /* IRR after OCW3 default */
	assert_int_equal(pic_ack(p), 0x24);
	assert_false(intr);
	pic_io_write(p, PIC_MASTER_CMD, 0x0b);                  /* OCW3: read ISR */
	assert_int_equal(pic_io_read(p, PIC_MASTER_CMD), 0x10);
	eoi(p, PIC_MASTER_CMD);
	assert_int_equal(pic_io_read(p, PIC_MASTER_CMD), 0);
	pic_io_write(p, PIC_MASTER_CMD, 0x0a);                  /* read IRR again */
	assert_int_equal(pic_io_read(p, PIC_MASTER_CMD), 0);
	assert_int_equal(nwarn, 0);
	pic_destroy(p);
}

static void test_priority_and_nesting(void **state)
{
	(void)state;
	struct pic *p = make(false);

	pulse(p, 5);
	pulse(p, 3);
	assert_int_equal(pic_ack(p), 0x23); /* IR3 outranks IR5 */
	/* IR5 waits behind IR3 in service; IR1 interrupts it (fully nested). */
	assert_false(intr);
	pulse(p, 1);
	assert_true(intr);
	assert_int_equal(pic_ack(p), 0x21);
	eoi(p, PIC_MASTER_CMD);             /* retires IR1, the highest in service */
	assert_false(intr);                 /* IR3 still in service */
	eoi(p, PIC_MASTER_CMD);
	assert_true(intr);
	assert_int_equal(pic_ack(p), 0x25);
	eoi(p, PIC_MASTER_CMD);
	assert_false(intr);
	pic_destroy(p);
}

static void test_mask(void **state)
{
	(void)state;
	struct pic *p = make(false);

	pic_io_write(p, PIC_MASTER_DATA, 1u << 4);
	assert_int_equal(pic_io_read(p, PIC_MASTER_DATA), 0x10);
	pulse(p, 4);
	assert_false(intr);                 /* latched in IRR, masked */
	pic_io_write(p, PIC_MASTER_DATA, 0);
	assert_true(intr);
	assert_int_equal(pic_ack(p), 0x24);
	pic_destroy(p);
}

static void test_cascade(void **state)
{
	(void)state;
	struct pic *p = make(false);

	pulse(p, 12);
	assert_true(intr);
	assert_int_equal(pic_ack(p), 0x2c);
	pic_io_write(p, PIC_SLAVE_CMD, 0x0b);
	pic_io_write(p, PIC_MASTER_CMD, 0x0b);
	assert_int_equal(pic_io_read(p, PIC_SLAVE_CMD), 0x10);
	assert_int_equal(pic_io_read(p, PIC_MASTER_CMD), 0x04); /* IR2 in service */
	/* A master request below IR2 waits; a slave one waits behind the master's IR2. */
	pulse(p, 3);
	pulse(p, 9);
	assert_false(intr);
	eoi(p, PIC_SLAVE_CMD);
	eoi(p, PIC_MASTER_CMD);
	assert_true(intr);
	assert_int_equal(pic_ack(p), 0x29); /* IR2 (slave IRQ 9) outranks IR3 */
	eoi(p, PIC_SLAVE_CMD);
	eoi(p, PIC_MASTER_CMD);
	assert_int_equal(pic_ack(p), 0x23);
	eoi(p, PIC_MASTER_CMD);
	assert_false(intr);
	/* The slave masked: its requests do not reach the master. */
	pic_io_write(p, PIC_SLAVE_DATA, 0xff);
	pulse(p, 14);
	assert_false(intr);
	pic_io_write(p, PIC_SLAVE_DATA, 0);
	assert_true(intr);
	assert_int_equal(pic_ack(p), 0x2e);
	/* IRQ 2 itself is the cascade: driving it does nothing. */
	eoi(p, PIC_SLAVE_CMD);
	eoi(p, PIC_MASTER_CMD);
	pulse(p, 2);
	assert_false(intr);
	pic_destroy(p);
}

static void test_spurious(void **state)
{
	(void)state;
	struct pic *p = make(false);

	/* INTA with nothing pending: IR7, not in service. */
	assert_int_equal(pic_ack(p), 0x27);
	pic_io_write(p, PIC_MASTER_CMD, 0x0b);
	assert_int_equal(pic_io_read(p, PIC_MASTER_CMD), 0);
	/* A slave request withdrawn between INTR and INTA (level input dropped): IRQ 15. */
	pic_io_write(p, PIC_ELCR_SLAVE, 1u << 2); /* IRQ 10 level */
	pic_set_irq(p, 10, true);
	assert_true(intr);
	/* The master has latched the edge of IR2; the slave's input falls. */
	pic_set_irq(p, 10, false);
	assert_int_equal(pic_ack(p), 0x2f);
	pic_destroy(p);
}

static void test_auto_eoi_and_rotation(void **state)
{
	(void)state;
	struct pic *p = make(true);

	pulse(p, 6);
	assert_int_equal(pic_ack(p), 0x26);
	pic_io_write(p, PIC_MASTER_CMD, 0x0b);
	assert_int_equal(pic_io_read(p, PIC_MASTER_CMD), 0); /* nothing in service */
	/* Rotate in AEOI mode: the served IR becomes the lowest priority. */
	pic_io_write(p, PIC_MASTER_CMD, 0x80);
	pulse(p, 1);
	assert_int_equal(pic_ack(p), 0x21);
	pulse(p, 0);
	pulse(p, 5);
	assert_int_equal(pic_ack(p), 0x25); /* after rotation IR2..IR7 outrank IR0 */
	assert_int_equal(pic_ack(p), 0x20);
	pic_destroy(p);
}

static void test_specific_eoi_and_set_priority(void **state)
{
	(void)state;
	struct pic *p = make(false);

	pulse(p, 3);
	assert_int_equal(pic_ack(p), 0x23);
	pulse(p, 1);
	assert_int_equal(pic_ack(p), 0x21);
	pic_io_write(p, PIC_MASTER_CMD, 0x60 | 3); /* specific EOI of IR3 */
	pic_io_write(p, PIC_MASTER_CMD, 0x0b);
	assert_int_equal(pic_io_read(p, PIC_MASTER_CMD), 0x02);
	pic_io_write(p, PIC_MASTER_CMD, 0x60 | 1);
	assert_int_equal(pic_io_read(p, PIC_MASTER_CMD), 0);
	/* Set priority: IR4 lowest, so IR5 is the highest now. */
	pic_io_write(p, PIC_MASTER_CMD, 0xc0 | 4);
	pulse(p, 0);
	pulse(p, 5);
	assert_int_equal(pic_ack(p), 0x25);
	/* Rotate on non-specific EOI: IR5 becomes lowest; IR0 (still pending) next. */
	pic_io_write(p, PIC_MASTER_CMD, 0xa0);
	assert_int_equal(pic_ack(p), 0x20);
	pic_destroy(p);
}

static void test_edge_and_level(void **state)
{
	(void)state;
	struct pic *p = make(false);

	/* Edge: a held-high input asks once. */
	pic_set_irq(p, 4, true);
	assert_int_equal(pic_ack(p), 0x24);
	eoi(p, PIC_MASTER_CMD);
	assert_false(intr);
	pic_set_irq(p, 4, false);
	/* Level (ELCR): asks again after EOI while high; stops when low. */
	pic_io_write(p, PIC_ELCR_MASTER, 0xff);
	assert_int_equal(pic_io_read(p, PIC_ELCR_MASTER), 0xf8); /* IRQ 0-2 edge only */
	assert_int_equal(nwarn, 1);
	pic_io_write(p, PIC_ELCR_SLAVE, 0xff);
	assert_int_equal(pic_io_read(p, PIC_ELCR_SLAVE), 0xde);
	pic_set_irq(p, 5, true);
	assert_int_equal(pic_ack(p), 0x25);
	eoi(p, PIC_MASTER_CMD);
	assert_true(intr);
	assert_int_equal(pic_ack(p), 0x25);
	pic_set_irq(p, 5, false);
	eoi(p, PIC_MASTER_CMD);
	assert_false(intr);
	/* ICW1 with LTIM: every input of that chip level-triggered. */
	pic_io_write(p, PIC_ELCR_MASTER, 0);
	pic_io_write(p, PIC_MASTER_CMD, 0x19);
	pic_io_write(p, PIC_MASTER_DATA, 0x20);
	pic_io_write(p, PIC_MASTER_DATA, 4);
	pic_io_write(p, PIC_MASTER_DATA, 1);
	pic_set_irq(p, 1, true);
	assert_int_equal(pic_ack(p), 0x21);
	eoi(p, PIC_MASTER_CMD);
	assert_true(intr);
	pic_set_irq(p, 1, false);
	assert_false(intr);
	pic_destroy(p);
}

static void test_poll(void **state)
{
	(void)state;
	struct pic *p = make(false);

	pic_io_write(p, PIC_MASTER_CMD, 0x0c); /* OCW3: poll */
	assert_int_equal(pic_io_read(p, PIC_MASTER_CMD), 0);
	pulse(p, 6);
	pic_io_write(p, PIC_MASTER_CMD, 0x0c);
	assert_int_equal(pic_io_read(p, PIC_MASTER_CMD), 0x86);
	assert_false(intr); /* acknowledged by the poll */
	pic_io_write(p, PIC_MASTER_CMD, 0x0b);
	assert_int_equal(pic_io_read(p, PIC_MASTER_CMD), 0x40);
	/* After a poll, reads are IRR/ISR again. */
	assert_int_equal(pic_io_read(p, PIC_MASTER_CMD), 0x40);
	pic_destroy(p);
}

static void test_special_mask(void **state)
{
	(void)state;
	struct pic *p = make(false);

	pulse(p, 2 + 1);
	assert_int_equal(pic_ack(p), 0x23);
	/* IR3 in service blocks IR5, until IR3 is masked in special mask mode. */
	pulse(p, 5);
	assert_false(intr);
	pic_io_write(p, PIC_MASTER_CMD, 0x68);       /* OCW3: set special mask */
	pic_io_write(p, PIC_MASTER_DATA, 1u << 3);
	assert_true(intr);
	assert_int_equal(pic_ack(p), 0x25);
	pic_io_write(p, PIC_MASTER_CMD, 0x48);       /* reset special mask */
	pic_destroy(p);
}

static void test_mistakes(void **state)
{
	(void)state;
	struct pic *p = make(false);

	/* 8080 mode, an unusual cascade, ports and IRQs that do not exist: warned, no harm. */
	pic_io_write(p, PIC_MASTER_CMD, 0x10);      /* ICW1 without ICW4 */
	pic_io_write(p, PIC_MASTER_DATA, 0x20);
	pic_io_write(p, PIC_MASTER_DATA, 0x08);     /* ICW3: slave on IR3?  warned */
	assert_int_equal(nwarn, 2);
	pic_io_write(p, PIC_MASTER_CMD, 0x11);
	pic_io_write(p, PIC_MASTER_DATA, 0x20);
	pic_io_write(p, PIC_MASTER_DATA, 0x04);
	pic_io_write(p, PIC_MASTER_DATA, 0x00);     /* ICW4 without the 8086 bit */
	assert_int_equal(nwarn, 3);
	assert_int_equal(pic_io_read(p, 0x22), 0xff);
	pic_io_write(p, 0x22, 0x11);
	pic_set_irq(p, 16, true);
	pic_set_irq(p, 1000, true);
	assert_false(intr);
	pulse(p, 7);
	assert_int_equal(pic_ack(p), 0x27);
	pic_destroy(p);
}

static void save(const struct pic *p, struct snap_enc *e)
{
	*e = (struct snap_enc){ 0 };
	pic_save(p, e);
	assert_false(e->oom);
}

static void assert_same_state(const struct pic *a, const struct pic *b)
{
	struct snap_enc ea, eb;

	save(a, &ea);
	save(b, &eb);
	assert_int_equal(ea.len, eb.len);
	assert_memory_equal(ea.buf, eb.buf, ea.len);
	snap_enc_free(&ea);
	snap_enc_free(&eb);
}

/* IRQ 4 in service, IRQ 6 pending below it, IRQ 5 masked, IRQ 10 level and high, reading ISR. */
static struct pic *mid_interrupt(void)
{
	struct pic *p = make(false);

	pic_io_write(p, PIC_ELCR_SLAVE, 0x04);
	pic_io_write(p, PIC_MASTER_DATA, 1u << 5);
	pic_io_write(p, PIC_SLAVE_DATA, 1u << 2);   /* IRQ 10 masked for now */
	pulse(p, 4);
	assert_int_equal(pic_ack(p), 0x24);
	pulse(p, 6);
	pulse(p, 5);
	pic_set_irq(p, 10, true);
	pic_io_write(p, PIC_MASTER_CMD, 0x0b);       /* OCW3: read ISR */
	assert_false(intr);
	return p;
}

static void test_snapshot_round_trip(void **state)
{
	(void)state;
	struct pic *p = mid_interrupt();
	const struct pic_config c = { 0 };
	struct pic *q = pic_create(&c);
	struct snap_enc e;
	struct snap_dec d;
	char err[160] = "";

	save(p, &e);
	snap_dec_init(&d, e.buf, e.len);
	assert_int_equal(pic_load(q, &d, err, sizeof(err)), 0);
	assert_true(snap_dec_done(&d));
	assert_same_state(p, q);
	assert_false(pic_output(q));
	/* Both go on alike: ISR read, the EOI lets IRQ 6 through, then unmasking IRQ 10. */
	struct pic *both[2] = { p, q };
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pic_io_read(both[i], PIC_MASTER_CMD), 0x10);
		eoi(both[i], PIC_MASTER_CMD);
		assert_true(pic_output(both[i]));
		assert_int_equal(pic_ack(both[i]), 0x26);
		pic_io_write(both[i], PIC_SLAVE_DATA, 0);
		assert_int_equal(pic_ack(both[i]), 0x2a); /* IRQ 10 above IRQ 6 in service */
		assert_false(pic_output(both[i]));
	}
	assert_same_state(p, q);
	snap_enc_free(&e);
	pic_destroy(p);
	pic_destroy(q);
}

static void test_snapshot_refused(void **state)
{
	(void)state;
	struct pic *p = mid_interrupt();
	struct pic *q = make(true);
	struct snap_enc e, before;
	struct snap_dec d;
	char err[160];

	save(p, &e);
	save(q, &before);
	for (size_t len = 0; len < e.len; len++) {
		err[0] = 0;
		snap_dec_init(&d, e.buf, len);
		assert_int_equal(pic_load(q, &d, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "8259A"));
	}
	e.buf[4 + 5] = 0x21; /* the master's ICW2 base: not a multiple of 8 */
	snap_dec_init(&d, e.buf, e.len);
	assert_int_equal(pic_load(q, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "master"));
	e.buf[4 + 5] = 0x20;
	e.buf[0] = 2; /* version */
	snap_dec_init(&d, e.buf, e.len);
	assert_int_equal(pic_load(q, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "version 2"));
	struct snap_enc after;
	save(q, &after);
	assert_int_equal(after.len, before.len);
	assert_memory_equal(after.buf, before.buf, after.len);
	snap_enc_free(&e);
	snap_enc_free(&before);
	snap_enc_free(&after);
	pic_destroy(p);
	pic_destroy(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_and_ack),
		cmocka_unit_test(test_priority_and_nesting),
		cmocka_unit_test(test_mask),
		cmocka_unit_test(test_cascade),
		cmocka_unit_test(test_spurious),
		cmocka_unit_test(test_auto_eoi_and_rotation),
		cmocka_unit_test(test_specific_eoi_and_set_priority),
		cmocka_unit_test(test_edge_and_level),
		cmocka_unit_test(test_poll),
		cmocka_unit_test(test_special_mask),
		cmocka_unit_test(test_mistakes),
		cmocka_unit_test(test_snapshot_round_trip),
		cmocka_unit_test(test_snapshot_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
