/*
 * mptable.c - MP Spec 1.4 floating pointer search (4.0: first KiB of the EBDA, else the
 * last KiB of base memory, then the BIOS ROM 0xF0000-0xFFFFF, 16-byte boundaries), the
 * floating pointer (4.1, Table 4-1), the configuration table header (4.2, Table 4-2),
 * processor entries (4.3.1, Table 4-4) and the extended table checksum (4.2).
 *
 * mpvmm's table lists every processor of the MADT.  Firmware may list only the first logical
 * processor of each package, as SeaBIOS does whenever CPUID.1:EDX.HTT is set (its
 * src/fw/mptable.c: "Only populate the MPS tables with the first logical CPU in each
 * package"): QEMU's -smp N is one package of N cores.  Started as a multiboot kernel, on
 * firmware that is not mpvmm's, the guest accepts that form too.
 */
#include "mptable.h"

#include <stddef.h>

#include "arch.h"
#include "lib.h"
#include "multiboot.h"
#include "result.h"
#include "state.h"

#define BDA_EBDA_SEGMENT 0x40eu
#define BDA_BASE_MEM_KB  0x413u
#define BIOS_ROM_START   0x000f0000u
#define BIOS_ROM_END     0x00100000u

#define MPC_HEADER_LEN   44u
#define MPC_PROCESSOR    0u  /* entry types and lengths: Table 4-3 */
#define MPC_PROCESSOR_LEN 20u
#define MPC_OTHER_LEN    8u  /* bus, I/O APIC, I/O and local interrupt assignment */
#define MPC_LAST_BASIC_TYPE 4u
#define CPU_FLAG_EN      (1u << 0)
#define CPU_FLAG_BP      (1u << 1)
#define CPUID_1_EDX_HTT  (1u << 28)

struct mpf {
	char signature[4];    /* "_MP_" */
	uint32_t config_addr;
	uint8_t length;       /* in 16-byte units: 1 */
	uint8_t spec_rev;     /* 1 (1.1) or 4 (1.4) */
	uint8_t checksum;
	uint8_t feature[5];   /* feature[0] != 0: a default configuration, no table */
} __attribute__((packed));

_Static_assert(sizeof(struct mpf) == 16, "MP Spec Table 4-1");

struct mpc_header {
	char signature[4];    /* "PCMP" */
	uint16_t base_length;
	uint8_t spec_rev;
	uint8_t checksum;
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_addr;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct mpc_header) == MPC_HEADER_LEN, "MP Spec Table 4-2");

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

#define MPF_SIGNATURE 0x5f504d5fu /* "_MP_" as a little-endian 32-bit load */

/* One 32-bit compare per position: the 64 KiB ROM scan is 4096 of them, emulated. */
static const struct mpf *mpf_scan(uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a + sizeof(struct mpf) <= end; a += 16) {
		const struct mpf *f = phys(a);
		if (*(const uint32_t *)f == MPF_SIGNATURE && f->length == 1 &&
		    sum8(phys(a), sizeof(*f)) == 0)
			return f;
	}
	return NULL;
}

static const struct mpf *mpf_find(void)
{
	uint64_t ebda = (uint64_t)*(const volatile uint16_t *)phys(BDA_EBDA_SEGMENT) << 4;
	uint64_t base_kb = *(const volatile uint16_t *)phys(BDA_BASE_MEM_KB);
	const struct mpf *f = NULL;

	if (ebda >= 0x400 && ebda < 0xa0000)
		f = mpf_scan(ebda, ebda + 1024);
	else
		f = mpf_scan(((base_kb >= 1 && base_kb <= 640) ? base_kb : 640) * 1024 - 1024,
			     ((base_kb >= 1 && base_kb <= 640) ? base_kb : 640) * 1024);
	return f ? f : mpf_scan(BIOS_ROM_START, BIOS_ROM_END);
}

/*
 * APIC IDs reserved for one physical package: CPUID.1:EBX[23:16] rounded up to a power of
 * two, valid when CPUID.1:EDX.HTT is set (Intel SDM Vol. 2A, CPUID, Table 3-8 and its
 * footnote); 1 otherwise.
 */
static uint32_t ids_per_package(void)
{
	struct cpuid_regs r = cpuid(1, 0);
	uint32_t n = (r.ebx >> 16) & 0xff, p = 1;

	if (!(r.edx & CPUID_1_EDX_HTT))
		return 1;
	while (p < n)
		p <<= 1;
	return p;
}

