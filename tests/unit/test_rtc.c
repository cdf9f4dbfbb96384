/*
 * test_rtc.c - the MC146818A CMOS clock through ports 0x70/0x71: the time against the
 * host's UTC clock in BCD and in binary, 12-hour mode, the status registers Linux checks,
 * setting the clock with register B's SET bit, CMOS RAM and rtc_set_cmos, the NMI mask bit,
 * and a hostile guest on every port, width and value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "dev/bus.h"
#include "bus_io.h"
#include "dev/rtc.h"

static uint8_t cmos_read(struct bus *b, uint8_t index)
{
	io(b, RTC_INDEX_PORT, true, 1, index);
	return (uint8_t)io(b, RTC_DATA_PORT, false, 1, 0);
}

static void cmos_write(struct bus *b, uint8_t index, uint8_t v)
{
	io(b, RTC_INDEX_PORT, true, 1, index);
	io(b, RTC_DATA_PORT, true, 1, v);
}

static int bcd(uint8_t v)
{
	assert_true((v & 0x0f) <= 9 && (v >> 4) <= 9);
	return (v >> 4) * 10 + (v & 0x0f);
}

struct clock {
	int sec, min, hour, wday, mday, mon, year, century;
};

/* Read the clock within one host second; returns that second. */
static time_t read_clock(struct bus *b, struct clock *c, bool binary)
{
	for (;;) {
		time_t t0 = time(NULL);
		uint8_t r[10], cent;
		for (uint8_t i = 0; i < 10; i++)
			r[i] = cmos_read(b, i);
		cent = cmos_read(b, CMOS_CENTURY);
		if (time(NULL) != t0)
			continue;
		int (*dec)(uint8_t) = binary ? NULL : bcd;
#define D(x) (dec ? dec(x) : (int)(x))
		*c = (struct clock){ D(r[0]), D(r[2]), D(r[4]), D(r[6]), D(r[7]), D(r[8]), D(r[9]),
				     D(cent) };
#undef D
		return t0;
	}
}

static void check_against_host(struct bus *b, bool binary)
{
	struct clock c;
	struct tm tm;
	time_t t = read_clock(b, &c, binary);

	gmtime_r(&t, &tm);
	assert_int_equal(c.sec, tm.tm_sec);
	assert_int_equal(c.min, tm.tm_min);
	assert_int_equal(c.hour, tm.tm_hour);
	assert_int_equal(c.wday, tm.tm_wday + 1);
	assert_int_equal(c.mday, tm.tm_mday);
	assert_int_equal(c.mon, tm.tm_mon + 1);
	assert_int_equal(c.century * 100 + c.year, tm.tm_year + 1900);
}

static void test_time_bcd_and_binary(void **state)
{
	struct bus *b = bus_create("pio");
	struct rtc *r = rtc_create(b);

	(void)state;
	assert_non_null(r);
	assert_int_equal(cmos_read(b, 0x0b), 0x02); /* 24-hour, BCD */
	check_against_host(b, false);
	cmos_write(b, 0x0b, 0x06); /* data mode binary */
	check_against_host(b, true);
	cmos_write(b, 0x0b, 0x02);
	check_against_host(b, false);
	rtc_destroy(r);
	bus_destroy(b);
}

static void test_12_hour(void **state)
{
	struct bus *b = bus_create("pio");
	struct rtc *r = rtc_create(b);

	(void)state;
	cmos_write(b, 0x0b, 0x00); /* 12-hour, BCD */
	for (;;) {
		time_t t0 = time(NULL);
		uint8_t h = cmos_read(b, 0x04);
		if (time(NULL) != t0)
			continue;
		struct tm tm;
		gmtime_r(&t0, &tm);
		int want = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
		assert_int_equal(bcd(h & 0x7f), want);
		assert_int_equal(!!(h & 0x80), tm.tm_hour >= 12);
		break;
	}
	rtc_destroy(r);
	bus_destroy(b);
}

