/*
 * decompress.c - see decompress.h.  Each format is one loop over its library's streaming
 * call, writing into a buffer that doubles when full (up to DECOMPRESS_MAX).
 */
#include "boot/decompress.h"

#include <limits.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

/* xz -9's 64 MiB dictionary and the decoder's own state. */
#define LZMA_MEMLIMIT_FLOOR (65ull << 20)

struct outbuf {
	uint8_t *p;
	size_t len, cap;
	size_t limit; /* no more output than this (decompress_used's `limit`) */
};

static const struct {
	enum decompress_format f;
	const char *name;
	uint8_t magic[6];
	size_t len;
} formats[] = {
	{ DECOMPRESS_GZIP, "gzip", { 0x1f, 0x8b }, 2 },
	{ DECOMPRESS_XZ, "xz", { 0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00 }, 6 },
	{ DECOMPRESS_ZSTD, "zstd", { 0x28, 0xb5, 0x2f, 0xfd }, 4 },
	{ DECOMPRESS_LZMA, "lzma", { 0x5d, 0x00 }, 2 },
	{ DECOMPRESS_BZIP2, "bzip2", { 'B', 'Z', 'h' }, 3 },
	{ DECOMPRESS_LZO, "lzo", { 0x89, 0x4c }, 2 },
	{ DECOMPRESS_LZ4, "lz4", { 0x02, 0x21 }, 2 },
};

#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

enum decompress_format decompress_detect(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < NFORMATS; i++)
		if (n >= formats[i].len && memcmp(d, formats[i].magic, formats[i].len) == 0)
			return formats[i].f;
	return DECOMPRESS_UNKNOWN;
}

const char *decompress_name(enum decompress_format f)
{
	for (size_t i = 0; i < NFORMATS; i++)
		if (formats[i].f == f)
			return formats[i].name;
	return "unknown";
}

/* Make room for more output; -1 (err) past the limit or out of memory. */
static int grow(struct outbuf *o, char *err, size_t errlen)
{
	if (o->len < o->cap)
		return 0;
	size_t cap = o->cap ? o->cap * 2 : 1u << 20;
	if (o->cap >= o->limit) {
		snprintf(err, errlen, "decompressed data exceeds %llu MiB%s",
			 (unsigned long long)(o->limit >> 20),
			 o->limit < DECOMPRESS_MAX ? " (the guest's RAM)" : "");
		return -1;
	}
	cap = cap > o->limit ? o->limit : cap;
	uint8_t *p = realloc(o->p, cap);
	if (!p) {
		snprintf(err, errlen, "out of memory decompressing (%zu MiB)", cap >> 20);
		return -1;
	}
	o->p = p;
	o->cap = cap;
	return 0;
}

static unsigned room(const struct outbuf *o)
{
	size_t r = o->cap - o->len;
	return r > UINT_MAX ? UINT_MAX : (unsigned)r;
}

static int gunzip(const uint8_t *in, size_t n, struct outbuf *o, size_t *used, char *err,
		  size_t errlen)
{
	z_stream z;
	int r, ok = -1;

	memset(&z, 0, sizeof(z));
	if (n > UINT_MAX || inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) { /* 16: gzip only */
		snprintf(err, errlen, "gzip: cannot start the decoder");
		return -1;
	}
	z.next_in = (Bytef *)in;
	z.avail_in = (uInt)n;
	while (grow(o, err, errlen) == 0) {
		z.next_out = o->p + o->len;
		z.avail_out = room(o);
		unsigned before = z.avail_out;
		r = inflate(&z, Z_NO_FLUSH);
		o->len += before - z.avail_out;
		if (r == Z_STREAM_END) {
			ok = 0;
			break;
		}
		if (r == Z_OK || (r == Z_BUF_ERROR && z.avail_out == 0))
			continue; /* progress, or only the output was full */
		snprintf(err, errlen, "gzip: %s", r == Z_BUF_ERROR ? "truncated stream" :
			 z.msg ? z.msg : "corrupt stream");
		break;
	}
	*used = z.total_in;
	inflateEnd(&z);
	return ok;
}

static const char *lzma_reason(lzma_ret r)
{
	switch (r) {
	case LZMA_BUF_ERROR: return "truncated stream";
	case LZMA_FORMAT_ERROR: return "not in this format";
	case LZMA_OPTIONS_ERROR: return "unsupported options";
	case LZMA_DATA_ERROR: return "corrupt data";
	case LZMA_MEM_ERROR: return "out of memory";
	case LZMA_MEMLIMIT_ERROR: return "its dictionary is larger than the output may be";
	case LZMA_UNSUPPORTED_CHECK: return "unsupported integrity check";
	default: return "decoder error";
	}
}

