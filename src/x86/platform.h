/*
 * platform.h - one description of the machine's processors, from which everything that
 * names a processor is derived: KVM vCPU ids, CPUID leaves, the MP table, the ACPI MADT.
 *
 * Knows nothing of KVM or of guest memory; the generators (cpuid.c, mptable.c, acpi.c) read
 * it and platform_check() verifies that what they produced agrees with it.
 */
#ifndef MPVMM_X86_PLATFORM_H
#define MPVMM_X86_PLATFORM_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "x86/topology.h"

/* Fixed addresses of the PC platform's interrupt controllers (Intel SDM 10.4.1; 82093AA). */
#define PLATFORM_LAPIC_ADDR  0xfee00000u
#define PLATFORM_IOAPIC_ADDR 0xfec00000u
/* The I/O APIC version register (MP Spec 4.3.3): KVM's in-kernel one reads 0x11 (82093AA),
 * mpvmm's dev/ioapic.c 0x20 (ICH, with the EOI register). */
#define PLATFORM_IOAPIC_VERSION_KVM 0x11u
#define PLATFORM_IOAPIC_VERSION_MPVMM 0x20u
#define PLATFORM_IOAPIC_PINS 24u

/* 0xFF is the xAPIC broadcast ID, so the largest APIC ID an xAPIC (and the MP table, and a
 * type-0 MADT entry) can name is 254 (ACPI 6.4, 5.2.12.12: IDs >= 255 need x2APIC entries). */
#define PLATFORM_XAPIC_MAX_ID 254u

struct cpu_desc {
	uint32_t index;    /* vCPU index, 0..cpus-1, as the user counts them (--boot-cpu)  */
	uint32_t apic_id;  /* initial APIC ID; also the KVM vcpu_id (KVM derives the ID from it) */
	uint32_t acpi_uid; /* ACPI processor UID in the MADT                                  */
	uint32_t socket, core, thread;
	bool bsp;
};

struct platform {
	struct topology topo;
	uint32_t boot_cpu;    /* index of the BSP                                             */
	uint32_t max_apic_id;
	bool x2apic;          /* some ID >= 255, or forced: x2APIC MADT entries, no MP table   */
	uint8_t ioapic_id;
	uint8_t ioapic_version;  /* the I/O APIC's version register: 0x11 (KVM's), 0x20 (mpvmm's) */
	struct cpu_desc *cpus; /* topo.cpus entries, by index                                  */
};

/* Returns 0, or -1 with a reason in err (boot_cpu out of range, allocation failure). */
int platform_init(struct platform *p, const struct topology *t, uint32_t boot_cpu,
		  bool force_x2apic, char *err, size_t errlen);
void platform_free(struct platform *p);

/*
 * The vCPU index of the pos-th processor in firmware-table order: the BSP first, then the
 * others in index order (ACPI 6.4 5.2.12.12; the MP table follows the same order).
 */
static inline uint32_t platform_table_cpu(const struct platform *p, uint32_t pos)
{
	if (pos == 0)
		return p->boot_cpu;
	return pos <= p->boot_cpu ? pos - 1 : pos;
}

/* The MP table can describe the processors (every APIC ID < 255 and no x2APIC forcing). */
bool platform_has_mptable(const struct platform *p);

#endif
