/*
 * fuzz_chipset.c - the chipset (dev/chipset.c): the 8259A pair, the I/O APIC and the PIT
 * wired as on a PC behind one lock, as a guest drives them through fresh port and MMIO
 * buses, with device lines, the local APICs' EOI broadcast, the CPU's acknowledge, time
 * passing with the owner's timer work (chipset_advance, as irqchip/user.c), and its
 * snapshots (the input's language and the round trip are dev_fuzz.h's).  Checks: messages
 * are MSIs to the APIC page; the INTR last reported is chipset_intr; the routes last
 * reported are chipset_routes; once time has been handed over, the next event lies after
 * it; an acknowledge answers a vector.
 *
 *   where         flags bit 0 clear: port 0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41,
 *                 0x42, 0x43 or 0x61 by where % 11, 1, 2 or 4 bytes by arg; set: the I/O
 *                 APIC page at offset where, 1-8 bytes by arg
 *   model op 0    chipset_set_irq(a % 26, b & 1) (24, 25: no such line); flags bit 0: through
 *                 chipset_line
 *   model op 1    chipset_eoi(a)
 *   model op 2    chipset_ack
 *   model op 3    chipset_routes, compared with the last reported
 *
 * With clang and -fsanitize=fuzzer this is a libFuzzer target.  Built with FUZZ_REPLAY_MAIN,
 * a plain main replays the files and directories it is given (the seed corpus in
 * fuzz/corpus/chipset runs as a regression test with any compiler; dev_seeds.c made it).
 */
#include <stdlib.h>
#include <string.h>

#include "dev_fuzz.h"
#include "dev/chipset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct machine {
	struct bus *pio, *mmio;
	struct chipset *ic;
	bool intr;
	struct ioapic_msi routes[IOAPIC_PINS];
};

static const uint16_t ports[] = {
	0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41, 0x42, 0x43, 0x61,
};

static void msi(void *ctx, const struct ioapic_msi *msg)
{
	(void)ctx;
	if ((msg->address & 0xfff00000u) != MSI_ADDR_BASE || !(msg->data & MSI_DATA_ASSERT))
		abort();
}

static void intr(void *ctx, bool level)
{
	struct machine *m = ctx;

	m->intr = level;
}

static void routes(void *ctx, const struct ioapic_msi r[IOAPIC_PINS])
{
	struct machine *m = ctx;

	memcpy(m->routes, r, sizeof(m->routes));
}

static void timer_changed(void *ctx)
{
	(void)ctx;
}

static void warn(void *ctx, const char *msg)
{
	(void)ctx;
	dev_fuzz_message(msg);
}

static void destroy(void *p)
{
	struct machine *m = p;

	chipset_destroy(m->ic);
	bus_destroy(m->mmio);
	bus_destroy(m->pio);
	free(m);
}

static void *create(const uint8_t config[DEV_FUZZ_CONFIG_MAX])
{
	struct machine *m = calloc(1, sizeof(*m));

	(void)config;
	if (!m || !(m->pio = bus_create("pio")) || !(m->mmio = bus_create("mmio")))
		abort();
	const struct chipset_config cfg = {
		.pio = m->pio, .mmio = m->mmio, .ioapic_id = 2, .now_ns = dev_fuzz_now,
		.msi = msi, .intr = intr, .routes = routes, .ctx = m,
		.timer_changed = timer_changed, .warn = warn,
	};
	if (!(m->ic = chipset_create(&cfg)))
		abort();
	chipset_routes(m->ic, m->routes);
	return m;
}

static int save(void *p, struct snap_enc *e)
{
	return chipset_save(((struct machine *)p)->ic, e);
}

static int load(void *p, struct snap_dec *d, char *err, size_t errlen)
{
	return chipset_load(((struct machine *)p)->ic, d, err, errlen);
}

static unsigned access_size(uint8_t flags, unsigned arg)
{
	return flags & 1 ? dev_fuzz_mmio_size(flags, arg) : dev_fuzz_pio_size(flags, arg);
}

static void guest_access(void *p, const struct dev_access *a)
{
	struct machine *m = p;

	if (a->flags & 1)
		dev_fuzz_dispatch(m->mmio, CHIPSET_IOAPIC_ADDR + a->where, a);
	else
		dev_fuzz_dispatch(m->pio, ports[a->where % (sizeof(ports) / sizeof(ports[0]))], a);
	if (chipset_intr(m->ic) != m->intr)
		abort();
}

static void tick(void *p, uint64_t now)
{
	struct machine *m = p;

	chipset_advance(m->ic, now);
	uint64_t next = chipset_next_event(m->ic);
	if (next != CHIPSET_NO_EVENT && next <= now)
		abort();
}

static void check_routes(struct machine *m)
{
	struct ioapic_msi r[IOAPIC_PINS];

	chipset_routes(m->ic, r);
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		if (r[pin].address != m->routes[pin].address || r[pin].data != m->routes[pin].data)
			abort();
}

static void op(void *p, unsigned which, uint8_t flags, uint8_t a, uint64_t b)
{
	struct machine *m = p;
	int vector;

	switch (which) {
	case 0:
		if (flags & 1) {
			struct irq_line line = chipset_line(m->ic);
			irq_set(&line, a % (IOAPIC_PINS + 2), b & 1);
		} else {
			chipset_set_irq(m->ic, a % (IOAPIC_PINS + 2), b & 1);
		}
		break;
	case 1:
		chipset_eoi(m->ic, a);
		break;
	case 2:
		vector = chipset_ack(m->ic);
		if (vector < 0 || vector > 0xff)
			abort();
		break;
	default:
		check_routes(m);
		break;
	}
	if (chipset_intr(m->ic) != m->intr)
		abort();
}

static const struct fuzz_dev dev = {
	.name = "chipset", .create = create, .destroy = destroy, .save = save, .load = load,
	.size = access_size, .access = guest_access, .tick = tick, .op = op,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dev_fuzz_run(&dev, data, size);
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "replay.h"

int main(int argc, char **argv)
{
	return fuzz_replay_main(argc, argv, "fuzz_chipset");
}
#endif
