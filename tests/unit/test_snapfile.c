/*
 * test_snapfile.c - the snapshot file format: CRC32C against RFC 3720's vectors (table and
 * SSE4.2 paths), the payload encoder and decoder, round trips with several sections and
 * sparse RAM (in the file and in a memory file), RAM mapped privately from the file, the
 * writer's bytes against the documented layout built by hand, refusal of every truncation
 * and every single-bit flip of a small snapshot, of a wrong memory file, of crafted extent
 * tables, and atomic saves: an aborted writer or a child killed mid-save leaves nothing at
 * the final path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "snapshot/crc32c.h"
#include "snapshot/snapfile.h"

#define PAGE 4096u

/* ---- helpers: a scratch directory, files, RAM ---- */

struct scratch {
	char dir[64];
	char path[128];  /* dir/snap */
	char mpath[128]; /* dir/snap.mem */
};

static void scratch_init(struct scratch *s)
{
	strcpy(s->dir, "/tmp/test_snapfile.XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	snprintf(s->path, sizeof(s->path), "%s/snap", s->dir);
	snprintf(s->mpath, sizeof(s->mpath), "%s/snap.mem", s->dir);
}

/* Names in the directory that start with `prefix` ("" for all); the last one into `last`. */
static unsigned entries(const struct scratch *s, const char *prefix, char *last, size_t n)
{
	DIR *d = opendir(s->dir);
	struct dirent *e;
	unsigned count = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (strncmp(e->d_name, prefix, strlen(prefix)))
			continue;
		count++;
		if (last)
			snprintf(last, n, "%s/%s", s->dir, e->d_name);
	}
	closedir(d);
	return count;
}

static void scratch_free(struct scratch *s)
{
	char victim[512];

	while (entries(s, "", victim, sizeof(victim)))
		assert_int_equal(unlink(victim), 0);
	assert_int_equal(rmdir(s->dir), 0);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	*len = (size_t)st.st_size;
	uint8_t *b = malloc(*len ? *len : 1);
	assert_non_null(b);
	assert_int_equal(pread(fd, b, *len, 0), (ssize_t)*len);
	close(fd);
	return b;
}

static void write_file(const char *path, const void *b, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, len), (ssize_t)len);
	close(fd);
}

static uint8_t *ram_alloc(uint64_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	return p;
}

/* A page of bytes that depend on `seed` and are not all zero. */
static void fill_page(uint8_t *p, uint32_t seed)
{
	for (unsigned i = 0; i < PAGE; i++)
		p[i] = (uint8_t)((seed * 2654435761u + i * 40503u) >> 13);
	p[0] |= 1;
}

/*
 * The sparse RAM of the round trips: region 0 at 0, 32 pages, non-zero 1-3 (page 3 only in
 * its last byte), 6-25 (80 KiB: mapped, not copied) and 31 (the last); region 1 at 4 GiB,
 * 8 pages, non-zero 0 and 7.  Five extents, 26 pages.
 */
struct ram {
	struct snap_mem_region r[2];
	unsigned n;
};

static void ram_sparse(struct ram *m)
{
	m->n = 2;
	m->r[0] = (struct snap_mem_region){ 0, 32 * PAGE, ram_alloc(32 * PAGE) };
	m->r[1] = (struct snap_mem_region){ 0x100000000ull, 8 * PAGE, ram_alloc(8 * PAGE) };
	fill_page(m->r[0].hva + 1 * PAGE, 1);
	fill_page(m->r[0].hva + 2 * PAGE, 2);
	m->r[0].hva[4 * PAGE - 1] = 0x80;
	for (unsigned p = 6; p <= 25; p++)
		fill_page(m->r[0].hva + p * PAGE, p);
	fill_page(m->r[0].hva + 31 * PAGE, 31);
	fill_page(m->r[1].hva, 100);
	fill_page(m->r[1].hva + 7 * PAGE, 107);
}

#define SPARSE_BYTES (26ull * PAGE)

/* Empty RAM of the same layout, as a restoring VM has it. */
static void ram_fresh(struct ram *m, const struct ram *like)
{
	m->n = like->n;
	for (unsigned i = 0; i < like->n; i++)
		m->r[i] = (struct snap_mem_region){ like->r[i].gpa, like->r[i].size,
						    ram_alloc(like->r[i].size) };
}

static void ram_free(struct ram *m)
{
	for (unsigned i = 0; i < m->n; i++)
		munmap(m->r[i].hva, m->r[i].size);
}

static void ram_equal(const struct ram *a, const struct ram *b)
{
	for (unsigned i = 0; i < a->n; i++)
		assert_memory_equal(a->r[i].hva, b->r[i].hva, a->r[i].size);
}

static const char machine[] = "mpvmm-test";            /* 10 bytes: 6 of padding */
static const char vcpu0[] = "registers of vcpu 0...";  /* 22 bytes */
static const char vcpu3[] = "vcpu 3";
static const uint8_t future[] = { 1, 2, 3 };

/* The sections of the round trips, in a mixed order, memory in the middle. */
static void put_sections(struct snap_writer *w, const struct ram *m)
{
	assert_int_equal(snap_put(w, SNAP_SEC_MACHINE, 0, machine, sizeof(machine) - 1), 0);
	assert_int_equal(snap_put(w, SNAP_SEC_VCPU, 3, vcpu3, sizeof(vcpu3) - 1), 0);
	if (m)
		assert_int_equal(snap_put_memory(w, m->r, m->n), 0);
	assert_int_equal(snap_put(w, SNAP_SEC_VCPU, 0, vcpu0, sizeof(vcpu0) - 1), 0);
	assert_int_equal(snap_put(w, SNAP_SEC_VCPU, 1, NULL, 0), 0);
	assert_int_equal(snap_put(w, 99, 5, future, sizeof(future)), 0); /* a later version's */
}

static void expect_section(const struct snap_reader *r, uint32_t type, uint32_t instance,
			   const void *data, size_t len)
{
	size_t got = 12345;
	const void *p = snap_get(r, type, instance, &got);

	assert_non_null(p);
	assert_int_equal(got, len);
	assert_int_equal((uintptr_t)p % 8, 0);
	if (len)
		assert_memory_equal(p, data, len);
}

