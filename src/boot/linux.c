/*
 * linux.c - see linux.h.  Follows Documentation/arch/x86/boot.rst ("The Real-Mode Kernel
 * Header", "Loading The Rest of The Kernel", "64-bit Boot Protocol") and zero-page.rst.
 *
 * Every load is planned first (headers checked, payload unpacked, addresses chosen, zero
 * page built in a local buffer, every destination checked against guest RAM) and only then
 * written, so a refused image leaves guest memory as it was.
 */
#include "boot/linux.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bytes.h"
#include "boot/decompress.h"
#include "boot/e820.h"
#include "boot/elf.h"
#include "boot/layout.h"
#include "x86/longmode.h"

#define SECTOR 512u
#define IDENTITY_MAP_END 0x100000000ull /* longmode maps 0-4 GiB */

/* The setup header fields the loader decides with. */
struct setup_hdr {
	uint16_t version, xloadflags;
	uint8_t relocatable;
	uint32_t syssize, initrd_addr_max, kernel_alignment, cmdline_size, init_size;
	uint32_t payload_offset, payload_length;
	uint64_t pref_address;
	size_t hdr_end;   /* 0x202 + the byte at 0x201, capped to boot_params.hdr */
	size_t pm_offset; /* the protected-mode kernel: (setup_sects + 1) * 512 */
	size_t pm_size;
};

/* Everything decided before guest memory is touched. */
struct linux_plan {
	uint8_t bp[LINUX_BP_SIZE];       /* the zero page, complete              */
	const uint8_t *raw;              /* bzImage protected-mode part, or NULL */
	size_t raw_size;
	struct elf_image elf;            /* the vmlinux when raw is NULL         */
	uint64_t kernel_start, kernel_end, entry;
	uint64_t cmdline_max;            /* bytes, the NUL not included          */
	uint64_t initrd_ceiling;         /* initrd_addr_max + 1                  */
	uint64_t initrd_addr;
	const char *protocol;
};

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int check_magic(const uint8_t *d, size_t n, char *err, size_t errlen)
{
	if (n < LINUX_HDR_VERSION + 2 || le16(d + LINUX_HDR_BOOT_FLAG) != LINUX_BOOT_FLAG ||
	    le32(d + LINUX_HDR_HEADER) != LINUX_HDRS_MAGIC) {
		snprintf(err, errlen, "not a bzImage (no 0xaa55 at 0x1fe and \"HdrS\" at 0x202)");
		return -1;
	}
	uint16_t v = le16(d + LINUX_HDR_VERSION);
	if (v < LINUX_MIN_VERSION) {
		snprintf(err, errlen, "bzImage boot protocol %u.%02u is too old: 2.12 or later is "
			 "needed for the 64-bit entry", v >> 8, v & 0xff);
		return -1;
	}
	return 0;
}

static void read_setup(const uint8_t *d, struct setup_hdr *h)
{
	unsigned sects = d[LINUX_HDR_SETUP_SECTS] ? d[LINUX_HDR_SETUP_SECTS] : 4; /* 0 means 4 */

	h->version = le16(d + LINUX_HDR_VERSION);
	h->xloadflags = le16(d + LINUX_HDR_XLOADFLAGS);
	h->relocatable = d[LINUX_HDR_RELOCATABLE];
	h->syssize = le32(d + LINUX_HDR_SYSSIZE);
	h->initrd_addr_max = le32(d + LINUX_HDR_INITRD_ADDR_MAX);
	h->kernel_alignment = le32(d + LINUX_HDR_KERNEL_ALIGNMENT);
	h->cmdline_size = le32(d + LINUX_HDR_CMDLINE_SIZE);
	h->init_size = le32(d + LINUX_HDR_INIT_SIZE);
	h->payload_offset = le32(d + LINUX_HDR_PAYLOAD_OFFSET);
	h->payload_length = le32(d + LINUX_HDR_PAYLOAD_LENGTH);
	h->pref_address = le64(d + LINUX_HDR_PREF_ADDRESS);
	h->hdr_end = LINUX_HDR_HEADER + d[LINUX_HDR_JUMP + 1];
	h->pm_offset = (sects + 1) * SECTOR;
}