/* The MADT's processors whose APIC ID is the first of its package. */
static uint32_t madt_package_firsts(uint32_t per_package)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < g.ncpus; i++)
		n += (g.cpus[i].apic_id & (per_package - 1)) == 0;
	return n;
}

void mptable_check(bool expected, uint64_t mem_size)
{
	const struct mpf *f = mpf_find();

	if (!expected) {
		if (f)
			fail(SELFTEST_FAIL_MPTABLE, "mptable: floating pointer at 0x%lx, but some "
			     "apic id >= 255 or x2apic is forced", (unsigned long)(uintptr_t)f);
		return;
	}
	if (!f)
		fail(SELFTEST_FAIL_MPTABLE, "mptable: no floating pointer found");
	if (f->feature[0] != 0)
		fail(SELFTEST_FAIL_MPTABLE, "mptable: default configuration %u, no table",
		     f->feature[0]);
	uint64_t addr = f->config_addr;
	if (addr == 0 || addr >= mem_size || mem_size - addr < MPC_HEADER_LEN)
		fail(SELFTEST_FAIL_MPTABLE, "mptable: configuration table at 0x%lx is outside RAM",
		     (unsigned long)addr);
	const struct mpc_header *h = phys(addr);
	if (memcmp(h->signature, "PCMP", 4) != 0)
		fail(SELFTEST_FAIL_MPTABLE, "mptable: no PCMP signature at 0x%lx",
		     (unsigned long)addr);
	if (h->base_length < MPC_HEADER_LEN ||
	    mem_size - addr < (uint64_t)h->base_length + h->ext_length)
		fail(SELFTEST_FAIL_MPTABLE, "mptable: bad table length %u", h->base_length);
	if (sum8(phys(addr), h->base_length) != 0)
		fail(SELFTEST_FAIL_MPTABLE, "mptable: bad base table checksum");
	if ((uint8_t)(sum8(phys(addr + h->base_length), h->ext_length) + h->ext_checksum) != 0)
		fail(SELFTEST_FAIL_MPTABLE, "mptable: bad extended table checksum");

	/* Walk the base entries; compare the enabled processors with the MADT's. */
	uint8_t seen[256 / 8] = { 0 };
	uint32_t ncpus = 0, nbp = 0, firsts = 0, per_package = ids_per_package();
	const uint8_t *p = (const uint8_t *)h + MPC_HEADER_LEN;
	const uint8_t *end = (const uint8_t *)h + h->base_length;
	for (uint32_t i = 0; i < h->entry_count; i++) {
		if (p >= end || *p > MPC_LAST_BASIC_TYPE)
			fail(SELFTEST_FAIL_MPTABLE, "mptable: entry %u: bad type or past the end", i);
		uint32_t elen = *p == MPC_PROCESSOR ? MPC_PROCESSOR_LEN : MPC_OTHER_LEN;
		if ((size_t)(end - p) < elen)
			fail(SELFTEST_FAIL_MPTABLE, "mptable: entry %u runs past the table", i);
		if (*p == MPC_PROCESSOR && (p[3] & CPU_FLAG_EN)) {
			uint8_t id = p[1];
			if (seen[id / 8] & (1u << (id % 8)))
				fail(SELFTEST_FAIL_MPTABLE, "mptable: apic id %u listed twice", id);
			seen[id / 8] |= (uint8_t)(1u << (id % 8));
			if (cpu_index(id) < 0)
				fail(SELFTEST_FAIL_MPTABLE, "mptable: apic id %u is not in the madt", id);
			if (p[3] & CPU_FLAG_BP) {
				nbp++;
				if (id != g.cpus[0].apic_id)
					fail(SELFTEST_FAIL_MPTABLE, "mptable: BP flag on apic id %u, "
					     "madt's first processor is apic id %u", id,
					     g.cpus[0].apic_id);
			}
			ncpus++;
			firsts += (id & (per_package - 1)) == 0;
		}
		p += elen;
	}
	if (nbp != 1)
		fail(SELFTEST_FAIL_MPTABLE, "mptable: %u processors have the BP flag", nbp);
	/* Same count, all distinct, all in the MADT: the same set of APIC IDs. */
	if (ncpus == g.ncpus)
		return;
	/* Or (multiboot) all first in their package, as many as the MADT has: the same set. */
	uint32_t madt_firsts = madt_package_firsts(per_package);
	if (multiboot_started() && ncpus == firsts && ncpus == madt_firsts)
		return;
	fail(SELFTEST_FAIL_MPTABLE, "mptable: %u enabled processors, madt has %u (%u first in "
	     "a package of %u apic ids)", ncpus, g.ncpus, madt_firsts, per_package);
}
