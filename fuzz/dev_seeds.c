/*
 * dev_seeds.c - writes the seed corpora of the device harnesses (fuzz/fuzz_<model>.c): for
 * each model a few operation lists in dev_fuzz.h's language that program it the way a guest
 * does (a 16550A brought up with FIFOs and interrupts, Linux's i8042 probe, its 8259A and
 * 8254 set-up, an SMP start with INIT and SIPIs, ...), with time passing and snapshots in
 * between.
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

/* ---- the 8259A pair: where 0-5 = 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1 -------------------- */

static void pic_init(uint8_t master_icw4, uint8_t slave_icw4)
{
	out8(0, 0x11), out8(1, 0x30), out8(1, 0x04), out8(1, master_icw4);
	out8(2, 0x11), out8(3, 0x38), out8(3, 0x02), out8(3, slave_icw4);
}

static void pic_seeds(void)
{
	/* Linux's init_8259A, then IRQ 1 taken, EOI'd, and ISR/IRR read. */
	pic_init(0x01, 0x01), out8(1, 0xf9), out8(3, 0xff), out8(5, 0x0c);
	model(0, 0, 1, 1), model(1, 0, 0, 0), out8(0, 0x0b), in8(0), out8(0, 0x20);
	model(0, 0, 1, 0), out8(0, 0x0a), in8(0), in8(1), snap(DEV_SNAP_COPY, 0, 0);
	put("pic", "linux-init");
	/* The slave in automatic EOI with rotation, special mask mode, poll. */
	pic_init(0x01, 0x03), out8(1, 0x00), out8(3, 0x00), out8(2, 0x80);
	model(0, 0, 10, 1), model(0, 0, 3, 1), model(1, 0, 0, 0), model(1, 0, 0, 0);
	out8(0, 0x68), out8(0, 0x0c), in8(0), out8(2, 0x0c), in8(2), out8(0, 0xc7);
	out8(0, 0x62), out8(0, 0xa0), out8(0, 0x48), snap(DEV_SNAP_XOR, 9, 0x20);
	put("pic", "aeoi-smm-poll");
	/* Level-triggered IRQs by ELCR: requests stay while their input is high. */
	pic_init(0x01, 0x01), out8(4, 0x28), out8(5, 0x0e), out8(1, 0x00), out8(3, 0x00);
	model(0, 0, 5, 1), model(0, 0, 11, 1), model(1, 0, 0, 0), out8(0, 0x20);
	model(1, 0, 0, 0), out8(2, 0x63), out8(0, 0x62), model(0, 0, 5, 0), model(2, 0, 0, 0);
	in8(4), in8(5), snap(DEV_SNAP_CUT, 20, 0);
	put("pic", "elcr-level");
}

/* ---- the I/O APIC: where = offset; flags bit 0: where * 16 -------------------------------- */

static void ioapic_set(uint8_t index, uint32_t v)
{
	wr(3, 0, 0x00, index), wr(3, 0, 0x10, v);
}

static void ioapic_seeds(void)
{
	/* Pin 1 level-triggered to vector 0x31, physical destination 1: sent, EOI'd, sent. */
	ioapic_set(0x13, 0x01000000), ioapic_set(0x12, 0x0000a031);
	model(0, 0, 1, 1), wr(3, 0, 0x40, 0x31), wr(3, 0, 0x40, 0x31), model(1, 0, 0x31, 0);
	model(0, 0, 1, 0), wr(3, 0, 0x00, 0x00), rd(3, 0, 0x10), wr(3, 0, 0x00, 0x01);
	rd(3, 0, 0x10), wr(3, 0, 0x00, 0x02), rd(3, 0, 0x10), snap(DEV_SNAP_COPY, 0, 0);
	snap(DEV_SNAP_XOR, 40, 0x40);
	put("ioapic", "level-eoi");
	/* An edge on a masked pin is lost; unmasked, the next edge goes; logical, lowest. */
	ioapic_set(0x14, 0x00010941), model(0, 0, 2, 1), model(0, 0, 2, 0);
	ioapic_set(0x14, 0x00000941), ioapic_set(0x15, 0xff000000), model(0, 0, 2, 1);
	wr(3, 0, 0x00, 0x14), rd(3, 0, 0x10), model(2, 0, 0, 0), model(0, 0, 23, 1);
	wr(3, 0, 0x00, 0x00), wr(3, 0, 0x10, 0x0f000000), snap(DEV_SNAP_INSERT, 5, 7);
	put("ioapic", "edge-masked");
	/* What only 32-bit IOWIN takes, at other widths and offsets; reserved delivery modes. */
	wr(0, 0, 0x00, 0x10), rd(7, 0, 0x10), wr(1, 0, 0x10, 0x300), rd(3, 1, 0x03);
	ioapic_set(0x10, 0x00000330), model(0, 0, 0, 1), ioapic_set(0x40, 1), rd(3, 0, 0x40);
	snap(DEV_SNAP_CUT, 30, 0);
	put("ioapic", "widths");
}

