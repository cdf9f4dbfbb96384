/*
 * kernel.c - see kernel.h.  Recognises the format (a bzImage's "HdrS" first, then a
 * multiboot header, which an ELF may also carry, then a bare ELF64) and hands the image to
 * its loader.
 */
#include "boot/kernel.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot/bytes.h"
#include "boot/decompress.h"
#include "boot/elf.h"
#include "boot/linux.h"
#include "boot/multiboot.h"
#include "util/hostfile.h"

#define KERNEL_FILE_MAX (1ull << 30) /* refuse to read more than this */

static int is_bzimage(const uint8_t *d, size_t n)
{
	return n >= LINUX_HDR_HEADER + 4 && le16(d + LINUX_HDR_BOOT_FLAG) == LINUX_BOOT_FLAG &&
	       le32(d + LINUX_HDR_HEADER) == LINUX_HDRS_MAGIC;
}

static int is_elf64(const uint8_t *d, size_t n)
{
	return n >= 5 && memcmp(d, "\177ELF", 4) == 0 && d[4] == 2; /* ELFCLASS64 */
}

enum kernel_format kernel_detect(const uint8_t *d, size_t n)
{
	char err[8];
	size_t off;

	if (is_bzimage(d, n))
		return KERNEL_FORMAT_BZIMAGE;
	if (multiboot_find(d, n, &off, err, sizeof(err)) != 0)
		return KERNEL_FORMAT_MULTIBOOT; /* a bad checksum is reported by the loader */
	if (is_elf64(d, n))
		return KERNEL_FORMAT_VMLINUX;
	return KERNEL_FORMAT_UNKNOWN;
}

const char *kernel_format_name(enum kernel_format f)
{
	switch (f) {
	case KERNEL_FORMAT_BZIMAGE: return "bzImage";
	case KERNEL_FORMAT_VMLINUX: return "vmlinux (ELF64)";
	case KERNEL_FORMAT_MULTIBOOT: return "multiboot";
	default: return "unknown";
	}
}

/*
 * A Linux initramfs that is one compressed cpio archive (then nothing but zero padding,
 * which Linux's unpacker skips too) is the same archive to the kernel uncompressed
 * (init/initramfs.c takes both).  Returns the unpacked copy (the caller frees it) with its
 * format in *format, or NULL to load the initrd as it is: not compressed, several archives
 * one after another, or a stream that does not decompress (the kernel will then say so).
 */
static uint8_t *unpack_initramfs(const struct kernel_params *p, size_t limit, size_t *size,
				 const char **format)
{
	enum decompress_format f = decompress_detect(p->initrd, p->initrd_size);
	uint8_t *out;
	size_t used;
	char err[128];

	if (f == DECOMPRESS_UNKNOWN ||
	    decompress_used(p->initrd, p->initrd_size, 0, limit, &out, size, &used, err,
			    sizeof(err)) < 0)
		return NULL;
	for (size_t i = used; i < p->initrd_size; i++) {
		if (p->initrd[i]) {
			free(out);
			return NULL;
		}
	}
	if (*size == 0) {
		free(out);
		return NULL;
	}
	*format = decompress_name(f);
	return out;
}

int kernel_load(struct guest_mem *m, const struct kernel_params *p, struct boot_entry *entry,
		struct kernel_info *info, char *err, size_t errlen)
{
	struct kernel_info local;
	struct boot_entry e = *entry;
	enum kernel_format f = kernel_detect(p->image, p->image_size);
	struct kernel_params lp = *p;
	uint8_t *unpacked = NULL;
	int r;

	info = info ? info : &local;
	memset(info, 0, sizeof(*info));
	if (f != KERNEL_FORMAT_MULTIBOOT && p->initrd && p->decompress == KERNEL_DECOMPRESS_HOST)
		unpacked = unpack_initramfs(p, (size_t)m->size, &lp.initrd_size,
					    &info->initrd_compression);
	lp.initrd = unpacked ? unpacked : p->initrd;
	lp.initrd_size = unpacked ? lp.initrd_size : p->initrd_size;
	switch (f) {
	case KERNEL_FORMAT_BZIMAGE: r = linux_load_bzimage(m, &lp, &e, info, err, errlen); break;
	case KERNEL_FORMAT_MULTIBOOT: r = multiboot_load(m, p, &e, info, err, errlen); break;
	case KERNEL_FORMAT_VMLINUX: r = linux_load_vmlinux(m, &lp, &e, info, err, errlen); break;
	default:
		snprintf(err, errlen, "kernel image of unknown format (%zu bytes): not a bzImage, "
			 "an ELF64 vmlinux or a multiboot kernel", p->image_size);
		r = -1;
	}
	free(unpacked);
	if (r == 0)
		*entry = e; /* the entry state changes only on success, too */
	return r;
}

int kernel_read_file(const char *path, uint8_t **data, size_t *size, char *err, size_t errlen)
{
	/* The descriptor kept from before a jail, if there is one (util/hostfile.h). */
	int fd = hostfile_open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf = NULL;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > KERNEL_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most %llu MiB", path,
			 (unsigned long long)(KERNEL_FILE_MAX >> 20));
		goto fail;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
		if (r <= 0) {
			snprintf(err, errlen, "%s: %s", path, r < 0 ? strerror(errno)
								  : "file shrank while read");
			goto fail;
		}
		got += (size_t)r;
	}
	close(fd);
	*data = buf;
	*size = got;
	return 0;
fail:
	free(buf);
	if (fd >= 0)
		close(fd);
	return -1;
}
