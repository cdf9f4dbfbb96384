/*
 * soft_regs.c - a software vCPU's registers as accel.h describes them (struct x86_regs,
 * x86_sregs), the real-mode start of a SIPI through an INIT stub (a 64-bit engine cannot
 * enter real mode otherwise), and external interrupts delivered by hand through the guest's
 * 64-bit IDT.  It knows the engine (soft_run.c) only through soft_internal.h.
 */
#include "accel/soft/soft_internal.h"

#include <errno.h>
#include <string.h>

#include "util/log.h"

/* A GDT descriptor as struct x86_segment (SDM Vol. 3A, 3.4.5, figure 3-8); false if unreadable. */
static bool descriptor(struct soft *s, uint16_t sel, struct x86_segment *seg)
{
	uc_x86_mmr gdtr = { 0 };
	uint64_t d;

	memset(seg, 0, sizeof(*seg));
	seg->selector = sel;
	unicorn.reg_read(s->uc, UC_X86_REG_GDTR, &gdtr);
	const uint8_t *p = (sel & 4) || (sel | 7u) > gdtr.limit ? NULL :
			   soft_phys(s, gdtr.base + (sel & ~7u), 8);
	if (!p)
		return false;
	memcpy(&d, p, 8);
	seg->base = ((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000);
	seg->limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000));
	seg->type = (d >> 40) & 0xf;
	seg->s = (d >> 44) & 1;
	seg->dpl = (d >> 45) & 3;
	seg->present = (d >> 47) & 1;
	seg->avl = (d >> 52) & 1;
	seg->l = (d >> 53) & 1;
	seg->db = (d >> 54) & 1;
	seg->g = (d >> 55) & 1;
	if (seg->g)
		seg->limit = (seg->limit << 12) | 0xfff;
	return true;
}

/* What the loaded vCPU's segment register holds, from its mode and the GDT. */
static void segment(struct soft *s, int id, struct x86_segment *seg)
{
	uint16_t sel = (uint16_t)soft_reg(s, id);

	if (!(soft_reg(s, UC_X86_REG_CR0) & X86_CR0_PE)) {
		*seg = (struct x86_segment){ .base = (uint64_t)sel << 4, .limit = 0xffff,
					     .selector = sel, .present = 1, .s = 1,
					     .type = id == UC_X86_REG_CS ? 0xb : 0x3 };
		return;
	}
	if (!descriptor(s, sel, seg))
		seg->selector = sel;
	if (seg->l && (soft_msr(s, MSR_EFER) & X86_EFER_LMA))
		seg->base = 0; /* 64-bit mode: CS base is 0 (SDM Vol. 3A, 3.4.4) */
}

uint64_t soft_cs_base(struct soft *s)
{
	struct x86_segment cs;

	segment(s, UC_X86_REG_CS, &cs);
	return cs.base;
}

/* ---- registers ---------------------------------------------------------------------------- */

static const int gpr_ids[] = {
	UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX,
	UC_X86_REG_RSI, UC_X86_REG_RDI, UC_X86_REG_RSP, UC_X86_REG_RBP,
	UC_X86_REG_R8, UC_X86_REG_R9, UC_X86_REG_R10, UC_X86_REG_R11,
	UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15,
	UC_X86_REG_RIP, UC_X86_REG_RFLAGS,
};

int soft_get_regs(struct accel_vcpu *v, struct x86_regs *r)
{
	bool took;
	uint64_t *out = (uint64_t *)r;

	/*
	 * Without the engine, v's saved context is current (it is saved whenever it changes):
	 * read it there, so that a look at a waiting vCPU never waits for the turn's holder,
	 * which may be parked inside an exit for as long as a pause lasts (step mode).
	 */
	if (!soft_holds_engine) {
		for (size_t i = 0; i < sizeof(gpr_ids) / sizeof(gpr_ids[0]); i++)
			if (unicorn.context_reg_read(v->ctx, gpr_ids[i], &out[i]) != UC_ERR_OK)
				return -1;
		return 0;
	}
	soft_engine_lock(v->s, &took);
	soft_ctx_load(v);
	for (size_t i = 0; i < sizeof(gpr_ids) / sizeof(gpr_ids[0]); i++)
		out[i] = soft_reg(v->s, gpr_ids[i]);
	soft_engine_unlock(v->s, took);
	return 0;
}

