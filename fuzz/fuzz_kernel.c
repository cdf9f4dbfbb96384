/*
 * fuzz_kernel.c - `--kernel FILE` on any file: format detection and dispatch (boot/kernel.c),
 * the bzImage and vmlinux loaders (boot/linux.c) with the host's decompressors for the
 * payload and the initramfs (boot/decompress.c), the multiboot loader (boot/multiboot.c)
 * and the ELF reader under all of them (boot/elf.c), loading into a fresh, small guest RAM.
 *
 * Input: byte 0 the options, bytes 1-2 (le16) the initrd's length, then the kernel image;
 * with an initrd, its bytes are the input's last ones (as many as there are, up to that
 * length) and the image is what lies between.  Options: bit 0 unpack a bzImage's payload
 * on the host; bit 1 a command line; bits 2-3 the RAM: 4 MiB, 20 MiB, 1 MiB + 64 KiB or
 * 640 KiB; bit 4 an initrd; bit 5 the initrd's module string; bit 6 an ACPI RSDP address.
 *
 * Checks: a refusal is one line, and leaves guest memory untouched (no page of it ever
 * backed) and the entry state as it was; a load reports the format kernel_detect sees and a
 * kernel at or above 1 MiB inside RAM, places the command line, and the initrd (or what it
 * unpacked to) page aligned inside RAM, byte for byte.  The scratch RAM is kept off transparent huge pages (guest_mem_init asks for them): a 2 MiB
 * page cleared for every input that writes a byte would be most of the run time.
 *
 * A stream's own header never decides more than the guest's RAM: the unpacked vmlinux and
 * initramfs, the buffer a bzImage's size hint asks for and an xz or lzma dictionary are all
 * bounded by it (decompress.h's limit), so memory stays bounded by the scratch RAM sizes.
 *
 * With clang and -fsanitize=fuzzer this is a libFuzzer target.  Built with FUZZ_REPLAY_MAIN,
 * a plain main replays the files and directories it is given (the seed corpus in
 * fuzz/corpus/kernel runs as a regression test with any compiler; kernel_seeds.c made it).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "boot/bytes.h"
#include "boot/kernel.h"
#include "boot/layout.h"
#include "boot/linux.h"
#include "x86/guest_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OPT_HOST 0x01u
#define OPT_CMDLINE 0x02u
#define OPT_RAM_SHIFT 2
#define OPT_INITRD 0x10u
#define OPT_INITRD_NAME 0x20u
#define OPT_RSDP 0x40u
#define HEADER 3u

static const uint64_t ram_sizes[4] = { 4u << 20, 20u << 20, (1u << 20) + (64u << 10),
				       640u << 10 };
static const char cmdline[] = "console=ttyS0 root=/dev/vda rw";

/* The input's options, image and initrd as kernel_load takes them. */
static struct kernel_params params_of(const uint8_t *data, size_t size, uint8_t *opt)
{
	static const uint8_t none[1];
	struct kernel_params p = { .image = none };
	size_t rd = size >= HEADER ? (size_t)(data[1] | data[2] << 8) : 0;

	*opt = size ? data[0] : 0;
	if (size < HEADER)
		return p;
	size -= HEADER;
	rd = *opt & OPT_INITRD ? (rd < size ? rd : size) : 0;
	p.image = data + HEADER;
	p.image_size = size - rd;
	p.initrd = rd ? data + HEADER + p.image_size : NULL;
	p.initrd_size = rd;
	p.initrd_name = *opt & OPT_INITRD_NAME ? "initramfs.cpio" : NULL;
	p.cmdline = *opt & OPT_CMDLINE ? cmdline : NULL;
	p.decompress = *opt & OPT_HOST ? KERNEL_DECOMPRESS_HOST : KERNEL_DECOMPRESS_GUEST;
	p.acpi_rsdp = *opt & OPT_RSDP ? 0xe0000 : 0;
	return p;
}

static void refused(const struct guest_mem *m, const struct boot_entry *before,
		    const struct boot_entry *after, const char *err)
{
	if (!err[0] || strchr(err, '\n'))
		abort(); /* one line, saying why */
	if (guest_mem_resident(m) != 0 || memcmp(before, after, sizeof(*before)))
		abort(); /* nothing written, the entry state as it was */
}

/* The initrd in guest memory: what was given, or what it was unpacked to. */
static void check_initrd(const struct guest_mem *m, const struct kernel_params *p,
			 const struct kernel_info *info)
{
	const uint8_t *at = guest_mem_ptr(m, info->initrd_addr, info->initrd_size);

	if (!p->initrd) {
		if (info->initrd_addr || info->initrd_size)
			abort();
		return;
	}
	if (!at || info->initrd_addr % LAYOUT_PAGE || info->initrd_addr < info->kernel_end)
		abort();
	if (!info->initrd_compression &&
	    (info->initrd_size != p->initrd_size || memcmp(at, p->initrd, p->initrd_size)))
		abort();
}

static void loaded(const struct guest_mem *m, const struct kernel_params *p,
		   const struct boot_entry *e, const struct kernel_info *info)
{
	const char *cmd = guest_mem_ptr(m, info->cmdline, 1);
	size_t len = p->cmdline ? strlen(p->cmdline) : 0;

	if (info->format != kernel_detect(p->image, p->image_size) || !e->protocol)
		abort();
	if (info->kernel_start < LAYOUT_IMAGE_MIN || info->kernel_end < info->kernel_start ||
	    info->kernel_end > guest_mem_low_size(m))
		abort(); /* the loaders never place a kernel below 1 MiB or past RAM */
	if (!cmd || !guest_mem_ptr(m, info->cmdline, len + 1) ||
	    memcmp(cmd, p->cmdline ? p->cmdline : "", len + 1))
		abort();
	check_initrd(m, p, info);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t opt;
	const struct kernel_params p = params_of(data, size, &opt);
	struct guest_mem m;
	struct boot_entry e, before;
	struct kernel_info info;
	char err[256] = "";

	if (guest_mem_init(&m, ram_sizes[(opt >> OPT_RAM_SHIFT) & 3], err, sizeof(err)) < 0)
		abort();
	(void)madvise(m.host, m.size, MADV_NOHUGEPAGE);
	memset(&e, 0, sizeof(e));
	e.sregs.cr0 = 0x60000010; /* the reset state a loader starts from */
	before = e;
	if (kernel_load(&m, &p, &e, &info, err, sizeof(err)) < 0)
		refused(&m, &before, &e, err);
	else
		loaded(&m, &p, &e, &info);
	if (!kernel_format_name(kernel_detect(p.image, p.image_size)))
		abort();
	guest_mem_free(&m);
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "replay.h"

int main(int argc, char **argv)
{
	return fuzz_replay_main(argc, argv, "fuzz_kernel");
}
#endif
