/*
 * elf.c - see elf.h.  Offsets from the System V gABI (ELF32 and ELF64 object file formats):
 * e_ident, the ELF header, the program header and the note header.
 */
#include "boot/elf.h"

#include <stdio.h>
#include <string.h>

#include "boot/bytes.h"

#define EI_CLASS    4
#define EI_DATA     5
#define EI_VERSION  6
#define ELFCLASS32  1
#define ELFCLASS64  2
#define ELFDATA2LSB 1
#define EV_CURRENT  1

#define EHDR32_SIZE 52u
#define EHDR64_SIZE 64u
#define PHDR32_SIZE 32u
#define PHDR64_SIZE 56u
#define NHDR_SIZE   12u

static int header(const uint8_t *d, size_t size, struct elf_image *img, char *err,
		  size_t errlen)
{
	if (size < 16 || memcmp(d, "\177ELF", 4) != 0) {
		snprintf(err, errlen, "not an ELF file (bad magic)");
		return -1;
	}
	if (d[EI_CLASS] != ELFCLASS32 && d[EI_CLASS] != ELFCLASS64) {
		snprintf(err, errlen, "ELF: unknown class %u", d[EI_CLASS]);
		return -1;
	}
	if (d[EI_DATA] != ELFDATA2LSB || d[EI_VERSION] != EV_CURRENT) {
		snprintf(err, errlen, "ELF: not a little-endian version-1 file");
		return -1;
	}
	img->bits = d[EI_CLASS] == ELFCLASS64 ? 64 : 32;
	if (size < (img->bits == 64 ? EHDR64_SIZE : EHDR32_SIZE)) {
		snprintf(err, errlen, "ELF: truncated header (%zu bytes)", size);
		return -1;
	}
	img->type = le16(d + 16);
	img->machine = le16(d + 18);
	if (img->bits == 64) {
		img->entry = le64(d + 24);
		img->phoff = le64(d + 32);
		img->phentsize = le16(d + 54);
		img->phnum = le16(d + 56);
	} else {
		img->entry = le32(d + 24);
		img->phoff = le32(d + 28);
		img->phentsize = le16(d + 42);
		img->phnum = le16(d + 44);
	}
	return 0;
}

void elf_segment_at(const struct elf_image *img, unsigned i, struct elf_segment *s)
{
	const uint8_t *p = img->data + img->phoff + (uint64_t)i * img->phentsize;

	if (img->bits == 64) {
		*s = (struct elf_segment){
			.type = le32(p), .flags = le32(p + 4), .offset = le64(p + 8),
			.vaddr = le64(p + 16), .paddr = le64(p + 24), .filesz = le64(p + 32),
			.memsz = le64(p + 40), .align = le64(p + 48),
		};
	} else {
		*s = (struct elf_segment){
			.type = le32(p), .offset = le32(p + 4), .vaddr = le32(p + 8),
			.paddr = le32(p + 12), .filesz = le32(p + 16), .memsz = le32(p + 20),
			.flags = le32(p + 24), .align = le32(p + 28),
		};
	}
}

static int check_program_headers(struct elf_image *img, char *err, size_t errlen)
{
	unsigned want = img->bits == 64 ? PHDR64_SIZE : PHDR32_SIZE;

	if (img->phnum == 0 || img->phentsize != want) {
		snprintf(err, errlen, "ELF: no program headers, or entries of %u bytes (want %u)",
			 img->phentsize, want);
		return -1;
	}
	if (img->phoff > img->size ||
	    (uint64_t)img->phnum * img->phentsize > img->size - img->phoff) {
		snprintf(err, errlen, "ELF: program headers past the end of the file");
		return -1;
	}
	return 0;
}

static int check_segment(struct elf_image *img, unsigned i, const struct elf_segment *s,
			 char *err, size_t errlen)
{
	if (s->offset > img->size || s->filesz > img->size - s->offset) {
		snprintf(err, errlen, "ELF: segment %u (%llu bytes at offset 0x%llx) runs past the "
			 "end of the file (%zu bytes)", i, (unsigned long long)s->filesz,
			 (unsigned long long)s->offset, img->size);
		return -1;
	}
	if (s->filesz > s->memsz || s->paddr + s->memsz < s->paddr) {
		snprintf(err, errlen, "ELF: segment %u has p_filesz > p_memsz or wraps around", i);
		return -1;
	}
	return 0;
}

