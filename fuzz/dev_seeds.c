/*
 * dev_seeds.c - writes the seed corpora of the device harnesses (fuzz/fuzz_<model>.c): for
 * each model a few operation lists in dev_fuzz.h's language that program it the way a guest
 * does (a 16550A brought up with FIFOs and interrupts, Linux's i8042 probe, ...), with
 * time passing and snapshots in between.
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

/* ---- the RTC: where 0 = index, 1 = data ------------------------------------------------- */

static void rtc_reg(uint8_t index, int value)
{
	out8(0, index);
	if (value < 0)
		in8(1);
	else
		out8(1, (uint8_t)value);
}

static void rtc_seeds(void)
{
	static const uint8_t clock[] = { 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32,
					 0x0a, 0x0b, 0x0c, 0x0d };

	for (size_t i = 0; i < sizeof(clock); i++)
		rtc_reg(clock[i], -1);
	snap(DEV_SNAP_COPY, 0, 0);
	put("rtc", "read-clock");
	/* Set the clock with SET on, in BCD; read it in 12-hour and binary modes. */
	rtc_reg(0x0b, 0x82), rtc_reg(0x00, 0x59), rtc_reg(0x02, 0x30), rtc_reg(0x04, 0x23);
	rtc_reg(0x07, 0x31), rtc_reg(0x08, 0x12), rtc_reg(0x09, 0x99), rtc_reg(0x32, 0x19);
	rtc_reg(0x0b, 0x00), rtc_reg(0x04, -1), rtc_reg(0x04, 0x92), rtc_reg(0x0b, 0x06);
	rtc_reg(0x04, -1), rtc_reg(0x09, 0x05), rtc_reg(0x0a, 0xa6), rtc_reg(0x0a, -1);
	snap(DEV_SNAP_XOR, 2, 0x7f);
	put("rtc", "set-clock");
	/* CMOS RAM, the NMI mask, the VMM's own CMOS writes. */
	out8(0, 0x8f), model(1, 0, 0, 0), in8(1), out8(1, 0xaa), rtc_reg(0x7f, 0x55);
	rtc_reg(0x7f, -1), wr(1, 0, 0, 0x3410), model(0, 0, 0x34, 0x12), model(0, 0, 0x32, 1);
	model(0, 0, 0x05, 1), model(1, 0, 0, 0), snap(DEV_SNAP_CUT, 100, 0);
	put("rtc", "cmos-nmi");
}

/* ---- fw_cfg: where 0 = selector, 1 = data; config byte 0: CPUs - 1 ------------------------ */

static void fw_select(uint16_t key)
{
	wr(1, 0, 0, key);
}

static void fw_cfg_seeds(void)
{
	byte(3);
	fw_select(0x0000), in8(1), in8(1), in8(1), in8(1), in8(1), fw_select(0x0001);
	rd(2, 0, 1), fw_select(0x0003), rd(2, 0, 1), rd(2, 0, 1), fw_select(0x0005), rd(1, 0, 1);
	snap(DEV_SNAP_COPY, 0, 0);
	put("fw_cfg", "legacy-items");
	/* The file directory, then the files it names. */
	byte(0);
	fw_select(0x0019);
	for (int i = 0; i < 34; i++)
		rd(2, 0, 1);
	fw_select(0x0020), rd(2, 0, 1), rd(2, 0, 1), fw_select(0x0021), in8(1);
	snap(DEV_SNAP_XOR, 4, 0x03), in8(1);
	put("fw_cfg", "file-dir");
	/* Files added, a name already there, keys with the write and arch bits, a byte select. */
	byte(0x7f);
	model(0, 0, 16, 0x6c69662f6374), model(0, 0, 1, 0x6c69662f6374), fw_select(0x0022);
	rd(2, 0, 1), fw_select(0x4000), in8(1), fw_select(0x8000), in8(1), out8(0, 0x01);
	in8(1), out8(1, 0x55), rd(2, 0, 0), snap(DEV_SNAP_CUT, 4, 0);
	put("fw_cfg", "add-files");
}

