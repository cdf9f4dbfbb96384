/*
 * apic.c - see apic.h.  In x2APIC mode the ICR is one 64-bit MSR with the 32-bit
 * destination in bits 63:32 (SDM Vol. 3A, 10.12.9); every MSR access goes through the
 * fault-tolerant helpers, because chaos may have changed the mode under a stale flag.
 */
#include "apic.h"

#include "arch.h"
#include "rng.h"
#include "trap.h"

static volatile uint32_t *lapic_mmio(uint32_t reg)
{
	return (volatile uint32_t *)phys(LAPIC_BASE + reg);
}

uint32_t apic_read(struct chaos_cpu *c, uint32_t reg)
{
	uint64_t v = 0;

	if (!c->x2apic)
		return *lapic_mmio(reg);
	msr_read_safe(X2APIC_MSR_BASE + (reg >> 4), &v);
	return (uint32_t)v;
}

void apic_write(struct chaos_cpu *c, uint32_t reg, uint32_t v)
{
	if (c->x2apic)
		msr_write_safe(X2APIC_MSR_BASE + (reg >> 4), v);
	else
		*lapic_mmio(reg) = v;
}

void apic_eoi(struct chaos_cpu *c)
{
	apic_write(c, LAPIC_EOI, 0);
}

void apic_icr(struct chaos_cpu *c, uint32_t dest, uint32_t lo)
{
	if (c->x2apic) {
		msr_write_safe(X2APIC_ICR_MSR, (uint64_t)dest << 32 | lo);
		return;
	}
	*lapic_mmio(LAPIC_ICR_HI) = dest << 24;
	*lapic_mmio(LAPIC_ICR_LO) = lo;
}

/*
 * IA32_APIC_BASE (SDM 10.4.4): globally enabled at 0xFEE00000, and EXTD as asked where CPUID offers
 * x2APIC; xAPIC -> x2APIC is a legal step, x2APIC -> xAPIC is not (SDM 10.12.5), so a CPU an
 * INIT left in x2APIC mode stays there.  The software CPU has no MSRs: xAPIC.
 */
void apic_setup(struct chaos_cpu *c, bool x2apic)
{
	uint64_t base;

	c->x2apic = false;
	if (!cs.soft && msr_read_safe(MSR_IA32_APIC_BASE, &base) == 0) {
		/* Enabled, at its usual address (an INIT may have come while it was moved). */
		uint64_t want = (base & (APIC_BASE_BSP | APIC_BASE_EXTD)) | APIC_BASE_EN | LAPIC_BASE;
		if (x2apic && cs.has_x2apic)
			want |= APIC_BASE_EXTD;
		if (want != base)
			msr_write_safe(MSR_IA32_APIC_BASE, want);
		if (msr_read_safe(MSR_IA32_APIC_BASE, &base) == 0)
			c->x2apic = (base & APIC_BASE_EXTD) != 0;
	}
	apic_write(c, LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
}

uint32_t apic_broadcast(const struct chaos_cpu *c)
{
	return c->x2apic ? 0xffffffffu : 0xffu;
}

uint32_t sipi_vector(struct chaos_cpu *c)
{
	static const uint8_t vectors[] = { SIPI_TRAMPOLINE, SIPI_TRAMPOLINE, SIPI_TRAMPOLINE,
					   SIPI_PARK, SIPI_JUMP };

	return vectors[rng_below(&c->rng, sizeof(vectors))];
}

/* NMIs by message (I/O APIC, LVT) go wherever they are routed, at times nobody chooses. */
static bool nmi_anywhere(void)
{
	return op_on(CHAOS_OP_NMI) && !restarts_on();
}

uint32_t delivery_safe(struct chaos_cpu *c, uint32_t v)
{
	uint32_t dm = (v & DM_MASK) >> DM_SHIFT;

	if (dm == DM_SMI || dm == DM_INIT || dm == DM_RESERVED || (dm == DM_NMI && !nmi_anywhere()))
		return v & ~DM_MASK;
	if (dm == DM_STARTUP)
		return (v & ~0xffu) | sipi_vector(c);
	return v;
}

static bool all_aps_alive(void)
{
	for (uint32_t i = 1; i < cs.ncpus; i++)
		if (!__atomic_load_n(&cpus[i].alive, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

/* An xAPIC-mode sender's destination is 8 bits; KVM and mpvmm compare that many. */
static bool dest_names(const struct chaos_cpu *c, uint32_t dest, uint32_t apic_id)
{
	return c->x2apic ? dest == apic_id : (apic_id & 0xff) == (dest & 0xff);
}

bool nmi_dest_safe(const struct chaos_cpu *c, uint32_t shorthand, bool logical, uint32_t dest)
{
	if (!restarts_on() || shorthand == SH_SELF)
		return true;
	if (shorthand != SH_NONE || (dest & 0xff) == 0xff)
		return !cs.soft && all_aps_alive();
	if (logical)
		return false; /* chaos writes the LDRs: who a logical destination names is unknown */
	for (uint32_t i = 1; i < cs.ncpus; i++) {
		if (i == c->index || !dest_names(c, dest, cs.apic_ids[i]))
			continue;
		/* The software CPU cannot deliver an NMI in real mode: only self and the BSP. */
		if (cs.soft || !__atomic_load_n(&cpus[i].alive, __ATOMIC_ACQUIRE))
			return false;
	}
	return true;
}
