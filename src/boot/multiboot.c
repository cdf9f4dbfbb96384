/*
 * multiboot.c - see multiboot.h.  Section numbers are those of the Multiboot Specification
 * 0.6.96.  Like the Linux loader, every load is planned and checked first and written last.
 */
#include "boot/multiboot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bytes.h"
#include "boot/e820.h"
#include "boot/elf.h"
#include "x86/longmode.h"

#define FOUR_GIB 0x100000000ull

/* The info area's parts (multiboot.h) must not overlap. */
_Static_assert(MB_INFO_ADDR + MBI_SIZE <= MB_MMAP_ADDR, "info overlaps the memory map");
_Static_assert(MB_MMAP_ADDR + E820_MAX * MB_MMAP_ENTRY_SIZE <= MB_MODS_ADDR,
	       "memory map overlaps the module list");
_Static_assert(MB_MODS_ADDR + MB_MODULE_SIZE <= MB_LOADER_NAME_ADDR,
	       "module list overlaps the loader name");

/* 3.1.2, 3.1.3: the header fields. */
struct mb_header {
	size_t offset; /* of the magic in the file */
	uint32_t flags;
	uint32_t header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr;
};

struct mb_plan {
	struct mb_header h;
	struct elf_image elf;   /* used unless MULTIBOOT_AOUT_KLUDGE  */
	const uint8_t *raw;     /* the a.out-kludge bytes to load      */
	uint64_t raw_size;
	uint64_t kernel_start, kernel_end, entry;
	uint64_t module_addr;
	struct e820_entry e820[E820_MAX];
	int ne820;
	uint8_t info[MB_MOD_STRING_ADDR - MB_INFO_ADDR]; /* info, mmap, module, loader name */
};

int multiboot_find(const uint8_t *d, size_t n, size_t *offset, char *err, size_t errlen)
{
	size_t limit = n < MULTIBOOT_SEARCH ? n : MULTIBOOT_SEARCH;
	int seen = 0;

	for (size_t off = 0; off + 12 <= limit; off += 4) {
		if (le32(d + off) != MULTIBOOT_HEADER_MAGIC)
			continue;
		/* 3.1.2: magic + flags + checksum is zero (mod 2^32). */
		if ((uint32_t)(le32(d + off) + le32(d + off + 4) + le32(d + off + 8)) == 0) {
			*offset = off;
			return 1;
		}
		seen = 1;
	}
	if (seen) {
		snprintf(err, errlen, "multiboot header has a bad checksum");
		return -1;
	}
	return 0;
}

static int parse_header(const uint8_t *d, size_t n, struct mb_header *h, char *err,
			size_t errlen)
{
	size_t off;
	int r = multiboot_find(d, n, &off, err, errlen);

	if (r <= 0) {
		if (r == 0)
			snprintf(err, errlen, "no multiboot header in the first 8192 bytes");
		return -1;
	}
	h->offset = off;
	h->flags = le32(d + off + 4);
	uint32_t unknown = h->flags & MULTIBOOT_REQUIRED_MASK & ~MULTIBOOT_SUPPORTED;
	if (unknown) {
		snprintf(err, errlen, "multiboot header requires features not supported (flags "
			 "0x%x%s)", unknown,
			 unknown & MULTIBOOT_VIDEO_MODE ? ": video mode information" : "");
		return -1;
	}
	if (!(h->flags & MULTIBOOT_AOUT_KLUDGE))
		return 0;
	if (off + 32 > n || off + 32 > MULTIBOOT_SEARCH) {
		snprintf(err, errlen, "multiboot header truncated: its address fields are missing");
		return -1;
	}
	h->header_addr = le32(d + off + 12);
	h->load_addr = le32(d + off + 16);
	h->load_end_addr = le32(d + off + 20);
	h->bss_end_addr = le32(d + off + 24);
	h->entry_addr = le32(d + off + 28);
	return 0;
}