static void expect_sections(const struct snap_reader *r)
{
	size_t len;

	expect_section(r, SNAP_SEC_MACHINE, 0, machine, sizeof(machine) - 1);
	expect_section(r, SNAP_SEC_VCPU, 0, vcpu0, sizeof(vcpu0) - 1);
	expect_section(r, SNAP_SEC_VCPU, 1, "", 0);
	expect_section(r, SNAP_SEC_VCPU, 3, vcpu3, sizeof(vcpu3) - 1);
	expect_section(r, 99, 5, future, sizeof(future));
	assert_null(snap_get(r, SNAP_SEC_VCPU, 2, &len));
	assert_int_equal(len, 0);
	assert_null(snap_get(r, SNAP_SEC_DEVICE, 0, &len));
	assert_int_equal(snap_count(r, SNAP_SEC_VCPU), 3);
	assert_int_equal(snap_count(r, SNAP_SEC_MACHINE), 1);
	assert_int_equal(snap_count(r, SNAP_SEC_DEVICE), 0);
}

static void save(const char *path, const char *mpath, const struct ram *m)
{
	char err[256] = "";
	struct snap_writer *w = snap_writer_open(path, mpath, err, sizeof(err));

	assert_non_null(w);
	put_sections(w, m);
	assert_int_equal(snap_writer_commit(w, err, sizeof(err)), 0);
}

/* 16 KiB at 0x10000: pages 1 and 3 non-zero.  With the sections above: a 12 KiB file. */
static void ram_small(struct ram *m)
{
	m->n = 1;
	m->r[0] = (struct snap_mem_region){ 0x10000, 4 * PAGE, ram_alloc(4 * PAGE) };
	fill_page(m->r[0].hva + PAGE, 7);
	fill_page(m->r[0].hva + 3 * PAGE, 8);
}

static uint8_t *small_snapshot(struct scratch *s, size_t *len)
{
	struct ram m;

	ram_small(&m);
	save(s->path, NULL, &m);
	ram_free(&m);
	return read_file(s->path, len);
}

/* Open a copy of exactly len bytes (ASan sees any read past it); NULL if refused. */
static struct snap_reader *open_copy(const uint8_t *b, size_t len, char *err, size_t errlen,
				     uint8_t **copy)
{
	*copy = malloc(len ? len : 1);
	assert_non_null(*copy);
	memcpy(*copy, b, len);
	err[0] = '\0';
	return snap_reader_open_buffer(*copy, len, err, errlen);
}

static void expect_refused(const uint8_t *b, size_t len, const char *what)
{
	char err[256];
	uint8_t *copy;
	struct snap_reader *r = open_copy(b, len, err, sizeof(err), &copy);

	if (r)
		fail_msg("accepted, expected \"%s\"", what);
	if (!strstr(err, what))
		fail_msg("error \"%s\", expected \"%s\"", err, what);
	free(copy);
}

/* ---- CRC32C ---- */

static uint32_t crc_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffff;

	while (n--) {
		c ^= *p++;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78 : c >> 1;
	}
	return ~c;
}

typedef uint32_t crc_fn(uint32_t, const void *, size_t);

static void check_crc_vectors(crc_fn *crc)
{
	uint8_t b[32];

	assert_int_equal(crc(0, "123456789", 9), 0xe3069283);
	assert_int_equal(crc(0, "", 0), 0);
	/* RFC 3720, appendix B.4 */
	memset(b, 0, 32);
	assert_int_equal(crc(0, b, 32), 0x8a9136aa);
	memset(b, 0xff, 32);
	assert_int_equal(crc(0, b, 32), 0x62a8ab43);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)i;
	assert_int_equal(crc(0, b, 32), 0x46dd794e);
	for (int i = 0; i < 32; i++)
		b[i] = (uint8_t)(31 - i);
	assert_int_equal(crc(0, b, 32), 0x113fdb5c);
	/* Any split continues; any length and alignment agrees with the bitwise definition. */
	uint8_t big[600];
	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	uint32_t whole = crc(0, big, sizeof(big));
	for (size_t cut = 0; cut <= sizeof(big); cut += 37)
		assert_int_equal(crc(crc(0, big, cut), big + cut, sizeof(big) - cut), whole);
	for (size_t off = 0; off < 9; off++)
		for (size_t n = 0; n < 80; n++)
			assert_int_equal(crc(0, big + off, n), crc_bitwise(big + off, n));
}

static void test_crc32c_sw(void **state)
{
	(void)state;
	check_crc_vectors(snap_crc32c_sw);
	check_crc_vectors(snap_crc32c);
}

static void test_crc32c_hw(void **state)
{
	(void)state;
	if (!snap_crc32c_hw_available()) {
		print_message("no SSE4.2 on this CPU: the crc32 instruction is not tested\n");
		return;
	}
	check_crc_vectors(snap_crc32c_hw);
}

/* ---- payload encoder and decoder ---- */

static void test_enc_dec(void **state)
{
	struct snap_enc e = { 0 };
	struct snap_dec d;
	uint8_t raw[3];
	size_t n;

	(void)state;
	snap_enc_u8(&e, 0xab);
	snap_enc_u32(&e, 0x01020304);
	snap_enc_u64(&e, 0x1122334455667788ull);
	snap_enc_bytes(&e, "xyz", 3);
	snap_enc_blob(&e, "hello", 5);
	snap_enc_blob(&e, NULL, 0);
	assert_false(e.oom);
	assert_int_equal(e.len, 1 + 4 + 8 + 3 + 4 + 5 + 4);
	assert_memory_equal(e.buf + 1, "\x04\x03\x02\x01\x88\x77\x66\x55\x44\x33\x22\x11", 12);

	snap_dec_init(&d, e.buf, e.len);
	assert_int_equal(snap_dec_u8(&d), 0xab);
	assert_int_equal(snap_dec_u32(&d), 0x01020304);
	assert_int_equal(snap_dec_u64(&d), 0x1122334455667788ull);
	snap_dec_bytes(&d, raw, 3);
	assert_memory_equal(raw, "xyz", 3);
	const void *blob = snap_dec_blob(&d, &n);
	assert_int_equal(n, 5);
	assert_memory_equal(blob, "hello", 5);
	assert_non_null(snap_dec_blob(&d, &n));
	assert_int_equal(n, 0);
	assert_true(snap_dec_done(&d));

	/* Short payloads: zeros, bad, and done() says so. */
	snap_dec_init(&d, e.buf, 3);
	assert_int_equal(snap_dec_u32(&d), 0);
	assert_true(d.bad);
	assert_int_equal(snap_dec_u8(&d), 0); /* stays bad */
	assert_false(snap_dec_done(&d));
	snap_dec_init(&d, e.buf, 2);
	snap_dec_bytes(&d, raw, 3);
	assert_memory_equal(raw, "\0\0\0", 3);
	assert_false(snap_dec_done(&d));
	/* A blob whose length runs past the end. */
	snap_dec_init(&d, e.buf + 17, 6); /* "hello"'s length, 2 of its bytes */
	assert_null(snap_dec_blob(&d, &n));
	assert_int_equal(n, 0);
	assert_false(snap_dec_done(&d));
	/* Unconsumed bytes: not done. */
	snap_dec_init(&d, e.buf, e.len);
	snap_dec_u8(&d);
	assert_false(snap_dec_done(&d));
	snap_enc_free(&e);
	assert_null(e.buf);
}

