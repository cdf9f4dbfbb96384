/*
 * soft.c - the software CPU: every vCPU is emulated by Unicorn 2.0.1 (Debian's libunicorn2,
 * opened on first use; headers from libunicorn-dev); the only file that calls Unicorn.  It has no local APIC and keeps no MP state: the
 * vCPU loop (vcpu_user.c) and mp_user/apic_bus do, and tell this file which vCPU can run
 * (struct accel_machine).  The facts about Unicorn cited below were measured on 2.0.1 with
 * small probe guests; each is restated where it is used.
 *
 * One engine, one context per vCPU.  An engine costs ~7 ms, ~2.9 MiB of RSS and 1 GiB of
 * address space (255 engines: 730 MiB); a uc_context is 5,544 bytes and a restore + save
 * costs 0.12 us.  Locked instructions are not atomic across engines on different host
 * threads (1,000,000 `lock xadd` each from two threads lost ~4% of the increments), so only
 * one host thread may execute guest code at a time: the engine is a baton.  Each vCPU keeps
 * its own thread (the mailbox, MP-state reads on the vCPU's own thread, the pause gate all
 * stay as with KVM) and runs a slice only while it holds the turn.
 *
 * Turns.  The holder of the turn picks the next holder when its slice has ended, from the
 * machine's view of who can run: a vCPU with a latched start first (lowest index), then
 * round robin, or with a seed a pseudo-random choice; slice lengths are fixed, or with a
 * seed pseudo-random too.  Every guest-visible event happens inside a turn, so with a seed a
 * run is a function of the seed; the guest clock is then instructions retired (1 ns each).
 * When nobody can run, the clock jumps to the next timer.
 *
 * A slice ends when its instruction budget is spent, at HLT, at a guest exception, or at a
 * kick.  After an MMIO write (an IPI, an EOI) it goes on to the vCPU's next port I/O or HLT
 * (at most POST_MMIO_MAX more instructions) and ends there: what a guest reports about an
 * IPI it sent (the self-test's step ports) is seen before the IPI's target runs.  A PAUSE
 * ends a slice too, once PAUSE_SLICE_MIN instructions ran: the vCPU spins waiting for
 * another (an answer to its IPI, as in Linux's smp_call_function), which cannot come while it
 * holds the turn.
 *
 * What Unicorn 2.0.1 cannot do, and what is done instead:
 *  - paging walks the tables but then uses virtual = physical: identity-mapped guests only;
 *  - RDMSR/WRMSR cannot be hooked (IA32_APIC_BASE reads 0): no x2APIC, at most 255 vCPUs;
 *  - exceptions are not delivered through the guest's IDT: they end the run (a guest fault);
 *  - external interrupts are delivered by hand through the 64-bit IDT gate;
 *  - HLT cannot be hooked: uc_emu_start returns after it, recognised by 0xF4 at RIP - 1;
 *  - a 16-bit engine cannot reach long mode, so the engine is 64-bit and an AP's INIT is a
 *    stub that brings it down to real mode and far-jumps to the SIPI vector (load_start).
 */
#include "accel/accel.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicorn/unicorn.h>

#include "util/dlib.h"
#include "util/log.h"
#include "snapshot/snapfile.h"

/*
 * libunicorn, opened when the software CPU is chosen (dlib.h says why it is not linked: here
 * loading it would cost every KVM run ~5.5 MiB of resident memory, measured with --cpus 1).
 * The names are the library's own, minus the uc_ prefix.
 */
static struct {
	__typeof__(uc_open) *open;
	__typeof__(uc_close) *close;
	__typeof__(uc_reg_read) *reg_read;
	__typeof__(uc_reg_write) *reg_write;
	__typeof__(uc_emu_start) *emu_start;
	__typeof__(uc_emu_stop) *emu_stop;
	__typeof__(uc_hook_add) *hook_add;
	__typeof__(uc_mem_map_ptr) *mem_map_ptr;
	__typeof__(uc_mmio_map) *mmio_map;
	__typeof__(uc_context_alloc) *context_alloc;
	__typeof__(uc_context_save) *context_save;
	__typeof__(uc_context_restore) *context_restore;
	__typeof__(uc_context_free) *context_free;
	__typeof__(uc_context_size) *context_size;
	__typeof__(uc_context_reg_read) *context_reg_read;
	__typeof__(uc_context_reg_write) *context_reg_write;
	__typeof__(uc_version) *version;
	__typeof__(uc_strerror) *strerror;
	__typeof__(uc_ctl) *ctl;
} lib;

static const struct dlib_sym lib_syms[] = {
	{ "uc_open", (void **)&lib.open },
	{ "uc_close", (void **)&lib.close },
	{ "uc_reg_read", (void **)&lib.reg_read },
	{ "uc_reg_write", (void **)&lib.reg_write },
	{ "uc_emu_start", (void **)&lib.emu_start },
	{ "uc_emu_stop", (void **)&lib.emu_stop },
	{ "uc_hook_add", (void **)&lib.hook_add },
	{ "uc_mem_map_ptr", (void **)&lib.mem_map_ptr },
	{ "uc_mmio_map", (void **)&lib.mmio_map },
	{ "uc_context_alloc", (void **)&lib.context_alloc },
	{ "uc_context_save", (void **)&lib.context_save },
	{ "uc_context_restore", (void **)&lib.context_restore },
	{ "uc_context_free", (void **)&lib.context_free },
	{ "uc_context_size", (void **)&lib.context_size },
	{ "uc_context_reg_read", (void **)&lib.context_reg_read },
	{ "uc_context_reg_write", (void **)&lib.context_reg_write },
	{ "uc_version", (void **)&lib.version },
	{ "uc_strerror", (void **)&lib.strerror },
	{ "uc_ctl", (void **)&lib.ctl },
};

#define UNICORN_SONAME "libunicorn.so.2" /* Debian 12's libunicorn2 */

/* A private 64 KiB in the MMIO hole, mapped in the engine only: INIT stubs, GDT, page tables. */
#define PRIV_BASE 0xfeff0000ull
#define PRIV_SIZE 0x10000ull
#define PRIV_GDT 0x0000u
#define PRIV_PML4 0x1000u
#define PRIV_PDPT 0x2000u
#define PRIV_PD 0x3000u
#define PRIV_STUBS 0x4000u
#define STUB_SIZE 0x80u
#define SOFT_MAX_VCPUS ((PRIV_SIZE - PRIV_STUBS) / STUB_SIZE) /* 384: xAPIC caps it at 255 */
#define HOLE_END 0x100000000ull

/* Private GDT selectors (Intel SDM Vol. 3A, 3.4.5). */
#define SEL_CODE64 0x08
#define SEL_CODE32 0x10
#define SEL_CODE16 0x18
#define SEL_DATA16 0x20

#define SLICE_DEFAULT 20000u  /* instructions; ~0.1 ms, against a ~10 us thread hand-over */
#define SLICE_SEEDED_MIN 200u
#define SLICE_SEEDED_SPAN 40000u
#define POST_MMIO_MAX 1000000u
#define PAUSE_SLICE_MIN 200u  /* a spinning vCPU gives its turn up after this many */
#define NO_TURN (-1L)
#define IDLE_JUMPS_MAX 64u

#define RFLAGS_TF (1ull << 8)
#define RFLAGS_NT (1ull << 14)
#define RFLAGS_RF (1ull << 16)
#define MSR_EFER 0xc0000080u
#define OPCODE_HLT 0xf4
#define OPCODE_STI 0xfb

