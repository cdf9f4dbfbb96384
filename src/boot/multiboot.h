/*
 * multiboot.h - the Multiboot Specification 0.6.96 (version 1): the OS image header (3.1),
 * the machine state at entry (3.2: 32-bit protected mode, paging off, EAX = 0x2BADB002,
 * EBX = the info structure) and the boot information (3.3: memory, memory map, command line,
 * modules).  `--initrd` becomes module 0.  Knows nothing of KVM or vCPUs; the guest memory
 * map is boot/layout.h, the info area's inner layout is below.
 */
#ifndef MPVMM_BOOT_MULTIBOOT_H
#define MPVMM_BOOT_MULTIBOOT_H

#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"
#include "boot/kernel.h"
#include "boot/layout.h"
#include "x86/guest_mem.h"

/* 3.1.1, 3.1.2: the header, 4-byte aligned within the first 8192 bytes. */
#define MULTIBOOT_HEADER_MAGIC     0x1badb002u
#define MULTIBOOT_SEARCH           8192u
#define MULTIBOOT_PAGE_ALIGN       (1u << 0)  /* modules page aligned                 */
#define MULTIBOOT_MEMORY_INFO      (1u << 1)  /* mem_* and mmap wanted                */
#define MULTIBOOT_VIDEO_MODE       (1u << 2)  /* video table wanted: not supported   */
#define MULTIBOOT_AOUT_KLUDGE      (1u << 16) /* the address fields are valid         */
#define MULTIBOOT_REQUIRED_MASK    0x0000ffffu /* bits 0-15: unknown ones must refuse  */
#define MULTIBOOT_SUPPORTED        (MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO)

/* 3.2: EAX at entry. */
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002u

/* 3.3: the boot information structure. */
#define MBI_FLAGS            0
#define MBI_MEM_LOWER        4
#define MBI_MEM_UPPER        8
#define MBI_BOOT_DEVICE      12
#define MBI_CMDLINE          16
#define MBI_MODS_COUNT       20
#define MBI_MODS_ADDR        24
#define MBI_MMAP_LENGTH      44
#define MBI_MMAP_ADDR        48
#define MBI_BOOT_LOADER_NAME 64
#define MBI_SIZE             88

#define MBI_FLAG_MEMORY      (1u << 0)
#define MBI_FLAG_CMDLINE     (1u << 2)
#define MBI_FLAG_MODS        (1u << 3)
#define MBI_FLAG_MMAP        (1u << 6)
#define MBI_FLAG_LOADER_NAME (1u << 9)

/* mmap entry: u32 size (= 20, itself excluded), u64 base_addr, u64 length, u32 type. */
#define MB_MMAP_ENTRY_SIZE   24
/* module: u32 mod_start, mod_end (exclusive), string, reserved. */
#define MB_MODULE_SIZE       16

/* Inside LAYOUT_BOOT_INFO: the info, its memory map, the module list and the strings. */
#define MB_INFO_ADDR         (LAYOUT_BOOT_INFO + 0x0000)
#define MB_MMAP_ADDR         (LAYOUT_BOOT_INFO + 0x0100) /* up to E820_MAX entries (3 KiB) */
#define MB_MODS_ADDR         (LAYOUT_BOOT_INFO + 0x1000)
#define MB_LOADER_NAME_ADDR  (LAYOUT_BOOT_INFO + 0x1100)
#define MB_MOD_STRING_ADDR   (LAYOUT_BOOT_INFO + 0x2000)
#define MB_MOD_STRING_MAX    (LAYOUT_BOOT_INFO_MAX - 0x2000) /* bytes, the NUL included */
#define MB_LOADER_NAME       "mpvmm"

/* A multiboot header in the first MULTIBOOT_SEARCH bytes: 1 (*offset set) if one with a
 * valid checksum is there, 0 if there is no magic, -1 (err) if only bad checksums. */
int multiboot_find(const uint8_t *image, size_t size, size_t *offset, char *err,
		   size_t errlen);

/* Load a multiboot kernel.  Returns 0 or -1 (err), nothing written on failure. */
int multiboot_load(struct guest_mem *m, const struct kernel_params *p, struct boot_entry *e,
		   struct kernel_info *info, char *err, size_t errlen);

#endif
