/*
 * test_elf.c - ELF32/ELF64 reading: header fields, PT_LOAD spans, loading at p_paddr with
 * the bss zeroed, RAM bounds, PT_NOTE walking and the Xen PVH entry note; every malformed
 * file refused (magic, class, byte order, truncation, headers or segments past the file,
 * p_filesz > p_memsz, no loadable segment, notes past their segment).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "boot/elf.h"
#include "kernel_images.h"

static const struct test_seg two[] = {
	{ 1, 0x200000, 0xc0200000, 0x1800, 0x3000, 0x10, NULL },
	{ 1, 0x400000, 0xc0400000, 0x100, 0x100, 0x80, NULL },
};

static void parses(unsigned bits, uint16_t machine)
{
	size_t n;
	uint8_t *d = test_elf(bits, machine, 2, 0x200010, two, 2, &n);
	struct elf_image img;
	struct elf_segment s;
	char err[128];

	assert_int_equal(elf_parse(d, n, &img, err, sizeof(err)), 0);
	assert_int_equal(img.bits, bits);
	assert_int_equal(img.machine, machine);
	assert_int_equal(img.type, ELF_ET_EXEC);
	assert_int_equal(img.entry, 0x200010);
	assert_int_equal(img.nload, 2);
	assert_int_equal(img.lo, 0x200000);
	assert_int_equal(img.hi, 0x400100);
	elf_segment_at(&img, 1, &s);
	assert_int_equal(s.type, ELF_PT_LOAD);
	assert_int_equal(s.paddr, 0x400000);
	assert_int_equal(s.vaddr, 0xc0400000);
	assert_int_equal(s.offset, 0x3000);
	assert_int_equal(s.filesz, 0x100);
	free(d);
}

static void test_parse(void **state)
{
	(void)state;
	parses(64, ELF_EM_X86_64);
	parses(32, ELF_EM_386);
}

static void test_load(void **state)
{
	struct guest_mem m;
	size_t n;
	uint8_t *d = test_elf(32, ELF_EM_386, 2, 0x200000, two, 2, &n);
	struct elf_image img;
	char err[128];

	(void)state;
	assert_int_equal(guest_mem_init(&m, 8u << 20, err, sizeof(err)), 0);
	assert_int_equal(elf_parse(d, n, &img, err, sizeof(err)), 0);
	memset(guest_mem_ptr(&m, 0x201800, 0x1800), 0xee, 0x1800);
	assert_int_equal(elf_check_ram(&m, &img, 0x100000, 8u << 20, err, sizeof(err)), 0);
	elf_load(&m, &img);
	const uint8_t *a = guest_mem_ptr(&m, 0x200000, 0x3000);
	for (unsigned i = 0; i < 0x1800; i++)
		assert_int_equal(a[i], (uint8_t)(0x10 + i));
	for (unsigned i = 0x1800; i < 0x3000; i++)
		assert_int_equal(a[i], 0); /* bss */
	assert_int_equal(*(uint8_t *)guest_mem_ptr(&m, 0x400000, 1), 0x80);
	assert_int_equal(*(uint8_t *)guest_mem_ptr(&m, 0x400100, 1), 0); /* nothing past it */

	/* Bounds: below the floor, past the ceiling, past RAM. */
	assert_int_equal(elf_check_ram(&m, &img, 0x300000, 8u << 20, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "segment 0"));
	assert_int_equal(elf_check_ram(&m, &img, 0, 0x400000, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "segment 1"));
	guest_mem_free(&m);
	assert_int_equal(guest_mem_init(&m, 4u << 20, err, sizeof(err)), 0);
	assert_int_equal(elf_check_ram(&m, &img, 0, ~0ull, err, sizeof(err)), -1);
	guest_mem_free(&m);
	free(d);
}

static void refused(uint8_t *d, size_t n, const char *what)
{
	struct elf_image img;
	char err[160] = "";

	assert_int_equal(elf_parse(d, n, &img, err, sizeof(err)), -1);
	if (!strstr(err, what))
		fail_msg("\"%s\" does not mention \"%s\"", err, what);
}

