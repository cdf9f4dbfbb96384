/*
 * longmode.h - what a 64-bit entry needs: a flat GDT, identity-mapped page tables and the
 * register state of a CPU already in long mode.  Used by every loader that starts the BSP
 * at 64 bits; knows nothing of KVM (it writes guest memory and fills struct x86_sregs).
 */
#ifndef MPVMM_X86_LONGMODE_H
#define MPVMM_X86_LONGMODE_H

#include <stddef.h>
#include <stdint.h>

#include "guest_mem.h"
#include "x86/regs.h"

/* Selectors of the boot GDT. */
#define LONGMODE_SEL_CODE64 0x08
#define LONGMODE_SEL_DATA   0x10
#define LONGMODE_SEL_CODE32 0x18

struct longmode_layout {
	uint64_t gdt;  /* 4 descriptors                                    */
	uint64_t pml4; /* then PDPT at pml4 + 4 KiB, 4 PDs after it (24 KiB) */
};

/*
 * Write the GDT and page tables identity-mapping 0..4 GiB with 2 MiB pages (the 3..4 GiB
 * MMIO hole uncached), and fill sregs for CPL 0 64-bit code.  Returns 0 or -1 (err).
 */
int longmode_setup(struct guest_mem *m, const struct longmode_layout *l, struct x86_sregs *sregs,
		   char *err, size_t errlen);

#endif
