/*
 * acpi_tables.h - the byte layouts of the ACPI tables and the values of their fields
 * (section numbers: ACPI 6.4, chapter 5), for the builder (acpi.c) and the parser
 * (acpi_parse.c) only: the rest of mpvmm sees acpi.h.
 */
#ifndef MPVMM_X86_ACPI_TABLES_H
#define MPVMM_X86_ACPI_TABLES_H

#include <stddef.h>
#include <stdint.h>

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

/* The byte that makes `len` bytes sum to zero: 0 over a table whose checksum holds (5.2.6). */
static inline uint8_t acpi_checksum(const uint8_t *b, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return (uint8_t)-sum;
}

#endif