struct soft {
	struct accel base;
	uc_engine *uc;
	uc_context *pristine;        /* the engine as opened: 64-bit mode, paging off      */
	struct guest_mem *mem;
	uint8_t *priv;               /* host memory behind PRIV_BASE                        */
	pthread_mutex_t engine;      /* held for a whole turn, and by register accesses     */
	pthread_mutex_t lock;        /* turn, and the waiters' condition variables          */
	long turn;                   /* index of the vCPU whose turn it is, or NO_TURN      */
	struct accel_vcpu **vcpus;
	uint32_t nvcpus;
	struct accel_vcpu *loaded;   /* whose context the engine holds                      */
	struct accel_machine m;
	bool seeded;
	uint64_t rng;                /* xorshift64*; used by the turn holder only           */
	_Atomic uint64_t now;        /* guest clock: instructions retired, as ns            */
	size_t ctx_size;             /* uc_context_size: a vCPU's saved context, in bytes    */
	bool turn_restored;          /* a snapshot gave `turn` to a vCPU: it takes the engine
				      * on its first run or idle (claim_restored_turn)      */
	struct mmio_region { struct soft *s; uint64_t base; } hole[2];
};

struct accel_vcpu {
	struct soft *s;
	uint32_t index, id;
	uc_context *ctx;
	struct cpuid_table *cpuid;
	struct accel_vcpu_hooks hooks;
	pthread_cond_t cond;
	_Atomic bool kicked;
	bool waiting;                /* in take_turn (under s->lock)                        */
	/* The current slice (the holder's thread only). */
	uint64_t budget, executed;
	uint64_t counted;            /* of `executed`, already added to the clock           */
	bool mmio_written, io_stop, stopped;
	uint64_t stop_addr;
	uint64_t insn_addr;          /* the instruction executing (linear) and its length   */
	uint32_t insn_size;
	enum { IN_NO_EXIT, IN_OUT, IN_OTHER_EXIT } in_exit; /* which hook is delivering    */
	int exc_vector;
	bool want_window;
	/* A snapshot taken inside an OUT of a slice that goes on: the rest of it, first. */
	bool resume_slice;
	uint64_t resume_left;
	/* A real-mode start prepared by set_sregs, completed by set_regs (load_start). */
	bool start_armed;
	uint16_t start_cs;
};

/* The engine is held by this thread (its turn, or a register access). */
static __thread bool tls_engine;
/* The vCPU executing guest code on this thread, for the clock and the hooks. */
static __thread struct accel_vcpu *tls_running;

static struct soft *to_soft(struct accel *a)
{
	return (struct soft *)a;
}

/* ---- memory ------------------------------------------------------------------------------ */

static void *phys(struct soft *s, uint64_t gpa, size_t len)
{
	if (gpa >= PRIV_BASE && gpa + len <= PRIV_BASE + PRIV_SIZE)
		return s->priv + (gpa - PRIV_BASE);
	return guest_mem_ptr(s->mem, gpa, len);
}

static uint64_t reg(struct soft *s, int id)
{
	uint64_t v = 0;

	lib.reg_read(s->uc, id, &v);
	return v;
}

static void set_reg(struct soft *s, int id, uint64_t v)
{
	lib.reg_write(s->uc, id, &v);
}

static uint64_t msr(struct soft *s, uint32_t id)
{
	uc_x86_msr m = { .rid = id };

	lib.reg_read(s->uc, UC_X86_REG_MSR, &m);
	return m.value;
}

/* A GDT descriptor as struct x86_segment (SDM Vol. 3A, 3.4.5, figure 3-8); false if unreadable. */
static bool descriptor(struct soft *s, uint16_t sel, struct x86_segment *seg)
{
	uc_x86_mmr gdtr = { 0 };
	uint64_t d;

	memset(seg, 0, sizeof(*seg));
	seg->selector = sel;
	lib.reg_read(s->uc, UC_X86_REG_GDTR, &gdtr);
	const uint8_t *p = (sel & 4) || (sel | 7u) > gdtr.limit ? NULL : phys(s, gdtr.base + (sel & ~7u), 8);
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
	uint16_t sel = (uint16_t)reg(s, id);

	if (!(reg(s, UC_X86_REG_CR0) & X86_CR0_PE)) {
		*seg = (struct x86_segment){ .base = (uint64_t)sel << 4, .limit = 0xffff,
					     .selector = sel, .present = 1, .s = 1,
					     .type = id == UC_X86_REG_CS ? 0xb : 0x3 };
		return;
	}
	if (!descriptor(s, sel, seg))
		seg->selector = sel;
	if (seg->l && (msr(s, MSR_EFER) & X86_EFER_LMA))
		seg->base = 0; /* 64-bit mode: CS base is 0 (SDM Vol. 3A, 3.4.4) */
}

static uint64_t cs_base(struct soft *s)
{
	struct x86_segment cs;

	segment(s, UC_X86_REG_CS, &cs);
	return cs.base;
}

/* ---- the engine and the turn ------------------------------------------------------------- */

static void engine_lock(struct soft *s, bool *took)
{
	*took = !tls_engine;
	if (*took) {
		pthread_mutex_lock(&s->engine);
		tls_engine = true;
	}
}

static void engine_unlock(struct soft *s, bool took)
{
	if (took) {
		tls_engine = false;
		pthread_mutex_unlock(&s->engine);
	}
}

/* Put v's registers in the engine (the engine's are saved whenever they change). */
static void load(struct accel_vcpu *v)
{
	struct soft *s = v->s;

	if (s->loaded != v) {
		lib.context_restore(s->uc, v->ctx);
		s->loaded = v;
	}
}

static void save(struct accel_vcpu *v)
{
	lib.context_save(v->s->uc, v->ctx);
}

static uint64_t rng_next(struct soft *s)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return s->rng * 0x2545f4914f6cdd1dull;
}

/* Who runs after `after`: a starting vCPU first; then round robin, or a seeded choice. */
static long choose(struct soft *s, uint32_t after)
{
	uint32_t n = s->nvcpus, count = 0;
	long pick = NO_TURN;
	uint32_t target = 0;

	for (uint32_t i = 0; i < n; i++) {
		enum accel_runnable r = s->m.runnable(s->m.ctx, i);
		if (r == ACCEL_STARTING)
			return i;
		count += r == ACCEL_RUNNABLE;
	}
	if (!count)
		return NO_TURN;
	if (s->seeded)
		target = (uint32_t)(rng_next(s) % count);
	for (uint32_t k = 1, seen = 0; k <= n && pick < 0; k++) {
		uint32_t i = s->seeded ? k - 1 : (after + k) % n;
		if (s->m.runnable(s->m.ctx, i) != ACCEL_RUNNABLE)
			continue;
		if (!s->seeded || seen++ == target)
			pick = i;
	}
	return pick;
}

/*
 * Called by the holder, without s->lock (the machine takes the APIC and MP locks, whose kick
 * callbacks take s->lock).  Fires due timers; if nobody can run, lets the clock jump to the
 * next timer, a bounded number of times: a periodic timer whose interrupt wakes nobody
 * (every vCPU halted with IF = 0) would go on forever.  Then nobody holds the turn until a
 * vCPU becomes runnable from outside (the control API).
 */
static long pick(struct soft *s, uint32_t after)
{
	for (unsigned jumps = 0; jumps <= IDLE_JUMPS_MAX; jumps++) {
		uint64_t now = atomic_load(&s->now);
		s->m.advance(s->m.ctx, now);
		long next = choose(s, after);
		if (next != NO_TURN)
			return next;
		uint64_t t = s->m.next_event(s->m.ctx);
		if (t == ACCEL_NO_EVENT)
			return NO_TURN;
		if (t > now)
			atomic_store(&s->now, t);
	}
	return NO_TURN;
}

static void hand_over(struct soft *s, long next)
{
	pthread_mutex_lock(&s->lock);
	s->turn = next;
	if (next != NO_TURN) {
		pthread_cond_signal(&s->vcpus[next]->cond);
	} else {
		/* Nobody can run: whoever becomes runnable (from outside) takes the turn. */
		for (uint32_t i = 0; i < s->nvcpus; i++)
			if (s->vcpus[i]->waiting)
				pthread_cond_signal(&s->vcpus[i]->cond);
	}
	pthread_mutex_unlock(&s->lock);
}

