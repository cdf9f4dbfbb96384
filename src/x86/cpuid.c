/*
 * cpuid.c - rewrite the identity and topology fields of the accelerator's supported CPUID
 * for one vCPU, so that what the guest reads agrees with the platform description.
 *
 * Pure data: knows nothing of KVM ioctls (the backend converts entries) nor of firmware
 * tables.  Fields are cited from the Intel SDM Vol. 2A, CPUID instruction, and the AMD APM
 * Vol. 3, appendix E (CPUID), for the 0x8000xxxx leaves.
 */
#include <stdbool.h>
#include <string.h>

#include "x86/cpuid.h"

#define LEAF_BASIC_MAX    0x0u
#define LEAF_FEATURES     0x1u
#define LEAF_CACHE_PARAMS 0x4u
#define LEAF_EXT_TOPO     0xbu
#define LEAF_V2_EXT_TOPO  0x1fu
#define LEAF_AMD_SIZES    0x80000008u
#define LEAF_AMD_EXT_APIC 0x8000001eu

#define LEAF1_EDX_HTT (1u << 28) /* SDM Vol. 2A, Table 3-11: EBX[23:16] is valid */

/* Level types of leaves 0xB / 0x1F, ECX[15:8] (SDM Vol. 2A, Table 3-8, leaf 0BH). */
#define TOPO_LEVEL_INVALID 0u
#define TOPO_LEVEL_SMT     1u
#define TOPO_LEVEL_CORE    2u

static long lookup(const struct cpuid_table *t, uint32_t function, uint32_t index)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct cpuid_entry *e = &t->e[i];

		if (e->function != function)
			continue;
		if (!(e->flags & CPUID_FLAG_SIGNIFICANT_INDEX) || e->index == index)
			return (long)i;
	}
	return -1;
}

const struct cpuid_entry *cpuid_find(const struct cpuid_table *t, uint32_t function,
				     uint32_t index)
{
	long i = lookup(t, function, index);

	return i < 0 ? NULL : &t->e[i];
}

static struct cpuid_entry *find_mut(struct cpuid_table *t, uint32_t function, uint32_t index)
{
	long i = lookup(t, function, index);

	return i < 0 ? NULL : &t->e[i];
}

uint32_t cpuid_apic_id(const struct cpuid_table *t)
{
	const struct cpuid_entry *xt = cpuid_find(t, LEAF_EXT_TOPO, 0);
	const struct cpuid_entry *l1 = cpuid_find(t, LEAF_FEATURES, 0);

	if (xt)
		return xt->edx;
	return l1 ? l1->ebx >> 24 : UINT32_MAX;
}

/* The sub-leaf with exactly this index, created (index significant) if the table lacks it. */
static struct cpuid_entry *subleaf(struct cpuid_table *t, size_t cap, uint32_t function,
				   uint32_t index)
{
	struct cpuid_entry *e = NULL;

	for (size_t i = 0; i < t->n && !e; i++)
		if (t->e[i].function == function && t->e[i].index == index)
			e = &t->e[i];
	if (!e) {
		if (t->n >= cap)
			return NULL;
		e = &t->e[t->n++];
		memset(e, 0, sizeof(*e));
		e->function = function;
		e->index = index;
	}
	e->flags |= CPUID_FLAG_SIGNIFICANT_INDEX;
	return e;
}

static uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static void set_bits(uint32_t *reg, unsigned lo, unsigned width, uint32_t value)
{
	uint32_t mask = (width >= 32 ? UINT32_MAX : (1u << width) - 1) << lo;

	*reg = (*reg & ~mask) | ((value << lo) & mask);
}

/*
 * Leaf 1: EBX[31:24] initial APIC ID, EBX[23:16] addressable logical processor IDs per package
 * (a power of two covering the core and thread fields), valid only with EDX.HTT.
 */
static void set_leaf1(struct cpuid_entry *e, const struct platform *p, const struct cpu_desc *c)
{
	unsigned bits = topology_core_bits(&p->topo) + topology_thread_bits(&p->topo);
	uint32_t ids = bits >= 8 ? 255 : 1u << bits;

	set_bits(&e->ebx, 24, 8, c->apic_id & 0xff);
	set_bits(&e->ebx, 16, 8, ids);
	if (ids > 1)
		e->edx |= LEAF1_EDX_HTT;
	else
		e->edx &= ~LEAF1_EDX_HTT;
}

/*
 * Leaf 4: EAX[31:26] is the number of addressable core IDs per package minus one.  A sub-leaf
 * whose cache type EAX[4:0] is 0 ends the enumeration and is left as the accelerator gave it.
 */
static void set_leaf4(struct cpuid_table *t, const struct platform *p)
{
	unsigned bits = topology_core_bits(&p->topo);
	uint32_t cores = bits >= 6 ? 63 : (1u << bits) - 1;

	for (size_t i = 0; i < t->n; i++) {
		struct cpuid_entry *e = &t->e[i];

		if (e->function == LEAF_CACHE_PARAMS && (e->eax & 0x1f))
			set_bits(&e->eax, 26, 6, cores);
	}
}

