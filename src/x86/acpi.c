/*
 * acpi.c - the ACPI tables of the machine (ACPI 6.4): RSDP, XSDT, FADT, MADT and a DSDT that
 * only defines \_S5, built from the platform description; their layouts are acpi_tables.h's,
 * and acpi_parse.c reads them back as an OS would.
 *
 * Knows the platform description and a byte array standing for guest physical memory; knows
 * nothing of KVM, and nothing of the devices behind the ports it names (acpi.h exports those
 * numbers for them).
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "x86/acpi.h"
#include "x86/acpi_tables.h"

/*
 * DSDT body, AML (ACPI 6.4, chapter 20):  Name (\_S5, Package () { 5, 5, 0, 0 })
 *   08              NameOp
 *   5C 5F 53 35 5F  "\_S5_": RootChar, NameSeg
 *   12              PackageOp
 *   08              PkgLength: 8 bytes, itself included
 *   04              NumElements
 *   0A 05           BytePrefix 5: SLP_TYPa
 *   0A 05           BytePrefix 5: SLP_TYPb
 *   00 00           ZeroOp, ZeroOp: reserved
 */
static const uint8_t dsdt_aml[] = {
	0x08, 0x5c, 0x5f, 0x53, 0x35, 0x5f, 0x12, 0x08, 0x04, 0x0a, ACPI_S5_SLP_TYP,
	0x0a, ACPI_S5_SLP_TYP, 0x00, 0x00,
};

struct acpi_layout { /* offsets from the RSDP */
	size_t xsdt, fadt, madt, dsdt, end;
	size_t madt_len;
};

#define XSDT_ENTRIES 2 /* FADT, MADT; the DSDT hangs off the FADT */

static size_t align16(size_t x)
{
	return (x + 15) & ~(size_t)15;
}

static bool needs_x2apic_entry(const struct cpu_desc *c)
{
	return c->apic_id > PLATFORM_XAPIC_MAX_ID;
}

static size_t madt_size(const struct platform *p)
{
	size_t len = sizeof(struct acpi_madt);

	for (uint32_t i = 0; i < p->topo.cpus; i++)
		len += needs_x2apic_entry(&p->cpus[i]) ? sizeof(struct madt_x2apic)
						      : sizeof(struct madt_lapic);
	len += sizeof(struct madt_ioapic) + 2 * sizeof(struct madt_iso) +
	       sizeof(struct madt_lapic_nmi);
	if (p->x2apic)
		len += sizeof(struct madt_x2apic_nmi);
	return len;
}

static struct acpi_layout plan_layout(const struct platform *p)
{
	struct acpi_layout l;

	l.xsdt = align16(sizeof(struct acpi_rsdp));
	l.fadt = align16(l.xsdt + sizeof(struct acpi_header) + XSDT_ENTRIES * sizeof(uint64_t));
	l.madt = align16(l.fadt + sizeof(struct acpi_fadt));
	l.madt_len = madt_size(p);
	l.dsdt = align16(l.madt + l.madt_len);
	l.end = l.dsdt + sizeof(struct acpi_header) + sizeof(dsdt_aml);
	return l;
}

static struct acpi_header make_header(const char sig[4], size_t len, uint8_t revision)
{
	struct acpi_header h = { .length = (uint32_t)len, .revision = revision,
				 .oem_revision = 1, .creator_revision = 1 };

	memcpy(h.signature, sig, 4);
	memcpy(h.oem_id, "MPVMM ", 6);
	memcpy(h.oem_table_id, "MPVMM   ", 8);
	memcpy(h.creator_id, "MPVM", 4);
	return h;
}

/* The checksum byte makes the bytes of the whole table sum to zero (5.2.6). */
static void seal(uint8_t *table, size_t len)
{
	table[offsetof(struct acpi_header, checksum)] = 0;
	table[offsetof(struct acpi_header, checksum)] = acpi_checksum(table, len);
}

static void write_rsdp(uint8_t *base, uint64_t xsdt_addr)
{
	struct acpi_rsdp r = {
		.signature = { 'R', 'S', 'D', ' ', 'P', 'T', 'R', ' ' },
		.revision = 2,
		.rsdt_address = 0, /* no RSDT: revision 2 OSes use the XSDT */
		.length = sizeof(r),
		.xsdt_address = xsdt_addr,
	};

	memcpy(r.oem_id, "MPVMM ", 6);
	r.checksum = acpi_checksum((const uint8_t *)&r, RSDP_V1_LEN);
	r.ext_checksum = acpi_checksum((const uint8_t *)&r, sizeof(r));
	memcpy(base, &r, sizeof(r));
}