static void write_regs(struct accel_vcpu *v, const struct x86_regs *r)
{
	const uint64_t *in = (const uint64_t *)r;

	for (size_t i = 0; i < sizeof(gpr_ids) / sizeof(gpr_ids[0]); i++)
		soft_set_reg(v->s, gpr_ids[i], in[i]);
}

_Static_assert(sizeof(struct x86_regs) == sizeof(gpr_ids) / sizeof(gpr_ids[0]) * 8, "regs");

/*
 * An INIT stub for vCPU v at `at` (SDM Vol. 3A, 9.8.5.4 leaving IA-32e mode, 9.9.2 back to
 * real mode): in 64-bit mode, far jump to 32-bit code; clear CR0.PG (leaves long mode),
 * clear EFER.LME and CR4; far jump to a 16-bit segment based at PRIV_BASE; load GDTR and
 * IDTR with base 0, limit 0xFFFF (table 9-1); clear CR0.PE; zero the data segments in real
 * mode; EAX, ECX, EDX as table 9-1 gives them; far jump to the start CS:IP.
 */
struct emit {
	uint8_t *p;
	size_t n;
};

static void put(struct emit *e, const void *bytes, size_t n)
{
	memcpy(e->p + e->n, bytes, n);
	e->n += n;
}

static void put16(struct emit *e, uint16_t v)
{
	put(e, &v, 2);
}

static void put32(struct emit *e, uint32_t v)
{
	put(e, &v, 4);
}

static void emit_stub(uint8_t *buf, uint32_t at, const struct x86_regs *r, uint16_t cs)
{
	static const uint8_t leave_long[] = {
		0x0f, 0x20, 0xc0,                   /* mov eax, cr0             */
		0x25, 0xff, 0xff, 0xff, 0x7f,       /* and eax, ~CR0.PG         */
		0x0f, 0x22, 0xc0,                   /* mov cr0, eax             */
		0xb9, 0x80, 0x00, 0x00, 0xc0,       /* mov ecx, IA32_EFER       */
		0x0f, 0x32,                         /* rdmsr                    */
		0x25, 0xff, 0xfe, 0xff, 0xff,       /* and eax, ~EFER.LME       */
		0x0f, 0x30,                         /* wrmsr                    */
		0x31, 0xc0,                         /* xor eax, eax             */
		0x0f, 0x22, 0xe0,                   /* mov cr4, eax             */
	};
	static const uint8_t real_segs[] = {
		0x0f, 0x20, 0xc0,                   /* mov eax, cr0             */
		0x25, 0xfe, 0xff,                   /* and ax, ~CR0.PE          */
		0x0f, 0x22, 0xc0,                   /* mov cr0, eax: real mode  */
		0x31, 0xc0,                         /* xor ax, ax               */
		0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, /* mov ds/es/ss, ax         */
		0x8e, 0xe0, 0x8e, 0xe8,             /* mov fs/gs, ax            */
	};
	struct emit e = { buf, 0 };
	uint32_t ptr = at + STUB_SIZE - 12, pseudo = at + STUB_SIZE - 6;

	put(&e, (const uint8_t[]){ 0xff, 0x2d }, 2); /* jmp far [rip + rel32] (m16:32) */
	put32(&e, ptr - (at + 6));
	uint32_t code32 = at + (uint32_t)e.n;
	put(&e, leave_long, sizeof(leave_long));
	uint32_t code16 = at + (uint32_t)e.n + 7;
	put(&e, (const uint8_t[]){ 0xea }, 1); /* jmp far SEL_CODE16:code16 */
	put32(&e, code16 - (uint32_t)PRIV_BASE);
	put16(&e, SEL_CODE16);
	put(&e, (const uint8_t[]){ 0xb8, SEL_DATA16, 0x00, 0x8e, 0xd8 }, 5); /* ds = DATA16 */
	put(&e, (const uint8_t[]){ 0x66, 0x0f, 0x01, 0x16 }, 4);           /* lgdt [pseudo] */
	put16(&e, (uint16_t)(pseudo - PRIV_BASE));
	put(&e, (const uint8_t[]){ 0x66, 0x0f, 0x01, 0x1e }, 4);           /* lidt [pseudo] */
	put16(&e, (uint16_t)(pseudo - PRIV_BASE));
	put(&e, real_segs, sizeof(real_segs));
	put(&e, (const uint8_t[]){ 0x66, 0xb8 }, 2); /* mov eax, imm32 */
	put32(&e, (uint32_t)r->rax);
	put(&e, (const uint8_t[]){ 0x66, 0xb9 }, 2); /* mov ecx, imm32 */
	put32(&e, (uint32_t)r->rcx);
	put(&e, (const uint8_t[]){ 0x66, 0xba }, 2); /* mov edx, imm32 */
	put32(&e, (uint32_t)r->rdx);
	put(&e, (const uint8_t[]){ 0xea }, 1);       /* jmp far cs:ip */
	put16(&e, (uint16_t)r->rip);
	put16(&e, cs);
	e.n = STUB_SIZE - 12;
	put32(&e, code32);
	put16(&e, SEL_CODE32);
	put16(&e, 0xffff);
	put32(&e, 0);
}

