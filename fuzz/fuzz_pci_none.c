/*
 * fuzz_pci_none.c - PCI configuration mechanism #1 with no devices and the reset control
 * register (dev/pci_none.c) as a guest drives them: 0xCF8-0xCFF through a fresh bus at any
 * width, and its snapshots (the input's language and the round trip are dev_fuzz.h's).
 * Checks: CONFIG_DATA reads all ones; CONFIG_ADDRESS reads back what was written, reserved
 * bits clear.
 *
 *   where         port 0xcf8 + where % 8
 *
 * With clang and -fsanitize=fuzzer this is a libFuzzer target.  Built with FUZZ_REPLAY_MAIN,
 * a plain main replays the files and directories it is given (the seed corpus in
 * fuzz/corpus/pci_none runs as a regression test with any compiler; dev_seeds.c made it).
 */
#include <stdlib.h>

#include "dev_fuzz.h"
#include "dev/pci_none.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct machine {
	struct bus *pio;
	struct pci_none *pci;
};

static void destroy(void *p)
{
	struct machine *m = p;

	pci_none_destroy(m->pci);
	bus_destroy(m->pio);
	free(m);
}

static void *create(const uint8_t config[DEV_FUZZ_CONFIG_MAX])
{
	struct machine *m = calloc(1, sizeof(*m));

	(void)config;
	if (!m || !(m->pio = bus_create("pio")) ||
	    !(m->pci = pci_none_create(m->pio, &dev_fuzz_control)))
		abort();
	return m;
}

static int save(void *p, struct snap_enc *e)
{
	return pci_none_save(((struct machine *)p)->pci, e);
}

static int load(void *p, struct snap_dec *d, char *err, size_t errlen)
{
	return pci_none_load(((struct machine *)p)->pci, d, err, errlen);
}

static uint32_t le32_of(const uint8_t *d)
{
	return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
}

static void guest_access(void *p, const struct dev_access *a)
{
	struct machine *m = p;
	uint16_t port = PCI_CONFIG_ADDRESS + a->where % 8;
	bool address = port == PCI_CONFIG_ADDRESS && a->size == 4;

	dev_fuzz_dispatch(m->pio, port, a);
	if (!dev_fuzz_trusted())
		return; /* a loaded CONFIG_ADDRESS may hold anything */
	if (address && (pci_none_address(m->pci) & 0x7f000003u))
		abort(); /* reserved bits read 0 */
	if (address && !a->write && le32_of(a->data) != pci_none_address(m->pci))
		abort();
	for (unsigned i = 0; !a->write && !address && i < a->size; i++)
		if (port + i >= PCI_CONFIG_DATA && a->data[i] != 0xff)
			abort(); /* no function answers */
}

static const struct fuzz_dev dev = {
	.name = "pci_none", .create = create, .destroy = destroy, .save = save,
	.load = load, .access = guest_access,
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
	return fuzz_replay_main(argc, argv, "fuzz_pci_none");
}
#endif
