/*
 * test_multiboot.c - the multiboot v1 loader: an ELF32 kernel, an ELF64 one with a 32-bit
 * entry, an a.out-kludge image (address fields, bit 16); the entry state of the
 * specification's section 3.2, every field of the info structure, the memory map, module 0
 * (the initrd) with its string; and every refusal, with guest memory left untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "boot/e820.h"
#include "boot/multiboot.h"
#include "kernel_images.h"

#define RAM (32u << 20)

struct fixture {
	struct guest_mem m;
	struct boot_entry e;
	struct kernel_info info;
	struct kernel_params p;
	char err[256];
};

static uint8_t module_bytes[3000];

static struct fixture *setup_ram(const uint8_t *img, size_t n, const char *cmdline,
				 int with_module)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[128];

	for (size_t i = 0; i < sizeof(module_bytes); i++)
		module_bytes[i] = (uint8_t)(i ^ 0x5c);
	if (guest_mem_init(&f->m, RAM, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	f->e.protocol = "reset";
	f->p = (struct kernel_params){
		.image = img, .image_size = n, .cmdline = cmdline,
		.initrd = with_module ? module_bytes : NULL,
		.initrd_size = with_module ? sizeof(module_bytes) : 0,
		.initrd_name = with_module ? "/boot/initrd.img arg=1" : NULL,
	};
	return f;
}

static void done(struct fixture *f, uint8_t *img)
{
	guest_mem_free(&f->m);
	free(f);
	free(img);
}

static const uint8_t *gp(struct fixture *f, uint64_t gpa, uint64_t len)
{
	const uint8_t *p = guest_mem_ptr(&f->m, gpa, len);
	assert_non_null(p);
	return p;
}

static uint32_t info32(struct fixture *f, unsigned off)
{
	return le32(gp(f, MB_INFO_ADDR + off, 4));
}

/* A multiboot header (magic, flags, checksum[, address fields]) at `h`. */
static void header(uint8_t *h, uint32_t flags, const uint32_t *addr)
{
	put_le32(h, MULTIBOOT_HEADER_MAGIC);
	put_le32(h + 4, flags);
	put_le32(h + 8, (uint32_t)-(MULTIBOOT_HEADER_MAGIC + flags));
	for (int i = 0; addr && i < 5; i++)
		put_le32(h + 12 + 4 * i, addr[i]);
}

/* An ELF32 kernel at 1 MiB whose text starts with a multiboot header (file offset 0x1000). */
static uint8_t *elf_kernel(unsigned bits, uint32_t flags, uint64_t entry, size_t *n)
{
	uint8_t text[0x200];
	struct test_seg segs[] = {
		{ 1, 0x100000, 0xc0100000, sizeof(text), 0x4000, 0, text },
	};

	memset(text, 0x90, sizeof(text));
	header(text, flags, NULL);
	return test_elf(bits, bits == 64 ? 62 : 3, 2, entry, segs, 1, n);
}

static void assert_entry32(struct fixture *f, uint64_t rip)
{
	const struct x86_sregs *s = &f->e.sregs;

	assert_int_equal(f->e.regs.rax, MULTIBOOT_BOOTLOADER_MAGIC);
	assert_int_equal(f->e.regs.rbx, MB_INFO_ADDR);
	assert_int_equal(f->e.regs.rip, rip);
	assert_int_equal(f->e.regs.rflags, 0x2); /* IF and VM clear */
	assert_int_equal(s->cs.selector, 0x08);
	assert_int_equal(s->cs.db, 1);
	assert_int_equal(s->cs.l, 0);
	assert_int_equal(s->cs.base, 0);
	assert_int_equal(s->cs.limit, 0xffffffff);
	assert_int_equal(s->cs.type, 0xb); /* execute/read */
	assert_int_equal(s->ds.selector, 0x18);
	assert_int_equal(s->ss.selector, 0x18);
	assert_int_equal(s->es.type, 0x3); /* read/write */
	assert_true(s->cr0 & X86_CR0_PE);
	assert_false(s->cr0 & X86_CR0_PG);
	assert_int_equal(s->efer, 0);
	assert_int_equal(s->cr4, 0);
	assert_string_equal(f->e.protocol, "multiboot");
	/* The GDT behind the selectors. */
	assert_int_equal(le64(gp(f, s->gdt.base + 8, 8)), 0x00cf9b000000ffffull);
	assert_int_equal(le64(gp(f, s->gdt.base + 0x18, 8)), 0x00cf93000000ffffull);
}