/* ---- the 8254: where 0-4 = 0x40, 0x41, 0x42, 0x43, 0x61 ---------------------------------- */

static void pit_seeds(void)
{
	/* Linux's periodic tick: counter 0 rate generator at HZ 1000, read back as it runs. */
	out8(3, 0x34), out8(0, 0xa9), out8(0, 0x04), wait(4, 0x0f42), wait(4, 0x0f42);
	out8(3, 0x00), in8(0), in8(0), out8(3, 0xc2), in8(0), wait(5, 0x8000), in8(0), in8(0);
	snap(DEV_SNAP_COPY, 0, 0), wait(4, 0x4000), snap(DEV_SNAP_XOR, 20, 0x01);
	put("pit", "linux-periodic");
	/* Linux's TSC calibration: counter 2 in mode 0 with its gate on port 0x61. */
	in8(4), out8(4, 0x01), out8(3, 0xb0), out8(2, 0xff), out8(2, 0xff), wait(4, 0x2000);
	in8(4), out8(3, 0x80), in8(2), in8(2), wait(6, 0x100), in8(4), out8(4, 0x00);
	out8(4, 0x03), in8(4), snap(DEV_SNAP_COPY, 0, 0);
	put("pit", "calibrate-counter2");
	/* Modes 1, 3, 4 and 5, BCD counts, LSB- and MSB-only access, an illegal count. */
	out8(3, 0x53), out8(1, 0x99), out8(3, 0x36), out8(0, 0x01), out8(0, 0x00);
	out8(3, 0x98), out8(2, 0x20), out8(4, 0x01), out8(3, 0x3a), out8(0, 0x10), out8(0, 0);
	wait(3, 0x800), out8(3, 0xde), in8(0), in8(1), in8(2), in8(1), model(0, 0, 0, 0);
	out8(3, 0x32), out8(0, 0x00), out8(0, 0x00), wait(7, 1), snap(DEV_SNAP_CUT, 50, 0);
	put("pit", "modes-bcd");
}

/* ---- the chipset: flags bit 0 clear = ports 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40,
 * 0x41, 0x42, 0x43, 0x61 (where 0-10); set = the I/O APIC page at offset where ------------- */

static void chip_ioapic(uint8_t index, uint32_t v)
{
	wr(3, 1, 0x00, index), wr(3, 1, 0x10, v);
}

static void chipset_seeds(void)
{
	/* Linux with the I/O APIC: 8259A masked, the PIT's tick on pin 2, serial on pin 4. */
	pic_init(0x01, 0x01), out8(1, 0xff), out8(3, 0xff);
	chip_ioapic(0x14, 0x00000030), chip_ioapic(0x15, 0), chip_ioapic(0x18, 0x00000934);
	out8(9, 0x34), out8(6, 0xa9), out8(6, 0x04), wait(4, 0x0f42), wait(4, 0x0f42);
	model(0, 0, 4, 1), model(0, 0, 4, 0), model(3, 0, 0, 0), snap(DEV_SNAP_COPY, 0, 0);
	wait(4, 0x0f42), snap(DEV_SNAP_XOR, 60, 0x01);
	put("chipset", "linux-ioapic-tick");
	/* The 8259A in virtual wire: the tick through INTR, acknowledged, EOI'd. */
	pic_init(0x01, 0x01), out8(1, 0xfe), out8(3, 0xff), out8(9, 0x34), out8(6, 0x00);
	out8(6, 0x10), wait(4, 0x1000), model(2, 0, 0, 0), out8(0, 0x20), wait(4, 0x1000);
	model(2, 0, 0, 0), model(2, 0, 0, 0), in8(0), snap(DEV_SNAP_COPY, 0, 0);
	put("chipset", "pic-virtual-wire");
	/* A level-triggered line on both controllers; the EOI broadcast sends again. */
	pic_init(0x01, 0x01), out8(5, 0x04), out8(3, 0xfb), chip_ioapic(0x24, 0x0000a041);
	model(0, 1, 10, 1), model(1, 0, 0x41, 0), model(1, 0, 0x41, 0), model(0, 0, 10, 0);
	model(2, 0, 0, 0), in8(10), out8(10, 0x03), wr(1, 0, 0, 0x2011), rd(2, 0, 6);
	model(0, 0, 20, 1), model(3, 0, 0, 0), snap(DEV_SNAP_CUT, 80, 0);
	put("chipset", "level-eoi");
}

/* ---- the local APICs: config 3 bytes; flags = vCPU; where = xAPIC offset / 16 ------------ */

enum { TPR = 0x08, EOI = 0x0b, LDR = 0x0d, DFR = 0x0e, SVR = 0x0f, ESR = 0x28, ICR = 0x30,
       ICR_HI = 0x31, LVT_TIMER = 0x32, LINT0 = 0x35, LVT_ERROR = 0x37, TMICT = 0x38,
       TMCCT = 0x39, TDCR = 0x3e };
enum { MSR_X2APIC = 0x00, MSR_BASE = 0x40, MSR_DEADLINE = 0x80 };

