/*
 * tscdeadline.c - see tscdeadline.h.  Intel SDM Vol. 3A, 10.5.4.1: LVT timer mode 10b arms
 * the timer with a write of the TSC value to IA32_TSC_DEADLINE (MSR 0x6E0); the interrupt
 * comes when the TSC reaches it, and the MSR then reads 0; writing 0 disarms it; a value
 * already passed fires at once.  The SDM asks for MFENCE between the LVT's MMIO write and
 * the WRMSR.  Every wait is bounded by the TSC itself, so a timer that never fires is a FAIL
 * line, not a hang.
 */
#include "tscdeadline.h"

#include <stdint.h>

#include "arch.h"
#include "lapic.h"
#include "lib.h"
#include "result.h"
#include "state.h"
#include "tsc.h"

#define MSR_TSC_DEADLINE 0x6e0u
#define LVT_TIMER_TSC_DEADLINE (2u << 17)
#define CPUID1_ECX_TSC_DEADLINE (1u << 24)
#define CALIBRATION_TICKS 2u /* the TSC rate, measured over two timer ticks */
#define LATE_TICKS 100u  /* a deadline may be this many 10 ms ticks late: the host is busy */

static uint32_t fired;       /* atomic: TSC-deadline interrupts taken */
static uint64_t fired_tsc;   /* the TSC when the last one was taken   */

void irq_tsc_deadline(void)
{
	__atomic_store_n(&fired_tsc, rdtsc(), __ATOMIC_RELAXED);
	__atomic_fetch_add(&fired, 1, __ATOMIC_RELEASE);
	lapic_eoi();
}

static uint32_t taken(void)
{
	return __atomic_load_n(&fired, __ATOMIC_ACQUIRE);
}

/* Interrupts on until `want` interrupts were taken or the TSC passes `until`. */
static void wait_for(uint32_t want, uint64_t until)
{
	sti();
	while (taken() < want && rdtsc() < until)
		cpu_relax();
	cli();
}

static void arm(uint64_t tsc)
{
	__asm__ volatile("mfence" : : : "memory");
	wrmsr(MSR_TSC_DEADLINE, tsc);
}

void tsc_deadline_check(void)
{
	if (!(cpuid(1, 0).ecx & CPUID1_ECX_TSC_DEADLINE)) {
		printk("selftest: tsc-deadline timer not offered\n");
		return;
	}
	uint64_t tick = tsc_per_tick(CALIBRATION_TICKS), late = LATE_TICKS * tick;
	lapic_timer_stop();
	lapic_write(LAPIC_LVT_TIMER, LVT_TIMER_TSC_DEADLINE | VEC_TSC_DEADLINE);

	/* Ahead: about one tick away; it reads back until it fires, then reads 0. */
	uint64_t at = rdtsc() + tick;
	arm(at);
	uint64_t readback = rdmsr(MSR_TSC_DEADLINE);
	wait_for(1, at + late);
	if (readback != at)
		fail(SELFTEST_FAIL_IRQ, "tsc-deadline: wrote 0x%lx, read back 0x%lx",
		     (unsigned long)at, (unsigned long)readback);
	if (taken() != 1)
		fail(SELFTEST_FAIL_IRQ, "tsc-deadline: no interrupt within %u ticks of its "
		     "deadline", LATE_TICKS);
	uint64_t when = __atomic_load_n(&fired_tsc, __ATOMIC_RELAXED);
	if (when < at)
		fail(SELFTEST_FAIL_IRQ, "tsc-deadline: fired %lu tsc ticks before its deadline",
		     (unsigned long)(at - when));
	if (rdmsr(MSR_TSC_DEADLINE) != 0)
		fail(SELFTEST_FAIL_IRQ, "tsc-deadline: reads 0x%lx after it fired, want 0",
		     (unsigned long)rdmsr(MSR_TSC_DEADLINE));

	/* Passed: at once (well within a tick). */
	uint64_t now = rdtsc();
	arm(now - tick);
	wait_for(2, now + late);
	if (taken() != 2)
		fail(SELFTEST_FAIL_IRQ, "tsc-deadline: a deadline already passed did not fire");

	/* Disarmed: a deadline one tick ahead, then 0; nothing comes in three ticks. */
	now = rdtsc();
	arm(now + tick);
	arm(0);
	wait_for(3, now + 4 * tick);
	if (taken() != 2)
		fail(SELFTEST_FAIL_IRQ, "tsc-deadline: fired after it was disarmed with 0");

	lapic_timer_at_hz(VEC_TIMER, g.bi->lapic_timer_hz, TIMER_HZ);
	printk("selftest: tsc-deadline timer ok: fires once and not early, at once when passed, "
	       "0 disarms\n");
}
