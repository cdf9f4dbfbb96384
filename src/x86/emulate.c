/*
 * emulate.c - see emulate.h.  Each instruction follows its page in the Intel SDM Vol. 2
 * (operation, flags affected, protected/64-bit mode exceptions); the order of the checks is
 * the SDM's order of exception priority (Vol. 3A, 6.9): #UD, then #NM, then the memory
 * access (#GP alignment, #PF), then faults that need the operand's value.
 *
 * Not modelled (documented limits of a fallback that only runs when the host cannot):
 * segment limit and type checks outside 64-bit mode, write protection and the U/S bit of
 * the page (the caller's translation is a supervisor read walk), alignment checks (#AC),
 * and the single-step trap after the instruction (RFLAGS.TF).
 */
#include "x86/emulate.h"

#include <string.h>

/* RFLAGS bits (SDM Vol. 1, 3.4.3, Figure 3-8). */
#define FL_CF (1ull << 0)
#define FL_PF (1ull << 2)
#define FL_AF (1ull << 4)
#define FL_ZF (1ull << 6)
#define FL_SF (1ull << 7)
#define FL_OF (1ull << 11)
#define FL_RF (1ull << 16)
#define FL_VM (1ull << 17)
#define FL_AC (1ull << 18)
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)

#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR4_OSFXSR (1ull << 9)

/* Page-fault error code bits (SDM Vol. 3A, 4.7, Figure 4-12). */
#define PF_WRITE (1u << 1)
#define PF_USER (1u << 2)

static uint64_t *gpr(struct x86_regs *r, unsigned n)
{
	uint64_t *const regs[16] = {
		&r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi, &r->rdi,
		&r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15,
	};
	return regs[n & 15];
}

static uint64_t size_mask(unsigned bytes)
{
	return bytes >= 8 ? ~0ull : (1ull << (8 * bytes)) - 1;
}

/* KVM reports the CPL as SS.DPL (SDM Vol. 3A, 5.5: SS.DPL = CPL in protected mode). */
static unsigned cpl(const struct emu_cpu *c)
{
	if (!(c->sregs.cr0 & X86_CR0_PE))
		return 0;
	if (c->regs.rflags & FL_VM)
		return 3;
	return c->sregs.ss.dpl & 3;
}

static void exc(struct emu_event *ev, uint8_t vector)
{
	*ev = (struct emu_event){ .pending = true, .vector = vector };
}

static void exc_error(struct emu_event *ev, uint8_t vector, uint32_t error)
{
	*ev = (struct emu_event){ .pending = true, .vector = vector, .has_error_code = true,
				  .error_code = error };
}

/* The instruction completed: RIP past it (wrapping in the code size), RF cleared. */
static void retire(const struct insn *in, struct emu_cpu *c)
{
	uint64_t mask = in->mode == INSN_MODE_64 ? ~0ull : size_mask(in->mode);

	c->regs.rip = (c->regs.rip + in->len) & mask;
	c->regs.rflags &= ~FL_RF;
}

/* ---- Memory operands ------------------------------------------------------------------- */

static const struct x86_segment *segment(const struct emu_cpu *c, int seg)
{
	const struct x86_segment *s[6] = { &c->sregs.es, &c->sregs.cs, &c->sregs.ss,
					   &c->sregs.ds, &c->sregs.fs, &c->sregs.gs };
	return s[seg];
}

/* Default segment: SS for rBP/rSP-based addresses, else DS (SDM Vol. 1, 3.7.4). */
static int effective_segment(const struct insn *in)
{
	if (in->seg != INSN_SEG_NONE)
		return in->seg;
	if (in->addrsize == 2)
		return in->base == 5 ? INSN_SEG_SS : INSN_SEG_DS; /* [bp+si], [bp+di], [bp+d] */
	return in->base == 4 || in->base == 5 ? INSN_SEG_SS : INSN_SEG_DS;
}

