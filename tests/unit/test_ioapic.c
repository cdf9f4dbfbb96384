/*
 * test_ioapic.c - the I/O APIC model without a machine: reset state, the ID/version/
 * arbitration registers, redirection entries and their read-only bits, masking, edge
 * against level triggering, remote IRR and EOI (broadcast and the EOI register), the MSI
 * encoding of every field, the `changed` notification, and bad accesses (reserved indices,
 * wrong widths, unknown offsets, pins out of range): warned, never fatal; snapshots (a
 * level-triggered pin awaiting its EOI saved and loaded into another, which goes on the
 * same; every truncation and bad fields refused, leaving the I/O APIC as it was).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/ioapic.h"
#include "snapshot/snapfile.h"

#define MAX_SENT 16

static struct { unsigned pin; struct ioapic_msi m; } sent[MAX_SENT];
static unsigned nsent, nwarn, nchanged;
static char last_warn[200];

static void capture_send(void *ctx, unsigned pin, const struct ioapic_msi *m)
{
	(void)ctx;
	if (nsent < MAX_SENT) {
		sent[nsent].pin = pin;
		sent[nsent].m = *m;
	}
	nsent++;
}

static void count_changed(void *ctx, unsigned pin)
{
	(void)ctx;
	(void)pin;
	nchanged++;
}

static void count_warn(void *ctx, const char *msg)
{
	(void)ctx;
	nwarn++;
	strncpy(last_warn, msg, sizeof(last_warn) - 1);
}

static struct ioapic *make(void)
{
	const struct ioapic_config c = { .id = 5, .send = capture_send, .changed = count_changed,
					 .warn = count_warn };

	nsent = nwarn = nchanged = 0;
	last_warn[0] = 0;
	struct ioapic *io = ioapic_create(&c);
	assert_non_null(io);
	return io;
}

static uint32_t rd(struct ioapic *io, uint32_t index)
{
	ioapic_mmio_write(io, IOAPIC_IOREGSEL, 4, index);
	return ioapic_mmio_read(io, IOAPIC_IOWIN, 4);
}

static void wr(struct ioapic *io, uint32_t index, uint32_t v)
{
	ioapic_mmio_write(io, IOAPIC_IOREGSEL, 4, index);
	ioapic_mmio_write(io, IOAPIC_IOWIN, 4, v);
}

static void set_rte(struct ioapic *io, unsigned pin, uint64_t v)
{
	wr(io, IOAPIC_REG_REDTBL + 2 * pin + 1, (uint32_t)(v >> 32));
	wr(io, IOAPIC_REG_REDTBL + 2 * pin, (uint32_t)v);
}

static void test_reset_and_ids(void **state)
{
	(void)state;
	struct ioapic *io = make();

	assert_int_equal(rd(io, IOAPIC_REG_ID), 5u << 24);
	assert_int_equal(rd(io, IOAPIC_REG_VER), 0x00170020u); /* 24 entries, version 0x20 */
	assert_int_equal(rd(io, IOAPIC_REG_ARB), 5u << 24);
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		assert_int_equal(ioapic_rte(io, pin), IOAPIC_RTE_MASKED);
		assert_int_equal(rd(io, IOAPIC_REG_REDTBL + 2 * pin), IOAPIC_RTE_MASKED);
		assert_int_equal(rd(io, IOAPIC_REG_REDTBL + 2 * pin + 1), 0);
	}
	/* The ID is 4 bits wide (27:24); the others are read-only. */
	wr(io, IOAPIC_REG_ID, 0xff000000u);
	assert_int_equal(rd(io, IOAPIC_REG_ID), 0x0f000000u);
	wr(io, IOAPIC_REG_VER, 0);
	assert_int_equal(rd(io, IOAPIC_REG_VER), 0x00170020u);
	assert_int_equal(nwarn, 1);
	/* IOREGSEL keeps its low byte and reads back. */
	ioapic_mmio_write(io, IOAPIC_IOREGSEL, 4, 0x1234);
	assert_int_equal(ioapic_mmio_read(io, IOAPIC_IOREGSEL, 4), 0x34);
	ioapic_mmio_write(io, IOAPIC_IOREGSEL, 1, 0x11);
	assert_int_equal(ioapic_mmio_read(io, IOAPIC_IOREGSEL, 4), 0x11);
	ioapic_reset(io);
	assert_int_equal(rd(io, IOAPIC_REG_ID), 5u << 24);
	ioapic_destroy(io);
}

