/*
 * cases.c - one case per carried instruction.  Expected values come from reference code
 * here (a nibble-table popcount, bit loops for the leading/trailing zero counts), never from
 * the instruction under test.  Each instruction is followed by a marker move (MARK) that
 * proves execution resumed exactly after it; faults a case expects are caught by trap.c and
 * resume at the label the case armed in trap_resume.
 */
#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "cases.h"
#include "check.h"
#include "lib.h"
#include "paging.h"
#include "ring3.h"
#include "trap.h"

#define MSR_GS_BASE 0xc0000101u

/* ---- Reference results ----------------------------------------------------------------- */

static unsigned ref_popcnt(uint64_t v)
{
	static const uint8_t nibble[16] = { 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4 };
	unsigned n = 0;

	for (unsigned i = 0; i < 16; i++)
		n += nibble[(v >> (4 * i)) & 15];
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

/* POPCNT: ZF iff the source is 0; CF OF SF AF PF cleared. */
static uint64_t popcnt_flags(uint64_t src)
{
	return src ? 0 : FL_ZF;
}

/* LZCNT/TZCNT: CF iff the source is 0, ZF iff the result is 0 (others undefined). */
static uint64_t count_flags(uint64_t src, unsigned res)
{
	return (src ? 0 : FL_CF) | (res ? 0 : FL_ZF);
}

static const uint64_t values[] = {
	0, 1, 0x8000000000000000ull, 0xffffffffffffffffull, 0x00f0000000000000ull,
	0x0123456789abcdefull, 0x0000000100000000ull, 0x0000000000008000ull, 0xfedc000000000010ull,
};
#define NVALUES (sizeof(values) / sizeof(values[0]))

/* The two RFLAGS the instructions start from: every arithmetic flag set, and none. */
static const uint64_t flags_in[2] = { FL_FIXED | FL_ARITH, FL_FIXED };

/*
 * Run `text` with RFLAGS = fin, then the marker; d is the destination ("+&r"), the source
 * operands follow.  %[d]/%[s] pick the 64-bit register, %k 32-bit, %w 16-bit.
 */
#define FLAGGED(text, dst_, fl_, mk_, rflags_in, ...)                                      \
	__asm__ volatile("pushq %[fin]\n\tpopfq\n\t" text "\n\tmovq $0x600d, %[m]\n\t"       \
			 "pushfq\n\tpopq %[f]"                                                \
			 : [d] "+&r"(dst_), [f] "=&r"(fl_), [m] "+&r"(mk_)                     \
			 : [fin] "r"(rflags_in), __VA_ARGS__                                   \
			 : "cc", "memory")

/* ---- POPCNT / LZCNT / TZCNT, register forms -------------------------------------------- */

enum op { OP_POPCNT, OP_LZCNT, OP_TZCNT };

static unsigned ref(enum op op, uint64_t v, unsigned bits)
{
	return op == OP_POPCNT ? ref_popcnt(v & (bits == 64 ? ~0ull : (1ull << bits) - 1)) :
	       op == OP_LZCNT ? ref_lzcnt(v, bits) : ref_tzcnt(v, bits);
}

static void check_result(enum op op, uint64_t src, unsigned bits, uint64_t before, uint64_t d,
			 uint64_t f, uint64_t m)
{
	uint64_t mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
	unsigned r = ref(op, src & mask, bits);
	/* 32-bit results zero-extend; 16-bit results keep bits 63:16 (SDM Vol. 1, 3.4.1.1). */
	uint64_t want = bits == 16 ? (before & ~0xffffull) | r : r;

	eq("dest", d, want);
	eq("mark", m, MARK);
	if (op == OP_POPCNT)
		eq("flags", f & FL_ARITH, popcnt_flags(src & mask));
	else
		eq("cf/zf", f & (FL_CF | FL_ZF), count_flags(src & mask, r));
}

#define REG_FORMS(op, mn)                                                                  \
	for (unsigned i = 0; i < NVALUES; i++) {                                           \
		for (unsigned k = 0; k < 2; k++) {                                         \
			uint64_t s = values[i], before = 0x5a5a5a5a5a5a5a5aull, f, m = 0;  \
			uint64_t d = before;                                               \
			FLAGGED(mn "q %[s], %[d]", d, f, m, flags_in[k], [s] "r"(s));      \
			check_result(op, s, 64, before, d, f, m);                          \
			d = before, m = 0;                                                 \
			FLAGGED(mn "l %k[s], %k[d]", d, f, m, flags_in[k], [s] "r"(s));    \
			check_result(op, s, 32, before, d, f, m);                          \
			d = before, m = 0;                                                 \
			FLAGGED(mn "w %w[s], %w[d]", d, f, m, flags_in[k], [s] "r"(s));    \
			check_result(op, s, 16, before, d, f, m);                          \
		}                                                                          \
	}

static void case_popcnt_reg(void)
{
	REG_FORMS(OP_POPCNT, "popcnt");
}

/*
 * Without LZCNT (BMI1) a CPU executes F3 0F BD (F3 0F BC) as BSR (BSF); so does a KVM whose
 * emulator ignores the F3 prefix, and then no exit reaches the VMM.  BSR/BSF leave the
 * destination unchanged for a zero source, LZCNT/TZCNT write the operand width.
 */
static bool executed_as_bsr_bsf(enum op op)
{
	uint64_t d = 0x77;

	if (op == OP_LZCNT)
		__asm__ volatile("lzcntq %1, %0" : "+r"(d) : "r"(0ull) : "cc");
	else
		__asm__ volatile("tzcntq %1, %0" : "+r"(d) : "r"(0ull) : "cc");
	return d == 0x77;
}

static bool count_supported(enum op op)
{
	if (!executed_as_bsr_bsf(op))
		return true;
	skip_case(op == OP_LZCNT ? "lzcnt runs as bsr here: the host does not hand it to the VMM" :
				   "tzcnt runs as bsf here: the host does not hand it to the VMM");
	return false;
}

static void case_lzcnt_reg(void)
{
	if (count_supported(OP_LZCNT))
		REG_FORMS(OP_LZCNT, "lzcnt");
}

static void case_tzcnt_reg(void)
{
	if (count_supported(OP_TZCNT))
		REG_FORMS(OP_TZCNT, "tzcnt");
}

/* REX.R and REX.B registers (r9 -> r10), and 66 before F3 with REX.W: still 64-bit. */
static void case_popcnt_prefixes(void)
{
	for (unsigned i = 0; i < NVALUES; i++) {
		register uint64_t s9 __asm__("r9") = values[i];
		register uint64_t d10 __asm__("r10") = 0;
		uint64_t f, m = 0;
		FLAGGED("popcntq %[s], %[d]", d10, f, m, flags_in[0], [s] "r"(s9));
		check_result(OP_POPCNT, values[i], 64, 0, d10, f, m);
		uint64_t d = 0;
		m = 0;
		FLAGGED(".byte 0x66\n\tpopcntq %[s], %[d]", d, f, m, flags_in[0], [s] "r"(values[i]));
		check_result(OP_POPCNT, values[i], 64, 0, d, f, m);
		d = 0, m = 0; /* a DS override, meaningless in 64-bit mode */
		FLAGGED(".byte 0x3e\n\tpopcntl %k[s], %k[d]", d, f, m, flags_in[1], [s] "r"(values[i]));
		check_result(OP_POPCNT, values[i], 32, 0, d, f, m);
	}
}

/* ---- Memory forms ----------------------------------------------------------------------- */

uint64_t rip_operand = 0xf0f0f0f0f0f0f0f1ull; /* referenced by name from asm */
static uint64_t table[8];

static void case_bitcount_mem(void)
{
	uint64_t f, m, d;

	for (unsigned i = 0; i < 8; i++)
		table[i] = values[i] ^ (0x1111111111111111ull * i);
	for (unsigned i = 0; i < 8; i++) {
		const uint64_t *p = &table[i];
		d = 0, m = 0;
		FLAGGED("popcntq (%[p]), %[d]", d, f, m, flags_in[0], [p] "r"(p));
		check_result(OP_POPCNT, table[i], 64, 0, d, f, m);
		d = 0x77, m = 0; /* SIB with index and disp8: table + 8 + (i - 1) * 8 */
		FLAGGED("popcntq 8(%[b],%[x],8), %[d]", d, f, m, flags_in[1], [b] "r"(table),
			[x] "r"((uint64_t)i - 1));
		check_result(OP_POPCNT, table[i], 64, 0x77, d, f, m);
		d = 0xffffffffffffffffull, m = 0; /* 16-bit operand from memory */
		FLAGGED("popcntw (%[p]), %w[d]", d, f, m, flags_in[0], [p] "r"(p));
		check_result(OP_POPCNT, table[i], 16, 0xffffffffffffffffull, d, f, m);
		d = 0, m = 0; /* 32-bit address (67 prefix) */
		FLAGGED("popcntl (%k[p]), %k[d]", d, f, m, flags_in[1], [p] "r"(p));
		check_result(OP_POPCNT, table[i], 32, 0, d, f, m);
	}
	d = 0, m = 0;
	FLAGGED("popcntq rip_operand(%%rip), %[d]", d, f, m, flags_in[0], "i"(0));
	check_result(OP_POPCNT, rip_operand, 64, 0, d, f, m);
}

static void case_count_mem(void)
{
	uint64_t f, m, d;

	if (!count_supported(OP_LZCNT) || !count_supported(OP_TZCNT))
		return;
	for (unsigned i = 0; i < 8; i++) {
		d = 0x77, m = 0;
		FLAGGED("lzcntq 8(%[b],%[x],8), %[d]", d, f, m, flags_in[1], [b] "r"(table),
			[x] "r"((uint64_t)i - 1));
		check_result(OP_LZCNT, table[i], 64, 0x77, d, f, m);
		d = 0xffffffffffffffffull, m = 0;
		FLAGGED("tzcntw (%[p]), %w[d]", d, f, m, flags_in[0], [p] "r"(&table[i]));
		check_result(OP_TZCNT, table[i], 16, 0xffffffffffffffffull, d, f, m);
	}
}

/* A GS override in 64-bit mode adds IA32_GS_BASE (SDM Vol. 3A, 3.4.4). */
static void case_popcnt_gs(void)
{
	uint64_t f, m = 0, d = 0;
	uint64_t base = (uint64_t)(uintptr_t)&table[0];

	wrmsr(MSR_GS_BASE, base);
	FLAGGED("popcntq %%gs:24(%[o]), %[d]", d, f, m, flags_in[0], [o] "r"(16ull));
	check_result(OP_POPCNT, table[5], 64, 0, d, f, m);
	wrmsr(MSR_GS_BASE, 0);
}

/* ---- Page crossings --------------------------------------------------------------------- */

static uint8_t *page0, *page1;

static void fill_crossing(void)
{
	for (unsigned i = 0; i < 8; i++) {
		page0[PAGE - 8 + i] = (uint8_t)(0x11 * (i + 1));
		page1[i] = (uint8_t)(0x80 | (i * 3));
	}
}

/* The 8 bytes at ALIAS_BASE + PAGE - 4: the last 4 of page 0 and the first 4 of page 1. */
static uint64_t crossing_value(void)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < 4; i++) {
		v |= (uint64_t)page0[PAGE - 4 + i] << (8 * i);
		v |= (uint64_t)page1[i] << (8 * (4 + i));
	}
	return v;
}