static int parse_setup(const uint8_t *d, size_t n, struct setup_hdr *h, char *err,
		       size_t errlen)
{
	if (check_magic(d, n, err, errlen) < 0)
		return -1;
	if (n < LINUX_HDR_END_2_12) {
		snprintf(err, errlen, "bzImage truncated: %zu bytes, the setup header alone needs "
			 "%u", n, LINUX_HDR_END_2_12);
		return -1;
	}
	read_setup(d, h);
	if (h->hdr_end < LINUX_HDR_END_2_12) {
		snprintf(err, errlen, "bzImage setup header ends at 0x%zx, before its 2.12 fields",
			 h->hdr_end);
		return -1;
	}
	h->hdr_end = h->hdr_end > LINUX_HDR_END_MAX ? LINUX_HDR_END_MAX : h->hdr_end;
	if (!(h->xloadflags & LINUX_XLF_KERNEL_64)) {
		snprintf(err, errlen, "bzImage is not a 64-bit kernel (no XLF_KERNEL_64 in "
			 "xloadflags)");
		return -1;
	}
	if (h->pm_offset > n || (uint64_t)h->syssize * 16 > n - h->pm_offset) {
		snprintf(err, errlen, "bzImage truncated: %zu bytes, its header describes %llu",
			 n, (unsigned long long)h->pm_offset + (uint64_t)h->syssize * 16);
		return -1;
	}
	h->pm_size = n - h->pm_offset;
	return 0;
}

/* Where the protected-mode kernel goes: pref_address, aligned for a relocatable kernel. */
static int load_address(const struct setup_hdr *h, uint64_t *addr, char *err, size_t errlen)
{
	uint64_t a = h->kernel_alignment;

	if (!h->relocatable) {
		*addr = h->pref_address;
		return 0;
	}
	if (a == 0 || (a & (a - 1)) != 0) {
		snprintf(err, errlen, "bzImage kernel_alignment 0x%llx is not a power of two",
			 (unsigned long long)a);
		return -1;
	}
	*addr = align_up(h->pref_address > LAYOUT_IMAGE_MIN ? h->pref_address : LAYOUT_IMAGE_MIN,
			 a);
	return 0;
}

static int check_kernel_range(const struct guest_mem *m, const struct linux_plan *pl,
			      char *err, size_t errlen)
{
	uint64_t len = pl->kernel_end - pl->kernel_start;

	if (pl->kernel_start < LAYOUT_IMAGE_MIN || pl->kernel_end > guest_mem_low_size(m) ||
	    !guest_mem_ptr(m, pl->kernel_start, len)) {
		snprintf(err, errlen, "the kernel needs guest RAM at 0x%llx-0x%llx (it has %llu "
			 "MiB below the MMIO hole)", (unsigned long long)pl->kernel_start,
			 (unsigned long long)pl->kernel_end,
			 (unsigned long long)(guest_mem_low_size(m) >> 20));
		return -1;
	}
	return 0;
}

/* The bzImage entered at its 64-bit entry; its decompressor runs in the guest. */
static int plan_bzimage_guest(const struct guest_mem *m, const uint8_t *d,
			      const struct setup_hdr *h, struct linux_plan *pl, char *err,
			      size_t errlen)
{
	uint64_t load;

	if (load_address(h, &load, err, errlen) < 0)
		return -1;
	pl->raw = d + h->pm_offset;
	pl->raw_size = h->pm_size;
	pl->kernel_start = load;
	/* init_size: the memory the kernel needs from its load address to decompress. */
	pl->kernel_end = load + (h->init_size > h->pm_size ? h->init_size : h->pm_size);
	pl->entry = load + LINUX_ENTRY64_OFFSET;
	pl->protocol = "linux 64-bit boot protocol (bzImage, decompressed by the guest)";
	put_le32(pl->bp + LINUX_HDR_CODE32_START, (uint32_t)load);
	return check_kernel_range(m, pl, err, errlen);
}

