/*
 * gdb_regs.c - see gdb_regs.h.  Register numbers follow the order of the target
 * description (gdb's features/i386/64bit-core.xml, 64bit-sse.xml, 64bit-segments.xml):
 * 0-15 rax..r15 (gdb's order: rbp before rsp), 16 rip, 17 eflags, 18-23 cs ss ds es fs gs,
 * 24-31 st0-7, 32-39 fctrl..fop, 40-55 xmm0-15, 56 mxcsr, 57-58 fs_base gs_base, 59-64
 * cr0 cr2 cr3 cr4 cr8 efer.
 *
 * Outside long mode, rip reads as the linear address of the next instruction, CS.base +
 * EIP (in real mode CS * 16 + IP), because gdb's breakpoints, steps and memory all use
 * linear addresses; IP is then $pc - $cs * 16.  Writing rip sets EIP = value - CS.base.
 */
#include "gdb/gdb_regs.h"

#include <stdbool.h>
#include <string.h>

#define GPR(x) "<reg name=\"" x "\" bitsize=\"64\" type=\"int64\"/>"
#define R32(x) "<reg name=\"" x "\" bitsize=\"32\" type=\"int32\"/>"
#define ST(x) "<reg name=\"" x "\" bitsize=\"80\" type=\"i387_ext\"/>"
#define FPU(x) "<reg name=\"" x "\" bitsize=\"32\" type=\"int\" group=\"float\"/>"
#define XMM(x) "<reg name=\"" x "\" bitsize=\"128\" type=\"vec128\"/>"
#define SYS(x) "<reg name=\"" x "\" bitsize=\"64\" type=\"code_ptr\" group=\"system\"/>"

const char gdb_target_xml[] =
	"<?xml version=\"1.0\"?><!DOCTYPE target SYSTEM \"gdb-target.dtd\">"
	"<target><architecture>i386:x86-64</architecture>"
	"<feature name=\"org.gnu.gdb.i386.core\">"
	"<flags id=\"i386_eflags\" size=\"4\"><field name=\"CF\" start=\"0\" end=\"0\"/>"
	"<field name=\"\" start=\"1\" end=\"1\"/><field name=\"PF\" start=\"2\" end=\"2\"/>"
	"<field name=\"AF\" start=\"4\" end=\"4\"/><field name=\"ZF\" start=\"6\" end=\"6\"/>"
	"<field name=\"SF\" start=\"7\" end=\"7\"/><field name=\"TF\" start=\"8\" end=\"8\"/>"
	"<field name=\"IF\" start=\"9\" end=\"9\"/><field name=\"DF\" start=\"10\" end=\"10\"/>"
	"<field name=\"OF\" start=\"11\" end=\"11\"/><field name=\"NT\" start=\"14\" end=\"14\"/>"
	"<field name=\"RF\" start=\"16\" end=\"16\"/><field name=\"VM\" start=\"17\" end=\"17\"/>"
	"<field name=\"AC\" start=\"18\" end=\"18\"/><field name=\"ID\" start=\"21\" end=\"21\"/>"
	"</flags>"
	GPR("rax") GPR("rbx") GPR("rcx") GPR("rdx") GPR("rsi") GPR("rdi")
	"<reg name=\"rbp\" bitsize=\"64\" type=\"data_ptr\"/>"
	"<reg name=\"rsp\" bitsize=\"64\" type=\"data_ptr\"/>"
	GPR("r8") GPR("r9") GPR("r10") GPR("r11") GPR("r12") GPR("r13") GPR("r14") GPR("r15")
	"<reg name=\"rip\" bitsize=\"64\" type=\"code_ptr\"/>"
	"<reg name=\"eflags\" bitsize=\"32\" type=\"i386_eflags\"/>"
	R32("cs") R32("ss") R32("ds") R32("es") R32("fs") R32("gs")
	ST("st0") ST("st1") ST("st2") ST("st3") ST("st4") ST("st5") ST("st6") ST("st7")
	FPU("fctrl") FPU("fstat") FPU("ftag") FPU("fiseg") FPU("fioff") FPU("foseg")
	FPU("fooff") FPU("fop")
	"</feature>"
	"<feature name=\"org.gnu.gdb.i386.sse\">"
	"<vector id=\"v4f\" type=\"ieee_single\" count=\"4\"/>"
	"<vector id=\"v2d\" type=\"ieee_double\" count=\"2\"/>"
	"<vector id=\"v16i8\" type=\"int8\" count=\"16\"/>"
	"<vector id=\"v8i16\" type=\"int16\" count=\"8\"/>"
	"<vector id=\"v4i32\" type=\"int32\" count=\"4\"/>"
	"<vector id=\"v2i64\" type=\"int64\" count=\"2\"/>"
	"<union id=\"vec128\"><field name=\"v4_float\" type=\"v4f\"/>"
	"<field name=\"v2_double\" type=\"v2d\"/><field name=\"v16_int8\" type=\"v16i8\"/>"
	"<field name=\"v8_int16\" type=\"v8i16\"/><field name=\"v4_int32\" type=\"v4i32\"/>"
	"<field name=\"v2_int64\" type=\"v2i64\"/><field name=\"uint128\" type=\"uint128\"/>"
	"</union>"
	XMM("xmm0") XMM("xmm1") XMM("xmm2") XMM("xmm3") XMM("xmm4") XMM("xmm5") XMM("xmm6")
	XMM("xmm7") XMM("xmm8") XMM("xmm9") XMM("xmm10") XMM("xmm11") XMM("xmm12")
	XMM("xmm13") XMM("xmm14") XMM("xmm15")
	"<reg name=\"mxcsr\" bitsize=\"32\" type=\"int\" group=\"vector\"/>"
	"</feature>"
	"<feature name=\"org.gnu.gdb.i386.segments\">"
	"<reg name=\"fs_base\" bitsize=\"64\" type=\"int\"/>"
	"<reg name=\"gs_base\" bitsize=\"64\" type=\"int\"/>"
	"</feature>"
	"<feature name=\"org.mpvmm.x86.system\">"
	SYS("cr0") SYS("cr2") SYS("cr3") SYS("cr4") SYS("cr8") SYS("efer")
	"</feature></target>";

