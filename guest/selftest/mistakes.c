/*
 * mistakes.c - see mistakes.h.  Each mistake is one the Intel SDM Vol. 3A says a CPU
 * ignores or survives, so the test goes on to PASS: a SIPI to a processor not waiting for
 * one (8.4.2), many of them, an IPI no local APIC accepts (10.6.2), an IPI sent while the
 * sender's APIC is software-disabled (10.4.7.2), a write to a reserved APIC register
 * (10.5.3: an illegal register address error), an INIT with no SIPI after it (the AP waits
 * for SIPI for good, 8.4.1).  What the VMM says about them is its business.
 */
#include "mistakes.h"

#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "lapic.h"
#include "lib.h"
#include "state.h"

#define SIPI_STORM 25u           /* SIPIs in a row to one AP */
#define INIT_WAIT_MS 800u        /* longer than mpvmm's INIT-without-SIPI timeout (500 ms) */
#define RESERVED_REG 0x040u      /* xAPIC page: reserved (SDM 10.4.1, table 10-1) */
#define XAPIC_BROADCAST 0xffu

static const uint32_t sipi = ICR_DM_STARTUP | ICR_LEVEL_ASSERT | SELFTEST_SIPI_VECTOR;

/* An APIC ID no processor has (and not the broadcast ID). */
static uint32_t missing_apic_id(void)
{
	uint32_t id = 1;

	while (cpu_index(id) >= 0)
		id++;
	return id == XAPIC_BROADCAST ? id + 1 : id;
}

/* Wait with STI; HLT for `ms` of the BSP's 100 Hz timer. */
static void wait_ms(uint32_t ms)
{
	uint32_t start = __atomic_load_n(&g.ticks, __ATOMIC_RELAXED);

	while (__atomic_load_n(&g.ticks, __ATOMIC_RELAXED) - start < ms / (1000 / TIMER_HZ)) {
		sti_hlt();
		cli();
	}
}

void mistakes_make(void)
{
	if (g.ncpus < 2) {
		printk("selftest: mistakes skipped: they need an ap\n");
		return;
	}
	uint32_t ap = g.cpus[1].apic_id, last = g.cpus[g.ncpus - 1].apic_id;
	uint32_t missing = missing_apic_id();
	bool x2apic = __atomic_load_n(&lapic_x2apic, __ATOMIC_RELAXED);

	/* A SIPI to an AP that runs its code (it reported and halted), then a storm of them. */
	lapic_send_ipi(ap, sipi);
	for (uint32_t i = 0; i < SIPI_STORM; i++)
		lapic_send_ipi(ap, sipi);
	/* A fixed IPI to an APIC ID that no processor has. */
	if (x2apic || missing < XAPIC_BROADCAST)
		lapic_send_ipi(missing, ICR_DM_FIXED | ICR_LEVEL_ASSERT | VEC_AP_REPORTED);
	/* A directed IPI from a software-disabled APIC; re-enabling leaves every LVT masked
	 * (10.4.7.2), so the timer's is written again. */
	lapic_write(LAPIC_SVR, VEC_SPURIOUS);
	lapic_send_ipi(ap, ICR_DM_FIXED | ICR_LEVEL_ASSERT | VEC_AP_REPORTED);
	lapic_write(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
	lapic_write(LAPIC_LVT_TIMER, LVT_TIMER_PERIODIC | VEC_TIMER);
	/* A reserved register (xAPIC only: in x2APIC mode the WRMSR would raise #GP). */
	if (!x2apic)
		*(volatile uint32_t *)phys(LAPIC_MMIO_BASE + RESERVED_REG) = 0x1234;
	/* An INIT with no SIPI after it: the last AP waits for one for good. */
	if (x2apic) {
		lapic_send_ipi(last, ICR_DM_INIT | ICR_LEVEL_ASSERT);
	} else {
		lapic_send_ipi(last, ICR_DM_INIT | ICR_LEVEL_ASSERT | ICR_TRIGGER_LEVEL);
		lapic_send_ipi(last, ICR_DM_INIT | ICR_TRIGGER_LEVEL);
	}
	wait_ms(INIT_WAIT_MS);
	printk("selftest: mistakes made: %u sipis to a running ap, ipi to apic id %u, ipi while "
	       "disabled, %s, init to apic id %u\n", SIPI_STORM + 1, missing,
	       x2apic ? "no reserved write (x2apic)" : "reserved write", last);
}
