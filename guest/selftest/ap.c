/*
 * ap.c - what an AP does once the trampoline has brought it to 64-bit mode: the test's APIC
 * mode, software-enable its APIC, (step mode) wait to be released, check its identity,
 * report through SELFTEST_PORT_AP and its slot, wake the BSP with a fixed IPI, halt (with
 * SELFTEST_FLAG_IPI_PINGPONG: wait with interrupts enabled, to answer the BSP's pings).
 */
#include <stdint.h>

#include "arch.h"
#include "cpu.h"
#include "idt.h"
#include "lapic.h"
#include "pingpong.h"
#include "smp.h"
#include "state.h"

/*
 * The racy mode's bug, on purpose: read, wait a little, write back one more.  Another AP
 * running between the load and the store makes one of the two increments vanish.
 */
static void racy_increment(void)
{
	volatile uint32_t *counter = &g.racy_count;
	uint32_t v = *counter;

	for (volatile int i = 0; i < 256; i++)
		;
	*counter = v + 1;
}

static __attribute__((noreturn)) void report(int idx, uint32_t apic_id, uint32_t err)
{
	/* The VMM timestamps this AP's bring-up at this exit. */
	outl(SELFTEST_PORT_AP, err);

	if (idx >= 0 && __atomic_load_n(&g.holding, __ATOMIC_ACQUIRE)) {
		/* Restarted from outside after the verdict: the BSP prints it. */
		__atomic_fetch_add(&g.slots[idx].again, 1, __ATOMIC_RELEASE);
	} else if (idx < 0) {
		uint32_t none = 0;
		__atomic_fetch_add(&g.strays, 1, __ATOMIC_RELAXED);
		__atomic_compare_exchange_n(&g.stray_apic_id, &none, apic_id + 1, false,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
	} else {
		struct ap_slot *s = &g.slots[idx];
		if (__atomic_exchange_n(&s->reported, 1, __ATOMIC_RELAXED))
			__atomic_store_n(&s->duplicate, 1, __ATOMIC_RELAXED);
		else
			__atomic_store_n(&s->status, err, __ATOMIC_RELAXED);
	}
	/* Release: the BSP reads the slot after it sees the count (acquire). */
	__atomic_fetch_add(&g.reported, 1, __ATOMIC_RELEASE);

	lapic_send_ipi(__atomic_load_n(&g.bsp_apic_id, __ATOMIC_RELAXED),
		       ICR_DM_FIXED | ICR_LEVEL_ASSERT | VEC_AP_REPORTED); /* 0x4040 */
	if (g.pingpong)
		pingpong_ap_wait();
	halt_forever();
}

void ap_main(void)
{
	/* First thing, before any APIC access: the window is pure computation. */
	if (g.racy)
		racy_increment();
	idt_load();
	if (!lapic_enable(VEC_SPURIOUS)) {
		/*
		 * The test is in x2APIC mode but this CPU has no x2APIC: it can neither read
		 * its 32-bit ID nor send in that mode.  Tell the VMM and stop; the BSP will
		 * list this AP as missing.
		 */
		outl(SELFTEST_PORT_AP, SELFTEST_AP_ERR_CPUID_ID);
		halt_forever();
	}

	uint32_t id = lapic_id();
	int idx = cpu_index(id);
	if (idx < 0)
		report(idx, id, SELFTEST_AP_ERR_NOT_IN_MADT);

	/*
	 * Step mode: stay RUNNABLE (no HLT) until the BSP has announced both SIPIs.  PAUSE
	 * keeps this spin cheap for the host; the BSP releases us right after AFTER_SIPI2.
	 */
	if (__atomic_load_n(&g.step, __ATOMIC_RELAXED))
		while (!__atomic_load_n(&g.slots[idx].release, __ATOMIC_ACQUIRE))
			cpu_relax();

	report(idx, id, cpu_check_identity(id, false));
}