/*
 * After a restore, the vCPU that held the turn in the snapshot holds it again, but its new
 * thread has not taken the engine: it does so here, on its first run or idle, and then
 * goes on as the holder would have (choosing the next one, or finishing its slice).
 */
static void claim_restored_turn(struct accel_vcpu *v)
{
	struct soft *s = v->s;

	if (tls_engine)
		return;
	pthread_mutex_lock(&s->lock);
	bool mine = s->turn_restored && s->turn == (long)v->index;
	if (mine)
		s->turn_restored = false;
	pthread_mutex_unlock(&s->lock);
	if (mine) {
		pthread_mutex_lock(&s->engine);
		tls_engine = true;
	}
}

/* End v's turn (if it holds it): choose the next holder and wake it. */
static void give_turn(struct accel_vcpu *v, bool keep_if_chosen, bool *kept)
{
	struct soft *s = v->s;

	*kept = false;
	claim_restored_turn(v);
	v->resume_slice = false; /* idle before the restored slice went on: it ends here */
	if (!tls_engine)
		return;
	long next = s->m.runnable ? pick(s, v->index) : NO_TURN;
	if (keep_if_chosen && next == (long)v->index) {
		*kept = true;
		return;
	}
	tls_engine = false;
	pthread_mutex_unlock(&s->engine);
	hand_over(s, next);
}

/* Wait for v's turn; false if kicked first. */
static bool take_turn(struct accel_vcpu *v)
{
	struct soft *s = v->s;
	bool mine = false;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		if (s->turn == NO_TURN)
			s->turn = v->index;
		if (s->turn == (long)v->index) {
			mine = true;
			break;
		}
		if (atomic_exchange(&v->kicked, false))
			break;
		v->waiting = true;
		pthread_cond_wait(&v->cond, &s->lock);
		v->waiting = false;
	}
	pthread_mutex_unlock(&s->lock);
	if (mine) {
		pthread_mutex_lock(&s->engine);
		tls_engine = true;
	}
	return mine;
}

/* ---- hooks: called inside uc_emu_start, on the holder's thread --------------------------- */

/*
 * An exit served inside the slice.  The instructions run so far go on the clock first, so
 * that every thread reads the same guest time while the exit lasts (it may pause the VM).
 */
static void deliver(struct accel_vcpu *v, const struct accel_exit *e)
{
	atomic_fetch_add(&v->s->now, v->executed - v->counted);
	v->counted = v->executed;
	if (!v->in_exit)
		v->in_exit = e->kind == ACCEL_EXIT_IO && e->io.out ? IN_OUT : IN_OTHER_EXIT;
	if (v->hooks.exit)
		v->hooks.exit(v->hooks.ctx, e);
	v->in_exit = IN_NO_EXIT;
}

/* PAUSE (F3 90, SDM Vol. 2B): a spin-wait loop.  Soft guests are identity-mapped, so the
 * linear address is the physical one. */
static bool is_pause(struct soft *s, uint64_t addr, uint32_t size)
{
	const uint8_t *p = size == 2 ? phys(s, addr, 2) : NULL;

	return p && p[0] == 0xf3 && p[1] == 0x90;
}

/*
 * Before every instruction: count it, and stop before it when the slice is over.  A stop
 * from a code hook happens before the instruction executes; RIP then reads the linear
 * address (CS.base + IP), corrected in run_slice.  The INIT stub is not guest code.
 * A kick does not cut a slice short: when a kick lands depends on host threads, and a
 * slice is short anyway (at most SLICE_SEEDED_MIN + SLICE_SEEDED_SPAN + POST_MMIO_MAX
 * instructions); it is seen when the slice ends.
 */
static void on_code(uc_engine *uc, uint64_t addr, uint32_t size, void *ud)
{
	struct accel_vcpu *v = tls_running;

	(void)ud;
	if (addr - PRIV_BASE < PRIV_SIZE)
		return;
	v->insn_addr = addr;
	v->insn_size = size;
	uint64_t limit = v->budget + (v->mmio_written ? POST_MMIO_MAX : 0);
	if (v->io_stop || v->executed >= limit ||
	    (v->executed >= PAUSE_SLICE_MIN && is_pause(v->s, addr, size))) {
		v->stopped = true;
		v->stop_addr = addr;
		lib.emu_stop(uc);
		return;
	}
	v->executed++;
}

static uint32_t on_in(uc_engine *uc, uint32_t port, int size, void *ud)
{
	struct accel_vcpu *v = tls_running;
	uint8_t data[4];
	uint32_t value = 0;
	struct accel_exit e = { .kind = ACCEL_EXIT_IO };

	(void)uc;
	(void)ud;
	memset(data, 0xff, sizeof(data));
	e.io.port = (uint16_t)port;
	e.io.size = (uint8_t)(size > 0 && size <= 4 ? size : 1);
	e.io.count = 1;
	e.io.data = data;
	deliver(v, &e);
	memcpy(&value, data, e.io.size);
	v->io_stop = v->mmio_written;
	return value;
}

static void on_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *ud)
{
	struct accel_vcpu *v = tls_running;
	uint8_t data[4];
	struct accel_exit e = { .kind = ACCEL_EXIT_IO };

	(void)uc;
	(void)ud;
	memcpy(data, &value, sizeof(data));
	e.io.port = (uint16_t)port;
	e.io.size = (uint8_t)(size > 0 && size <= 4 ? size : 1);
	e.io.out = true;
	e.io.count = 1;
	e.io.data = data;
	deliver(v, &e);
	v->io_stop = v->mmio_written;
}

static uint64_t on_mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *ud)
{
	const struct mmio_region *r = ud;
	uint8_t data[8];
	uint64_t value = 0;
	struct accel_exit e = { .kind = ACCEL_EXIT_MMIO };

	(void)uc;
	memset(data, 0xff, sizeof(data));
	e.mmio.addr = r->base + offset;
	e.mmio.len = size <= 8 ? size : 8;
	e.mmio.data = data;
	deliver(tls_running, &e);
	memcpy(&value, data, e.mmio.len);
	return value;
}

static void on_mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *ud)
{
	const struct mmio_region *r = ud;
	uint8_t data[8];
	struct accel_exit e = { .kind = ACCEL_EXIT_MMIO };

	(void)uc;
	memcpy(data, &value, sizeof(data));
	e.mmio.addr = r->base + offset;
	e.mmio.len = size <= 8 ? size : 8;
	e.mmio.write = true;
	e.mmio.data = data;
	tls_running->mmio_written = true;
	deliver(tls_running, &e);
}

/* CPUID: the vCPU's table (leaves not in it read 0), as KVM_SET_CPUID2 gives it under KVM. */
static int on_cpuid(uc_engine *uc, void *ud)
{
	struct soft *s = ud;
	const struct accel_vcpu *v = tls_running;
	uint32_t leaf = (uint32_t)reg(s, UC_X86_REG_EAX), sub = (uint32_t)reg(s, UC_X86_REG_ECX);
	const struct cpuid_entry *e = v->cpuid ? cpuid_find(v->cpuid, leaf, sub) : NULL;

	(void)uc;
	set_reg(s, UC_X86_REG_RAX, e ? e->eax : 0);
	set_reg(s, UC_X86_REG_RBX, e ? e->ebx : 0);
	set_reg(s, UC_X86_REG_RCX, e ? e->ecx : 0);
	set_reg(s, UC_X86_REG_RDX, e ? e->edx : 0);
	return 1; /* skip the engine's own CPUID */
}

/* Exceptions and INT n arrive here with their vector and are not delivered: stop. */
static void on_intr(uc_engine *uc, uint32_t intno, void *ud)
{
	(void)ud;
	tls_running->exc_vector = (int)intno;
	lib.emu_stop(uc);
}

static bool on_invalid(uc_engine *uc, void *ud)
{
	(void)uc;
	(void)ud;
	tls_running->exc_vector = 6; /* #UD */
	return false;
}

