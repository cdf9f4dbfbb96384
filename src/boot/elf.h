/*
 * elf.h - bounds-checked reading of ELF32 and ELF64 executables (System V gABI, "ELF Header",
 * "Program Header", "Note Section"): the header, the PT_LOAD segments loaded at their
 * physical addresses (p_paddr) into guest memory, and PT_NOTE walking.  Little-endian only
 * (x86).  Knows nothing of KVM or of any boot protocol; the caller checks e_machine.
 */
#ifndef MPVMM_BOOT_ELF_H
#define MPVMM_BOOT_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "x86/guest_mem.h"

#define ELF_ET_EXEC   2u  /* e_type                                        */
#define ELF_EM_386    3u  /* e_machine: Intel 80386                         */
#define ELF_EM_X86_64 62u /* e_machine: AMD x86-64                          */
#define ELF_PT_LOAD   1u  /* p_type                                        */
#define ELF_PT_NOTE   4u

/* Xen's PVH entry note (xen/include/public/elfnote.h): name "Xen", desc = 32-bit entry. */
#define XEN_ELFNOTE_PHYS32_ENTRY 18u

struct elf_image {
	const uint8_t *data;
	size_t size;
	unsigned bits;     /* 32 or 64 (EI_CLASS)                                */
	uint16_t type;     /* e_type                                             */
	uint16_t machine;  /* e_machine                                          */
	uint64_t entry;    /* e_entry                                            */
	uint64_t phoff;
	uint16_t phnum, phentsize;
	unsigned nload;    /* PT_LOAD segments with p_memsz > 0                  */
	uint64_t lo, hi;   /* physical span [lo, hi) of those segments           */
};

struct elf_segment {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

/*
 * Check the header and every program header of the `size` bytes at `data` (which must stay
 * valid while `img` is used): ELF magic, class, little-endian, version 1, program headers
 * inside the file, every PT_LOAD's file bytes inside the file, p_filesz <= p_memsz, no
 * address overflow, at least one PT_LOAD.  Returns 0, or -1 with a reason in err.
 */
int elf_parse(const uint8_t *data, size_t size, struct elf_image *img, char *err, size_t errlen);

/* Program header i (< img->phnum) of a parsed image. */
void elf_segment_at(const struct elf_image *img, unsigned i, struct elf_segment *seg);

/* Every PT_LOAD lies in guest RAM within [min, max).  Returns 0 or -1 (err). */
int elf_check_ram(const struct guest_mem *m, const struct elf_image *img, uint64_t min,
		  uint64_t max, char *err, size_t errlen);

/* Copy every PT_LOAD to p_paddr and zero its p_memsz - p_filesz tail.  Call only after
 * elf_check_ram succeeded: then it cannot fail. */
void elf_load(struct guest_mem *m, const struct elf_image *img);

/* Called for each note of each PT_NOTE; name is not NUL-terminated.  Non-zero stops the
 * walk and is returned by elf_notes. */
typedef int (*elf_note_fn)(void *ctx, const char *name, size_t namesz, uint32_t type,
			   const uint8_t *desc, size_t descsz);

/* Walk the notes of every PT_NOTE segment.  Returns what fn returned if it stopped the
 * walk, 0 at the end, -1 with a reason in err if a note runs past its segment. */
int elf_notes(const struct elf_image *img, elf_note_fn fn, void *ctx, char *err,
	      size_t errlen);

/* XEN_ELFNOTE_PHYS32_ENTRY: 1 and *entry if present, 0 if not, -1 (err) if malformed. */
int elf_pvh_entry(const struct elf_image *img, uint64_t *entry, char *err, size_t errlen);

#endif