/* xz (stream, BCJ filters included) or lzma alone, with liblzma. */
static int unlzma(const uint8_t *in, size_t n, int xz, struct outbuf *o, size_t *used,
		  char *err, size_t errlen)
{
	lzma_stream s = LZMA_STREAM_INIT;
	/*
	 * The dictionary a header asks for is bounded like the output (an lzma header may ask
	 * for 4 GiB), but never below what xz's presets use, which may exceed a small output.
	 */
	uint64_t memlimit = o->limit > LZMA_MEMLIMIT_FLOOR ? o->limit : LZMA_MEMLIMIT_FLOOR;
	lzma_ret r = xz ? lzma_stream_decoder(&s, memlimit, 0)
			: lzma_alone_decoder(&s, memlimit);

	if (r != LZMA_OK) {
		snprintf(err, errlen, "%s: cannot start the decoder", xz ? "xz" : "lzma");
		return -1;
	}
	s.next_in = in;
	s.avail_in = n;
	while (r == LZMA_OK) {
		if (grow(o, err, errlen) < 0)
			break;
		s.next_out = o->p + o->len;
		s.avail_out = o->cap - o->len;
		r = lzma_code(&s, LZMA_FINISH);
		o->len = o->cap - s.avail_out;
		if (r != LZMA_OK && r != LZMA_STREAM_END)
			snprintf(err, errlen, "%s: %s", xz ? "xz" : "lzma", lzma_reason(r));
	}
	*used = (size_t)s.total_in;
	lzma_end(&s);
	return r == LZMA_STREAM_END ? 0 : -1;
}

static int unzstd(const uint8_t *in, size_t n, struct outbuf *o, size_t *used, char *err,
		  size_t errlen)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer ib = { in, n, 0 };
	size_t r = 1;

	if (!d) {
		snprintf(err, errlen, "zstd: cannot start the decoder");
		return -1;
	}
	while (r != 0) {
		if (grow(o, err, errlen) < 0)
			break;
		ZSTD_outBuffer ob = { o->p, o->cap, o->len };
		r = ZSTD_decompressStream(d, &ob, &ib);
		o->len = ob.pos;
		if (ZSTD_isError(r)) {
			snprintf(err, errlen, "zstd: %s", ZSTD_getErrorName(r));
			break;
		}
		/* All input taken and room left: the decoder wants input there is not. */
		if (r != 0 && ib.pos == ib.size && ob.pos < ob.size) {
			snprintf(err, errlen, "zstd: truncated stream");
			break;
		}
	}
	*used = ib.pos;
	ZSTD_freeDCtx(d);
	return r == 0 ? 0 : -1;
}

int decompress(const uint8_t *in, size_t n, size_t hint, size_t limit, uint8_t **out,
	       size_t *outlen, char *err, size_t errlen)
{
	size_t used;

	return decompress_used(in, n, hint, limit, out, outlen, &used, err, errlen);
}

int decompress_used(const uint8_t *in, size_t n, size_t hint, size_t limit, uint8_t **out,
		    size_t *outlen, size_t *used, char *err, size_t errlen)
{
	enum decompress_format f = decompress_detect(in, n);
	struct outbuf o = { NULL, 0, 0, limit && limit < DECOMPRESS_MAX ? limit : DECOMPRESS_MAX };
	int r;

	*used = 0;
	/* The hint is the stream's own claim: taken only as far as the limit allows. */
	if (hint > 0 && hint <= o.limit - 4096 && o.limit > 4096) {
		o.cap = hint + 4096; /* slack: a decoder may want room to notice the end */
		o.p = malloc(o.cap);
		o.cap = o.p ? o.cap : 0;
	}
	switch (f) {
	case DECOMPRESS_GZIP: r = gunzip(in, n, &o, used, err, errlen); break;
	case DECOMPRESS_XZ: r = unlzma(in, n, 1, &o, used, err, errlen); break;
	case DECOMPRESS_LZMA: r = unlzma(in, n, 0, &o, used, err, errlen); break;
	case DECOMPRESS_ZSTD: r = unzstd(in, n, &o, used, err, errlen); break;
	default:
		snprintf(err, errlen, "%s compression is not supported (gzip, xz, lzma and zstd "
			 "are)", f == DECOMPRESS_UNKNOWN ? "this" : decompress_name(f));
		r = -1;
	}
	if (r < 0) {
		free(o.p);
		return -1;
	}
	*out = o.p;
	*outlen = o.len;
	return 0;
}
