/*
 * acpi.c - the ACPI tables of the machine (ACPI 6.4): RSDP, XSDT, FADT, MADT and a DSDT that
 * only defines \_S5; and a parser that finds and checks them as an OS would.
 *
 * Knows the platform description and a byte array standing for guest physical memory; knows
 * nothing of KVM, and nothing of the devices behind the ports it names (acpi.h exports those
 * numbers for them).  The parser trusts no byte it reads.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "x86/acpi.h"

/* ---- Layouts ---- */

struct acpi_rsdp { /* 5.2.5.3 */
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* first 20 bytes (the ACPI 1.0 structure) */
	char oem_id[6];
	uint8_t revision;  /* 2: XSDT and the extended fields are valid */
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t ext_checksum; /* whole structure */
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_rsdp) == 36, "ACPI 6.4, 5.2.5.3");

#define RSDP_V1_LEN 20

struct acpi_header { /* 5.2.6 */
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_header) == 36, "ACPI 6.4, 5.2.6");

struct acpi_gas { /* 5.2.3.2: Generic Address Structure */
	uint8_t space_id;
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_gas) == 12, "ACPI 6.4, 5.2.3.2");

#define GAS_SYSTEM_IO 1
#define GAS_ACCESS_BYTE 1
#define GAS_ACCESS_WORD 2

struct acpi_fadt { /* 5.2.9, FADT format */
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable;
	uint8_t acpi_disable;
	uint8_t s4bios_req;
	uint8_t pstate_cnt;
	uint32_t pm1a_evt_blk;
	uint32_t pm1b_evt_blk;
	uint32_t pm1a_cnt_blk;
	uint32_t pm1b_cnt_blk;
	uint32_t pm2_cnt_blk;
	uint32_t pm_tmr_blk;
	uint32_t gpe0_blk;
	uint32_t gpe1_blk;
	uint8_t pm1_evt_len;
	uint8_t pm1_cnt_len;
	uint8_t pm2_cnt_len;
	uint8_t pm_tmr_len;
	uint8_t gpe0_blk_len;
	uint8_t gpe1_blk_len;
	uint8_t gpe1_base;
	uint8_t cst_cnt;
	uint16_t p_lvl2_lat;
	uint16_t p_lvl3_lat;
	uint16_t flush_size;
	uint16_t flush_stride;
	uint8_t duty_offset;
	uint8_t duty_width;
	uint8_t day_alrm;
	uint8_t mon_alrm;
	uint8_t century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt_blk;
	struct acpi_gas x_pm1b_evt_blk;
	struct acpi_gas x_pm1a_cnt_blk;
	struct acpi_gas x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk;
	struct acpi_gas x_pm_tmr_blk;
	struct acpi_gas x_gpe0_blk;
	struct acpi_gas x_gpe1_blk;
	struct acpi_gas sleep_control_reg;
	struct acpi_gas sleep_status_reg;
	uint64_t hypervisor_vendor_id;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_fadt) == 276, "ACPI 6.4, 5.2.9");
_Static_assert(offsetof(struct acpi_fadt, x_dsdt) == 140, "ACPI 6.4, 5.2.9");

/* FADT Fixed Feature Flags (5.2.9). */
#define FADT_WBINVD        (1u << 0)  /* WBINVD works: true of every x86 CPU KVM runs */
#define FADT_PROC_C1       (1u << 2)  /* C1 (HLT) works on all processors */
#define FADT_PWR_BUTTON    (1u << 4)  /* set: no fixed-feature power button */
#define FADT_SLP_BUTTON    (1u << 5)  /* set: no fixed-feature sleep button */
#define FADT_RESET_REG_SUP (1u << 10) /* RESET_REG / RESET_VALUE are valid */

/* IA-PC Boot Architecture Flags (5.2.9.3). */
#define IAPC_LEGACY_DEVICES (1u << 0)
#define IAPC_8042           (1u << 1)

/* P_LVL2_LAT > 100 and P_LVL3_LAT > 1000 mean C2 and C3 are not supported (5.2.9). */
#define FADT_NO_C2_LATENCY 101
#define FADT_NO_C3_LATENCY 1001

struct acpi_madt { /* 5.2.12 */
	struct acpi_header h;
	uint32_t lapic_addr;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct acpi_madt) == 44, "ACPI 6.4, 5.2.12");

#define MADT_PCAT_COMPAT 1u /* dual 8259s present: the OS must mask them (5.2.12) */

enum madt_type { /* 5.2.12, Interrupt Controller Structure Types */
	MADT_LAPIC = 0,
	MADT_IOAPIC = 1,
	MADT_ISO = 2,
	MADT_LAPIC_NMI = 4,
	MADT_X2APIC = 9,
	MADT_X2APIC_NMI = 0xa,
};

