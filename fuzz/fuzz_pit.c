/*
 * fuzz_pit.c - the 8254 PIT (dev/pit.c) on its own, on the harness's clock: a guest's byte
 * accesses to its counters, control word and port B, time passing with the owner's timer
 * work (pit_advance once the time has come, as irqchip/chipset_owned.c does), RESET, and its
 * snapshots (the input's language and the round trip are dev_fuzz.h's).  Checks: counter
 * 0's OUT callback only reports changes; once pit_advance has run at `now`, the next event
 * lies after `now` (an owner waiting for it would otherwise spin).
 *
 *   where         port 0x40, 0x41, 0x42, 0x43, 0x61 or 0x44 (not the PIT's), by where % 6;
 *                 each byte of a wider access goes to that port in turn
 *   model op 0    pit_reset
 *
 * With clang and -fsanitize=fuzzer this is a libFuzzer target.  Built with FUZZ_REPLAY_MAIN,
 * a plain main replays the files and directories it is given (the seed corpus in
 * fuzz/corpus/pit runs as a regression test with any compiler; dev_seeds.c made it).
 */
#include <stdlib.h>

#include "dev_fuzz.h"
#include "dev/pit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct machine {
	struct pit *pit;
	bool out;
};

static const uint16_t ports[] = {
	PIT_PORT_COUNTER0, PIT_PORT_COUNTER1, PIT_PORT_COUNTER2, PIT_PORT_CONTROL, PIT_PORT_B,
	0x44,
};

static void out(void *ctx, bool level)
{
	struct machine *m = ctx;

	if (level == m->out)
		abort(); /* the callback reports changes only */
	m->out = level;
}

static void warn(void *ctx, const char *msg)
{
	(void)ctx;
	dev_fuzz_message(msg);
}

static void destroy(void *p)
{
	struct machine *m = p;

	pit_destroy(m->pit);
	free(m);
}

static void *create(const uint8_t config[DEV_FUZZ_CONFIG_MAX])
{
	struct machine *m = calloc(1, sizeof(*m));

	(void)config;
	if (!m)
		abort();
	m->out = true; /* OUT starts high (pit_reset) */
	const struct pit_config cfg = { .now_ns = dev_fuzz_now, .out = out, .out_ctx = m,
					.warn = warn };
	if (!(m->pit = pit_create(&cfg)))
		abort();
	return m;
}

static int save(void *p, struct snap_enc *e)
{
	pit_save(((struct machine *)p)->pit, e);
	return e->oom ? -1 : 0;
}

/* As the chipset loads it: bytes left over are refused; OUT is as the snapshot says. */
static int load(void *p, struct snap_dec *d, char *err, size_t errlen)
{
	struct machine *m = p;
	struct snap_enc e = { 0 };

	if (pit_load(m->pit, d, err, errlen) < 0)
		return -1;
	if (!snap_dec_done(d))
		return snap_refuse(err, errlen, "8254 PIT", "bytes left over");
	/* Counter 0's flags word is at offset 10; its F_OUT bit (1 << 12) is the level. */
	pit_save(m->pit, &e);
	if (e.oom || e.len < 14)
		abort();
	m->out = e.buf[10 + 1] & 0x10;
	snap_enc_free(&e);
	return 0;
}

static void guest_access(void *p, const struct dev_access *a)
{
	struct machine *m = p;
	uint16_t port = ports[a->where % (sizeof(ports) / sizeof(ports[0]))];

	for (unsigned i = 0; i < a->size; i++) {
		if (a->write)
			pit_io_write(m->pit, port, a->data[i]);
		else
			a->data[i] = pit_io_read(m->pit, port);
	}
}

static void tick(void *p, uint64_t now)
{
	struct machine *m = p;

	pit_advance(m->pit, now);
	uint64_t next = pit_next_event_ns(m->pit);
	if (next != PIT_NO_EVENT && next <= now)
		abort();
}

static void op(void *p, unsigned which, uint8_t flags, uint8_t a, uint64_t b)
{
	struct machine *m = p;

	(void)flags;
	(void)a;
	(void)b;
	if (which == 0) {
		pit_reset(m->pit);
		m->out = true; /* as at power-up, without a callback */
	}
}

static const struct fuzz_dev dev = {
	.name = "pit", .create = create, .destroy = destroy, .save = save, .load = load,
	.access = guest_access, .tick = tick, .op = op,
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
	return fuzz_replay_main(argc, argv, "fuzz_pit");
}
#endif
