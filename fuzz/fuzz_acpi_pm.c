/*
 * fuzz_acpi_pm.c - the ACPI PM1a registers (dev/acpi_pm.c) as a guest drives them: the event
 * and control blocks through a fresh bus at any width and offset (SLP_EN, write-1-to-clear
 * status, enables), PM1 events from the hardware side, and its snapshots (the input's
 * language and the round trip are dev_fuzz.h's).  Checks: the SCI is only ever driven on
 * its IRQ and to a new level; a power-off request comes with status 0 and one line.
 *
 *   where         port 0x600 + where % 6
 *   model op 0    acpi_pm_event(b)
 *
 * With clang and -fsanitize=fuzzer this is a libFuzzer target.  Built with FUZZ_REPLAY_MAIN,
 * a plain main replays the files and directories it is given (the seed corpus in
 * fuzz/corpus/acpi_pm runs as a regression test with any compiler; dev_seeds.c made it).
 */
#include <stdlib.h>

#include "dev_fuzz.h"
#include "dev/acpi_pm.h"
#include "x86/acpi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct machine {
	struct bus *pio;
	struct acpi_pm *pm;
	bool sci;
};

static void set_line(void *ctx, unsigned gsi, bool level)
{
	struct machine *m = ctx;

	if (gsi != ACPI_SCI_IRQ || level == m->sci)
		abort(); /* the SCI only, and only changes */
	m->sci = level;
}

static void destroy(void *p)
{
	struct machine *m = p;

	acpi_pm_destroy(m->pm);
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
	if (!(m->pm = acpi_pm_create(m->pio, &dev_fuzz_control, &line)))
		abort();
	return m;
}

static int save(void *p, struct snap_enc *e)
{
	return acpi_pm_save(((struct machine *)p)->pm, e);
}

static int load(void *p, struct snap_dec *d, char *err, size_t errlen)
{
	return acpi_pm_load(((struct machine *)p)->pm, d, err, errlen);
}

static void guest_access(void *p, const struct dev_access *a)
{
	struct machine *m = p;

	dev_fuzz_dispatch(m->pio, ACPI_PM1A_EVT_PORT + a->where % 6, a);
}

static void op(void *p, unsigned which, uint8_t flags, uint8_t a, uint64_t b)
{
	struct machine *m = p;

	(void)flags;
	(void)a;
	if (which == 0)
		acpi_pm_event(m->pm, (uint16_t)b);
}

static const struct fuzz_dev dev = {
	.name = "acpi_pm", .create = create, .destroy = destroy, .save = save, .load = load,
	.access = guest_access, .op = op,
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
	return fuzz_replay_main(argc, argv, "fuzz_acpi_pm");
}
#endif