/* ---- running a slice ---------------------------------------------------------------------- */

static uint64_t slice_length(struct accel_vcpu *v)
{
	struct soft *s = v->s;

	if (v->want_window) {
		v->want_window = false;
		return 1; /* past the STI or MOV SS, then the interrupt */
	}
	if (!s->seeded)
		return SLICE_DEFAULT;
	return SLICE_SEEDED_MIN + rng_next(s) % SLICE_SEEDED_SPAN;
}

static void classify(struct accel_vcpu *v, uc_err err, struct accel_exit *e)
{
	struct soft *s = v->s;
	uint64_t rip = reg(s, UC_X86_REG_RIP);
	const uint8_t *prev;

	if (v->exc_vector >= 0 || err != UC_ERR_OK) {
		e->kind = ACCEL_EXIT_EXCEPTION;
		e->exception.vector = v->exc_vector >= 0 ? v->exc_vector :
				      err == UC_ERR_INSN_INVALID ? 6 : -1;
		e->exception.rip = rip;
		e->exception.what = v->exc_vector >= 0 ? "an exception or INT n" : lib.strerror(err);
		return;
	}
	if (v->stopped) {
		e->kind = ACCEL_EXIT_INTERRUPTED;
		return;
	}
	prev = phys(s, cs_base(s) + rip - 1, 1);
	e->kind = prev && *prev == OPCODE_HLT ? ACCEL_EXIT_HLT : ACCEL_EXIT_INTERRUPTED;
}

static void run_slice(struct accel_vcpu *v, struct accel_exit *e)
{
	struct soft *s = v->s;

	load(v);
	v->budget = v->resume_slice ? v->resume_left : slice_length(v);
	v->resume_slice = false;
	v->executed = v->counted = 0;
	v->mmio_written = v->io_stop = v->stopped = false;
	v->exc_vector = -1;
	tls_running = v;
	uc_err err = lib.emu_start(s->uc, reg(s, UC_X86_REG_RIP), UINT64_MAX, 0, 0);
	tls_running = NULL;
	/* A code-hook stop leaves RIP = CS.base + IP (measured in real mode): make it IP. */
	if (v->stopped && err == UC_ERR_OK) {
		uint64_t base = cs_base(s);
		if (base && reg(s, UC_X86_REG_RIP) == v->stop_addr)
			set_reg(s, UC_X86_REG_RIP, v->stop_addr - base);
	}
	save(v);
	atomic_fetch_add(&s->now, v->executed - v->counted);
	classify(v, err, e);
}

static int soft_run(struct accel_vcpu *v, struct accel_exit *e)
{
	bool kept;

	memset(e, 0, sizeof(*e));
	e->kind = ACCEL_EXIT_INTERRUPTED;
	if (atomic_exchange(&v->kicked, false))
		return 0;
	if (v->resume_slice) {
		/* The slice a snapshot interrupted goes on: no new choice, no `enter` (the
		 * interrupted slice had entered; interrupts wait for the next one). */
		claim_restored_turn(v);
		if (tls_engine) {
			run_slice(v, e);
			return 0;
		}
		v->resume_slice = false;
	}
	give_turn(v, true, &kept);
	if (!kept && !take_turn(v))
		return 0;
	if (v->hooks.enter && !v->hooks.enter(v->hooks.ctx))
		return 0;
	run_slice(v, e);
	return 0;
}

static void soft_idle(struct accel_vcpu *v)
{
	bool kept;

	give_turn(v, false, &kept);
}

static void soft_kick(struct accel_vcpu *v)
{
	struct soft *s = v->s;

	atomic_store(&v->kicked, true);
	pthread_mutex_lock(&s->lock);
	pthread_cond_signal(&v->cond);
	pthread_mutex_unlock(&s->lock);
}

/* ---- registers ---------------------------------------------------------------------------- */

static const int gpr_ids[] = {
	UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX,
	UC_X86_REG_RSI, UC_X86_REG_RDI, UC_X86_REG_RSP, UC_X86_REG_RBP,
	UC_X86_REG_R8, UC_X86_REG_R9, UC_X86_REG_R10, UC_X86_REG_R11,
	UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15,
	UC_X86_REG_RIP, UC_X86_REG_RFLAGS,
};

static int soft_get_regs(struct accel_vcpu *v, struct x86_regs *r)
{
	bool took;
	uint64_t *out = (uint64_t *)r;

	/*
	 * Without the engine, v's saved context is current (it is saved whenever it changes):
	 * read it there, so that a look at a waiting vCPU never waits for the turn's holder,
	 * which may be parked inside an exit for as long as a pause lasts (step mode).
	 */
	if (!tls_engine) {
		for (size_t i = 0; i < sizeof(gpr_ids) / sizeof(gpr_ids[0]); i++)
			if (lib.context_reg_read(v->ctx, gpr_ids[i], &out[i]) != UC_ERR_OK)
				return -1;
		return 0;
	}
	engine_lock(v->s, &took);
	load(v);
	for (size_t i = 0; i < sizeof(gpr_ids) / sizeof(gpr_ids[0]); i++)
		out[i] = reg(v->s, gpr_ids[i]);
	engine_unlock(v->s, took);
	return 0;
}

static void write_regs(struct accel_vcpu *v, const struct x86_regs *r)
{
	const uint64_t *in = (const uint64_t *)r;

	for (size_t i = 0; i < sizeof(gpr_ids) / sizeof(gpr_ids[0]); i++)
		set_reg(v->s, gpr_ids[i], in[i]);
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
	lib.context_restore(s->uc, s->pristine);
	s->loaded = v;
	write_regs(v, r);
	set_reg(s, UC_X86_REG_CR4, X86_CR4_PAE);
	set_reg(s, UC_X86_REG_CR3, PRIV_BASE + PRIV_PML4);
	set_reg(s, UC_X86_REG_CR0, X86_CR0_PE | X86_CR0_ET | X86_CR0_PG);
	lib.reg_write(s->uc, UC_X86_REG_GDTR, &gdtr);
	lib.reg_write(s->uc, UC_X86_REG_IDTR, &idtr);
	set_reg(s, UC_X86_REG_CS, SEL_CODE64);
	set_reg(s, UC_X86_REG_RFLAGS, X86_RFLAGS_RESERVED1);
	set_reg(s, UC_X86_REG_RIP, at);
	/* Translations of the stub and of the real-mode segment it enters are dropped.  Not
	 * UC_CTL_TB_FLUSH: in 2.0.1 that touched ~1 GiB (the whole code buffer) and took up to
	 * 2 s (measured here with 2 vCPUs). */
	uint64_t start = (uint64_t)v->start_cs << 4;
	lib.ctl(s->uc, UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2), start, start + 0x10000);
	lib.ctl(s->uc, UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2), (uint64_t)at,
		(uint64_t)at + STUB_SIZE);
	save(v);
	v->start_armed = false;
}

static int soft_set_regs(struct accel_vcpu *v, const struct x86_regs *r)
{
	bool took;

	engine_lock(v->s, &took);
	if (v->start_armed) {
		load_start(v, r);
	} else {
		load(v);
		write_regs(v, r);
		save(v);
	}
	engine_unlock(v->s, took);
	return 0;
}

static int soft_get_sregs(struct accel_vcpu *v, struct x86_sregs *s)
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
	engine_lock(sf, &took);
	load(v);
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		segment(sf, segs[i].id, (struct x86_segment *)((uint8_t *)s + segs[i].off));
	lib.reg_read(sf->uc, UC_X86_REG_GDTR, &gdtr);
	lib.reg_read(sf->uc, UC_X86_REG_IDTR, &idtr);
	s->gdt = (struct x86_dtable){ .base = gdtr.base, .limit = (uint16_t)gdtr.limit };
	s->idt = (struct x86_dtable){ .base = idtr.base, .limit = (uint16_t)idtr.limit };
	s->cr0 = reg(sf, UC_X86_REG_CR0);
	s->cr2 = reg(sf, UC_X86_REG_CR2);
	s->cr3 = reg(sf, UC_X86_REG_CR3);
	s->cr4 = reg(sf, UC_X86_REG_CR4);
	s->efer = msr(sf, MSR_EFER);
	engine_unlock(sf, took);
	return 0;
}