/* ---- round trips ---- */

static void test_round_trip(void **state)
{
	struct scratch s;
	struct ram m, fresh;
	char err[256] = "";
	struct stat st;

	(void)state;
	scratch_init(&s);
	ram_sparse(&m);
	save(s.path, NULL, &m);
	assert_int_equal(entries(&s, "", NULL, 0), 1); /* no temporary file left */
	assert_int_equal(stat(s.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600); /* guest RAM: the owner's only */
	/* Sparse: 26 pages of data, and less than two pages of the rest. */
	assert_true((uint64_t)st.st_size < SPARSE_BYTES + 2 * PAGE);

	struct snap_reader *r = snap_reader_open(s.path, NULL, err, sizeof(err));
	assert_non_null(r);
	expect_sections(r);
	assert_int_equal(snap_memory_bytes(r), SPARSE_BYTES);
	assert_int_equal(snap_count(r, SNAP_SEC_MEMORY), 1);
	/* A memory file named for a snapshot that has none is a mistake worth a word. */
	assert_null(snap_reader_open(s.path, s.mpath, err, sizeof(err)));
	assert_non_null(strstr(err, "keeps its RAM inside, not in"));
	ram_fresh(&fresh, &m);
	assert_int_equal(snap_load_memory(r, fresh.r, fresh.n, err, sizeof(err)), 0);
	snap_reader_close(r);
	ram_equal(&m, &fresh); /* still there after close */
	ram_free(&fresh);

	/* The same bytes through a buffer reader: copied. */
	size_t len;
	uint8_t *b = read_file(s.path, &len);
	r = snap_reader_open_buffer(b, len, err, sizeof(err));
	assert_non_null(r);
	expect_sections(r);
	ram_fresh(&fresh, &m);
	assert_int_equal(snap_load_memory(r, fresh.r, fresh.n, err, sizeof(err)), 0);
	ram_equal(&m, &fresh);
	snap_reader_close(r);
	ram_free(&fresh);
	free(b);
	ram_free(&m);
	scratch_free(&s);
}

/* Is [addr, addr+len) mapped from `path` (per /proc/self/maps)? */
static bool mapped_from(const void *addr, size_t len, const char *path)
{
	char real[4096], line[4608];
	FILE *f = fopen("/proc/self/maps", "r");
	bool found = false;

	assert_non_null(realpath(path, real));
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		if ((uintptr_t)addr >= lo && (uintptr_t)addr + len <= hi && strstr(line, real))
			found = true;
	}
	fclose(f);
	return found;
}

static void test_load_maps_privately(void **state)
{
	struct scratch s;
	struct ram m, fresh;
	char err[256] = "";
	size_t before_len, after_len;

	(void)state;
	scratch_init(&s);
	ram_sparse(&m);
	save(s.path, NULL, &m);
	uint8_t *before = read_file(s.path, &before_len);
	struct snap_reader *r = snap_reader_open(s.path, NULL, err, sizeof(err));
	assert_non_null(r);
	ram_fresh(&fresh, &m);
	assert_int_equal(snap_load_memory(r, fresh.r, fresh.n, err, sizeof(err)), 0);
	snap_reader_close(r);

	uint8_t *run = fresh.r[0].hva + 6 * PAGE; /* the 80 KiB extent */
	assert_true(mapped_from(run, 20 * PAGE, s.path));
	assert_false(mapped_from(fresh.r[0].hva + PAGE, PAGE, s.path)); /* 12 KiB: copied */
	ram_equal(&m, &fresh);
	/* The guest writes: private pages, the file stays as it was. */
	memset(run, 0xee, 20 * PAGE);
	memset(fresh.r[0].hva, 0x11, PAGE);
	uint8_t *after = read_file(s.path, &after_len);
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	r = snap_reader_open(s.path, NULL, err, sizeof(err));
	assert_non_null(r);
	snap_reader_close(r);
	free(before);
	free(after);
	ram_free(&fresh);
	ram_free(&m);
	scratch_free(&s);
}

/*
 * A second generation: RAM loaded from a snapshot (the large extent mapped from the file and
 * not yet touched, so not present in the page tables) saved again must keep every page; the
 * fresh anonymous RAM around it, never touched, is skipped without being read.
 */