static void test_rte_bits(void **state)
{
	(void)state;
	struct ioapic *io = make();

	/* Every writable bit, and the read-only ones (delivery status, remote IRR) refused. */
	wr(io, IOAPIC_REG_REDTBL + 6, 0xffffffffu);
	assert_int_equal(rd(io, IOAPIC_REG_REDTBL + 6),
			 (uint32_t)(IOAPIC_RTE_VECTOR | IOAPIC_RTE_DELMOD | IOAPIC_RTE_LOGICAL |
				    IOAPIC_RTE_ACTIVE_LOW | IOAPIC_RTE_LEVEL | IOAPIC_RTE_MASKED));
	wr(io, IOAPIC_REG_REDTBL + 7, 0xffffffffu);
	assert_int_equal(rd(io, IOAPIC_REG_REDTBL + 7), 0xfffe0000u); /* 63:56, 55:49 */
	assert_int_equal(nsent, 0);
	assert_int_equal(nwarn, 0);
	ioapic_destroy(io);
}

static void test_edge_and_mask(void **state)
{
	(void)state;
	struct ioapic *io = make();

	set_rte(io, 4, 0x31 | (3ull << IOAPIC_RTE_DEST_SHIFT)); /* edge, fixed, physical 3 */
	ioapic_set_irq(io, 4, true);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent[0].pin, 4);
	assert_int_equal(sent[0].m.address, 0xfee03000u);
	assert_int_equal(sent[0].m.data, 0x4031u);
	/* Held high: no new edge.  Low then high: one more. */
	ioapic_set_irq(io, 4, true);
	assert_int_equal(nsent, 1);
	ioapic_set_irq(io, 4, false);
	ioapic_set_irq(io, 4, true);
	assert_int_equal(nsent, 2);
	ioapic_set_irq(io, 4, false);
	/* An edge is not latched in an edge entry: no remote IRR, EOI changes nothing. */
	assert_false(ioapic_rte(io, 4) & IOAPIC_RTE_REMOTE_IRR);
	ioapic_eoi(io, 0x31);
	assert_int_equal(nsent, 2);
	/* Masked: the edge is ignored, and not delivered when unmasked (82093AA 3.2.4). */
	set_rte(io, 4, 0x31 | IOAPIC_RTE_MASKED);
	ioapic_set_irq(io, 4, true);
	ioapic_set_irq(io, 4, false);
	set_rte(io, 4, 0x31);
	assert_int_equal(nsent, 2);
	ioapic_destroy(io);
}

static void test_level_remote_irr_eoi(void **state)
{
	(void)state;
	struct ioapic *io = make();

	set_rte(io, 9, 0x41 | IOAPIC_RTE_LEVEL);
	ioapic_set_irq(io, 9, true);
	assert_int_equal(nsent, 1);
	assert_int_equal(sent[0].m.data, 0xc041u); /* level, assert */
	assert_true(ioapic_rte(io, 9) & IOAPIC_RTE_REMOTE_IRR);
	assert_true(rd(io, IOAPIC_REG_REDTBL + 18) & IOAPIC_RTE_REMOTE_IRR);
	/* In service: asserting again sends nothing. */
	ioapic_set_irq(io, 9, true);
	assert_int_equal(nsent, 1);
	/* EOI of another vector: nothing.  Of ours with the line still high: sent again. */
	ioapic_eoi(io, 0x42);
	assert_int_equal(nsent, 1);
	ioapic_eoi(io, 0x41);
	assert_int_equal(nsent, 2);
	assert_true(ioapic_rte(io, 9) & IOAPIC_RTE_REMOTE_IRR);
	/* Line low, then EOI: remote IRR clear, nothing sent. */
	ioapic_set_irq(io, 9, false);
	ioapic_eoi(io, 0x41);
	assert_int_equal(nsent, 2);
	assert_false(ioapic_rte(io, 9) & IOAPIC_RTE_REMOTE_IRR);
	/* The EOI register (version 0x20) does what the broadcast does. */
	ioapic_set_irq(io, 9, true);
	assert_int_equal(nsent, 3);
	ioapic_set_irq(io, 9, false);
	ioapic_mmio_write(io, IOAPIC_EOIR, 4, 0x41);
	assert_false(ioapic_rte(io, 9) & IOAPIC_RTE_REMOTE_IRR);
	assert_int_equal(ioapic_mmio_read(io, IOAPIC_EOIR, 4), 0);
	/* Remote IRR is read-only: a write of the bit does not set or clear it. */
	ioapic_set_irq(io, 9, true);
	assert_int_equal(nsent, 4);
	wr(io, IOAPIC_REG_REDTBL + 18, 0x41 | IOAPIC_RTE_LEVEL);
	assert_true(ioapic_rte(io, 9) & IOAPIC_RTE_REMOTE_IRR);
	assert_int_equal(nsent, 4);
	/* Made edge-triggered: no longer in service. */
	wr(io, IOAPIC_REG_REDTBL + 18, 0x41);
	assert_false(ioapic_rte(io, 9) & IOAPIC_RTE_REMOTE_IRR);
	assert_int_equal(nwarn, 0);
	ioapic_destroy(io);
}