struct madt_lapic { /* 5.2.12.2 */
	uint8_t type, length;
	uint8_t uid;
	uint8_t apic_id;
	uint32_t flags;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic) == 8, "ACPI 6.4, 5.2.12.2");

struct madt_ioapic { /* 5.2.12.3 */
	uint8_t type, length;
	uint8_t ioapic_id;
	uint8_t reserved;
	uint32_t addr;
	uint32_t gsi_base;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_ioapic) == 12, "ACPI 6.4, 5.2.12.3");

struct madt_iso { /* 5.2.12.5 */
	uint8_t type, length;
	uint8_t bus;    /* 0 = ISA */
	uint8_t source; /* ISA IRQ */
	uint32_t gsi;
	uint16_t flags; /* MPS INTI flags (5.2.12.5) */
} __attribute__((packed));
_Static_assert(sizeof(struct madt_iso) == 10, "ACPI 6.4, 5.2.12.5");

struct madt_lapic_nmi { /* 5.2.12.7 */
	uint8_t type, length;
	uint8_t uid; /* 0xFF: all processors */
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "ACPI 6.4, 5.2.12.7");

struct madt_x2apic { /* 5.2.12.12 */
	uint8_t type, length;
	uint16_t reserved;
	uint32_t x2apic_id;
	uint32_t flags;
	uint32_t uid;
} __attribute__((packed));
_Static_assert(sizeof(struct madt_x2apic) == 16, "ACPI 6.4, 5.2.12.12");

struct madt_x2apic_nmi { /* 5.2.12.13 */
	uint8_t type, length;
	uint16_t flags;
	uint32_t uid; /* 0xFFFFFFFF: all processors */
	uint8_t lint;
	uint8_t reserved[3];
} __attribute__((packed));
_Static_assert(sizeof(struct madt_x2apic_nmi) == 12, "ACPI 6.4, 5.2.12.13");

#define MADT_ENABLED 1u                  /* Local APIC Flags (5.2.12.2) */
#define MPS_INTI_LEVEL_HIGH 0x000du      /* active high (01b), level triggered (11b << 2) */
#define MADT_ALL_UIDS_8 0xffu
#define MADT_ALL_UIDS_32 0xffffffffu
#define NMI_LINT 1                       /* NMI arrives on LINT1 (virtual wire mode) */

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

/* ---- Builder ---- */

struct acpi_layout { /* offsets from the RSDP */
	size_t xsdt, fadt, madt, dsdt, end;
	size_t madt_len;
};

#define XSDT_ENTRIES 2 /* FADT, MADT; the DSDT hangs off the FADT */

static size_t align16(size_t x)
{
	return (x + 15) & ~(size_t)15;
}