static void write_xsdt(uint8_t *t, uint64_t fadt_addr, uint64_t madt_addr)
{
	size_t len = sizeof(struct acpi_header) + XSDT_ENTRIES * sizeof(uint64_t);
	struct acpi_header h = make_header("XSDT", len, 1);
	uint64_t entries[XSDT_ENTRIES] = { fadt_addr, madt_addr };

	memcpy(t, &h, sizeof(h));
	memcpy(t + sizeof(h), entries, sizeof(entries));
	seal(t, len);
}

static struct acpi_gas io_gas(uint16_t port, uint8_t bit_width, uint8_t access_size)
{
	return (struct acpi_gas){ .space_id = GAS_SYSTEM_IO, .bit_width = bit_width,
				  .access_size = access_size, .address = port };
}

static void write_fadt(uint8_t *t, uint64_t dsdt_addr)
{
	struct acpi_fadt f = {
		.h = make_header("FACP", sizeof(f), 6),
		.dsdt = (uint32_t)dsdt_addr,
		.sci_int = ACPI_SCI_IRQ,
		/* SMI_CMD = 0: there is no SMM to hand over from; the hardware is always in
		 * ACPI mode (SCI_EN reads 1), so the OS finds ACPI already enabled (5.2.9,
		 * SMI_CMD; 4.8.2.1 on legacy/ACPI mode). */
		.smi_cmd = 0,
		.pm1a_evt_blk = ACPI_PM1A_EVT_PORT,
		.pm1a_cnt_blk = ACPI_PM1A_CNT_PORT,
		.pm_tmr_blk = 0, /* no PM timer: the OS calibrates its clocks some other way */
		.pm1_evt_len = ACPI_PM1_EVT_LEN,
		.pm1_cnt_len = ACPI_PM1_CNT_LEN,
		.pm_tmr_len = 0,
		.p_lvl2_lat = FADT_NO_C2_LATENCY,
		.p_lvl3_lat = FADT_NO_C3_LATENCY,
		.iapc_boot_arch = IAPC_LEGACY_DEVICES | IAPC_8042,
		.flags = FADT_WBINVD | FADT_PROC_C1 | FADT_PWR_BUTTON | FADT_SLP_BUTTON |
			 FADT_RESET_REG_SUP,
		/* Reset by pulsing the CPU reset line through the 8042 (command 0xFE). */
		.reset_reg = io_gas(ACPI_RESET_PORT, 8, GAS_ACCESS_BYTE),
		.reset_value = ACPI_RESET_VALUE,
		.minor_version = 4,
		.x_dsdt = dsdt_addr,
		.x_pm1a_evt_blk = io_gas(ACPI_PM1A_EVT_PORT, ACPI_PM1_EVT_LEN * 8, GAS_ACCESS_WORD),
		.x_pm1a_cnt_blk = io_gas(ACPI_PM1A_CNT_PORT, ACPI_PM1_CNT_LEN * 8, GAS_ACCESS_WORD),
	};

	memcpy(t, &f, sizeof(f));
	seal(t, sizeof(f));
}

static uint8_t *put(uint8_t *cur, const void *entry, size_t size)
{
	memcpy(cur, entry, size);
	return cur + size;
}

/* 5.2.12.12: processors with APIC IDs below 255 use type 0, the others type 9. */
static uint8_t *put_cpu(uint8_t *cur, const struct cpu_desc *c)
{
	if (needs_x2apic_entry(c)) {
		struct madt_x2apic e = { .type = MADT_X2APIC, .length = sizeof(e),
					 .x2apic_id = c->apic_id, .flags = MADT_ENABLED,
					 .uid = c->acpi_uid };

		return put(cur, &e, sizeof(e));
	}
	struct madt_lapic e = { .type = MADT_LAPIC, .length = sizeof(e),
				.uid = (uint8_t)c->acpi_uid, .apic_id = (uint8_t)c->apic_id,
				.flags = MADT_ENABLED };

	return put(cur, &e, sizeof(e));
}

/* In firmware-table order: the BSP first (platform_table_cpu). */
static uint8_t *put_cpus(uint8_t *cur, const struct platform *p)
{
	for (uint32_t pos = 0; pos < p->topo.cpus; pos++)
		cur = put_cpu(cur, &p->cpus[platform_table_cpu(p, pos)]);
	return cur;
}

