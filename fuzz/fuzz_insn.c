/*
 * fuzz_insn.c - the instruction decoder and the fallback emulator on any byte string: decode,
 * name and perform it on a fake CPU (registers from the input, two pages of memory, one
 * absent page, one MMIO page), and abort on a broken invariant:
 *   - a decoded length is 1..15 and never beyond the bytes given; the name fits its buffer;
 *   - not supported: the CPU is unchanged;
 *   - a fault: only CR2 (page faults) may change, RIP stays at the instruction;
 *   - completed: RIP moved past the instruction by exactly its length.
 *
 * Input: byte 0 chooses the mode (bits 0-1), CPL 3 (bit 2), CR0.TS (bit 3), CR0.EM (bit 4),
 * no CPUID features (bit 5), CR4.OSFXSR clear (bit 6); bytes 1-15 are the instruction;
 * what follows seeds the general registers.
 *
 * With clang and -fsanitize=fuzzer this is a libFuzzer target.  Built with FUZZ_REPLAY_MAIN,
 * a plain main replays the files and directories it is given (the seed corpus in
 * fuzz/corpus/insn runs as a regression test with any compiler).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "x86/emulate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PAGE 4096u

static uint8_t backing[2][PAGE] __attribute__((aligned(16)));

/* Linear address bit 13 set: absent; bit 14: MMIO; else one of the two backing pages. */
static int page_of(uint64_t lin, uint8_t **page)
{
	if (lin & (1ull << 13))
		return EMU_MEM_FAULT;
	if (lin & (1ull << 14))
		return EMU_MEM_UNSUPPORTED;
	*page = backing[(lin >> 12) & 1];
	return EMU_MEM_OK;
}

static int check_range(uint64_t lin, size_t n, uint64_t *fault)
{
	if (n > 16)
		abort(); /* the emulator promises at most 16 bytes */
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = NULL;
		int r = page_of(lin + i, &p);
		if (r == EMU_MEM_FAULT)
			*fault = lin + i;
		if (r != EMU_MEM_OK)
			return r;
	}
	return EMU_MEM_OK;
}

static int fake_read(void *ctx, uint64_t lin, void *buf, size_t n, uint64_t *fault)
{
	int r = check_range(lin, n, fault);

	(void)ctx;
	for (size_t i = 0; r == EMU_MEM_OK && i < n; i++) {
		uint8_t *p = NULL;
		page_of(lin + i, &p);
		((uint8_t *)buf)[i] = p[(lin + i) & (PAGE - 1)];
	}
	return r;
}

static int fake_write(void *ctx, uint64_t lin, const void *buf, size_t n, uint64_t *fault)
{
	int r = check_range(lin, n, fault);

	(void)ctx;
	for (size_t i = 0; r == EMU_MEM_OK && i < n; i++) {
		uint8_t *p = NULL;
		page_of(lin + i, &p);
		p[(lin + i) & (PAGE - 1)] = ((const uint8_t *)buf)[i];
	}
	return r;
}

static int fake_cmpxchg16(void *ctx, uint64_t lin, uint64_t old[2], const uint64_t new_[2],
			  bool *swapped, uint64_t *fault)
{
	uint8_t *p = NULL;
	int r = check_range(lin, 16, fault);

	(void)ctx;
	if (r != EMU_MEM_OK)
		return r;
	if (lin & 15)
		abort(); /* the emulator checks alignment first */
	page_of(lin, &p);
	emu_host_cmpxchg16(p + (lin & (PAGE - 1)), old, new_, swapped);
	return EMU_MEM_OK;
}

static const struct emu_mem mem = { .read = fake_read, .write = fake_write,
				    .cmpxchg16 = fake_cmpxchg16 };

static struct emu_cpu make_cpu(uint8_t cfg, const uint8_t *seed, size_t n)
{
	struct emu_cpu c;
	uint64_t *gprs = &c.regs.rax;

	memset(&c, 0, sizeof(c));
	for (unsigned i = 0; i < 16; i++) {
		uint64_t v = 0x0000000000000800ull * (i + 1);
		if (n >= 8 * (i + 1))
			memcpy(&v, seed + 8 * i, 8);
		gprs[i] = v;
	}
	c.regs.rip = 0x1ff8;
	c.regs.rflags = 0x2;
	c.sregs.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_NE | (cfg & 8 ? 8 : 0) | (cfg & 16 ? 4 : 0);
	c.sregs.cr4 = cfg & 64 ? 0 : 1u << 9;
	c.sregs.ss.dpl = cfg & 4 ? 3 : 0;
	c.sregs.fs.base = 0x1000;
	c.sregs.ds.base = 0x100;
	c.sregs.cs.l = (cfg & 3) == 2;
	c.sregs.cs.db = (cfg & 3) == 1;
	c.sregs.efer = (cfg & 3) == 2 ? X86_EFER_LMA | X86_EFER_LME : 0;
	c.features = cfg & 32 ? 0 : ~0u;
	c.mxcsr_mask = X86_MXCSR_DEFAULT_MASK;
	c.fpu.mxcsr = 0x1f80;
	c.fpu.fsw = seed && n ? seed[0] : 0;
	return c;
}

static bool completed(const struct insn *in, const struct emu_event *ev)
{
	if (!ev->pending)
		return true;
	/* INT n / INT3 / INT1 complete and raise their event; with LOCK they are #UD. */
	return (in->kind == INSN_INT_N || in->kind == INSN_INT3 || in->kind == INSN_INT1) &&
	       !in->lock;
}

static void check(const struct insn *in, const struct emu_cpu *before, const struct emu_cpu *after,
		  enum emu_status st, const struct emu_event *ev)
{
	if (st == EMU_UNSUPPORTED) {
		if (memcmp(before, after, sizeof(*before)))
			abort();
		return;
	}
	uint64_t mask = in->mode == INSN_MODE_64 ? ~0ull : in->mode == INSN_MODE_32 ?
			0xffffffffull : 0xffffull;
	if (completed(in, ev)) {
		if (after->regs.rip != ((before->regs.rip + in->len) & mask))
			abort();
		return;
	}
	struct emu_cpu b = *before;
	b.sregs.cr2 = after->sregs.cr2;
	b.sregs_dirty = after->sregs_dirty;
	if (memcmp(&b, after, sizeof(b)) || (after->sregs_dirty && ev->vector != X86_VEC_PF))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum insn_mode modes[4] = { INSN_MODE_16, INSN_MODE_32, INSN_MODE_64,
						 INSN_MODE_64 };
	struct insn in;
	struct emu_event ev;
	char name[64];

	if (size < 1)
		return 0;
	uint8_t cfg = data[0];
	size_t n = size - 1 < INSN_MAX_LEN ? size - 1 : INSN_MAX_LEN;
	/* A copy exactly n bytes long: ASan catches any read past the end. */
	uint8_t *bytes = malloc(n ? n : 1);
	if (!bytes)
		return 0;
	memcpy(bytes, data + 1, n);
	if (insn_decode_mode(bytes, n, modes[cfg & 3], &in) == 0) {
		if (in.len < 1 || in.len > n)
			abort();
		insn_format(&in, name, sizeof(name));
		if (strlen(name) >= sizeof(name))
			abort();
		struct emu_cpu c = make_cpu(cfg, data + 1 + n, size - 1 - n);
		struct emu_cpu before = c;
		enum emu_status st = emulate(&in, &c, &mem, &ev);
		check(&in, &before, &c, st, &ev);
	}
	free(bytes);
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "replay.h"

int main(int argc, char **argv)
{
	int r = fuzz_replay_main(argc, argv, "fuzz_insn");

	return r;
}
#endif
