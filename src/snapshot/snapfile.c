/*
 * snapfile.c - the snapshot file format, byte by byte; section names; the little-endian
 * payload encoder and decoder (snap_enc_*, snap_dec_*).  The writer is snapfile_write.c, the
 * reader snapfile_read.c, the checksum crc32c.c.  This file knows bytes only.
 *
 * Every integer is little-endian; every CRC is CRC32C (crc32c.c) starting from 0.
 *
 * Header, at offset 0:
 *     0   8  magic "MPVMSNAP"
 *     8   4  format version (SNAP_FORMAT_VERSION): a reader refuses any other
 *    12   4  header size H = 56 + L rounded up to a multiple of 8
 *    16   4  flags: bit 0 = the page data is in a separate memory file; other bits are 0
 *    20   4  number of sections
 *    24   8  offset of the first section, = H
 *    32  16  snapshot id: random (getrandom), repeated in the memory file
 *    48   4  L, the length of the memory file's name: 1..255 with flag bit 0, else 0
 *    52   L  the memory file's name: a basename (no '/' or NUL, not "." or ".."), found in
 *            the snapshot's directory unless the reader is given another path; when
 *            that file is missing or has another id, the reader takes NAME.<id in hex>
 *            beside it (a memory file staged while its pair was replaced: snapfile_write.c)
 *   52+L     zeros up to H - 4
 *   H-4   4  CRC of bytes 0 .. H-4
 *
 * Sections follow, back to back, each at a multiple of 8:
 *     0   4  type (enum snap_section); a type this version does not know is skipped
 *     4   4  instance; no two sections share (type, instance)
 *     8   8  payload length N
 *    16   4  CRC of bytes 0..15 of this section header, then of the N payload bytes (so a
 *            damaged type, instance or length is caught as well as damaged payload)
 *    20   4  reserved, 0
 *    24   N  payload
 *  24+N      zeros up to the next multiple of 8
 *
 * The memory section (SNAP_SEC_MEMORY, instance 0, at most one) has this payload, exactly
 * 8 + 16 R + 32 E bytes:
 *     0   4  R, the number of RAM regions as saved
 *     4   4  E, the number of extents
 *     8      R regions in increasing gpa order, not overlapping:
 *              u64 gpa, u64 size (both multiples of 4096, size > 0)
 *            E extents in increasing gpa order, not overlapping, each inside one region:
 *              u64 gpa, u64 length (multiples of 4096, length > 0), u64 file offset,
 *              u32 CRC of the extent's page data, u32 reserved (0)
 * An extent is a run of consecutive pages that are not all zeros; pages of zeros are not
 * stored.  Page data is page-aligned in its file so that it can be mapped where it belongs.
 *
 * Without a memory file, when E > 0 the page data comes right after the memory section:
 * zeros up to the next multiple of 4096, then each extent's data in table order, back to
 * back (the first at that multiple of 4096, each next where the one before ends); the next
 * section starts where the last extent ends.  The file ends exactly where the last section
 * (or its page data) ends.  So every byte of a snapshot is under a CRC or must be zero.
 *
 * The memory file (flag bit 0):
 *     0   8  magic "MPVMSMEM"
 *     8   4  format version
 *    12   4  offset of the page data, 4096
 *    16  16  the snapshot id of its main file: another snapshot's memory file is refused
 *    32   8  D, the number of bytes of page data
 *    40   4  reserved, 0
 *    44   4  CRC of bytes 0..43
 *    48      zeros up to 4096
 *  4096   D  the extents' data in table order, back to back; the file ends there.
 */
#include "snapshot/snapfile.h"
#include "snapshot/snapfile_layout.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *snap_section_name(uint32_t type)
{
	static const char *const names[SNAP_SEC_TYPES] = {
		[SNAP_SEC_MACHINE] = "machine", [SNAP_SEC_VM] = "vm",
		[SNAP_SEC_VCPU] = "vcpu",       [SNAP_SEC_MP_USER] = "mp-user",
		[SNAP_SEC_DEVICE] = "device",   [SNAP_SEC_TRACE] = "trace",
		[SNAP_SEC_MEMORY] = "memory",
	};

	return type < SNAP_SEC_TYPES ? names[type] : NULL;
}

