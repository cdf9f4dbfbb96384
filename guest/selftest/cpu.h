/*
 * cpu.h - what a processor says about itself: its APIC ID from CPUID, and the checks every
 * CPU (BSP and APs) runs on its identity.
 */
#ifndef SELFTEST_CPU_H
#define SELFTEST_CPU_H

#include <stdbool.h>
#include <stdint.h>

#include "mpvmm/selftest_abi.h"

/* Leaf 0xB EDX (x2APIC ID) when leaf 0xB is valid, else leaf 1 EBX[31:24]. */
uint32_t cpuid_apic_id(void);

/*
 * Check this CPU against its LAPIC ID register value `lapic_id`: CPUID agrees, the
 * IA32_APIC_BASE BSP flag is `bsp`, and every level of CPUID leaves 0xB and 0x1F reports
 * the same x2APIC ID with non-decreasing shifts.  Returns SELFTEST_AP_OK or the first error.
 */
enum selftest_ap_err cpu_check_identity(uint32_t lapic_id, bool bsp);

/*
 * IA32_APIC_BASE: RDMSR, or where the boot information says RDMSR reads 0 (mpvmm's
 * software CPU), mpvmm's CPUID leaf SELFTEST_CPUID_APIC_BASE.
 */
uint64_t apic_base(void);

const char *ap_err_name(uint32_t err);

#endif
