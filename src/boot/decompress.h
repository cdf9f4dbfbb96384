/*
 * decompress.h - one compressed stream in memory to a new heap buffer, with the system's
 * zlib (gzip), liblzma (xz, lzma) and libzstd (zstd).  Used to unpack the vmlinux ELF that a
 * bzImage carries as its payload (Documentation/arch/x86/boot.rst, payload_offset), and an
 * initramfs that is one compressed cpio archive.  Knows
 * nothing of kernels, ELF or guest memory.
 */
#ifndef MPVMM_BOOT_DECOMPRESS_H
#define MPVMM_BOOT_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

/* Refuse to produce more than this (a corrupt or hostile stream cannot eat the host). */
#define DECOMPRESS_MAX (1ull << 30)

enum decompress_format {
	DECOMPRESS_UNKNOWN,
	DECOMPRESS_GZIP, /* 1f 8b             (RFC 1952)                            */
	DECOMPRESS_XZ,   /* fd 37 7a 58 5a 00 (.xz file format 1.0.4, 2.1.1.1)      */
	DECOMPRESS_ZSTD, /* 28 b5 2f fd       (RFC 8878, 3.1.1)                      */
	DECOMPRESS_LZMA, /* 5d 00             (LZMA alone: lc=3 lp=0 pb=2, dict)     */
	/* Recognised so that the error names them, but not supported: */
	DECOMPRESS_BZIP2, /* "BZh"                                                  */
	DECOMPRESS_LZO,   /* 89 4c ("\x89LZO")                                      */
	DECOMPRESS_LZ4,   /* 02 21 (lz4 legacy frame, as Linux's lz4 payloads)      */
};

/* The format of the stream that starts at `d`, from its magic bytes. */
enum decompress_format decompress_detect(const uint8_t *d, size_t n);

/* "gzip", "xz", ..., "unknown". */
const char *decompress_name(enum decompress_format f);

/*
 * Decompress the stream at `in` (bytes after its end are ignored, such as the 4-byte size
 * Linux appends).  `hint` is the expected output size, 0 if unknown; `limit` the most the
 * output may be (0: DECOMPRESS_MAX), which also bounds the memory a decoder's header may
 * ask for (an xz or lzma dictionary): the stream decides nothing the caller did not allow.
 * On success *out is a malloc'd buffer of *outlen bytes (the caller frees it) and 0 is
 * returned; otherwise -1 with a reason in err (unsupported format, corrupt or truncated
 * stream, too large).
 */
int decompress(const uint8_t *in, size_t n, size_t hint, size_t limit, uint8_t **out,
	       size_t *outlen, char *err, size_t errlen);

/* As decompress(), and *used is how many input bytes the stream took (its end). */
int decompress_used(const uint8_t *in, size_t n, size_t hint, size_t limit, uint8_t **out,
		    size_t *outlen, size_t *used, char *err, size_t errlen);

#endif
