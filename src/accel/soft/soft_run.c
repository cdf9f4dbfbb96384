/*
 * soft_run.c - the software CPU's engine and turn, and a vCPU's slice on it: who holds the
 * engine, who runs next (soft.c says how turns are chosen, seeded or not), the Unicorn hooks
 * that turn port I/O, MMIO, CPUID and exceptions into exits, and run/idle/kick of the CPU
 * engine interface.  Registers are soft_regs.c's.
 */
#include "accel/soft/soft_internal.h"

#include <string.h>

__thread bool soft_holds_engine;
__thread struct accel_vcpu *soft_running;

/* ---- the engine and the turn ------------------------------------------------------------- */

void soft_engine_lock(struct soft *s, bool *took)
{
	*took = !soft_holds_engine;
	if (*took) {
		pthread_mutex_lock(&s->engine);
		soft_holds_engine = true;
	}
}

void soft_engine_unlock(struct soft *s, bool took)
{
	if (took) {
		soft_holds_engine = false;
		pthread_mutex_unlock(&s->engine);
	}
}

/* Put v's registers in the engine (the engine's are saved whenever they change). */
void soft_ctx_load(struct accel_vcpu *v)
{
	struct soft *s = v->s;

	if (s->loaded != v) {
		unicorn.context_restore(s->uc, v->ctx);
		s->loaded = v;
	}
}

void soft_ctx_save(struct accel_vcpu *v)
{
	unicorn.context_save(v->s->uc, v->ctx);
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

	if (soft_holds_engine)
		return;
	pthread_mutex_lock(&s->lock);
	bool mine = s->turn_restored && s->turn == (long)v->index;
	if (mine)
		s->turn_restored = false;
	pthread_mutex_unlock(&s->lock);
	if (mine) {
		pthread_mutex_lock(&s->engine);
		soft_holds_engine = true;
	}
}

/* End v's turn (if it holds it): choose the next holder and wake it. */
static void give_turn(struct accel_vcpu *v, bool keep_if_chosen, bool *kept)
{
	struct soft *s = v->s;

	*kept = false;
	claim_restored_turn(v);
	v->resume_slice = false; /* idle before the restored slice went on: it ends here */
	if (!soft_holds_engine)
		return;
	long next = s->m.runnable ? pick(s, v->index) : NO_TURN;
	if (keep_if_chosen && next == (long)v->index) {
		*kept = true;
		return;
	}
	soft_holds_engine = false;
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
		soft_holds_engine = true;
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
	const uint8_t *p = size == 2 ? soft_phys(s, addr, 2) : NULL;

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
	struct accel_vcpu *v = soft_running;

	(void)ud;
	if (addr - PRIV_BASE < PRIV_SIZE)
		return;
	v->insn_addr = addr;
	v->insn_size = size;
	if (v->dbg_on && soft_debug_check(v, addr)) {
		v->stopped = true;
		v->stop_addr = addr;
		unicorn.emu_stop(uc);
		return;
	}
	uint64_t limit = v->budget + (v->mmio_written ? POST_MMIO_MAX : 0);
	if (v->io_stop || v->executed >= limit ||
	    (v->executed >= PAUSE_SLICE_MIN && is_pause(v->s, addr, size))) {
		v->stopped = true;
		v->stop_addr = addr;
		unicorn.emu_stop(uc);
		return;
	}
	v->executed++;
}

static uint32_t on_in(uc_engine *uc, uint32_t port, int size, void *ud)
{
	struct accel_vcpu *v = soft_running;
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
	struct accel_vcpu *v = soft_running;
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

uint64_t soft_mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *ud)
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
	deliver(soft_running, &e);
	memcpy(&value, data, e.mmio.len);
	return value;
}

void soft_mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *ud)
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
	soft_running->mmio_written = true;
	deliver(soft_running, &e);
}

/* CPUID: the vCPU's table (leaves not in it read 0), as KVM_SET_CPUID2 gives it under KVM. */
static int on_cpuid(uc_engine *uc, void *ud)
{
	struct soft *s = ud;
	const struct accel_vcpu *v = soft_running;
	uint32_t leaf = (uint32_t)soft_reg(s, UC_X86_REG_EAX), sub = (uint32_t)soft_reg(s, UC_X86_REG_ECX);
	const struct cpuid_entry *e = v->cpuid ? cpuid_find(v->cpuid, leaf, sub) : NULL;

	(void)uc;
	soft_set_reg(s, UC_X86_REG_RAX, e ? e->eax : 0);
	soft_set_reg(s, UC_X86_REG_RBX, e ? e->ebx : 0);
	soft_set_reg(s, UC_X86_REG_RCX, e ? e->ecx : 0);
	soft_set_reg(s, UC_X86_REG_RDX, e ? e->edx : 0);
	return 1; /* skip the engine's own CPUID */
}

/* Exceptions and INT n arrive here with their vector and are not delivered: stop. */
static void on_intr(uc_engine *uc, uint32_t intno, void *ud)
{
	(void)ud;
	soft_running->exc_vector = (int)intno;
	unicorn.emu_stop(uc);
}