static void assert_info(struct fixture *f, const char *cmdline, int module)
{
	uint32_t want = MBI_FLAG_MEMORY | MBI_FLAG_CMDLINE | MBI_FLAG_MODS | MBI_FLAG_MMAP |
			MBI_FLAG_LOADER_NAME;

	assert_int_equal(info32(f, MBI_FLAGS), want);
	assert_int_equal(info32(f, MBI_MEM_LOWER), 639); /* up to the EBDA */
	assert_int_equal(info32(f, MBI_MEM_UPPER), (RAM - 0x100000) / 1024);
	uint32_t cmd = info32(f, MBI_CMDLINE);
	assert_string_equal((const char *)gp(f, cmd, strlen(cmdline) + 1), cmdline);
	assert_string_equal((const char *)gp(f, info32(f, MBI_BOOT_LOADER_NAME), 6), "mpvmm");

	/* mmap: entries of size 20 (+4), the PC map. */
	uint32_t len = info32(f, MBI_MMAP_LENGTH), addr = info32(f, MBI_MMAP_ADDR);
	static const uint64_t want_map[][3] = {
		{ 0, 0x9fc00, 1 }, { 0x9fc00, 0x400, 2 }, { 0xe0000, 0x20000, 2 },
		{ 0x100000, RAM - 0x100000, 1 },
	};
	assert_int_equal(len, 4 * 24);
	for (int i = 0; i < 4; i++) {
		const uint8_t *e = gp(f, addr + 24 * i, 24);
		assert_int_equal(le32(e), 20);
		assert_int_equal(le64(e + 4), want_map[i][0]);
		assert_int_equal(le64(e + 12), want_map[i][1]);
		assert_int_equal(le32(e + 20), want_map[i][2]);
	}

	assert_int_equal(info32(f, MBI_MODS_COUNT), module ? 1 : 0);
	if (!module)
		return;
	const uint8_t *mod = gp(f, info32(f, MBI_MODS_ADDR), 16);
	uint32_t start = le32(mod), end = le32(mod + 4);
	assert_int_equal(start % 4096, 0); /* flags bit 0 */
	assert_int_equal(end - start, sizeof(module_bytes));
	assert_int_equal(start, (RAM - sizeof(module_bytes)) & ~0xfffu); /* as high as fits */
	assert_int_equal(memcmp(gp(f, start, sizeof(module_bytes)), module_bytes,
				sizeof(module_bytes)), 0);
	assert_string_equal((const char *)gp(f, le32(mod + 8), 23), "/boot/initrd.img arg=1");
	assert_int_equal(f->info.initrd_addr, start);
}

static int load(struct fixture *f)
{
	return multiboot_load(&f->m, &f->p, &f->e, &f->info, f->err, sizeof(f->err));
}

static void test_elf32(void **state)
{
	size_t n;
	uint8_t *img = elf_kernel(32, MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO, 0x100010, &n);
	struct fixture *f = setup_ram(img, n, "kernel quiet", 1);

	(void)state;
	memset((uint8_t *)guest_mem_ptr(&f->m, 0xe0000, 0x20000), 0x3c, 0x20000);
	if (load(f) < 0)
		fail_msg("%s", f->err);
	assert_entry32(f, 0x100010);
	assert_info(f, "kernel quiet", 1);
	assert_int_equal(gp(f, 0x100000, 4)[0], 0x02); /* the header's magic, loaded */
	assert_int_equal(gp(f, 0x100200, 1)[0], 0);     /* bss */
	assert_int_equal(f->info.kernel_end, 0x104000);
	assert_int_equal(gp(f, 0xfffff, 1)[0], 0x3c);   /* firmware tables untouched */
	done(f, img);
}