static void case_mem_crossing(void)
{
	uint64_t f, m = 0, d = 0;
	const void *p = (const void *)(uintptr_t)(ALIAS_BASE + PAGE - 4);

	fill_crossing();
	FLAGGED("popcntq (%[p]), %[d]", d, f, m, flags_in[0], [p] "r"(p));
	check_result(OP_POPCNT, crossing_value(), 64, 0, d, f, m);
}

/* POPCNT RAX, RBX; RET written across the page boundary: F3 48 0F | B8 C3 C3. */
static void case_insn_crossing(void)
{
	static const uint8_t code[6] = { 0xf3, 0x48, 0x0f, 0xb8, 0xc3, 0xc3 };
	uint64_t fn = ALIAS_BASE + PAGE - 3;

	for (unsigned i = 0; i < 3; i++) {
		page0[PAGE - 3 + i] = code[i];
		page1[i] = code[3 + i];
	}
	for (unsigned i = 0; i < NVALUES; i++) {
		uint64_t rax = 0;
		__asm__ volatile("call *%[fn]" : "+a"(rax) : [fn] "r"(fn), "b"(values[i])
				 : "cc", "memory");
		eq("rax", rax, ref_popcnt(values[i]));
	}
}

/* An operand running into the not-present page 2: #PF, CR2 = its first byte, error code 0
 * (not present, read, supervisor), RIP at the instruction, destination untouched. */