/*
 * Load a real-mode start (a SIPI's vector << 8 : 0, table 9-1) the only way a 64-bit engine
 * can: from the engine's pristine 64-bit state, with paging on (long mode is left only on a
 * real CR0.PG 1 -> 0 change), run the INIT stub.  The guest may have rewritten the code at
 * the start address (the BSP copies the trampoline), and an engine keeps running its old
 * translation of rewritten code even after uc_mem_write: those translations are dropped.
 */
static void load_start(struct accel_vcpu *v, const struct x86_regs *r)
{
	struct soft *s = v->s;
	uint32_t at = (uint32_t)(PRIV_BASE + PRIV_STUBS + v->index * STUB_SIZE);
	uc_x86_mmr gdtr = { .base = PRIV_BASE + PRIV_GDT, .limit = 0x27 };
	uc_x86_mmr idtr = { .base = 0, .limit = 0xffff };

	emit_stub(s->priv + (at - PRIV_BASE), at, r, v->start_cs);
	unicorn.context_restore(s->uc, s->pristine);
	s->loaded = v;
	write_regs(v, r);
	soft_set_reg(s, UC_X86_REG_CR4, X86_CR4_PAE);
	soft_set_reg(s, UC_X86_REG_CR3, PRIV_BASE + PRIV_PML4);
	soft_set_reg(s, UC_X86_REG_CR0, X86_CR0_PE | X86_CR0_ET | X86_CR0_PG);
	unicorn.reg_write(s->uc, UC_X86_REG_GDTR, &gdtr);
	unicorn.reg_write(s->uc, UC_X86_REG_IDTR, &idtr);
	soft_set_reg(s, UC_X86_REG_CS, SEL_CODE64);
	soft_set_reg(s, UC_X86_REG_RFLAGS, X86_RFLAGS_RESERVED1);
	soft_set_reg(s, UC_X86_REG_RIP, at);
	/* Translations of the stub and of the real-mode segment it enters are dropped.  Not
	 * UC_CTL_TB_FLUSH: in 2.0.1 that touched ~1 GiB (the whole code buffer) and took up to
	 * 2 s (measured here with 2 vCPUs). */
	uint64_t start = (uint64_t)v->start_cs << 4;
	unicorn.ctl(s->uc, UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2), start, start + 0x10000);
	unicorn.ctl(s->uc, UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2), (uint64_t)at,
		(uint64_t)at + STUB_SIZE);
	soft_ctx_save(v);
	v->start_armed = false;
}

int soft_set_regs(struct accel_vcpu *v, const struct x86_regs *r)
{
	bool took;

	soft_engine_lock(v->s, &took);
	if (v->start_armed) {
		load_start(v, r);
	} else {
		soft_ctx_load(v);
		write_regs(v, r);
		soft_ctx_save(v);
	}
	soft_engine_unlock(v->s, took);
	return 0;
}