static uint8_t checksum(const uint8_t *b, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return (uint8_t)-sum;
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
	table[offsetof(struct acpi_header, checksum)] = checksum(table, len);
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
	r.checksum = checksum((const uint8_t *)&r, RSDP_V1_LEN);
	r.ext_checksum = checksum((const uint8_t *)&r, sizeof(r));
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

/* ---- Parser ---- */

static uint32_t rd16(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8;
}

static uint32_t rd32(const uint8_t *b)
{
	return rd16(b) | rd16(b + 2) << 16;
}

static uint64_t rd64(const uint8_t *b)
{
	return rd32(b) | (uint64_t)rd32(b + 4) << 32;
}

/* [addr, addr + len) lies within guest memory. */
static bool in_mem(size_t mem_size, uint64_t addr, uint64_t len)
{
	return addr <= mem_size && len <= mem_size - addr;
}

static int check_rsdp(const uint8_t *mem, size_t mem_size, uint32_t a, char *err, size_t errlen)
{
	const uint8_t *r = mem + a;
	uint32_t len = rd32(r + offsetof(struct acpi_rsdp, length));

	if (checksum(r, RSDP_V1_LEN)) {
		snprintf(err, errlen, "ACPI: RSDP at 0x%x: bad checksum", a);
		return -1;
	}
	if (r[offsetof(struct acpi_rsdp, revision)] < 2) {
		snprintf(err, errlen, "ACPI: RSDP at 0x%x: revision %u, no XSDT", a,
			 r[offsetof(struct acpi_rsdp, revision)]);
		return -1;
	}
	if (len < sizeof(struct acpi_rsdp) || !in_mem(mem_size, a, len)) {
		snprintf(err, errlen, "ACPI: RSDP at 0x%x: bad length %u", a, len);
		return -1;
	}
	if (checksum(r, len)) {
		snprintf(err, errlen, "ACPI: RSDP at 0x%x: bad extended checksum", a);
		return -1;
	}
	return 0;
}

/* 5.2.5.1: on a 16-byte boundary in the BIOS read-only area 0xE0000-0xFFFFF. */
static int find_rsdp(const uint8_t *mem, size_t mem_size, uint32_t *found, char *err,
		     size_t errlen)
{
	char why[160] = "";

	for (uint32_t a = 0xe0000; a < 0x100000; a += 16) {
		char reason[sizeof(why)];

		if (!in_mem(mem_size, a, RSDP_V1_LEN))
			break;
		if (memcmp(mem + a, "RSD PTR ", 8))
			continue;
		if (check_rsdp(mem, mem_size, a, reason, sizeof(reason)) == 0) {
			*found = a;
			return 0;
		}
		if (!why[0])
			memcpy(why, reason, sizeof(why));
	}
	if (why[0])
		snprintf(err, errlen, "%s", why);
	else
		snprintf(err, errlen, "ACPI: no RSDP (\"RSD PTR \") in 0xE0000-0xFFFFF");
	return -1;
}

/* A system description table at addr: header inside memory, signature, length, checksum. */
static int check_sdt(const uint8_t *mem, size_t mem_size, uint64_t addr, const char *sig,
		     char *err, size_t errlen)
{
	if (!in_mem(mem_size, addr, sizeof(struct acpi_header))) {
		snprintf(err, errlen, "ACPI: %s at 0x%llx lies beyond guest memory", sig,
			 (unsigned long long)addr);
		return -1;
	}
	const uint8_t *t = mem + addr;
	uint32_t len = rd32(t + offsetof(struct acpi_header, length));

	if (memcmp(t, sig, 4)) {
		snprintf(err, errlen, "ACPI: table at 0x%llx: signature \"%.4s\", expected \"%s\"",
			 (unsigned long long)addr, (const char *)t, sig);
		return -1;
	}
	if (len < sizeof(struct acpi_header) || !in_mem(mem_size, addr, len)) {
		snprintf(err, errlen, "ACPI: %s at 0x%llx: bad length %u", sig,
			 (unsigned long long)addr, len);
		return -1;
	}
	if (checksum(t, len)) {
		snprintf(err, errlen, "ACPI: %s at 0x%llx: bad checksum", sig,
			 (unsigned long long)addr);
		return -1;
	}
	return 0;
}

/* Minimum length of the MADT entries we decode; other types only need their 2-byte header. */
static uint32_t madt_entry_min(uint8_t type)
{
	switch (type) {
	case MADT_LAPIC:
		return sizeof(struct madt_lapic);
	case MADT_IOAPIC:
		return sizeof(struct madt_ioapic);
	case MADT_X2APIC:
		return sizeof(struct madt_x2apic);
	default:
		return 2;
	}
}

/* Validate every entry's bounds and count the processors. */
static int madt_walk_check(const uint8_t *t, uint32_t len, size_t *ncpus, char *err,
			   size_t errlen)
{
	size_t n = 0;

	for (uint32_t off = sizeof(struct acpi_madt); off < len;) {
		if (len - off < 2) {
			snprintf(err, errlen, "ACPI: MADT: entry header at offset %u runs past "
				 "the table length %u", off, len);
			return -1;
		}
		uint8_t type = t[off], elen = t[off + 1];

		if (elen < madt_entry_min(type)) {
			snprintf(err, errlen, "ACPI: MADT: entry of type %u at offset %u has "
				 "length %u (at least %u expected)", type, off, elen,
				 madt_entry_min(type));
			return -1;
		}
		if (elen > len - off) {
			snprintf(err, errlen, "ACPI: MADT: entry of type %u at offset %u runs "
				 "past the table length %u", type, off, len);
			return -1;
		}
		if (type == MADT_LAPIC || type == MADT_X2APIC)
			n++;
		off += elen;
	}
	*ncpus = n;
	return 0;
}

static void madt_decode_entry(const uint8_t *e, struct madt_info *out)
{
	switch (e[0]) {
	case MADT_LAPIC:
		out->cpus[out->ncpus++] = (struct madt_cpu){
			.apic_id = e[offsetof(struct madt_lapic, apic_id)],
			.acpi_uid = e[offsetof(struct madt_lapic, uid)],
			.enabled = rd32(e + offsetof(struct madt_lapic, flags)) & MADT_ENABLED,
		};
		break;
	case MADT_X2APIC:
		out->cpus[out->ncpus++] = (struct madt_cpu){
			.apic_id = rd32(e + offsetof(struct madt_x2apic, x2apic_id)),
			.acpi_uid = rd32(e + offsetof(struct madt_x2apic, uid)),
			.enabled = rd32(e + offsetof(struct madt_x2apic, flags)) & MADT_ENABLED,
			.x2apic = true,
		};
		break;
	case MADT_IOAPIC:
		if (out->nioapics++ == 0) {
			out->ioapic_id = e[offsetof(struct madt_ioapic, ioapic_id)];
			out->ioapic_addr = rd32(e + offsetof(struct madt_ioapic, addr));
		}
		break;
	}
}

static int madt_decode(const uint8_t *mem, size_t mem_size, uint64_t a, struct madt_info *out,
		       char *err, size_t errlen)
{
	if (check_sdt(mem, mem_size, a, "APIC", err, errlen))
		return -1;

	const uint8_t *t = mem + a;
	uint32_t len = rd32(t + offsetof(struct acpi_header, length));
	size_t ncpus;

	if (len < sizeof(struct acpi_madt)) {
		snprintf(err, errlen, "ACPI: MADT: length %u is shorter than its 44-byte header",
			 len);
		return -1;
	}
	if (madt_walk_check(t, len, &ncpus, err, errlen))
		return -1;
	out->madt_addr = (uint32_t)a;
	out->lapic_addr = rd32(t + offsetof(struct acpi_madt, lapic_addr));
	out->cpus = calloc(ncpus ? ncpus : 1, sizeof(*out->cpus));
	if (!out->cpus) {
		snprintf(err, errlen, "ACPI: MADT: out of memory for %zu processors", ncpus);
		return -1;
	}
	for (uint32_t off = sizeof(struct acpi_madt); off < len; off += t[off + 1])
		madt_decode_entry(t + off, out);
	return 0;
}

/* FADT and DSDT are recorded as present only if their checksums hold. */
static void note_fadt(const uint8_t *mem, size_t mem_size, uint64_t a, struct madt_info *out)
{
	char ignored[8];

	if (check_sdt(mem, mem_size, a, "FACP", ignored, sizeof(ignored)))
		return;

	const uint8_t *f = mem + a;
	uint32_t len = rd32(f + offsetof(struct acpi_header, length));
	uint64_t dsdt = 0;

	out->has_fadt = true;
	if (len >= offsetof(struct acpi_fadt, x_dsdt) + 8)
		dsdt = rd64(f + offsetof(struct acpi_fadt, x_dsdt));
	if (!dsdt && len >= offsetof(struct acpi_fadt, dsdt) + 4)
		dsdt = rd32(f + offsetof(struct acpi_fadt, dsdt));
	out->has_dsdt = dsdt && check_sdt(mem, mem_size, dsdt, "DSDT", ignored,
					  sizeof(ignored)) == 0;
}

/* Find the MADT and FADT among the XSDT's entries. */
static int walk_xsdt(const uint8_t *mem, size_t mem_size, uint64_t xsdt, uint64_t *madt,
		     uint64_t *fadt, char *err, size_t errlen)
{
	const uint8_t *x = mem + xsdt;
	uint32_t len = rd32(x + offsetof(struct acpi_header, length));
	uint32_t n = (len - (uint32_t)sizeof(struct acpi_header)) / 8;

	if ((len - sizeof(struct acpi_header)) % 8) {
		snprintf(err, errlen, "ACPI: XSDT length %u is not a whole number of entries", len);
		return -1;
	}
	*madt = *fadt = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = rd64(x + sizeof(struct acpi_header) + 8 * i);
		uint64_t *slot;

		if (!in_mem(mem_size, a, sizeof(struct acpi_header))) {
			snprintf(err, errlen, "ACPI: XSDT entry %u points to 0x%llx, beyond guest "
				 "memory", i, (unsigned long long)a);
			return -1;
		}
		if (!memcmp(mem + a, "APIC", 4))
			slot = madt;
		else if (!memcmp(mem + a, "FACP", 4))
			slot = fadt;
		else
			continue;
		if (*slot) {
			snprintf(err, errlen, "ACPI: XSDT lists two \"%.4s\" tables",
				 (const char *)mem + a);
			return -1;
		}
		*slot = a;
	}
	if (!*madt) {
		snprintf(err, errlen, "ACPI: XSDT lists no MADT (\"APIC\")");
		return -1;
	}
	return 0;
}

int acpi_parse(const uint8_t *mem, size_t mem_size, struct madt_info *out, char *err,
	       size_t errlen)
{
	uint32_t rsdp;
	uint64_t xsdt, madt, fadt;

	memset(out, 0, sizeof(*out));
	if (find_rsdp(mem, mem_size, &rsdp, err, errlen))
		return -1;
	out->rsdp_addr = rsdp;
	xsdt = rd64(mem + rsdp + offsetof(struct acpi_rsdp, xsdt_address));
	if (check_sdt(mem, mem_size, xsdt, "XSDT", err, errlen) ||
	    walk_xsdt(mem, mem_size, xsdt, &madt, &fadt, err, errlen) ||
	    madt_decode(mem, mem_size, madt, out, err, errlen))
		return -1;
	if (fadt)
		note_fadt(mem, mem_size, fadt, out);
	return 0;
}

void madt_info_free(struct madt_info *m)
{
	free(m->cpus);
	m->cpus = NULL;
	m->ncpus = 0;
}