static uint8_t *put_iso(uint8_t *cur, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	struct madt_iso e = { .type = MADT_ISO, .length = sizeof(e), .bus = 0, .source = irq,
			      .gsi = gsi, .flags = flags };

	return put(cur, &e, sizeof(e));
}

static void write_madt(uint8_t *t, size_t len, const struct platform *p)
{
	struct acpi_madt m = { .h = make_header("APIC", len, 5), .lapic_addr = PLATFORM_LAPIC_ADDR,
			       .flags = MADT_PCAT_COMPAT };
	struct madt_ioapic io = { .type = MADT_IOAPIC, .length = sizeof(io),
				  .ioapic_id = p->ioapic_id, .addr = PLATFORM_IOAPIC_ADDR,
				  .gsi_base = 0 };
	struct madt_lapic_nmi nmi = { .type = MADT_LAPIC_NMI, .length = sizeof(nmi),
				      .uid = MADT_ALL_UIDS_8, .flags = 0, .lint = NMI_LINT };
	struct madt_x2apic_nmi x2nmi = { .type = MADT_X2APIC_NMI, .length = sizeof(x2nmi),
					 .flags = 0, .uid = MADT_ALL_UIDS_32, .lint = NMI_LINT };
	uint8_t *cur = put(t, &m, sizeof(m));

	cur = put_cpus(cur, p);
	cur = put(cur, &io, sizeof(io));
	/* The PC timer is wired to INTIN 2 (the MP table says the same); the SCI is a
	 * level-triggered, active-high ISA interrupt (5.2.9: SCI_INT, and 5.2.12.5). */
	cur = put_iso(cur, 0, 2, 0);
	cur = put_iso(cur, ACPI_SCI_IRQ, ACPI_SCI_IRQ, MPS_INTI_LEVEL_HIGH);
	cur = put(cur, &nmi, sizeof(nmi));
	if (p->x2apic)
		put(cur, &x2nmi, sizeof(x2nmi));
	seal(t, len);
}

static void write_dsdt(uint8_t *t)
{
	size_t len = sizeof(struct acpi_header) + sizeof(dsdt_aml);
	struct acpi_header h = make_header("DSDT", len, 2); /* revision 2: 64-bit integers */

	memcpy(t, &h, sizeof(h));
	memcpy(t + sizeof(h), dsdt_aml, sizeof(dsdt_aml));
	seal(t, len);
}

static int check_room(const struct platform *p, size_t len, size_t mem_size, uint32_t addr,
		      size_t max, char *err, size_t errlen)
{
	if (addr % 16) {
		snprintf(err, errlen, "ACPI: RSDP address 0x%x is not 16-byte aligned", addr);
		return -1;
	}
	/* A type-0 entry has an 8-bit UID (and 0xFF means "all" in NMI entries). */
	for (uint32_t i = 0; i < p->topo.cpus; i++) {
		const struct cpu_desc *c = &p->cpus[i];

		if (!needs_x2apic_entry(c) && c->acpi_uid > PLATFORM_XAPIC_MAX_ID) {
			snprintf(err, errlen, "ACPI: vCPU %u has UID %u, too large for its type-0 "
				 "MADT entry", i, c->acpi_uid);
			return -1;
		}
	}
	if (len > max) {
		snprintf(err, errlen, "ACPI: tables need %zu bytes, only %zu available at 0x%x",
			 len, max, addr);
		return -1;
	}
	if (addr > mem_size || len > mem_size - addr) {
		snprintf(err, errlen, "ACPI: 0x%x + %zu bytes lies beyond guest memory (%zu bytes)",
			 addr, len, mem_size);
		return -1;
	}
	return 0;
}

long acpi_build(const struct platform *p, uint8_t *mem, size_t mem_size, uint32_t addr,
		size_t max, char *err, size_t errlen)
{
	struct acpi_layout l = plan_layout(p);
	uint8_t *base = mem + addr;

	if (check_room(p, l.end, mem_size, addr, max, err, errlen))
		return -1;
	write_rsdp(base, addr + l.xsdt);
	write_xsdt(base + l.xsdt, addr + l.fadt, addr + l.madt);
	write_fadt(base + l.fadt, addr + l.dsdt);
	write_madt(base + l.madt, l.madt_len, p);
	write_dsdt(base + l.dsdt);
	return (long)l.end;
}
