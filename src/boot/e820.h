/*
 * e820.h - the guest's physical memory map as the BIOS e820 call would report it (the table
 * the Linux zero page and the multiboot mmap carry): guest_mem's RAM regions minus the PC's
 * low-memory holes and reserved firmware areas (boot/layout.h).  Knows nothing of KVM or of
 * any boot protocol's encoding.
 */
#ifndef MPVMM_BOOT_E820_H
#define MPVMM_BOOT_E820_H

#include <stddef.h>
#include <stdint.h>

#include "x86/guest_mem.h"

/* Address range types (ACPI 6.4, 15.1, table 15.1; Documentation/arch/x86/zero-page.rst). */
#define E820_RAM      1u
#define E820_RESERVED 2u
#define E820_HOLE     0u /* a carve-out that is not listed at all */

/* struct boot_params has room for 128 (E820_MAX_ENTRIES_ZEROPAGE, zero-page.rst 0x2d0). */
#define E820_MAX 128u

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* A range taken out of RAM: listed with `type`, or not at all with E820_HOLE. */
struct e820_carve {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/*
 * Fill `out` (room for `max`) with the RAM of `m` minus `carve` (sorted by address, not
 * overlapping), in address order.  Carve-outs are clipped to RAM.  Returns the number of
 * entries, or -1 with a reason in err (unsorted carve-outs, too many entries).
 */
int e820_build(const struct guest_mem *m, const struct e820_carve *carve, size_t ncarve,
	       struct e820_entry *out, size_t max, char *err, size_t errlen);

/* The PC map every kernel loader gives its guest: EBDA and 0xe0000-0xfffff reserved, the
 * VGA hole left out (boot/layout.h). */
int e820_build_pc(const struct guest_mem *m, struct e820_entry *out, size_t max, char *err,
		  size_t errlen);

/*
 * The highest `align`-aligned address a (align a power of two) with [a, a + size) inside one
 * RAM entry, a >= floor and a + size <= ceiling: where an initrd goes.  Returns 0, or -1 if
 * there is no such place.
 */
int e820_place_high(const struct e820_entry *e, size_t n, uint64_t size, uint64_t floor,
		    uint64_t ceiling, uint64_t align, uint64_t *addr);

/* Bytes of RAM from 1 MiB up to the first entry that is not RAM (multiboot mem_upper). */
uint64_t e820_upper_ram(const struct e820_entry *e, size_t n);

#endif