static void case_mem_fault(void)
{
	uint64_t at, d = 0x1234, before = last_trap.count;
	const void *p = (const void *)(uintptr_t)(ALIAS_BASE + 2 * PAGE - 4);

	__asm__ volatile("leaq 2f(%%rip), %%rax\n\tmovq %%rax, trap_resume(%%rip)\n\t"
			 "leaq 1f(%%rip), %[at]\n"
			 "1:\tpopcntq (%[p]), %[d]\n2:"
			 : [at] "=&r"(at), [d] "+r"(d) : [p] "r"(p) : "rax", "cc", "memory");
	eq("traps", last_trap.count, before + 1);
	eq("vector", last_trap.vector, 14);
	eq("error", last_trap.error, 0);
	eq("cr2", last_trap.cr2, ALIAS_BASE + 2 * PAGE);
	eq("rip", last_trap.rip, at);
	eq("dest", d, 0x1234);
}

/* ---- Software interrupts --------------------------------------------------------------- */

static void check_trap(uint64_t before, uint64_t vector, uint64_t after)
{
	eq("traps", last_trap.count, before + 1);
	eq("vector", last_trap.vector, vector);
	eq("rip", last_trap.rip, after);
}

static void case_int3(void)
{
	uint64_t after, before = last_trap.count;

	__asm__ volatile("int3\n1:\tleaq 1b(%%rip), %0" : "=r"(after) : : "memory");
	check_trap(before, 3, after);
}

