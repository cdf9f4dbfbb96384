/*
 * tsc.c - see tsc.h.  The timer's ticks are counted by its interrupt handler (g.ticks);
 * timing starts at a tick edge, so the measurement spans whole ticks.  The RTC is read
 * through the CMOS index and data ports, register 0 being its seconds (MC146818A data
 * sheet); only a change matters, so BCD or binary makes no difference.
 */
#include "tsc.h"

#include <stdbool.h>

#include "arch.h"
#include "state.h"

#define NS_PER_SECOND 1000000000ull
#define CMOS_INDEX 0x70u
#define CMOS_DATA 0x71u
#define RTC_SECONDS 0x00u          /* bit 7 of the index clear: NMIs stay enabled */
#define RTC_WAIT_TICKS (3u * TIMER_HZ)

static uint32_t ticks_now(void)
{
	return __atomic_load_n(&g.ticks, __ATOMIC_RELAXED);
}

/* Wait (STI; HLT, checked with IF = 0) until the tick count moved `n` past `from`. */
static void wait_ticks(uint32_t from, uint32_t n)
{
	while (ticks_now() - from < n) {
		sti_hlt();
		cli();
	}
}

uint64_t tsc_per_tick(uint32_t ticks)
{
	if (ticks == 0)
		ticks = 1;
	wait_ticks(ticks_now(), 1);
	uint64_t start = rdtsc();
	wait_ticks(ticks_now(), ticks);
	uint64_t per = (rdtsc() - start) / ticks;
	return per ? per : 1;
}

static uint8_t rtc_seconds(void)
{
	outb(CMOS_INDEX, RTC_SECONDS);
	return inb(CMOS_DATA);
}

/* IF = 1: spin until the RTC's seconds change; false if RTC_WAIT_TICKS ticks pass first. */
static bool rtc_next_second(void)
{
	uint8_t s = rtc_seconds();
	uint32_t start = ticks_now();

	while (rtc_seconds() == s)
		if (ticks_now() - start >= RTC_WAIT_TICKS)
			return false;
	return true;
}

uint64_t tsc_per_second(void)
{
	sti();
	bool ok = rtc_next_second();
	uint64_t start = rdtsc();
	ok = ok && rtc_next_second();
	uint64_t per = rdtsc() - start;
	cli();
	if (!ok)
		return 0;
	return per ? per : 1;
}

/* Quotient and remainder apart: tsc * NS_PER_SECOND alone could overflow 64 bits. */
uint64_t tsc_to_ns(uint64_t tsc, uint64_t per_second)
{
	return tsc / per_second * NS_PER_SECOND + tsc % per_second * NS_PER_SECOND / per_second;
}