static void test_elf64_and_virtual_entry(void **state)
{
	size_t n;
	/* A virtual e_entry inside the segment is translated to physical (GRUB's rule). */
	uint8_t *img = elf_kernel(64, 0, 0xc0100020, &n);
	struct fixture *f = setup_ram(img, n, "", 0);

	(void)state;
	if (load(f) < 0)
		fail_msg("%s", f->err);
	assert_entry32(f, 0x100020);
	assert_info(f, "", 0);
	done(f, img);
}

static void test_aout_kludge(void **state)
{
	size_t n = 0x2000;
	uint8_t *img = calloc(1, n);
	/* header_addr, load_addr, load_end_addr (0: to the end of the file), bss_end, entry */
	const uint32_t addr[] = { 0x200040, 0x200000, 0, 0x203000, 0x200100 };

	(void)state;
	for (size_t i = 0; i < n; i++)
		img[i] = (uint8_t)(i * 3 + 1);
	header(img + 0x40, MULTIBOOT_AOUT_KLUDGE | MULTIBOOT_MEMORY_INFO, addr);
	struct fixture *f = setup_ram(img, n, "x", 1);
	memset((uint8_t *)guest_mem_ptr(&f->m, 0x202000, 0x1000), 0xff, 0x1000);
	if (load(f) < 0)
		fail_msg("%s", f->err);
	assert_entry32(f, 0x200100);
	assert_int_equal(memcmp(gp(f, 0x200000, n), img, n), 0);
	for (unsigned i = 0; i < 0x1000; i++)
		assert_int_equal(gp(f, 0x202000, 0x1000)[i], 0); /* bss_end_addr */
	assert_info(f, "x", 1);
	assert_int_equal(f->info.kernel_end, 0x203000);
	done(f, img);

	/* load_end_addr given: only that much of the file. */
	img = calloc(1, n);
	memset(img, 0x11, n);
	const uint32_t part[] = { 0x200040, 0x200000, 0x200800, 0, 0x200100 };
	header(img + 0x40, MULTIBOOT_AOUT_KLUDGE, part);
	f = setup_ram(img, n, "", 0);
	assert_int_equal(load(f), 0);
	assert_int_equal(gp(f, 0x2007ff, 1)[0], 0x11);
	assert_int_equal(gp(f, 0x200800, 1)[0], 0);
	done(f, img);
}

static void assert_untouched(struct fixture *f)
{
	const uint8_t *p = f->m.host;
	for (uint64_t i = 0; i < f->m.size; i++)
		if (p[i])
			fail_msg("guest byte 0x%llx written by a refused load",
				 (unsigned long long)i);
	assert_string_equal(f->e.protocol, "reset");
}

static void refuse(uint8_t *img, size_t n, const char *cmdline, size_t module_size,
		   const char *what)
{
	struct fixture *f = setup_ram(img, n, cmdline, 0);
	uint8_t *big = NULL;

	if (module_size) {
		big = calloc(1, module_size);
		f->p.initrd = big;
		f->p.initrd_size = module_size;
	}
	assert_int_equal(load(f), -1);
	if (!strstr(f->err, what))
		fail_msg("\"%s\" does not mention \"%s\"", f->err, what);
	assert_untouched(f);
	free(big);
	done(f, img);
}

static uint8_t *kludge(const uint32_t *addr, size_t n)
{
	uint8_t *img = calloc(1, n);
	header(img + 0x40, MULTIBOOT_AOUT_KLUDGE, addr);
	return img;
}

