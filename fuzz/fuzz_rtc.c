/*
 * fuzz_rtc.c - the MC146818A RTC and CMOS (dev/rtc.c) as a guest drives it: index and data
 * port accesses through a fresh bus, firmware-style CMOS writes from the VMM, and its
 * snapshots (the input's language and the round trip are dev_fuzz.h's).  The clock runs on
 * the host's time, as in a VM.  Checks: the NMI mask reads back as the index port's bit 7
 * last set it; rtc_set_cmos refuses exactly the clock's bytes and what is past the CMOS.
 *
 *   where         port 0x70 + where % 2 (a word access reaches both)
 *   model op 0    rtc_set_cmos(a, b)
 *   model op 1    rtc_nmi_masked
 *
 * With clang and -fsanitize=fuzzer this is a libFuzzer target.  Built with FUZZ_REPLAY_MAIN,
 * a plain main replays the files and directories it is given (the seed corpus in
 * fuzz/corpus/rtc runs as a regression test with any compiler; dev_seeds.c made it).
 */
#include <stdlib.h>

#include "dev_fuzz.h"
#include "dev/rtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CMOS_SIZE 128

struct machine {
	struct bus *pio;
	struct rtc *rtc;
	bool nmi_masked; /* what the guest last wrote to bit 7 of the index port */
};

static void destroy(void *p)
{
	struct machine *m = p;

	rtc_destroy(m->rtc);
	bus_destroy(m->pio);
	free(m);
}

static void *create(const uint8_t config[DEV_FUZZ_CONFIG_MAX])
{
	struct machine *m = calloc(1, sizeof(*m));

	(void)config;
	if (!m || !(m->pio = bus_create("pio")) || !(m->rtc = rtc_create(m->pio)))
		abort();
	return m;
}

static int save(void *p, struct snap_enc *e)
{
	return rtc_save(((struct machine *)p)->rtc, e);
}

static int load(void *p, struct snap_dec *d, char *err, size_t errlen)
{
	struct machine *m = p;

	if (rtc_load(m->rtc, d, err, errlen) < 0)
		return -1;
	m->nmi_masked = rtc_nmi_masked(m->rtc);
	return 0;
}

static void guest_access(void *p, const struct dev_access *a)
{
	struct machine *m = p;
	uint16_t port = RTC_INDEX_PORT + a->where % 2;

	if (a->write && port == RTC_INDEX_PORT)
		m->nmi_masked = a->data[0] & 0x80;
	dev_fuzz_dispatch(m->pio, port, a);
}

static void op(void *p, unsigned which, uint8_t flags, uint8_t a, uint64_t b)
{
	struct machine *m = p;

	(void)flags;
	if (which == 1) {
		if (rtc_nmi_masked(m->rtc) != m->nmi_masked)
			abort();
		return;
	}
	bool clock = a < 0x0e || a == CMOS_CENTURY || a >= CMOS_SIZE;
	if ((rtc_set_cmos(m->rtc, a, (uint8_t)b) < 0) != clock)
		abort();
}

static const struct fuzz_dev dev = {
	.name = "rtc", .create = create, .destroy = destroy, .save = save, .load = load,
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
	return fuzz_replay_main(argc, argv, "fuzz_rtc");
}
#endif