static void test_level_masked_then_unmasked(void **state)
{
	(void)state;
	struct ioapic *io = make();

	set_rte(io, 10, 0x50 | IOAPIC_RTE_LEVEL | IOAPIC_RTE_MASKED);
	ioapic_set_irq(io, 10, true);
	assert_int_equal(nsent, 0);
	/* Unmasked while asserted: sent at once. */
	set_rte(io, 10, 0x50 | IOAPIC_RTE_LEVEL);
	assert_int_equal(nsent, 1);
	/* Masked while in service: the EOI clears remote IRR, nothing is sent. */
	set_rte(io, 10, 0x50 | IOAPIC_RTE_LEVEL | IOAPIC_RTE_MASKED);
	ioapic_eoi(io, 0x50);
	assert_int_equal(nsent, 1);
	/* Deasserted before the unmask: nothing. */
	ioapic_set_irq(io, 10, false);
	set_rte(io, 10, 0x50 | IOAPIC_RTE_LEVEL);
	assert_int_equal(nsent, 1);
	ioapic_destroy(io);
}

static void test_msi_encoding(void **state)
{
	(void)state;
	struct ioapic_msi m;

	/* Physical destination 0x12, fixed, edge. */
	m = ioapic_rte_msi(0x20 | (0x12ull << 56));
	assert_int_equal(m.address, 0xfee12000u);
	assert_int_equal(m.data, 0x4020u);
	/* Logical destination 0x0f, lowest priority, level. */
	m = ioapic_rte_msi(0x33 | (1ull << 8) | IOAPIC_RTE_LOGICAL | IOAPIC_RTE_LEVEL |
			   (0x0full << 56));
	assert_int_equal(m.address, 0xfee0f004u);
	assert_int_equal(m.data, 0xc133u);
	/* APIC ID 299 = 0x12b: bits 7:0 in 63:56, bits 14:8 in 55:49 (the extended
	 * destination ID); the message carries bits 31:8 in address bits 63:40. */
	m = ioapic_rte_msi(0x20 | (0x2bull << 56) | (0x01ull << IOAPIC_RTE_EXT_DEST_SHIFT));
	assert_int_equal(m.address, 0x00000100fee2b000ull);
	m = ioapic_rte_msi(0x20 | (0xffull << 56) | IOAPIC_RTE_EXT_DEST);
	assert_int_equal(m.address, 0x00007f00feeff000ull);
	/* NMI, INIT, ExtINT: the delivery mode in data bits 10:8. */
	assert_int_equal(ioapic_rte_msi((uint64_t)IOAPIC_DM_NMI << 8).data, 0x4400u);
	assert_int_equal(ioapic_rte_msi((uint64_t)IOAPIC_DM_INIT << 8).data, 0x4500u);
	assert_int_equal(ioapic_rte_msi((uint64_t)IOAPIC_DM_EXTINT << 8).data, 0x4700u);
	/* Polarity, mask, remote IRR and delivery status are not part of the message. */
	m = ioapic_rte_msi(0x20 | IOAPIC_RTE_ACTIVE_LOW | IOAPIC_RTE_MASKED |
			   IOAPIC_RTE_REMOTE_IRR | IOAPIC_RTE_DELIVS);
	assert_int_equal(m.address, 0xfee00000u);
	assert_int_equal(m.data, 0x4020u);
}

static void test_delivery_modes_sent(void **state)
{
	(void)state;
	struct ioapic *io = make();

	set_rte(io, 1, (uint64_t)IOAPIC_DM_NMI << 8 | (1ull << 56));
	ioapic_set_irq(io, 1, true);
	set_rte(io, 2, (uint64_t)IOAPIC_DM_EXTINT << 8);
	ioapic_set_irq(io, 2, true);
	assert_int_equal(nsent, 2);
	assert_int_equal(sent[0].m.data, 0x4400u);
	assert_int_equal(sent[0].m.address, 0xfee01000u);
	assert_int_equal(sent[1].m.data, 0x4700u);
	/* Reserved delivery modes 3 and 6 are dropped with a warning. */
	set_rte(io, 3, 3ull << 8);
	ioapic_set_irq(io, 3, true);
	set_rte(io, 6, 6ull << 8);
	ioapic_set_irq(io, 6, true);
	assert_int_equal(nsent, 2);
	assert_int_equal(nwarn, 2);
	assert_non_null(strstr(last_warn, "reserved"));
	ioapic_destroy(io);
}

