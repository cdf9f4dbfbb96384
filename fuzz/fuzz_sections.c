/*
 * fuzz_sections.c - every snapshot section decoder mpvmm has outside the accelerators, on
 * any payload: byte 0 picks the component (fuzz/sections.h lists them: the MP state machine,
 * the APIC bus and one local APIC, the chipset and its 8259A pair, I/O APIC and PIT, the
 * six saved devices through their device table rows, the MP trace), the rest is the payload,
 * loaded into a fresh one.  The KVM and software-CPU state loaders are left out: they need a
 * live accelerator.
 *
 * Checks: a refusal is one line; where the component's header promises that a refused load
 * changes nothing (all of them but the MP trace), its save is the same before and after; an
 * accepted payload gives a state whose save loads into another fresh component and saves to
 * the same bytes (what a restored VM saves, it restores).
 *
 * With clang and -fsanitize=fuzzer this is a libFuzzer target.  Built with FUZZ_REPLAY_MAIN,
 * a plain main replays the files and directories it is given (the seed corpus in
 * fuzz/corpus/sections runs as a regression test with any compiler; sections_seeds.c made
 * it).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "dev_fuzz.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct part {
	const char *name;
	const struct device_desc *desc; /* a device table row, or NULL */
	bool atomic;                    /* a refused load changes nothing (its header says) */
	void *(*create)(const struct part *p);
	void (*destroy)(const struct part *p, void *c);
	int (*save)(const struct part *p, void *c, struct snap_enc *e);
	int (*load)(const struct part *p, void *c, struct snap_dec *d, char *err, size_t errlen);
};

static uint64_t now(void *ctx)
{
	(void)ctx;
	return SECTION_NOW_NS;
}

static void warn(void *ctx, const char *msg)
{
	(void)ctx;
	dev_fuzz_message(msg);
}

static void *need(void *p)
{
	if (!p)
		abort();
	return p;
}

static const struct mp_cpu cpus[SECTION_CPUS] = { { 0, true, NULL }, { 1, false, NULL } };

/* ---- the device table's rows ------------------------------------------------------------ */

struct row {
	struct bus *pio;
	void *dev;
};

static void set_line(void *ctx, unsigned gsi, bool level)
{
	(void)ctx;
	(void)gsi;
	(void)level;
}

static const struct irq_line no_line = { .set = set_line };

static void *row_create(const struct part *p)
{
	static int null_fd = -1;
	struct row *r = need(calloc(1, sizeof(*r)));

	if (null_fd < 0)
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	r->pio = need(bus_create("pio"));
	const struct device_env env = {
		.pio = r->pio, .irq = &no_line, .ctl = &dev_fuzz_control, .console_fd = null_fd,
		.ram_size = 64ull << 20, .ncpus = SECTION_CPUS,
	};
	r->dev = need(p->desc->create(&env));
	return r;
}

static void row_destroy(const struct part *p, void *c)
{
	struct row *r = c;

	p->desc->destroy(r->dev);
	bus_destroy(r->pio);
	free(r);
}

static int row_save(const struct part *p, void *c, struct snap_enc *e)
{
	return p->desc->save(((struct row *)c)->dev, e);
}

static int row_load(const struct part *p, void *c, struct snap_dec *d, char *err, size_t errlen)
{
	return p->desc->load(((struct row *)c)->dev, d, err, errlen);
}

/* ---- the chipset's models, each on its own ------------------------------------------------ */

static void *pic_make(const struct part *p)
{
	const struct pic_config cfg = { .warn = warn };

	(void)p;
	return need(pic_create(&cfg));
}

static void pic_free(const struct part *p, void *c)
{
	(void)p;
	pic_destroy(c);
}

static int pic_put(const struct part *p, void *c, struct snap_enc *e)
{
	(void)p;
	pic_save(c, e);
	return e->oom ? -1 : 0;
}

static int pic_get(const struct part *p, void *c, struct snap_dec *d, char *err, size_t errlen)
{
	(void)p;
	return pic_load(c, d, err, errlen);
}

static void *ioapic_make(const struct part *p)
{
	const struct ioapic_config cfg = { .id = 2, .warn = warn };

	(void)p;
	return need(ioapic_create(&cfg));
}

static void ioapic_free(const struct part *p, void *c)
{
	(void)p;
	ioapic_destroy(c);
}

static int ioapic_put(const struct part *p, void *c, struct snap_enc *e)
{
	(void)p;
	ioapic_save(c, e);
	return e->oom ? -1 : 0;
}