int soft_get_sregs(struct accel_vcpu *v, struct x86_sregs *s)
{
	struct soft *sf = v->s;
	static const struct { int id; size_t off; } segs[] = {
		{ UC_X86_REG_CS, offsetof(struct x86_sregs, cs) },
		{ UC_X86_REG_DS, offsetof(struct x86_sregs, ds) },
		{ UC_X86_REG_ES, offsetof(struct x86_sregs, es) },
		{ UC_X86_REG_FS, offsetof(struct x86_sregs, fs) },
		{ UC_X86_REG_GS, offsetof(struct x86_sregs, gs) },
		{ UC_X86_REG_SS, offsetof(struct x86_sregs, ss) },
	};
	uc_x86_mmr gdtr = { 0 }, idtr = { 0 };
	bool took;

	memset(s, 0, sizeof(*s));
	soft_engine_lock(sf, &took);
	soft_ctx_load(v);
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		segment(sf, segs[i].id, (struct x86_segment *)((uint8_t *)s + segs[i].off));
	unicorn.reg_read(sf->uc, UC_X86_REG_GDTR, &gdtr);
	unicorn.reg_read(sf->uc, UC_X86_REG_IDTR, &idtr);
	s->gdt = (struct x86_dtable){ .base = gdtr.base, .limit = (uint16_t)gdtr.limit };
	s->idt = (struct x86_dtable){ .base = idtr.base, .limit = (uint16_t)idtr.limit };
	s->cr0 = soft_reg(sf, UC_X86_REG_CR0);
	s->cr2 = soft_reg(sf, UC_X86_REG_CR2);
	s->cr3 = soft_reg(sf, UC_X86_REG_CR3);
	s->cr4 = soft_reg(sf, UC_X86_REG_CR4);
	s->efer = soft_msr(sf, MSR_EFER);
	soft_engine_unlock(sf, took);
	return 0;
}

/*
 * Protected or long mode: control registers, EFER, descriptor tables and selectors are
 * written raw (a segment write in 64-bit mode sets the selector only: the guest reloads its
 * segments, as the self-test's entry does).  Real mode (a start): see load_start.
 */
int soft_set_sregs(struct accel_vcpu *v, const struct x86_sregs *s)
{
	struct soft *sf = v->s;
	uc_x86_mmr gdtr = { .base = s->gdt.base, .limit = s->gdt.limit };
	uc_x86_mmr idtr = { .base = s->idt.base, .limit = s->idt.limit };
	uc_x86_msr efer = { .rid = MSR_EFER, .value = s->efer };
	bool took;

	if (!(s->cr0 & X86_CR0_PE)) {
		v->start_armed = true;
		v->start_cs = s->cs.selector;
		return 0;
	}
	soft_engine_lock(sf, &took);
	soft_ctx_load(v);
	soft_set_reg(sf, UC_X86_REG_CR4, s->cr4);
	soft_set_reg(sf, UC_X86_REG_CR3, s->cr3);
	unicorn.reg_write(sf->uc, UC_X86_REG_MSR, &efer);
	soft_set_reg(sf, UC_X86_REG_CR0, s->cr0);
	unicorn.reg_write(sf->uc, UC_X86_REG_GDTR, &gdtr);
	unicorn.reg_write(sf->uc, UC_X86_REG_IDTR, &idtr);
	soft_set_reg(sf, UC_X86_REG_CS, s->cs.selector);
	soft_set_reg(sf, UC_X86_REG_DS, s->ds.selector);
	soft_set_reg(sf, UC_X86_REG_ES, s->es.selector);
	soft_set_reg(sf, UC_X86_REG_SS, s->ss.selector);
	soft_ctx_save(v);
	soft_engine_unlock(sf, took);
	return 0;
}

/* ---- interrupts --------------------------------------------------------------------------- */