static void test_changed(void **state)
{
	(void)state;
	struct ioapic *io = make();

	set_rte(io, 4, 0x31);                     /* vector: changed */
	assert_int_equal(nchanged, 1);
	set_rte(io, 4, 0x31 | IOAPIC_RTE_MASKED); /* mask only: same message */
	set_rte(io, 4, 0x31);
	assert_int_equal(nchanged, 1);
	set_rte(io, 4, 0x31 | (2ull << 56));      /* destination */
	assert_int_equal(nchanged, 2);
	set_rte(io, 4, 0x31 | (2ull << 56) | IOAPIC_RTE_LEVEL); /* trigger mode */
	assert_int_equal(nchanged, 3);
	ioapic_destroy(io);
}

static void test_bad_accesses(void **state)
{
	(void)state;
	struct ioapic *io = make();

	/* Index beyond the table and in the gap below it: read 0, writes ignored, warned. */
	assert_int_equal(rd(io, 0x40), 0);
	assert_int_equal(rd(io, 0x03), 0);
	assert_int_equal(rd(io, 0xff), 0);
	wr(io, 0x40, 0x1234);
	wr(io, 0x0f, 0x1234);
	assert_int_equal(nwarn, 5);
	assert_non_null(strstr(last_warn, "does not exist"));
	/* Wrong widths on IOWIN, unknown offsets: warned, nothing changes. */
	ioapic_mmio_write(io, IOAPIC_IOREGSEL, 4, IOAPIC_REG_REDTBL);
	ioapic_mmio_write(io, IOAPIC_IOWIN, 2, 0x20);
	ioapic_mmio_write(io, IOAPIC_IOWIN, 1, 0x20);
	assert_int_equal(ioapic_mmio_read(io, IOAPIC_IOWIN, 2), 0);
	ioapic_mmio_write(io, 0x20, 4, 0x20);
	assert_int_equal(ioapic_mmio_read(io, 0x30, 4), 0);
	ioapic_mmio_write(io, 0xffc, 4, 0);
	assert_int_equal(nwarn, 11);
	assert_int_equal(ioapic_rte(io, 0), IOAPIC_RTE_MASKED);
	/* Pins that do not exist: ignored. */
	ioapic_set_irq(io, IOAPIC_PINS, true);
	ioapic_set_irq(io, 1000, true);
	assert_int_equal(ioapic_rte(io, IOAPIC_PINS), 0);
	assert_int_equal(nsent, 0);
	ioapic_destroy(io);
}

static void save(const struct ioapic *io, struct snap_enc *e)
{
	*e = (struct snap_enc){ 0 };
	ioapic_save(io, e);
	assert_false(e->oom);
}

static void assert_same_state(const struct ioapic *a, const struct ioapic *b)
{
	struct snap_enc ea, eb;

	save(a, &ea);
	save(b, &eb);
	assert_int_equal(ea.len, eb.len);
	assert_memory_equal(ea.buf, eb.buf, ea.len);
	snap_enc_free(&ea);
	snap_enc_free(&eb);
}

/* Pin 9 level-triggered, sent and awaiting its EOI with its line high; ID and IOREGSEL moved. */
static struct ioapic *awaiting_eoi(void)
{
	struct ioapic *io = make();

	wr(io, IOAPIC_REG_ID, 9u << 24);
	set_rte(io, 9, 0x41 | IOAPIC_RTE_LEVEL | (2ull << IOAPIC_RTE_DEST_SHIFT));
	set_rte(io, 4, 0x34);
	ioapic_set_irq(io, 9, true);
	assert_int_equal(nsent, 1);
	assert_true(ioapic_rte(io, 9) & IOAPIC_RTE_REMOTE_IRR);
	ioapic_mmio_write(io, IOAPIC_IOREGSEL, 4, IOAPIC_REG_REDTBL + 2 * 9);
	return io;
}

