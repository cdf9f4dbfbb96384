/*
 * test_kernel.c - `--kernel FILE`: the format recognised from the bytes (bzImage, ELF64
 * vmlinux, multiboot ELF or a.out kludge, unknown), kernel_load dispatching to the right
 * loader and leaving the entry state and guest memory alone when it refuses, and
 * kernel_read_file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "boot/kernel.h"
#include "boot/layout.h"
#include "kernel_images.h"

static uint8_t *multiboot_elf(size_t *n)
{
	uint8_t text[64] = { 0 };
	struct test_seg seg = { 1, 0x100000, 0x100000, sizeof(text), sizeof(text), 0, text };

	put_le32(text, 0x1badb002);
	put_le32(text + 8, (uint32_t)-0x1badb002);
	return test_elf(32, 3, 2, 0x100000, &seg, 1, n);
}

static void test_detect(void **state)
{
	struct test_bz b = test_bz_default();
	size_t n;
	uint8_t *d;

	(void)state;
	d = test_bzimage(&b, &n);
	assert_int_equal(kernel_detect(d, n), KERNEL_FORMAT_BZIMAGE);
	free(d);
	d = test_vmlinux(0, &n);
	assert_int_equal(kernel_detect(d, n), KERNEL_FORMAT_VMLINUX);
	free(d);
	d = multiboot_elf(&n);
	assert_int_equal(kernel_detect(d, n), KERNEL_FORMAT_MULTIBOOT);
	/* A bad checksum is still multiboot: its loader says what is wrong. */
	d[0x1008] ^= 1;
	assert_int_equal(kernel_detect(d, n), KERNEL_FORMAT_MULTIBOOT);
	d[0x1000] = 0;
	assert_int_equal(kernel_detect(d, n), KERNEL_FORMAT_UNKNOWN); /* ELF32, no header */
	free(d);
	assert_int_equal(kernel_detect((const uint8_t *)"hello", 5), KERNEL_FORMAT_UNKNOWN);
	assert_int_equal(kernel_detect(NULL, 0), KERNEL_FORMAT_UNKNOWN);
	assert_string_equal(kernel_format_name(KERNEL_FORMAT_BZIMAGE), "bzImage");
	assert_string_equal(kernel_format_name(KERNEL_FORMAT_UNKNOWN), "unknown");
}

