/*
 * madt.h - the processors and the first I/O APIC, read from ACPI's MADT the way an OS
 * finds them: RSDP in 0xE0000-0xFFFFF, then the XSDT (or RSDT), then the table "APIC".
 */
#ifndef CHAOS_MADT_H
#define CHAOS_MADT_H

#include <stdint.h>

/*
 * Fill cs.apic_ids (enabled processors, the one with APIC ID `bsp_id` first), cs.ncpus
 * and cs.ioapic_addr (0 if none).  Returns NULL, or what is wrong.
 */
const char *madt_read(uint32_t bsp_id);

#endif
