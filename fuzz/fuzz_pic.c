/*
 * fuzz_pic.c - the 8259A pair (dev/pic.c) on its own: a guest's byte accesses to its six
 * ports (the chipset hands it one byte at a time; fuzz_chipset.c covers that wiring), the
 * sixteen input lines, the CPU's interrupt acknowledge, RESET, and its snapshots (the
 * input's language and the round trip are dev_fuzz.h's).  Checks: the INTR callback only
 * reports changes and agrees with pic_output; an acknowledge answers a vector the chips can
 * make (the base of one chip plus an IR number).
 *
 *   where         PIC_MASTER_CMD, _DATA, PIC_SLAVE_CMD, _DATA, ELCR master, slave, or 0x22
 *                 (not the PIC's), by where % 7; each byte of a wider access goes to that
 *                 port in turn
 *   model op 0    pic_set_irq(a % 17, b & 1) (16: no such input)
 *   model op 1    pic_ack
 *   model op 2    pic_reset
 *
 * With clang and -fsanitize=fuzzer this is a libFuzzer target.  Built with FUZZ_REPLAY_MAIN,
 * a plain main replays the files and directories it is given (the seed corpus in
 * fuzz/corpus/pic runs as a regression test with any compiler; dev_seeds.c made it).
 */
#include <stdlib.h>

#include "dev_fuzz.h"
#include "dev/pic.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct machine {
	struct pic *pic;
	bool intr;
};

static const uint16_t ports[] = {
	PIC_MASTER_CMD, PIC_MASTER_DATA, PIC_SLAVE_CMD, PIC_SLAVE_DATA,
	PIC_ELCR_MASTER, PIC_ELCR_SLAVE, 0x22,
};

static void output(void *ctx, bool level)
{
	struct machine *m = ctx;

	if (level == m->intr)
		abort(); /* the callback reports changes only */
	m->intr = level;
}

static void warn(void *ctx, const char *msg)
{
	(void)ctx;
	dev_fuzz_message(msg);
}

static void destroy(void *p)
{
	struct machine *m = p;

	pic_destroy(m->pic);
	free(m);
}

static void *create(const uint8_t config[DEV_FUZZ_CONFIG_MAX])
{
	struct machine *m = calloc(1, sizeof(*m));

	(void)config;
	if (!m)
		abort();
	const struct pic_config cfg = { .output = output, .output_ctx = m, .warn = warn };
	if (!(m->pic = pic_create(&cfg)))
		abort();
	return m;
}

static int save(void *p, struct snap_enc *e)
{
	pic_save(((struct machine *)p)->pic, e);
	return e->oom ? -1 : 0;
}

/* As the chipset loads it: the owner then reads INTR; bytes left over are refused. */
static int load(void *p, struct snap_dec *d, char *err, size_t errlen)
{
	struct machine *m = p;

	if (pic_load(m->pic, d, err, errlen) < 0)
		return -1;
	m->intr = pic_output(m->pic);
	return snap_dec_done(d) ? 0 : snap_refuse(err, errlen, "8259A", "bytes left over");
}

static void check_intr(const struct machine *m)
{
	if (pic_output(m->pic) != m->intr)
		abort();
}

static void guest_access(void *p, const struct dev_access *a)
{
	struct machine *m = p;
	uint16_t port = ports[a->where % (sizeof(ports) / sizeof(ports[0]))];

	for (unsigned i = 0; i < a->size; i++) {
		if (a->write)
			pic_io_write(m->pic, port, a->data[i]);
		else
			a->data[i] = pic_io_read(m->pic, port);
		check_intr(m);
	}
}

static void op(void *p, unsigned which, uint8_t flags, uint8_t a, uint64_t b)
{
	struct machine *m = p;
	int vector;

	(void)flags;
	switch (which) {
	case 0:
		pic_set_irq(m->pic, a % (PIC_IRQS + 1), b & 1);
		break;
	case 1:
		vector = pic_ack(m->pic);
		if (vector < 0 || vector > 0xff)
			abort();
		break;
	case 2:
		pic_reset(m->pic);
		break;
	}
	check_intr(m);
}

static const struct fuzz_dev dev = {
	.name = "pic", .create = create, .destroy = destroy, .save = save, .load = load,
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
	return fuzz_replay_main(argc, argv, "fuzz_pic");
}
#endif
