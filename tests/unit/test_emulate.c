/*
 * test_emulate.c - the fallback emulator on a fake CPU (no KVM): registers in a struct and
 * a small paged memory behind the callbacks.  Linear pages 0x10000 and 0x11000 map backing
 * pages 1 and 0 (not adjacent, reverse order), 0x12000 is not present, 0x13000 is MMIO.
 * Expected results come from bit loops here, not from the compiler builtins the emulator
 * uses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <pthread.h>

#include <cmocka.h>

#include "x86/emulate.h"

#define PAGE 4096u
#define LIN0 0x10000ull /* -> backing page 1 */
#define LIN1 0x11000ull /* -> backing page 0 */
#define LIN_ABSENT 0x12000ull
#define LIN_MMIO 0x13000ull

#define FL_CF 0x001ull
#define FL_PF 0x004ull
#define FL_AF 0x010ull
#define FL_ZF 0x040ull
#define FL_SF 0x080ull
#define FL_OF 0x800ull
#define FL_RF (1ull << 16)
#define FL_AC (1ull << 18)
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

static uint8_t backing[2][PAGE] __attribute__((aligned(16)));

static int page_of(uint64_t lin, uint8_t **page)
{
	switch (lin & ~(uint64_t)(PAGE - 1)) {
	case LIN0: *page = backing[1]; return EMU_MEM_OK;
	case LIN1: *page = backing[0]; return EMU_MEM_OK;
	case LIN_MMIO: return EMU_MEM_UNSUPPORTED;
	default: return EMU_MEM_FAULT;
	}
}

/* Byte by byte, so a crossing access really goes through two translations. */
static int check_range(uint64_t lin, size_t n, uint64_t *fault)
{
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
	page_of(lin, &p);
	emu_host_cmpxchg16(p + (lin & (PAGE - 1)), old, new_, swapped);
	return EMU_MEM_OK;
}

static const struct emu_mem plain_mem = { .read = fake_read, .write = fake_write };
static const struct emu_mem atomic_mem = { .read = fake_read, .write = fake_write,
					   .cmpxchg16 = fake_cmpxchg16 };

#define ALL_FEATURES (EMU_FEAT_POPCNT | EMU_FEAT_LZCNT | EMU_FEAT_BMI1 | EMU_FEAT_SMAP | \
		      EMU_FEAT_SSE | EMU_FEAT_CX16)
#define RIP0 0x400000ull

/* A 64-bit CPL 0 CPU with SSE enabled and every feature. */
static struct emu_cpu cpu64(void)
{
	struct emu_cpu c;

	memset(&c, 0, sizeof(c));
	c.regs.rip = RIP0;
	c.regs.rflags = 0x2;
	c.sregs.cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_NE | X86_CR0_PG;
	c.sregs.cr4 = X86_CR4_PAE | (1u << 9);
	c.sregs.efer = X86_EFER_LME | X86_EFER_LMA;
	c.sregs.cs.l = 1;
	c.features = ALL_FEATURES;
	c.mxcsr_mask = X86_MXCSR_DEFAULT_MASK;
	c.fpu.fcw = 0x37f;
	c.fpu.mxcsr = 0x1f80;
	return c;
}

static struct insn decode(const uint8_t *b, size_t n, enum insn_mode mode)
{
	struct insn in;

	assert_int_equal(insn_decode_mode(b, n, mode, &in), 0);
	return in;
}

#define B(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

static struct emu_event run(struct emu_cpu *c, const struct emu_mem *m, const uint8_t *b,
			    size_t n, enum insn_mode mode)
{
	struct insn in = decode(b, n, mode);
	struct emu_event ev;

	assert_int_equal(emulate(&in, c, m, &ev), EMU_DONE);
	return ev;
}

static void expect_fault(struct emu_event ev, uint8_t vector, bool has_error, uint32_t error)
{
	assert_true(ev.pending);
	assert_int_equal(ev.vector, vector);
	assert_false(ev.soft_int);
	assert_int_equal(ev.has_error_code, has_error);
	if (has_error)
		assert_int_equal(ev.error_code, error);
}

/* ---- references ----------------------------------------------------------------------- */

static unsigned ref_popcnt(uint64_t v)
{
	unsigned n = 0;

	for (unsigned i = 0; i < 64; i++)
		n += (v >> i) & 1;
	return n;
}