static void test_refusals(void **state)
{
	size_t n;
	uint8_t *d = test_elf(64, ELF_EM_X86_64, 2, 0, two, 2, &n);
	uint8_t *c = malloc(n);

	(void)state;
#define FRESH() memcpy(c, d, n)
	FRESH(); c[0] = 0x7e; refused(c, n, "bad magic");
	FRESH(); c[4] = 3; refused(c, n, "class");
	FRESH(); c[5] = 2; refused(c, n, "little-endian");
	FRESH(); refused(c, 40, "truncated header");
	FRESH(); refused(c, 64 + 56, "past the end"); /* second program header cut */
	FRESH(); put_le16(c + 54, 40); refused(c, n, "entries of 40 bytes");
	FRESH(); put_le16(c + 56, 0); refused(c, n, "no program headers");
	FRESH(); put_le64(c + 32, ~0ull - 8); refused(c, n, "past the end");
	FRESH(); refused(c, n - 1, "segment 1"); /* its bytes run past the file */
	FRESH(); put_le64(c + 64 + 8, ~0ull - 0x10); refused(c, n, "segment 0");
	FRESH(); put_le64(c + 64 + 40, 0x10); refused(c, n, "p_filesz > p_memsz");
	FRESH(); put_le64(c + 64 + 24, ~0ull - 0x100); refused(c, n, "wraps");
	FRESH(); put_le32(c + 64, 6); put_le32(c + 64 + 56, 6); refused(c, n, "no loadable");
#undef FRESH
	free(c);
	free(d);
}

struct seen {
	int count;
	uint32_t types[4];
	char names[4][8];
};

static int record(void *ctx, const char *name, size_t namesz, uint32_t type,
		  const uint8_t *desc, size_t descsz)
{
	struct seen *s = ctx;

	(void)desc;
	(void)descsz;
	s->types[s->count] = type;
	memcpy(s->names[s->count], name, namesz < 8 ? namesz : 8);
	s->count++;
	return 0;
}

static uint8_t *with_notes(const uint8_t *notes, size_t len, size_t *n)
{
	struct test_seg segs[2] = {
		{ 1, 0x100000, 0x100000, 0x10, 0x10, 0, NULL },
		{ 4, 0, 0, len, len, 0, notes },
	};
	return test_elf(64, ELF_EM_X86_64, 2, 0x100000, segs, 2, n);
}

static void test_notes(void **state)
{
	uint8_t notes[128], desc4[4], desc8[8];
	size_t len = 0, n;
	struct elf_image img;
	struct seen s = { 0 };
	uint64_t entry;
	char err[128];

	(void)state;
	put_le32(desc4, 0x1234);
	len += test_note(notes + len, "GNU", 3, desc4, 4);
	len += test_note(notes + len, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, desc4, 4);
	uint8_t *d = with_notes(notes, len, &n);
	assert_int_equal(elf_parse(d, n, &img, err, sizeof(err)), 0);
	assert_int_equal(elf_notes(&img, record, &s, err, sizeof(err)), 0);
	assert_int_equal(s.count, 2);
	assert_int_equal(s.types[0], 3);
	assert_string_equal(s.names[0], "GNU");
	assert_int_equal(s.types[1], 18);
	assert_int_equal(elf_pvh_entry(&img, &entry, err, sizeof(err)), 1);
	assert_int_equal(entry, 0x1234);
	free(d);

	/* An 8-byte desc (Linux's _ASM_PTR on x86-64). */
	put_le64(desc8, 0x1000abc);
	len = test_note(notes, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, desc8, 8);
	d = with_notes(notes, len, &n);
	assert_int_equal(elf_parse(d, n, &img, err, sizeof(err)), 0);
	assert_int_equal(elf_pvh_entry(&img, &entry, err, sizeof(err)), 1);
	assert_int_equal(entry, 0x1000abc);
	free(d);

	/* No note; a malformed desc; a note running past its segment. */
	len = test_note(notes, "Xen", 17, desc4, 4);
	d = with_notes(notes, len, &n);
	assert_int_equal(elf_parse(d, n, &img, err, sizeof(err)), 0);
	assert_int_equal(elf_pvh_entry(&img, &entry, err, sizeof(err)), 0);
	free(d);
	len = test_note(notes, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, desc4, 2);
	d = with_notes(notes, len, &n);
	assert_int_equal(elf_parse(d, n, &img, err, sizeof(err)), 0);
	assert_int_equal(elf_pvh_entry(&img, &entry, err, sizeof(err)), -1);
	free(d);
	len = test_note(notes, "Xen", XEN_ELFNOTE_PHYS32_ENTRY, desc4, 4);
	put_le32(notes + 4, 400); /* descsz past the segment */
	d = with_notes(notes, len, &n);
	assert_int_equal(elf_parse(d, n, &img, err, sizeof(err)), 0);
	assert_int_equal(elf_pvh_entry(&img, &entry, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "runs past"));
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_notes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
