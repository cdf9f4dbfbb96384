/*
 * linux.h - the Linux x86 boot protocol (Documentation/arch/x86/boot.rst, zero-page.rst):
 * a bzImage entered at its 64-bit entry (the kernel decompresses itself), a bzImage whose
 * payload is unpacked on the host and booted as vmlinux, or a vmlinux ELF64 itself.  Each
 * gets a zero page (struct boot_params) with the e820 map, command line and initrd.
 * Knows nothing of KVM or vCPUs; guest memory map in boot/layout.h.
 */
#ifndef MPVMM_BOOT_LINUX_H
#define MPVMM_BOOT_LINUX_H

#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"
#include "boot/kernel.h"
#include "x86/guest_mem.h"

/* struct setup_header: offsets in the bzImage file and in boot_params alike
 * (boot.rst, "The Real-Mode Kernel Header"). */
#define LINUX_HDR_SETUP_SECTS      0x1f1 /* u8; 0 means 4                          */
#define LINUX_HDR_ROOT_FLAGS       0x1f2
#define LINUX_HDR_SYSSIZE          0x1f4 /* u32, 16-byte paragraphs (2.04+)         */
#define LINUX_HDR_VID_MODE         0x1fa
#define LINUX_HDR_BOOT_FLAG        0x1fe /* 0xaa55                                  */
#define LINUX_HDR_JUMP             0x200 /* the header ends at 0x202 + byte at 0x201 */
#define LINUX_HDR_HEADER           0x202 /* "HdrS"                                  */
#define LINUX_HDR_VERSION          0x206
#define LINUX_HDR_TYPE_OF_LOADER   0x210
#define LINUX_HDR_LOADFLAGS        0x211
#define LINUX_HDR_CODE32_START     0x214
#define LINUX_HDR_RAMDISK_IMAGE    0x218
#define LINUX_HDR_RAMDISK_SIZE     0x21c
#define LINUX_HDR_HEAP_END_PTR     0x224
#define LINUX_HDR_EXT_LOADER_VER   0x226
#define LINUX_HDR_EXT_LOADER_TYPE  0x227
#define LINUX_HDR_CMD_LINE_PTR     0x228
#define LINUX_HDR_INITRD_ADDR_MAX  0x22c
#define LINUX_HDR_KERNEL_ALIGNMENT 0x230
#define LINUX_HDR_RELOCATABLE      0x234
#define LINUX_HDR_XLOADFLAGS       0x236
#define LINUX_HDR_CMDLINE_SIZE     0x238
#define LINUX_HDR_HARDWARE_SUBARCH 0x23c
#define LINUX_HDR_SUBARCH_DATA     0x240
#define LINUX_HDR_PAYLOAD_OFFSET   0x248
#define LINUX_HDR_PAYLOAD_LENGTH   0x24c
#define LINUX_HDR_SETUP_DATA       0x250
#define LINUX_HDR_PREF_ADDRESS     0x258
#define LINUX_HDR_INIT_SIZE        0x260
#define LINUX_HDR_HANDOVER_OFFSET  0x264
#define LINUX_HDR_END_2_12         0x268 /* a 2.12 header has everything up to here  */
#define LINUX_HDR_END_MAX          0x290 /* boot_params.hdr ends (edd_mbr_sig_buffer) */

/* struct boot_params outside the setup header (zero-page.rst). */
#define LINUX_BP_ACPI_RSDP_ADDR    0x070 /* u64, read from protocol 2.14            */
#define LINUX_BP_EXT_RAMDISK_IMAGE 0x0c0
#define LINUX_BP_EXT_RAMDISK_SIZE  0x0c4
#define LINUX_BP_EXT_CMD_LINE_PTR  0x0c8
#define LINUX_BP_ALT_MEM_K         0x1e0
#define LINUX_BP_E820_ENTRIES      0x1e8
#define LINUX_BP_SENTINEL          0x1ef
#define LINUX_BP_E820_TABLE        0x2d0 /* 128 x { u64 addr, u64 size, u32 type }  */
#define LINUX_BP_E820_ENTRY_SIZE   20
#define LINUX_BP_SIZE              0x1000

#define LINUX_BOOT_FLAG            0xaa55
#define LINUX_HDRS_MAGIC           0x53726448u /* "HdrS" */
#define LINUX_LOADED_HIGH          0x01  /* loadflags                               */
#define LINUX_CAN_USE_HEAP         0x80
#define LINUX_XLF_KERNEL_64        0x01  /* xloadflags: has the 64-bit entry at +0x200 */
#define LINUX_MIN_VERSION          0x020c /* 2.12: xloadflags, the 64-bit entry is known */
#define LINUX_VMLINUX_VERSION      0x020f /* what the zero page of a bare vmlinux claims */
#define LINUX_LOADER_UNDEFINED     0xff  /* type_of_loader: "undefined" (boot.rst)   */
#define LINUX_HEAP_END_PTR         (0xe000 - 0x200) /* boot.rst, "Sample Boot Configuration" */
#define LINUX_ENTRY64_OFFSET       0x200 /* 64-bit entry: load address + 0x200        */
#define LINUX_VMLINUX_CMDLINE_MAX  2047  /* COMMAND_LINE_SIZE - 1 on x86               */
#define LINUX_VMLINUX_ALIGN        0x200000u

/* Load a bzImage (p->decompress chooses the path).  Returns 0 or -1 (err), nothing
 * written on failure. */
int linux_load_bzimage(struct guest_mem *m, const struct kernel_params *p,
		       struct boot_entry *e, struct kernel_info *info, char *err, size_t errlen);

/* Load a vmlinux ELF64 (x86-64, ET_EXEC) with a zero page built from scratch. */
int linux_load_vmlinux(struct guest_mem *m, const struct kernel_params *p,
		       struct boot_entry *e, struct kernel_info *info, char *err, size_t errlen);

/*
 * Unpack the vmlinux ELF a bzImage carries (payload_offset / payload_length), at most
 * `limit` bytes (0: DECOMPRESS_MAX): on success *elf is a malloc'd buffer of *elf_size
 * bytes and *format names the compression.
 */
int linux_extract_vmlinux(const uint8_t *bz, size_t size, size_t limit, uint8_t **elf,
			  size_t *elf_size, const char **format, char *err, size_t errlen);

#endif