/*
 * Protected or long mode: control registers, EFER, descriptor tables and selectors are
 * written raw (a segment write in 64-bit mode sets the selector only: the guest reloads its
 * segments, as the self-test's entry does).  Real mode (a start): see load_start.
 */
static int soft_set_sregs(struct accel_vcpu *v, const struct x86_sregs *s)
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
	engine_lock(sf, &took);
	load(v);
	set_reg(sf, UC_X86_REG_CR4, s->cr4);
	set_reg(sf, UC_X86_REG_CR3, s->cr3);
	lib.reg_write(sf->uc, UC_X86_REG_MSR, &efer);
	set_reg(sf, UC_X86_REG_CR0, s->cr0);
	lib.reg_write(sf->uc, UC_X86_REG_GDTR, &gdtr);
	lib.reg_write(sf->uc, UC_X86_REG_IDTR, &idtr);
	set_reg(sf, UC_X86_REG_CS, s->cs.selector);
	set_reg(sf, UC_X86_REG_DS, s->ds.selector);
	set_reg(sf, UC_X86_REG_ES, s->es.selector);
	set_reg(sf, UC_X86_REG_SS, s->ss.selector);
	save(v);
	engine_unlock(sf, took);
	return 0;
}

/* ---- interrupts --------------------------------------------------------------------------- */

static bool soft_interrupt_window(struct accel_vcpu *v, bool request)
{
	struct soft *s = v->s;
	bool took, open = false;

	engine_lock(s, &took);
	load(v);
	if (reg(s, UC_X86_REG_RFLAGS) & X86_RFLAGS_IF) {
		/* After STI, interrupts wait one instruction (SDM Vol. 2B, STI).  A byte 0xFB
		 * that ends another instruction only delays the interrupt by one instruction. */
		const uint8_t *prev = phys(s, cs_base(s) + reg(s, UC_X86_REG_RIP) - 1, 1);
		open = !prev || *prev != OPCODE_STI;
		if (!open && request)
			v->want_window = true;
	}
	engine_unlock(s, took);
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

	lib.reg_read(s->uc, UC_X86_REG_IDTR, &idtr);
	const uint8_t *g = (uint32_t)vector * 16 + 15 <= idtr.limit ?
			   phys(s, idtr.base + (uint64_t)vector * 16, 16) : NULL;
	if (!(msr(s, MSR_EFER) & X86_EFER_LMA) || !g || !(g[5] & 0x80)) {
		log_error("vCPU %u: cannot deliver vector %#x: %s", v->index, vector,
			  !(msr(s, MSR_EFER) & X86_EFER_LMA) ? "not in long mode (the software CPU "
			  "delivers through 64-bit IDT gates only)" : "no present gate in the IDT");
		errno = EFAULT;
		return -1;
	}
	memcpy(gate, g, sizeof(gate));
	uint64_t target = (uint64_t)(gate[0] | gate[1] << 8) | (uint64_t)(gate[6] | gate[7] << 8) << 16 |
			  (uint64_t)(gate[8] | gate[9] << 8 | gate[10] << 16 | (uint32_t)gate[11] << 24) << 32;
	uint16_t sel = (uint16_t)(gate[2] | gate[3] << 8);
	uint64_t rsp = reg(s, UC_X86_REG_RSP), rflags = reg(s, UC_X86_REG_RFLAGS);
	uint64_t frame[5] = { reg(s, UC_X86_REG_RIP), reg(s, UC_X86_REG_CS), rflags, rsp,
			      reg(s, UC_X86_REG_SS) };
	uint64_t sp = (rsp & ~15ull) - sizeof(frame);
	uint8_t *stack = phys(s, sp, sizeof(frame));
	if (!stack) {
		log_error("vCPU %u: cannot deliver vector %#x: stack at %#llx is not RAM", v->index,
			  vector, (unsigned long long)sp);
		errno = EFAULT;
		return -1;
	}
	memcpy(stack, frame, sizeof(frame));
	rflags &= ~(RFLAGS_TF | RFLAGS_NT | RFLAGS_RF | ((gate[5] & 0xf) == 0xe ? X86_RFLAGS_IF : 0));
	set_reg(s, UC_X86_REG_RSP, sp);
	set_reg(s, UC_X86_REG_RFLAGS, rflags);
	if (sel != (uint16_t)frame[1])
		set_reg(s, UC_X86_REG_CS, sel);
	set_reg(s, UC_X86_REG_RIP, target);
	return 0;
}

static int soft_interrupt(struct accel_vcpu *v, uint8_t vector, bool nmi)
{
	bool took;

	engine_lock(v->s, &took);
	load(v);
	int r = deliver_vector(v, nmi ? 2 : vector);
	save(v);
	engine_unlock(v->s, took);
	return r;
}

/* ---- CPUID -------------------------------------------------------------------------------- */

/*
 * What the software CPU offers, in place of KVM_GET_SUPPORTED_CPUID: a plain family-6 x86-64
 * (features as QEMU's qemu64 model, which Unicorn emulates).  No x2APIC (CPUID.1:ECX bit 21):
 * its MSRs cannot be trapped.  Leaves 0x40000000-1 are mpvmm's: a signature, and (filled per
 * vCPU by the VM) IA32_APIC_BASE, which the guest cannot read with RDMSR here.
 */
static const struct cpuid_entry soft_cpuid[] = {
	{ .function = 0x0, .eax = 0xb, .ebx = 0x756e6547, .edx = 0x49656e69, .ecx = 0x6c65746e },
	{ .function = 0x1, .eax = 0x000306a9, .ebx = 0x00000800,
	  .ecx = (1u << 0) | (1u << 13) | (1u << 31), .edx = 0x078bfbfd },
	{ .function = 0x40000000, .eax = 0x40000001,           /* "mpvmmsoftcpu" */
	  .ebx = 0x6d76706d, .ecx = 0x666f736d, .edx = 0x75706374 },
	{ .function = 0x40000001 },
	{ .function = 0x80000000, .eax = 0x80000008 },
	{ .function = 0x80000001, .ecx = 1u << 0, .edx = (1u << 11) | (1u << 20) | (1u << 29) },
	{ .function = 0x80000008, .eax = 0x3028 },
};

static struct cpuid_table *soft_supported_cpuid(struct accel *a, char *err, size_t errlen)
{
	size_t n = sizeof(soft_cpuid) / sizeof(soft_cpuid[0]);
	struct cpuid_table *t = calloc(1, sizeof(*t) + (n + CPUID_EXTRA_ENTRIES) *
					     sizeof(struct cpuid_entry));

	(void)a;
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(t->e, soft_cpuid, sizeof(soft_cpuid));
	t->n = n;
	return t;
}

static int soft_set_cpuid(struct accel_vcpu *v, const struct cpuid_table *t)
{
	size_t size = sizeof(*t) + t->n * sizeof(t->e[0]);
	struct cpuid_table *copy = malloc(size);

	if (!copy)
		return -1;
	memcpy(copy, t, size);
	free(v->cpuid);
	v->cpuid = copy;
	return 0;
}

/* ---- VM and vCPUs -------------------------------------------------------------------------- */

static int soft_limits(struct accel *a, uint32_t *max_vcpus, uint32_t *max_vcpu_id)
{
	*max_vcpus = a->max_xapic_cpus;
	*max_vcpu_id = a->max_xapic_cpus;
	return 0;
}

static int engine_fail(char *err, size_t errlen, const char *what, uc_err e)
{
	snprintf(err, errlen, "%s: %s", what, lib.strerror(e));
	return -1;
}

