/*
 * snapfile_seeds.c - writes the seed corpus of fuzz_snapfile: a few small, valid snapshots
 * made by the real writer.  `snapfile_seeds DIR` (DIR is fuzz/corpus/snapfile); the
 * snapshot ids are random, so a rerun changes every file without changing what they cover.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "snapshot/snapfile.h"

#define PAGE 4096u

static const char *dir;

static struct snap_writer *start(const char *name, const char *memname)
{
	char path[4096], mpath[4096], err[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(mpath, sizeof(mpath), "%s/%s", dir, memname ? memname : "");
	struct snap_writer *w = snap_writer_open(path, memname ? mpath : NULL, err, sizeof(err));
	if (!w) {
		fprintf(stderr, "snapfile_seeds: %s\n", err);
		exit(1);
	}
	return w;
}

static void check(int r, const char *what)
{
	if (r < 0) {
		perror(what);
		exit(1);
	}
}

static void finish(struct snap_writer *w)
{
	char err[256];

	if (snap_writer_commit(w, err, sizeof(err)) < 0) {
		fprintf(stderr, "snapfile_seeds: %s\n", err);
		exit(1);
	}
}

/* Sections of every kind, some needing padding, one of a type no version knows yet. */
static void sections(struct snap_writer *w)
{
	struct snap_enc e = { 0 };

	snap_enc_u32(&e, 2);
	snap_enc_blob(&e, "kvm", 3);
	snap_enc_u8(&e, 1);
	check(snap_put(w, SNAP_SEC_MACHINE, 0, e.buf, e.len), "machine");
	check(snap_put(w, SNAP_SEC_VCPU, 0, "rip=0xfff0", 10), "vcpu");
	check(snap_put(w, SNAP_SEC_VCPU, 1, "", 0), "vcpu");
	check(snap_put(w, SNAP_SEC_DEVICE, 3, "\x01\x02\x03\x04\x05\x06\x07\x08\x09", 9), "device");
	check(snap_put(w, 99, 7, "later", 5), "unknown");
	snap_enc_free(&e);
}

static uint8_t *ram(unsigned pages)
{
	uint8_t *p = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: snapfile_seeds DIR\n");
		return 2;
	}
	dir = argv[1];

	struct snap_writer *w = start("sections-only", NULL);
	sections(w);
	finish(w);

	/* One region of 8 pages: pages 2-3 (one extent) and 7 (the last) non-zero. */
	struct snap_mem_region one = { 0x100000, 8 * PAGE, ram(8) };
	memset(one.hva + 2 * PAGE + 100, 0x41, 5000);
	one.hva[8 * PAGE - 1] = 0x42;
	w = start("sparse", NULL);
	check(snap_put(w, SNAP_SEC_VM, 0, "irqchip", 7), "vm");
	check(snap_put_memory(w, &one, 1), "memory");
	sections(w);
	finish(w);

	/* Two regions, one page of data in each; RAM of zeros only. */
	struct snap_mem_region two[2] = { { 0, 4 * PAGE, ram(4) },
					  { 0x100000000ull, 4 * PAGE, ram(4) } };
	two[0].hva[0] = 1;
	two[1].hva[3 * PAGE + 17] = 2;
	w = start("two-regions", NULL);
	check(snap_put_memory(w, two, 2), "memory");
	finish(w);
	struct snap_mem_region zeros = { 0, 16 * PAGE, ram(16) };
	w = start("zero-ram", NULL);
	check(snap_put(w, SNAP_SEC_TRACE, 0, "t", 1), "trace");
	check(snap_put_memory(w, &zeros, 1), "memory");
	finish(w);

	/* Page data in a memory file: the main file alone names it (and a buffer refuses it). */
	w = start("memfile-main", "memfile-main.mem");
	sections(w);
	check(snap_put_memory(w, &one, 1), "memory");
	finish(w);
	char mpath[4096];
	snprintf(mpath, sizeof(mpath), "%s/memfile-main.mem", dir);
	check(remove(mpath), mpath);
	return 0;
}
