/*
 * dev_seeds.c - writes the seed corpora of the device harnesses (fuzz/fuzz_<model>.c): for
 * each model a few operation lists in dev_fuzz.h's language that program it the way a guest
 * does (a 16550A brought up with FIFOs and interrupts, ...), with time passing and
 * snapshots in between.
 * `dev_seeds DIR` (DIR is fuzz/corpus: one directory per harness).  The `where` of each
 * access is the harness's: its header says how it maps to an address.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dev_fuzz.h"

static const char *dir;
static uint8_t seed[4096];
static size_t len;

static void byte(uint8_t v)
{
	if (len == sizeof(seed))
		abort();
	seed[len++] = v;
}

static void field(uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		byte((uint8_t)(v >> (8 * i)));
}

static void put(const char *corpus, const char *name)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, corpus);
	mkdir(path, 0777);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, corpus, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(seed, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	len = 0;
}

static uint8_t opbyte(enum dev_op kind, unsigned arg, unsigned flags)
{
	return (uint8_t)(kind | (arg & 7) << 3 | (flags & 3) << 6);
}

/* A write of 1, 2 or 4 bytes by arg (port I/O) or 1-8 (MMIO: arg = size - 1). */
static void wr(unsigned arg, unsigned flags, uint8_t where, uint32_t v)
{
	byte(opbyte(DEV_OP_WRITE, arg, flags));
	byte(where);
	field(v, 4);
}

static void rd(unsigned arg, unsigned flags, uint8_t where)
{
	byte(opbyte(DEV_OP_READ, arg, flags));
	byte(where);
}

/* Port I/O, one byte. */
static void out8(uint8_t where, uint8_t v)
{
	wr(0, 0, where, v);
}

static void in8(uint8_t where)
{
	rd(0, 0, where);
}

/* The clock moves delta << (4 * scale) ns. */
static void wait(unsigned scale, uint16_t delta)
{
	byte(opbyte(DEV_OP_TIME, scale, 0));
	field(delta, 2);
}

static void snap(enum dev_snap mode, uint16_t off, uint8_t b)
{
	byte(opbyte(DEV_OP_SNAP, mode, 0));
	field(off, 2);
	byte(b);
}

static void model(unsigned which, unsigned flags, uint8_t a, uint64_t b)
{
	byte(opbyte((enum dev_op)(DEV_OP_MODEL + which), 0, flags));
	byte(a);
	field(b, 8);
}

/* ---- serial: where = port - 0x3f8 ------------------------------------------------------- */

static void serial_seeds(void)
{
	/* 115200 8N1, FIFOs with a 14-byte trigger, OUT2 and every interrupt on. */
	out8(3, 0x80), out8(0, 1), out8(1, 0), out8(3, 0x03), out8(2, 0xc7), out8(4, 0x0b);
	out8(1, 0x0f), in8(2), out8(0, 'h'), out8(0, 'i'), out8(0, '\n'), in8(2), in8(5);
	model(0, 0, 20, 0x6f6c6c6568206f6cull);
	in8(2), in8(0), in8(0), in8(5), in8(0), snap(DEV_SNAP_COPY, 0, 0);
	wait(4, 0x100), model(0, 0, 5, 0x0a21), in8(2), in8(6), model(1, 0, 0, 0);
	snap(DEV_SNAP_XOR, 7, 0x01);
	put("serial", "fifo-irq");
	/* Loopback: what is sent comes back, the modem lines follow MCR. */
	out8(4, 0x1f), out8(1, 0x01), out8(0, 0x55), out8(0, 0xaa), in8(2), in8(0), in8(6);
	out8(4, 0x10), in8(6), in8(0), in8(0), snap(DEV_SNAP_COPY, 0, 0), out8(4, 0x08), in8(6);
	put("serial", "loopback");
	/* 16450 mode: one byte of receiver, the second overruns. */
	out8(2, 0x00), out8(4, 0x08), out8(1, 0x05), model(0, 0, 3, 0x414243), in8(2), in8(5);
	in8(0), in8(5), in8(2), snap(DEV_SNAP_CUT, 12, 0), snap(DEV_SNAP_INSERT, 3, 0x80);
	put("serial", "overrun-16450");
	/* Word and dword accesses, one running past the UART's last register. */
	wr(1, 0, 3, 0x0383), wr(2, 0, 0, 0x00030001), rd(2, 0, 4), rd(1, 0, 7), wr(2, 0, 6, ~0u);
	snap(DEV_SNAP_XOR, 16, 0x10);
	put("serial", "wide");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: dev_seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	serial_seeds();
	return 0;
}
