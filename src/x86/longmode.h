/*
 * longmode.h - what a 64-bit entry needs: a flat GDT, identity-mapped page tables and the
 * register state of a CPU already in long mode; and the flat 32-bit protected-mode state
 * (paging off) of the step before it, which the multiboot entry uses.  Used by every loader
 * that starts the BSP past real mode; knows nothing of KVM (it writes guest memory and fills
 * struct x86_sregs).
 */
#ifndef MPVMM_X86_LONGMODE_H
#define MPVMM_X86_LONGMODE_H

#include <stddef.h>
#include <stdint.h>

#include "x86/guest_mem.h"
#include "x86/regs.h"

/* Selectors of the self-test's boot GDT (LONGMODE_GDT_SELFTEST). */
#define LONGMODE_SEL_CODE64 0x08
#define LONGMODE_SEL_DATA   0x10
#define LONGMODE_SEL_CODE32 0x18

/*
 * Selectors of the kernel loaders' boot GDT (LONGMODE_GDT_KERNEL), the layout of Linux's
 * own boot GDT (arch/x86/boot/compressed/head_64.S): the 64-bit boot protocol
 * (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol") wants CS = __BOOT_CS (0x10) and
 * DS = ES = SS = __BOOT_DS (0x18); the multiboot entry uses the 32-bit code at 0x08.
 */
#define LONGMODE_KSEL_CODE32 0x08
#define LONGMODE_KSEL_CODE64 0x10 /* __BOOT_CS */
#define LONGMODE_KSEL_DATA   0x18 /* __BOOT_DS */

enum longmode_gdt {
	LONGMODE_GDT_SELFTEST, /* 0x08 code64, 0x10 data, 0x18 code32 (the default)          */
	LONGMODE_GDT_KERNEL,   /* 0x08 code32, 0x10 code64, 0x18 data (LONGMODE_KSEL_*)      */
};

struct longmode_layout {
	uint64_t gdt;  /* 4 descriptors                                    */
	uint64_t pml4; /* then PDPT at pml4 + 4 KiB, 4 PDs after it (24 KiB) */
	enum longmode_gdt kind;
};

/*
 * Write the GDT and page tables identity-mapping 0..4 GiB with 2 MiB pages (the 3..4 GiB
 * MMIO hole uncached), and fill sregs for CPL 0 64-bit code.  Returns 0 or -1 (err).
 */
int longmode_setup(struct guest_mem *m, const struct longmode_layout *l, struct x86_sregs *sregs,
		   char *err, size_t errlen);

/*
 * Write the kernel boot GDT (LONGMODE_GDT_KERNEL) at `gdt` and fill sregs for flat 32-bit
 * protected mode with paging off: CS = LONGMODE_KSEL_CODE32, DS = ES = FS = GS = SS =
 * LONGMODE_KSEL_DATA, base 0, limit 4 GiB; CR0.PE only, CR4 = EFER = 0.  Returns 0 or -1.
 */
int longmode_flat32_setup(struct guest_mem *m, uint64_t gdt, struct x86_sregs *sregs,
			  char *err, size_t errlen);

#endif