/* ---- i8042: where 0 = data, 1 = status/command -------------------------------------------- */

static void i8042_seeds(void)
{
	/* Linux's i8042 probe: command byte, self-tests, AUX loopback. */
	out8(1, 0x20), in8(1), in8(0), out8(1, 0x60), out8(0, 0x47), out8(1, 0xaa), in8(0);
	out8(1, 0xab), in8(0), out8(1, 0xa8), out8(1, 0xa9), in8(0), out8(1, 0xd3);
	out8(0, 0x5a), in8(1), in8(0), out8(1, 0xd2), out8(0, 0xa5), in8(0), out8(1, 0xa7);
	in8(1), snap(DEV_SNAP_COPY, 0, 0);
	put("i8042", "linux-probe");
	/* The reset line: pulse command, output port write, and A20. */
	out8(1, 0xd0), in8(0), out8(1, 0xd1), out8(0, 0xdd), out8(1, 0xd1), out8(0, 0xde);
	out8(1, 0xfe), out8(1, 0xf0), snap(DEV_SNAP_XOR, 34, 0xd1);
	put("i8042", "reset-line");
	/* A queue nobody reads, then read; controller RAM; AUX data to no mouse. */
	for (int i = 0; i < 18; i++)
		out8(1, 0xaa);
	in8(1), in8(0), out8(1, 0x7f), out8(0, 0x99), out8(1, 0x3f), in8(0), out8(1, 0xd4);
	out8(0, 0xf4), out8(0, 0xed), wr(1, 0, 0, 0x2020), snap(DEV_SNAP_INSERT, 40, 1);
	put("i8042", "queue-full");
}

/* ---- ACPI PM1a: where = port - 0x600 ----------------------------------------------------- */

static void acpi_pm_seeds(void)
{
	/* The power button's SCI: enabled, raised, cleared; then S5. */
	wr(1, 0, 2, 0x0120), model(0, 0, 0, 0x0100), rd(1, 0, 0), wr(1, 0, 0, 0x0100);
	rd(1, 0, 0), rd(1, 0, 4), snap(DEV_SNAP_COPY, 0, 0), wr(1, 0, 4, 0x3400);
	put("acpi_pm", "sci-s5");
	/* Sleep states that are not S5, byte writes to PM1_CNT's high byte, dword accesses. */
	for (int i = 0; i < 10; i++)
		out8(5, 0x2c);
	out8(4, 0x02), rd(2, 0, 0), wr(2, 0, 2, 0xffffffff), model(0, 0, 0, 0xffff);
	rd(2, 0, 3), snap(DEV_SNAP_XOR, 0, 0x01), out8(5, 0x20);
	put("acpi_pm", "sleep-states");
}

/* ---- PCI mechanism #1: where = port - 0xcf8 ----------------------------------------------- */

static void pci_none_seeds(void)
{
	/* Linux's mechanism #1 probe, then #2's, and a config read that finds nothing. */
	wr(2, 0, 0, 0x80000000), rd(2, 0, 0), in8(0), in8(2), wr(2, 0, 0, 0x8000f8ff);
	rd(2, 0, 4), rd(1, 0, 6), in8(7), snap(DEV_SNAP_COPY, 0, 0);
	put("pci_none", "probe");
	/* The reset control register: hard reset kept, then RST_CPU. */
	out8(1, 0x02), in8(1), wr(1, 0, 0, 0x0200), snap(DEV_SNAP_XOR, 4, 0x02), out8(1, 0x06);
	put("pci_none", "reset-cf9");
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: dev_seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	serial_seeds();
	rtc_seeds();
	fw_cfg_seeds();
	i8042_seeds();
	acpi_pm_seeds();
	pci_none_seeds();
	return 0;
}
