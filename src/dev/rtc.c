/*
 * rtc.c - see rtc.h.  Registers per the MC146818A data sheet: 0-9 time, date and alarm,
 * A-D control and status.  The time registers are computed from the host's clock on every
 * read, in BCD or binary (register B bit 2) and 12- or 24-hour form (register B bit 1).
 * A guest write to a time register moves the offset to the host's clock; while register B's
 * SET bit is on, the clock stands still for the guest to set it.
 */
#include "dev/rtc.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define RTC_SECONDS     0x00
#define RTC_SECONDS_ALM 0x01
#define RTC_MINUTES     0x02
#define RTC_MINUTES_ALM 0x03
#define RTC_HOURS       0x04
#define RTC_HOURS_ALM   0x05
#define RTC_DAY_OF_WEEK 0x06
#define RTC_DAY         0x07
#define RTC_MONTH       0x08
#define RTC_YEAR        0x09
#define RTC_REG_A       0x0a
#define RTC_REG_B       0x0b
#define RTC_REG_C       0x0c
#define RTC_REG_D       0x0d
#define RTC_FIRST_RAM   0x0e
#define CMOS_SIZE       128

#define RTC_A_UIP      0x80 /* update in progress: never, a read sees one consistent time */
#define RTC_A_DEFAULT  0x26 /* divider 010 (32.768 kHz time base), rate 0110 (1024 Hz)  */
#define RTC_B_SET      0x80
#define RTC_B_DM_BIN   0x04 /* data mode: binary (clear: BCD) */
#define RTC_B_24H      0x02
#define RTC_B_DEFAULT  RTC_B_24H
#define RTC_D_VRT      0x80 /* valid RAM and time: the battery is good */
#define RTC_HOUR_PM    0x80 /* 12-hour mode */
#define RTC_INDEX_MASK 0x7f
#define RTC_NMI_MASK   0x80

struct rtc {
	pthread_mutex_t lock;
	uint8_t index;
	bool nmi_masked;
	int64_t offset; /* guest time - host time, seconds */
	int64_t frozen; /* the guest's time while SET is on */
	uint8_t cmos[CMOS_SIZE];
};

/* ---- time ---- */

/*
 * The times the registers can show, with the century register: 0000-01-01 to 9999-12-31
 * (seconds since 1970, proleptic Gregorian).  A guest's write that would leave them is
 * dropped, and a snapshot whose clock lies further than their span away is refused, so
 * that the sums below stay far from int64 overflow.
 */
#define RTC_TIME_MIN (-62167219200ll)
#define RTC_TIME_MAX 253402300799ll
#define RTC_TIME_SPAN (RTC_TIME_MAX - RTC_TIME_MIN)

static int64_t guest_time(const struct rtc *r)
{
	if (r->cmos[RTC_REG_B] & RTC_B_SET)
		return r->frozen;
	return (int64_t)time(NULL) + r->offset;
}

static void guest_tm(const struct rtc *r, struct tm *tm)
{
	time_t t = (time_t)guest_time(r);

	gmtime_r(&t, tm);
}

static void set_guest_time(struct rtc *r, int64_t t)
{
	if (t < RTC_TIME_MIN || t > RTC_TIME_MAX)
		return;
	if (r->cmos[RTC_REG_B] & RTC_B_SET)
		r->frozen = t;
	else
		r->offset = t - (int64_t)time(NULL);
}

static bool binary(const struct rtc *r)
{
	return r->cmos[RTC_REG_B] & RTC_B_DM_BIN;
}

