/*
 * lapic.c - local APIC access for both modes.  In x2APIC mode register `reg` (the xAPIC
 * MMIO offset) is MSR 0x800 + (reg >> 4) (Intel SDM Vol. 3A, 10.12.1.2); the ICR becomes
 * the single 64-bit MSR 0x830 with the 32-bit destination in bits 63:32 (SDM 10.12.9),
 * and has no delivery-status bit.
 */
#include "lapic.h"

#include "arch.h"

#define X2APIC_MSR_BASE 0x800u
#define X2APIC_ICR_MSR  0x830u
#define CPUID_1_ECX_X2APIC (1u << 21)
#define ICR_IDLE_POLL_LIMIT 1000u /* the virtual ICR is idle at once; never spin forever */

bool lapic_x2apic;
bool lapic_timer_on;

static volatile uint32_t *mmio(uint32_t reg)
{
	return (volatile uint32_t *)phys(LAPIC_MMIO_BASE + reg);
}

uint32_t lapic_read(uint32_t reg)
{
	if (__atomic_load_n(&lapic_x2apic, __ATOMIC_RELAXED))
		return (uint32_t)rdmsr(X2APIC_MSR_BASE + (reg >> 4));
	return *mmio(reg);
}

void lapic_write(uint32_t reg, uint32_t val)
{
	if (__atomic_load_n(&lapic_x2apic, __ATOMIC_RELAXED))
		wrmsr(X2APIC_MSR_BASE + (reg >> 4), val);
	else
		*mmio(reg) = val;
}

uint32_t lapic_id(void)
{
	uint32_t v = lapic_read(LAPIC_ID);

	/* xAPIC: ID in bits 31:24 (SDM 10.4.6, Figure 10-6); x2APIC: all 32 bits (10.12.5.1). */
	return __atomic_load_n(&lapic_x2apic, __ATOMIC_RELAXED) ? v : v >> 24;
}

bool lapic_enable(uint8_t spurious_vec)
{
	if (__atomic_load_n(&lapic_x2apic, __ATOMIC_RELAXED)) {
		if (!(cpuid(1, 0).ecx & CPUID_1_ECX_X2APIC))
			return false;
		/*
		 * xAPIC -> x2APIC is the legal transition EN=1,EXTD=0 -> EN=1,EXTD=1
		 * (SDM 10.12.5, Figure 10-27); every CPU here starts from reset in xAPIC mode.
		 */
		uint64_t base = rdmsr(MSR_IA32_APIC_BASE);
		if ((base & (APIC_BASE_EN | APIC_BASE_EXTD)) != (APIC_BASE_EN | APIC_BASE_EXTD))
			wrmsr(MSR_IA32_APIC_BASE, base | APIC_BASE_EN | APIC_BASE_EXTD);
	}
	lapic_write(LAPIC_SVR, SVR_ENABLE | spurious_vec);
	return true;
}

void lapic_eoi(void)
{
	/* Write 0: a non-zero EOI write #GPs in x2APIC mode (SDM 10.12.1.2). */
	lapic_write(LAPIC_EOI, 0);
}

void lapic_send_ipi(uint32_t dest_apic_id, uint32_t icr_lo)
{
	if (__atomic_load_n(&lapic_x2apic, __ATOMIC_RELAXED)) {
		/*
		 * WRMSR to an x2APIC register is not serializing (SDM 10.12.3): make earlier
		 * stores (data the target will read) globally visible first, as Linux does.
		 */
		__asm__ volatile("lock orl $0, (%%rsp)" : : : "memory", "cc");
		wrmsr(X2APIC_ICR_MSR, ((uint64_t)dest_apic_id << 32) | icr_lo);
		return;
	}
	/* xAPIC: destination in ICR bits 63:56; writing the low half sends (SDM 10.6.1). */
	*mmio(LAPIC_ICR_HI) = dest_apic_id << 24;
	*mmio(LAPIC_ICR_LO) = icr_lo;
	for (unsigned i = 0; i < ICR_IDLE_POLL_LIMIT; i++) {
		if (!(*mmio(LAPIC_ICR_LO) & ICR_DELIVERY_STATUS))
			break;
		cpu_relax();
	}
}

void lapic_timer_periodic(uint8_t vec, uint32_t initial_count)
{
	/* Divide first, then the LVT; writing the initial count starts the timer (SDM 10.5.4). */
	lapic_write(LAPIC_TIMER_DCR, TIMER_DIVIDE_BY_1);
	lapic_write(LAPIC_LVT_TIMER, LVT_TIMER_PERIODIC | vec);
	lapic_write(LAPIC_TIMER_ICR, initial_count);
	__atomic_store_n(&lapic_timer_on, true, __ATOMIC_RELAXED);
}

void lapic_timer_at_hz(uint8_t vec, uint64_t input_hz, uint32_t hz)
{
	uint64_t count = input_hz / hz;

	lapic_timer_periodic(vec, count == 0 ? 1 : count > 0xffffffffu ? 0xffffffffu
								: (uint32_t)count);
}

void lapic_timer_stop(void)
{
	lapic_write(LAPIC_TIMER_ICR, 0);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
}