static void test_second_generation(void **state)
{
	struct scratch s, s2;
	struct ram m, fresh, again;
	char err[256] = "";

	(void)state;
	scratch_init(&s);
	scratch_init(&s2);
	ram_sparse(&m);
	save(s.path, NULL, &m);
	struct snap_reader *r = snap_reader_open(s.path, NULL, err, sizeof(err));
	assert_non_null(r);
	ram_fresh(&fresh, &m);
	assert_int_equal(snap_load_memory(r, fresh.r, fresh.n, err, sizeof(err)), 0);
	snap_reader_close(r);
	assert_true(mapped_from(fresh.r[0].hva + 6 * PAGE, 20 * PAGE, s.path));
	save(s2.path, NULL, &fresh);
	r = snap_reader_open(s2.path, NULL, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(snap_memory_bytes(r), SPARSE_BYTES);
	ram_fresh(&again, &m);
	assert_int_equal(snap_load_memory(r, again.r, again.n, err, sizeof(err)), 0);
	snap_reader_close(r);
	ram_equal(&m, &again);
	ram_free(&again);
	ram_free(&fresh);
	ram_free(&m);
	scratch_free(&s2);
	scratch_free(&s);
}

static void test_memory_file(void **state)
{
	struct scratch s;
	struct ram m, fresh;
	char err[256] = "", other[160], wrong[160];
	struct stat st;

	(void)state;
	scratch_init(&s);
	ram_sparse(&m);
	save(s.path, s.mpath, &m);
	assert_int_equal(entries(&s, "", NULL, 0), 2);
	assert_int_equal(stat(s.path, &st), 0);
	assert_true(st.st_size < (off_t)PAGE); /* sections only */
	assert_int_equal(stat(s.mpath, &st), 0);
	assert_int_equal(st.st_size, PAGE + SPARSE_BYTES);

	/* The memory file is found by the name the snapshot records. */
	struct snap_reader *r = snap_reader_open(s.path, NULL, err, sizeof(err));
	assert_non_null(r);
	expect_sections(r);
	assert_int_equal(snap_memory_bytes(r), SPARSE_BYTES);
	ram_fresh(&fresh, &m);
	assert_int_equal(snap_load_memory(r, fresh.r, fresh.n, err, sizeof(err)), 0);
	assert_true(mapped_from(fresh.r[0].hva + 6 * PAGE, 20 * PAGE, s.mpath));
	ram_equal(&m, &fresh);
	snap_reader_close(r);
	ram_free(&fresh);

	/* A buffer reader cannot reach it. */
	size_t len;
	uint8_t *b = read_file(s.path, &len);
	expect_refused(b, len, "memory file (snap.mem)");
	free(b);

	/* Another snapshot's memory file, of the same size, is refused. */
	snprintf(other, sizeof(other), "%s/other", s.dir);
	snprintf(wrong, sizeof(wrong), "%s/other.mem", s.dir);
	save(other, wrong, &m);
	assert_null(snap_reader_open(s.path, wrong, err, sizeof(err)));
	assert_non_null(strstr(err, "other.mem: belongs to another snapshot"));
	assert_int_equal(rename(wrong, s.mpath), 0);
	assert_null(snap_reader_open(s.path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "snap.mem: belongs to another snapshot"));
	/* Or missing. */
	assert_int_equal(unlink(s.mpath), 0);
	assert_null(snap_reader_open(s.path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "snap.mem: No such file"));
	ram_free(&m);
	scratch_free(&s);
}

/* Damage every byte of a memory file in turn: each is refused. */
static void test_memory_file_damage(void **state)
{
	struct scratch s;
	struct ram m;
	char err[256];
	size_t len;

	(void)state;
	scratch_init(&s);
	ram_small(&m);
	save(s.path, s.mpath, &m);
	uint8_t *b = read_file(s.mpath, &len);
	int fd = open(s.mpath, O_WRONLY);
	assert_true(fd >= 0);
	for (size_t i = 0; i < len; i++) {
		uint8_t bad = b[i] ^ (uint8_t)(1u << (i % 8));
		assert_int_equal(pwrite(fd, &bad, 1, (off_t)i), 1);
		struct snap_reader *r = snap_reader_open(s.path, NULL, err, sizeof(err));
		if (r)
			fail_msg("memory file byte %zu damaged, accepted", i);
		assert_int_equal(pwrite(fd, &b[i], 1, (off_t)i), 1);
	}
	close(fd);
	write_file(s.mpath, b, len - PAGE);
	assert_null(snap_reader_open(s.path, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "truncated"));
	write_file(s.mpath, b, len);
	struct snap_reader *r = snap_reader_open(s.path, NULL, err, sizeof(err));
	assert_non_null(r);
	snap_reader_close(r);
	free(b);
	ram_free(&m);
	scratch_free(&s);
}

static void test_layout_mismatch(void **state)
{
	struct scratch s;
	struct ram m, other;
	char err[256] = "";

	(void)state;
	scratch_init(&s);
	ram_sparse(&m);
	save(s.path, NULL, &m);
	struct snap_reader *r = snap_reader_open(s.path, NULL, err, sizeof(err));
	assert_non_null(r);
	ram_fresh(&other, &m);
	assert_int_equal(snap_load_memory(r, other.r, 1, err, sizeof(err)), -1);
	assert_string_equal(err, "snapshot has 2 RAM regions, this VM 1");
	other.r[1].size = 16 * PAGE;
	assert_int_equal(snap_load_memory(r, other.r, 2, err, sizeof(err)), -1);
	assert_string_equal(err, "snapshot has 32 KiB of RAM at 0x100000000, this VM 64 KiB at "
				 "0x100000000");
	other.r[1].size = 8 * PAGE;
	other.r[1].gpa = 0x200000000ull;
	assert_int_equal(snap_load_memory(r, other.r, 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "this VM 32 KiB at 0x200000000"));
	other.r[1].gpa = 0x100000000ull;
	other.r[1].hva += 8; /* cannot map over that */
	assert_int_equal(snap_load_memory(r, other.r, 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not page-aligned"));
	other.r[1].hva -= 8;
	/* Nothing was touched by the refusals. */
	for (unsigned i = 0; i < 2; i++)
		for (uint64_t b = 0; b < other.r[i].size; b++)
			assert_int_equal(other.r[i].hva[b], 0);
	snap_reader_close(r);
	ram_free(&other);
	ram_free(&m);
	scratch_free(&s);
}

/* A snapshot without RAM, and RAM of zeros only. */
static void test_no_memory(void **state)
{
	struct scratch s;
	struct ram zeros = { .n = 1 };
	char err[256] = "";

	(void)state;
	scratch_init(&s);
	save(s.path, NULL, NULL);
	struct snap_reader *r = snap_reader_open(s.path, NULL, err, sizeof(err));
	assert_non_null(r);
	expect_sections(r);
	assert_int_equal(snap_memory_bytes(r), 0);
	assert_int_equal(snap_count(r, SNAP_SEC_MEMORY), 0);
	snap_reader_close(r);

	zeros.r[0] = (struct snap_mem_region){ 0, 64 * PAGE, ram_alloc(64 * PAGE) };
	save(s.path, NULL, &zeros);
	r = snap_reader_open(s.path, NULL, err, sizeof(err));
	assert_non_null(r);
	assert_int_equal(snap_memory_bytes(r), 0);
	assert_int_equal(snap_load_memory(r, zeros.r, 1, err, sizeof(err)), 0);
	snap_reader_close(r);
	ram_free(&zeros);
	scratch_free(&s);
}

/* ---- the writer's bytes are the documented layout ---- */

static void enc_section(struct snap_enc *e, uint32_t type, uint32_t instance, const void *p,
			size_t len)
{
	uint8_t h[16];
	size_t at = e->len;

	snap_enc_u32(e, type);
	snap_enc_u32(e, instance);
	snap_enc_u64(e, len);
	memcpy(h, e->buf + at, 16);
	snap_enc_u32(e, snap_crc32c_sw(snap_crc32c_sw(0, h, 16), p, len));
	snap_enc_u32(e, 0);
	snap_enc_bytes(e, p, len);
	while (e->len % 8)
		snap_enc_u8(e, 0);
}

static void enc_header(struct snap_enc *e, uint32_t count, const uint8_t *id)
{
	snap_enc_bytes(e, "MPVMSNAP", 8);
	snap_enc_u32(e, 1);
	snap_enc_u32(e, 56);
	snap_enc_u32(e, 0);
	snap_enc_u32(e, count);
	snap_enc_u64(e, 56);
	snap_enc_bytes(e, id, 16);
	snap_enc_u32(e, 0);
	snap_enc_u32(e, snap_crc32c_sw(0, e->buf, 52));
}

struct cext {
	uint64_t gpa, pages;
	int64_t off; /* from the start of the page data */
};

/*
 * A snapshot made by hand: one memory section (instance `instance`) with these regions
 * (gpa, pages pairs) and extents, page data of 0xa5 bytes for them all.
 */
static uint8_t *craft(const uint64_t *regions, unsigned nr, const struct cext *x, unsigned nx,
		      uint32_t instance, size_t *len)
{
	static const uint8_t id[16] = "0123456789abcdef";
	struct snap_enc e = { 0 }, t = { 0 };
	uint64_t pages = 0;

	for (unsigned i = 0; i < nx; i++)
		pages += x[i].pages;
	uint8_t *data = malloc(pages * PAGE + 1);
	memset(data, 0xa5, pages * PAGE);
	size_t payload = 8 + 16 * nr + 32 * nx;
	uint64_t base = (56 + 24 + payload + PAGE - 1) / PAGE * PAGE;
	snap_enc_u32(&t, nr);
	snap_enc_u32(&t, nx);
	for (unsigned i = 0; i < nr; i++) {
		snap_enc_u64(&t, regions[2 * i]);
		snap_enc_u64(&t, regions[2 * i + 1] * PAGE);
	}
	for (unsigned i = 0; i < nx; i++) {
		snap_enc_u64(&t, x[i].gpa);
		snap_enc_u64(&t, x[i].pages * PAGE);
		snap_enc_u64(&t, base + (uint64_t)x[i].off);
		snap_enc_u32(&t, snap_crc32c_sw(0, data, x[i].pages * PAGE));
		snap_enc_u32(&t, 0);
	}
	enc_header(&e, 1, id);
	enc_section(&e, SNAP_SEC_MEMORY, instance, t.buf, t.len);
	if (nx) {
		while (e.len < base)
			snap_enc_u8(&e, 0);
		snap_enc_bytes(&e, data, pages * PAGE);
	}
	assert_false(e.oom);
	free(data);
	snap_enc_free(&t);
	*len = e.len;
	return e.buf;
}

static void test_documented_layout(void **state)
{
	struct scratch s;
	struct ram m;
	struct snap_enc e = { 0 }, t = { 0 };
	size_t len;

	(void)state;
	scratch_init(&s);
	ram_small(&m);
	struct snap_writer *w = snap_writer_open(s.path, NULL, NULL, 0);
	assert_non_null(w);
	assert_int_equal(snap_put(w, SNAP_SEC_VCPU, 2, vcpu0, sizeof(vcpu0) - 1), 0);
	assert_int_equal(snap_put_memory(w, m.r, m.n), 0);
	assert_int_equal(snap_put(w, SNAP_SEC_TRACE, 0, "t", 1), 0);
	assert_int_equal(snap_writer_commit(w, NULL, 0), 0);
	uint8_t *b = read_file(s.path, &len);

	/* The same snapshot, from snapfile.c's description. */
	enc_header(&e, 3, b + 32);
	enc_section(&e, SNAP_SEC_VCPU, 2, vcpu0, sizeof(vcpu0) - 1);
	size_t mem_at = e.len;
	snap_enc_u32(&t, 1);
	snap_enc_u32(&t, 2);
	snap_enc_u64(&t, 0x10000);
	snap_enc_u64(&t, 4 * PAGE);
	snap_enc_u64(&t, 0x11000);
	snap_enc_u64(&t, PAGE);
	snap_enc_u64(&t, PAGE);
	snap_enc_u32(&t, snap_crc32c_sw(0, m.r[0].hva + PAGE, PAGE));
	snap_enc_u32(&t, 0);
	snap_enc_u64(&t, 0x13000);
	snap_enc_u64(&t, PAGE);
	snap_enc_u64(&t, 2 * PAGE);
	snap_enc_u32(&t, snap_crc32c_sw(0, m.r[0].hva + 3 * PAGE, PAGE));
	snap_enc_u32(&t, 0);
	enc_section(&e, SNAP_SEC_MEMORY, 0, t.buf, t.len);
	assert_true(e.len <= PAGE && mem_at < PAGE);
	while (e.len < PAGE)
		snap_enc_u8(&e, 0);
	snap_enc_bytes(&e, m.r[0].hva + PAGE, PAGE);
	snap_enc_bytes(&e, m.r[0].hva + 3 * PAGE, PAGE);
	enc_section(&e, SNAP_SEC_TRACE, 0, "t", 1);
	assert_int_equal(len, e.len);
	assert_memory_equal(b, e.buf, len);

	free(b);
	snap_enc_free(&e);
	snap_enc_free(&t);
	ram_free(&m);
	scratch_free(&s);
}

/* ---- refusals ---- */

static void test_truncated(void **state)
{
	struct scratch s;
	char err[256];
	size_t len;
	char msg[64];

	(void)state;
	scratch_init(&s);
	uint8_t *b = small_snapshot(&s, &len);
	assert_true(len > 3 * PAGE && len < 3 * PAGE + 200); /* 8 KiB of RAM, the rest small */
	for (size_t cut = 0; cut < len; cut++)
		expect_refused(b, cut, "truncated at offset");
	expect_refused(b, 100, "truncated at offset 56 (file is 100 bytes)");
	/* One more byte at the end is refused too. */
	uint8_t *longer = malloc(len + 1);
	memcpy(longer, b, len);
	longer[len] = 0;
	expect_refused(longer, len + 1, "1 bytes after the last section");
	free(longer);
	/* And through a file, at a few offsets. */
	for (size_t cut = 0; cut < len; cut += 1021) {
		write_file(s.path, b, cut);
		assert_null(snap_reader_open(s.path, NULL, err, sizeof(err)));
		snprintf(msg, sizeof(msg), "(file is %zu bytes)", cut);
		assert_non_null(strstr(err, msg));
		assert_non_null(strstr(err, s.path));
	}
	free(b);
	scratch_free(&s);
}

static void test_bit_flips(void **state)
{
	struct scratch s;
	char err[256];
	size_t len;

	(void)state;
	scratch_init(&s);
	uint8_t *b = small_snapshot(&s, &len);
	uint8_t *copy = malloc(len);
	memcpy(copy, b, len);
	struct snap_reader *r = snap_reader_open_buffer(copy, len, err, sizeof(err));
	assert_non_null(r);
	snap_reader_close(r);
	for (size_t bit = 0; bit < 8 * len; bit++) {
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		err[0] = '\0';
		r = snap_reader_open_buffer(copy, len, err, sizeof(err));
		if (r)
			fail_msg("bit %zu (byte %zu) flipped, accepted", bit % 8, bit / 8);
		assert_true(err[0] != '\0' && !strchr(err, '\n'));
		copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	free(copy);
	free(b);
	scratch_free(&s);
}

/* Overwrite a u32 of the header and fix the header's CRC. */
static void patch_header(uint8_t *b, size_t off, uint32_t v)
{
	memcpy(b + off, &v, 4);
	uint32_t crc = snap_crc32c(0, b, 52);
	memcpy(b + 52, &crc, 4);
}

static void test_magic_version(void **state)
{
	struct scratch s;
	char err[256];
	size_t len;

	(void)state;
	scratch_init(&s);
	uint8_t *b = small_snapshot(&s, &len);
	b[0] = 'X';
	expect_refused(b, len, "not an mpvmm snapshot (bad magic)");
	expect_refused(b, 3, "not an mpvmm snapshot (bad magic)");
	b[0] = 'M';
	write_file(s.path, "#!/bin/sh\necho hello\n", 21);
	assert_null(snap_reader_open(s.path, NULL, err, sizeof(err)));
	assert_string_equal(strstr(err, ": ") + 2, "not an mpvmm snapshot (bad magic)");
	patch_header(b, 8, 7);
	expect_refused(b, len, "snapshot format version 7; this mpvmm reads version 1");
	patch_header(b, 8, 1);
	patch_header(b, 16, 2); /* a flag this version does not know */
	expect_refused(b, len, "unknown header flags 0x2");
	patch_header(b, 16, 0);
	b[40] ^= 1; /* in the snapshot id */
	expect_refused(b, len, "header is damaged (CRC mismatch)");
	b[40] ^= 1;
	char dir[] = "/tmp";
	assert_null(snap_reader_open(dir, NULL, err, sizeof(err)));
	assert_string_equal(err, "/tmp: not a regular file");
	free(b);
	scratch_free(&s);
}

static void test_duplicate_section(void **state)
{
	struct scratch s;
	char err[256] = "";
	size_t len;

	(void)state;
	scratch_init(&s);
	struct snap_writer *w = snap_writer_open(s.path, NULL, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(snap_put(w, SNAP_SEC_VCPU, 0, "12345678", 8), 0);
	assert_int_equal(snap_put(w, SNAP_SEC_VCPU, 1, "abcdefgh", 8), 0);
	assert_int_equal(snap_writer_commit(w, err, sizeof(err)), 0);
	uint8_t *b = read_file(s.path, &len);
	assert_int_equal(len, 56 + 2 * 32);
	/* The second section becomes vcpu #0, with a CRC that matches. */
	uint32_t zero = 0;
	memcpy(b + 88 + 4, &zero, 4);
	uint32_t crc = snap_crc32c(snap_crc32c(0, b + 88, 16), b + 88 + 24, 8);
	memcpy(b + 88 + 16, &crc, 4);
	expect_refused(b, len, "section vcpu #0 appears twice");
	/* Or damaged: named with its type and instance. */
	b[88 + 24] ^= 0x40;
	expect_refused(b, len, "section vcpu #0 is damaged (CRC mismatch)");
	free(b);

	/* The writer refuses to write one twice, and the memory section through snap_put. */
	w = snap_writer_open(s.path, NULL, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(snap_put(w, SNAP_SEC_DEVICE, 4, "x", 1), 0);
	assert_int_equal(snap_put(w, SNAP_SEC_DEVICE, 4, "y", 1), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(snap_put(w, SNAP_SEC_DEVICE, 5, "y", 1), -1); /* broken for good */
	snap_writer_abort(w);
	w = snap_writer_open(s.path, NULL, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(snap_put(w, SNAP_SEC_MEMORY, 0, "y", 1), -1);
	assert_int_equal(errno, EINVAL);
	snap_writer_abort(w);
	scratch_free(&s);
}

static void test_extent_tables(void **state)
{
	static const uint64_t one[] = { 0, 4 }, two[] = { 0, 1, 0x1000, 1 };
	static const uint64_t overlapping[] = { 0, 2, 0x1000, 2 }, odd[] = { 0x800, 4 };
	size_t len;
	struct {
		const uint64_t *regions;
		unsigned nr;
		struct cext x[2];
		unsigned nx;
		uint32_t instance;
		const char *what;
	} cases[] = {
		{ one, 1, { { 0, 1, 0 }, { 0x3000, 1, PAGE } }, 2, 0, NULL }, /* valid */
		{ one, 1, { { 0, 2, 0 }, { 0x1000, 1, 2 * PAGE } }, 2, 0, "overlaps or precedes" },
		{ one, 1, { { 0x2000, 1, 0 }, { 0, 1, PAGE } }, 2, 0, "overlaps or precedes" },
		{ one, 1, { { 0x3000, 2, 0 } }, 1, 0, "outside the saved RAM" },
		{ one, 1, { { 0x4000, 1, 0 } }, 1, 0, "outside the saved RAM" },
		{ two, 2, { { 0, 2, 0 } }, 1, 0, "outside the saved RAM" }, /* spans two */
		{ one, 1, { { 0, 1, 1 } }, 1, 0, "not page-aligned" },
		{ one, 1, { { 0x800, 1, 0 } }, 1, 0, "not page-aligned" },
		{ one, 1, { { 0, 1, PAGE } }, 1, 0, "expected" },
		{ one, 1, { { 0, 1, 0 }, { 0x2000, 1, 2 * PAGE } }, 2, 0, "expected" },
		{ one, 1, { { 0, 0, 0 } }, 1, 0, "malformed" },
		{ overlapping, 2, { { 0, 1, 0 } }, 1, 0, "overlaps the one before" },
		{ odd, 1, { { 0x1000, 1, 0 } }, 1, 0, "not page-aligned" },
		{ one, 1, { { 0, 1, 0 } }, 1, 1, "memory has only instance 0" },
	};

	(void)state;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *b = craft(cases[i].regions, cases[i].nr, cases[i].x, cases[i].nx,
				   cases[i].instance, &len);
		if (!cases[i].what) {
			char err[256];
			struct snap_reader *r = snap_reader_open_buffer(b, len, err, sizeof(err));
			if (!r)
				fail_msg("case %u: %s", i, err);
			assert_int_equal(snap_memory_bytes(r), 2 * PAGE);
			snap_reader_close(r);
		} else {
			expect_refused(b, len, cases[i].what);
		}
		free(b);
	}
	/* A table whose counts disagree with its length. */
	uint8_t *b = craft(one, 1, NULL, 0, 0, &len);
	b[56 + 24 + 4] = 1; /* one extent, 0 bytes of it */
	uint32_t crc = snap_crc32c(snap_crc32c(0, b + 56, 16), b + 80, 24);
	memcpy(b + 56 + 16, &crc, 4);
	expect_refused(b, len, "section memory #0 is malformed");
	free(b);
}

/* ---- atomic saves ---- */

static void test_abort(void **state)
{
	struct scratch s;
	struct ram m;
	char err[256] = "";

	(void)state;
	scratch_init(&s);
	ram_sparse(&m);
	struct snap_writer *w = snap_writer_open(s.path, s.mpath, err, sizeof(err));
	assert_non_null(w);
	put_sections(w, &m);
	assert_int_equal(entries(&s, ".snap.tmp.", NULL, 0), 1);
	assert_int_equal(entries(&s, ".snap.mem.tmp.", NULL, 0), 1);
	snap_writer_abort(w);
	assert_int_equal(entries(&s, "", NULL, 0), 0);

	/* A failed put: commit refuses, says why, and leaves nothing. */
	w = snap_writer_open(s.path, NULL, err, sizeof(err));
	assert_non_null(w);
	struct snap_mem_region crooked = m.r[0];
	crooked.size = 100;
	assert_int_equal(snap_put_memory(w, &crooked, 1), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(snap_writer_commit(w, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not saved, an earlier write failed: Invalid argument"));
	assert_int_equal(entries(&s, "", NULL, 0), 0);

	/* No directory to write in. */
	char nowhere[200];
	snprintf(nowhere, sizeof(nowhere), "%s/absent/snap", s.dir);
	assert_null(snap_writer_open(nowhere, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "No such file or directory"));
	/* A memory file that is the snapshot itself, or has no name. */
	assert_null(snap_writer_open(s.path, s.path, err, sizeof(err)));
	assert_non_null(strstr(err, "not a usable name for a snapshot"));
	snprintf(nowhere, sizeof(nowhere), "%s/", s.dir);
	assert_null(snap_writer_open(s.path, nowhere, err, sizeof(err)));
	assert_non_null(strstr(err, "not a usable name for a snapshot's memory file"));
	assert_null(snap_writer_open(nowhere, NULL, err, sizeof(err)));
	snprintf(nowhere, sizeof(nowhere), "%s/two\nlines", s.dir);
	assert_null(snap_writer_open(s.path, nowhere, err, sizeof(err)));
	assert_int_equal(entries(&s, "", NULL, 0), 0);
	ram_free(&m);
	scratch_free(&s);
}

/* Wait for the child to stop itself, or for a temporary file of more than `bytes`. */
static void wait_for(pid_t pid, const struct scratch *s, off_t bytes)
{
	char tmp[512];
	struct stat st;
	int status;

	for (int i = 0; i < 20000; i++) {
		pid_t w = waitpid(pid, &status, WNOHANG | WUNTRACED);
		assert_true(w == 0 || w == pid);
		if (w == pid) {
			assert_true(WIFSTOPPED(status));
			return;
		}
		if (bytes && entries(s, ".snap.tmp.", tmp, sizeof(tmp)) &&
		    stat(tmp, &st) == 0 && st.st_size > bytes)
			return;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	fail_msg("the saving child neither stopped nor wrote");
}

static void kill_child(pid_t pid)
{
	int status;

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* The child saves 128 MiB of non-zero RAM, stopping itself before the commit. */
static void child_save(const char *path)
{
	struct snap_mem_region big = { 0, 128u << 20, NULL };
	char err[256];

	big.hva = mmap(NULL, big.size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (big.hva == MAP_FAILED)
		_exit(2);
	memset(big.hva, 0x5a, big.size);
	struct snap_writer *w = snap_writer_open(path, NULL, err, sizeof(err));
	if (!w || snap_put(w, SNAP_SEC_MACHINE, 0, "new", 3) < 0 ||
	    snap_put_memory(w, &big, 1) < 0)
		_exit(3);
	raise(SIGSTOP);
	_exit(snap_writer_commit(w, err, sizeof(err)) < 0 ? 4 : 0);
}

static void test_kill_mid_save(void **state)
{
	struct scratch s;
	char err[256] = "";

	(void)state;
	scratch_init(&s);
	/* Killed while writing the page data (or at the latest before the commit). */
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_save(s.path);
	wait_for(pid, &s, 1 << 20);
	kill_child(pid);
	assert_int_equal(access(s.path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(entries(&s, "", NULL, 0), 1);
	assert_int_equal(entries(&s, ".snap.tmp.", NULL, 0), 1); /* obviously temporary */

	/* Killed when stopped before its commit, over an older snapshot: which stays. */
	save(s.path, NULL, NULL);
	size_t old_len, now_len;
	uint8_t *old = read_file(s.path, &old_len);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_save(s.path);
	wait_for(pid, &s, 0);
	kill_child(pid);
	uint8_t *now = read_file(s.path, &now_len);
	assert_int_equal(now_len, old_len);
	assert_memory_equal(now, old, old_len);
	struct snap_reader *r = snap_reader_open(s.path, NULL, err, sizeof(err));
	assert_non_null(r);
	expect_sections(r);
	snap_reader_close(r);
	free(old);
	free(now);
	scratch_free(&s);
}

/* ---- replacing a pair (main file + memory file): rename(2) made to fail or kill ---- */

/*
 * rename(2), wrapped (-Wl,--wrap=rename in meson.build): the call numbered `rename_fail_at`
 * fails with EIO; the process kills itself before the call numbered `rename_kill_before`,
 * or after the one numbered `rename_kill_after`.  Counting starts at 1 after rename_reset.
 */
int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to);
static int rename_calls, rename_fail_at, rename_kill_before, rename_kill_after;

int __wrap_rename(const char *from, const char *to)
{
	int n = ++rename_calls;

	if (n == rename_fail_at) {
		errno = EIO;
		return -1;
	}
	if (n == rename_kill_before)
		raise(SIGKILL);
	int r = __real_rename(from, to);
	if (n == rename_kill_after)
		raise(SIGKILL);
	return r;
}

static void rename_reset(void)
{
	rename_calls = rename_fail_at = rename_kill_before = rename_kill_after = 0;
}

/* One page of guest RAM whose bytes depend on `gen`, saved with a section naming it. */
static void save_generation(const struct scratch *s, uint32_t gen, char *err, size_t errlen,
			    int *result)
{
	struct snap_mem_region page = { 0, PAGE, ram_alloc(PAGE) };
	struct snap_writer *w = snap_writer_open(s->path, s->mpath, err, errlen);

	assert_non_null(w);
	fill_page(page.hva, gen);
	assert_int_equal(snap_put(w, SNAP_SEC_MACHINE, 0, &gen, sizeof(gen)), 0);
	assert_int_equal(snap_put_memory(w, &page, 1), 0);
	*result = snap_writer_commit(w, err, errlen);
	munmap(page.hva, PAGE);
}

/* The generation the snapshot at s->path restores, its RAM checked; 0 when none restores. */
static uint32_t restored_generation(const struct scratch *s)
{
	char err[256] = "";
	struct snap_reader *r = snap_reader_open(s->path, NULL, err, sizeof(err));
	uint32_t gen = 0;
	size_t len = 0;

	if (!r)
		return 0;
	const void *p = snap_get(r, SNAP_SEC_MACHINE, 0, &len);
	assert_non_null(p);
	assert_int_equal(len, sizeof(gen));
	memcpy(&gen, p, sizeof(gen));
	struct snap_mem_region page = { 0, PAGE, ram_alloc(PAGE) };
	uint8_t want[PAGE];
	fill_page(want, gen);
	assert_int_equal(snap_load_memory(r, &page, 1, err, sizeof(err)), 0);
	assert_memory_equal(page.hva, want, PAGE);
	munmap(page.hva, PAGE);
	snap_reader_close(r);
	return gen;
}

/* A failing rename at each of the three steps: the old pair, or (at the last) the new one. */
static void test_pair_rename_fails(void **state)
{
	struct scratch s;
	char err[256] = "";
	int result;

	(void)state;
	for (int step = 1; step <= 3; step++) {
		scratch_init(&s);
		rename_reset();
		save_generation(&s, 1, err, sizeof(err), &result);
		assert_int_equal(result, 0);
		assert_string_equal(err, "");
		rename_reset();
		rename_fail_at = step;
		save_generation(&s, 2, err, sizeof(err), &result);
		if (step < 3) {
			assert_int_equal(result, -1);
			assert_non_null(strstr(err, "rename: Input/output error"));
			assert_int_equal(restored_generation(&s), 1);
			assert_int_equal(entries(&s, "", NULL, 0), 2); /* nothing staged is left */
		} else {
			/* Switched, the memory file not renamed back: saved, with a note. */
			assert_int_equal(result, 0);
			assert_non_null(strstr(err, "the memory file stays at"));
			assert_int_equal(restored_generation(&s), 2);
			assert_int_equal(entries(&s, "snap.mem.", NULL, 0), 1);
		}
		rename_reset();
		/* The next save over either state leaves exactly the new pair. */
		save_generation(&s, 3, err, sizeof(err), &result);
		assert_int_equal(result, 0);
		assert_int_equal(restored_generation(&s), 3);
		scratch_free(&s);
	}
}

/* SIGKILL before and after each rename: the old pair or the new one restores, never neither. */
static void test_pair_killed_at_each_step(void **state)
{
	struct scratch s;
	char err[256] = "";
	int result, status;
	unsigned saw_old = 0, saw_new = 0;

	(void)state;
	for (int point = 0; point < 6; point++) {
		scratch_init(&s);
		rename_reset();
		save_generation(&s, 1, err, sizeof(err), &result);
		assert_int_equal(result, 0);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			rename_reset();
			if (point % 2)
				rename_kill_after = point / 2 + 1;
			else
				rename_kill_before = point / 2 + 1;
			save_generation(&s, 2, err, sizeof(err), &result);
			_exit(3); /* not killed: the test is broken */
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		uint32_t gen = restored_generation(&s);
		assert_true(gen == 1 || gen == 2);
		saw_old += gen == 1;
		saw_new += gen == 2;
		/* The main file says which pair: before its rename the old one, after it the new. */
		assert_int_equal(gen, point >= 3 ? 2 : 1);
		scratch_free(&s);
	}
	assert_int_equal(saw_old, 3);
	assert_int_equal(saw_new, 3);
}

/* Files are 0600 whatever the umask allows: a snapshot holds guest RAM. */
static void test_file_modes(void **state)
{
	struct scratch s;
	struct ram m;
	struct stat st;

	(void)state;
	scratch_init(&s);
	ram_sparse(&m);
	mode_t old = umask(0);
	save(s.path, s.mpath, &m);
	umask(old);
	assert_int_equal(stat(s.path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(s.mpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	ram_free(&m);
	scratch_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32c_sw),
		cmocka_unit_test(test_crc32c_hw),
		cmocka_unit_test(test_enc_dec),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_load_maps_privately),
		cmocka_unit_test(test_second_generation),
		cmocka_unit_test(test_memory_file),
		cmocka_unit_test(test_memory_file_damage),
		cmocka_unit_test(test_layout_mismatch),
		cmocka_unit_test(test_no_memory),
		cmocka_unit_test(test_documented_layout),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_magic_version),
		cmocka_unit_test(test_duplicate_section),
		cmocka_unit_test(test_extent_tables),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_kill_mid_save),
		cmocka_unit_test(test_pair_rename_fails),
		cmocka_unit_test(test_pair_killed_at_each_step),
		cmocka_unit_test(test_file_modes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