static uint8_t encode(const struct rtc *r, int v)
{
	v %= 100;
	if (v < 0) /* a clock restored outside RTC_TIME_MIN..MAX: its digits, still 0..99 */
		v += 100;
	return binary(r) ? (uint8_t)v : (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int decode(const struct rtc *r, uint8_t v)
{
	return binary(r) ? v : (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t encode_hour(const struct rtc *r, int h)
{
	if (r->cmos[RTC_REG_B] & RTC_B_24H)
		return encode(r, h);
	/* 12-hour mode: 12, 1..11 with bit 7 for PM (MC146818A, table 3). */
	return encode(r, h % 12 ? h % 12 : 12) | (h >= 12 ? RTC_HOUR_PM : 0);
}

static int decode_hour(const struct rtc *r, uint8_t v)
{
	if (r->cmos[RTC_REG_B] & RTC_B_24H)
		return decode(r, v);
	return decode(r, v & (uint8_t)~RTC_HOUR_PM) % 12 + ((v & RTC_HOUR_PM) ? 12 : 0);
}

static uint8_t read_time(const struct rtc *r, unsigned reg)
{
	struct tm tm;

	guest_tm(r, &tm);
	switch (reg) {
	case RTC_SECONDS: return encode(r, tm.tm_sec);
	case RTC_MINUTES: return encode(r, tm.tm_min);
	case RTC_HOURS: return encode_hour(r, tm.tm_hour);
	case RTC_DAY_OF_WEEK: return encode(r, tm.tm_wday + 1); /* 1 = Sunday */
	case RTC_DAY: return encode(r, tm.tm_mday);
	case RTC_MONTH: return encode(r, tm.tm_mon + 1);
	case RTC_YEAR: return encode(r, tm.tm_year + 1900);
	default: return encode(r, (tm.tm_year + 1900) / 100); /* CMOS_CENTURY */
	}
}

/* Replace one field of the guest's time; out-of-range values are normalized by timegm. */
static void write_time(struct rtc *r, unsigned reg, uint8_t v)
{
	struct tm tm;
	int year;

	guest_tm(r, &tm);
	year = tm.tm_year + 1900;
	switch (reg) {
	case RTC_SECONDS: tm.tm_sec = decode(r, v); break;
	case RTC_MINUTES: tm.tm_min = decode(r, v); break;
	case RTC_HOURS: tm.tm_hour = decode_hour(r, v); break;
	case RTC_DAY: tm.tm_mday = decode(r, v); break;
	case RTC_MONTH: tm.tm_mon = decode(r, v) - 1; break;
	case RTC_YEAR: tm.tm_year = year / 100 * 100 + decode(r, v) - 1900; break;
	case CMOS_CENTURY: tm.tm_year = decode(r, v) * 100 + year % 100 - 1900; break;
	default: return; /* the day of the week follows from the date */
	}
	time_t t = timegm(&tm);
	if (t != (time_t)-1)
		set_guest_time(r, (int64_t)t);
}

static bool is_time(unsigned reg)
{
	return reg == RTC_SECONDS || reg == RTC_MINUTES || reg == RTC_HOURS ||
	       (reg >= RTC_DAY_OF_WEEK && reg <= RTC_YEAR) || reg == CMOS_CENTURY;
}

/* ---- registers ---- */

static uint8_t read_reg(struct rtc *r, unsigned reg)
{
	uint8_t v;

	if (is_time(reg))
		return read_time(r, reg);
	switch (reg) {
	case RTC_REG_A: return r->cmos[reg] & (uint8_t)~RTC_A_UIP;
	case RTC_REG_C:
		v = r->cmos[reg]; /* interrupt flags: reading clears them */
		r->cmos[reg] = 0;
		return v;
	case RTC_REG_D: return RTC_D_VRT;
	default: return r->cmos[reg]; /* alarms, B, CMOS RAM */
	}
}

static void write_reg_b(struct rtc *r, uint8_t v)
{
	bool was_set = r->cmos[RTC_REG_B] & RTC_B_SET;
	int64_t t = guest_time(r);

	r->cmos[RTC_REG_B] = v;
	if (!was_set && (v & RTC_B_SET))
		r->frozen = t;                          /* the clock stops ...             */
	else if (was_set && !(v & RTC_B_SET))
		r->offset = t - (int64_t)time(NULL);    /* ... and runs on from what was set */
}

static void write_reg(struct rtc *r, unsigned reg, uint8_t v)
{
	if (is_time(reg)) {
		write_time(r, reg, v);
		return;
	}
	switch (reg) {
	case RTC_REG_A: r->cmos[reg] = v & (uint8_t)~RTC_A_UIP; break;
	case RTC_REG_B: write_reg_b(r, v); break;
	case RTC_REG_C: case RTC_REG_D: break; /* read-only */
	default: r->cmos[reg] = v; break;
	}
}

static void rtc_io(void *ctx, const struct bus_access *a)
{
	struct rtc *r = ctx;

	pthread_mutex_lock(&r->lock);
	for (uint32_t i = 0; i < a->size; i++) {
		uint64_t port = a->addr + i;
		if (port == RTC_INDEX_PORT && a->write) {
			r->index = a->data[i] & RTC_INDEX_MASK;
			r->nmi_masked = a->data[i] & RTC_NMI_MASK;
		} else if (port == RTC_DATA_PORT && a->write) {
			write_reg(r, r->index, a->data[i]);
		} else if (port == RTC_DATA_PORT) {
			a->data[i] = read_reg(r, r->index);
		} else if (!a->write) {
			a->data[i] = 0xff; /* the index register is write-only */
		}
	}
	pthread_mutex_unlock(&r->lock);
}

/* ---- lifecycle ---- */

int rtc_set_cmos(struct rtc *r, unsigned index, uint8_t value)
{
	if (index < RTC_FIRST_RAM || index >= CMOS_SIZE || index == CMOS_CENTURY)
		return -1;
	pthread_mutex_lock(&r->lock);
	r->cmos[index] = value;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

bool rtc_nmi_masked(struct rtc *r)
{
	pthread_mutex_lock(&r->lock);
	bool masked = r->nmi_masked;
	pthread_mutex_unlock(&r->lock);
	return masked;
}

struct rtc *rtc_create(struct bus *pio)
{
	struct rtc *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	pthread_mutex_init(&r->lock, NULL);
	r->cmos[RTC_REG_A] = RTC_A_DEFAULT;
	r->cmos[RTC_REG_B] = RTC_B_DEFAULT;
	if (bus_register(pio, RTC_INDEX_PORT, 2, rtc_io, r, "rtc") < 0) {
		rtc_destroy(r);
		return NULL;
	}
	return r;
}

void rtc_destroy(struct rtc *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* ---- snapshots ---- */

/* The guest's clock is kept as an offset from the host's: it runs on while saved. */
int rtc_save(struct rtc *r, struct snap_enc *e)
{
	pthread_mutex_lock(&r->lock);
	snap_enc_u8(e, r->index);
	snap_enc_u8(e, r->nmi_masked);
	snap_enc_u64(e, (uint64_t)r->offset);
	snap_enc_u64(e, (uint64_t)r->frozen);
	snap_enc_bytes(e, r->cmos, CMOS_SIZE);
	pthread_mutex_unlock(&r->lock);
	return e->oom ? -1 : 0;
}

int rtc_load(struct rtc *r, struct snap_dec *d, char *err, size_t errlen)
{
	uint8_t index = snap_dec_u8(d);
	bool nmi = snap_dec_u8(d) != 0;
	int64_t offset = (int64_t)snap_dec_u64(d);
	int64_t frozen = (int64_t)snap_dec_u64(d);
	uint8_t cmos[CMOS_SIZE];

	snap_dec_bytes(d, cmos, CMOS_SIZE);
	if (!snap_dec_done(d) || index >= CMOS_SIZE || offset < -RTC_TIME_SPAN ||
	    offset > RTC_TIME_SPAN || frozen < RTC_TIME_MIN || frozen > RTC_TIME_MAX) {
		snprintf(err, errlen, "RTC: bad state");
		return -1;
	}
	pthread_mutex_lock(&r->lock);
	r->index = index;
	r->nmi_masked = nmi;
	r->offset = offset;
	r->frozen = frozen;
	memcpy(r->cmos, cmos, CMOS_SIZE);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/* ---- the device table's row (dev/device.h) ---- */

DEVICE_UNTYPED(rtc)

static void *device_create(const struct device_env *env)
{
	return rtc_create(env->pio);
}

const struct device_desc rtc_device = {
	.name = "RTC",
	.snap_id = 1,
	.claims = { { DEVICE_PIO, RTC_INDEX_PORT, 2 } },
	.create = device_create,
	.destroy = rtc_untyped_destroy,
	.save = rtc_untyped_save,
	.load = rtc_untyped_load,
};
