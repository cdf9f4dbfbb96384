/*
 * cpuid.h - the CPUID a vCPU sees: the accelerator's supported leaves, with the identity
 * and topology fields (leaves 0x1, 0x4, 0xB, 0x1F, 0x80000008) rewritten for that vCPU.
 *
 * Pure data: the entry layout matches what the accelerators need but this file includes no
 * KVM header; the KVM backend copies entries into struct kvm_cpuid_entry2.
 */
#ifndef MPVMM_X86_CPUID_H
#define MPVMM_X86_CPUID_H

#include <stdint.h>
#include <stddef.h>

#include "x86/platform.h"

#define CPUID_FLAG_SIGNIFICANT_INDEX (1u << 0) /* same meaning as KVM_CPUID_FLAG_... */

struct cpuid_entry {
	uint32_t function;
	uint32_t index;
	uint32_t flags;
	uint32_t eax, ebx, ecx, edx;
};

struct cpuid_table {
	size_t n;
	struct cpuid_entry e[]; /* room for n + CPUID_EXTRA_ENTRIES entries */
};

/* Entries cpuid_for_vcpu() may add to a table (missing topology sub-leaves). */
#define CPUID_EXTRA_ENTRIES 8u

/*
 * Copy `supported` into `out` (which has room for supported->n + CPUID_EXTRA_ENTRIES
 * entries) and set vCPU `index`'s APIC ID and topology in it.  Returns 0 or -1.
 */
int cpuid_for_vcpu(const struct platform *p, uint32_t index, const struct cpuid_table *supported,
		   struct cpuid_table *out);

/* Look an entry up (index ignored unless the entry says it is significant); NULL if absent. */
const struct cpuid_entry *cpuid_find(const struct cpuid_table *t, uint32_t function,
				     uint32_t index);

/* The APIC ID the table reports: leaf 0xB EDX when present, else leaf 1 EBX[31:24]. */
uint32_t cpuid_apic_id(const struct cpuid_table *t);

#endif
