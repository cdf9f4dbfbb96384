/*
 * multiboot.h - the self-test guest as a Multiboot (version 1) kernel, so that any multiboot
 * loader (mpvmm's --kernel, QEMU's -kernel, GRUB) can start it.  Section numbers are those
 * of the Multiboot Specification 0.6.96.
 *
 * The header (3.1) is in multiboot.S, right after the 64-bit entry code at the image's first
 * byte (guest.ld keeps it in the first 8 KiB).  Its address fields (3.1.3) describe the flat
 * binary: loaded at SELFTEST_IMAGE_ADDR, entered at multiboot_entry in 32-bit protected mode
 * (3.2), which builds its own page tables and goes to long mode, then to multiboot_main().
 *
 * With no VMM to fill in struct selftest_bootinfo, multiboot_main() builds one from defaults
 * and the multiboot information (3.3).  The command-line word `exit=N` also reports the
 * verdict on a QEMU-style debug-exit port: N on PASS, 1 on FAIL, so the loader's process
 * exits with status (N << 1) | 1; the word `ipi-pingpong` times IPI round trips after
 * bring-up (SELFTEST_FLAG_IPI_PINGPONG).  Other words are ignored.
 */
#ifndef SELFTEST_MULTIBOOT_H
#define SELFTEST_MULTIBOOT_H

/* 3.1.1, 3.1.2: header magic and flags. */
#define MB_HEADER_MAGIC     0x1badb002
#define MB_HEADER_MEMINFO   (1 << 1)  /* mem_lower / mem_upper (and mmap) wanted           */
#define MB_HEADER_ADDRESSES (1 << 16) /* header_addr..entry_addr are valid: not an ELF file */
#define MB_HEADER_FLAGS     (MB_HEADER_MEMINFO | MB_HEADER_ADDRESSES)

/* 3.2: EAX at the 32-bit entry. */
#define MB_BOOTLOADER_MAGIC 0x2badb002

/* QEMU's isa-debug-exit I/O port (mpvmm's --debug-exit default is the same). */
#define MB_DEBUG_EXIT_PORT  0xf4

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>

/*
 * 64-bit code, reached from multiboot_entry with the guest's GDT and page tables: build the
 * boot information and run the test (bsp_main).  magic and info are EAX and EBX at entry.
 */
__attribute__((noreturn)) void multiboot_main(uint32_t magic, uint32_t info);

/* True when the guest was started through multiboot_entry (by a loader, on any firmware). */
bool multiboot_started(void);

/*
 * The verdict (0 = PASS, else a SELFTEST_FAIL_* code), on the debug-exit port if the
 * command line asked for it; nothing otherwise.  Called before SELFTEST_PORT_RESULT.
 */
void multiboot_report(uint32_t code);
#endif

#endif