/* A vmlinux ELF: x86-64 executable, segments in RAM, entry inside them. */
static int plan_elf(const struct guest_mem *m, const uint8_t *d, size_t n,
		    struct linux_plan *pl, struct kernel_info *info, char *err, size_t errlen)
{
	struct elf_image *img = &pl->elf;

	if (elf_parse(d, n, img, err, errlen) < 0)
		return -1;
	if (img->bits != 64 || img->machine != ELF_EM_X86_64 || img->type != ELF_ET_EXEC) {
		snprintf(err, errlen, "vmlinux: not an x86-64 executable (ELF%u, e_machine %u, "
			 "e_type %u)", img->bits, img->machine, img->type);
		return -1;
	}
	if (elf_check_ram(m, img, LAYOUT_IMAGE_MIN, guest_mem_low_size(m), err, errlen) < 0)
		return -1;
	if (img->entry < img->lo || img->entry >= img->hi) {
		snprintf(err, errlen, "vmlinux: entry 0x%llx is not a physical address inside its "
			 "segments (0x%llx-0x%llx)", (unsigned long long)img->entry,
			 (unsigned long long)img->lo, (unsigned long long)img->hi);
		return -1;
	}
	if (elf_pvh_entry(img, &info->pvh_entry, err, errlen) < 0)
		return -1;
	info->has_pvh = info->pvh_entry != 0;
	pl->kernel_start = img->lo;
	pl->kernel_end = img->hi;
	pl->entry = img->entry;
	return 0;
}

int linux_extract_vmlinux(const uint8_t *bz, size_t size, size_t limit, uint8_t **elf,
			  size_t *elf_size, const char **format, char *err, size_t errlen)
{
	struct setup_hdr h;

	if (parse_setup(bz, size, &h, err, errlen) < 0)
		return -1;
	if (h.payload_length < 4 || h.payload_offset > h.pm_size ||
	    h.payload_length > h.pm_size - h.payload_offset) {
		snprintf(err, errlen, "bzImage payload (%u bytes at 0x%x) is not inside the "
			 "protected-mode kernel (%zu bytes)", h.payload_length, h.payload_offset,
			 h.pm_size);
		return -1;
	}
	const uint8_t *payload = bz + h.pm_offset + h.payload_offset;
	enum decompress_format f = decompress_detect(payload, h.payload_length);
	/* Linux appends the decompressed size as 4 little-endian bytes (gzip: its ISIZE). */
	size_t hint = le32(payload + h.payload_length - 4);
	char why[200];

	*format = decompress_name(f);
	if (decompress(payload, h.payload_length, hint, limit, elf, elf_size, why,
		       sizeof(why)) < 0) {
		snprintf(err, errlen, "bzImage payload: %s", why);
		return -1;
	}
	return 0;
}

static void write_e820(uint8_t *bp, const struct e820_entry *e, int n)
{
	bp[LINUX_BP_E820_ENTRIES] = (uint8_t)n;
	for (int i = 0; i < n; i++) {
		uint8_t *t = bp + LINUX_BP_E820_TABLE + i * LINUX_BP_E820_ENTRY_SIZE;
		put_le64(t, e[i].addr);
		put_le64(t + 8, e[i].size);
		put_le32(t + 16, e[i].type);
	}
}

