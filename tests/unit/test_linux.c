/*
 * test_linux.c - the Linux loaders: a synthetic bzImage entered at its 64-bit entry, the
 * same with its payload (a small vmlinux, gzip / xz / lzma / zstd) unpacked on the host, a
 * bare vmlinux ELF64; every zero-page field they fill, the entry state, where the kernel,
 * command line and initrd land; every refusal, with guest memory left untouched.
 *
 * With MPVMM_TEST_VMLINUZ naming a real bzImage (scripts/linux-guest.sh), also parses it,
 * unpacks its vmlinux and loads it; otherwise that case is skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boot/decompress.h"
#include "boot/e820.h"
#include "boot/elf.h"
#include "boot/layout.h"
#include "boot/linux.h"
#include "kernel_images.h"
#include "skip_reason.h"
#include "x86/longmode.h"

#define RAM (64u << 20)

struct fixture {
	struct guest_mem m;
	struct boot_entry e;
	struct kernel_info info;
	struct kernel_params p;
	char err[256];
};

static struct fixture *setup_ram(uint64_t size)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[128];

	assert_non_null(f);
	if (guest_mem_init(&f->m, size, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	f->e.protocol = "reset";
	return f;
}

static void teardown(struct fixture *f, uint8_t *image)
{
	guest_mem_free(&f->m);
	free(f);
	free(image);
}

static uint8_t *gp(struct fixture *f, uint64_t gpa, uint64_t len)
{
	uint8_t *p = guest_mem_ptr(&f->m, gpa, len);
	assert_non_null(p);
	return p;
}

static const uint8_t *bp(struct fixture *f)
{
	return gp(f, LAYOUT_BOOT_INFO, LINUX_BP_SIZE);
}

/* Nothing written: every byte of guest RAM is still zero and the entry is unchanged. */
static void assert_untouched(struct fixture *f)
{
	for (unsigned i = 0; i < f->m.nregions; i++) {
		const uint8_t *p = f->m.regions[i].hva;
		for (uint64_t j = 0; j < f->m.regions[i].size; j++)
			if (p[j])
				fail_msg("guest byte 0x%llx written by a refused load",
					 (unsigned long long)(f->m.regions[i].gpa + j));
	}
	assert_string_equal(f->e.protocol, "reset");
}

static void assert_entry64(struct fixture *f, uint64_t rip)
{
	const struct x86_sregs *s = &f->e.sregs;
	const uint8_t *gdt = gp(f, LAYOUT_GDT, 32);

	assert_int_equal(f->e.regs.rip, rip);
	assert_int_equal(f->e.regs.rsi, LAYOUT_BOOT_INFO);
	assert_int_equal(f->e.regs.rflags, 0x2); /* IF clear */
	assert_int_equal(s->cs.selector, 0x10);  /* __BOOT_CS */
	assert_int_equal(s->cs.l, 1);
	assert_int_equal(s->ds.selector, 0x18);  /* __BOOT_DS */
	assert_int_equal(s->es.selector, 0x18);
	assert_int_equal(s->ss.selector, 0x18);
	assert_true(s->cr0 & X86_CR0_PG && s->cr0 & X86_CR0_PE);
	assert_true(s->cr4 & X86_CR4_PAE);
	assert_true(s->efer & X86_EFER_LMA && s->efer & X86_EFER_LME);
	assert_int_equal(s->cr3, LAYOUT_PML4);
	assert_int_equal(s->gdt.base, LAYOUT_GDT);
	/* The descriptors behind the selectors: 0x10 64-bit code (L), 0x18 writable data. */
	assert_int_equal(le64(gdt + 0x10), 0x00af9b000000ffffull);
	assert_int_equal(le64(gdt + 0x18), 0x00cf93000000ffffull);
	/* Identity map: PML4[0] -> PDPT, PD entry 8 maps 16 MiB with a 2 MiB page. */
	const uint8_t *pml4 = gp(f, LAYOUT_PML4, 0x1000);
	uint64_t pdpt = le64(pml4) & ~0xfffull;
	uint64_t pd = le64(gp(f, pdpt, 8)) & ~0xfffull;
	assert_int_equal(le64(gp(f, pd + 8 * 8, 8)) & ~0xfffull, 0x1000000);
}

