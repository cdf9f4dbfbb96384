/*
 * fuzz_fw_cfg.c - QEMU's fw_cfg interface (dev/fw_cfg.c) as a guest drives it: selector and
 * data port accesses through a fresh bus, over a device holding the legacy items and two
 * files, named items added by the VMM, and its snapshots (the input's language and the
 * round trip are dev_fuzz.h's).  Checks: fw_cfg_add_file takes exactly the names the header
 * allows and hands out selectors in order.
 *
 *   config        byte 0: the number of CPUs (1 + byte 0)
 *   where         port 0x510 + where % 2 (a selector write must be 16 bits or more)
 *   model op 0    fw_cfg_add_file: the name is b's bytes up to a NUL (at most 8), the data
 *                 a bytes
 *
 * With clang and -fsanitize=fuzzer this is a libFuzzer target.  Built with FUZZ_REPLAY_MAIN,
 * a plain main replays the files and directories it is given (the seed corpus in
 * fuzz/corpus/fw_cfg runs as a regression test with any compiler; dev_seeds.c made it).
 */
#include <stdlib.h>
#include <string.h>

#include "dev_fuzz.h"
#include "dev/fw_cfg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct machine {
	struct bus *pio;
	struct fw_cfg *fw;
	unsigned files;
	char names[FW_CFG_FILE_MAX][FW_CFG_MAX_FILE_PATH];
};

static const uint8_t blob[256] = { 'm', 'p', 'v', 'm', 'm' };

static void destroy(void *p)
{
	struct machine *m = p;

	fw_cfg_destroy(m->fw);
	bus_destroy(m->pio);
	free(m);
}

static bool known(const struct machine *m, const char *name)
{
	for (unsigned i = 0; i < m->files; i++)
		if (!strcmp(m->names[i], name))
			return true;
	return false;
}

/* Taken exactly when the name is new, 1-55 bytes, and there is room; selectors in order. */
static int add_file(struct machine *m, const char *name, size_t len)
{
	size_t n = strlen(name);
	bool ok = n && n < FW_CFG_MAX_FILE_PATH && m->files < FW_CFG_FILE_MAX && !known(m, name);
	int sel = fw_cfg_add_file(m->fw, name, len ? blob : NULL, len);

	if ((sel >= 0) != ok || (ok && sel != FW_CFG_FILE_FIRST + (int)m->files))
		abort();
	if (ok)
		memcpy(m->names[m->files++], name, n + 1);
	return sel;
}

static void *create(const uint8_t config[DEV_FUZZ_CONFIG_MAX])
{
	struct machine *m = calloc(1, sizeof(*m));
	uint16_t cpus = (uint16_t)(config[0] + 1);

	if (!m || !(m->pio = bus_create("pio")) ||
	    !(m->fw = fw_cfg_create(m->pio, 64ull << 20, cpus, cpus)) ||
	    add_file(m, "etc/mpvmm", 5) < 0 || add_file(m, "opt/empty", 0) < 0)
		abort();
	return m;
}

static int save(void *p, struct snap_enc *e)
{
	return fw_cfg_save(((struct machine *)p)->fw, e);
}

static int load(void *p, struct snap_dec *d, char *err, size_t errlen)
{
	return fw_cfg_load(((struct machine *)p)->fw, d, err, errlen);
}

static void guest_access(void *p, const struct dev_access *a)
{
	struct machine *m = p;

	dev_fuzz_dispatch(m->pio, FW_CFG_PORT_SEL + a->where % 2, a);
}

static void op(void *p, unsigned which, uint8_t flags, uint8_t a, uint64_t b)
{
	struct machine *m = p;
	char name[9] = { 0 };

	(void)flags;
	if (which != 0)
		return;
	for (unsigned i = 0; i < 8; i++)
		name[i] = (char)(b >> (8 * i));
	add_file(m, name, a);
}

static const struct fuzz_dev dev = {
	.name = "fw_cfg", .config = 1, .create = create, .destroy = destroy, .save = save,
	.load = load, .access = guest_access, .op = op,
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
	return fuzz_replay_main(argc, argv, "fuzz_fw_cfg");
}
#endif