bool soft_interrupt_window(struct accel_vcpu *v, bool request)
{
	struct soft *s = v->s;
	bool took, open = false;

	soft_engine_lock(s, &took);
	soft_ctx_load(v);
	if (soft_reg(s, UC_X86_REG_RFLAGS) & X86_RFLAGS_IF) {
		/* After STI, interrupts wait one instruction (SDM Vol. 2B, STI).  A byte 0xFB
		 * that ends another instruction only delays the interrupt by one instruction. */
		const uint8_t *prev = soft_phys(s, soft_cs_base(s) + soft_reg(s, UC_X86_REG_RIP) - 1, 1);
		open = !prev || *prev != OPCODE_STI;
		if (!open && request)
			v->want_window = true;
	}
	soft_engine_unlock(s, took);
	return open;
}

/*
 * Deliver `vector` through the 64-bit IDT gate (SDM Vol. 3A, 6.14.2): align RSP to 16,
 * push SS, RSP, RFLAGS, CS, RIP; an interrupt gate clears IF (a trap gate keeps it); TF,
 * NT and RF are cleared; CS:RIP from the gate.  The guest runs at CPL 0 with IST 0: no
 * stack switch.  Returns -1 (errno EFAULT) when the guest's IDT cannot deliver it.
 */
static int deliver_vector(struct accel_vcpu *v, uint8_t vector)
{
	struct soft *s = v->s;
	uc_x86_mmr idtr = { 0 };
	uint8_t gate[16];

	unicorn.reg_read(s->uc, UC_X86_REG_IDTR, &idtr);
	const uint8_t *g = (uint32_t)vector * 16 + 15 <= idtr.limit ?
			   soft_phys(s, idtr.base + (uint64_t)vector * 16, 16) : NULL;
	if (!(soft_msr(s, MSR_EFER) & X86_EFER_LMA) || !g || !(g[5] & 0x80)) {
		log_error("vCPU %u: cannot deliver vector %#x: %s", v->index, vector,
			  !(soft_msr(s, MSR_EFER) & X86_EFER_LMA) ? "not in long mode (the software CPU "
			  "delivers through 64-bit IDT gates only)" : "no present gate in the IDT");
		errno = EFAULT;
		return -1;
	}
	memcpy(gate, g, sizeof(gate));
	uint64_t target = (uint64_t)(gate[0] | gate[1] << 8) | (uint64_t)(gate[6] | gate[7] << 8) << 16 |
			  (uint64_t)(gate[8] | gate[9] << 8 | gate[10] << 16 | (uint32_t)gate[11] << 24) << 32;
	uint16_t sel = (uint16_t)(gate[2] | gate[3] << 8);
	uint64_t rsp = soft_reg(s, UC_X86_REG_RSP), rflags = soft_reg(s, UC_X86_REG_RFLAGS);
	uint64_t frame[5] = { soft_reg(s, UC_X86_REG_RIP), soft_reg(s, UC_X86_REG_CS), rflags, rsp,
			      soft_reg(s, UC_X86_REG_SS) };
	uint64_t sp = (rsp & ~15ull) - sizeof(frame);
	uint8_t *stack = soft_phys(s, sp, sizeof(frame));
	if (!stack) {
		log_error("vCPU %u: cannot deliver vector %#x: stack at %#llx is not RAM", v->index,
			  vector, (unsigned long long)sp);
		errno = EFAULT;
		return -1;
	}
	memcpy(stack, frame, sizeof(frame));
	rflags &= ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | ((gate[5] & 0xf) == 0xe ? X86_RFLAGS_IF : 0));
	soft_set_reg(s, UC_X86_REG_RSP, sp);
	soft_set_reg(s, UC_X86_REG_RFLAGS, rflags);
	if (sel != (uint16_t)frame[1])
		soft_set_reg(s, UC_X86_REG_CS, sel);
	soft_set_reg(s, UC_X86_REG_RIP, target);
	return 0;
}

int soft_interrupt(struct accel_vcpu *v, uint8_t vector, bool nmi)
{
	bool took;

	soft_engine_lock(v->s, &took);
	soft_ctx_load(v);
	int r = deliver_vector(v, nmi ? 2 : vector);
	soft_ctx_save(v);
	soft_engine_unlock(v->s, took);
	return r;
}