/* The four-entry PC map of a 64 MiB guest. */
static void assert_e820(struct fixture *f)
{
	const uint8_t *b = bp(f);
	static const uint64_t want[][3] = {
		{ 0, 0x9fc00, 1 }, { 0x9fc00, 0x400, 2 }, { 0xe0000, 0x20000, 2 },
		{ 0x100000, RAM - 0x100000, 1 },
	};

	assert_int_equal(b[LINUX_BP_E820_ENTRIES], 4);
	for (int i = 0; i < 4; i++) {
		const uint8_t *t = b + LINUX_BP_E820_TABLE + i * 20;
		assert_int_equal(le64(t), want[i][0]);
		assert_int_equal(le64(t + 8), want[i][1]);
		assert_int_equal(le32(t + 16), want[i][2]);
	}
	assert_int_equal(le32(b + LINUX_BP_ALT_MEM_K), (RAM - 0x100000) >> 10);
}

/* What the loader writes into the zero page in every path. */
static void assert_loader_fields(struct fixture *f, const char *cmdline, uint64_t rd,
				 uint64_t rdsize)
{
	const uint8_t *b = bp(f);

	assert_int_equal(b[LINUX_HDR_TYPE_OF_LOADER], 0xff);
	assert_true(b[LINUX_HDR_LOADFLAGS] & LINUX_CAN_USE_HEAP);
	assert_true(b[LINUX_HDR_LOADFLAGS] & LINUX_LOADED_HIGH);
	assert_int_equal(le16(b + LINUX_HDR_HEAP_END_PTR), 0xe000 - 0x200);
	assert_int_equal(le16(b + LINUX_HDR_VID_MODE), 0xffff);
	assert_int_equal(le32(b + LINUX_HDR_CMD_LINE_PTR), LAYOUT_CMDLINE);
	assert_int_equal(le32(b + LINUX_BP_EXT_CMD_LINE_PTR), 0);
	assert_string_equal((const char *)gp(f, LAYOUT_CMDLINE, strlen(cmdline) + 1), cmdline);
	assert_int_equal(le32(b + LINUX_HDR_RAMDISK_IMAGE), rd);
	assert_int_equal(le32(b + LINUX_HDR_RAMDISK_SIZE), rdsize);
	assert_int_equal(le32(b + LINUX_BP_EXT_RAMDISK_IMAGE), 0);
	assert_int_equal(le32(b + LINUX_BP_EXT_RAMDISK_SIZE), 0);
	assert_int_equal(le32(b + LINUX_HDR_HARDWARE_SUBARCH), 0);
	assert_int_equal(le64(b + LINUX_HDR_SETUP_DATA), 0);
	assert_int_equal(b[LINUX_BP_SENTINEL], 0);
	assert_e820(f);
}

static uint8_t initrd_bytes[5000];

static void fill_initrd(void)
{
	for (size_t i = 0; i < sizeof(initrd_bytes); i++)
		initrd_bytes[i] = (uint8_t)(i * 13 + 1);
}

static void set_params(struct fixture *f, const uint8_t *img, size_t n, const char *cmdline,
		       int with_initrd)
{
	fill_initrd();
	f->p = (struct kernel_params){
		.image = img, .image_size = n, .cmdline = cmdline,
		.initrd = with_initrd ? initrd_bytes : NULL,
		.initrd_size = with_initrd ? sizeof(initrd_bytes) : 0,
		.acpi_rsdp = 0xe0000,
	};
}

static int load_bz(struct fixture *f)
{
	return linux_load_bzimage(&f->m, &f->p, &f->e, &f->info, f->err, sizeof(f->err));
}

