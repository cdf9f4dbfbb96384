/*
 * tables.c - what the guest is told about its processors, from the one description of them
 * (x86/platform.h): each vCPU's CPUID (the accelerator's offer, the topology's leaves, what
 * the --irqchip mode's controllers can give), the MP table and the ACPI tables in its RAM,
 * and the check that all of them agree before any vCPU runs.
 */
#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"
#include "vm/vm_parts.h"
#include "x86/acpi.h"
#include "x86/mptable.h"
#include "x86/platform_check.h"

/*
 * On a KVM that emulates guest code, Linux's workaround for AMD's FXSAVE leak (fnclex, emms,
 * fild at the first return to user space) hits an instruction nothing can carry there; the
 * vendor string is one of the few CPUID fields such a host lets the VMM set (leaf 0 follows
 * the table, see docs/HOST-NOTES.md).  Never done on hardware KVM.
 */
static void offer_intel_vendor(struct cpuid_table *t, bool say)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->e[i].function != 0)
			continue;
		t->e[i].ebx = 0x756e6547; /* "Genu" */
		t->e[i].edx = 0x49656e69; /* "ineI" */
		t->e[i].ecx = 0x6c65746e; /* "ntel" */
		if (say)
			log_info("this KVM emulates guest code: offering vendor GenuineIntel in CPUID "
				 "leaf 0 (the AMD FXSAVE-leak workaround cannot run here)");
	}
}

void vm_cpuid_tables_free(struct cpuid_table **t, uint32_t n)
{
	for (uint32_t i = 0; t && i < n; i++)
		free(t[i]);
	free(t);
}

struct cpuid_table **vm_cpuid_tables(struct vm *vm, bool say, char *err, size_t errlen)
{
	struct cpuid_table *supported = vm->accel->vm->supported_cpuid(vm->accel, err, errlen);
	uint32_t n = vm->plat.topo.cpus;
	struct cpuid_table **t = supported ? calloc(n, sizeof(*t)) : NULL;

	if (supported && !t)
		snprintf(err, errlen, "out of memory");
	for (uint32_t i = 0; t && i < n; i++) {
		size_t cap = supported->n + CPUID_EXTRA_ENTRIES;
		t[i] = calloc(1, sizeof(struct cpuid_table) + cap * sizeof(struct cpuid_entry));
		if (!t[i] || cpuid_for_vcpu(&vm->plat, i, supported, t[i]) < 0) {
			snprintf(err, errlen, "cannot build CPUID for vCPU %u", i);
			vm_cpuid_tables_free(t, n);
			t = NULL;
			break;
		}
		if (vm->accel->caps.emulates && vm->cfg.kernel)
			offer_intel_vendor(t[i], say && i == 0);
		if (vm->mode->fit_cpuid)
			vm->mode->fit_cpuid(&vm->accel->caps, &vm->plat.cpus[i], t[i]);
	}
	free(supported);
	return t;
}

int vm_firmware_tables(struct vm *vm, bool write, char *err, size_t errlen)
{
	uint8_t *low = vm->mem.host;
	size_t low_size = guest_mem_low_size(&vm->mem);

	if (write &&
	    (mptable_build(&vm->plat, low, low_size, MPTABLE_ADDR, MPTABLE_MAX, err, errlen) < 0 ||
	     acpi_build(&vm->plat, low, low_size, ACPI_ADDR, ACPI_MAX, err, errlen) < 0))
		return -1;
	/* The one check that every description of the processors agrees, before any runs. */
	if (platform_check(&vm->plat, low, low_size, (const struct cpuid_table *const *)vm->cpuid,
			   err, errlen) < 0) {
		char why[512];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "refusing to start: firmware tables and CPUID disagree: %s",
			 why);
		return -1;
	}
	return 0;
}