static void case_int1(void)
{
	uint64_t after, before = last_trap.count;

	__asm__ volatile(".byte 0xf1\n1:\tleaq 1b(%%rip), %0" : "=r"(after) : : "memory");
	check_trap(before, 1, after);
}

static void case_int_n(void)
{
	uint64_t after, before = last_trap.count;

	__asm__ volatile("int %1\n1:\tleaq 1b(%%rip), %0" : "=r"(after) : "i"(INSN_TEST_VECTOR)
			 : "memory");
	check_trap(before, INSN_TEST_VECTOR, after);
}

/* ---- FWAIT, CLAC/STAC ------------------------------------------------------------------- */

/* No x87 exception pending: FWAIT changes nothing but RIP. */
static void case_fwait(void)
{
	for (unsigned k = 0; k < 2; k++) {
		uint64_t f, m = 0, d = 0x42;
		FLAGGED("fwait", d, f, m, flags_in[k], "i"(0));
		eq("flags", f & (FL_ARITH | FL_FIXED), flags_in[k]);
		eq("mark", m, MARK);
		eq("rdx", d, 0x42);
	}
}

static void case_clac_stac(void)
{
	for (unsigned k = 0; k < 2; k++) {
		uint64_t f, m = 0, d = 0;
		FLAGGED("stac", d, f, m, flags_in[k], "i"(0));
		eq("stac ac", f & FL_AC, FL_AC);
		eq("stac flags", f & FL_ARITH, flags_in[k] & FL_ARITH);
		eq("mark", m, MARK);
		m = 0;
		FLAGGED("stac\n\tclac", d, f, m, flags_in[k], "i"(0));
		eq("clac ac", f & FL_AC, 0);
		eq("clac flags", f & FL_ARITH, flags_in[k] & FL_ARITH);
		eq("mark", m, MARK);
	}
}

/* ---- LDMXCSR ---------------------------------------------------------------------------- */

static uint32_t stmxcsr(void)
{
	uint32_t v;

	__asm__ volatile("stmxcsr %0" : "=m"(v));
	return v;
}