static void test_bzimage_guest(void **state)
{
	struct fixture *f = setup_ram(RAM);
	struct test_bz b = test_bz_default();
	size_t n;
	uint8_t *img = test_bzimage(&b, &n);

	(void)state;
	put_le32(img + 0x268, 0x77777777); /* just past the setup header */
	/* Firmware tables vm.c wrote before: the loader must leave them as they are. */
	memset(gp(f, 0xe0000, 0x20000), 0x5a, 0x20000);
	memset(gp(f, LAYOUT_EBDA, 0x400), 0x6b, 0x400);
	set_params(f, img, n, "console=ttyS0 quiet", 1);
	if (load_bz(f) < 0)
		fail_msg("%s", f->err);
	assert_entry64(f, 0x1000000 + 0x200);
	assert_int_equal(memcmp(gp(f, 0x1000000, b.pm_size), img + 5 * 512, b.pm_size), 0);

	const uint8_t *z = bp(f);
	/* The setup header is a copy of the image's, from 0x1f1 to its end (0x268), but
	 * for the fields a loader writes. */
	assert_int_equal(memcmp(z + 0x1f1, img + 0x1f1, LINUX_HDR_VID_MODE - 0x1f1), 0);
	assert_int_equal(memcmp(z + 0x1fc, img + 0x1fc, LINUX_HDR_TYPE_OF_LOADER - 0x1fc), 0);
	assert_int_equal(memcmp(z + 0x22c, img + 0x22c, 0x250 - 0x22c), 0);
	assert_int_equal(memcmp(z + 0x258, img + 0x258, 0x268 - 0x258), 0);
	assert_int_equal(le32(z + 0x268), 0); /* past the header: not copied */
	assert_int_equal(le16(z + LINUX_HDR_VERSION), 0x020f);
	assert_int_equal(le64(z + LINUX_HDR_PREF_ADDRESS), 0x1000000);
	assert_int_equal(le32(z + LINUX_HDR_INIT_SIZE), 0x800000);
	assert_int_equal(le32(z + LINUX_HDR_KERNEL_ALIGNMENT), 0x200000);
	assert_int_equal(le32(z + LINUX_HDR_CODE32_START), 0x1000000);
	assert_int_equal(le64(z + LINUX_BP_ACPI_RSDP_ADDR), 0xe0000);

	/* The initrd: page aligned, as high as RAM allows, above the kernel's init_size. */
	uint64_t rd = (RAM - sizeof(initrd_bytes)) & ~0xfffull;
	assert_loader_fields(f, "console=ttyS0 quiet", rd, sizeof(initrd_bytes));
	assert_int_equal(memcmp(gp(f, rd, sizeof(initrd_bytes)), initrd_bytes,
				sizeof(initrd_bytes)), 0);
	assert_int_equal(f->info.format, KERNEL_FORMAT_BZIMAGE);
	assert_int_equal(f->info.kernel_start, 0x1000000);
	assert_int_equal(f->info.kernel_end, 0x1000000 + 0x800000);
	assert_int_equal(f->info.initrd_addr, rd);
	assert_int_equal(f->info.protocol_version, 0x020f);
	assert_non_null(strstr(f->e.protocol, "bzImage"));

	for (unsigned i = 0; i < 0x20000; i++)
		assert_int_equal(gp(f, 0xe0000, 0x20000)[i], 0x5a);
	for (unsigned i = 0; i < 0x400; i++)
		assert_int_equal(gp(f, LAYOUT_EBDA, 0x400)[i], 0x6b);
	teardown(f, img);
}

static void test_bzimage_setup_sects_zero(void **state)
{
	struct fixture *f = setup_ram(RAM);
	struct test_bz b = test_bz_default();
	size_t n;
	uint8_t *img;

	(void)state;
	b.setup_sects = 0; /* means 4: the protected-mode part starts at 5 * 512 */
	img = test_bzimage(&b, &n);
	set_params(f, img, n, "", 0);
	if (load_bz(f) < 0)
		fail_msg("%s", f->err);
	assert_int_equal(memcmp(gp(f, 0x1000000, b.pm_size), img + 5 * 512, b.pm_size), 0);
	assert_loader_fields(f, "", 0, 0);
	assert_int_equal(f->info.initrd_addr, 0);
	teardown(f, img);
}