static void load_one(const uint8_t *d, size_t n, enum kernel_format want, uint64_t rip,
		     const char *protocol)
{
	struct guest_mem m;
	struct boot_entry e = { .protocol = "reset" };
	struct kernel_info info;
	struct kernel_params p = { .image = d, .image_size = n, .cmdline = "a=b" };
	char err[256];

	assert_int_equal(guest_mem_init(&m, 64u << 20, err, sizeof(err)), 0);
	if (kernel_load(&m, &p, &e, &info, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(info.format, want);
	assert_int_equal(e.regs.rip, rip);
	assert_non_null(strstr(e.protocol, protocol));
	assert_string_equal((char *)guest_mem_ptr(&m, info.cmdline, 4), "a=b");
	/* info may be NULL */
	assert_int_equal(kernel_load(&m, &p, &e, NULL, err, sizeof(err)), 0);
	guest_mem_free(&m);
}

static void test_dispatch(void **state)
{
	struct test_bz b = test_bz_default();
	size_t n;
	uint8_t *d;

	(void)state;
	d = test_bzimage(&b, &n);
	load_one(d, n, KERNEL_FORMAT_BZIMAGE, 0x1000200, "bzImage");
	free(d);
	d = test_vmlinux(0, &n);
	load_one(d, n, KERNEL_FORMAT_VMLINUX, TEST_VMLINUX_ADDR, "vmlinux");
	free(d);
	d = multiboot_elf(&n);
	load_one(d, n, KERNEL_FORMAT_MULTIBOOT, 0x100000, "multiboot");
	free(d);
}

/* Load with this initrd; the bytes the guest finds at boot_params' initrd address. */
static uint8_t *initrd_seen(const uint8_t *k, size_t kn, const uint8_t *rd, size_t rdn,
			    enum kernel_decompress where, size_t *seen, const char **format)
{
	struct guest_mem m;
	struct boot_entry e = { .protocol = "reset" };
	struct kernel_info info;
	struct kernel_params p = { .image = k, .image_size = kn, .initrd = rd,
				   .initrd_size = rdn, .decompress = where };
	char err[256];

	assert_int_equal(guest_mem_init(&m, 64u << 20, err, sizeof(err)), 0);
	if (kernel_load(&m, &p, &e, &info, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	uint8_t *copy = malloc(info.initrd_size);
	assert_non_null(copy);
	memcpy(copy, guest_mem_ptr(&m, info.initrd_addr, info.initrd_size), info.initrd_size);
	*seen = info.initrd_size;
	*format = info.initrd_compression;
	guest_mem_free(&m);
	return copy;
}

/* With host decompression a Linux initramfs that is one compressed archive is unpacked
 * (zero padding after it allowed); anything else, and every multiboot module, as it is. */
static void test_initramfs_unpacked_on_host(void **state)
{
	uint8_t cpio[3000], *gz, *seen, *mb;
	size_t kn, gzn, mbn, n;
	const char *format;

	(void)state;
	for (size_t i = 0; i < sizeof(cpio); i++)
		cpio[i] = (uint8_t)(i * 7 + 1);
	memcpy(cpio, "070701", 6);
	uint8_t *k = test_vmlinux(0, &kn);
	gz = test_gzip(cpio, sizeof(cpio), &gzn);
	gz = realloc(gz, gzn + 16);
	assert_non_null(gz);
	memset(gz + gzn, 0, 16);

	seen = initrd_seen(k, kn, gz, gzn + 16, KERNEL_DECOMPRESS_HOST, &n, &format);
	assert_int_equal(n, sizeof(cpio));
	assert_memory_equal(seen, cpio, sizeof(cpio));
	assert_string_equal(format, "gzip");
	free(seen);
	/* Decompressed in the guest: as it is. */
	seen = initrd_seen(k, kn, gz, gzn, KERNEL_DECOMPRESS_GUEST, &n, &format);
	assert_int_equal(n, gzn);
	assert_memory_equal(seen, gz, gzn);
	assert_null(format);
	free(seen);
	/* A second archive after the stream: as it is (the kernel unpacks both). */
	gz[gzn + 8] = '0';
	seen = initrd_seen(k, kn, gz, gzn + 16, KERNEL_DECOMPRESS_HOST, &n, &format);
	assert_int_equal(n, gzn + 16);
	assert_null(format);
	free(seen);
	/* Not compressed, or corrupt: as it is. */
	seen = initrd_seen(k, kn, cpio, sizeof(cpio), KERNEL_DECOMPRESS_HOST, &n, &format);
	assert_int_equal(n, sizeof(cpio));
	assert_null(format);
	free(seen);
	gz[gzn / 2] ^= 0xff;
	seen = initrd_seen(k, kn, gz, gzn, KERNEL_DECOMPRESS_HOST, &n, &format);
	assert_int_equal(n, gzn);
	assert_memory_equal(seen, gz, gzn);
	assert_null(format);
	free(seen);
	gz[gzn / 2] ^= 0xff;
	/* A multiboot module is the kernel's business: as it is. */
	mb = multiboot_elf(&mbn);
	seen = initrd_seen(mb, mbn, gz, gzn, KERNEL_DECOMPRESS_HOST, &n, &format);
	assert_int_equal(n, gzn);
	assert_null(format);
	free(seen);
	free(mb);
	free(gz);
	free(k);
}

static void refused(const uint8_t *d, size_t n, const char *what)
{
	struct guest_mem m;
	struct boot_entry e = { .protocol = "reset" }, before;
	struct kernel_params p = { .image = d, .image_size = n };
	char err[256] = "";

	e.regs.rip = 0xfff0;
	e.sregs.cs.selector = 0xf000;
	before = e;
	assert_int_equal(guest_mem_init(&m, 64u << 20, err, sizeof(err)), 0);
	assert_int_equal(kernel_load(&m, &p, &e, NULL, err, sizeof(err)), -1);
	if (!strstr(err, what))
		fail_msg("\"%s\" does not mention \"%s\"", err, what);
	assert_null(strchr(err, '\n'));
	assert_int_equal(memcmp(&e, &before, sizeof(e)), 0);
	for (uint64_t i = 0; i < m.size; i += 512)
		assert_int_equal(m.host[i], 0);
	guest_mem_free(&m);
}

static void test_refused(void **state)
{
	uint8_t junk[4096];
	size_t n;
	uint8_t *d;

	(void)state;
	memset(junk, 0x42, sizeof(junk));
	refused(junk, sizeof(junk), "unknown format");
	d = multiboot_elf(&n);
	d[0x1008] ^= 1;
	refused(d, n, "bad checksum");
	free(d);
	d = test_vmlinux(0, &n);
	put_le16(d + 18, 183);
	refused(d, n, "x86-64");
	free(d);
}

static void test_read_file(void **state)
{
	char path[] = "/tmp/mpvmm-kernel-XXXXXX", err[256];
	int fd = mkstemp(path);
	uint8_t *data;
	size_t size;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "kernel bytes", 12), 12);
	close(fd);
	assert_int_equal(kernel_read_file(path, &data, &size, err, sizeof(err)), 0);
	assert_int_equal(size, 12);
	assert_memory_equal(data, "kernel bytes", 12);
	free(data);
	unlink(path);
	assert_int_equal(kernel_read_file(path, &data, &size, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	assert_int_equal(kernel_read_file("/tmp", &data, &size, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "regular file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_initramfs_unpacked_on_host),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_read_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
