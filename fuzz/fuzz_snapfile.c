/*
 * fuzz_snapfile.c - the snapshot reader on any byte string.  It opens the bytes as a buffer
 * snapshot; a refusal must be one line.  When they validate, it walks the sections itself by
 * the layout snapfile.c documents and aborts unless the reader hands out exactly the same
 * payloads (inside the input, where the walk found them), decodes every payload, then loads
 * the RAM into scratch regions of the saved layout (from the memory table) and checks each
 * extent's bytes arrived, and that a different layout is refused.
 *
 * A mutation rarely keeps a CRC right, so each input is opened twice: as it is, and with
 * every CRC its own structure points at recomputed, which lets mutated lengths, counts and
 * extent tables reach the checks behind the CRCs.
 *
 * With clang and -fsanitize=fuzzer this is a libFuzzer target.  Built with FUZZ_REPLAY_MAIN,
 * a plain main replays the files and directories it is given (the seed corpus in
 * fuzz/corpus/snapfile runs as a regression test with any compiler; snapfile_seeds.c made it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "snapshot/snapfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAGE 4096u
#define SCRATCH_MAX (16u << 20) /* load RAM only up to this much */

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Read u32s off the payload until it runs out: the decoder must stop cleanly. */
static void decode(const void *p, size_t len)
{
	struct snap_dec d;
	size_t n;

	snap_dec_init(&d, p, len);
	while (!d.bad)
		snap_dec_u32(&d);
	if (snap_dec_done(&d))
		abort();
	snap_dec_init(&d, p, len);
	while (!d.bad && d.off < d.len)
		if (snap_dec_blob(&d, &n) && (n > len || d.off > len))
			abort();
}

/* The page data of an inline memory table: how many bytes of it follow the section. */
static uint64_t inline_data(const uint8_t *table, uint64_t len)
{
	uint32_t nr = le32(table), nx = le32(table + 4);
	uint64_t sum = 0;

	if (len != 8 + 16ull * nr + 32ull * nx)
		abort(); /* the reader accepted a table of the wrong size */
	for (uint32_t i = 0; i < nx; i++)
		sum += le64(table + 8 + 16ull * nr + 32ull * i + 8);
	return sum;
}

/* Walk the sections as documented; the reader must agree with every one. */
static void walk(const struct snap_reader *r, const uint8_t *b, size_t size)
{
	uint64_t off = le32(b + 12);
	uint32_t count = le32(b + 20);
	bool separate = le32(b + 16) & 1;
	unsigned known = 0;

	for (uint32_t i = 0; i < count; i++) {
		if (off + 24 > size)
			abort();
		uint32_t type = le32(b + off), instance = le32(b + off + 4);
		uint64_t len = le64(b + off + 8);
		size_t got;
		const uint8_t *p = snap_get(r, type, instance, &got);
		if (p != b + off + 24 || got != len || len > size - off - 24)
			abort();
		decode(p, got);
		off += 24 + ((len + 7) & ~7ull);
		if (type == SNAP_SEC_MEMORY) {
			uint64_t bytes = inline_data(p, len);
			if (bytes != snap_memory_bytes(r))
				abort();
			if (!separate && bytes)
				off = ((off + PAGE - 1) & ~(uint64_t)(PAGE - 1)) + bytes;
		}
	}
	if (off != size)
		abort();
	for (uint32_t t = 0; t <= SNAP_SEC_TYPES; t++)
		known += snap_count(r, t);
	if (known > count)
		abort();
}