/* Effective address (SDM Vol. 1, 3.7.5) plus the segment base (64-bit mode: FS, GS only). */
static uint64_t linear_address(const struct insn *in, struct emu_cpu *c)
{
	uint64_t ea = (uint64_t)(int64_t)in->disp;

	if (in->rip_relative)
		ea += c->regs.rip + in->len;
	if (in->base != INSN_REG_NONE)
		ea += *gpr(&c->regs, (unsigned)in->base);
	if (in->index != INSN_REG_NONE)
		ea += *gpr(&c->regs, (unsigned)in->index) * in->scale;
	ea &= size_mask(in->addrsize);
	int seg = effective_segment(in);
	if (in->mode == INSN_MODE_64)
		return seg == INSN_SEG_FS || seg == INSN_SEG_GS ? segment(c, seg)->base + ea : ea;
	return (segment(c, seg)->base + ea) & 0xffffffffull;
}

/* A failed access: #PF with CR2 = the address, or give up on memory that is not RAM. */
static enum emu_status mem_failed(int r, uint64_t fault, bool write, struct emu_cpu *c,
				  struct emu_event *ev)
{
	if (r != EMU_MEM_FAULT)
		return EMU_UNSUPPORTED;
	c->sregs.cr2 = fault;
	c->sregs_dirty = true;
	exc_error(ev, X86_VEC_PF, (write ? PF_WRITE : 0) | (cpl(c) == 3 ? PF_USER : 0));
	return EMU_DONE;
}