static void test_bzimage_load_address(void **state)
{
	struct test_bz b = test_bz_default();
	size_t n;
	uint8_t *img;
	struct fixture *f;

	(void)state;
	/* Relocatable: pref_address rounded up to kernel_alignment. */
	f = setup_ram(RAM);
	b.pref_address = 0x1100000;
	img = test_bzimage(&b, &n);
	set_params(f, img, n, "", 0);
	assert_int_equal(load_bz(f), 0);
	assert_int_equal(f->e.regs.rip, 0x1200000 + 0x200);
	assert_int_equal(le32(bp(f) + LINUX_HDR_CODE32_START), 0x1200000);
	teardown(f, img);

	/* Not relocatable: exactly at pref_address. */
	f = setup_ram(RAM);
	b.relocatable = 0;
	img = test_bzimage(&b, &n);
	set_params(f, img, n, "", 0);
	assert_int_equal(load_bz(f), 0);
	assert_int_equal(f->e.regs.rip, 0x1100000 + 0x200);
	assert_int_equal(gp(f, 0x1100000, 1)[7], (uint8_t)(7 * 7));
	teardown(f, img);
}

static void test_bzimage_initrd_addr_max(void **state)
{
	struct fixture *f = setup_ram(RAM);
	struct test_bz b = test_bz_default();
	size_t n;
	uint8_t *img;

	(void)state;
	b.initrd_addr_max = 0x2000000 - 1; /* 32 MiB: below the 64 MiB of RAM */
	img = test_bzimage(&b, &n);
	set_params(f, img, n, "", 1);
	if (load_bz(f) < 0)
		fail_msg("%s", f->err);
	uint64_t rd = (0x2000000 - sizeof(initrd_bytes)) & ~0xfffull;
	assert_int_equal(le32(bp(f) + LINUX_HDR_RAMDISK_IMAGE), rd);
	assert_int_equal(memcmp(gp(f, rd, sizeof(initrd_bytes)), initrd_bytes,
				sizeof(initrd_bytes)), 0);
	teardown(f, img);
}

typedef uint8_t *(*compressor)(const uint8_t *, size_t, size_t *);

/* The vmlinux inside the payload is what runs: entry at its e_entry, segment and bss. */
static void host_case(compressor c, const char *name)
{
	struct fixture *f = setup_ram(RAM);
	struct test_bz b = test_bz_default();
	size_t elf_n, z_n, n;
	uint8_t *elf = test_vmlinux(1, &elf_n);
	uint8_t *z = c(elf, elf_n, &z_n);
	uint8_t *img;

	b.payload = z;
	b.payload_size = z_n;
	b.pm_size = (0x100 + z_n + 15) & ~(size_t)15;
	img = test_bzimage(&b, &n);
	set_params(f, img, n, "root=/dev/ram0", 1);
	f->p.decompress = KERNEL_DECOMPRESS_HOST;
	memset(gp(f, 0x1003000, 0x2000), 0xaa, 0x2000); /* the bss must come back zeroed */
	if (load_bz(f) < 0)
		fail_msg("%s: %s", name, f->err);
	assert_entry64(f, TEST_VMLINUX_ADDR);
	assert_string_equal(f->info.compression, name);
	for (unsigned i = 0; i < 0x3000; i++)
		assert_int_equal(gp(f, 0x1000000, 0x3000)[i], (uint8_t)(0x40 + i));
	for (unsigned i = 0; i < 0x2000; i++)
		assert_int_equal(gp(f, 0x1003000, 0x2000)[i], 0);
	assert_true(f->info.has_pvh);
	assert_int_equal(f->info.pvh_entry, 0x1000100);
	assert_int_equal(f->info.kernel_end, 0x1005000);
	/* The zero page is the bzImage's header plus the loader's fields. */
	assert_int_equal(le32(bp(f) + LINUX_HDR_INIT_SIZE), 0x800000);
	uint64_t rd = (RAM - sizeof(initrd_bytes)) & ~0xfffull;
	assert_loader_fields(f, "root=/dev/ram0", rd, sizeof(initrd_bytes));
	assert_non_null(strstr(f->e.protocol, "vmlinux"));
	/* The guest path of the same image still enters the bzImage itself. */
	free(z);
	free(elf);
	teardown(f, img);
}