enum { R_RIP = 16, R_EFLAGS, R_CS, R_GS = 23, R_ST0, R_FCTRL = 32, R_FOP = 39, R_XMM0,
       R_MXCSR = 56, R_FS_BASE, R_GS_BASE, R_CR0, R_EFER = 64 };

unsigned gdb_reg_size(unsigned n)
{
	if (n < R_RIP || n == R_RIP || (n >= R_FS_BASE && n <= R_EFER))
		return 8;
	if (n == R_EFLAGS || (n >= R_CS && n <= R_GS) || (n >= R_FCTRL && n <= R_FOP) ||
	    n == R_MXCSR)
		return 4;
	if (n >= R_ST0 && n < R_FCTRL)
		return 10;
	if (n >= R_XMM0 && n < R_MXCSR)
		return 16;
	return 0;
}

static uint64_t *gpr(struct x86_regs *r, unsigned n)
{
	uint64_t *const order[16] = {
		&r->rax, &r->rbx, &r->rcx, &r->rdx, &r->rsi, &r->rdi, &r->rbp, &r->rsp,
		&r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15,
	};
	return order[n];
}

static struct x86_segment *seg(struct x86_sregs *s, unsigned n)
{
	struct x86_segment *const order[6] = { &s->cs, &s->ss, &s->ds, &s->es, &s->fs, &s->gs };
	return order[n - R_CS];
}

static uint64_t *sysreg(struct x86_sregs *s, unsigned n)
{
	uint64_t *const order[6] = { &s->cr0, &s->cr2, &s->cr3, &s->cr4, &s->cr8, &s->efer };
	return order[n - R_CR0];
}

/* Outside long mode the pc gdb sees is linear: CS.base + EIP (real mode: CS * 16 + IP). */
static bool legacy(const struct x86_sregs *s)
{
	return !(s->efer & X86_EFER_LMA);
}

static uint64_t pc_get(const struct x86_regs *r, const struct x86_sregs *s)
{
	return legacy(s) ? (uint32_t)(s->cs.base + r->rip) : r->rip;
}

void gdb_reg_get(const struct x86_regs *cr, const struct x86_sregs *cs, unsigned n,
		 uint8_t *out)
{
	struct x86_regs *r = (struct x86_regs *)cr;   /* the tables take non-const pointers: */
	struct x86_sregs *s = (struct x86_sregs *)cs; /* nothing is written through them here */
	uint64_t v = 0;
	unsigned size = gdb_reg_size(n);

	memset(out, 0, size);
	if (n < R_RIP)
		v = *gpr(r, n);
	else if (n == R_RIP)
		v = pc_get(r, s);
	else if (n == R_EFLAGS)
		v = r->rflags;
	else if (n >= R_CS && n <= R_GS)
		v = seg(s, n)->selector;
	else if (n == R_FS_BASE || n == R_GS_BASE)
		v = n == R_FS_BASE ? s->fs.base : s->gs.base;
	else if (n >= R_CR0 && n <= R_EFER)
		v = *sysreg(s, n);
	else if (n == R_FCTRL)
		v = 0x37f; /* FNINIT's value: the x87 state is not read */
	else if (n == R_MXCSR)
		v = 0x1f80;
	for (unsigned i = 0; i < size && i < 8; i++)
		out[i] = (uint8_t)(v >> (8 * i));
}

void gdb_reg_set(struct x86_regs *r, struct x86_sregs *s, unsigned n, const uint8_t *in)
{
	uint64_t v = 0;
	unsigned size = gdb_reg_size(n);

	for (unsigned i = 0; i < size && i < 8; i++)
		v |= (uint64_t)in[i] << (8 * i);
	if (n < R_RIP) {
		*gpr(r, n) = v;
	} else if (n == R_RIP) {
		r->rip = legacy(s) ? (uint32_t)(v - s->cs.base) : v;
	} else if (n == R_EFLAGS) {
		r->rflags = (uint32_t)v | X86_RFLAGS_RESERVED1;
	} else if (n >= R_CS && n <= R_GS) {
		struct x86_segment *g = seg(s, n);
		if (g->selector == (uint16_t)v)
			return;
		g->selector = (uint16_t)v;
		if (!(s->cr0 & X86_CR0_PE))
			g->base = (uint64_t)(uint16_t)v << 4;
	} else if (n == R_FS_BASE || n == R_GS_BASE) {
		(n == R_FS_BASE ? &s->fs : &s->gs)->base = v;
	} else if (n >= R_CR0 && n <= R_EFER) {
		*sysreg(s, n) = v;
	}
}

void gdb_regs_get(const struct x86_regs *r, const struct x86_sregs *s, uint8_t *out)
{
	for (unsigned n = 0, off = 0; n < GDB_NREGS; off += gdb_reg_size(n), n++)
		gdb_reg_get(r, s, n, out + off);
}

void gdb_regs_set(struct x86_regs *r, struct x86_sregs *s, const uint8_t *in)
{
	for (unsigned n = 0, off = 0; n < GDB_NREGS; off += gdb_reg_size(n), n++)
		gdb_reg_set(r, s, n, in + off);
}
