/*
 * pingpong.c - see pingpong.h.  One round trip: the BSP reads the TSC and sends a fixed IPI,
 * vector VEC_PING, to the first AP (g.cpus[1]; physical destination, Intel SDM Vol. 3A,
 * 10.6.1); the AP, waiting in STI; HLT, takes it and its handler sends VEC_PONG back before
 * its EOI; the BSP, spinning with interrupts enabled (as an OS waits for a cross-call),
 * sees its handler count the pong and reads the TSC again.  The TSC's rate comes from the RTC (tsc.h says why not from the
 * LAPIC timer), so the times are wall time on KVM, on the software CPU and on QEMU alike.
 * Every wait is bounded by the TSC, so a lost IPI is a FAIL line, not a hang.  The BSP's
 * 100 Hz timer keeps running: a tick within a trip lengthens that trip (the max), the mean
 * hardly.
 */
#include "pingpong.h"

#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "lapic.h"
#include "lib.h"
#include "result.h"
#include "state.h"
#include "tsc.h"

/*
 * Round trips per run.  One takes ~0.2-1 ms on PVM (emulated guest code), ~0.04 ms on the
 * software CPU: 500 keep a run under a second, besides the 1-2 s of calibration.
 */
#define TRIPS 500u
#define TRIP_TIMEOUT_MS 1000u /* a round trip may take 1 s: the host may be busy */

static uint32_t pings; /* atomic: pings the AP took  */
static uint32_t pongs; /* atomic: pongs the BSP took */

void irq_ping(void)
{
	__atomic_fetch_add(&pings, 1, __ATOMIC_RELAXED);
	lapic_send_ipi(__atomic_load_n(&g.bsp_apic_id, __ATOMIC_RELAXED),
		       ICR_DM_FIXED | ICR_LEVEL_ASSERT | VEC_PONG);
	lapic_eoi();
}

void irq_pong(void)
{
	__atomic_fetch_add(&pongs, 1, __ATOMIC_RELEASE);
	lapic_eoi();
}

void pingpong_ap_wait(void)
{
	for (;;)
		sti_hlt();
}

/* Round trip `n` (from 1), IF = 1: its TSC ticks in *took; false if no pong within `limit`. */
static bool trip(uint32_t ap, uint32_t n, uint64_t limit, uint64_t *took)
{
	uint64_t start = rdtsc();

	lapic_send_ipi(ap, ICR_DM_FIXED | ICR_LEVEL_ASSERT | VEC_PING);
	while (__atomic_load_n(&pongs, __ATOMIC_ACQUIRE) < n) {
		if (rdtsc() - start > limit)
			return false;
		cpu_relax();
	}
	*took = rdtsc() - start;
	return true;
}

struct trips {
	uint64_t sum, min, max; /* TSC ticks */
};

static void trips_add(struct trips *t, uint64_t took)
{
	t->sum += took;
	t->min = took < t->min ? took : t->min;
	t->max = took > t->max ? took : t->max;
}

/* Every trip's pong came; no IPI more than one per trip either. */
static void check_counts(void)
{
	uint32_t in = __atomic_load_n(&pings, __ATOMIC_RELAXED);
	uint32_t out = __atomic_load_n(&pongs, __ATOMIC_ACQUIRE);

	if (in != TRIPS || out != TRIPS)
		fail(SELFTEST_FAIL_IPI, "ipi round trip: %u trips, but the ap took %u pings and "
		     "the bsp %u pongs", TRIPS, in, out);
}

void pingpong_run(void)
{
	if (g.ncpus < 2) {
		printk("selftest: ipi round trip skipped: it needs an ap\n");
		return;
	}
	uint32_t ap = g.cpus[1].apic_id;
	uint64_t per_second = tsc_per_second(), took = 0;
	if (!per_second)
		fail(SELFTEST_FAIL_IPI, "ipi round trip: the rtc's seconds did not change within "
		     "3 s: no clock to time the trips with");
	uint64_t limit = per_second * TRIP_TIMEOUT_MS / 1000;
	struct trips t = { .sum = 0, .min = UINT64_MAX, .max = 0 };

	sti();
	for (uint32_t n = 1; n <= TRIPS; n++) {
		if (!trip(ap, n, limit, &took)) {
			cli();
			fail(SELFTEST_FAIL_IPI, "ipi round trip %u: no pong from apic=%u within %u "
			     "ms (the ap took %u pings)", n, ap, TRIP_TIMEOUT_MS,
			     __atomic_load_n(&pings, __ATOMIC_RELAXED));
		}
		trips_add(&t, took);
	}
	cli();
	check_counts();
	printk("selftest: ipi round trip: %u trips, mean %lu ns, min %lu ns, max %lu ns\n", TRIPS,
	       (unsigned long)tsc_to_ns(t.sum / TRIPS, per_second),
	       (unsigned long)tsc_to_ns(t.min, per_second), (unsigned long)tsc_to_ns(t.max, per_second));
}
