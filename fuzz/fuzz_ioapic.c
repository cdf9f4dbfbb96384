/*
 * fuzz_ioapic.c - the I/O APIC (dev/ioapic.c) on its own: a guest's accesses to its MMIO
 * page (any offset and width the MMIO exit can carry), its 24 input pins, the local APICs'
 * EOI broadcast, RESET, and its snapshots (the input's language and the round trip are
 * dev_fuzz.h's).  Checks: every message comes from a real pin, is the MSI its redirection
 * entry describes, and never comes from a masked entry.
 *
 *   where         offset where & 0x7f, or (flags bit 0) where * 16 % 0x1000; size 1-8 by arg
 *   model op 0    ioapic_set_irq(a % 26, b & 1) (24 and 25: no such pin)
 *   model op 1    ioapic_eoi(a)
 *   model op 2    ioapic_reset
 *
 * With clang and -fsanitize=fuzzer this is a libFuzzer target.  Built with FUZZ_REPLAY_MAIN,
 * a plain main replays the files and directories it is given (the seed corpus in
 * fuzz/corpus/ioapic runs as a regression test with any compiler; dev_seeds.c made it).
 */
#include <stdlib.h>

#include "dev_fuzz.h"
#include "dev/ioapic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct machine {
	struct ioapic *io;
};

static void send(void *ctx, unsigned pin, const struct ioapic_msi *msg)
{
	struct machine *m = ctx;

	if (pin >= IOAPIC_PINS)
		abort();
	uint64_t rte = ioapic_rte(m->io, pin);
	struct ioapic_msi want = ioapic_rte_msi(rte);
	if (msg->address != want.address || msg->data != want.data ||
	    (rte & IOAPIC_RTE_MASKED))
		abort();
}

static void changed(void *ctx, unsigned pin)
{
	(void)ctx;
	if (pin >= IOAPIC_PINS)
		abort();
}

static void warn(void *ctx, const char *msg)
{
	(void)ctx;
	dev_fuzz_message(msg);
}

static void destroy(void *p)
{
	struct machine *m = p;

	ioapic_destroy(m->io);
	free(m);
}

static void *create(const uint8_t config[DEV_FUZZ_CONFIG_MAX])
{
	struct machine *m = calloc(1, sizeof(*m));

	(void)config;
	if (!m)
		abort();
	const struct ioapic_config cfg = { .id = 2, .send = send, .send_ctx = m,
					   .changed = changed, .warn = warn };
	if (!(m->io = ioapic_create(&cfg)))
		abort();
	return m;
}

static int save(void *p, struct snap_enc *e)
{
	ioapic_save(((struct machine *)p)->io, e);
	return e->oom ? -1 : 0;
}

/* As the chipset loads it: bytes left over are refused. */
static int load(void *p, struct snap_dec *d, char *err, size_t errlen)
{
	if (ioapic_load(((struct machine *)p)->io, d, err, errlen) < 0)
		return -1;
	return snap_dec_done(d) ? 0 : snap_refuse(err, errlen, "I/O APIC", "bytes left over");
}

/* The chipset's MMIO handler: the value is the access's first four bytes. */
static void guest_access(void *p, const struct dev_access *a)
{
	struct machine *m = p;
	uint32_t off = a->flags & 1 ? a->where * 16u % IOAPIC_MMIO_SIZE : a->where & 0x7fu;
	uint32_t v = 0;

	if (a->write) {
		for (unsigned i = 0; i < a->size && i < 4; i++)
			v |= (uint32_t)a->data[i] << (8 * i);
		ioapic_mmio_write(m->io, off, a->size, v);
		return;
	}
	v = ioapic_mmio_read(m->io, off, a->size);
	for (unsigned i = 0; i < a->size; i++)
		a->data[i] = i < 4 ? (uint8_t)(v >> (8 * i)) : 0;
}

static void op(void *p, unsigned which, uint8_t flags, uint8_t a, uint64_t b)
{
	struct machine *m = p;

	(void)flags;
	if (which == 0)
		ioapic_set_irq(m->io, a % (IOAPIC_PINS + 2), b & 1);
	else if (which == 1)
		ioapic_eoi(m->io, a);
	else if (which == 2)
		ioapic_reset(m->io);
}

static const struct fuzz_dev dev = {
	.name = "ioapic", .create = create, .destroy = destroy, .save = save, .load = load,
	.size = dev_fuzz_mmio_size, .access = guest_access, .op = op,
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
	return fuzz_replay_main(argc, argv, "fuzz_ioapic");
}
#endif
