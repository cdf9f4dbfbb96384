/*
 * madt.c - see madt.h.  ACPI 6.4: RSDP 5.2.5 (16-byte boundaries of 0xE0000-0xFFFFF), RSDT
 * 5.2.7, XSDT 5.2.8, MADT 5.2.12 with its Processor Local APIC (type 0), I/O APIC (type 1)
 * and Processor Local x2APIC (type 9) entries.  Checksums are mpvmm's business (its platform
 * check and the self-test guest verify them); this guest only needs the list.
 */
#include "madt.h"

#include "arch.h"
#include "chaos.h"
#include "lib.h"

#define RSDP_START 0x000e0000u
#define RSDP_END   0x00100000u
#define MADT_LOCAL_APIC  0
#define MADT_IO_APIC     1
#define MADT_LOCAL_X2APIC 9
#define MADT_ENABLED     1u

struct sdt_header {
	char signature[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem[6], oem_table[8];
	uint32_t oem_revision, creator, creator_revision;
} __attribute__((packed));

static const uint8_t *find_rsdp(void)
{
	for (uint32_t a = RSDP_START; a < RSDP_END; a += 16)
		if (!memcmp(phys(a), "RSD PTR ", 8))
			return phys(a);
	return 0;
}

/* The table with `sig` from the XSDT (8-byte entries) or the RSDT (4-byte entries). */
static const struct sdt_header *find_table(const uint8_t *rsdp, const char *sig)
{
	uint64_t root = rsdp[15] >= 2 ? *(const uint64_t *)(rsdp + 24) : *(const uint32_t *)(rsdp + 16);
	unsigned size = rsdp[15] >= 2 ? 8 : 4;
	const struct sdt_header *h = phys(root);

	for (uint32_t off = sizeof(*h); off + size <= h->length; off += size) {
		const uint8_t *e = (const uint8_t *)h + off;
		uint64_t at = size == 8 ? *(const uint64_t *)e : *(const uint32_t *)e;
		const struct sdt_header *t = phys(at);
		if (!memcmp(t->signature, sig, 4))
			return t;
	}
	return 0;
}

static void add_cpu(uint32_t apic_id, uint32_t bsp_id)
{
	if (cs.ncpus >= CHAOS_MAX_CPUS)
		return;
	if (apic_id == bsp_id) { /* the BSP goes first */
		cs.apic_ids[cs.ncpus++] = cs.apic_ids[0];
		cs.apic_ids[0] = apic_id;
	} else {
		cs.apic_ids[cs.ncpus++] = apic_id;
	}
}

const char *madt_read(uint32_t bsp_id)
{
	const uint8_t *rsdp = find_rsdp();
	const struct sdt_header *madt = rsdp ? find_table(rsdp, "APIC") : 0;
	uint32_t listed = 0;

	if (!madt)
		return "no MADT";
	cs.ncpus = 0;
	const uint8_t *p = (const uint8_t *)madt + sizeof(*madt) + 8; /* local APIC address, flags */
	for (const uint8_t *end = (const uint8_t *)madt + madt->length; p + 2 <= end && p[1];
	     p += p[1]) {
		if (p[0] == MADT_LOCAL_APIC && (*(const uint32_t *)(p + 4) & MADT_ENABLED)) {
			add_cpu(p[3], bsp_id);
			listed++;
		} else if (p[0] == MADT_LOCAL_X2APIC && (*(const uint32_t *)(p + 8) & MADT_ENABLED)) {
			add_cpu(*(const uint32_t *)(p + 4), bsp_id);
			listed++;
		} else if (p[0] == MADT_IO_APIC && !cs.ioapic_addr) {
			cs.ioapic_addr = *(const uint32_t *)(p + 4);
		}
	}
	if (listed > CHAOS_MAX_CPUS)
		return "more processors than the guest has room for";
	if (!cs.ncpus || cs.apic_ids[0] != bsp_id)
		return "the BSP is not in the MADT";
	return 0;
}