/* Identity page tables for the stub's page (paging must be on to leave long mode). */
static void build_private(struct soft *s)
{
	static const uint64_t gdt[] = {
		0, 0x00af9b000000ffffull, 0x00cf9b000000ffffull,
		0xfe009bff0000ffffull, 0xfe0093ff0000ffffull, /* 16-bit, base PRIV_BASE */
	};
	uint64_t e;

	memcpy(s->priv + PRIV_GDT, gdt, sizeof(gdt));
	e = PRIV_BASE + PRIV_PDPT + 3;
	memcpy(s->priv + PRIV_PML4, &e, 8);
	e = PRIV_BASE + PRIV_PD + 3;
	memcpy(s->priv + PRIV_PDPT + 8 * (PRIV_BASE >> 30), &e, 8);
	e = (PRIV_BASE & ~0x1fffffull) | 0x83; /* 2 MiB page, present, writable */
	memcpy(s->priv + PRIV_PD + 8 * ((PRIV_BASE >> 21) & 511), &e, 8);
}

/* RAM as the guest has it; the rest of the 3-4 GiB hole is MMIO (the LAPIC page included). */
static int map_memory(struct soft *s, struct guest_mem *m, char *err, size_t errlen)
{
	uint64_t low_end = 0;
	uc_err r;

	for (unsigned i = 0; i < m->nregions; i++) {
		r = lib.mem_map_ptr(s->uc, m->regions[i].gpa, m->regions[i].size, UC_PROT_ALL,
				   m->regions[i].hva);
		if (r != UC_ERR_OK)
			return engine_fail(err, errlen, "uc_mem_map_ptr(guest RAM)", r);
		if (m->regions[i].gpa < PRIV_BASE)
			low_end = m->regions[i].gpa + m->regions[i].size;
	}
	r = lib.mem_map_ptr(s->uc, PRIV_BASE, PRIV_SIZE, UC_PROT_ALL, s->priv);
	if (r != UC_ERR_OK)
		return engine_fail(err, errlen, "uc_mem_map_ptr(private page)", r);
	s->hole[0] = (struct mmio_region){ s, low_end };
	s->hole[1] = (struct mmio_region){ s, PRIV_BASE + PRIV_SIZE };
	r = lib.mmio_map(s->uc, low_end, PRIV_BASE - low_end, on_mmio_read, &s->hole[0],
			on_mmio_write, &s->hole[0]);
	if (r == UC_ERR_OK)
		r = lib.mmio_map(s->uc, PRIV_BASE + PRIV_SIZE, HOLE_END - PRIV_BASE - PRIV_SIZE,
				on_mmio_read, &s->hole[1], on_mmio_write, &s->hole[1]);
	return r == UC_ERR_OK ? 0 : engine_fail(err, errlen, "uc_mmio_map(MMIO hole)", r);
}

static int add_hooks(struct soft *s, char *err, size_t errlen)
{
	uc_hook h;
	uc_err r = lib.hook_add(s->uc, &h, UC_HOOK_CODE, (void *)on_code, s, 1, 0);

	if (r == UC_ERR_OK)
		r = lib.hook_add(s->uc, &h, UC_HOOK_INSN, (void *)on_in, s, 1, 0, UC_X86_INS_IN);
	if (r == UC_ERR_OK)
		r = lib.hook_add(s->uc, &h, UC_HOOK_INSN, (void *)on_out, s, 1, 0, UC_X86_INS_OUT);
	if (r == UC_ERR_OK)
		r = lib.hook_add(s->uc, &h, UC_HOOK_INSN, (void *)on_cpuid, s, 1, 0,
				UC_X86_INS_CPUID);
	if (r == UC_ERR_OK)
		r = lib.hook_add(s->uc, &h, UC_HOOK_INTR, (void *)on_intr, s, 1, 0);
	if (r == UC_ERR_OK)
		r = lib.hook_add(s->uc, &h, UC_HOOK_INSN_INVALID, (void *)on_invalid, s, 1, 0);
	return r == UC_ERR_OK ? 0 : engine_fail(err, errlen, "uc_hook_add", r);
}

static int soft_create_vm(struct accel *a, const struct accel_vm_params *p, char *err,
			  size_t errlen)
{
	struct soft *s = to_soft(a);
	uc_err r = lib.open(UC_ARCH_X86, UC_MODE_64, &s->uc);

	if (r != UC_ERR_OK)
		return engine_fail(err, errlen, "uc_open(x86, 64-bit)", r);
	if (p->x2apic) {
		snprintf(err, errlen, "the software CPU has no x2APIC mode");
		return -1;
	}
	s->mem = p->mem;
	s->priv = calloc(1, PRIV_SIZE);
	if (!s->priv) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	build_private(s);
	if (map_memory(s, p->mem, err, errlen) < 0 || add_hooks(s, err, errlen) < 0)
		return -1;
	s->ctx_size = lib.context_size(s->uc);
	r = lib.context_alloc(s->uc, &s->pristine);
	if (r == UC_ERR_OK)
		r = lib.context_save(s->uc, s->pristine);
	return r == UC_ERR_OK ? 0 : engine_fail(err, errlen, "uc_context_save", r);
}

static int soft_create_vcpu(struct accel *a, uint32_t id, struct accel_vcpu **out, char *err,
			    size_t errlen)
{
	struct soft *s = to_soft(a);
	struct accel_vcpu **grown = realloc(s->vcpus, (s->nvcpus + 1) * sizeof(*grown));
	struct accel_vcpu *v = calloc(1, sizeof(*v));

	if (grown)
		s->vcpus = grown;
	if (!grown || !v || s->nvcpus >= SOFT_MAX_VCPUS) {
		free(v);
		snprintf(err, errlen, "cannot create software vCPU %u", id);
		return -1;
	}
	v->s = s;
	v->index = s->nvcpus;
	v->id = id;
	atomic_init(&v->kicked, false);
	pthread_cond_init(&v->cond, NULL);
	uc_err r = lib.context_alloc(s->uc, &v->ctx);
	if (r == UC_ERR_OK) /* every vCPU starts as the engine was opened */
		r = lib.context_save(s->uc, v->ctx);
	if (r != UC_ERR_OK) {
		pthread_cond_destroy(&v->cond);
		free(v);
		return engine_fail(err, errlen, "uc_context_alloc", r);
	}
	s->vcpus[s->nvcpus++] = v;
	*out = v;
	return 0;
}

static void soft_destroy_vcpu(struct accel_vcpu *v)
{
	if (!v)
		return;
	if (v->s->loaded == v)
		v->s->loaded = NULL;
	v->s->vcpus[v->index] = NULL;
	lib.context_free(v->ctx);
	pthread_cond_destroy(&v->cond);
	free(v->cpuid);
	free(v);
}

static void soft_destroy(struct accel *a)
{
	struct soft *s = to_soft(a);

	if (!s)
		return;
	if (s->pristine)
		lib.context_free(s->pristine);
	if (s->uc)
		lib.close(s->uc);
	free(s->priv);
	free(s->vcpus);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->engine);
	free(s);
}

static int soft_thread_init(struct accel_vcpu *v)
{
	(void)v;
	return 0;
}

static int soft_set_hooks(struct accel_vcpu *v, const struct accel_vcpu_hooks *h)
{
	v->hooks = *h;
	return 0;
}

static void soft_set_machine(struct accel *a, const struct accel_machine *m)
{
	to_soft(a)->m = *m;
}

static uint64_t soft_now_ns(struct accel *a)
{
	const struct accel_vcpu *r = tls_running;

	return atomic_load(&to_soft(a)->now) + (r ? r->executed - r->counted : 0);
}

static int soft_irq_line(struct accel *a, unsigned gsi, bool level)
{
	(void)a;
	(void)gsi;
	(void)level;
	errno = ENOTSUP; /* no PIC or I/O APIC of its own: the VM drives mpvmm's */
	return -1;
}

