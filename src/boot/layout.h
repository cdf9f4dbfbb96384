/*
 * layout.h - where the kernel loaders (bzImage, vmlinux, multiboot) put things in guest
 * physical memory, and which memory they leave alone.  One map for all of them:
 *
 *   0x00000000-0x00000fff  real-mode IVT and BDA: untouched
 *   0x00001000             boot GDT (LAYOUT_GDT_*: selectors as Linux's own boot GDT)
 *   0x00002000-0x00007fff  PML4, PDPT, 4 page directories: identity map of 0-4 GiB, 2 MiB pages
 *   0x00010000-0x0001ffff  boot information: Linux zero page (struct boot_params, 4 KiB), or
 *                          the multiboot info, its memory map, module list and strings
 *   0x00020000-0x0002ffff  kernel command line (NUL-terminated)
 *   0x0009fc00-0x0009ffff  EBDA: reserved, untouched
 *   0x000a0000-0x000dffff  legacy VGA / option ROM hole: not RAM to the guest
 *   0x000e0000-0x000fffff  firmware tables written by vm.c (ACPI at 0xe0000, MP table at
 *                          0xf0000): reserved, untouched
 *   0x00100000-            kernel image: at its preferred address (Linux: pref_address,
 *                          16 MiB for Debian) or where its ELF / multiboot header says
 *   high in low RAM        initrd / module 0: page aligned, as high as allowed
 *
 * Nothing from a file is ever placed below LAYOUT_IMAGE_MIN, so a kernel cannot overwrite
 * the loader's own data or the firmware tables.  Knows nothing of KVM or vCPUs.
 */
#ifndef MPVMM_BOOT_LAYOUT_H
#define MPVMM_BOOT_LAYOUT_H

#define LAYOUT_GDT           0x00001000u /* boot GDT, 4 descriptors                       */
#define LAYOUT_PML4          0x00002000u /* page tables, 24 KiB (see x86/longmode.h)        */
#define LAYOUT_BOOT_INFO     0x00010000u /* zero page / multiboot info area                 */
#define LAYOUT_BOOT_INFO_MAX 0x00010000u /* bytes of the boot information area              */
#define LAYOUT_CMDLINE       0x00020000u /* command line                                    */
#define LAYOUT_CMDLINE_MAX   0x00010000u /* bytes for it, the NUL included                  */

/* The PC's low-memory holes (the e820 map and multiboot mem_lower follow them). */
#define LAYOUT_EBDA          0x0009fc00u /* Extended BIOS Data Area: reserved               */
#define LAYOUT_VGA_HOLE      0x000a0000u /* VGA memory and option ROMs: not RAM             */
#define LAYOUT_BIOS          0x000e0000u /* firmware tables up to 1 MiB: reserved           */
#define LAYOUT_IMAGE_MIN     0x00100000u /* 1 MiB: lowest address a kernel or initrd may use */

#define LAYOUT_PAGE          0x1000u

#endif
