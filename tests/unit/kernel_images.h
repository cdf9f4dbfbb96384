/*
 * kernel_images.h - synthetic kernel images for the loader tests: ELF32/ELF64 executables
 * with chosen segments and notes, bzImages with a chosen setup header and payload, and the
 * compressors that make payloads.  Built byte by byte from the specifications (gABI,
 * boot.rst) so the tests do not share the loaders' own parsing code.
 */
#ifndef MPVMM_TESTS_KERNEL_IMAGES_H
#define MPVMM_TESTS_KERNEL_IMAGES_H

#include <lzma.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "boot/bytes.h"

struct test_seg {
	uint32_t type;       /* 1 = PT_LOAD, 4 = PT_NOTE */
	uint64_t paddr, vaddr, filesz, memsz;
	uint8_t fill;        /* file bytes are fill, fill + 1, ... */
	const uint8_t *data; /* or these bytes (filesz of them) */
};

/* File offset of segment i's bytes: from 0x1000 on, each segment page aligned. */
static inline uint64_t test_seg_offset(const struct test_seg *segs, unsigned i)
{
	uint64_t off = 0x1000;
	for (unsigned j = 0; j < i; j++)
		off += (segs[j].filesz + 0xfff) & ~0xfffull;
	return off;
}

/* An ELF (bits 32 or 64) whose file ends with the last segment's bytes. */
static inline uint8_t *test_elf(unsigned bits, uint16_t machine, uint16_t type, uint64_t entry,
				const struct test_seg *segs, unsigned nseg, size_t *size)
{
	size_t total = nseg ? test_seg_offset(segs, nseg - 1) + segs[nseg - 1].filesz : 0x1000;
	uint8_t *d = calloc(1, total);
	unsigned eh = bits == 64 ? 64 : 52, ph = bits == 64 ? 56 : 32;

	memcpy(d, "\177ELF", 4);
	d[4] = bits == 64 ? 2 : 1;
	d[5] = 1;
	d[6] = 1;
	put_le16(d + 16, type);
	put_le16(d + 18, machine);
	put_le32(d + 20, 1);
	if (bits == 64) {
		put_le64(d + 24, entry);
		put_le64(d + 32, eh);
		put_le16(d + 52, (uint16_t)eh);
		put_le16(d + 54, (uint16_t)ph);
		put_le16(d + 56, (uint16_t)nseg);
	} else {
		put_le32(d + 24, (uint32_t)entry);
		put_le32(d + 28, eh);
		put_le16(d + 40, (uint16_t)eh);
		put_le16(d + 42, (uint16_t)ph);
		put_le16(d + 44, (uint16_t)nseg);
	}
	for (unsigned i = 0; i < nseg; i++) {
		uint8_t *p = d + eh + i * ph;
		uint64_t off = test_seg_offset(segs, i);
		const struct test_seg *s = &segs[i];
		if (bits == 64) {
			put_le32(p, s->type);
			put_le32(p + 4, 7);
			put_le64(p + 8, off);
			put_le64(p + 16, s->vaddr);
			put_le64(p + 24, s->paddr);
			put_le64(p + 32, s->filesz);
			put_le64(p + 40, s->memsz);
			put_le64(p + 48, s->type == 4 ? 4 : 0x1000);
		} else {
			put_le32(p, s->type);
			put_le32(p + 4, (uint32_t)off);
			put_le32(p + 8, (uint32_t)s->vaddr);
			put_le32(p + 12, (uint32_t)s->paddr);
			put_le32(p + 16, (uint32_t)s->filesz);
			put_le32(p + 20, (uint32_t)s->memsz);
			put_le32(p + 24, 7);
			put_le32(p + 28, s->type == 4 ? 4 : 0x1000);
		}
		for (uint64_t j = 0; j < s->filesz; j++)
			d[off + j] = s->data ? s->data[j] : (uint8_t)(s->fill + j);
	}
	*size = total;
	return d;
}

/* One ELF note: name (with its NUL), desc, each padded to 4 bytes.  Returns its length. */
static inline size_t test_note(uint8_t *out, const char *name, uint32_t type,
			       const uint8_t *desc, uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	size_t n = 12;

	put_le32(out, namesz);
	put_le32(out + 4, descsz);
	put_le32(out + 8, type);
	memset(out + n, 0, (namesz + 3) & ~3u);
	memcpy(out + n, name, namesz);
	n += (namesz + 3) & ~3u;
	memset(out + n, 0, (descsz + 3) & ~3u);
	memcpy(out + n, desc, descsz);
	return n + ((descsz + 3) & ~3u);
}

/* A vmlinux-like ELF64: one PT_LOAD at 16 MiB, 0x3000 file bytes + 0x2000 bss, entry at
 * its start, optionally a Xen PHYS32_ENTRY note. */
