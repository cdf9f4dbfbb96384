/*
 * acpi.h - the guest's own reading of the ACPI tables: RSDP -> XSDT (or RSDT) -> MADT,
 * every checksum verified, enabled processors appended to g.cpus in MADT order.
 */
#ifndef SELFTEST_ACPI_H
#define SELFTEST_ACPI_H

#include <stdint.h>

/* Fills g.cpus / g.ncpus; on any error prints a FAIL line and ends the test. */
void acpi_read_processors(uint64_t mem_size);

/* The number of enabled processors in the MADT, g.cpus untouched; FAIL as above on error. */
uint32_t acpi_count_processors(uint64_t mem_size);

#endif
