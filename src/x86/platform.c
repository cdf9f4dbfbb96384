/*
 * platform.c - derive the per-processor description (APIC IDs, ACPI UIDs, BSP, I/O APIC ID)
 * from the topology and the boot CPU chosen by the user.
 *
 * Knows nothing of KVM, guest memory or table layouts: it only decides the numbers that the
 * CPUID, MP table and MADT generators must all repeat.
 */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "x86/platform.h"

static void describe_cpu(struct cpu_desc *c, const struct topology *t, uint32_t index,
			 uint32_t boot_cpu)
{
	c->index = index;
	c->apic_id = topology_apic_id(t, index);
	c->acpi_uid = index;
	c->thread = index % t->threads;
	c->core = (index / t->threads) % t->cores;
	c->socket = index / (t->threads * t->cores);
	c->bsp = index == boot_cpu;
}

/*
 * The MP Spec (1.4, 3.6.8 / 4.3.3) wants I/O APIC IDs unique across processors and I/O APICs,
 * so take the first ID after the processors'.  When that is not an 8-bit xAPIC ID the machine
 * uses x2APIC IDs: then there is no MP table, and the MADT's 8-bit I/O APIC ID lives in a
 * namespace of its own (ACPI 6.4, 5.2.12.3), so 0 is as good as any.
 */
static uint8_t choose_ioapic_id(uint32_t max_apic_id)
{
	return max_apic_id < PLATFORM_XAPIC_MAX_ID ? (uint8_t)(max_apic_id + 1) : 0;
}

int platform_init(struct platform *p, const struct topology *t, uint32_t boot_cpu,
		  bool force_x2apic, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	if (!topology_consistent(t)) {
		snprintf(err, errlen, "topology: %u vCPUs != %u sockets * %u cores * %u threads",
			 t->cpus, t->sockets, t->cores, t->threads);
		return -1;
	}
	if (boot_cpu >= t->cpus) {
		snprintf(err, errlen, "--boot-cpu %u is out of range (%u vCPUs: 0..%u)", boot_cpu,
			 t->cpus, t->cpus - 1);
		return -1;
	}
	p->cpus = calloc(t->cpus, sizeof(*p->cpus));
	if (!p->cpus) {
		snprintf(err, errlen, "out of memory for %u vCPU descriptions", t->cpus);
		return -1;
	}
	p->topo = *t;
	p->boot_cpu = boot_cpu;
	for (uint32_t i = 0; i < t->cpus; i++)
		describe_cpu(&p->cpus[i], t, i, boot_cpu);
	p->max_apic_id = topology_max_apic_id(t);
	p->x2apic = force_x2apic || p->max_apic_id > PLATFORM_XAPIC_MAX_ID;
	p->ioapic_id = choose_ioapic_id(p->max_apic_id);
	p->ioapic_version = PLATFORM_IOAPIC_VERSION_KVM;
	return 0;
}

void platform_free(struct platform *p)
{
	free(p->cpus);
	p->cpus = NULL;
}

bool platform_has_mptable(const struct platform *p)
{
	return !p->x2apic;
}