/* 3.1.3: load the file from (header offset - (header_addr - load_addr)) to load_addr. */
static int plan_kludge(const uint8_t *d, size_t n, struct mb_plan *pl, char *err,
		       size_t errlen)
{
	const struct mb_header *h = &pl->h;
	uint64_t back = (uint64_t)h->header_addr - h->load_addr;

	if (h->header_addr < h->load_addr || back > h->offset) {
		snprintf(err, errlen, "multiboot: load_addr 0x%x does not fit header_addr 0x%x "
			 "at file offset 0x%zx", h->load_addr, h->header_addr, h->offset);
		return -1;
	}
	uint64_t file_off = h->offset - back;
	uint64_t end = h->load_end_addr ? h->load_end_addr : h->load_addr + (n - file_off);
	uint64_t bss_end = h->bss_end_addr ? h->bss_end_addr : end;
	if (end < h->load_addr || end - h->load_addr > n - file_off || bss_end < end) {
		snprintf(err, errlen, "multiboot: load_end_addr 0x%x / bss_end_addr 0x%x do not "
			 "fit the file (%zu bytes) and load_addr 0x%x", h->load_end_addr,
			 h->bss_end_addr, n, h->load_addr);
		return -1;
	}
	pl->raw = d + file_off;
	pl->raw_size = end - h->load_addr;
	pl->kernel_start = h->load_addr;
	pl->kernel_end = bss_end;
	pl->entry = h->entry_addr;
	return 0;
}

/* GRUB's rule: an entry inside a segment's virtual range is translated to physical. */
static uint64_t physical_entry(const struct elf_image *img)
{
	for (unsigned i = 0; i < img->phnum; i++) {
		struct elf_segment s;
		elf_segment_at(img, i, &s);
		if (s.type == ELF_PT_LOAD && img->entry >= s.vaddr &&
		    img->entry - s.vaddr < s.memsz)
			return img->entry - s.vaddr + s.paddr;
	}
	return img->entry;
}

static int plan_elf(const struct guest_mem *m, const uint8_t *d, size_t n,
		    struct mb_plan *pl, char *err, size_t errlen)
{
	struct elf_image *img = &pl->elf;
	uint64_t low = guest_mem_low_size(m);

	if (elf_parse(d, n, img, err, errlen) < 0)
		return -1;
	if (img->type != ELF_ET_EXEC ||
	    !((img->bits == 32 && img->machine == ELF_EM_386) ||
	      (img->bits == 64 && img->machine == ELF_EM_X86_64))) {
		snprintf(err, errlen, "multiboot: not an x86 executable (ELF%u, e_machine %u, "
			 "e_type %u)", img->bits, img->machine, img->type);
		return -1;
	}
	if (elf_check_ram(m, img, LAYOUT_IMAGE_MIN, low < FOUR_GIB ? low : FOUR_GIB, err,
			  errlen) < 0)
		return -1;
	pl->kernel_start = img->lo;
	pl->kernel_end = img->hi;
	pl->entry = physical_entry(img);
	return 0;
}

static int check_kernel(const struct guest_mem *m, const struct mb_plan *pl, char *err,
			size_t errlen)
{
	if (pl->kernel_start < LAYOUT_IMAGE_MIN || pl->kernel_end > guest_mem_low_size(m) ||
	    !guest_mem_ptr(m, pl->kernel_start, pl->kernel_end - pl->kernel_start)) {
		snprintf(err, errlen, "multiboot: the kernel at 0x%llx-0x%llx is not in guest RAM "
			 "at or above 1 MiB", (unsigned long long)pl->kernel_start,
			 (unsigned long long)pl->kernel_end);
		return -1;
	}
	if (pl->entry < pl->kernel_start || pl->entry >= pl->kernel_end) {
		snprintf(err, errlen, "multiboot: entry 0x%llx is outside the kernel (0x%llx-"
			 "0x%llx)", (unsigned long long)pl->entry,
			 (unsigned long long)pl->kernel_start, (unsigned long long)pl->kernel_end);
		return -1;
	}
	return 0;
}

static int check_strings(const struct kernel_params *p, char *err, size_t errlen)
{
	const char *name = p->initrd_name ? p->initrd_name : "initrd";

	if (p->cmdline && strlen(p->cmdline) >= LAYOUT_CMDLINE_MAX) {
		snprintf(err, errlen, "the command line (%zu bytes) is longer than %u",
			 strlen(p->cmdline), LAYOUT_CMDLINE_MAX - 1);
		return -1;
	}
	if (p->initrd && strlen(name) >= MB_MOD_STRING_MAX) {
		snprintf(err, errlen, "the module string is longer than %u bytes",
			 MB_MOD_STRING_MAX - 1);
		return -1;
	}
	if (p->initrd && p->initrd_size == 0) {
		snprintf(err, errlen, "the initrd is empty");
		return -1;
	}
	return 0;
}

