/*
 * fuzz_serial.c - the 16550A UART (dev/serial.c) as a guest drives it: port I/O on COM1
 * through a fresh bus, the host's bytes arriving on the line, and its snapshots (the input's
 * language and the round trip are dev_fuzz.h's).  Checks: the interrupt line is only ever
 * driven on GSI 4 and to a new level; the receiver never takes more than a FIFO holds.
 *
 *   where         port 0x3f8 + where % 8 (an access may run past 0x3ff)
 *   model op 0    serial_receive of a % 24 bytes (b's, repeated)
 *   model op 1    serial_flush
 *
 * With clang and -fsanitize=fuzzer this is a libFuzzer target.  Built with FUZZ_REPLAY_MAIN,
 * a plain main replays the files and directories it is given (the seed corpus in
 * fuzz/corpus/serial runs as a regression test with any compiler; dev_seeds.c made it).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "dev_fuzz.h"
#include "dev/serial.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct machine {
	struct bus *pio;
	struct serial *s;
	bool level;
};

static int null_fd = -1; /* where COM1's output goes */

static void set_line(void *ctx, unsigned gsi, bool level)
{
	struct machine *m = ctx;

	if (gsi != SERIAL_COM1_GSI || level == m->level)
		abort(); /* update_irq drives the line only when its level changes */
	m->level = level;
}

static void destroy(void *p)
{
	struct machine *m = p;

	serial_destroy(m->s);
	bus_destroy(m->pio);
	free(m);
}

static void *create(const uint8_t config[DEV_FUZZ_CONFIG_MAX])
{
	struct machine *m = calloc(1, sizeof(*m));

	(void)config;
	if (null_fd < 0)
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (!m || !(m->pio = bus_create("pio")) ||
	    !(m->s = serial_create(m->pio, SERIAL_COM1_BASE, null_fd)))
		abort();
	const struct irq_line line = { .set = set_line, .ctx = m };
	serial_connect_irq(m->s, &line, SERIAL_COM1_GSI);
	return m;
}

static int save(void *p, struct snap_enc *e)
{
	return serial_save(((struct machine *)p)->s, e);
}

static int load(void *p, struct snap_dec *d, char *err, size_t errlen)
{
	return serial_load(((struct machine *)p)->s, d, err, errlen);
}

static void guest_access(void *p, const struct dev_access *a)
{
	struct machine *m = p;

	dev_fuzz_dispatch(m->pio, SERIAL_COM1_BASE + a->where % 8, a);
}

static void op(void *p, unsigned which, uint8_t flags, uint8_t a, uint64_t b)
{
	struct machine *m = p;
	uint8_t buf[24];
	size_t n = a % sizeof(buf);

	(void)flags;
	if (which == 1)
		serial_flush(m->s);
	if (which != 0)
		return;
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)(b >> (8 * (i % 8)));
	size_t taken = serial_receive(m->s, buf, n);
	if (dev_fuzz_trusted() && taken > (n < SERIAL_FIFO_LEN ? n : SERIAL_FIFO_LEN))
		abort(); /* more than a FIFO holds: an overrun */
}

static const struct fuzz_dev dev = {
	.name = "serial", .create = create, .destroy = destroy, .save = save, .load = load,
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
	return fuzz_replay_main(argc, argv, "fuzz_serial");
}
#endif