/* The fields a boot loader fills (boot.rst, "Details of Header Fields": "write"). */
static void fill_loader_fields(uint8_t *bp, const struct linux_plan *pl,
			       const struct kernel_params *p)
{
	uint64_t rd = pl->initrd_addr, rdsize = p->initrd ? p->initrd_size : 0;

	put_le16(bp + LINUX_HDR_VID_MODE, 0xffff); /* "normal" */
	bp[LINUX_HDR_TYPE_OF_LOADER] = LINUX_LOADER_UNDEFINED;
	bp[LINUX_HDR_EXT_LOADER_VER] = 0;
	bp[LINUX_HDR_EXT_LOADER_TYPE] = 0;
	bp[LINUX_HDR_LOADFLAGS] |= LINUX_CAN_USE_HEAP;
	put_le16(bp + LINUX_HDR_HEAP_END_PTR, LINUX_HEAP_END_PTR);
	put_le32(bp + LINUX_HDR_CMD_LINE_PTR, (uint32_t)LAYOUT_CMDLINE);
	put_le32(bp + LINUX_BP_EXT_CMD_LINE_PTR, (uint32_t)((uint64_t)LAYOUT_CMDLINE >> 32));
	put_le32(bp + LINUX_HDR_RAMDISK_IMAGE, (uint32_t)rd);
	put_le32(bp + LINUX_BP_EXT_RAMDISK_IMAGE, (uint32_t)(rd >> 32));
	put_le32(bp + LINUX_HDR_RAMDISK_SIZE, (uint32_t)rdsize);
	put_le32(bp + LINUX_BP_EXT_RAMDISK_SIZE, (uint32_t)(rdsize >> 32));
	put_le32(bp + LINUX_HDR_HARDWARE_SUBARCH, 0); /* default x86 PC */
	put_le64(bp + LINUX_HDR_SUBARCH_DATA, 0);
	put_le64(bp + LINUX_HDR_SETUP_DATA, 0);
	put_le64(bp + LINUX_BP_ACPI_RSDP_ADDR, p->acpi_rsdp);
}

/* Command line, initrd and memory map: the boot data every path shares. */
static int plan_boot_data(const struct guest_mem *m, const struct kernel_params *p,
			  struct linux_plan *pl, char *err, size_t errlen)
{
	struct e820_entry e[E820_MAX];
	size_t len = p->cmdline ? strlen(p->cmdline) : 0;
	int n = e820_build_pc(m, e, E820_MAX, err, errlen);

	if (n < 0)
		return -1;
	if (len > pl->cmdline_max) {
		snprintf(err, errlen, "the command line (%zu bytes) is longer than the kernel "
			 "accepts (%llu)", len, (unsigned long long)pl->cmdline_max);
		return -1;
	}
	if (p->initrd && p->initrd_size == 0) {
		snprintf(err, errlen, "the initrd is empty");
		return -1;
	}
	uint64_t ceiling = pl->initrd_ceiling < IDENTITY_MAP_END ? pl->initrd_ceiling
								  : IDENTITY_MAP_END;
	if (p->initrd && e820_place_high(e, (size_t)n, p->initrd_size,
					 align_up(pl->kernel_end, LAYOUT_PAGE), ceiling,
					 LAYOUT_PAGE, &pl->initrd_addr) < 0) {
		snprintf(err, errlen, "the initrd (%zu bytes) does not fit in guest RAM between "
			 "the kernel's end 0x%llx and 0x%llx", p->initrd_size,
			 (unsigned long long)pl->kernel_end, (unsigned long long)ceiling);
		return -1;
	}
	write_e820(pl->bp, e, n);
	put_le32(pl->bp + LINUX_BP_ALT_MEM_K, (uint32_t)(e820_upper_ram(e, (size_t)n) >> 10));
	fill_loader_fields(pl->bp, pl, p);
	return 0;
}