static unsigned ref_lzcnt(uint64_t v, unsigned bits)
{
	unsigned n = 0;

	while (n < bits && !((v >> (bits - 1 - n)) & 1))
		n++;
	return n;
}

static unsigned ref_tzcnt(uint64_t v, unsigned bits)
{
	unsigned n = 0;

	while (n < bits && !((v >> n) & 1))
		n++;
	return n;
}

static const uint64_t values[] = {
	0, 1, 0x8000000000000000ull, ~0ull, 0x00f0000000000000ull, 0x0123456789abcdefull,
	0x0000000100000000ull, 0x8000, 0xfedc000000000010ull, 0x10000,
};

/* ---- bit counts -------------------------------------------------------------------------- */

/* popcnt/lzcnt/tzcnt rax, rbx with 16-, 32- and 64-bit operands; rflags all set or clear. */
static void test_bitcount_registers(void **state)
{
	static const uint8_t ops[3] = { 0xb8, 0xbd, 0xbc };
	(void)state;
	for (unsigned op = 0; op < 3; op++) {
		for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
			for (unsigned size = 2; size <= 8; size *= 2) {
				for (unsigned fl = 0; fl < 2; fl++) {
					uint8_t b[6];
					size_t n = 0;
					if (size == 2)
						b[n++] = 0x66;
					b[n++] = 0xf3;
					if (size == 8)
						b[n++] = 0x48;
					b[n++] = 0x0f;
					b[n++] = ops[op];
					b[n++] = 0xc3; /* reg = rax, rm = rbx */
					struct emu_cpu c = cpu64();
					uint64_t before = 0x5a5a5a5a5a5a5a5aull;
					c.regs.rax = before;
					c.regs.rbx = values[i];
					c.regs.rflags = 0x2 | (fl ? FL_ARITH : 0) | FL_RF;
					struct emu_event ev = run(&c, &plain_mem, b, n, INSN_MODE_64);
					assert_false(ev.pending);
					unsigned bits = 8 * size;
					uint64_t src = size == 8 ? values[i] :
						       values[i] & ((1ull << bits) - 1);
					unsigned r = op == 0 ? ref_popcnt(src) :
						     op == 1 ? ref_lzcnt(src, bits) :
						     ref_tzcnt(src, bits);
					uint64_t want = size == 2 ? (before & ~0xffffull) | r : r;
					assert_int_equal(c.regs.rax, want);
					assert_int_equal(c.regs.rip, RIP0 + n);
					assert_int_equal(c.regs.rflags & FL_RF, 0);
					if (op == 0) {
						assert_int_equal(c.regs.rflags & FL_ARITH,
								 src ? 0 : FL_ZF);
					} else {
						uint64_t cz = (src ? 0 : FL_CF) | (r ? 0 : FL_ZF);
						assert_int_equal(c.regs.rflags & (FL_CF | FL_ZF), cz);
						/* OF SF AF PF: undefined, left alone */
						assert_int_equal(c.regs.rflags & (FL_OF | FL_SF |
										  FL_AF | FL_PF),
								 fl ? FL_OF | FL_SF | FL_AF | FL_PF :
								 0);
					}
				}
			}
		}
	}
}