static int check_segments(struct elf_image *img, char *err, size_t errlen)
{
	img->nload = 0;
	img->lo = UINT64_MAX;
	img->hi = 0;
	for (unsigned i = 0; i < img->phnum; i++) {
		struct elf_segment s;
		elf_segment_at(img, i, &s);
		if (s.type != ELF_PT_LOAD && s.type != ELF_PT_NOTE)
			continue;
		if (check_segment(img, i, &s, err, errlen) < 0)
			return -1;
		if (s.type != ELF_PT_LOAD || s.memsz == 0)
			continue;
		img->nload++;
		img->lo = s.paddr < img->lo ? s.paddr : img->lo;
		img->hi = s.paddr + s.memsz > img->hi ? s.paddr + s.memsz : img->hi;
	}
	if (img->nload == 0) {
		snprintf(err, errlen, "ELF: no loadable segment");
		return -1;
	}
	return 0;
}

int elf_parse(const uint8_t *data, size_t size, struct elf_image *img, char *err, size_t errlen)
{
	memset(img, 0, sizeof(*img));
	img->data = data;
	img->size = size;
	if (header(data, size, img, err, errlen) < 0 ||
	    check_program_headers(img, err, errlen) < 0)
		return -1;
	return check_segments(img, err, errlen);
}

int elf_check_ram(const struct guest_mem *m, const struct elf_image *img, uint64_t min,
		  uint64_t max, char *err, size_t errlen)
{
	for (unsigned i = 0; i < img->phnum; i++) {
		struct elf_segment s;
		elf_segment_at(img, i, &s);
		if (s.type != ELF_PT_LOAD || s.memsz == 0)
			continue;
		if (s.paddr < min || s.paddr + s.memsz > max ||
		    !guest_mem_ptr(m, s.paddr, s.memsz)) {
			snprintf(err, errlen, "ELF: segment %u at 0x%llx-0x%llx is not in guest "
				 "RAM within 0x%llx-0x%llx", i, (unsigned long long)s.paddr,
				 (unsigned long long)(s.paddr + s.memsz), (unsigned long long)min,
				 (unsigned long long)max);
			return -1;
		}
	}
	return 0;
}

void elf_load(struct guest_mem *m, const struct elf_image *img)
{
	for (unsigned i = 0; i < img->phnum; i++) {
		struct elf_segment s;
		elf_segment_at(img, i, &s);
		if (s.type != ELF_PT_LOAD || s.memsz == 0)
			continue;
		uint8_t *dst = guest_mem_ptr(m, s.paddr, s.memsz);
		memcpy(dst, img->data + s.offset, s.filesz);
		memset(dst + s.filesz, 0, s.memsz - s.filesz); /* .bss */
	}
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* The notes of one PT_NOTE: header, name and desc each padded to `align` (gABI). */
static int walk_notes(const uint8_t *p, uint64_t len, uint64_t align, elf_note_fn fn,
		      void *ctx, char *err, size_t errlen)
{
	uint64_t off = 0;

	while (len - off >= NHDR_SIZE) {
		uint64_t namesz = le32(p + off), descsz = le32(p + off + 4);
		uint32_t type = le32(p + off + 8);
		uint64_t name = off + NHDR_SIZE, desc = name + align_up(namesz, align);
		if (desc > len || descsz > len - desc) {
			snprintf(err, errlen, "ELF: note at offset 0x%llx runs past its segment",
				 (unsigned long long)off);
			return -1;
		}
		int r = fn(ctx, (const char *)p + name, namesz, type, p + desc, descsz);
		if (r != 0)
			return r;
		off = align_up(desc + descsz, align);
		if (off > len)
			break;
	}
	return 0;
}

int elf_notes(const struct elf_image *img, elf_note_fn fn, void *ctx, char *err, size_t errlen)
{
	for (unsigned i = 0; i < img->phnum; i++) {
		struct elf_segment s;
		elf_segment_at(img, i, &s);
		if (s.type != ELF_PT_NOTE)
			continue;
		int r = walk_notes(img->data + s.offset, s.filesz, s.align == 8 ? 8 : 4, fn, ctx,
				   err, errlen);
		if (r != 0)
			return r;
	}
	return 0;
}

struct pvh_find {
	uint64_t entry;
	int bad;
};

static int pvh_note(void *ctx, const char *name, size_t namesz, uint32_t type,
		    const uint8_t *desc, size_t descsz)
{
	struct pvh_find *f = ctx;

	if (type != XEN_ELFNOTE_PHYS32_ENTRY || namesz != 4 || memcmp(name, "Xen", 4) != 0)
		return 0;
	if (descsz == 4)
		f->entry = le32(desc);
	else if (descsz == 8)
		f->entry = le64(desc);
	else
		f->bad = 1;
	return 1;
}

int elf_pvh_entry(const struct elf_image *img, uint64_t *entry, char *err, size_t errlen)
{
	struct pvh_find f = { 0, 0 };
	int r = elf_notes(img, pvh_note, &f, err, errlen);

	if (r <= 0)
		return r;
	if (f.bad || f.entry > UINT32_MAX) {
		snprintf(err, errlen, "ELF: malformed Xen PHYS32_ENTRY note");
		return -1;
	}
	*entry = f.entry;
	return 1;
}
