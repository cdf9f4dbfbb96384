/*
 * gdt.h - selectors of the guest's own GDT (entry.S), shared by the BSP's entry code and the
 * AP trampoline.  0x08 and 0x10 are the same as in the VMM's boot GDT.
 */
#ifndef SELFTEST_GDT_H
#define SELFTEST_GDT_H

#define GDT_CODE64 0x08 /* 64-bit code (L = 1)          */
#define GDT_DATA   0x10 /* flat 4 GiB data              */
#define GDT_CODE32 0x18 /* flat 4 GiB 32-bit code (D = 1) */
#define GDT_DATA32 0x20 /* flat 4 GiB 32-bit data       */

#endif
