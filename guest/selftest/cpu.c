/*
 * cpu.c - processor identity from CPUID (Intel SDM Vol. 2A, CPUID: leaf 1 EBX[31:24]
 * "initial APIC ID"; leaf 0xB / 0x1F "extended topology", EDX = x2APIC ID of this logical
 * processor at every sub-leaf; SDM Vol. 3A, 8.9.4 for the level shifts) and from
 * IA32_APIC_BASE (SDM Vol. 3A, 10.4.4: bit 8 is set on the BSP only), or its copy in
 * mpvmm's CPUID leaf when the boot information says RDMSR cannot read it.
 */
#include "cpu.h"

#include "arch.h"
#include "state.h"

#define TOPO_MAX_LEVELS 8u /* SMT, core, module, tile, die, ... */

/* A topology leaf is valid when the CPU has it and sub-leaf 0 reports a non-zero EBX. */
static bool topo_leaf_valid(uint32_t max_leaf, uint32_t leaf)
{
	return max_leaf >= leaf && cpuid(leaf, 0).ebx != 0;
}

uint32_t cpuid_apic_id(void)
{
	uint32_t max_leaf = cpuid(0, 0).eax;

	if (topo_leaf_valid(max_leaf, 0xb))
		return cpuid(0xb, 0).edx;
	return cpuid(1, 0).ebx >> 24;
}

/*
 * Every valid level reports the same x2APIC ID in EDX, ECX[7:0] echoes the sub-leaf, and
 * EAX[4:0] (bits to shift the ID right to reach the next level's ID) does not decrease.
 */
static bool topo_leaf_consistent(uint32_t leaf, uint32_t apic_id)
{
	uint32_t prev_shift = 0, levels = 0;

	for (uint32_t sub = 0; sub < TOPO_MAX_LEVELS; sub++) {
		struct cpuid_regs r = cpuid(leaf, sub);
		uint32_t type = (r.ecx >> 8) & 0xff, shift = r.eax & 0x1f;
		if (type == 0)
			break;
		if (r.edx != apic_id || (r.ecx & 0xff) != sub || shift < prev_shift)
			return false;
		prev_shift = shift;
		levels++;
	}
	return levels > 0;
}

enum selftest_ap_err cpu_check_identity(uint32_t lapic_id, bool bsp)
{
	uint32_t max_leaf = cpuid(0, 0).eax;

	if (cpuid_apic_id() != lapic_id)
		return SELFTEST_AP_ERR_CPUID_ID;
	if (!!(apic_base() & APIC_BASE_BSP) != bsp)
		return SELFTEST_AP_ERR_BSP_FLAG;
	if (topo_leaf_valid(max_leaf, 0xb) && !topo_leaf_consistent(0xb, lapic_id))
		return SELFTEST_AP_ERR_TOPOLOGY;
	if (topo_leaf_valid(max_leaf, 0x1f) && !topo_leaf_consistent(0x1f, lapic_id))
		return SELFTEST_AP_ERR_TOPOLOGY;
	return SELFTEST_AP_OK;
}

uint64_t apic_base(void)
{
	if (!__atomic_load_n(&g.apic_base_cpuid, __ATOMIC_RELAXED))
		return rdmsr(MSR_IA32_APIC_BASE);
	struct cpuid_regs r = cpuid(SELFTEST_CPUID_APIC_BASE, 0);
	return ((uint64_t)r.edx << 32) | r.eax;
}

const char *ap_err_name(uint32_t err)
{
	switch (err) {
	case SELFTEST_AP_OK:              return "ok";
	case SELFTEST_AP_ERR_CPUID_ID:    return "cpuid apic id differs from lapic id";
	case SELFTEST_AP_ERR_NOT_IN_MADT: return "apic id not in madt";
	case SELFTEST_AP_ERR_BSP_FLAG:    return "ia32_apic_base bsp flag wrong";
	case SELFTEST_AP_ERR_TOPOLOGY:    return "cpuid topology leaf disagrees with apic id";
	case SELFTEST_AP_ERR_DUPLICATE:   return "apic id reported twice";
	default:                          return "unknown error";
	}
}
