/*
 * boot.h - what every loader produces: the BSP's entry state.  A loader writes the guest
 * image and its boot data into guest memory (through guest_mem, never past RAM) and fills
 * this; vm.c applies it to the BSP before any vCPU runs.  No KVM here.
 */
#ifndef MPVMM_BOOT_BOOT_H
#define MPVMM_BOOT_BOOT_H

#include <stdint.h>

#include "x86/regs.h"

struct boot_entry {
	/* Register state at entry.  sregs arrives holding the vCPU's reset state; a loader
	 * changes what its entry protocol defines and leaves the rest. */
	struct x86_regs regs;
	struct x86_sregs sregs;
	const char *protocol; /* for the log: "linux 64-bit boot protocol", "multiboot", ... */
};

#endif