/* The loader's own low-memory areas must be RAM (a guest smaller than 1 MiB has none). */
static int check_low_areas(const struct guest_mem *m, const struct kernel_params *p,
			   char *err, size_t errlen)
{
	size_t len = p->cmdline ? strlen(p->cmdline) : 0;

	if (!guest_mem_ptr(m, LAYOUT_GDT, LAYOUT_PML4 + 0x6000 - LAYOUT_GDT) ||
	    !guest_mem_ptr(m, LAYOUT_BOOT_INFO, LINUX_BP_SIZE) ||
	    !guest_mem_ptr(m, LAYOUT_CMDLINE, len + 1)) {
		snprintf(err, errlen, "guest RAM too small for the boot data below 1 MiB");
		return -1;
	}
	return 0;
}

/* Write everything planned; every range was checked, so only longmode_setup can refuse. */
static int commit(struct guest_mem *m, const struct kernel_params *p,
		  const struct linux_plan *pl, struct boot_entry *e, char *err, size_t errlen)
{
	const struct longmode_layout lm = { .gdt = LAYOUT_GDT, .pml4 = LAYOUT_PML4,
					    .kind = LONGMODE_GDT_KERNEL };
	size_t len = p->cmdline ? strlen(p->cmdline) : 0;

	if (longmode_setup(m, &lm, &e->sregs, err, errlen) < 0)
		return -1;
	if (pl->raw)
		memcpy(guest_mem_ptr(m, pl->kernel_start, pl->raw_size), pl->raw, pl->raw_size);
	else
		elf_load(m, &pl->elf);
	if (p->initrd)
		memcpy(guest_mem_ptr(m, pl->initrd_addr, p->initrd_size), p->initrd,
		       p->initrd_size);
	char *cmd = guest_mem_ptr(m, LAYOUT_CMDLINE, len + 1);
	memcpy(cmd, p->cmdline ? p->cmdline : "", len + 1);
	memcpy(guest_mem_ptr(m, LAYOUT_BOOT_INFO, LINUX_BP_SIZE), pl->bp, LINUX_BP_SIZE);

	/* boot.rst, "64-bit Boot Protocol": long mode, identity paging, %rsi = boot_params,
	 * interrupts disabled. */
	memset(&e->regs, 0, sizeof(e->regs));
	e->regs.rip = pl->entry;
	e->regs.rsi = LAYOUT_BOOT_INFO;
	e->regs.rflags = X86_RFLAGS_RESERVED1;
	e->protocol = pl->protocol;
	return 0;
}

static void fill_info(struct kernel_info *info, const struct kernel_params *p,
		      const struct linux_plan *pl)
{
	info->kernel_start = pl->kernel_start;
	info->kernel_end = pl->kernel_end;
	info->entry = pl->entry;
	info->boot_info = LAYOUT_BOOT_INFO;
	info->cmdline = LAYOUT_CMDLINE;
	info->initrd_addr = p->initrd ? pl->initrd_addr : 0;
	info->initrd_size = p->initrd ? p->initrd_size : 0;
}

static int finish(struct guest_mem *m, const struct kernel_params *p, struct linux_plan *pl,
		  struct boot_entry *e, struct kernel_info *info, char *err, size_t errlen)
{
	if (plan_boot_data(m, p, pl, err, errlen) < 0 || check_low_areas(m, p, err, errlen) < 0 ||
	    commit(m, p, pl, e, err, errlen) < 0)
		return -1;
	fill_info(info, p, pl);
	return 0;
}

/* The zero page of a bzImage starts as a copy of its setup header (boot.rst, "64-bit Boot
 * Protocol"). */
static void init_bp_from_image(struct linux_plan *pl, const uint8_t *d,
			       const struct setup_hdr *h)
{
	memcpy(pl->bp + LINUX_HDR_SETUP_SECTS, d + LINUX_HDR_SETUP_SECTS,
	       h->hdr_end - LINUX_HDR_SETUP_SECTS);
	pl->cmdline_max = h->cmdline_size < LAYOUT_CMDLINE_MAX - 1 ? h->cmdline_size
								    : LAYOUT_CMDLINE_MAX - 1;
	pl->initrd_ceiling = (uint64_t)h->initrd_addr_max + 1;
}