static void test_status_registers(void **state)
{
	struct bus *b = bus_create("pio");
	struct rtc *r = rtc_create(b);

	(void)state;
	assert_int_equal(cmos_read(b, 0x0a), 0x26); /* UIP clear, 32.768 kHz divider */
	cmos_write(b, 0x0a, 0xa6);
	assert_int_equal(cmos_read(b, 0x0a), 0x26); /* UIP is read-only */
	assert_int_equal(cmos_read(b, 0x0c), 0x00);
	assert_int_equal(cmos_read(b, 0x0d), 0x80); /* valid RAM and time */
	cmos_write(b, 0x0d, 0x00);
	assert_int_equal(cmos_read(b, 0x0d), 0x80);
	/* Bit 7 of the index masks NMIs; the index itself is bits 6:0. */
	assert_false(rtc_nmi_masked(r));
	io(b, RTC_INDEX_PORT, true, 1, 0x8d);
	assert_true(rtc_nmi_masked(r));
	assert_int_equal(io(b, RTC_DATA_PORT, false, 1, 0), 0x80);
	/* A 16-bit access reaches index and data at once. */
	io(b, RTC_INDEX_PORT, true, 2, 0x5540);
	assert_false(rtc_nmi_masked(r));
	assert_int_equal(cmos_read(b, 0x40), 0x55);
	rtc_destroy(r);
	bus_destroy(b);
}

static void test_set_clock(void **state)
{
	struct bus *b = bus_create("pio");
	struct rtc *r = rtc_create(b);
	struct clock c;

	(void)state;
	cmos_write(b, 0x0b, 0x82); /* SET: the clock stands still while it is set */
	cmos_write(b, CMOS_CENTURY, 0x19);
	cmos_write(b, 0x09, 0x99);
	cmos_write(b, 0x08, 0x12);
	cmos_write(b, 0x07, 0x31);
	cmos_write(b, 0x04, 0x23);
	cmos_write(b, 0x02, 0x59);
	cmos_write(b, 0x00, 0x30);
	read_clock(b, &c, false);
	assert_int_equal(c.sec, 30);
	assert_int_equal(c.wday, 6); /* 1999-12-31 was a Friday */
	cmos_write(b, 0x0b, 0x02);  /* run from there */
	read_clock(b, &c, false);
	assert_int_equal(c.century * 100 + c.year, 1999);
	assert_int_equal(c.mon, 12);
	assert_int_equal(c.mday, 31);
	assert_int_equal(c.hour, 23);
	assert_int_equal(c.min, 59);
	assert_true(c.sec >= 30 && c.sec <= 35);
	rtc_destroy(r);
	bus_destroy(b);
}

static void test_cmos_ram(void **state)
{
	struct bus *b = bus_create("pio");
	struct rtc *r = rtc_create(b);

	(void)state;
	assert_int_equal(rtc_set_cmos(r, CMOS_MEM_16M_LO, 0x34), 0);
	assert_int_equal(rtc_set_cmos(r, CMOS_MEM_16M_HI, 0x12), 0);
	assert_int_equal(cmos_read(b, 0x34), 0x34);
	assert_int_equal(cmos_read(b, 0x35), 0x12);
	assert_int_equal(rtc_set_cmos(r, 0x00, 1), -1); /* the clock's */
	assert_int_equal(rtc_set_cmos(r, 0x0d, 1), -1);
	assert_int_equal(rtc_set_cmos(r, CMOS_CENTURY, 1), -1);
	assert_int_equal(rtc_set_cmos(r, 0x80, 1), -1);
	for (uint8_t i = 0x0e; i < 0x80; i++) {
		if (i != CMOS_CENTURY)
			cmos_write(b, i, (uint8_t)(i ^ 0xa5));
	}
	for (uint8_t i = 0x0e; i < 0x80; i++) {
		if (i != CMOS_CENTURY)
			assert_int_equal(cmos_read(b, i), i ^ 0xa5);
	}
	assert_int_equal(io(b, RTC_INDEX_PORT, false, 1, 0), 0xff); /* write-only */
	rtc_destroy(r);
	bus_destroy(b);
}

static void test_hostile_sweep(void **state)
{
	struct bus *b = bus_create("pio");
	struct rtc *r = rtc_create(b);
	static const uint32_t widths[] = { 1, 2, 4 };
	unsigned seed = 7;
	struct clock c;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		uint16_t port = (uint16_t)(0x6e + rand_r(&seed) % 6);
		uint32_t size = widths[rand_r(&seed) % 3];
		io(b, port, rand_r(&seed) & 1, size, (uint32_t)rand_r(&seed) * 2654435761u);
	}
	/* Back to BCD, 24 hours, running: the clock reads as a valid date. */
	cmos_write(b, 0x0b, 0x02);
	read_clock(b, &c, false);
	assert_true(c.sec < 60 && c.min < 60 && c.hour < 24);
	assert_true(c.mon >= 1 && c.mon <= 12 && c.mday >= 1 && c.mday <= 31);
	assert_true(c.wday >= 1 && c.wday <= 7);
	assert_int_equal(cmos_read(b, 0x0d), 0x80);
	rtc_destroy(r);
	bus_destroy(b);
}

