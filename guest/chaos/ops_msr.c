/*
 * ops_msr.c - RDMSR and WRMSR (Intel SDM Vol. 4): MSRs a kernel writes without harm, the
 * x2APIC range 0x800-0x8FF (through the same filters as the xAPIC page), indexes drawn at
 * random; and IA32_APIC_BASE on the APs.  Every access survives a #GP (trap.h).  Not on
 * the software CPU: RDMSR/WRMSR are not trapped there and a #GP would end its run.
 *
 * Never written: what the guest's own clock and memory depend on — IA32_TSC and
 * IA32_TSC_ADJUST (the BSP times the run with the TSC), EFER (long mode), MISC_ENABLE,
 * DEBUGCTL, MTRRs; MSRs that make the CPU or KVM write to guest memory at an address the
 * value gives (DS_AREA and PEBS, Intel PT's RTIT_*, KVM's paravirtual clock, wall clock,
 * steal-time and async-PF MSRs 0x11, 0x12 and 0x4b564d00-0x4b564dff, Hyper-V's range
 * 0x40000000-0x400000ff); IA32_APIC_BASE outside its own operation.
 */
#include "ops.h"

#include "apic.h"
#include "arch.h"
#include "rng.h"
#include "trap.h"

#define MSR_TSC          0x10u
#define MSR_TSC_ADJUST   0x3bu
#define MSR_MISC_ENABLE  0x1a0u
#define MSR_DEBUGCTL     0x1d9u
#define MSR_DS_AREA      0x600u
#define MSR_PEBS_ENABLE  0x3f1u
#define MSR_TSC_DEADLINE 0x6e0u
#define MSR_STAR         0xc0000081u

/* MSRs a kernel writes freely: SYSENTER, STAR/LSTAR/CSTAR/SFMASK, KERNEL_GS_BASE, TSC_AUX, PAT,
 * SPEC_CTRL, PRED_CMD, FLUSH_CMD, MCG_STATUS, bank 0's CTL/STATUS, PMU event selects. */
static const uint32_t harmless[] = {
	0x174, 0x175, 0x176, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102,
	0xc0000103, 0x277, 0x48, 0x49, 0x10b, 0x17a, 0x400, 0x401, 0x186, 0x187, 0x38f,
};

static bool write_refused(uint32_t msr)
{
	return msr == MSR_TSC || msr == MSR_TSC_ADJUST || msr == MSR_IA32_APIC_BASE ||
	       msr == MSR_EFER || msr == MSR_MISC_ENABLE || msr == MSR_DEBUGCTL ||
	       msr == MSR_DS_AREA || msr == MSR_PEBS_ENABLE || msr == 0x11 || msr == 0x12 ||
	       (msr >= 0x200 && msr <= 0x2ff) ||                /* MTRRs              */
	       (msr >= 0x560 && msr <= 0x58f) ||                /* Intel PT (RTIT_*)  */
	       (msr >= 0x4b564d00 && msr <= 0x4b564dff) ||      /* KVM paravirtual    */
	       (msr >= 0x40000000 && msr <= 0x400000ff);        /* Hyper-V            */
}

/* An x2APIC register (SDM 10.12.1.2): the ICR is a message, LVTs are filtered. */
static void x2apic_msr_write(struct chaos_cpu *c, uint32_t msr, uint64_t v)
{
	uint32_t reg = (msr - X2APIC_MSR_BASE) << 4;

	if (msr == X2APIC_ICR_MSR || reg == LAPIC_ID) {
		lapic_reg_write(c, reg, (uint32_t)v);
		return;
	}
	if (reg == LAPIC_LVT_CMCI || (reg >= LAPIC_LVT_TIMER && reg <= LAPIC_LVT_ERROR))
		v = delivery_safe(c, (uint32_t)v) | (v & ~0xffffffffull);
	msr_write_safe(msr, v);
}

