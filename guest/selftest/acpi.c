/*
 * acpi.c - find the RSDP the way OSPM does (ACPI 6.4, 5.2.5.1: 16-byte boundaries in the
 * first KiB of the EBDA, then 0xE0000-0xFFFFF), follow the XSDT (5.2.8; RSDT 5.2.7 for
 * revision-0 RSDPs) to the MADT (signature "APIC", 5.2.12), and list its processors:
 * Processor Local APIC entries (type 0, 5.2.12.2) and Processor Local x2APIC entries
 * (type 9, 5.2.12.12).  Every table's checksum and length are verified (5.2.6).
 */
#include "acpi.h"

#include <stdbool.h>
#include <stddef.h>

#include "arch.h"
#include "lib.h"
#include "result.h"
#include "state.h"

#define BDA_EBDA_SEGMENT 0x40eu       /* BIOS data area: EBDA segment (16 bits) */
#define RSDP_AREA_START  0x000e0000u
#define RSDP_AREA_END    0x00100000u
#define RSDP_SIGNATURE   0x2052545020445352ull /* "RSD PTR " as a little-endian 64-bit load */
#define SDT_HEADER_LEN   36u
#define TABLE_MAX_LEN    (1u << 20)   /* bound the checksum work on a corrupt length */

#define MADT_ENTRIES_OFFSET 44u       /* header + local APIC address + flags */
#define MADT_TYPE_LAPIC   0u
#define MADT_TYPE_IOAPIC  1u          /* 5.2.12.3: ID at 2, address at 4, GSI base at 8 */
#define MADT_TYPE_ISO     2u          /* 5.2.12.5: bus 2, source IRQ 3, GSI at 4        */
#define MADT_TYPE_X2APIC  9u
#define MADT_IOAPIC_LEN   12u
#define MADT_ISO_LEN      10u
#define MADT_LAPIC_LEN    8u
#define MADT_X2APIC_LEN   16u
#define MADT_CPU_ENABLED  (1u << 0)   /* Local APIC Flags (Table 5.23) */

struct rsdp {
	char signature[8];   /* "RSD PTR " */
	uint8_t checksum;    /* first 20 bytes */
	char oem_id[6];
	uint8_t revision;    /* 0: ACPI 1.0 (RSDT only), 2: XSDT */
	uint32_t rsdt_addr;
	uint32_t length;     /* of the whole structure, revision >= 2 */
	uint64_t xsdt_addr;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} __attribute__((packed));

_Static_assert(sizeof(struct rsdp) == 36, "ACPI 6.4 Table 5.3");

struct sdt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

_Static_assert(sizeof(struct sdt_header) == SDT_HEADER_LEN, "ACPI 6.4 Table 5.4");

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s;
}

static const struct rsdp *rsdp_scan(uint64_t start, uint64_t end)
{
	for (uint64_t a = start; a + sizeof(struct rsdp) <= end; a += 16) {
		const struct rsdp *r = phys(a);
		if (*(const uint64_t *)r == RSDP_SIGNATURE && sum8(phys(a), 20) == 0)
			return r;
	}
	return NULL;
}

static const struct rsdp *rsdp_find(void)
{
	uint64_t ebda = (uint64_t)*(const volatile uint16_t *)phys(BDA_EBDA_SEGMENT) << 4;
	const struct rsdp *r = NULL;

	if (ebda >= 0x400 && ebda < RSDP_AREA_START)
		r = rsdp_scan(ebda, ebda + 1024);
	return r ? r : rsdp_scan(RSDP_AREA_START, RSDP_AREA_END);
}

/* A system description table at addr: in RAM, sane length, checksum 0. */
static const struct sdt_header *sdt_at(uint64_t addr, uint64_t mem_size, const char *what)
{
	if (addr == 0 || addr >= mem_size || mem_size - addr < SDT_HEADER_LEN)
		fail(SELFTEST_FAIL_ACPI, "acpi: %s at 0x%lx is outside RAM", what,
		     (unsigned long)addr);
	const struct sdt_header *h = phys(addr);
	if (h->length < SDT_HEADER_LEN || h->length > TABLE_MAX_LEN || h->length > mem_size - addr)
		fail(SELFTEST_FAIL_ACPI, "acpi: %s at 0x%lx has bad length %u", what,
		     (unsigned long)addr, h->length);
	if (sum8(phys(addr), h->length) != 0)
		fail(SELFTEST_FAIL_ACPI, "acpi: %s at 0x%lx has a bad checksum", what,
		     (unsigned long)addr);
	return h;
}