/* A snapshot keeps the CMOS RAM and the guest's offset from host time (its clock runs on). */
static void test_snapshot_round_trip(void **state)
{
	struct bus *b1 = bus_create("pio"), *b2 = bus_create("pio");
	struct rtc *r1 = rtc_create(b1), *r2 = rtc_create(b2);
	struct snap_enc e = { 0 };
	struct snap_dec d;
	char err[128];

	(void)state;
	cmos_write(b1, 0x0b, 0x06);  /* binary */
	cmos_write(b1, 0x40, 0xa5);  /* a byte of CMOS RAM */
	cmos_write(b1, 0x09, 99);    /* the year: the guest's time is now off the host's */
	assert_int_equal(rtc_save(r1, &e), 0);
	snap_dec_init(&d, e.buf, e.len);
	assert_int_equal(rtc_load(r2, &d, err, sizeof(err)), 0);
	assert_int_equal(cmos_read(b2, 0x40), 0xa5);
	assert_int_equal(cmos_read(b2, 0x0b) & 0x04, 0x04);
	assert_int_equal(cmos_read(b2, 0x09), 99);
	for (size_t n = 0; n < e.len; n++) {
		snap_dec_init(&d, e.buf, n);
		assert_int_equal(rtc_load(r2, &d, err, sizeof(err)), -1);
	}
	e.buf[0] = 0x80; /* an index past the CMOS */
	snap_dec_init(&d, e.buf, e.len);
	assert_int_equal(rtc_load(r2, &d, err, sizeof(err)), -1);
	snap_enc_free(&e);
	rtc_destroy(r1);
	rtc_destroy(r2);
	bus_destroy(b1);
	bus_destroy(b2);
}

/*
 * The clock stays within what the registers can show (years 0000-9999): a guest that walks
 * it before year 0 (century 0, year 0, then month 0 ten times) is not followed, and every
 * register still reads a valid BCD pair (fuzzing found a negative year encoded with a
 * left shift of a negative value).  A snapshot whose clock lies further away is refused.
 */
static void test_clock_bounds(void **state)
{
	struct bus *b = bus_create("pio"), *b2 = bus_create("pio");
	struct rtc *r = rtc_create(b), *r2 = rtc_create(b2);
	struct clock c;
	struct snap_enc e = { 0 };
	struct snap_dec d;
	char err[128];

	(void)state;
	cmos_write(b, 0x0b, 0x82); /* SET, BCD, 24-hour */
	cmos_write(b, CMOS_CENTURY, 0x00);
	cmos_write(b, 0x09, 0x00);
	cmos_write(b, 0x08, 0x01);
	cmos_write(b, 0x07, 0x01);
	for (int i = 0; i < 10; i++)
		cmos_write(b, 0x08, 0x00); /* month 0: the month before January */
	read_clock(b, &c, false);
	assert_int_equal(c.century * 100 + c.year, 0); /* still year 0000 */
	for (unsigned reg = 0; reg <= 9; reg++) {
		uint8_t v = cmos_read(b, (uint8_t)reg);
		assert_true((v >> 4) <= 9 && (v & 0xf) <= 9);
	}
	/* Offsets and frozen times from a file: each field past the bounds is refused. */
	assert_int_equal(rtc_save(r, &e), 0);
	const int64_t bad[] = { INT64_MIN, INT64_MAX, 400ll * 365 * 86400 * 100 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (size_t at = 2; at <= 10; at += 8) { /* offset, then frozen */
			uint8_t *p = malloc(e.len);
			assert_non_null(p);
			memcpy(p, e.buf, e.len);
			for (int k = 0; k < 8; k++)
				p[at + k] = (uint8_t)((uint64_t)bad[i] >> (8 * k));
			snap_dec_init(&d, p, e.len);
			assert_int_equal(rtc_load(r2, &d, err, sizeof(err)), -1);
			free(p);
		}
	}
	snap_dec_init(&d, e.buf, e.len);
	assert_int_equal(rtc_load(r2, &d, err, sizeof(err)), 0);
	snap_enc_free(&e);
	rtc_destroy(r);
	rtc_destroy(r2);
	bus_destroy(b);
	bus_destroy(b2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_time_bcd_and_binary),
		cmocka_unit_test(test_12_hour),
		cmocka_unit_test(test_status_registers),
		cmocka_unit_test(test_set_clock),
		cmocka_unit_test(test_cmos_ram),
		cmocka_unit_test(test_hostile_sweep),
		cmocka_unit_test(test_snapshot_round_trip),
		cmocka_unit_test(test_clock_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