static void set_topo_level(struct cpuid_entry *e, unsigned shift, uint32_t count,
			   uint32_t type, uint32_t x2apic_id)
{
	e->eax = shift & 0x1f;                 /* bits to shift the x2APIC ID to the next level */
	e->ebx = min_u32(count, 0xffff);       /* logical processors at this level             */
	e->ecx = type << 8 | (e->index & 0xff); /* level type, level number (= sub-leaf)        */
	e->edx = x2apic_id;
}

/*
 * Leaf 0xB (and 0x1F, its v2 with the same layout for these levels): sub-leaf 0 is the SMT
 * level, 1 the core level, 2 and above invalid (SDM Vol. 2A, CPUID leaf 0BH / 1FH).  EDX is
 * the full 32-bit x2APIC ID in every sub-leaf.
 */
static int set_ext_topology(struct cpuid_table *t, size_t cap, uint32_t function,
			    const struct platform *p, const struct cpu_desc *c)
{
	unsigned tb = topology_thread_bits(&p->topo), cb = topology_core_bits(&p->topo);
	struct cpuid_entry *smt = subleaf(t, cap, function, 0);
	struct cpuid_entry *core = subleaf(t, cap, function, 1);
	struct cpuid_entry *end = subleaf(t, cap, function, 2);

	if (!smt || !core || !end)
		return -1;
	set_topo_level(smt, tb, p->topo.threads, TOPO_LEVEL_SMT, c->apic_id);
	set_topo_level(core, tb + cb, p->topo.threads * p->topo.cores, TOPO_LEVEL_CORE,
		       c->apic_id);
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].function == function && t->e[i].index >= 2)
			set_topo_level(&t->e[i], 0, 0, TOPO_LEVEL_INVALID, c->apic_id);
	return 0;
}

/*
 * AMD APM Vol. 3, appendix E, CPUID Fn8000_0008 ECX: NC[7:0] = logical processors per package - 1,
 * ApicIdSize[15:12] = bits of the APIC ID that identify a processor within the package.
 */
static void set_amd_sizes(struct cpuid_entry *e, const struct platform *p)
{
	unsigned bits = topology_core_bits(&p->topo) + topology_thread_bits(&p->topo);

	set_bits(&e->ecx, 0, 8, min_u32(p->topo.cores * p->topo.threads - 1, 0xff));
	set_bits(&e->ecx, 12, 4, min_u32(bits, 0xf));
}

/*
 * AMD APM Vol. 3, appendix E, CPUID Fn8000_001E: EAX extended APIC ID, EBX[7:0] CoreId and [15:8]
 * ThreadsPerCore - 1, ECX[7:0] NodeId (one node per socket here).  CoreId is the APIC ID
 * without its thread bits, numbered across sockets as on multi-socket AMD parts.
 */
static void set_amd_ext_apic(struct cpuid_entry *e, const struct platform *p,
			     const struct cpu_desc *c)
{
	e->eax = c->apic_id;
	e->ebx = ((p->topo.threads - 1) & 0xff) << 8 |
		 ((c->apic_id >> topology_thread_bits(&p->topo)) & 0xff);
	e->ecx = c->socket & 0xff;
}

/* Fails (-1) for an index out of range, a table without leaf 0 or 1 (no accelerator omits
 * them), or more missing topology sub-leaves than CPUID_EXTRA_ENTRIES (at most 6 are added). */
int cpuid_for_vcpu(const struct platform *p, uint32_t index, const struct cpuid_table *supported,
		   struct cpuid_table *out)
{
	size_t cap = supported->n + CPUID_EXTRA_ENTRIES;

	if (index >= p->topo.cpus)
		return -1;
	memcpy(out->e, supported->e, supported->n * sizeof(supported->e[0]));
	out->n = supported->n;

	const struct cpu_desc *c = &p->cpus[index];
	struct cpuid_entry *l0 = find_mut(out, LEAF_BASIC_MAX, 0);
	struct cpuid_entry *l1 = find_mut(out, LEAF_FEATURES, 0);
	struct cpuid_entry *e;

	if (!l0 || !l1)
		return -1;
	uint32_t supported_max = l0->eax;

	/* The guest must be allowed to read leaf 0xB, which carries the x2APIC ID. */
	if (l0->eax < LEAF_EXT_TOPO)
		l0->eax = LEAF_EXT_TOPO;
	set_leaf1(l1, p, c);
	set_leaf4(out, p);
	if (set_ext_topology(out, cap, LEAF_EXT_TOPO, p, c))
		return -1;
	if (supported_max >= LEAF_V2_EXT_TOPO && set_ext_topology(out, cap, LEAF_V2_EXT_TOPO, p, c))
		return -1;
	e = find_mut(out, LEAF_AMD_SIZES, 0);
	if (e)
		set_amd_sizes(e, p);
	e = find_mut(out, LEAF_AMD_EXT_APIC, 0);
	if (e)
		set_amd_ext_apic(e, p, c);
	return 0;
}