static void case_ldmxcsr(void)
{
	static const uint32_t good[] = { 0x9fc0, 0x1f80, 0x7f80 | 0x3f, 0x0000 };
	uint64_t at, before;

	for (unsigned i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint32_t v = good[i];
		uint64_t m = 0;
		__asm__ volatile("ldmxcsr %[v]\n\tmovq $0x600d, %[m]" : [m] "+r"(m) : [v] "m"(v));
		eq("mxcsr", stmxcsr(), v);
		eq("mark", m, MARK);
	}
	/* From an operand that crosses into the second alias page. */
	fill_crossing();
	page0[PAGE - 2] = 0x80, page0[PAGE - 1] = 0x3f, page1[0] = 0, page1[1] = 0;
	__asm__ volatile("ldmxcsr (%0)" : : "r"(ALIAS_BASE + PAGE - 2) : "memory");
	eq("crossing mxcsr", stmxcsr(), 0x3f80);
	/* A reserved bit: #GP(0) at the instruction, MXCSR unchanged. */
	uint32_t bad = 0x11f80;
	before = last_trap.count;
	__asm__ volatile("leaq 2f(%%rip), %%rax\n\tmovq %%rax, trap_resume(%%rip)\n\t"
			 "leaq 1f(%%rip), %[at]\n"
			 "1:\tldmxcsr %[v]\n2:"
			 : [at] "=&r"(at) : [v] "m"(bad) : "rax", "memory");
	eq("traps", last_trap.count, before + 1);
	eq("vector", last_trap.vector, 13);
	eq("error", last_trap.error, 0);
	eq("rip", last_trap.rip, at);
	eq("unchanged mxcsr", stmxcsr(), 0x3f80);
	uint32_t dflt = 0x1f80;
	__asm__ volatile("ldmxcsr %0" : : "m"(dflt));
}

/* ---- CMPXCHG16B ------------------------------------------------------------------------- */

struct m128 {
	uint64_t lo, hi;
} __attribute__((aligned(16)));

static struct m128 pair[2];

static void cmpxchg16b(struct m128 *p, uint64_t *rax, uint64_t *rdx, uint64_t rbx, uint64_t rcx,
		       uint8_t *zf, uint8_t *cf, uint64_t *mark)
{
	__asm__ volatile("stc\n\tlock cmpxchg16b %[p]\n\tmovq $0x600d, %[m]\n\t"
			 "setz %[z]\n\tsetc %[c]"
			 : [p] "+m"(*p), "+a"(*rax), "+d"(*rdx), [z] "=&q"(*zf), [c] "=&q"(*cf),
			   [m] "+&r"(*mark)
			 : "b"(rbx), "c"(rcx)
			 : "cc", "memory");
}

static void case_cmpxchg16b(void)
{
	uint64_t rax = 0x1111, rdx = 0x2222, m = 0, at, before;
	uint8_t zf, cf;

	pair[0] = (struct m128){ 0x1111, 0x2222 };
	cmpxchg16b(&pair[0], &rax, &rdx, 0xaaaa, 0xbbbb, &zf, &cf, &m);
	eq("equal zf", zf, 1);
	eq("equal cf kept", cf, 1);
	eq("equal mem lo", pair[0].lo, 0xaaaa);
	eq("equal mem hi", pair[0].hi, 0xbbbb);
	eq("equal rax", rax, 0x1111);
	eq("equal rdx", rdx, 0x2222);
	eq("mark", m, MARK);
	rax = 0x1111, rdx = 0x2222, m = 0;
	cmpxchg16b(&pair[0], &rax, &rdx, 0xcccc, 0xdddd, &zf, &cf, &m);
	eq("differ zf", zf, 0);
	eq("differ mem lo", pair[0].lo, 0xaaaa);
	eq("differ mem hi", pair[0].hi, 0xbbbb);
	eq("differ rax", rax, 0xaaaa);
	eq("differ rdx", rdx, 0xbbbb);
	eq("mark", m, MARK);
	/* Not 16-byte aligned: #GP(0). */
	before = last_trap.count;
	__asm__ volatile("leaq 2f(%%rip), %%rax\n\tmovq %%rax, trap_resume(%%rip)\n\t"
			 "leaq 1f(%%rip), %[at]\n"
			 "1:\tlock cmpxchg16b 8(%[p])\n2:"
			 : [at] "=&r"(at) : [p] "r"(&pair[0]), "d"(0ull), "b"(0ull), "c"(0ull)
			 : "rax", "cc", "memory");
	eq("traps", last_trap.count, before + 1);
	eq("vector", last_trap.vector, 13);
	eq("error", last_trap.error, 0);
	eq("rip", last_trap.rip, at);
}

/* ---- FNCLEX, EMMS ----------------------------------------------------------------------- */