static int soft_send_ipi(struct accel *a, uint32_t dest, enum accel_ipi kind, uint8_t vector)
{
	(void)a;
	(void)dest;
	(void)kind;
	(void)vector;
	errno = ENOTSUP; /* the VM sends through its APIC bus (apic_bus_deliver) instead */
	return -1;
}

static int soft_get_mp_state(struct accel_vcpu *v, enum mp_state *st)
{
	(void)v;
	(void)st;
	errno = ENOTSUP; /* MP state is mp_user's */
	return -1;
}

static int soft_set_mp_state(struct accel_vcpu *v, enum mp_state st)
{
	(void)v;
	(void)st;
	errno = ENOTSUP;
	return -1;
}

static int soft_inject(struct accel_vcpu *v, uint8_t vector, bool soft_int)
{
	(void)soft_int;
	log_error("vCPU %u: exception %u cannot be delivered by the software CPU", v->index,
		  vector);
	errno = ENOTSUP;
	return -1;
}

static int soft_inject_error(struct accel_vcpu *v, uint8_t vector, uint32_t error_code)
{
	(void)error_code;
	return soft_inject(v, vector, false);
}

static int soft_get_fpu(struct accel_vcpu *v, struct x86_fpu *f)
{
	(void)v;
	memset(f, 0, sizeof(*f));
	errno = ENOTSUP; /* nothing is carried: Unicorn executes every instruction itself */
	return -1;
}

static int soft_set_fpu(struct accel_vcpu *v, const struct x86_fpu *f)
{
	(void)v;
	(void)f;
	errno = ENOTSUP;
	return -1;
}

/* Unicorn 2.0.1 uses virtual = physical after its page walk. */
static int soft_translate(struct accel_vcpu *v, uint64_t gva, uint64_t *gpa)
{
	(void)v;
	*gpa = gva;
	return 0;
}

/* ---- snapshots ------------------------------------------------------------------------------ */

/*
 * A vCPU is saved as its uc_context, byte for byte: Unicorn's copy of QEMU's CPUX86State up
 * to `retaddr` (uc.c, target/i386/unicorn.c in 2.0.1), which is what this file switches
 * between vCPUs anyway.  Registers read one by one (uc_reg_read) would lose what has no
 * register id: the hidden parts of the segment registers (base, limit, attributes loaded
 * from a descriptor that the guest may since have changed, as in every real-to-protected
 * mode trampoline), the FPU tag and status words, pending lazy flags (cc_op), hflags; a
 * context restores all of it exactly.  The cost: the bytes mean something only to the same
 * Unicorn, so a snapshot records uc_version() and uc_context_size() and a restore under
 * another one is refused.  The context's only host pointers are QEMU's hardware-breakpoint
 * handles (cpu_breakpoint[4]), used only while DR7 enables a breakpoint: a vCPU with one
 * enabled is refused on save and on load.  Like every snapshot section, the bytes are
 * protected by their CRC; they are not otherwise checked (a hand-made context is trusted as
 * far as Unicorn trusts its own).
 *
 * A vCPU is paused either between slices (its context is current; the engine is not needed,
 * which matters: the holder of the turn keeps the engine while parked) or, in step mode,
 * inside the exit of an OUT (on its own thread, within uc_emu_start).  Then the engine holds
 * its registers with RIP at the OUT (the code hook syncs it, as a linear address): the saved
 * RIP is the next instruction's, as if the OUT had completed, which it has for the guest
 * (the port was written).  A pause inside an IN, an OUTS or an MMIO access is refused: the
 * instruction's effects on registers are not complete.
 *
 * Soft's own guest-visible state goes with it: per VM the clock (instructions retired, which
 * the APIC timers run on), the turn (who holds it) and the seeded generator; per vCPU a
 * pending one-instruction slice (STI shadow) and, when paused inside an OUT, what is left
 * of its slice.  So a seeded run continues after a restore with the same choices and slice
 * lengths it would have made; what a restore cannot repeat is what was never a function of
 * the seed (a run without a seed, and host timing at the control API).
 * Load order: soft_load_vm (the clock) before the APIC models are loaded, since they place
 * their timers relative to it; soft_load_vcpu for every vCPU before its thread starts.
 */

#define SOFT_SNAP_VERSION 1u
#define DR7_ENABLES 0xffull /* L0-L3, G0-G3 (SDM Vol. 3B, 17.2.4) */
#define NO_TURN_SAVED UINT64_MAX
#define UC_CONTEXT_HEADER 16u /* uc_priv.h 2.0.1: size_t context_size; mode; arch */

#define snap_fail(err, errlen, ...) snap_refuse(err, errlen, "software CPU", __VA_ARGS__)

/* This library and context size, for the saved state to be read by the same. */
static void put_engine_id(struct soft *s, struct snap_enc *e)
{
	snap_enc_u32(e, SOFT_SNAP_VERSION);
	snap_enc_u32(e, lib.version(NULL, NULL));
	snap_enc_u64(e, s->ctx_size);
}

static int check_engine_id(struct soft *s, struct snap_dec *d, char *err, size_t errlen)
{
	uint32_t version = snap_dec_u32(d), uc = snap_dec_u32(d);
	uint64_t size = snap_dec_u64(d);

	if (d->bad)
		return snap_fail(err, errlen, "truncated");
	if (version != SOFT_SNAP_VERSION)
		return snap_fail(err, errlen, "version %u (this mpvmm reads %u)", version,
				 SOFT_SNAP_VERSION);
	if (uc != lib.version(NULL, NULL) || size != s->ctx_size)
		return snap_fail(err, errlen, "saved by Unicorn %#x with %llu-byte contexts; this "
				 "is Unicorn %#x with %zu-byte contexts", uc,
				 (unsigned long long)size, lib.version(NULL, NULL), s->ctx_size);
	return 0;
}

static bool breakpoints_enabled(uc_context *ctx)
{
	uint64_t dr7 = 0;

	lib.context_reg_read(ctx, UC_X86_REG_DR7, &dr7);
	return dr7 & DR7_ENABLES;
}

/* The OUT executing is OUT imm8 (E6/E7 ib) or OUT DX (EE/EF), not OUTS (6E/6F). */
static bool plain_out(struct accel_vcpu *v)
{
	const uint8_t *p = v->insn_size ? phys(v->s, v->insn_addr, v->insn_size) : NULL;

	if (!p)
		return false;
	uint8_t last = p[v->insn_size - 1];
	uint8_t before = v->insn_size > 1 ? p[v->insn_size - 2] : 0;
	return before == 0xe6 || before == 0xe7 || last == 0xee || last == 0xef;
}

/*
 * Paused inside an exit of its own slice (on this thread, the engine held): the engine's
 * state, with RIP past the OUT, in a new context; what is left of the slice.
 */
static uc_context *mid_exit_context(struct accel_vcpu *v, bool *resume, uint64_t *left,
				    char *err, size_t errlen)
{
	struct soft *s = v->s;
	uc_context *ctx = NULL;

	if (v->in_exit != IN_OUT || !plain_out(v)) {
		snap_fail(err, errlen, "vCPU %u is paused inside an IN, OUTS or MMIO access, "
			  "which cannot be completed for a snapshot", v->index);
		return NULL;
	}
	uc_err r = lib.context_alloc(s->uc, &ctx);
	if (r == UC_ERR_OK)
		r = lib.context_save(s->uc, ctx);
	uint64_t next = v->insn_addr + v->insn_size - cs_base(s);
	if (r == UC_ERR_OK)
		r = lib.context_reg_write(ctx, UC_X86_REG_RIP, &next);
	if (r != UC_ERR_OK) {
		snap_fail(err, errlen, "vCPU %u: %s", v->index, lib.strerror(r));
		if (ctx)
			lib.context_free(ctx);
		return NULL;
	}
	/* After an MMIO write the slice ends at this OUT (on_out): nothing is left of it. */
	*resume = !v->mmio_written;
	*left = *resume && v->budget > v->executed ? v->budget - v->executed : 0;
	return ctx;
}