/* Room for n more bytes, or mark the encoder failed. */
static uint8_t *enc_room(struct snap_enc *e, size_t n)
{
	if (e->oom)
		return NULL;
	if (n > SIZE_MAX / 2 - e->len) {
		e->oom = true;
		return NULL;
	}
	if (e->len + n > e->cap) {
		size_t cap = e->cap ? e->cap : 64;
		while (cap < e->len + n)
			cap *= 2;
		uint8_t *b = realloc(e->buf, cap);
		if (!b) {
			e->oom = true;
			return NULL;
		}
		e->buf = b;
		e->cap = cap;
	}
	uint8_t *p = e->buf + e->len;
	e->len += n;
	return p;
}

void snap_enc_u8(struct snap_enc *e, uint8_t v)
{
	uint8_t *p = enc_room(e, 1);

	if (p)
		*p = v;
}

void snap_enc_u32(struct snap_enc *e, uint32_t v)
{
	uint8_t *p = enc_room(e, 4);

	if (p)
		snap_put_le32(p, v);
}

void snap_enc_u64(struct snap_enc *e, uint64_t v)
{
	uint8_t *p = enc_room(e, 8);

	if (p)
		snap_put_le64(p, v);
}

void snap_enc_bytes(struct snap_enc *e, const void *src, size_t n)
{
	uint8_t *p = enc_room(e, n);

	if (p && n)
		memcpy(p, src, n);
}

void snap_enc_blob(struct snap_enc *e, const void *src, size_t n)
{
	if (n > UINT32_MAX) {
		e->oom = true; /* its length would not fit the u32 */
		return;
	}
	snap_enc_u32(e, (uint32_t)n);
	snap_enc_bytes(e, src, n);
}

void snap_enc_free(struct snap_enc *e)
{
	free(e->buf);
	memset(e, 0, sizeof(*e));
}

void snap_dec_init(struct snap_dec *d, const void *p, size_t len)
{
	d->p = p;
	d->len = p ? len : 0;
	d->off = 0;
	d->bad = false;
}

/* The next n bytes, or NULL (and bad) if fewer are left. */
static const uint8_t *dec_take(struct snap_dec *d, size_t n)
{
	if (d->bad || n > d->len - d->off) {
		d->bad = true;
		return NULL;
	}
	const uint8_t *p = d->p + d->off;
	d->off += n;
	return p;
}

uint8_t snap_dec_u8(struct snap_dec *d)
{
	const uint8_t *p = dec_take(d, 1);

	return p ? *p : 0;
}

uint32_t snap_dec_u32(struct snap_dec *d)
{
	const uint8_t *p = dec_take(d, 4);

	return p ? snap_le32(p) : 0;
}

uint64_t snap_dec_u64(struct snap_dec *d)
{
	const uint8_t *p = dec_take(d, 8);

	return p ? snap_le64(p) : 0;
}

void snap_dec_bytes(struct snap_dec *d, void *out, size_t n)
{
	const uint8_t *p = dec_take(d, n);

	if (p)
		memcpy(out, p, n);
	else if (n)
		memset(out, 0, n);
}

const void *snap_dec_blob(struct snap_dec *d, size_t *n)
{
	uint32_t len = snap_dec_u32(d);
	const uint8_t *p = dec_take(d, len);

	*n = p ? len : 0;
	return p;
}

bool snap_dec_done(const struct snap_dec *d)
{
	return !d->bad && d->off == d->len;
}

char *snap_staged_name(const char *memory_path, const uint8_t id[16])
{
	const char *slash = strrchr(memory_path, '/');
	const char *base = slash ? slash + 1 : memory_path;
	size_t len = strlen(memory_path);

	if (strlen(base) + 1 + 2 * 16 > NAME_MAX) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	char *s = malloc(len + 1 + 2 * 16 + 1);
	if (!s)
		return NULL;
	memcpy(s, memory_path, len);
	s[len] = '.';
	for (int i = 0; i < 16; i++)
		sprintf(s + len + 1 + 2 * i, "%02x", id[i]);
	return s;
}

int snap_refuse(char *err, size_t errlen, const char *what, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s state: ", what);

	va_start(ap, fmt);
	if (n > 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}
