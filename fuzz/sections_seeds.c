/*
 * sections_seeds.c - writes the seed corpus of fuzz_sections: for each component of
 * fuzz/sections.h, a real save of it in a state a guest left it in (interrupts in service
 * and pending, timers armed, a SIPI latched, a FIFO half full, ...), behind its selector
 * byte, so that mutations start from payloads every decoder accepts.  Components are built
 * as fuzz_sections.c builds them.  `sections_seeds DIR` (DIR is fuzz/corpus/sections).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sections.h"
#include "dev/acpi_pm.h"
#include "dev/chipset.h"
#include "dev/fw_cfg.h"
#include "dev/i8042.h"
#include "dev/pci_none.h"
#include "dev/pic.h"
#include "dev/pit.h"
#include "dev/rtc.h"
#include "dev/serial.h"
#include "mp/apic_bus.h"
#include "mp/mp_user.h"
#include "../tests/unit/bus_io.h"

static const char *dir;
static const struct mp_cpu cpus[SECTION_CPUS] = { { 0, true, NULL }, { 1, false, NULL } };

static uint64_t now(void *ctx)
{
	(void)ctx;
	return SECTION_NOW_NS;
}

static void *need(void *p)
{
	if (!p) {
		fprintf(stderr, "sections_seeds: cannot build a component\n");
		exit(1);
	}
	return p;
}

/* The selector, then the payload; the encoder is freed. */
static void put(const char *name, enum section_part part, struct snap_enc *e)
{
	char path[4096];
	uint8_t sel = (uint8_t)part;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (e->oom || !f || fwrite(&sel, 1, 1, f) != 1 ||
	    (e->len && fwrite(e->buf, 1, e->len, f) != e->len) || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	snap_enc_free(e);
}

static void mp_user_seed(void)
{
	const struct mp_user_config cfg = { .ncpus = SECTION_CPUS, .now_ns = now,
					    .sipi_timeout_ns = 1000000, .hold_starts = true };
	struct mp_user *u = need(mp_user_create(&cfg));
	struct snap_enc e = { 0 };

	mp_user_init(u, 1, 0);
	mp_user_sipi(u, 1, 0, 0x08);
	mp_user_sipi(u, 1, 0, 0x08);
	mp_user_set_pending(u, 0, true, false);
	mp_user_halt(u, 0, false);
	mp_user_save(u, &e);
	put("mp_user-sipi-held", SECTION_MP_USER, &e);
	mp_user_init(u, 0, 1); /* the BSP: a reset start latched */
	mp_user_set_pending(u, 0, false, true);
	mp_user_save(u, &e);
	put("mp_user-bsp-reset", SECTION_MP_USER, &e);
	mp_user_destroy(u);
}

/* CPU 0's timer periodic, a fixed IPI pending on CPU 1, CPU 1 in x2APIC with a deadline. */
static void apic_bus_seed(void)
{
	const struct apic_bus_config cfg = { .ncpus = SECTION_CPUS, .cpus = cpus, .x2apic = true,
					     .tsc_hz = SECTION_TSC_HZ, .now_ns = now };
	struct apic_bus *b = need(apic_bus_create(&cfg));
	struct snap_enc e = { 0 };
	const uint64_t page = LAPIC_DEFAULT_BASE;

	for (uint32_t cpu = 0; cpu < SECTION_CPUS; cpu++)
		apic_bus_mmio_write(b, cpu, page + LAPIC_SVR, 4, 0x1ff);
	apic_bus_mmio_write(b, 0, page + LAPIC_TIMER_DIVIDE, 4, 0x3);
	apic_bus_mmio_write(b, 0, page + LAPIC_LVT_TIMER, 4, 0x20030);
	apic_bus_mmio_write(b, 0, page + LAPIC_TIMER_INITIAL, 4, 250000);
	apic_bus_mmio_write(b, 0, page + LAPIC_ICR_HI, 4, 1u << 24);
	apic_bus_mmio_write(b, 0, page + LAPIC_ICR_LO, 4, 0xc041); /* level, vector 0x41 */
	apic_bus_take_interrupt(b, 1);
	apic_bus_mmio_write(b, 0, page + LAPIC_ICR_LO, 4, 0x4042);
	apic_bus_msr_write(b, 1, LAPIC_MSR_APIC_BASE, page | LAPIC_BASE_EN | LAPIC_BASE_EXTD);
	apic_bus_msr_write(b, 1, 0x832, 0x40050); /* LVT timer: TSC deadline, vector 0x50 */
	apic_bus_msr_write(b, 1, LAPIC_MSR_TSC_DEADLINE, 7 * SECTION_TSC_HZ);
	apic_bus_save(b, &e);
	put("apic_bus-timers-ipis", SECTION_APIC_BUS, &e);
	apic_bus_destroy(b);
}

static void lapic_seed(void)
{
	const struct lapic_config cfg = { .apic_id = 0, .bsp = true, .x2apic = true,
					  .tsc_hz = SECTION_TSC_HZ, .now_ns = now };
	struct lapic *l = need(lapic_create(&cfg));
	struct snap_enc e = { 0 };

	lapic_mmio_write(l, LAPIC_SVR, 4, 0x1ff);
	lapic_mmio_write(l, LAPIC_TPR, 4, 0x20);
	lapic_mmio_write(l, LAPIC_LVT_ERROR, 4, 0xfe);
	lapic_mmio_write(l, LAPIC_LVT_TIMER, 4, 0x31);
	lapic_mmio_write(l, LAPIC_TIMER_INITIAL, 4, 1000);
	lapic_set_irq(l, 0x61, true);
	lapic_accept(l);
	lapic_set_irq(l, 0x45, false);
	lapic_mmio_write(l, 0x400, 4, 0); /* reserved: an ESR error, the error LVT's vector */
	lapic_raise_nmi(l);
	lapic_save(l, &e);
	put("lapic-in-service", SECTION_LAPIC, &e);
	lapic_msr_write(l, LAPIC_MSR_APIC_BASE, LAPIC_DEFAULT_BASE | 0xd00);
	lapic_msr_write(l, 0x832, 0x40033);
	lapic_msr_write(l, LAPIC_MSR_TSC_DEADLINE, 9 * SECTION_TSC_HZ);
	lapic_save(l, &e);
	put("lapic-x2apic-deadline", SECTION_LAPIC, &e);
	lapic_destroy(l);
}

/* Linux's 8259A set-up through the ports, then IRQ 1 in service and IRQ 12 requested. */
static void pic_program(struct bus *pio)
{
	static const uint8_t init[][2] = {
		{ 0x20, 0x11 }, { 0x21, 0x30 }, { 0x21, 0x04 }, { 0x21, 0x01 }, { 0xa0, 0x11 },
		{ 0xa1, 0x38 }, { 0xa1, 0x02 }, { 0xa1, 0x01 }, { 0x21, 0xf9 }, { 0xa1, 0xef },
	};

	for (size_t i = 0; i < sizeof(init) / sizeof(init[0]); i++)
		io(pio, init[i][0], true, 1, init[i][1]);
}

static void chipset_seed(void)
{
	struct bus *pio = need(bus_create("pio")), *mmio = need(bus_create("mmio"));
	const struct chipset_config cfg = { .pio = pio, .mmio = mmio, .ioapic_id = 2,
					    .now_ns = now };
	struct chipset *ic = need(chipset_create(&cfg));
	struct snap_enc e = { 0 };
	uint8_t d[4];
	struct bus_access a = { .addr = CHIPSET_IOAPIC_ADDR, .size = 4, .write = true, .data = d };

	pic_program(pio);
	io(pio, 0x4d1, true, 1, 0x10); /* IRQ 12 level */
	for (uint32_t reg = 0x10; reg < 0x40; reg += 2) { /* every pin: vector 0x30 + pin */
		memcpy(d, &reg, 4);
		a.addr = CHIPSET_IOAPIC_ADDR, bus_dispatch(mmio, &a);
		uint32_t rte = 0x30 + (reg - 0x10) / 2 + (reg == 0x28 ? 0x8000 : 0);
		memcpy(d, &rte, 4);
		a.addr = CHIPSET_IOAPIC_ADDR + 0x10, bus_dispatch(mmio, &a);
	}
	io(pio, 0x43, true, 1, 0x34), io(pio, 0x40, true, 1, 0xa9), io(pio, 0x40, true, 1, 0x04);
	chipset_set_irq(ic, 1, true);
	chipset_ack(ic);
	chipset_set_irq(ic, 12, true);
	chipset_save(ic, &e);
	put("chipset-programmed", SECTION_CHIPSET, &e);
	chipset_destroy(ic);
	bus_destroy(mmio);
	bus_destroy(pio);
}

static void pic_ioapic_pit_seeds(void)
{
	const struct pic_config pc = { 0 };
	const struct ioapic_config ioc = { .id = 2 };
	const struct pit_config tc = { .now_ns = now };
	struct pic *pic = need(pic_create(&pc));
	struct ioapic *io = need(ioapic_create(&ioc));
	struct pit *pit = need(pit_create(&tc));
	struct snap_enc e = { 0 };

	pic_io_write(pic, 0x20, 0x11), pic_io_write(pic, 0x21, 0x30);
	pic_io_write(pic, 0x21, 0x04), pic_io_write(pic, 0x21, 0x03); /* automatic EOI */
	pic_io_write(pic, 0x4d0, 0x20), pic_set_irq(pic, 5, true), pic_set_irq(pic, 3, true);
	pic_ack(pic), pic_io_write(pic, 0xa0, 0x11), pic_io_write(pic, 0xa1, 0x38);
	pic_io_write(pic, 0x20, 0x6c); /* special mask mode, poll */
	pic_save(pic, &e);
	put("pic-aeoi-poll", SECTION_PIC, &e);
	ioapic_mmio_write(io, IOAPIC_IOREGSEL, 4, 0x12);
	ioapic_mmio_write(io, IOAPIC_IOWIN, 4, 0xa951); /* level, logical, lowest, 0x51 */
	ioapic_mmio_write(io, IOAPIC_IOREGSEL, 4, 0x13);
	ioapic_mmio_write(io, IOAPIC_IOWIN, 4, 0x03000000);
	ioapic_set_irq(io, 1, true), ioapic_set_irq(io, 7, true);
	ioapic_save(io, &e);
	put("ioapic-remote-irr", SECTION_IOAPIC, &e);
	pit_io_write(pit, 0x43, 0x34), pit_io_write(pit, 0x40, 0x9c), pit_io_write(pit, 0x40, 0x2e);
	pit_io_write(pit, 0x61, 0x01), pit_io_write(pit, 0x43, 0xb6);
	pit_io_write(pit, 0x42, 0x33), pit_io_write(pit, 0x42, 0x12);
	pit_io_write(pit, 0x43, 0x5a), pit_io_write(pit, 0x41, 0x12); /* counter 1, BCD, mode 5 */
	pit_io_write(pit, 0x43, 0x00), pit_io_write(pit, 0x43, 0xe4); /* latch, read-back */
	pit_save(pit, &e);
	put("pit-three-counters", SECTION_PIT, &e);
	pit_destroy(pit);
	ioapic_destroy(io);
	pic_destroy(pic);
}

static void stop(void *vm, int status, const char *why)
{
	(void)vm;
	fprintf(stderr, "sections_seeds: a device stopped the machine (%d: %s)\n", status, why);
	exit(1);
}

static const struct vm_control control = { .stop = stop };

static void serial_rtc_seeds(int null_fd)
{
	struct bus *pio = need(bus_create("pio"));
	struct serial *s = need(serial_create(pio, SERIAL_COM1_BASE, null_fd));
	struct rtc *r = need(rtc_create(pio));
	struct snap_enc e = { 0 };

	io(pio, 0x3fa, true, 1, 0xc7), io(pio, 0x3f9, true, 1, 0x0f), io(pio, 0x3fc, true, 1, 0x0b);
	io(pio, 0x3ff, true, 1, 0x5a), serial_receive(s, (const uint8_t *)"mpvmm!", 6);
	io(pio, 0x3f8, false, 1, 0);
	serial_save(s, &e);
	put("serial-fifo", SECTION_SERIAL, &e);
	io(pio, 0x70, true, 1, 0x0b), io(pio, 0x71, true, 1, 0x86), io(pio, 0x70, true, 1, 0x09);
	io(pio, 0x71, true, 1, 30), io(pio, 0x70, true, 1, 0x8f), io(pio, 0x71, true, 1, 0x77);
	rtc_save(r, &e);
	put("rtc-set-binary", SECTION_RTC, &e);
	rtc_destroy(r);
	serial_destroy(s);
	bus_destroy(pio);
}

static void other_device_seeds(void)
{
	struct bus *pio = need(bus_create("pio"));
	struct i8042 *k = need(i8042_create(pio, &control, NULL));
	struct acpi_pm *pm = need(acpi_pm_create(pio, &control, NULL));
	struct fw_cfg *fw = need(fw_cfg_create(pio, 64ull << 20, SECTION_CPUS, SECTION_CPUS));
	struct pci_none *pci = need(pci_none_create(pio, &control));
	struct snap_enc e = { 0 };

	io(pio, 0x64, true, 1, 0xaa), io(pio, 0x64, true, 1, 0xd3), io(pio, 0x60, true, 1, 0x42);
	io(pio, 0x64, true, 1, 0x60); /* a command waiting for its data byte */
	i8042_save(k, &e);
	put("i8042-queue-pending", SECTION_I8042, &e);
	io(pio, 0x602, true, 2, 0x0100), acpi_pm_event(pm, 0x0100), io(pio, 0x604, true, 2, 0x2);
	acpi_pm_save(pm, &e);
	put("acpi_pm-sci", SECTION_ACPI_PM, &e);
	io(pio, 0x510, true, 2, 0x19), io(pio, 0x511, false, 1, 0), io(pio, 0x511, false, 1, 0);
	fw_cfg_save(fw, &e);
	put("fw_cfg-dir", SECTION_FW_CFG, &e);
	io(pio, 0xcf8, true, 4, 0x8000f840), io(pio, 0xcf9, true, 1, 0x02);
	pci_none_save(pci, &e);
	put("pci_none-address", SECTION_PCI_NONE, &e);
	pci_none_destroy(pci);
	fw_cfg_destroy(fw);
	acpi_pm_destroy(pm);
	i8042_destroy(k);
	bus_destroy(pio);
}

static int no_exec(void *ctx, uint32_t cpu, void (*fn)(void *), void *arg)
{
	(void)ctx;
	(void)cpu;
	(void)fn;
	(void)arg;
	return -1;
}

static void trace_seed(void)
{
	static const struct mp_backend backend = { .name = "none", .exact = true };
	struct mp *mp = need(mp_create(SECTION_CPUS, cpus, &backend, no_exec, NULL, 0));
	struct snap_enc e = { 0 };

	mp_set_clock(mp, now, NULL);
	mp_observe(mp, 0, MP_STATE_RUNNABLE, TRACE_EXACT);
	mp_observe(mp, 1, MP_STATE_UNINITIALIZED, TRACE_EXACT);
	mp_note_ipi(mp, TRACE_INIT, 0, 1, 0, TRACE_EXACT);
	mp_observe(mp, 1, MP_STATE_INIT_RECEIVED, TRACE_INFERRED);
	mp_note_ipi(mp, TRACE_SIPI, 0, 1, 0x08, TRACE_GUEST);
	mp_note_first_exit(mp, 1);
	mp_note_ipi(mp, TRACE_IPI, TRACE_NO_CPU, 0, 0x30, TRACE_EXACT);
	mp_save(mp, &e);
	put("trace-bring-up", SECTION_TRACE, &e);
	mp_destroy(mp);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: sections_seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	mp_user_seed();
	apic_bus_seed();
	lapic_seed();
	chipset_seed();
	pic_ioapic_pit_seeds();
	serial_rtc_seeds(open("/dev/null", O_WRONLY | O_CLOEXEC));
	other_device_seeds();
	trace_seed();
	return 0;
}
