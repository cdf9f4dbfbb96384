/*
 * platform_check.c - before any vCPU runs, read back what the generators produced (MADT, MP
 * table, per-vCPU CPUID) with the same parsers a test or an OS would use, and compare every
 * processor they name with the platform description.
 *
 * Knows the platform description, the parsers and a byte array standing for guest memory;
 * nothing of KVM.  The first disagreement is reported, naming the vCPU and both values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "x86/acpi.h"
#include "x86/mptable.h"
#include "x86/platform_check.h"

#define NO_VCPU UINT32_MAX

/* APIC ID -> vCPU index, for IDs 0..max_apic_id; every other ID names no vCPU. */
struct apic_map {
	uint32_t *vcpu;
	uint32_t size;
};

static int map_init(struct apic_map *m, const struct platform *p, char *err, size_t errlen)
{
	m->size = p->max_apic_id + 1;
	m->vcpu = malloc((size_t)m->size * sizeof(*m->vcpu));
	if (!m->vcpu) {
		snprintf(err, errlen, "platform check: out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < m->size; i++)
		m->vcpu[i] = NO_VCPU;
	for (uint32_t i = 0; i < p->topo.cpus; i++)
		if (p->cpus[i].apic_id < m->size)
			m->vcpu[p->cpus[i].apic_id] = i;
	return 0;
}

static uint32_t map_lookup(const struct apic_map *m, uint32_t apic_id)
{
	return apic_id < m->size ? m->vcpu[apic_id] : NO_VCPU;
}

/* seen[] counts, per vCPU, the entries naming it: a second one is a duplicate. */
static int check_madt_cpu(const struct platform *p, const struct apic_map *map,
			  const struct madt_cpu *c, uint8_t *seen, char *err, size_t errlen)
{
	uint32_t v = map_lookup(map, c->apic_id);

	if (v == NO_VCPU) {
		snprintf(err, errlen, "MADT lists APIC ID %u, which no vCPU has", c->apic_id);
		return -1;
	}
	if (seen[v]++) {
		snprintf(err, errlen, "vCPU %u: MADT lists its APIC ID %u twice", v, c->apic_id);
		return -1;
	}
	if (c->acpi_uid != p->cpus[v].acpi_uid) {
		snprintf(err, errlen, "vCPU %u: MADT gives APIC ID %u the ACPI UID %u, expected %u",
			 v, c->apic_id, c->acpi_uid, p->cpus[v].acpi_uid);
		return -1;
	}
	if (c->x2apic != (c->apic_id > PLATFORM_XAPIC_MAX_ID)) {
		snprintf(err, errlen, "vCPU %u: MADT describes APIC ID %u with a type-%u entry, "
			 "expected type %u", v, c->apic_id, c->x2apic ? 9 : 0, c->x2apic ? 0 : 9);
		return -1;
	}
	if (!c->enabled) {
		snprintf(err, errlen, "vCPU %u: MADT entry for APIC ID %u is not enabled", v,
			 c->apic_id);
		return -1;
	}
	return 0;
}

static int check_madt(const struct platform *p, const struct apic_map *map,
		      const struct madt_info *m, char *err, size_t errlen)
{
	const struct cpu_desc *bsp = &p->cpus[p->boot_cpu];

	if (m->ncpus != p->topo.cpus) {
		snprintf(err, errlen, "MADT lists %zu processors, the platform has %u", m->ncpus,
			 p->topo.cpus);
		return -1;
	}
	if (m->cpus[0].apic_id != bsp->apic_id) {
		snprintf(err, errlen, "MADT's first processor has APIC ID %u, but the BSP (vCPU "
			 "%u) has APIC ID %u", m->cpus[0].apic_id, p->boot_cpu, bsp->apic_id);
		return -1;
	}

	uint8_t *seen = calloc(p->topo.cpus, 1);
	int rc = 0;

	if (!seen) {
		snprintf(err, errlen, "platform check: out of memory");
		return -1;
	}
	for (size_t i = 0; i < m->ncpus && rc == 0; i++)
		rc = check_madt_cpu(p, map, &m->cpus[i], seen, err, errlen);
	free(seen);
	return rc;
}

static int check_madt_ioapic(const struct platform *p, const struct madt_info *m, char *err,
			     size_t errlen)
{
	if (m->nioapics != 1 || m->ioapic_id != p->ioapic_id ||
	    m->ioapic_addr != PLATFORM_IOAPIC_ADDR) {
		snprintf(err, errlen, "MADT: %zu I/O APIC(s), ID %u at 0x%x; expected one, ID %u "
			 "at 0x%x", m->nioapics, m->ioapic_id, m->ioapic_addr, p->ioapic_id,
			 PLATFORM_IOAPIC_ADDR);
		return -1;
	}
	if (m->lapic_addr != PLATFORM_LAPIC_ADDR) {
		snprintf(err, errlen, "MADT: local APIC address 0x%x, expected 0x%x", m->lapic_addr,
			 PLATFORM_LAPIC_ADDR);
		return -1;
	}
	if (!m->has_fadt || !m->has_dsdt) {
		snprintf(err, errlen, "ACPI: no valid %s", m->has_fadt ? "DSDT" : "FADT");
		return -1;
	}
	return 0;
}

static int check_mp_cpu(const struct platform *p, const struct apic_map *map,
			const struct mptable_cpu *c, uint8_t *seen, char *err, size_t errlen)
{
	uint32_t v = map_lookup(map, c->apic_id);

	if (v == NO_VCPU) {
		snprintf(err, errlen, "MP table lists APIC ID %u, which no vCPU has", c->apic_id);
		return -1;
	}
	if (seen[v]++) {
		snprintf(err, errlen, "vCPU %u: MP table lists its APIC ID %u twice", v,
			 c->apic_id);
		return -1;
	}
	if (!c->bsp && p->cpus[v].bsp) {
		snprintf(err, errlen, "vCPU %u is the BSP but its MP table entry (APIC ID %u) "
			 "lacks the BP flag", v, c->apic_id);
		return -1;
	}
	if (c->bsp && !p->cpus[v].bsp) {
		snprintf(err, errlen, "vCPU %u: MP table entry (APIC ID %u) has the BP flag, but "
			 "the BSP is vCPU %u", v, c->apic_id, p->boot_cpu);
		return -1;
	}
	if (!c->enabled) {
		snprintf(err, errlen, "vCPU %u: MP table entry for APIC ID %u is not enabled", v,
			 c->apic_id);
		return -1;
	}
	return 0;
}

static int check_mptable(const struct platform *p, const struct apic_map *map,
			 const struct mptable_info *mp, const struct madt_info *madt, char *err,
			 size_t errlen)
{
	if (mp->ncpus != p->topo.cpus) {
		snprintf(err, errlen, "MP table lists %zu processors, the platform has %u",
			 mp->ncpus, p->topo.cpus);
		return -1;
	}
	if (mp->nioapics != 1 || mp->ioapic_id != madt->ioapic_id ||
	    mp->ioapic_addr != madt->ioapic_addr) {
		snprintf(err, errlen, "MP table: %zu I/O APIC(s), ID %u at 0x%x; the MADT says ID "
			 "%u at 0x%x", mp->nioapics, mp->ioapic_id, mp->ioapic_addr,
			 madt->ioapic_id, madt->ioapic_addr);
		return -1;
	}

	uint8_t *seen = calloc(p->topo.cpus, 1);
	int rc = 0;

	if (!seen) {
		snprintf(err, errlen, "platform check: out of memory");
		return -1;
	}
	for (size_t i = 0; i < mp->ncpus && rc == 0; i++)
		rc = check_mp_cpu(p, map, &mp->cpus[i], seen, err, errlen);
	free(seen);
	return rc;
}

/* The MP table exists exactly when the platform can have one. */
static int check_mptable_presence(const struct platform *p, const uint8_t *mem, size_t mem_size,
				  const struct apic_map *map, const struct madt_info *madt,
				  char *err, size_t errlen)
{
	struct mptable_info *mp = malloc(sizeof(*mp));
	char why[160];
	int rc;

	if (!mp) {
		snprintf(err, errlen, "platform check: out of memory");
		return -1;
	}
	rc = mptable_parse(mem, mem_size, mp, why, sizeof(why));
	if (platform_has_mptable(p) && rc) {
		snprintf(err, errlen, "MP table expected: %s", why);
		rc = -1;
	} else if (!platform_has_mptable(p) && rc == 0) {
		snprintf(err, errlen, "MP table at 0x%x, but the platform uses x2APIC and must "
			 "have none", mp->fp_addr);
		rc = -1;
	} else if (platform_has_mptable(p)) {
		rc = check_mptable(p, map, mp, madt, err, errlen);
	} else {
		rc = 0;
	}
	free(mp);
	return rc;
}

static int check_cpuid(const struct platform *p, uint32_t i, const struct cpuid_table *t,
		       char *err, size_t errlen)
{
	uint32_t want = p->cpus[i].apic_id;
	uint32_t got = cpuid_apic_id(t);
	const struct cpuid_entry *l1 = cpuid_find(t, 0x1, 0);

	if (got != want) {
		snprintf(err, errlen, "vCPU %u: MADT has APIC ID %u but CPUID leaf %s says %u", i,
			 want, cpuid_find(t, 0xb, 0) ? "0xB" : "1", got);
		return -1;
	}
	if (!l1) {
		snprintf(err, errlen, "vCPU %u: CPUID has no leaf 1", i);
		return -1;
	}
	if (l1->ebx >> 24 != (want & 0xff)) {
		snprintf(err, errlen, "vCPU %u: MADT has APIC ID %u but CPUID leaf 1 EBX[31:24] "
			 "says %u", i, want, l1->ebx >> 24);
		return -1;
	}
	return 0;
}

int platform_check(const struct platform *p, const uint8_t *mem, size_t mem_size,
		   const struct cpuid_table *const *cpuid, char *err, size_t errlen)
{
	struct madt_info madt;
	struct apic_map map = { 0 };
	char why[160];
	int rc = -1;

	if (acpi_parse(mem, mem_size, &madt, why, sizeof(why))) {
		snprintf(err, errlen, "MADT expected: %s", why);
		return -1;
	}
	if (map_init(&map, p, err, errlen) || check_madt(p, &map, &madt, err, errlen) ||
	    check_madt_ioapic(p, &madt, err, errlen) ||
	    check_mptable_presence(p, mem, mem_size, &map, &madt, err, errlen))
		goto out;
	for (uint32_t i = 0; cpuid && i < p->topo.cpus; i++)
		if (check_cpuid(p, i, cpuid[i], err, errlen))
			goto out;
	rc = 0;
out:
	free(map.vcpu);
	madt_info_free(&madt);
	return rc;
}