static void test_bzimage_host_gzip(void **state)
{
	(void)state;
	host_case(test_gzip, "gzip");
}

static void test_bzimage_host_xz(void **state)
{
	(void)state;
	host_case(test_xz, "xz");
}

static void test_bzimage_host_lzma(void **state)
{
	(void)state;
	host_case(test_lzma_alone, "lzma");
}

static void test_bzimage_host_zstd(void **state)
{
	(void)state;
	host_case(test_zstd, "zstd");
}

/* A load that must fail, with `what` in the message and nothing written. */
static void expect_refused(struct fixture *f, int r, const char *what)
{
	assert_int_equal(r, -1);
	if (!strstr(f->err, what))
		fail_msg("error \"%s\" does not mention \"%s\"", f->err, what);
	assert_null(strchr(f->err, '\n'));
	assert_untouched(f);
}

static void refuse_bz(const struct test_bz *b, size_t cut, void (*patch)(uint8_t *),
		      const char *cmdline, size_t initrd_size, enum kernel_decompress dec,
		      const char *what)
{
	struct fixture *f = setup_ram(RAM);
	size_t n;
	uint8_t *img = test_bzimage(b, &n);
	uint8_t *big = NULL;

	if (patch)
		patch(img);
	set_params(f, img, n - cut, cmdline, 0);
	if (initrd_size) {
		big = calloc(1, initrd_size);
		f->p.initrd = big;
		f->p.initrd_size = initrd_size;
	}
	f->p.decompress = dec;
	expect_refused(f, load_bz(f), what);
	free(big);
	teardown(f, img);
}

static void bad_boot_flag(uint8_t *d)
{
	d[0x1fe] = 0;
}

static void bad_hdrs(uint8_t *d)
{
	d[0x205] = 'x';
}

static void short_header(uint8_t *d)
{
	d[0x201] = 0x20; /* header ends at 0x222: before the 2.12 fields */
}