static uint16_t fnstsw(void)
{
	uint16_t v;

	__asm__ volatile("fnstsw %0" : "=a"(v));
	return v;
}

/*
 * The x87 arithmetic that would set FSW exception flags (FLDZ, FDIV...) cannot run here (the
 * host's KVM does not emulate it, see the report), so FNCLEX and EMMS are checked from a
 * clean FNINIT state: they complete, RIP moves past them, FSW stays clear, flags unchanged.
 */
static void case_fnclex(void)
{
	for (unsigned k = 0; k < 2; k++) {
		uint64_t f, m = 0, d = 0;
		__asm__ volatile("fninit");
		FLAGGED("fnclex", d, f, m, flags_in[k], "i"(0));
		eq("flags", f & (FL_ARITH | FL_FIXED), flags_in[k]);
		eq("mark", m, MARK);
		eq("fsw", fnstsw(), 0);
	}
}

static void case_emms(void)
{
	for (unsigned k = 0; k < 2; k++) {
		uint64_t f, m = 0, d = 0;
		__asm__ volatile("fninit");
		FLAGGED("emms", d, f, m, flags_in[k], "i"(0));
		eq("flags", f & (FL_ARITH | FL_FIXED), flags_in[k]);
		eq("mark", m, MARK);
		eq("fsw", fnstsw(), 0);
	}
}

/* ---- System-call entries from CPL 3 ---------------------------------------------------- */

/*
 * Not instructions mpvmm carries: what the host's KVM does when a guest's user mode makes a
 * system call, which every Linux user space needs.  Architecturally SYSCALL enters LSTAR at
 * CPL 0 with RCX = the next RIP, and INT 0x80 through a DPL 3 gate enters its handler at
 * CPL 0.  A host that does otherwise without telling the VMM (no exit: nothing to carry)
 * is named in a SKIP line, which tests/lib/insn.sh accepts only on such a host.
 */
static void case_syscall_cpl3(void)
{
	struct ring3_result r;

	ring3_try(RING3_SYSCALL, &r);
	if (r.entry_cs & 3) {
		printk("insn: SKIP syscall-cpl3 the host's KVM ran the entry at CPL 3 (CS 0x%lx): "
		       "no system call from user mode\n", (unsigned long)r.entry_cs);
		skip_case("");
		return;
	}
	eq("entry cs", r.entry_cs, RING3_KCODE);
	eq("rcx", r.entry_rcx, ring3_user_syscall + 2);
	eq("traps", r.traps, 0);
}

static void case_int80_cpl3(void)
{
	struct ring3_result r;

	ring3_try(RING3_INT80, &r);
	if (r.traps && r.vector == 6 && r.rip == ring3_user_int80 && !r.entry_cs) {
		printk("insn: SKIP int80-cpl3 the host's KVM raised #UD for INT 0x80 at CPL 3: "
		       "no system call from user mode\n");
		skip_case("");
		return;
	}
	eq("entry cs", r.entry_cs, RING3_KCODE);
	eq("traps", r.traps, 0);
}

void run_all_cases(void)
{
	alias_init(&page0, &page1);
	run_case("int3", case_int3);
	run_case("int1", case_int1);
	run_case("int-n", case_int_n);
	run_case("fwait", case_fwait);
	run_case("popcnt-reg", case_popcnt_reg);
	run_case("lzcnt-reg", case_lzcnt_reg);
	run_case("tzcnt-reg", case_tzcnt_reg);
	run_case("popcnt-prefixes", case_popcnt_prefixes);
	run_case("bitcount-mem", case_bitcount_mem);
	run_case("count-mem", case_count_mem);
	run_case("popcnt-gs", case_popcnt_gs);
	run_case("mem-crossing", case_mem_crossing);
	run_case("insn-crossing", case_insn_crossing);
	run_case("mem-fault", case_mem_fault);
	run_case("clac-stac", case_clac_stac);
	run_case("ldmxcsr", case_ldmxcsr);
	run_case("cmpxchg16b", case_cmpxchg16b);
	run_case("fnclex", case_fnclex);
	run_case("emms", case_emms);
	ring3_init();
	run_case("syscall-cpl3", case_syscall_cpl3);
	run_case("int80-cpl3", case_int80_cpl3);
}
