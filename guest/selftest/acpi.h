/*
 * acpi.h - the guest's own reading of the ACPI tables: RSDP -> XSDT (or RSDT) -> MADT,
 * every checksum verified, enabled processors appended to g.cpus in MADT order.
 */
#ifndef SELFTEST_ACPI_H
#define SELFTEST_ACPI_H

#include <stdint.h>

/*
 * Fills g.cpus / g.ncpus, and g.ioapic_addr / g.timer_gsi (the first I/O APIC, and where an
 * interrupt source override puts ISA IRQ 0); on any error prints a FAIL line and ends.
 */
void acpi_read_processors(uint64_t mem_size);

/* The number of enabled processors in the MADT, g.cpus untouched; FAIL as above on error. */
uint32_t acpi_count_processors(uint64_t mem_size);

#endif