static void test_bzimage_refusals(void **state)
{
	struct test_bz b = test_bz_default();
	char longline[3000];

	(void)state;
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = 0;
	refuse_bz(&b, 1, NULL, "", 0, KERNEL_DECOMPRESS_GUEST, "truncated");
	refuse_bz(&b, b.pm_size + 5 * 512 - 0x240, NULL, "", 0, KERNEL_DECOMPRESS_GUEST,
		  "truncated");
	refuse_bz(&b, 0, bad_boot_flag, "", 0, KERNEL_DECOMPRESS_GUEST, "not a bzImage");
	refuse_bz(&b, 0, bad_hdrs, "", 0, KERNEL_DECOMPRESS_GUEST, "not a bzImage");
	refuse_bz(&b, 0, short_header, "", 0, KERNEL_DECOMPRESS_GUEST, "2.12");
	refuse_bz(&b, 0, NULL, longline, 0, KERNEL_DECOMPRESS_GUEST, "command line");
	refuse_bz(&b, 0, NULL, "", RAM, KERNEL_DECOMPRESS_GUEST, "initrd");
	/* The initrd must stay above the kernel's init_size: 56 MiB does not fit in 64. */
	refuse_bz(&b, 0, NULL, "", 56u << 20, KERNEL_DECOMPRESS_GUEST, "does not fit");

	struct test_bz t = b;
	t.version = 0x020b;
	refuse_bz(&t, 0, NULL, "", 0, KERNEL_DECOMPRESS_GUEST, "too old");
	t = b;
	t.xloadflags = 0;
	refuse_bz(&t, 0, NULL, "", 0, KERNEL_DECOMPRESS_GUEST, "XLF_KERNEL_64");
	t = b;
	t.kernel_alignment = 0x300000;
	refuse_bz(&t, 0, NULL, "", 0, KERNEL_DECOMPRESS_GUEST, "power of two");
	t = b;
	t.init_size = RAM; /* 16 MiB + 64 MiB > RAM */
	refuse_bz(&t, 0, NULL, "", 0, KERNEL_DECOMPRESS_GUEST, "needs guest RAM");
	t = b;
	t.cmdline_size = 10;
	refuse_bz(&t, 0, NULL, "0123456789a", 0, KERNEL_DECOMPRESS_GUEST, "command line");
	/* Host path: the payload must be inside the image and in a supported format. */
	t = b;
	t.payload = (const uint8_t *)"BZh91AY&SY";
	t.payload_size = 10;
	refuse_bz(&t, 0, NULL, "", 0, KERNEL_DECOMPRESS_HOST, "bzip2");
	t.payload = (const uint8_t *)"\x11\x22\x33\x44\x55\x66";
	t.payload_size = 6;
	refuse_bz(&t, 0, NULL, "", 0, KERNEL_DECOMPRESS_HOST, "not supported");
	t.payload_size = 0x8000; /* past the protected-mode part */
	t.payload = NULL;
	refuse_bz(&t, 0, NULL, "", 0, KERNEL_DECOMPRESS_HOST, "payload");
}

static void test_bzimage_cmdline_at_limit(void **state)
{
	struct fixture *f = setup_ram(RAM);
	struct test_bz b = test_bz_default();
	size_t n;
	uint8_t *img;

	(void)state;
	b.cmdline_size = 10; /* without the NUL */
	img = test_bzimage(&b, &n);
	set_params(f, img, n, "0123456789", 0);
	assert_int_equal(load_bz(f), 0);
	assert_string_equal((char *)gp(f, LAYOUT_CMDLINE, 11), "0123456789");
	teardown(f, img);
}

static void test_bzimage_host_corrupt(void **state)
{
	struct test_bz b = test_bz_default();
	size_t elf_n, z_n;
	uint8_t *elf = test_vmlinux(0, &elf_n);
	uint8_t *z = test_xz(elf, elf_n, &z_n);

	(void)state;
	z[z_n / 2] ^= 0xff;
	b.payload = z;
	b.payload_size = z_n;
	b.pm_size = (0x100 + z_n + 15) & ~(size_t)15;
	refuse_bz(&b, 0, NULL, "", 0, KERNEL_DECOMPRESS_HOST, "xz");
	/* Truncated stream (the size trailer kept). */
	z[z_n / 2] ^= 0xff;
	memmove(z + z_n / 2, z + z_n - 4, 4);
	b.payload_size = z_n / 2 + 4;
	refuse_bz(&b, 0, NULL, "", 0, KERNEL_DECOMPRESS_HOST, "xz");
	/* A payload that is not an x86-64 ELF. */
	put_le16(elf + 18, 183); /* EM_AARCH64 */
	free(z);
	z = test_gzip(elf, elf_n, &z_n);
	b.payload = z;
	b.payload_size = z_n;
	b.pm_size = (0x100 + z_n + 15) & ~(size_t)15;
	refuse_bz(&b, 0, NULL, "", 0, KERNEL_DECOMPRESS_HOST, "x86-64");
	free(z);
	free(elf);
}

/*
 * What a stream claims for itself never outgrows the caller's limit (the guest's RAM): an
 * lzma header asking for a 4 GiB dictionary is refused before it is allocated, and output
 * past the limit is refused; within it the same streams unpack.  (Fuzzing found both.)
 */