static int ioapic_get(const struct part *p, void *c, struct snap_dec *d, char *err,
		      size_t errlen)
{
	(void)p;
	return ioapic_load(c, d, err, errlen);
}

static void *pit_make(const struct part *p)
{
	const struct pit_config cfg = { .now_ns = now, .warn = warn };

	(void)p;
	return need(pit_create(&cfg));
}

static void pit_free(const struct part *p, void *c)
{
	(void)p;
	pit_destroy(c);
}

static int pit_put(const struct part *p, void *c, struct snap_enc *e)
{
	(void)p;
	pit_save(c, e);
	return e->oom ? -1 : 0;
}

static int pit_get(const struct part *p, void *c, struct snap_dec *d, char *err, size_t errlen)
{
	(void)p;
	return pit_load(c, d, err, errlen);
}

/* ---- the chipset ---------------------------------------------------------------------- */

struct chip {
	struct bus *pio, *mmio;
	struct chipset *ic;
};

static void *chipset_make(const struct part *p)
{
	struct chip *c = need(calloc(1, sizeof(*c)));

	(void)p;
	c->pio = need(bus_create("pio"));
	c->mmio = need(bus_create("mmio"));
	const struct chipset_config cfg = { .pio = c->pio, .mmio = c->mmio, .ioapic_id = 2,
					    .now_ns = now, .warn = warn };
	c->ic = need(chipset_create(&cfg));
	return c;
}

static void chipset_free(const struct part *p, void *c)
{
	struct chip *k = c;

	(void)p;
	chipset_destroy(k->ic);
	bus_destroy(k->mmio);
	bus_destroy(k->pio);
	free(k);
}

static int chipset_put(const struct part *p, void *c, struct snap_enc *e)
{
	(void)p;
	return chipset_save(((struct chip *)c)->ic, e);
}

static int chipset_get(const struct part *p, void *c, struct snap_dec *d, char *err,
		       size_t errlen)
{
	(void)p;
	return chipset_load(((struct chip *)c)->ic, d, err, errlen);
}

/* ---- the local APICs and the MP state machine -------------------------------------------- */

static void *lapic_make(const struct part *p)
{
	const struct lapic_config cfg = {
		.cpu = 0, .apic_id = 0, .bsp = true, .x2apic = true, .tsc_hz = SECTION_TSC_HZ,
		.now_ns = now, .warn = warn,
	};

	(void)p;
	return need(lapic_create(&cfg));
}

static void lapic_free(const struct part *p, void *c)
{
	(void)p;
	lapic_destroy(c);
}

static int lapic_put(const struct part *p, void *c, struct snap_enc *e)
{
	(void)p;
	lapic_save(c, e);
	return e->oom ? -1 : 0;
}

static int lapic_get(const struct part *p, void *c, struct snap_dec *d, char *err,
		     size_t errlen)
{
	(void)p;
	return lapic_load(c, d, err, errlen);
}

static void *bus_make(const struct part *p)
{
	const struct apic_bus_config cfg = {
		.ncpus = SECTION_CPUS, .cpus = cpus, .x2apic = true, .tsc_hz = SECTION_TSC_HZ,
		.now_ns = now, .warn = warn,
	};

	(void)p;
	return need(apic_bus_create(&cfg));
}

static void bus_free(const struct part *p, void *c)
{
	(void)p;
	apic_bus_destroy(c);
}

static int bus_put(const struct part *p, void *c, struct snap_enc *e)
{
	(void)p;
	return apic_bus_save(c, e);
}

static int bus_get(const struct part *p, void *c, struct snap_dec *d, char *err, size_t errlen)
{
	(void)p;
	return apic_bus_load(c, d, err, errlen);
}

static void *mp_user_make(const struct part *p)
{
	const struct mp_user_config cfg = {
		.ncpus = SECTION_CPUS, .bsp = 0, .sipi_timeout_ns = 1000000, .now_ns = now,
		.warn = warn, .hold_starts = true,
	};

	(void)p;
	return need(mp_user_create(&cfg));
}

static void mp_user_free(const struct part *p, void *c)
{
	(void)p;
	mp_user_destroy(c);
}

static int mp_user_put(const struct part *p, void *c, struct snap_enc *e)
{
	(void)p;
	return mp_user_save(c, e);
}

static int mp_user_get(const struct part *p, void *c, struct snap_dec *d, char *err,
		       size_t errlen)
{
	(void)p;
	return mp_user_load(c, d, err, errlen);
}