static bool on_invalid(uc_engine *uc, void *ud)
{
	(void)uc;
	(void)ud;
	soft_running->exc_vector = 6; /* #UD */
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
	uint64_t rip = soft_reg(s, UC_X86_REG_RIP);
	const uint8_t *prev;

	if (v->exc_vector >= 0 || err != UC_ERR_OK) {
		e->kind = ACCEL_EXIT_EXCEPTION;
		e->exception.vector = v->exc_vector >= 0 ? v->exc_vector :
				      err == UC_ERR_INSN_INVALID ? 6 : -1;
		e->exception.rip = rip;
		e->exception.what = v->exc_vector >= 0 ? "an exception or INT n" : unicorn.strerror(err);
		return;
	}
	if (v->dbg_hit) {
		e->kind = ACCEL_EXIT_DEBUG;
		e->debug.cause = v->dbg_cause;
		e->debug.pc = v->dbg_pc;
		e->debug.addr = v->dbg_watch_addr;
		v->dbg_hit = false;
		v->dbg_resume = true;
		return;
	}
	if (v->stopped) {
		e->kind = ACCEL_EXIT_INTERRUPTED;
		return;
	}
	prev = soft_phys(s, soft_cs_base(s) + rip - 1, 1);
	e->kind = prev && *prev == OPCODE_HLT ? ACCEL_EXIT_HLT : ACCEL_EXIT_INTERRUPTED;
}

static void run_slice(struct accel_vcpu *v, struct accel_exit *e)
{
	struct soft *s = v->s;

	soft_ctx_load(v);
	v->budget = v->resume_slice ? v->resume_left : slice_length(v);
	v->resume_slice = false;
	v->executed = v->counted = 0;
	v->mmio_written = v->io_stop = v->stopped = false;
	v->exc_vector = -1;
	v->dbg_hit = false;
	soft_running = v;
	uc_err err = unicorn.emu_start(s->uc, soft_reg(s, UC_X86_REG_RIP), UINT64_MAX, 0, 0);
	soft_running = NULL;
	/* A code-hook stop leaves RIP = CS.base + IP (measured in real mode): make it IP. */
	if (v->stopped && err == UC_ERR_OK) {
		uint64_t base = soft_cs_base(s);
		if (base && soft_reg(s, UC_X86_REG_RIP) == v->stop_addr)
			soft_set_reg(s, UC_X86_REG_RIP, v->stop_addr - base);
	}
	soft_ctx_save(v);
	atomic_fetch_add(&s->now, v->executed - v->counted);
	classify(v, err, e);
}

int soft_run(struct accel_vcpu *v, struct accel_exit *e)
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
		if (soft_holds_engine) {
			run_slice(v, e);
			return 0;
		}
		v->resume_slice = false;
	}
	/* A debugger's step runs on the turn v holds or borrows: it chooses no next holder. */
	bool borrowed = soft_debug_borrow(v);
	if (!borrowed && !(v->dbg.step && soft_holds_engine)) {
		give_turn(v, true, &kept);
		if (!kept && !take_turn(v))
			return 0;
	}
	if (!v->hooks.enter || v->hooks.enter(v->hooks.ctx))
		run_slice(v, e);
	if (borrowed)
		soft_debug_return(v);
	return 0;
}

void soft_idle(struct accel_vcpu *v)
{
	bool kept;

	give_turn(v, false, &kept);
}

/*
 * Parked at the pause gate between two slices: the engine is let go (v's registers are in
 * its context, saved at the end of every slice), so that the other vCPUs' registers can be
 * read on their threads; the turn stays v's, and it takes the engine back on leaving.
 */
void soft_parked(struct accel_vcpu *v, bool parked)
{
	struct soft *s = v->s;

	if (parked && soft_holds_engine) {
		v->parked_holding = true;
		soft_holds_engine = false;
		pthread_mutex_unlock(&s->engine);
	} else if (!parked && v->parked_holding) {
		v->parked_holding = false;
		pthread_mutex_lock(&s->engine);
		soft_holds_engine = true;
	}
}

void soft_kick(struct accel_vcpu *v)
{
	struct soft *s = v->s;

	atomic_store(&v->kicked, true);
	pthread_mutex_lock(&s->lock);
	pthread_cond_signal(&v->cond);
	pthread_mutex_unlock(&s->lock);
}


int soft_add_hooks(struct soft *s, char *err, size_t errlen)
{
	uc_hook h;
	uc_err r = unicorn.hook_add(s->uc, &h, UC_HOOK_CODE, (void *)on_code, s, 1, 0);

	if (r == UC_ERR_OK)
		r = unicorn.hook_add(s->uc, &h, UC_HOOK_INSN, (void *)on_in, s, 1, 0, UC_X86_INS_IN);
	if (r == UC_ERR_OK)
		r = unicorn.hook_add(s->uc, &h, UC_HOOK_INSN, (void *)on_out, s, 1, 0, UC_X86_INS_OUT);
	if (r == UC_ERR_OK)
		r = unicorn.hook_add(s->uc, &h, UC_HOOK_INSN, (void *)on_cpuid, s, 1, 0,
				UC_X86_INS_CPUID);
	if (r == UC_ERR_OK)
		r = unicorn.hook_add(s->uc, &h, UC_HOOK_INTR, (void *)on_intr, s, 1, 0);
	if (r == UC_ERR_OK)
		r = unicorn.hook_add(s->uc, &h, UC_HOOK_INSN_INVALID, (void *)on_invalid, s, 1, 0);
	return r == UC_ERR_OK ? 0 : soft_engine_fail(err, errlen, "uc_hook_add", r);
}