static uint32_t rand_msr(struct chaos_cpu *c)
{
	switch (rng_below(&c->rng, 6)) {
	case 0:
	case 1: return harmless[rng_below(&c->rng, sizeof(harmless) / sizeof(harmless[0]))];
	case 2: return X2APIC_MSR_BASE + rng_below(&c->rng, 0x100);
	case 3: return rng_below(&c->rng, 0x2000);
	case 4: return MSR_STAR - 0x81 + rng_below(&c->rng, 0x2000); /* 0xc0000000 range */
	default: return (uint32_t)rng_next(&c->rng);
	}
}

void op_msr(struct chaos_cpu *c)
{
	uint32_t msr = rand_msr(c);
	uint64_t v = rand_value64(c);

	if (rng_one_in(&c->rng, 2)) {
		(void)msr_read_safe(msr, &v);
		return;
	}
	if (msr >= X2APIC_MSR_BASE && msr <= X2APIC_MSR_BASE + 0xff)
		x2apic_msr_write(c, msr, v);
	else if (msr == MSR_TSC_DEADLINE)
		op_tsc_deadline(c);
	else if (write_refused(msr))
		c->filtered++;
	else
		msr_write_safe(msr, v);
}

/*
 * IA32_APIC_BASE (SDM 10.4.4, 10.12.5), on an AP only: x2APIC on, x2APIC -> xAPIC directly
 * (illegal: a #GP), disabled, the BSP flag set (not while INITs fly: under KVM an INIT sends
 * a CPU with that flag to the reset vector, as if it were the BSP), reserved bits, the base
 * moved.  Most changes
 * are undone at once (the legal way back); a moved base always is, and it moves onto a RAM
 * page nothing uses, so that no MMIO of another CPU can reach the APIC meanwhile.
 */
#define APIC_BASE_ELSEWHERE 0x000c0000ull /* legacy option-ROM area: RAM, unused here */

static bool apic_base_change(struct chaos_cpu *c, uint64_t base)
{
	const uint64_t mode = APIC_BASE_EN | APIC_BASE_EXTD;

	switch (rng_below(&c->rng, 6)) {
	case 0:
		if (cs.has_x2apic)
			msr_write_safe(MSR_IA32_APIC_BASE, base | mode);
		return false;
	case 1:
		msr_write_safe(MSR_IA32_APIC_BASE, (base & ~mode) | APIC_BASE_EN);
		return false;
	case 2:
		msr_write_safe(MSR_IA32_APIC_BASE, base & ~mode);
		return false;
	case 3: /* KVM restarts a CPU whose BSP flag is set at the reset vector on INIT
		 * (kvm_vcpu_is_bsp reads the flag): only in runs without INITs */
		if (!restarts_on())
			msr_write_safe(MSR_IA32_APIC_BASE, base | APIC_BASE_BSP);
		return false;
	case 4:
		msr_write_safe(MSR_IA32_APIC_BASE, base | 1ull << (rng_below(&c->rng, 8) + 52));
		return false;
	default:
		msr_write_safe(MSR_IA32_APIC_BASE, (base & 0xfffull) | APIC_BASE_ELSEWHERE);
		return true;
	}
}

/* Back to `base` the legal way: x2APIC -> disabled -> xAPIC (-> x2APIC). */
static void apic_base_restore(uint64_t base)
{
	uint64_t now;

	if (msr_read_safe(MSR_IA32_APIC_BASE, &now) == 0 && now == base)
		return;
	msr_write_safe(MSR_IA32_APIC_BASE, base & ~(uint64_t)(APIC_BASE_EN | APIC_BASE_EXTD));
	msr_write_safe(MSR_IA32_APIC_BASE, (base & ~(uint64_t)APIC_BASE_EXTD) | APIC_BASE_EN);
	msr_write_safe(MSR_IA32_APIC_BASE, base);
}

void op_apic_base(struct chaos_cpu *c)
{
	uint64_t base;

	if (c->index == 0 || msr_read_safe(MSR_IA32_APIC_BASE, &base) < 0)
		return;
	if (apic_base_change(c, base) || rng_below(&c->rng, 4))
		apic_base_restore(base);
	if (msr_read_safe(MSR_IA32_APIC_BASE, &base) == 0)
		c->x2apic = (base & APIC_BASE_EXTD) != 0;
	apic_write(c, LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS); /* re-enabled APICs start disabled */
}