static void test_refusals(void **state)
{
	size_t n;
	uint8_t *img;
	static char longline[LAYOUT_CMDLINE_MAX + 1];

	(void)state;
	img = elf_kernel(32, 0, 0x100010, &n);
	img[0x1008] ^= 1; /* checksum */
	refuse(img, n, "", 0, "bad checksum");
	refuse(elf_kernel(32, MULTIBOOT_VIDEO_MODE, 0x100010, &n), n, "", 0, "video");
	refuse(elf_kernel(32, 1u << 5, 0x100010, &n), n, "", 0, "0x20");
	refuse(elf_kernel(32, 0, 0x200000, &n), n, "", 0, "entry");
	img = elf_kernel(32, 0, 0x100010, &n);
	put_le16(img + 18, 40); /* EM_ARM */
	refuse(img, n, "", 0, "not an x86 executable");
	img = elf_kernel(32, 0, 0x100010, &n);
	put_le32(img + 52 + 12, 0x80000); /* p_paddr below 1 MiB */
	refuse(img, n, "", 0, "not in guest RAM");
	img = elf_kernel(32, 0, 0x100010, &n);
	put_le32(img + 52 + 12, RAM - 0x1000); /* p_paddr: its bss runs past RAM */
	refuse(img, n, "", 0, "not in guest RAM");
	refuse(elf_kernel(32, 0, 0x100010, &n), n, "", RAM, "does not fit");
	memset(longline, 'y', LAYOUT_CMDLINE_MAX);
	refuse(elf_kernel(32, 0, 0x100010, &n), n, longline, 0, "command line");
	img = calloc(1, 0x3000);
	refuse(img, 0x3000, "", 0, "no multiboot header");

	const uint32_t after[] = { 0x200040, 0x200080, 0, 0, 0x200100 }; /* load after header */
	refuse(kludge(after, 0x2000), 0x2000, "", 0, "load_addr");
	const uint32_t before[] = { 0x200040, 0x100000, 0, 0, 0x100100 }; /* before the file */
	refuse(kludge(before, 0x2000), 0x2000, "", 0, "load_addr");
	const uint32_t past[] = { 0x200040, 0x200000, 0x203000, 0, 0x200100 }; /* past EOF */
	refuse(kludge(past, 0x2000), 0x2000, "", 0, "load_end_addr");
	const uint32_t bss[] = { 0x200040, 0x200000, 0x201000, 0x200800, 0x200100 };
	refuse(kludge(bss, 0x2000), 0x2000, "", 0, "bss_end_addr");
	const uint32_t far[] = { 0x200040, 0x200000, 0, 0x10000000, 0x200100 }; /* past RAM */
	refuse(kludge(far, 0x2000), 0x2000, "", 0, "not in guest RAM");
	const uint32_t entry[] = { 0x200040, 0x200000, 0, 0, 0x300000 };
	refuse(kludge(entry, 0x2000), 0x2000, "", 0, "entry");
	/* Address fields cut off by the end of the file. */
	img = calloc(1, 0x50);
	header(img + 0x40, MULTIBOOT_AOUT_KLUDGE, NULL);
	refuse(img, 0x50, "", 0, "truncated");
}

static void test_find(void **state)
{
	uint8_t img[9000] = { 0 };
	size_t off;
	char err[64];

	(void)state;
	header(img + 8180, 0, NULL); /* 8180 + 12 = 8192: the last place it may be */
	assert_int_equal(multiboot_find(img, sizeof(img), &off, err, sizeof(err)), 1);
	assert_int_equal(off, 8180);
	memset(img, 0, sizeof(img));
	header(img + 8184, 0, NULL); /* runs past the first 8192 bytes */
	assert_int_equal(multiboot_find(img, sizeof(img), &off, err, sizeof(err)), 0);
	memset(img, 0, sizeof(img));
	header(img + 102, 0, NULL); /* not 4-byte aligned */
	assert_int_equal(multiboot_find(img, sizeof(img), &off, err, sizeof(err)), 0);
	/* A bad one, then a good one: the good one counts. */
	memset(img, 0, sizeof(img));
	header(img + 8, 0, NULL);
	img[16] ^= 1;
	header(img + 64, 3, NULL);
	assert_int_equal(multiboot_find(img, sizeof(img), &off, err, sizeof(err)), 1);
	assert_int_equal(off, 64);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_elf32),
		cmocka_unit_test(test_elf64_and_virtual_entry),
		cmocka_unit_test(test_aout_kludge),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_find),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
