/*
 * state.c - the shared state and the APIC-ID lookup.  APIC IDs are dense (bit-packed
 * topology fields), so the low bits index the table directly and collisions are rare;
 * every AP looks itself up once, in a few instructions even with 1024 processors.
 */
#include "state.h"

struct selftest_state g;

int cpu_index(uint32_t apic_id)
{
	for (uint32_t i = 0; i < CPU_HASH_SIZE; i++) {
		uint16_t v = g.id_hash[(apic_id + i) & (CPU_HASH_SIZE - 1)];
		if (v == 0)
			return -1;
		if (g.cpus[v - 1].apic_id == apic_id)
			return v - 1;
	}
	return -1;
}

bool cpu_add(uint32_t apic_id, uint32_t uid)
{
	if (g.ncpus >= SELFTEST_MAX_CPUS || cpu_index(apic_id) >= 0)
		return false;
	uint32_t i = apic_id;
	while (g.id_hash[i & (CPU_HASH_SIZE - 1)] != 0)
		i++;
	g.cpus[g.ncpus] = (struct cpu){ .apic_id = apic_id, .uid = uid };
	g.ncpus++;
	g.id_hash[i & (CPU_HASH_SIZE - 1)] = (uint16_t)g.ncpus;
	return true;
}