static uint64_t madt_find(const struct rsdp *r, uint64_t mem_size)
{
	bool xsdt = r->revision >= 2 && r->xsdt_addr != 0;

	if (r->revision >= 2 &&
	    (r->length < sizeof(*r) || sum8((const uint8_t *)r, sizeof(*r)) != 0))
		fail(SELFTEST_FAIL_ACPI, "acpi: rsdp extended checksum or length is bad");
	const struct sdt_header *root = sdt_at(xsdt ? r->xsdt_addr : r->rsdt_addr, mem_size,
					       xsdt ? "xsdt" : "rsdt");
	if (memcmp(root->signature, xsdt ? "XSDT" : "RSDT", 4) != 0)
		fail(SELFTEST_FAIL_ACPI, "acpi: root table signature is not %s",
		     xsdt ? "XSDT" : "RSDT");

	size_t esize = xsdt ? 8 : 4;
	const uint8_t *entries = (const uint8_t *)root + SDT_HEADER_LEN;
	size_t n = (root->length - SDT_HEADER_LEN) / esize;
	for (size_t i = 0; i < n; i++) {
		uint64_t addr = 0;
		memcpy(&addr, entries + i * esize, esize);
		const struct sdt_header *h = sdt_at(addr, mem_size, "table");
		if (memcmp(h->signature, "APIC", 4) == 0)
			return addr;
	}
	fail(SELFTEST_FAIL_ACPI, "acpi: no MADT in the %s", xsdt ? "xsdt" : "rsdt");
}

static void add_processor(uint32_t apic_id, uint32_t uid)
{
	if (g.ncpus >= SELFTEST_MAX_CPUS)
		fail(SELFTEST_FAIL_RESOURCES, "acpi: more than %u processors", SELFTEST_MAX_CPUS);
	if (!cpu_add(apic_id, uid))
		fail(SELFTEST_FAIL_ACPI, "acpi: madt lists apic id %u twice", apic_id);
}

/* The MADT's enabled processors: counted, and appended to g.cpus if `add`. */
static uint32_t madt_processors(uint64_t mem_size, bool add)
{
	uint32_t n = 0;
	const struct rsdp *r = rsdp_find();
	if (!r)
		fail(SELFTEST_FAIL_ACPI, "acpi: no rsdp in the ebda or 0xe0000-0xfffff");

	uint64_t madt_addr = madt_find(r, mem_size);
	const uint8_t *madt = phys(madt_addr);
	uint32_t len = ((const struct sdt_header *)madt)->length;
	if (len < MADT_ENTRIES_OFFSET)
		fail(SELFTEST_FAIL_ACPI, "acpi: madt too short (%u bytes)", len);

	for (uint32_t off = MADT_ENTRIES_OFFSET; off < len;) {
		const uint8_t *e = madt + off;
		uint8_t type = e[0];
		uint32_t elen = len - off >= 2 ? e[1] : 0;
		if (elen < 2 || elen > len - off)
			fail(SELFTEST_FAIL_ACPI, "acpi: madt entry at offset %u has bad length", off);
		uint32_t flags, apic_id, uid;
		if (type == MADT_TYPE_LAPIC && elen >= MADT_LAPIC_LEN) {
			uid = e[2];
			apic_id = e[3];
			memcpy(&flags, e + 4, 4);
		} else if (type == MADT_TYPE_X2APIC && elen >= MADT_X2APIC_LEN) {
			memcpy(&apic_id, e + 4, 4);
			memcpy(&flags, e + 8, 4);
			memcpy(&uid, e + 12, 4);
		} else if (type == MADT_TYPE_LAPIC || type == MADT_TYPE_X2APIC) {
			fail(SELFTEST_FAIL_ACPI, "acpi: madt processor entry at offset %u too short",
			     off);
		} else {
			if (add && type == MADT_TYPE_IOAPIC && elen >= MADT_IOAPIC_LEN &&
			    !g.ioapic_addr)
				memcpy(&g.ioapic_addr, e + 4, 4);
			if (add && type == MADT_TYPE_ISO && elen >= MADT_ISO_LEN && e[3] == 0)
				memcpy(&g.timer_gsi, e + 4, 4); /* ISA IRQ 0, the PIT */
			off += elen;
			continue;
		}
		/* OSPM does not start a processor whose Enabled flag is clear (5.2.12.2). */
		if (flags & MADT_CPU_ENABLED) {
			n++;
			if (add)
				add_processor(apic_id, uid);
		}
		off += elen;
	}
	if (n == 0)
		fail(SELFTEST_FAIL_ACPI, "acpi: madt lists no enabled processor");
	return n;
}

void acpi_read_processors(uint64_t mem_size)
{
	madt_processors(mem_size, true);
}

uint32_t acpi_count_processors(uint64_t mem_size)
{
	return madt_processors(mem_size, false);
}
