/*
 * kernel.h - `--kernel FILE` (with `--initrd FILE` and `--cmdline STRING`): recognise the
 * format of a kernel image from its bytes (bzImage, ELF64 vmlinux, multiboot v1) and load it
 * into guest memory with its boot protocol, producing the BSP's entry state.
 *
 * Pure loaders: bytes in, guest memory (through guest_mem) and a struct boot_entry out.
 * They know nothing of KVM, vCPUs or files (kernel_read_file is a separate convenience).
 * Bad input is refused with one line in err before anything is written to guest memory.
 * Guest memory map: boot/layout.h.
 */
#ifndef MPVMM_BOOT_KERNEL_H
#define MPVMM_BOOT_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"
#include "x86/guest_mem.h"

enum kernel_format {
	KERNEL_FORMAT_UNKNOWN,
	KERNEL_FORMAT_BZIMAGE,   /* Linux boot protocol 2.x setup header ("HdrS")      */
	KERNEL_FORMAT_VMLINUX,   /* ELF64 x86-64 executable                              */
	KERNEL_FORMAT_MULTIBOOT, /* multiboot v1 header in the first 8 KiB (ELF or not)  */
};

/* Where a bzImage's compressed kernel is unpacked. */
enum kernel_decompress {
	KERNEL_DECOMPRESS_GUEST, /* enter the bzImage's own decompressor (64-bit entry)         */
	KERNEL_DECOMPRESS_HOST,  /* unpack the payload's vmlinux on the host, boot it as an ELF;
				  * a Linux initramfs that is one compressed archive is
				  * unpacked on the host too                                    */
};

struct kernel_params {
	const uint8_t *image;  /* the kernel file */
	size_t image_size;
	const uint8_t *initrd; /* NULL: none */
	size_t initrd_size;
	const char *initrd_name; /* multiboot module 0's string; NULL: "initrd" */
	const char *cmdline;     /* NULL: empty */
	enum kernel_decompress decompress;
	uint64_t acpi_rsdp;      /* Linux boot_params.acpi_rsdp_addr; 0: the kernel scans */
};

/* What was loaded where (for the log and the tests). */
struct kernel_info {
	enum kernel_format format;
	const char *compression;   /* bzImage payload format ("xz", ...) when unpacked here */
	const char *initrd_compression; /* the initramfs's format when unpacked here        */
	uint16_t protocol_version; /* Linux boot protocol of the image (0x020f = 2.15)      */
	uint64_t kernel_start;     /* guest physical range the kernel occupies               */
	uint64_t kernel_end;
	uint64_t entry;
	uint64_t boot_info;        /* zero page or multiboot info                           */
	uint64_t cmdline;
	uint64_t initrd_addr;      /* 0 without an initrd */
	uint64_t initrd_size;
	int has_pvh;               /* the ELF has a XEN_ELFNOTE_PHYS32_ENTRY note           */
	uint64_t pvh_entry;
};

/* The format of `size` bytes of kernel image. */
enum kernel_format kernel_detect(const uint8_t *image, size_t size);

/* "bzImage", "vmlinux (ELF64)", "multiboot", "unknown". */
const char *kernel_format_name(enum kernel_format f);

/*
 * Detect the format of p->image and load it, its command line and initrd into `m`; fill
 * `entry` (sregs must hold the vCPU's reset state: only what the protocol defines changes)
 * and `info` (may be NULL).  Returns 0, or -1 with one line in err and guest memory
 * untouched.
 */
int kernel_load(struct guest_mem *m, const struct kernel_params *p, struct boot_entry *entry,
		struct kernel_info *info, char *err, size_t errlen);

/* Read a whole file into a malloc'd buffer.  Returns 0, or -1 with a reason in err. */
int kernel_read_file(const char *path, uint8_t **data, size_t *size, char *err, size_t errlen);

#endif