static void test_snapshot_round_trip(void **state)
{
	(void)state;
	struct ioapic *io = awaiting_eoi();
	struct ioapic *copy = make();
	struct snap_enc e;
	struct snap_dec d;
	char err[160] = "";

	nsent = nchanged = 0;
	save(io, &e);
	snap_dec_init(&d, e.buf, e.len);
	assert_int_equal(ioapic_load(copy, &d, err, sizeof(err)), 0);
	assert_true(snap_dec_done(&d));
	assert_int_equal(nsent + nchanged, 0); /* a load sends nothing and reports nothing */
	assert_same_state(io, copy);
	/* Both go on alike: IOREGSEL, ID, then the EOI sends again as the line is still high. */
	struct ioapic *both[2] = { io, copy };
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(ioapic_mmio_read(both[i], IOAPIC_IOWIN, 4), 0x41 | 0x8000 | 0x4000);
		assert_int_equal(rd(both[i], IOAPIC_REG_ID), 9u << 24);
		ioapic_set_irq(both[i], 9, true);
		assert_int_equal(nsent, i);
		ioapic_eoi(both[i], 0x41);
		assert_int_equal(nsent, i + 1);
		assert_int_equal(sent[i].pin, 9);
		assert_int_equal(sent[i].m.address, 0xfee02000u);
		assert_int_equal(sent[i].m.data, 0xc041u);
	}
	assert_same_state(io, copy);
	snap_enc_free(&e);
	ioapic_destroy(io);
	ioapic_destroy(copy);
}

/* Offsets in the payload: version, IOREGSEL, ID, pin count, then 8 bytes per entry. */
#define SNAP_RTE(pin) (4 + 4 + 1 + 4 + 8 * (pin))

static void refuse(struct ioapic *io, struct snap_enc *e, size_t off, uint8_t v,
		   const char *why)
{
	uint8_t old = e->buf[off];
	struct snap_dec d;
	char err[160] = "";

	e->buf[off] = v;
	snap_dec_init(&d, e->buf, e->len);
	assert_int_equal(ioapic_load(io, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, why));
	e->buf[off] = old;
}

/*
 * An ID past the register's 4 bits (the platform numbers the I/O APIC after the CPUs: 0x40
 * with 64 of them) reads back as its low 4 bits, and the state saved at reset loads.
 */
static void test_snapshot_wide_id(void **state)
{
	const struct ioapic_config c = { .id = 0x40, .send = capture_send,
					 .changed = count_changed, .warn = count_warn };
	struct ioapic *a = ioapic_create(&c), *b = ioapic_create(&c);
	struct snap_enc e = { 0 };
	struct snap_dec d;
	char err[160] = "";

	(void)state;
	assert_int_equal(rd(a, 0) >> 24, 0x0);
	ioapic_save(a, &e);
	snap_dec_init(&d, e.buf, e.len);
	if (ioapic_load(b, &d, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(rd(b, 0) >> 24, 0x0);
	snap_enc_free(&e);
	ioapic_destroy(a);
	ioapic_destroy(b);
}

static void test_snapshot_refused(void **state)
{
	(void)state;
	struct ioapic *io = awaiting_eoi();
	struct ioapic *other = make();
	struct snap_enc e, before, after;
	struct snap_dec d;
	char err[160];

	set_rte(other, 1, 0x31);
	save(io, &e);
	save(other, &before);
	for (size_t len = 0; len < e.len; len++) {
		err[0] = 0;
		snap_dec_init(&d, e.buf, len);
		assert_int_equal(ioapic_load(other, &d, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "I/O APIC state"));
	}
	refuse(other, &e, 0, 7, "version 7");
	refuse(other, &e, 4 + 4 + 1, 16, "16 pins");
	refuse(other, &e, 4 + 4, 0x10, "ID");                    /* 82093AA: a 4-bit ID */
	refuse(other, &e, SNAP_RTE(3) + 2, 0x02, "entry 3");     /* bit 17: reserved */
	refuse(other, &e, SNAP_RTE(9) + 1, 0x40, "entry 9");     /* edge with remote IRR */
	refuse(other, &e, SNAP_RTE(24) + 3, 0x01, "input levels"); /* pin 24 asserted */
	save(other, &after);
	assert_int_equal(after.len, before.len);
	assert_memory_equal(after.buf, before.buf, after.len);
	snap_enc_free(&e);
	snap_enc_free(&before);
	snap_enc_free(&after);
	ioapic_destroy(io);
	ioapic_destroy(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_and_ids),
		cmocka_unit_test(test_rte_bits),
		cmocka_unit_test(test_edge_and_mask),
		cmocka_unit_test(test_level_remote_irr_eoi),
		cmocka_unit_test(test_level_masked_then_unmasked),
		cmocka_unit_test(test_msi_encoding),
		cmocka_unit_test(test_delivery_modes_sent),
		cmocka_unit_test(test_changed),
		cmocka_unit_test(test_bad_accesses),
		cmocka_unit_test(test_snapshot_round_trip),
		cmocka_unit_test(test_snapshot_wide_id),
		cmocka_unit_test(test_snapshot_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