/* Module 0 (the initrd): page aligned, as high as RAM below 4 GiB allows. */
static int plan_module(const struct guest_mem *m, const struct kernel_params *p,
		       struct mb_plan *pl, char *err, size_t errlen)
{
	uint64_t floor = (pl->kernel_end + LAYOUT_PAGE - 1) & ~(uint64_t)(LAYOUT_PAGE - 1);

	pl->ne820 = e820_build_pc(m, pl->e820, E820_MAX, err, errlen);
	if (pl->ne820 < 0)
		return -1;
	if (!p->initrd)
		return 0;
	if (p->initrd_size > UINT32_MAX ||
	    e820_place_high(pl->e820, (size_t)pl->ne820, p->initrd_size, floor, FOUR_GIB,
			    LAYOUT_PAGE, &pl->module_addr) < 0) {
		snprintf(err, errlen, "the initrd (%zu bytes) does not fit in guest RAM between "
			 "the kernel's end 0x%llx and 4 GiB", p->initrd_size,
			 (unsigned long long)pl->kernel_end);
		return -1;
	}
	return 0;
}

/* mem_lower: KiB of RAM from address 0 (at most 640); mem_upper: KiB from 1 MiB (3.3). */
static uint32_t mem_lower_kib(const struct mb_plan *pl)
{
	if (pl->ne820 == 0 || pl->e820[0].addr != 0 || pl->e820[0].type != E820_RAM)
		return 0;
	return (uint32_t)((pl->e820[0].size < 0xa0000 ? pl->e820[0].size : 0xa0000) >> 10);
}

static void build_info(const struct kernel_params *p, struct mb_plan *pl)
{
	uint8_t *info = pl->info;
	uint8_t *mmap = pl->info + (MB_MMAP_ADDR - MB_INFO_ADDR);
	uint8_t *mod = pl->info + (MB_MODS_ADDR - MB_INFO_ADDR);

	for (int i = 0; i < pl->ne820; i++) {
		uint8_t *ent = mmap + i * MB_MMAP_ENTRY_SIZE;
		put_le32(ent, MB_MMAP_ENTRY_SIZE - 4);
		put_le64(ent + 4, pl->e820[i].addr);
		put_le64(ent + 12, pl->e820[i].size);
		put_le32(ent + 20, pl->e820[i].type);
	}
	if (p->initrd) {
		put_le32(mod, (uint32_t)pl->module_addr);
		put_le32(mod + 4, (uint32_t)(pl->module_addr + p->initrd_size));
		put_le32(mod + 8, MB_MOD_STRING_ADDR);
	}
	memcpy(pl->info + (MB_LOADER_NAME_ADDR - MB_INFO_ADDR), MB_LOADER_NAME,
	       sizeof(MB_LOADER_NAME));
	put_le32(info + MBI_FLAGS, MBI_FLAG_MEMORY | MBI_FLAG_CMDLINE | MBI_FLAG_MODS |
				   MBI_FLAG_MMAP | MBI_FLAG_LOADER_NAME);
	put_le32(info + MBI_MEM_LOWER, mem_lower_kib(pl));
	put_le32(info + MBI_MEM_UPPER,
		 (uint32_t)(e820_upper_ram(pl->e820, (size_t)pl->ne820) >> 10));
	put_le32(info + MBI_CMDLINE, LAYOUT_CMDLINE);
	put_le32(info + MBI_MODS_COUNT, p->initrd ? 1 : 0);
	put_le32(info + MBI_MODS_ADDR, MB_MODS_ADDR);
	put_le32(info + MBI_MMAP_LENGTH, (uint32_t)pl->ne820 * MB_MMAP_ENTRY_SIZE);
	put_le32(info + MBI_MMAP_ADDR, MB_MMAP_ADDR);
	put_le32(info + MBI_BOOT_LOADER_NAME, MB_LOADER_NAME_ADDR);
}