static void test_decompress_limits(void **state)
{
	size_t n, z_n, out_n;
	uint8_t *big = calloc(1, 2u << 20), *out = NULL, *z;
	char err[200] = "";

	(void)state;
	assert_non_null(big);
	big[12345] = 1;
	z = test_lzma_alone(big, 2u << 20, &z_n);
	n = z_n;
	assert_int_equal(decompress(z, n, 0, 4u << 20, &out, &out_n, err, sizeof(err)), 0);
	assert_int_equal(out_n, 2u << 20);
	assert_memory_equal(out, big, 2u << 20);
	free(out);
	/* Output past the limit. */
	assert_int_equal(decompress(z, n, 0, 1u << 20, &out, &out_n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "exceeds 1 MiB"));
	/* The header's dictionary size (bytes 1-4) raised to ~4 GiB (byte 1 stays 0: the
	 * magic "5d 00" that decompress_detect knows lzma by). */
	put_le32(z + 1, 0xffffff00u);
	assert_int_equal(decompress(z, n, 0, 16u << 20, &out, &out_n, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "dictionary"));
	/* A size hint past the limit is not taken as an allocation. */
	free(z);
	z = test_gzip(big, 2u << 20, &z_n);
	assert_int_equal(decompress(z, z_n, (size_t)1 << 40, 4u << 20, &out, &out_n, err,
				    sizeof(err)), 0);
	assert_int_equal(out_n, 2u << 20);
	free(out);
	free(z);
	free(big);
}

static void test_vmlinux_boot(void **state)
{
	struct fixture *f = setup_ram(RAM);
	size_t n;
	uint8_t *img = test_vmlinux(1, &n);

	(void)state;
	set_params(f, img, n, "console=ttyS0", 1);
	if (linux_load_vmlinux(&f->m, &f->p, &f->e, &f->info, f->err, sizeof(f->err)) < 0)
		fail_msg("%s", f->err);
	assert_entry64(f, TEST_VMLINUX_ADDR);
	assert_int_equal(f->info.format, KERNEL_FORMAT_VMLINUX);
	assert_true(f->info.has_pvh);
	assert_int_equal(f->info.pvh_entry, 0x1000100);
	assert_int_equal(gp(f, 0x1000000, 1)[0], 0x40);
	/* A setup header made from nothing: what the kernel reads of it. */
	const uint8_t *z = bp(f);
	assert_int_equal(le16(z + LINUX_HDR_BOOT_FLAG), 0xaa55);
	assert_int_equal(le32(z + LINUX_HDR_HEADER), LINUX_HDRS_MAGIC);
	assert_int_equal(le16(z + LINUX_HDR_VERSION), LINUX_VMLINUX_VERSION);
	assert_int_equal(le32(z + LINUX_HDR_CMDLINE_SIZE), 2047);
	assert_int_equal(le32(z + LINUX_HDR_KERNEL_ALIGNMENT), 0x200000);
	uint64_t rd = (RAM - sizeof(initrd_bytes)) & ~0xfffull;
	assert_loader_fields(f, "console=ttyS0", rd, sizeof(initrd_bytes));
	teardown(f, img);
}

static void refuse_vmlinux(uint8_t *img, size_t n, uint64_t ram, const char *what)
{
	struct fixture *f = setup_ram(ram);

	set_params(f, img, n, "", 0);
	expect_refused(f, linux_load_vmlinux(&f->m, &f->p, &f->e, &f->info, f->err,
					     sizeof(f->err)), what);
	teardown(f, img);
}

