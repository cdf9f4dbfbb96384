/*
 * acpi.h - the ACPI tables the guest firmware would provide (ACPI 6.x): RSDP, XSDT, MADT,
 * FADT and a minimal DSDT, built from the platform description; and a MADT parser for
 * platform_check and the tests.
 */
#ifndef MPVMM_X86_ACPI_H
#define MPVMM_X86_ACPI_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "x86/platform.h"

/* The RSDP must sit on a 16-byte boundary in 0xE0000-0xFFFFF (ACPI 6.4, 5.2.5.1). */
#define ACPI_ADDR 0x000e0000u
#define ACPI_MAX  0x00010000u /* bytes available from ACPI_ADDR (up to the MP table) */

/*
 * The fixed-feature hardware the FADT describes (ACPI 6.4, 4.8), for the devices that
 * implement it.  There is no SMI_CMD: PM1_CNT.SCI_EN must read 1 (always in ACPI mode).
 */
#define ACPI_SCI_IRQ       9u     /* ISA IRQ = GSI of the SCI: level, active high      */
#define ACPI_PM1A_EVT_PORT 0x600u /* PM1a_EVT_BLK: PM1_STS (2 bytes), PM1_EN (2 bytes) */
#define ACPI_PM1_EVT_LEN   4u
#define ACPI_PM1A_CNT_PORT 0x604u /* PM1a_CNT_BLK: PM1_CNT (2 bytes)                   */
#define ACPI_PM1_CNT_LEN   2u
/* PM1 control register bits (ACPI 6.4, 4.8.3.2.1). */
#define ACPI_PM1_CNT_SCI_EN        (1u << 0)
#define ACPI_PM1_CNT_SLP_TYP_SHIFT 10
#define ACPI_PM1_CNT_SLP_TYP_MASK  (7u << ACPI_PM1_CNT_SLP_TYP_SHIFT)
#define ACPI_PM1_CNT_SLP_EN        (1u << 13)
/* SLP_TYPa of \_S5 in the DSDT: SLP_TYP = 5 with SLP_EN set means power off. */
#define ACPI_S5_SLP_TYP    5u
/* FADT RESET_REG: writing RESET_VALUE to this I/O port resets the machine (8042 pulse). */
#define ACPI_RESET_PORT    0x64u
#define ACPI_RESET_VALUE   0xfeu

/* Returns bytes used, or -1 with a reason in err if the tables do not fit in max. */
long acpi_build(const struct platform *p, uint8_t *mem, size_t mem_size, uint32_t addr,
		size_t max, char *err, size_t errlen);

struct madt_cpu {
	uint32_t apic_id;
	uint32_t acpi_uid;
	bool enabled;
	bool x2apic; /* from a type-9 entry */
};

struct madt_info {
	uint32_t rsdp_addr;
	uint32_t madt_addr;
	uint32_t lapic_addr;
	size_t ncpus;
	struct madt_cpu *cpus; /* malloc'd; free with madt_info_free */
	size_t nioapics;
	uint8_t ioapic_id;
	uint32_t ioapic_addr;
	bool has_fadt, has_dsdt;
};

/*
 * Find the RSDP in 0xE0000-0xFFFFF, follow the XSDT to the MADT, FADT and DSDT, verify every
 * checksum and length, decode the MADT.  Returns 0, or -1 with a reason in err.
 */
int acpi_parse(const uint8_t *mem, size_t mem_size, struct madt_info *out, char *err,
	       size_t errlen);
void madt_info_free(struct madt_info *m);

#endif
