/*
 * platform_check.h - the consistency check run before any vCPU starts: every place that
 * names a processor (CPUID of each vCPU, MP table, MADT) must agree with the platform
 * description on the set of APIC IDs and on which one is the BSP.
 */
#ifndef MPVMM_X86_PLATFORM_CHECK_H
#define MPVMM_X86_PLATFORM_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "x86/cpuid.h"
#include "x86/platform.h"

/*
 * mem: guest physical memory from address 0 (at least 1 MiB), holding the built tables.
 * cpuid: per-vCPU tables by index (p->topo.cpus of them), or NULL to skip that part.
 * Returns 0, or -1 with the first disagreement described in err.
 */
int platform_check(const struct platform *p, const uint8_t *mem, size_t mem_size,
		   const struct cpuid_table *const *cpuid, char *err, size_t errlen);

#endif