static void test_vmlinux_refusals(void **state)
{
	size_t n;
	uint8_t *img;
	char longline[2100];

	(void)state;
	img = test_vmlinux(0, &n);
	put_le16(img + 18, 3); /* EM_386 */
	refuse_vmlinux(img, n, RAM, "x86-64");
	img = test_vmlinux(0, &n);
	put_le64(img + 24, 0xffffffff81000000ull); /* a virtual entry */
	refuse_vmlinux(img, n, RAM, "entry");
	img = test_vmlinux(0, &n);
	refuse_vmlinux(img, n, 16u << 20, "not in guest RAM"); /* 16 MiB: segment past RAM */
	struct test_seg low = { 1, 0x8000, 0x8000, 0x100, 0x100, 1, NULL };
	img = test_elf(64, 62, 2, 0x8000, &low, 1, &n);
	refuse_vmlinux(img, n, RAM, "not in guest RAM"); /* below 1 MiB: the loader's area */
	img = test_vmlinux(0, &n);
	refuse_vmlinux(img, n - 1, RAM, "past the end of the file");

	struct fixture *f = setup_ram(RAM);
	img = test_vmlinux(0, &n);
	memset(longline, 'x', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = 0;
	set_params(f, img, n, longline, 0);
	expect_refused(f, linux_load_vmlinux(&f->m, &f->p, &f->e, &f->info, f->err,
					     sizeof(f->err)), "command line");
	teardown(f, img);
}

/* The real Debian kernel, when the environment names one. */
static void test_real_vmlinuz(void **state)
{
	const char *path = getenv("MPVMM_TEST_VMLINUZ");
	uint8_t *img = NULL, *elf = NULL;
	size_t n, elf_n;
	const char *fmt;
	struct elf_image ei;
	char err[256];

	(void)state;
	if (!path || !*path)
		skip_because("MPVMM_TEST_VMLINUZ names no Debian kernel image (the slow tier sets it)");
	if (kernel_read_file(path, &img, &n, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(kernel_detect(img, n), KERNEL_FORMAT_BZIMAGE);
	if (linux_extract_vmlinux(img, n, 0, &elf, &elf_n, &fmt, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	if (elf_parse(elf, elf_n, &ei, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(ei.bits, 64);
	assert_int_equal(ei.machine, ELF_EM_X86_64);
	assert_int_equal(ei.entry, le64(img + LINUX_HDR_PREF_ADDRESS)); /* startup_64 */
	print_message("# %s: protocol %x, %s payload, vmlinux %zu bytes, 0x%llx-0x%llx\n", path,
		      le16(img + LINUX_HDR_VERSION), fmt, elf_n, (unsigned long long)ei.lo,
		      (unsigned long long)ei.hi);
	free(elf);

	/* Both paths load it into 512 MiB. */
	for (int dec = 0; dec < 2; dec++) {
		struct fixture *f = setup_ram(512u << 20);
		set_params(f, img, n, "console=ttyS0", 1);
		f->p.decompress = dec ? KERNEL_DECOMPRESS_HOST : KERNEL_DECOMPRESS_GUEST;
		if (load_bz(f) < 0)
			fail_msg("%s", f->err);
		assert_entry64(f, dec ? ei.entry : le64(img + LINUX_HDR_PREF_ADDRESS) + 0x200);
		assert_true(f->info.initrd_addr >= f->info.kernel_end);
		print_message("# %s: kernel 0x%llx-0x%llx, pvh %d\n", f->e.protocol,
			      (unsigned long long)f->info.kernel_start,
			      (unsigned long long)f->info.kernel_end, f->info.has_pvh);
		guest_mem_free(&f->m);
		free(f);
	}
	free(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bzimage_guest),
		cmocka_unit_test(test_bzimage_setup_sects_zero),
		cmocka_unit_test(test_bzimage_load_address),
		cmocka_unit_test(test_bzimage_initrd_addr_max),
		cmocka_unit_test(test_bzimage_host_gzip),
		cmocka_unit_test(test_bzimage_host_xz),
		cmocka_unit_test(test_bzimage_host_lzma),
		cmocka_unit_test(test_bzimage_host_zstd),
		cmocka_unit_test(test_bzimage_host_corrupt),
		cmocka_unit_test(test_bzimage_refusals),
		cmocka_unit_test(test_bzimage_cmdline_at_limit),
		cmocka_unit_test(test_vmlinux_boot),
		cmocka_unit_test(test_vmlinux_refusals),
		cmocka_unit_test(test_real_vmlinuz),
		cmocka_unit_test(test_decompress_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
