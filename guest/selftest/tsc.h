/*
 * tsc.h - the time-stamp counter's rate, measured on the BSP against its periodic local APIC
 * timer (TIMER_HZ, whose input clock the boot information gives): the guest is told the
 * APIC timer's clock, not the TSC's, so every TSC interval it reports is converted here.
 */
#ifndef SELFTEST_TSC_H
#define SELFTEST_TSC_H

#include <stdint.h>

/*
 * BSP, its periodic timer running, IF = 0: TSC ticks in one timer tick, measured over
 * `ticks` of them (at least 1) from the first tick edge on.  Waits with STI; HLT and returns
 * with IF = 0.  Never 0.
 */
uint64_t tsc_per_tick(uint32_t ticks);

/* `tsc` TSC ticks in nanoseconds, at `per_tick` TSC ticks per timer tick. */
uint64_t tsc_to_ns(uint64_t tsc, uint64_t per_tick);

#endif