static int load_bzimage_host(struct guest_mem *m, const struct kernel_params *p,
			     struct linux_plan *pl, struct boot_entry *e,
			     struct kernel_info *info, char *err, size_t errlen)
{
	uint8_t *elf = NULL;
	size_t elf_size = 0;
	int r = -1;

	/* A vmlinux larger than the guest's RAM could not be loaded: unpack no more. */
	if (linux_extract_vmlinux(p->image, p->image_size, (size_t)m->size, &elf, &elf_size,
				  &info->compression, err, errlen) < 0)
		return -1;
	if (plan_elf(m, elf, elf_size, pl, info, err, errlen) == 0) {
		pl->protocol = "linux 64-bit boot protocol (vmlinux unpacked from the bzImage)";
		r = finish(m, p, pl, e, info, err, errlen);
	}
	free(elf);
	return r;
}

int linux_load_bzimage(struct guest_mem *m, const struct kernel_params *p,
		       struct boot_entry *e, struct kernel_info *info, char *err, size_t errlen)
{
	struct linux_plan *pl = calloc(1, sizeof(*pl));
	struct setup_hdr h;
	int r = -1;

	if (!pl) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (parse_setup(p->image, p->image_size, &h, err, errlen) < 0)
		goto out;
	info->format = KERNEL_FORMAT_BZIMAGE;
	info->protocol_version = h.version;
	init_bp_from_image(pl, p->image, &h);
	if (p->decompress == KERNEL_DECOMPRESS_HOST)
		r = load_bzimage_host(m, p, pl, e, info, err, errlen);
	else if (plan_bzimage_guest(m, p->image, &h, pl, err, errlen) == 0)
		r = finish(m, p, pl, e, info, err, errlen);
out:
	free(pl);
	return r;
}

/* The setup header of a bare vmlinux, which has none: what the kernel reads of it
 * (zero-page.rst, boot.rst; the rest stays zero). */
static void init_bp_synthetic(struct linux_plan *pl)
{
	uint8_t *bp = pl->bp;

	put_le16(bp + LINUX_HDR_BOOT_FLAG, LINUX_BOOT_FLAG);
	put_le32(bp + LINUX_HDR_HEADER, LINUX_HDRS_MAGIC);
	put_le16(bp + LINUX_HDR_VERSION, LINUX_VMLINUX_VERSION);
	bp[LINUX_HDR_LOADFLAGS] = LINUX_LOADED_HIGH;
	put_le32(bp + LINUX_HDR_INITRD_ADDR_MAX, 0x7fffffff);
	put_le32(bp + LINUX_HDR_KERNEL_ALIGNMENT, LINUX_VMLINUX_ALIGN);
	put_le16(bp + LINUX_HDR_XLOADFLAGS, LINUX_XLF_KERNEL_64);
	put_le32(bp + LINUX_HDR_CMDLINE_SIZE, LINUX_VMLINUX_CMDLINE_MAX);
	pl->cmdline_max = LINUX_VMLINUX_CMDLINE_MAX;
	pl->initrd_ceiling = 0x80000000ull;
}

int linux_load_vmlinux(struct guest_mem *m, const struct kernel_params *p,
		       struct boot_entry *e, struct kernel_info *info, char *err, size_t errlen)
{
	struct linux_plan *pl = calloc(1, sizeof(*pl));
	int r = -1;

	if (!pl) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	info->format = KERNEL_FORMAT_VMLINUX;
	info->protocol_version = LINUX_VMLINUX_VERSION;
	init_bp_synthetic(pl);
	pl->protocol = "linux 64-bit boot protocol (vmlinux)";
	if (plan_elf(m, p->image, p->image_size, pl, info, err, errlen) == 0)
		r = finish(m, p, pl, e, info, err, errlen);
	free(pl);
	return r;
}
