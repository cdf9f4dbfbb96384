/*
 * fuzz_i8042.c - the 8042 keyboard controller (dev/i8042.c) as a guest drives it: data and
 * command port accesses through a fresh bus (self-tests, the command byte, loopback, the
 * output port and its reset line), and its snapshots (the input's language and the round
 * trip are dev_fuzz.h's).  Checks: IRQ 1 and 12 only, each driven to a new level; a reset
 * request comes with a one-line reason.
 *
 *   where         port 0x60 or 0x64 by where % 2
 *
 * With clang and -fsanitize=fuzzer this is a libFuzzer target.  Built with FUZZ_REPLAY_MAIN,
 * a plain main replays the files and directories it is given (the seed corpus in
 * fuzz/corpus/i8042 runs as a regression test with any compiler; dev_seeds.c made it).
 */
#include <stdlib.h>

#include "dev_fuzz.h"
#include "dev/i8042.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct machine {
	struct bus *pio;
	struct i8042 *k;
	bool kbd, aux; /* IRQ 1 and IRQ 12 */
};

static void set_line(void *ctx, unsigned gsi, bool level)
{
	struct machine *m = ctx;
	bool *line = gsi == I8042_KBD_GSI ? &m->kbd : gsi == I8042_AUX_GSI ? &m->aux : NULL;

	if (!line || *line == level)
		abort(); /* only IRQ 1 and 12, and only changes */
	*line = level;
}

static void destroy(void *p)
{
	struct machine *m = p;

	i8042_destroy(m->k);
	bus_destroy(m->pio);
	free(m);
}

static void *create(const uint8_t config[DEV_FUZZ_CONFIG_MAX])
{
	struct machine *m = calloc(1, sizeof(*m));

	(void)config;
	if (!m || !(m->pio = bus_create("pio")))
		abort();
	const struct irq_line line = { .set = set_line, .ctx = m };
	if (!(m->k = i8042_create(m->pio, &dev_fuzz_control, &line)))
		abort();
	return m;
}

static int save(void *p, struct snap_enc *e)
{
	return i8042_save(((struct machine *)p)->k, e);
}

static int load(void *p, struct snap_dec *d, char *err, size_t errlen)
{
	return i8042_load(((struct machine *)p)->k, d, err, errlen);
}

static void guest_access(void *p, const struct dev_access *a)
{
	struct machine *m = p;

	dev_fuzz_dispatch(m->pio, a->where % 2 ? I8042_COMMAND_PORT : I8042_DATA_PORT, a);
}

static const struct fuzz_dev dev = {
	.name = "i8042", .create = create, .destroy = destroy, .save = save, .load = load,
	.access = guest_access,
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
	return fuzz_replay_main(argc, argv, "fuzz_i8042");
}
#endif
