/*
 * mptable.h - Intel MultiProcessor Specification 1.4 tables: build one from the platform
 * description into guest memory, and parse one back (for platform_check and the tests).
 */
#ifndef MPVMM_X86_MPTABLE_H
#define MPVMM_X86_MPTABLE_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "x86/platform.h"

/* Where the builder puts the floating pointer and the configuration table (F-segment). */
#define MPTABLE_ADDR 0x000f0000u
#define MPTABLE_MAX  0x00008000u /* bytes available from MPTABLE_ADDR */

/*
 * Write the floating pointer at `addr` and the configuration table right after it into
 * `mem` (guest physical 0 .. mem_size), in at most `max` bytes.  Returns the number of bytes
 * used, 0 if the platform cannot have an MP table (platform_has_mptable() is false), or -1
 * with a reason in err if it does not fit.
 */
long mptable_build(const struct platform *p, uint8_t *mem, size_t mem_size, uint32_t addr,
		   size_t max, char *err, size_t errlen);

struct mptable_cpu {
	uint8_t apic_id;
	bool enabled;
	bool bsp;
};

struct mptable_info {
	uint32_t fp_addr;    /* where the floating pointer was found  */
	uint32_t table_addr; /* configuration table                   */
	uint32_t lapic_addr;
	size_t ncpus;
	struct mptable_cpu cpus[256];
	size_t nioapics;
	uint8_t ioapic_id;
	uint32_t ioapic_addr;
	size_t nirqs;        /* I/O interrupt assignment entries       */
};

/*
 * Find the floating pointer the way an OS does (first KiB of the EBDA, last KiB of base
 * memory, 0xF0000-0xFFFFF), verify signatures, lengths and checksums, and decode the
 * entries.  Returns 0, or -1 with a reason in err.
 */
int mptable_parse(const uint8_t *mem, size_t mem_size, struct mptable_info *out, char *err,
		  size_t errlen);

#endif