#define TEST_VMLINUX_ADDR 0x1000000ull
static inline uint8_t *test_vmlinux(int pvh, size_t *size)
{
	uint8_t note[64];
	uint8_t desc[8];
	put_le64(desc, 0x1000100);
	size_t nl = test_note(note, "Xen", 18, desc, 8);
	struct test_seg segs[2] = {
		{ 1, TEST_VMLINUX_ADDR, 0xffffffff81000000ull, 0x3000, 0x5000, 0x40, NULL },
		{ 4, 0, 0, nl, nl, 0, note },
	};
	return test_elf(64, 62, 2, TEST_VMLINUX_ADDR, segs, pvh ? 2 : 1, size);
}

struct test_bz {
	uint16_t version;
	uint8_t setup_sects;   /* 0 means 4 */
	uint8_t relocatable;
	uint16_t xloadflags;
	uint32_t kernel_alignment, init_size, cmdline_size, initrd_addr_max;
	uint64_t pref_address;
	const uint8_t *payload; /* placed at payload_offset 0x100 of the protected-mode part */
	size_t payload_size;
	size_t pm_size;         /* protected-mode part, >= 0x100 + payload_size */
};

static inline struct test_bz test_bz_default(void)
{
	return (struct test_bz){
		.version = 0x020f, .setup_sects = 4, .relocatable = 1, .xloadflags = 0x1,
		.kernel_alignment = 0x200000, .init_size = 0x800000, .cmdline_size = 2047,
		.initrd_addr_max = 0x7fffffff, .pref_address = 0x1000000, .pm_size = 0x4000,
	};
}

/* A bzImage: setup (setup_sects + 1 sectors) then the protected-mode part, whose byte i
 * is (uint8_t)(i * 7) except where the payload is. */
static inline uint8_t *test_bzimage(const struct test_bz *b, size_t *size)
{
	unsigned sects = b->setup_sects ? b->setup_sects : 4;
	size_t setup = (sects + 1) * 512, total = setup + b->pm_size;
	uint8_t *d = calloc(1, total);

	for (size_t i = 0; i < b->pm_size; i++)
		d[setup + i] = (uint8_t)(i * 7);
	d[0x1f1] = b->setup_sects;
	put_le32(d + 0x1f4, (uint32_t)(b->pm_size / 16));
	put_le16(d + 0x1fe, 0xaa55);
	d[0x200] = 0xeb;
	d[0x201] = 0x66; /* header ends at 0x268 */
	memcpy(d + 0x202, "HdrS", 4);
	put_le16(d + 0x206, b->version);
	d[0x211] = 0x01; /* LOADED_HIGH */
	put_le32(d + 0x214, 0x100000);
	put_le32(d + 0x22c, b->initrd_addr_max);
	put_le32(d + 0x230, b->kernel_alignment);
	d[0x234] = b->relocatable;
	put_le16(d + 0x236, b->xloadflags);
	put_le32(d + 0x238, b->cmdline_size);
	put_le32(d + 0x248, 0x100);
	put_le32(d + 0x24c, (uint32_t)b->payload_size);
	put_le64(d + 0x258, b->pref_address);
	put_le32(d + 0x260, b->init_size);
	if (b->payload)
		memcpy(d + setup + 0x100, b->payload, b->payload_size);
	*size = total;
	return d;
}

/* Compressors; each appends the 4-byte little-endian size as Linux's size_append does
 * (not for gzip, whose trailer already ends with it). */
static inline uint8_t *test_gzip(const uint8_t *in, size_t n, size_t *out_n)
{
	z_stream z;
	size_t cap = compressBound((uLong)n) + 64;
	uint8_t *out = malloc(cap);

	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	deflate(&z, Z_FINISH);
	*out_n = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

static inline uint8_t *test_xz(const uint8_t *in, size_t n, size_t *out_n)
{
	size_t cap = lzma_stream_buffer_bound(n) + 4, pos = 0;
	uint8_t *out = malloc(cap);

	lzma_easy_buffer_encode(6, LZMA_CHECK_CRC32, NULL, in, n, out, &pos, cap - 4);
	put_le32(out + pos, (uint32_t)n);
	*out_n = pos + 4;
	return out;
}

static inline uint8_t *test_lzma_alone(const uint8_t *in, size_t n, size_t *out_n)
{
	lzma_stream s = LZMA_STREAM_INIT;
	lzma_options_lzma opt;
	size_t cap = n + n / 2 + 4096;
	uint8_t *out = malloc(cap);

	if (lzma_lzma_preset(&opt, 6) || lzma_alone_encoder(&s, &opt) != LZMA_OK)
		abort();
	s.next_in = in;
	s.avail_in = n;
	s.next_out = out;
	s.avail_out = cap - 4;
	while (lzma_code(&s, LZMA_FINISH) == LZMA_OK)
		;
	size_t len = cap - 4 - s.avail_out;
	lzma_end(&s);
	put_le32(out + len, (uint32_t)n);
	*out_n = len + 4;
	return out;
}

static inline uint8_t *test_zstd(const uint8_t *in, size_t n, size_t *out_n)
{
	size_t cap = ZSTD_compressBound(n) + 4;
	uint8_t *out = malloc(cap);
	size_t len = ZSTD_compress(out, cap - 4, in, n, 19);

	put_le32(out + len, (uint32_t)n);
	*out_n = len + 4;
	return out;
}

#endif