static void apic_w(unsigned cpu, uint8_t reg, uint32_t v)
{
	wr(3, cpu, reg, v);
}

static void ipi(unsigned from, uint8_t dest, uint32_t icr)
{
	apic_w(from, ICR_HI, (uint32_t)dest << 24), apic_w(from, ICR, icr);
}

static void lapic_seeds(void)
{
	/* Four vCPUs: the BSP enables its APIC and starts the APs with INIT, SIPI, SIPI. */
	byte(3), byte(0x03), byte(0x00);
	apic_w(0, SVR, 0x1ff), apic_w(0, LVT_ERROR, 0xfe), apic_w(0, ESR, 0), ipi(0, 1, 0x4500);
	ipi(0, 1, 0x8500), wait(4, 0x2710), ipi(0, 1, 0x4608), ipi(0, 1, 0x4608);
	model(3, 1, 2, 0), apic_w(1, SVR, 0x1ff), ipi(0, 0xff, 0xc4500), wait(4, 0x2710);
	ipi(0, 0, 0xc4609), ipi(0, 1, 0x4041), model(0, 1, 0, 0), apic_w(1, EOI, 0);
	model(3, 2, 2, 1), snap(DEV_SNAP_COPY, 0, 0), wait(6, 0x10);
	put("lapic", "smp-start");
	/* The timer, one-shot, periodic and TSC-deadline, with its interrupt taken. */
	byte(0), byte(0x03), byte(0x00);
	apic_w(0, SVR, 0x1ff), apic_w(0, TDCR, 0x0b), apic_w(0, LVT_TIMER, 0x20030);
	apic_w(0, TMICT, 100000), wait(4, 0x2000), model(0, 0, 0, 0), apic_w(0, EOI, 0);
	rd(3, 0, TMCCT), snap(DEV_SNAP_COPY, 0, 0), wait(4, 0x4000), apic_w(0, TDCR, 0x03);
	apic_w(0, LVT_TIMER, 0x40031), model(1, 0, MSR_DEADLINE, 5000000), model(2, 0, 0x80, 0);
	snap(DEV_SNAP_COPY, 0, 0), wait(5, 0x1000), model(0, 0, 0, 0), apic_w(0, TPR, 0x20);
	snap(DEV_SNAP_XOR, 190, 0x01), apic_w(0, LVT_TIMER, 0x10030), apic_w(0, TMICT, 7);
	wait(2, 0x100);
	put("lapic", "timer-modes");
	/* x2APIC: the mode switch, ICR and self IPI as MSRs, logical IDs, the way back. */
	byte(1), byte(0x01), byte(0x81);
	model(1, 0, MSR_BASE, 0xfee00d00), model(2, 0, MSR_X2APIC + 0x02, 0);
	model(1, 0, MSR_X2APIC + 0x0f, 0x1ff), model(1, 1, MSR_BASE, 0xfee00c00);
	model(1, 1, MSR_X2APIC + 0x0f, 0x1ff), model(2, 1, MSR_X2APIC + 0x0d, 0);
	model(1, 0, MSR_X2APIC + 0x30, 0x10200004041ull), model(1, 0, MSR_X2APIC + 0x3f, 0x55);
	model(0, 0, 0, 0), model(1, 0, MSR_X2APIC + 0x0b, 0), model(0, 1, 0, 0);
	model(1, 1, MSR_X2APIC + 0x08, 0x100), model(1, 0, MSR_BASE, 0xfee00900);
	model(1, 0, MSR_BASE, 0xfee00100), model(1, 0, MSR_BASE, 0xfee00900);
	snap(DEV_SNAP_COPY, 0, 0), rd(3, 0, 0x02), rd(3, 1, 0x02);
	put("lapic", "x2apic");
	/* From outside: MSIs, lowest priority by TPR, the 8259A's INTR on LINT0, NMI and SMI. */
	byte(2), byte(0x00), byte(0x00);
	apic_w(0, SVR, 0x1ff), apic_w(1, SVR, 0x1ff), apic_w(2, SVR, 0x1ff), apic_w(1, TPR, 0x40);
	apic_w(0, LDR, 0x01000000), apic_w(1, LDR, 0x02000000), apic_w(2, LDR, 0x04000000);
	apic_w(0, DFR, 0xffffffff), model(3, 0, 0, 0x0000c15000003004ull), model(3, 0, 1, 1);
	model(0, 0, 0, 0), model(3, 0, 3, 0x0700000000002150ull), model(0, 2, 0, 0);
	apic_w(2, EOI, 0), ipi(0, 0, 0x4400), model(0, 0, 1, 0), ipi(0, 2, 0x4200);
	apic_w(1, LINT0, 0x8700), model(3, 0, 1, 0), model(3, 1, 0, 0x0000403300002000ull);
	snap(DEV_SNAP_CUT, 300, 0);
	put("lapic", "outside");
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
	pic_seeds();
	ioapic_seeds();
	pit_seeds();
	chipset_seeds();
	lapic_seeds();
	return 0;
}