static int check_low_areas(const struct guest_mem *m, char *err, size_t errlen)
{
	if (!guest_mem_ptr(m, LAYOUT_GDT, 0x1000) ||
	    !guest_mem_ptr(m, LAYOUT_BOOT_INFO, LAYOUT_BOOT_INFO_MAX) ||
	    !guest_mem_ptr(m, LAYOUT_CMDLINE, LAYOUT_CMDLINE_MAX)) {
		snprintf(err, errlen, "guest RAM too small for the boot data below 1 MiB");
		return -1;
	}
	return 0;
}

static void write_string(struct guest_mem *m, uint64_t gpa, const char *s)
{
	memcpy(guest_mem_ptr(m, gpa, strlen(s) + 1), s, strlen(s) + 1);
}

static int commit(struct guest_mem *m, const struct kernel_params *p, const struct mb_plan *pl,
		  struct boot_entry *e, char *err, size_t errlen)
{
	if (longmode_flat32_setup(m, LAYOUT_GDT, &e->sregs, err, errlen) < 0)
		return -1;
	if (pl->raw) {
		uint64_t len = pl->kernel_end - pl->kernel_start;
		uint8_t *dst = guest_mem_ptr(m, pl->kernel_start, len);
		memcpy(dst, pl->raw, pl->raw_size);
		memset(dst + pl->raw_size, 0, len - pl->raw_size); /* up to bss_end_addr */
	} else {
		elf_load(m, &pl->elf);
	}
	if (p->initrd) {
		memcpy(guest_mem_ptr(m, pl->module_addr, p->initrd_size), p->initrd,
		       p->initrd_size);
		write_string(m, MB_MOD_STRING_ADDR, p->initrd_name ? p->initrd_name : "initrd");
	}
	write_string(m, LAYOUT_CMDLINE, p->cmdline ? p->cmdline : "");
	memcpy(guest_mem_ptr(m, MB_INFO_ADDR, sizeof(pl->info)), pl->info, sizeof(pl->info));

	/* 3.2: EAX = magic, EBX = info, 32-bit protected mode, paging and interrupts off. */
	memset(&e->regs, 0, sizeof(e->regs));
	e->regs.rax = MULTIBOOT_BOOTLOADER_MAGIC;
	e->regs.rbx = MB_INFO_ADDR;
	e->regs.rip = pl->entry;
	e->regs.rflags = X86_RFLAGS_RESERVED1;
	e->protocol = "multiboot";
	return 0;
}

static int plan(struct guest_mem *m, const struct kernel_params *p, struct mb_plan *pl,
		char *err, size_t errlen)
{
	if (parse_header(p->image, p->image_size, &pl->h, err, errlen) < 0 ||
	    check_strings(p, err, errlen) < 0)
		return -1;
	int r = pl->h.flags & MULTIBOOT_AOUT_KLUDGE
		? plan_kludge(p->image, p->image_size, pl, err, errlen)
		: plan_elf(m, p->image, p->image_size, pl, err, errlen);
	if (r < 0 || check_kernel(m, pl, err, errlen) < 0 ||
	    plan_module(m, p, pl, err, errlen) < 0 || check_low_areas(m, err, errlen) < 0)
		return -1;
	build_info(p, pl);
	return 0;
}

int multiboot_load(struct guest_mem *m, const struct kernel_params *p, struct boot_entry *e,
		   struct kernel_info *info, char *err, size_t errlen)
{
	struct mb_plan *pl = calloc(1, sizeof(*pl));
	int r = -1;

	if (!pl) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	info->format = KERNEL_FORMAT_MULTIBOOT;
	if (plan(m, p, pl, err, errlen) == 0 && commit(m, p, pl, e, err, errlen) == 0) {
		info->kernel_start = pl->kernel_start;
		info->kernel_end = pl->kernel_end;
		info->entry = pl->entry;
		info->boot_info = MB_INFO_ADDR;
		info->cmdline = LAYOUT_CMDLINE;
		info->initrd_addr = p->initrd ? pl->module_addr : 0;
		info->initrd_size = p->initrd ? p->initrd_size : 0;
		r = 0;
	}
	free(pl);
	return r;
}