static uint64_t load_le(const uint8_t *b, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

/* Read `size` bytes of the r/m operand (register or memory).  0, or -1 with ev/status set. */
static int read_rm(const struct insn *in, struct emu_cpu *c, const struct emu_mem *m,
		   unsigned size, uint64_t *val, struct emu_event *ev, enum emu_status *st)
{
	uint8_t buf[8];
	uint64_t fault = 0;

	if (in->mod == 3) {
		*val = *gpr(&c->regs, in->rm) & size_mask(size);
		return 0;
	}
	int r = m->read(m->ctx, linear_address(in, c), buf, size, &fault);
	if (r != EMU_MEM_OK) {
		*st = mem_failed(r, fault, false, c, ev);
		return -1;
	}
	*val = load_le(buf, size);
	return 0;
}

/* Writing a 32-bit register zero-extends into 64; 16-bit keeps bits 63:16 (SDM Vol. 1, 3.4.1.1). */
static void write_reg(struct emu_cpu *c, unsigned n, unsigned size, uint64_t v)
{
	uint64_t *r = gpr(&c->regs, n);

	if (size == 2)
		*r = (*r & ~0xffffull) | (v & 0xffff);
	else
		*r = v & size_mask(size);
}

static void set_flags(struct emu_cpu *c, uint64_t which, uint64_t set)
{
	c->regs.rflags = (c->regs.rflags & ~which) | (set & which);
}

/* ---- Instructions ---------------------------------------------------------------------- */

/* INT n / INT3 / INT1: the effect is the event; it is delivered after RIP moves past. */
static enum emu_status do_int(const struct insn *in, struct emu_cpu *c, struct emu_event *ev)
{
	retire(in, c);
	*ev = (struct emu_event){ .pending = true, .vector = in->vector, .soft_int = in->soft_int };
	return EMU_DONE;
}

static unsigned bit_count(enum insn_kind k, uint64_t v, unsigned bits)
{
	if (k == INSN_POPCNT)
		return (unsigned)__builtin_popcountll(v);
	if (v == 0)
		return bits;
	if (k == INSN_LZCNT)
		return (unsigned)__builtin_clzll(v) - (64 - bits);
	return (unsigned)__builtin_ctzll(v);
}

/*
 * POPCNT (Vol. 2B): ZF = source is 0; OF SF AF CF PF cleared.  LZCNT (Vol. 2A) and TZCNT
 * (Vol. 2B): result = operand width for a zero source, CF = source is 0, ZF = result is 0;
 * OF SF AF PF are undefined and left as they were.  Without LZCNT/BMI1 the same bytes are
 * BSR/BSF (the F3 prefix is ignored), which is not carried.
 */
static enum emu_status do_bitcount(const struct insn *in, struct emu_cpu *c,
				   const struct emu_mem *m, struct emu_event *ev)
{
	static const uint32_t need[] = { [INSN_POPCNT] = EMU_FEAT_POPCNT,
					 [INSN_LZCNT] = EMU_FEAT_LZCNT,
					 [INSN_TZCNT] = EMU_FEAT_BMI1 };
	enum emu_status st = EMU_DONE;
	uint64_t src;

	if (!(c->features & need[in->kind])) {
		if (in->kind != INSN_POPCNT)
			return EMU_UNSUPPORTED;
		exc(ev, X86_VEC_UD);
		return EMU_DONE;
	}
	if (in->lock) {
		exc(ev, X86_VEC_UD);
		return EMU_DONE;
	}
	if (read_rm(in, c, m, in->opsize, &src, ev, &st) < 0)
		return st;
	unsigned res = bit_count(in->kind, src, 8u * in->opsize);
	write_reg(c, in->reg, in->opsize, res);
	if (in->kind == INSN_POPCNT)
		set_flags(c, FL_ARITH, src == 0 ? FL_ZF : 0);
	else
		set_flags(c, FL_CF | FL_ZF, (src == 0 ? FL_CF : 0) | (res == 0 ? FL_ZF : 0));
	retire(in, c);
	return EMU_DONE;
}

/* CLAC / STAC (Vol. 2A, 2B): #UD with LOCK, at CPL > 0, or without CPUID SMAP; CR4.SMAP is
 * not consulted. */
static enum emu_status do_clac_stac(const struct insn *in, struct emu_cpu *c,
				    struct emu_event *ev)
{
	if (in->lock || cpl(c) > 0 || !(c->features & EMU_FEAT_SMAP)) {
		exc(ev, X86_VEC_UD);
		return EMU_DONE;
	}
	set_flags(c, FL_AC, in->kind == INSN_STAC ? FL_AC : 0);
	retire(in, c);
	return EMU_DONE;
}

/* A pending unmasked x87 exception is #MF when CR0.NE = 1; with NE = 0 it is signalled on
 * the FERR# pin instead, which this VMM's platform does not wire: the instruction goes on. */
static bool x87_pending(const struct emu_cpu *c)
{
	return (c->fpu.fsw & X86_FSW_ES) && (c->sregs.cr0 & X86_CR0_NE);
}

/*
 * FWAIT (Vol. 2B, WAIT/FWAIT): its only work is to check for pending unmasked x87
 * exceptions.  #NM if CR0.MP and CR0.TS; #MF if one is pending; otherwise it has no effect
 * but RIP += 1 (plus prefixes).
 */
static enum emu_status do_fwait(const struct insn *in, struct emu_cpu *c, struct emu_event *ev)
{
	uint64_t cr0 = c->sregs.cr0;

	if (in->lock)
		exc(ev, X86_VEC_UD);
	else if ((cr0 & X86_CR0_MP) && (cr0 & CR0_TS))
		exc(ev, X86_VEC_NM);
	else if (x87_pending(c))
		exc(ev, X86_VEC_MF);
	else
		retire(in, c);
	return EMU_DONE;
}

/* FNCLEX (Vol. 2A, FCLEX/FNCLEX): #NM if CR0.EM or TS; clears PE UE OE ZE DE IE, SF, ES, B
 * without checking for pending exceptions first. */
static enum emu_status do_fnclex(const struct insn *in, struct emu_cpu *c, struct emu_event *ev)
{
	if (in->lock) {
		exc(ev, X86_VEC_UD);
	} else if (c->sregs.cr0 & (CR0_EM | CR0_TS)) {
		exc(ev, X86_VEC_NM);
	} else {
		c->fpu.fsw &= (uint16_t)~(X86_FSW_EXCEPTIONS | X86_FSW_SF | X86_FSW_ES | X86_FSW_B);
		c->fpu_dirty = true;
		retire(in, c);
	}
	return EMU_DONE;
}

/* FNSTSW AX / m16 (Vol. 2A, FSTSW/FNSTSW): #NM if CR0.EM or TS; stores FSW without checking
 * for pending exceptions first. */
static enum emu_status do_fnstsw(const struct insn *in, struct emu_cpu *c,
				 const struct emu_mem *m, struct emu_event *ev)
{
	uint8_t out[2] = { (uint8_t)c->fpu.fsw, (uint8_t)(c->fpu.fsw >> 8) };
	uint64_t fault = 0;

	if (in->lock) {
		exc(ev, X86_VEC_UD);
		return EMU_DONE;
	}
	if (c->sregs.cr0 & (CR0_EM | CR0_TS)) {
		exc(ev, X86_VEC_NM);
		return EMU_DONE;
	}
	if (in->mod == 3) {
		write_reg(c, 0, 2, c->fpu.fsw);
	} else {
		int r = m->write(m->ctx, linear_address(in, c), out, 2, &fault);
		if (r != EMU_MEM_OK)
			return mem_failed(r, fault, true, c, ev);
	}
	retire(in, c);
	return EMU_DONE;
}

/* EMMS (Vol. 2A): #UD if CR0.EM, #NM if CR0.TS, #MF if an x87 exception is pending; marks
 * every x87 register empty (abridged tag word 0). */
static enum emu_status do_emms(const struct insn *in, struct emu_cpu *c, struct emu_event *ev)
{
	if (in->lock || (c->sregs.cr0 & CR0_EM)) {
		exc(ev, X86_VEC_UD);
	} else if (c->sregs.cr0 & CR0_TS) {
		exc(ev, X86_VEC_NM);
	} else if (x87_pending(c)) {
		exc(ev, X86_VEC_MF);
	} else {
		c->fpu.ftw = 0;
		c->fpu_dirty = true;
		retire(in, c);
	}
	return EMU_DONE;
}

/* LDMXCSR and STMXCSR: #UD if CR0.EM, CR4.OSFXSR = 0, no SSE or LOCK; then #NM if CR0.TS. */
static bool mxcsr_faults(const struct insn *in, const struct emu_cpu *c, struct emu_event *ev)
{
	if (in->lock || (c->sregs.cr0 & CR0_EM) || !(c->sregs.cr4 & CR4_OSFXSR) ||
	    !(c->features & EMU_FEAT_SSE)) {
		exc(ev, X86_VEC_UD);
		return true;
	}
	if (c->sregs.cr0 & CR0_TS) {
		exc(ev, X86_VEC_NM);
		return true;
	}
	return false;
}

/* LDMXCSR m32 (Vol. 2B): after the checks above and the memory access, #GP(0) if the value
 * sets a reserved bit (outside MXCSR_MASK). */
static enum emu_status do_ldmxcsr(const struct insn *in, struct emu_cpu *c,
				  const struct emu_mem *m, struct emu_event *ev)
{
	enum emu_status st = EMU_DONE;
	uint64_t v;

	if (mxcsr_faults(in, c, ev))
		return EMU_DONE;
	if (read_rm(in, c, m, 4, &v, ev, &st) < 0)
		return st;
	if (v & ~(uint64_t)c->mxcsr_mask) {
		exc_error(ev, X86_VEC_GP, 0);
		return EMU_DONE;
	}
	c->fpu.mxcsr = (uint32_t)v;
	c->fpu_dirty = true;
	retire(in, c);
	return EMU_DONE;
}

/* STMXCSR m32 (Vol. 2B): stores MXCSR; a write access for paging. */
static enum emu_status do_stmxcsr(const struct insn *in, struct emu_cpu *c,
				  const struct emu_mem *m, struct emu_event *ev)
{
	uint8_t out[4];
	uint64_t fault = 0;

	if (mxcsr_faults(in, c, ev))
		return EMU_DONE;
	for (unsigned i = 0; i < 4; i++)
		out[i] = (uint8_t)(c->fpu.mxcsr >> (8 * i));
	int r = m->write(m->ctx, linear_address(in, c), out, 4, &fault);
	if (r != EMU_MEM_OK)
		return mem_failed(r, fault, true, c, ev);
	retire(in, c);
	return EMU_DONE;
}

/* CMPXCHG16B without an atomic callback (fake CPUs in tests): read, compare, write. */
static int cmpxchg16_plain(const struct emu_mem *m, uint64_t lin, uint64_t old[2],
			   const uint64_t new_[2], bool *swapped, uint64_t *fault)
{
	uint8_t cur[16];

	int r = m->read(m->ctx, lin, cur, 16, fault);
	if (r != EMU_MEM_OK)
		return r;
	uint64_t lo = load_le(cur, 8), hi = load_le(cur + 8, 8);
	*swapped = lo == old[0] && hi == old[1];
	if (!*swapped) {
		old[0] = lo;
		old[1] = hi;
		return EMU_MEM_OK;
	}
	uint8_t out[16];
	for (unsigned i = 0; i < 8; i++) {
		out[i] = (uint8_t)(new_[0] >> (8 * i));
		out[8 + i] = (uint8_t)(new_[1] >> (8 * i));
	}
	return m->write(m->ctx, lin, out, 16, fault);
}

/*
 * CMPXCHG16B m128 (Vol. 2A, CMPXCHG8B/CMPXCHG16B): #UD without CPUID CX16; #GP(0) if the
 * operand is not 16-byte aligned.  If RDX:RAX equals m128, ZF = 1 and m128 = RCX:RBX, else
 * ZF = 0 and RDX:RAX = m128.  Only ZF changes.  Performed atomically on guest memory by
 * the mem callback, so it stays atomic against the other vCPUs' locked accesses.
 */
static enum emu_status do_cmpxchg16b(const struct insn *in, struct emu_cpu *c,
				     const struct emu_mem *m, struct emu_event *ev)
{
	uint64_t fault = 0;
	bool swapped = false;

	if (!(c->features & EMU_FEAT_CX16)) {
		exc(ev, X86_VEC_UD);
		return EMU_DONE;
	}
	uint64_t lin = linear_address(in, c);
	if (lin & 15) {
		exc_error(ev, X86_VEC_GP, 0);
		return EMU_DONE;
	}
	uint64_t old[2] = { c->regs.rax, c->regs.rdx };
	const uint64_t new_[2] = { c->regs.rbx, c->regs.rcx };
	int r = m->cmpxchg16 ? m->cmpxchg16(m->ctx, lin, old, new_, &swapped, &fault) :
			       cmpxchg16_plain(m, lin, old, new_, &swapped, &fault);
	if (r != EMU_MEM_OK)
		return mem_failed(r, fault, true, c, ev);
	if (!swapped) {
		c->regs.rax = old[0];
		c->regs.rdx = old[1];
	}
	set_flags(c, FL_ZF, swapped ? FL_ZF : 0);
	retire(in, c);
	return EMU_DONE;
}

bool emu_needs_fpu(const struct insn *in)
{
	switch (in->kind) {
	case INSN_FWAIT: case INSN_FNCLEX: case INSN_FNSTSW: case INSN_EMMS: case INSN_LDMXCSR:
	case INSN_STMXCSR:
		return true;
	default:
		return false;
	}
}

enum emu_status emulate(const struct insn *in, struct emu_cpu *cpu, const struct emu_mem *mem,
			struct emu_event *ev)
{
	*ev = (struct emu_event){ .pending = false };
	switch (in->kind) {
	case INSN_INT_N: case INSN_INT3: case INSN_INT1:
		if (in->lock) {
			exc(ev, X86_VEC_UD);
			return EMU_DONE;
		}
		return do_int(in, cpu, ev);
	case INSN_FWAIT:
		return do_fwait(in, cpu, ev);
	case INSN_POPCNT: case INSN_LZCNT: case INSN_TZCNT:
		return do_bitcount(in, cpu, mem, ev);
	case INSN_CLAC: case INSN_STAC:
		return do_clac_stac(in, cpu, ev);
	case INSN_LDMXCSR:
		return do_ldmxcsr(in, cpu, mem, ev);
	case INSN_STMXCSR:
		return do_stmxcsr(in, cpu, mem, ev);
	case INSN_FNCLEX:
		return do_fnclex(in, cpu, ev);
	case INSN_FNSTSW:
		return do_fnstsw(in, cpu, mem, ev);
	case INSN_EMMS:
		return do_emms(in, cpu, ev);
	case INSN_CMPXCHG16B:
		return do_cmpxchg16b(in, cpu, mem, ev);
	default:
		return EMU_UNSUPPORTED;
	}
}

struct aligned16 {
	uint64_t q[2];
} __attribute__((aligned(16)));

void emu_host_cmpxchg16(void *p, uint64_t old[2], const uint64_t new_[2], bool *swapped)
{
	struct aligned16 *m = p;
	uint64_t lo = old[0], hi = old[1];
	bool ok;

	/* SDM Vol. 2A, CMPXCHG16B: compares RDX:RAX with m128, stores RCX:RBX if equal. */
	__asm__ volatile("lock cmpxchg16b %1"
			 : "=@ccz"(ok), "+m"(*m), "+a"(lo), "+d"(hi)
			 : "b"(new_[0]), "c"(new_[1])
			 : "memory");
	old[0] = lo;
	old[1] = hi;
	*swapped = ok;
}