static int soft_save_vcpu(struct accel_vcpu *v, struct snap_enc *e, char *err, size_t errlen)
{
	uc_context *mid = NULL, *ctx = v->ctx;
	bool resume = false;
	uint64_t left = 0;

	if (tls_running == v) {
		mid = mid_exit_context(v, &resume, &left, err, errlen);
		if (!mid)
			return -1;
		ctx = mid;
	}
	int r = 0;
	if (breakpoints_enabled(ctx)) {
		r = snap_fail(err, errlen, "vCPU %u has hardware breakpoints enabled (DR7), which "
			      "the software CPU cannot save", v->index);
	} else {
		put_engine_id(v->s, e);
		snap_enc_blob(e, ctx, v->s->ctx_size);
		snap_enc_u8(e, (uint8_t)(v->want_window | resume << 1));
		snap_enc_u64(e, left);
		if (e->oom)
			r = snap_fail(err, errlen, "out of memory");
	}
	if (mid)
		lib.context_free(mid);
	return r;
}

/* Copy a saved context into v's, if it is one for this engine and safe to load. */
static int take_context(struct accel_vcpu *v, const void *p, size_t n, char *err,
			size_t errlen)
{
	struct soft *s = v->s;
	uc_context *tmp = NULL;

	if (n != s->ctx_size || memcmp(p, v->ctx, UC_CONTEXT_HEADER) != 0)
		return snap_fail(err, errlen, "vCPU %u: the context is not one of this engine's",
				 v->index);
	uc_err r = lib.context_alloc(s->uc, &tmp);
	if (r != UC_ERR_OK)
		return snap_fail(err, errlen, "uc_context_alloc: %s", lib.strerror(r));
	memcpy(tmp, p, n);
	bool bad = breakpoints_enabled(tmp);
	if (!bad)
		memcpy(v->ctx, tmp, n);
	lib.context_free(tmp);
	if (bad)
		return snap_fail(err, errlen, "vCPU %u: hardware breakpoints are enabled (DR7)",
				 v->index);
	return 0;
}

static int soft_load_vcpu(struct accel_vcpu *v, struct snap_dec *d, char *err, size_t errlen)
{
	struct soft *s = v->s;
	size_t n = 0;
	bool took;

	if (check_engine_id(s, d, err, errlen) < 0)
		return -1;
	const void *p = snap_dec_blob(d, &n);
	uint8_t flags = snap_dec_u8(d);
	uint64_t left = snap_dec_u64(d);
	if (!p || !snap_dec_done(d) || (flags >> 2))
		return snap_fail(err, errlen, "vCPU %u: truncated or malformed", v->index);
	engine_lock(s, &took);
	int r = take_context(v, p, n, err, errlen);
	if (r == 0) {
		if (s->loaded == v)
			s->loaded = NULL; /* the engine holds what v was: load the new context */
		v->want_window = flags & 1;
		v->resume_slice = flags & 2;
		v->resume_left = left;
		v->start_armed = false;
	}
	engine_unlock(s, took);
	return r;
}

static int soft_save_vm(struct accel *a, struct snap_enc *e, char *err, size_t errlen)
{
	struct soft *s = to_soft(a);

	put_engine_id(s, e);
	pthread_mutex_lock(&s->lock);
	long turn = s->turn;
	pthread_mutex_unlock(&s->lock);
	snap_enc_u32(e, s->nvcpus);
	snap_enc_u8(e, s->seeded);
	snap_enc_u64(e, atomic_load(&s->now));
	snap_enc_u64(e, s->rng);
	snap_enc_u64(e, turn == NO_TURN ? NO_TURN_SAVED : (uint64_t)turn);
	return e->oom ? snap_fail(err, errlen, "out of memory") : 0;
}

static int soft_load_vm(struct accel *a, struct snap_dec *d, char *err, size_t errlen)
{
	struct soft *s = to_soft(a);

	if (check_engine_id(s, d, err, errlen) < 0)
		return -1;
	uint32_t n = snap_dec_u32(d);
	uint8_t seeded = snap_dec_u8(d);
	uint64_t now = snap_dec_u64(d), rng = snap_dec_u64(d), turn = snap_dec_u64(d);
	if (!snap_dec_done(d))
		return snap_fail(err, errlen, "truncated or malformed");
	if (n != s->nvcpus || seeded > 1 || (turn != NO_TURN_SAVED && turn >= n))
		return snap_fail(err, errlen, "%u vCPUs (this machine has %u), turn %lld", n,
				 s->nvcpus, turn == NO_TURN_SAVED ? -1ll : (long long)turn);
	if (seeded != s->seeded)
		return snap_fail(err, errlen, "the snapshot was taken %s --seed and this run is %s "
				 "one", seeded ? "with" : "without", s->seeded ? "with" : "without");
	if (seeded && !rng)
		return snap_fail(err, errlen, "the seeded generator's state is 0");
	atomic_store(&s->now, now);
	if (seeded)
		s->rng = rng;
	pthread_mutex_lock(&s->lock);
	s->turn = turn == NO_TURN_SAVED ? NO_TURN : (long)turn;
	s->turn_restored = s->turn != NO_TURN;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static const struct accel_ops soft_ops = {
	.name = "soft",
	.limits = soft_limits,
	.create_vm = soft_create_vm,
	.supported_cpuid = soft_supported_cpuid,
	.create_vcpu = soft_create_vcpu,
	.destroy = soft_destroy,
	.irq_line = soft_irq_line,
	.send_ipi = soft_send_ipi,
	.thread_init = soft_thread_init,
	.set_cpuid = soft_set_cpuid,
	.get_regs = soft_get_regs,
	.set_regs = soft_set_regs,
	.get_sregs = soft_get_sregs,
	.set_sregs = soft_set_sregs,
	.run = soft_run,
	.get_mp_state = soft_get_mp_state,
	.set_mp_state = soft_set_mp_state,
	.inject = soft_inject,
	.inject_error = soft_inject_error,
	.get_fpu = soft_get_fpu,
	.set_fpu = soft_set_fpu,
	.translate = soft_translate,
	.kick = soft_kick,
	.destroy_vcpu = soft_destroy_vcpu,
	.set_machine = soft_set_machine,
	.now_ns = soft_now_ns,
	.set_hooks = soft_set_hooks,
	.interrupt_window = soft_interrupt_window,
	.interrupt = soft_interrupt,
	.idle = soft_idle,
	.save_vcpu = soft_save_vcpu,
	.load_vcpu = soft_load_vcpu,
	.save_vm = soft_save_vm,
	.load_vm = soft_load_vm,
};

struct accel *accel_soft_open(bool seeded, uint64_t seed, char *err, size_t errlen)
{
	char why[256];
	struct soft *s;

	if (dlib_load(UNICORN_SONAME, lib_syms, sizeof(lib_syms) / sizeof(lib_syms[0]), why,
		      sizeof(why)) < 0) {
		snprintf(err, errlen, "the software CPU needs Unicorn 2 (Debian: libunicorn2): %s",
			 why);
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base.ops = &soft_ops;
	s->base.lapic_timer_hz = 1000000000ull; /* the guest clock: 1 ns per instruction */
	s->base.emulates = false;
	s->base.user_mp = true;
	s->base.user_irqchip = true; /* no PIC, I/O APIC or PIT of its own: mpvmm's */
	s->base.identity_only = true;
	s->base.no_msr_exits = true;
	s->base.max_xapic_cpus = 255; /* xAPIC IDs 0-254; 0xFF is the broadcast (SDM 10.6.2.1) */
	s->turn = NO_TURN;
	s->seeded = seeded;
	s->rng = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull; /* never 0 for xorshift */
	if (!s->rng)
		s->rng = 1;
	atomic_init(&s->now, 0);
	pthread_mutex_init(&s->engine, NULL);
	pthread_mutex_init(&s->lock, NULL);
	return &s->base;
}