/* ---- the MP trace ------------------------------------------------------------------------ */

static int no_exec(void *ctx, uint32_t cpu, void (*fn)(void *), void *arg)
{
	(void)ctx;
	(void)cpu;
	(void)fn;
	(void)arg;
	return -1; /* the trace's load never asks a vCPU */
}

static const struct mp_backend backend = { .name = "none", .exact = true };

static void *trace_make(const struct part *p)
{
	struct mp *mp = need(mp_create(SECTION_CPUS, cpus, &backend, no_exec, NULL, 0));

	(void)p;
	mp_set_clock(mp, now, NULL);
	return mp;
}

static void trace_free(const struct part *p, void *c)
{
	(void)p;
	mp_destroy(c);
}

static int trace_put(const struct part *p, void *c, struct snap_enc *e)
{
	(void)p;
	return mp_save(c, e);
}

static int trace_get(const struct part *p, void *c, struct snap_dec *d, char *err,
		     size_t errlen)
{
	(void)p;
	return mp_load(c, d, err, errlen);
}

/* ---- the table and the checks ---------------------------------------------------------- */

#define ROW(n, d) { n, &d, true, row_create, row_destroy, row_save, row_load }
#define OWN(n, a, f) { n, NULL, a, f##_make, f##_free, f##_put, f##_get }

static const struct part parts[SECTION_PARTS] = {
	[SECTION_MP_USER] = OWN("mp_user", true, mp_user),
	[SECTION_APIC_BUS] = OWN("apic_bus", true, bus),
	[SECTION_LAPIC] = OWN("lapic", true, lapic),
	[SECTION_CHIPSET] = OWN("chipset", true, chipset),
	[SECTION_PIC] = OWN("pic", true, pic),
	[SECTION_IOAPIC] = OWN("ioapic", true, ioapic),
	[SECTION_PIT] = OWN("pit", true, pit),
	[SECTION_SERIAL] = ROW("serial", serial_device),
	[SECTION_RTC] = ROW("rtc", rtc_device),
	[SECTION_I8042] = ROW("i8042", i8042_device),
	[SECTION_ACPI_PM] = ROW("acpi_pm", acpi_pm_device),
	[SECTION_FW_CFG] = ROW("fw_cfg", fw_cfg_device),
	[SECTION_PCI_NONE] = ROW("pci_none", pci_none_device),
	[SECTION_TRACE] = OWN("trace", false, trace),
};

static struct snap_enc save(const struct part *p, void *c)
{
	struct snap_enc e = { 0 };

	if (p->save(p, c, &e) < 0 || e.oom)
		abort();
	return e;
}

static bool same(const struct snap_enc *a, const struct snap_enc *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->buf, b->buf, a->len) == 0);
}

static int load(const struct part *p, void *c, const uint8_t *data, size_t size, char *err,
		size_t errlen)
{
	struct snap_dec d;

	snap_dec_init(&d, data, size);
	return p->load(p, c, &d, err, errlen);
}

/* Refused: one line, and (where promised) the component as it was. */
static void refused(const struct part *p, void *c, const struct snap_enc *before,
		    const char *err)
{
	if (!err[0] || strchr(err, '\n'))
		abort();
	if (!p->atomic)
		return;
	struct snap_enc after = save(p, c);
	if (!same(before, &after))
		abort(); /* a refused load changed it */
	snap_enc_free(&after);
}

/* Accepted: its save loads into a fresh one, which saves the same bytes. */
static void accepted(const struct part *p, void *c)
{
	struct snap_enc once = save(p, c);
	void *again = p->create(p);
	char err[256] = "";

	if (load(p, again, once.buf, once.len, err, sizeof(err)) < 0)
		abort(); /* it refuses its own save */
	struct snap_enc twice = save(p, again);
	if (!same(&once, &twice))
		abort();
	snap_enc_free(&twice);
	snap_enc_free(&once);
	p->destroy(p, again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const struct part *p = &parts[data[0] % SECTION_PARTS];
	void *c = p->create(p);
	struct snap_enc before = save(p, c);
	char err[256] = "";

	if (load(p, c, data + 1, size - 1, err, sizeof(err)) < 0)
		refused(p, c, &before, err);
	else
		accepted(p, c);
	snap_enc_free(&before);
	p->destroy(p, c);
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "replay.h"

int main(int argc, char **argv)
{
	return fuzz_replay_main(argc, argv, "fuzz_sections");
}
#endif
