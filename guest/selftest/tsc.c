/*
 * tsc.c - see tsc.h.  The timer's ticks are counted by its interrupt handler (g.ticks);
 * timing starts at a tick edge, so the measurement spans whole ticks.
 */
#include "tsc.h"

#include "arch.h"
#include "state.h"

#define NS_PER_TICK (1000000000ull / TIMER_HZ)

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

/* Quotient and remainder apart: tsc * NS_PER_TICK alone could overflow 64 bits. */
uint64_t tsc_to_ns(uint64_t tsc, uint64_t per_tick)
{
	return tsc / per_tick * NS_PER_TICK + tsc % per_tick * NS_PER_TICK / per_tick;
}
