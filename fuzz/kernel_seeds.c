/*
 * kernel_seeds.c - writes the seed corpus of fuzz_kernel: small kernel images of every
 * format each loader takes (a vmlinux with a PVH note, bzImages entered in the guest or
 * unpacked on the host from gzip, xz, lzma and zstd, with a compressed initramfs, multiboot
 * ELF and a.out kludge with a module), built by tests/unit/kernel_images.h, each behind
 * fuzz_kernel's three option bytes.  `kernel_seeds DIR` (DIR is fuzz/corpus/kernel).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/multiboot.h"
#include "../tests/unit/kernel_images.h"

/* fuzz_kernel.c's options. */
#define OPT_HOST 0x01u
#define OPT_CMDLINE 0x02u
#define OPT_RAM_20M (1u << 2)
#define OPT_RAM_640K (3u << 2)
#define OPT_INITRD 0x10u
#define OPT_INITRD_NAME 0x20u
#define OPT_RSDP 0x40u

#define IMAGE_ADDR 0x100000u

static const char *dir;

static void put(const char *name, uint8_t opt, const uint8_t *image, size_t n,
		const uint8_t *initrd, size_t rd)
{
	char path[4096];
	uint8_t head[3] = { opt, (uint8_t)rd, (uint8_t)(rd >> 8) };

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(head, 1, 3, f) != 3 || fwrite(image, 1, n, f) != n ||
	    (rd && fwrite(initrd, 1, rd, f) != rd) || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* A small vmlinux: one PT_LOAD at 1 MiB (bss after its bytes), optionally a PVH note. */
static uint8_t *vmlinux(int pvh, size_t *n)
{
	uint8_t note[64], desc[4];

	put_le32(desc, IMAGE_ADDR + 0x10);
	size_t nl = test_note(note, "Xen", 18, desc, 4);
	struct test_seg segs[2] = {
		{ 1, IMAGE_ADDR, 0xffffffff81000000ull, 0x40, 0x2000, 0x90, NULL },
		{ 4, 0, 0, nl, nl, 0, note },
	};
	return test_elf(64, 62, 2, IMAGE_ADDR, segs, pvh ? 2 : 1, n);
}

/* A bzImage whose payload is `payload` (or none), small enough to fit 4 MiB. */
static uint8_t *bzimage(const uint8_t *payload, size_t len, size_t *n)
{
	struct test_bz b = test_bz_default();

	b.setup_sects = 1;
	b.pref_address = 0x200000;
	b.init_size = 0x20000;
	b.payload = payload;
	b.payload_size = len;
	b.pm_size = 0x100 + ((len + 0xff) & ~(size_t)0xff);
	return test_bzimage(&b, n);
}

typedef uint8_t *(*compressor)(const uint8_t *in, size_t n, size_t *out_n);

/* A bzImage whose payload is the small vmlinux packed by `pack`, unpacked on the host. */
static void host_bzimage(const char *name, compressor pack, uint8_t opt, const uint8_t *initrd,
			 size_t rd)
{
	size_t elf_n, packed_n, n;
	uint8_t *elf = vmlinux(1, &elf_n);
	uint8_t *packed = pack(elf, elf_n, &packed_n);
	uint8_t *bz = bzimage(packed, packed_n, &n);

	put(name, opt | OPT_HOST, bz, n, initrd, rd);
	free(bz);
	free(packed);
	free(elf);
}

/* One cpio "newc" header and a name, as an initramfs starts. */
static const char cpio[] = "070701000000010000000000000000000000000100000000000000000000000"
			   "0000000000000000000000000000000000000000b00000000init\0\0";

static void linux_seeds(void)
{
	size_t n, rd;
	uint8_t *d = vmlinux(1, &n);

	put("vmlinux-pvh", OPT_CMDLINE | OPT_RSDP | OPT_RAM_20M, d, n, NULL, 0);
	put("vmlinux-initrd", OPT_INITRD, d, n, (const uint8_t *)cpio, sizeof(cpio));
	free(d);
	d = bzimage(NULL, 0, &n);
	put("bzimage-guest", OPT_CMDLINE, d, n, NULL, 0);
	put("bzimage-640k", OPT_RAM_640K, d, n, NULL, 0);
	free(d);
	host_bzimage("bzimage-gzip", test_gzip, 0, NULL, 0);
	host_bzimage("bzimage-xz", test_xz, OPT_CMDLINE, NULL, 0);
	host_bzimage("bzimage-lzma", test_lzma_alone, 0, NULL, 0);
	host_bzimage("bzimage-zstd", test_zstd, 0, NULL, 0);
	uint8_t *packed = test_zstd((const uint8_t *)cpio, sizeof(cpio), &rd);
	host_bzimage("bzimage-gzip-initramfs-zstd", test_gzip, OPT_INITRD, packed, rd - 4);
	free(packed);
}

/* A multiboot header (3.1.1) at p with the a.out kludge's address fields. */
static void mb_header(uint8_t *p, uint32_t flags, uint32_t bss_end)
{
	put_le32(p, MULTIBOOT_HEADER_MAGIC);
	put_le32(p + 4, flags);
	put_le32(p + 8, (uint32_t)-(MULTIBOOT_HEADER_MAGIC + flags));
	put_le32(p + 12, IMAGE_ADDR);     /* header_addr: the image starts with it */
	put_le32(p + 16, IMAGE_ADDR);     /* load_addr */
	put_le32(p + 20, 0);              /* load_end_addr: the whole file */
	put_le32(p + 24, bss_end);
	put_le32(p + 28, IMAGE_ADDR + 32); /* entry_addr: just past the header */
}

static void multiboot_seeds(void)
{
	uint8_t kludge[128] = { 0 }, text[64] = { 0 };
	size_t n;

	mb_header(kludge, MULTIBOOT_PAGE_ALIGN | MULTIBOOT_MEMORY_INFO | MULTIBOOT_AOUT_KLUDGE,
		  IMAGE_ADDR + 0x1000);
	memset(kludge + 32, 0x90, sizeof(kludge) - 32);
	put("multiboot-kludge", OPT_CMDLINE | OPT_INITRD | OPT_INITRD_NAME, kludge,
	    sizeof(kludge), (const uint8_t *)cpio, sizeof(cpio));
	mb_header(text, MULTIBOOT_MEMORY_INFO, 0);
	struct test_seg seg = { 1, IMAGE_ADDR, IMAGE_ADDR, sizeof(text), 0x800, 0, text };
	uint8_t *d = test_elf(32, 3, 2, IMAGE_ADDR + 32, &seg, 1, &n);
	put("multiboot-elf32", OPT_CMDLINE, d, n, NULL, 0);
	free(d);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: kernel_seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	linux_seeds();
	multiboot_seeds();
	return 0;
}