/* Scratch RAM of the saved layout; the extents' bytes must land where the table says. */
static void load(const struct snap_reader *r, const uint8_t *b)
{
	size_t len;
	const uint8_t *t = snap_get(r, SNAP_SEC_MEMORY, 0, &len);
	char err[256];

	if (!t)
		return;
	uint32_t nr = le32(t), nx = le32(t + 4);
	struct snap_mem_region *g = calloc(nr + 1, sizeof(*g));
	uint64_t total = 0;
	for (uint32_t i = 0; i < nr; i++) {
		g[i].gpa = le64(t + 8 + 16ull * i);
		g[i].size = le64(t + 16 + 16ull * i);
		total += g[i].size;
		if (g[i].size > SCRATCH_MAX || total > SCRATCH_MAX)
			goto out;
	}
	for (uint32_t i = 0; i < nr; i++) {
		g[i].hva = mmap(NULL, g[i].size, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (g[i].hva == MAP_FAILED)
			abort();
	}
	if (snap_load_memory(r, g, nr + 1, err, sizeof(err)) == 0)
		abort(); /* one region too many */
	if (snap_load_memory(r, g, nr, err, sizeof(err)) < 0)
		abort();
	for (uint32_t i = 0, k = 0; i < nx; i++) {
		const uint8_t *x = t + 8 + 16ull * nr + 32ull * i;
		uint64_t gpa = le64(x), n = le64(x + 8), off = le64(x + 16);
		while (g[k].gpa + g[k].size <= gpa)
			k++;
		if (memcmp(g[k].hva + (gpa - g[k].gpa), b + off, n))
			abort();
	}
	for (uint32_t i = 0; i < nr; i++)
		munmap(g[i].hva, g[i].size);
out:
	free(g);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Fix the CRCs of an inline memory table's extents; the bytes of page data that follow. */
static uint64_t fix_extents(uint8_t *b, size_t size, uint8_t *table, uint64_t len)
{
	if (len < 8)
		return 0;
	uint32_t nr = le32(table), nx = le32(table + 4);
	uint64_t sum = 0;

	if (len != 8 + 16ull * nr + 32ull * nx)
		return 0;
	for (uint32_t i = 0; i < nx; i++) {
		uint8_t *x = table + 8 + 16ull * nr + 32ull * i;
		uint64_t n = le64(x + 8), off = le64(x + 16);
		if (off <= size && n <= size - off)
			put_le32(x + 24, snap_crc32c(0, b + off, (size_t)n));
		sum += n;
	}
	return sum;
}

/* Recompute every CRC that the bytes' own header and sections point at, bounds permitting. */
static void fix_crcs(uint8_t *b, size_t size)
{
	if (size < 56)
		return;
	uint32_t hsize = le32(b + 12);
	uint32_t count = le32(b + 20);
	bool separate = le32(b + 16) & 1;
	uint64_t off = hsize;
	for (uint32_t i = 0; i < count && off <= size && size - off >= 24; i++) {
		uint64_t len = le64(b + off + 8);
		if (len > size - off - 24)
			break;
		uint64_t next = off + 24 + ((len + 7) & ~7ull);
		uint64_t data = 0;
		if (le32(b + off) == SNAP_SEC_MEMORY && !separate)
			data = fix_extents(b, size, b + off + 24, len);
		put_le32(b + off + 16, snap_crc32c(snap_crc32c(0, b + off, 16), b + off + 24,
						     (size_t)len));
		off = next;
		if (data) {
			off = (off + PAGE - 1) & ~(uint64_t)(PAGE - 1);
			off = data > UINT64_MAX - off ? UINT64_MAX : off + data;
		}
	}
	if (hsize >= 56 && hsize <= size)
		put_le32(b + hsize - 4, snap_crc32c(0, b, hsize - 4));
}

static void try_open(const uint8_t *b, size_t size)
{
	char err[256] = "";
	struct snap_reader *r = snap_reader_open_buffer(b, size, err, sizeof(err));

	if (!r) {
		if (!err[0] || strchr(err, '\n'))
			abort();
		return;
	}
	walk(r, b, size);
	load(r, b);
	snap_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Copies exactly `size` long: ASan catches any read past the end. */
	uint8_t *b = malloc(size ? size : 1);

	if (!b)
		return 0;
	memcpy(b, data, size);
	try_open(b, size);
	fix_crcs(b, size);
	if (memcmp(b, data, size))
		try_open(b, size);
	free(b);
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "replay.h"

int main(int argc, char **argv)
{
	return fuzz_replay_main(argc, argv, "fuzz_snapfile");
}
#endif
