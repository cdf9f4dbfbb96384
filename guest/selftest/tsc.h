/*
 * tsc.h - the time-stamp counter's rate, which the guest is not told: measured on the BSP
 * against its periodic local APIC timer (TIMER_HZ, whose input clock the boot information
 * gives), or against the RTC's seconds.  The two differ where the LAPIC timer does not run
 * on wall time: mpvmm's software CPU counts guest time in instructions retired (and jumps it
 * forward when every vCPU halts) while RDTSC reads the host's TSC there.
 */
#ifndef SELFTEST_TSC_H
#define SELFTEST_TSC_H

#include <stdint.h>

/*
 * BSP, its periodic timer running, IF = 0: TSC ticks in one timer tick, measured over
 * `ticks` of them (at least 1) from the first tick edge on.  Waits with STI; HLT and returns
 * with IF = 0.  Never 0.  What a deadline on the guest's own timer needs.
 */
uint64_t tsc_per_tick(uint32_t ticks);

/*
 * BSP, its periodic timer running, IF = 0: TSC ticks in one second of the RTC, from one
 * change of its seconds register to the next (1 to 2 s), polled with interrupts on; 0 if
 * the seconds do not change within 3 s of the timer.  Returns with IF = 0.  Wall time, on
 * every platform whose RTC follows the host's clock (mpvmm's, QEMU's).
 */
uint64_t tsc_per_second(void);

/* `tsc` TSC ticks in nanoseconds, at `per_second` TSC ticks per second. */
uint64_t tsc_to_ns(uint64_t tsc, uint64_t per_second);

#endif