static void put64(uint64_t lin, uint64_t v)
{
	uint64_t fault;
	uint8_t b[8];

	for (unsigned i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	assert_int_equal(fake_write(NULL, lin, b, 8, &fault), EMU_MEM_OK);
}

static void test_bitcount_memory(void **state)
{
	struct emu_cpu c;
	struct emu_event ev;

	(void)state;
	/* popcnt r10, [r9 + r11*8 - 0x10] */
	c = cpu64();
	c.regs.r9 = LIN0 + 0x100;
	c.regs.r11 = 4;
	put64(LIN0 + 0x100 + 32 - 16, 0x0123456789abcdefull);
	ev = run(&c, &plain_mem, B(0xf3, 0x4f, 0x0f, 0xb8, 0x54, 0xd9, 0xf0), INSN_MODE_64);
	assert_false(ev.pending);
	assert_int_equal(c.regs.r10, ref_popcnt(0x0123456789abcdefull));
	assert_int_equal(c.regs.rip, RIP0 + 7);
	/* popcnt rax, [rip - 0x10]: relative to the next instruction */
	c = cpu64();
	c.regs.rip = LIN0 + 0x209;
	put64(LIN0 + 0x200 + 9 - 16 + 9, 0xff);
	ev = run(&c, &plain_mem, B(0xf3, 0x48, 0x0f, 0xb8, 0x05, 0xf0, 0xff, 0xff, 0xff),
		 INSN_MODE_64);
	assert_int_equal(c.regs.rax, 8);
	/* 16-bit operand, tzcnt ax, [rbx]: upper bits of rax kept */
	c = cpu64();
	c.regs.rax = 0xaaaaaaaaaaaaaaaaull;
	c.regs.rbx = LIN0 + 0x300;
	put64(LIN0 + 0x300, 0x12340000ull);
	ev = run(&c, &plain_mem, B(0x66, 0xf3, 0x0f, 0xbc, 0x03), INSN_MODE_64);
	assert_int_equal(c.regs.rax, 0xaaaaaaaaaaaa0010ull);
	assert_int_equal(c.regs.rflags & (FL_CF | FL_ZF), FL_CF); /* low 16 bits are zero */
	/* GS base in 64-bit mode; a DS override is ignored there */
	c = cpu64();
	c.sregs.gs.base = LIN0;
	c.sregs.ds.base = 0x7777000;
	c.regs.rbx = 0x400;
	put64(LIN0 + 0x400, 0x3);
	ev = run(&c, &plain_mem, B(0x65, 0xf3, 0x48, 0x0f, 0xb8, 0x03), INSN_MODE_64);
	assert_int_equal(c.regs.rax, 2);
	c.regs.rip = RIP0;
	c.regs.rbx = LIN0 + 0x400;
	ev = run(&c, &plain_mem, B(0x3e, 0xf3, 0x48, 0x0f, 0xb8, 0x03), INSN_MODE_64);
	assert_int_equal(c.regs.rax, 2);
	/* 67: the address wraps at 32 bits */
	c = cpu64();
	c.regs.rbx = 0xffffffff00000000ull | (LIN0 + 0x400);
	ev = run(&c, &plain_mem, B(0x67, 0xf3, 0x48, 0x0f, 0xb8, 0x03), INSN_MODE_64);
	assert_false(ev.pending);
	assert_int_equal(c.regs.rax, 2);
	/* 32-bit mode: DS base added, EIP wraps */
	c = cpu64();
	c.sregs.cs.l = 0;
	c.sregs.cs.db = 1;
	c.sregs.efer = 0;
	c.sregs.ds.base = LIN0;
	c.regs.rbx = 0x400;
	c.regs.rip = 0xfffffffe;
	ev = run(&c, &plain_mem, B(0xf3, 0x0f, 0xb8, 0x03), INSN_MODE_32);
	assert_int_equal(c.regs.rax, 2);
	assert_int_equal(c.regs.rip, 2);
}

/* An 8-byte operand 4 bytes before the end of LIN0: 4 bytes from each backing page. */
static void test_page_crossing(void **state)
{
	struct emu_cpu c = cpu64();
	uint64_t v = 0xf00000000000000full;

	(void)state;
	put64(LIN1 - 4, v);
	assert_int_equal(memcmp(&backing[1][PAGE - 4], "\x0f\x00\x00\x00", 4), 0);
	assert_int_equal(memcmp(&backing[0][0], "\x00\x00\x00\xf0", 4), 0);
	c.regs.rbx = LIN1 - 4;
	struct emu_event ev = run(&c, &plain_mem, B(0xf3, 0x48, 0x0f, 0xb8, 0x03), INSN_MODE_64);
	assert_false(ev.pending);
	assert_int_equal(c.regs.rax, 8);
	/* lzcnt rax, [rbx] across pages */
	c = cpu64();
	c.regs.rbx = LIN1 - 4;
	ev = run(&c, &plain_mem, B(0xf3, 0x48, 0x0f, 0xbd, 0x03), INSN_MODE_64);
	assert_int_equal(c.regs.rax, 0);
}

/* Running into the absent page: #PF, CR2 = first absent byte, nothing else changes. */
static void test_page_fault(void **state)
{
	struct emu_cpu c = cpu64();

	(void)state;
	c.regs.rbx = LIN_ABSENT - 4;
	c.regs.rax = 0x1234;
	struct emu_event ev = run(&c, &plain_mem, B(0xf3, 0x48, 0x0f, 0xb8, 0x03), INSN_MODE_64);
	expect_fault(ev, X86_VEC_PF, true, 0);
	assert_int_equal(c.sregs.cr2, LIN_ABSENT);
	assert_true(c.sregs_dirty);
	assert_int_equal(c.regs.rax, 0x1234);
	assert_int_equal(c.regs.rip, RIP0);
	/* A write at CPL 3: W and U bits */
	c = cpu64();
	c.sregs.ss.dpl = 3;
	c.regs.rbx = LIN_ABSENT;
	ev = run(&c, &plain_mem, B(0x0f, 0xae, 0x1b), INSN_MODE_64); /* stmxcsr [rbx] */
	expect_fault(ev, X86_VEC_PF, true, 6);
	/* MMIO: not carried */
	c = cpu64();
	c.regs.rbx = LIN_MMIO;
	struct insn in = decode(B(0xf3, 0x48, 0x0f, 0xb8, 0x03), INSN_MODE_64);
	assert_int_equal(emulate(&in, &c, &plain_mem, &ev), EMU_UNSUPPORTED);
	assert_int_equal(c.regs.rip, RIP0);
}

static void test_missing_features(void **state)
{
	struct emu_cpu c = cpu64();
	struct emu_event ev;
	struct insn in;

	(void)state;
	c.features = ALL_FEATURES & ~EMU_FEAT_POPCNT;
	ev = run(&c, &plain_mem, B(0xf3, 0x0f, 0xb8, 0xc3), INSN_MODE_64);
	expect_fault(ev, X86_VEC_UD, false, 0);
	assert_int_equal(c.regs.rip, RIP0);
	/* Without LZCNT the bytes are BSR: not carried */
	c.features = ALL_FEATURES & ~EMU_FEAT_LZCNT;
	in = decode(B(0xf3, 0x0f, 0xbd, 0xc3), INSN_MODE_64);
	assert_int_equal(emulate(&in, &c, &plain_mem, &ev), EMU_UNSUPPORTED);
	c.features = ALL_FEATURES;
	ev = run(&c, &plain_mem, B(0xf0, 0xf3, 0x0f, 0xb8, 0xc3), INSN_MODE_64); /* LOCK */
	expect_fault(ev, X86_VEC_UD, false, 0);
	in = decode(B(0x90), INSN_MODE_64);
	assert_int_equal(emulate(&in, &c, &plain_mem, &ev), EMU_UNSUPPORTED);
}

/* ---- interrupts, FWAIT, CLAC/STAC ------------------------------------------------------ */

static void test_software_interrupts(void **state)
{
	struct emu_cpu c = cpu64();
	struct emu_event ev;

	(void)state;
	ev = run(&c, &plain_mem, B(0xcd, 0x80), INSN_MODE_64);
	assert_true(ev.pending && ev.soft_int);
	assert_int_equal(ev.vector, 0x80);
	assert_int_equal(c.regs.rip, RIP0 + 2);
	ev = run(&c, &plain_mem, B(0xcc), INSN_MODE_64);
	assert_true(ev.pending && !ev.soft_int);
	assert_int_equal(ev.vector, X86_VEC_BP);
	assert_int_equal(c.regs.rip, RIP0 + 3);
	ev = run(&c, &plain_mem, B(0xf1), INSN_MODE_64);
	assert_int_equal(ev.vector, X86_VEC_DB);
	assert_int_equal(c.regs.rip, RIP0 + 4);
}

static void test_fwait(void **state)
{
	struct emu_cpu c = cpu64();
	struct emu_event ev;

	(void)state;
	c.regs.rflags = 0x2 | FL_ARITH;
	ev = run(&c, &plain_mem, B(0x9b), INSN_MODE_64);
	assert_false(ev.pending);
	assert_int_equal(c.regs.rip, RIP0 + 1);
	assert_int_equal(c.regs.rflags, 0x2 | FL_ARITH);
	assert_false(c.fpu_dirty);
	/* CR0.MP and TS: #NM */
	c = cpu64();
	c.sregs.cr0 |= 1u << 3;
	ev = run(&c, &plain_mem, B(0x9b), INSN_MODE_64);
	expect_fault(ev, X86_VEC_NM, false, 0);
	assert_int_equal(c.regs.rip, RIP0);
	/* TS without MP: no #NM */
	c.sregs.cr0 &= ~(uint64_t)X86_CR0_MP;
	ev = run(&c, &plain_mem, B(0x9b), INSN_MODE_64);
	assert_false(ev.pending);
	/* An unmasked exception pending (FSW.ES) with CR0.NE: #MF; with NE = 0 it goes on */
	c = cpu64();
	c.fpu.fsw = X86_FSW_ES | 0x4;
	ev = run(&c, &plain_mem, B(0x9b), INSN_MODE_64);
	expect_fault(ev, X86_VEC_MF, false, 0);
	assert_int_equal(c.regs.rip, RIP0);
	c.sregs.cr0 &= ~(uint64_t)X86_CR0_NE;
	ev = run(&c, &plain_mem, B(0x9b), INSN_MODE_64);
	assert_false(ev.pending);
	assert_int_equal(c.regs.rip, RIP0 + 1);
}

static void test_clac_stac(void **state)
{
	struct emu_cpu c = cpu64();
	struct emu_event ev;

	(void)state;
	c.regs.rflags = 0x2 | FL_ARITH;
	ev = run(&c, &plain_mem, B(0x0f, 0x01, 0xcb), INSN_MODE_64);
	assert_false(ev.pending);
	assert_int_equal(c.regs.rflags, 0x2 | FL_ARITH | FL_AC);
	assert_int_equal(c.regs.rip, RIP0 + 3);
	ev = run(&c, &plain_mem, B(0x0f, 0x01, 0xca), INSN_MODE_64);
	assert_int_equal(c.regs.rflags, 0x2 | FL_ARITH);
	assert_int_equal(c.regs.rip, RIP0 + 6);
	/* #UD at CPL 3, without CPUID SMAP, with LOCK; CR4.SMAP does not matter */
	c = cpu64();
	c.sregs.ss.dpl = 3;
	expect_fault(run(&c, &plain_mem, B(0x0f, 0x01, 0xcb), INSN_MODE_64), X86_VEC_UD, false, 0);
	assert_int_equal(c.regs.rflags & FL_AC, 0);
	c = cpu64();
	c.features &= ~EMU_FEAT_SMAP;
	expect_fault(run(&c, &plain_mem, B(0x0f, 0x01, 0xca), INSN_MODE_64), X86_VEC_UD, false, 0);
	c = cpu64();
	expect_fault(run(&c, &plain_mem, B(0xf0, 0x0f, 0x01, 0xca), INSN_MODE_64), X86_VEC_UD,
		     false, 0);
	/* real mode is CPL 0 */
	c = cpu64();
	c.sregs.cr0 = 0;
	c.sregs.ss.dpl = 3;
	assert_false(run(&c, &plain_mem, B(0x0f, 0x01, 0xcb), INSN_MODE_16).pending);
}

/* ---- x87 / SSE state ------------------------------------------------------------------- */

static void test_fnclex_fnstsw_emms(void **state)
{
	struct emu_cpu c = cpu64();
	struct emu_event ev;

	(void)state;
	c.fpu.fsw = 0xb8ff; /* B, TOP = 7, C3.., ES, SF, every flag */
	ev = run(&c, &plain_mem, B(0xdb, 0xe2), INSN_MODE_64);
	assert_false(ev.pending);
	assert_int_equal(c.fpu.fsw, 0x3800); /* TOP kept */
	assert_true(c.fpu_dirty);
	assert_int_equal(c.regs.rip, RIP0 + 2);
	/* fnstsw ax keeps rax[63:16]; fnstsw [rbx] */
	c.regs.rax = 0x1111111111111111ull;
	ev = run(&c, &plain_mem, B(0xdf, 0xe0), INSN_MODE_64);
	assert_int_equal(c.regs.rax, 0x1111111111113800ull);
	c.regs.rbx = LIN1 - 1; /* crossing */
	ev = run(&c, &plain_mem, B(0xdd, 0x3b), INSN_MODE_64);
	assert_int_equal(backing[1][PAGE - 1], 0x00);
	assert_int_equal(backing[0][0], 0x38);
	/* #NM with CR0.TS or EM */
	c = cpu64();
	c.sregs.cr0 |= 1u << 2;
	expect_fault(run(&c, &plain_mem, B(0xdb, 0xe2), INSN_MODE_64), X86_VEC_NM, false, 0);
	expect_fault(run(&c, &plain_mem, B(0xdf, 0xe0), INSN_MODE_64), X86_VEC_NM, false, 0);
	/* EMMS: all tags empty; #UD with EM, #NM with TS, #MF when pending */
	c = cpu64();
	c.fpu.ftw = 0x81;
	ev = run(&c, &plain_mem, B(0x0f, 0x77), INSN_MODE_64);
	assert_false(ev.pending);
	assert_int_equal(c.fpu.ftw, 0);
	assert_int_equal(c.regs.rip, RIP0 + 2);
	c = cpu64();
	c.sregs.cr0 |= 1u << 2;
	expect_fault(run(&c, &plain_mem, B(0x0f, 0x77), INSN_MODE_64), X86_VEC_UD, false, 0);
	c = cpu64();
	c.sregs.cr0 |= 1u << 3;
	expect_fault(run(&c, &plain_mem, B(0x0f, 0x77), INSN_MODE_64), X86_VEC_NM, false, 0);
	c = cpu64();
	c.fpu.fsw = X86_FSW_ES | 1;
	expect_fault(run(&c, &plain_mem, B(0x0f, 0x77), INSN_MODE_64), X86_VEC_MF, false, 0);
	assert_false(c.fpu_dirty);
}

static void test_mxcsr(void **state)
{
	struct emu_cpu c = cpu64();
	struct emu_event ev;
	uint8_t b4[4] = { 0xc0, 0x9f, 0, 0 };
	uint64_t fault;

	(void)state;
	assert_int_equal(fake_write(NULL, LIN1 - 2, b4, 4, &fault), EMU_MEM_OK);
	c.regs.rax = LIN1 - 2; /* ldmxcsr [rax], crossing */
	ev = run(&c, &plain_mem, B(0x0f, 0xae, 0x10), INSN_MODE_64);
	assert_false(ev.pending);
	assert_int_equal(c.fpu.mxcsr, 0x9fc0);
	assert_true(c.fpu_dirty);
	assert_int_equal(c.regs.rip, RIP0 + 3);
	/* stmxcsr [rsp+0xc] */
	c.regs.rsp = LIN0 + 0x500;
	ev = run(&c, &plain_mem, B(0x0f, 0xae, 0x5c, 0x24, 0x0c), INSN_MODE_64);
	assert_false(ev.pending);
	assert_int_equal(backing[1][0x50c], 0xc0);
	assert_int_equal(backing[1][0x50d], 0x9f);
	/* A reserved bit: #GP(0), MXCSR and RIP unchanged */
	c = cpu64();
	b4[2] = 1;
	assert_int_equal(fake_write(NULL, LIN0, b4, 4, &fault), EMU_MEM_OK);
	c.regs.rax = LIN0;
	ev = run(&c, &plain_mem, B(0x0f, 0xae, 0x10), INSN_MODE_64);
	expect_fault(ev, X86_VEC_GP, true, 0);
	assert_int_equal(c.fpu.mxcsr, 0x1f80);
	assert_int_equal(c.regs.rip, RIP0);
	assert_false(c.fpu_dirty);
	/* #UD without CR4.OSFXSR, with CR0.EM; #NM with CR0.TS */
	c = cpu64();
	c.sregs.cr4 = X86_CR4_PAE;
	expect_fault(run(&c, &plain_mem, B(0x0f, 0xae, 0x10), INSN_MODE_64), X86_VEC_UD, false, 0);
	c = cpu64();
	c.sregs.cr0 |= 1u << 2;
	expect_fault(run(&c, &plain_mem, B(0x0f, 0xae, 0x18), INSN_MODE_64), X86_VEC_UD, false, 0);
	c = cpu64();
	c.sregs.cr0 |= 1u << 3;
	expect_fault(run(&c, &plain_mem, B(0x0f, 0xae, 0x10), INSN_MODE_64), X86_VEC_NM, false, 0);
}

/* ---- CMPXCHG16B --------------------------------------------------------------------------- */

static void cmpxchg16b_cases(const struct emu_mem *m)
{
	struct emu_cpu c = cpu64();
	struct emu_event ev;

	put64(LIN0 + 0x600, 0x1111);
	put64(LIN0 + 0x608, 0x2222);
	c.regs.rdi = LIN0 + 0x600;
	c.regs.rax = 0x1111, c.regs.rdx = 0x2222, c.regs.rbx = 0xaaaa, c.regs.rcx = 0xbbbb;
	c.regs.rflags = 0x2 | FL_CF;
	ev = run(&c, m, B(0xf0, 0x48, 0x0f, 0xc7, 0x0f), INSN_MODE_64);
	assert_false(ev.pending);
	assert_int_equal(c.regs.rflags, 0x2 | FL_CF | FL_ZF);
	assert_int_equal(c.regs.rip, RIP0 + 5);
	assert_int_equal(c.regs.rax, 0x1111);
	uint64_t lo, hi;
	memcpy(&lo, &backing[1][0x600], 8);
	memcpy(&hi, &backing[1][0x608], 8);
	assert_int_equal(lo, 0xaaaa);
	assert_int_equal(hi, 0xbbbb);
	/* Differs: RDX:RAX loaded, memory kept, ZF cleared */
	c.regs.rbx = 0xcccc, c.regs.rcx = 0xdddd;
	ev = run(&c, m, B(0xf0, 0x48, 0x0f, 0xc7, 0x0f), INSN_MODE_64);
	assert_int_equal(c.regs.rflags & FL_ZF, 0);
	assert_int_equal(c.regs.rax, 0xaaaa);
	assert_int_equal(c.regs.rdx, 0xbbbb);
	memcpy(&lo, &backing[1][0x600], 8);
	assert_int_equal(lo, 0xaaaa);
	/* Misaligned: #GP(0); absent: #PF with W; no CX16: #UD */
	c = cpu64();
	c.regs.rdi = LIN0 + 0x608;
	expect_fault(run(&c, m, B(0x48, 0x0f, 0xc7, 0x0f), INSN_MODE_64), X86_VEC_GP, true, 0);
	c.regs.rdi = LIN_ABSENT;
	expect_fault(run(&c, m, B(0x48, 0x0f, 0xc7, 0x0f), INSN_MODE_64), X86_VEC_PF, true, 2);
	assert_int_equal(c.sregs.cr2, LIN_ABSENT);
	c = cpu64();
	c.features &= ~EMU_FEAT_CX16;
	expect_fault(run(&c, m, B(0x48, 0x0f, 0xc7, 0x0f), INSN_MODE_64), X86_VEC_UD, false, 0);
}

static void test_cmpxchg16b(void **state)
{
	(void)state;
	cmpxchg16b_cases(&plain_mem);
	cmpxchg16b_cases(&atomic_mem);
}

/* The host primitive is atomic: two threads add 1 to a 128-bit counter with it. */
#define ROUNDS 100000

static struct {
	uint64_t q[2];
} __attribute__((aligned(16))) counter;

static void *adder(void *arg)
{
	(void)arg;
	for (int i = 0; i < ROUNDS; i++) {
		uint64_t old[2] = { counter.q[0], counter.q[1] };
		bool swapped = false;
		while (!swapped) {
			const uint64_t next[2] = { old[0] + 1, old[1] + (old[0] == ~0ull) };
			emu_host_cmpxchg16(&counter, old, next, &swapped);
		}
	}
	return NULL;
}

static void test_host_cmpxchg16_atomic(void **state)
{
	pthread_t t[2];

	(void)state;
	counter.q[0] = ~0ull - 10; /* the carry into the high quadword happens early */
	counter.q[1] = 0;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, adder, NULL), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(counter.q[1], 1);
	assert_int_equal(counter.q[0], 2 * ROUNDS - 11);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bitcount_registers),
		cmocka_unit_test(test_bitcount_memory),
		cmocka_unit_test(test_page_crossing),
		cmocka_unit_test(test_page_fault),
		cmocka_unit_test(test_missing_features),
		cmocka_unit_test(test_software_interrupts),
		cmocka_unit_test(test_fwait),
		cmocka_unit_test(test_clac_stac),
		cmocka_unit_test(test_fnclex_fnstsw_emms),
		cmocka_unit_test(test_mxcsr),
		cmocka_unit_test(test_cmpxchg16b),
		cmocka_unit_test(test_host_cmpxchg16_atomic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
