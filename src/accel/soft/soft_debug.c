/*
 * soft_debug.c - a debugger's requests on the software CPU (accel_cpu_ops.set_debug), all
 * checked in the code hook before each instruction (soft_run.c's on_code): a single step
 * stops before the second instruction of a run, an INT3 byte (0xCC) before it executes
 * (so guest memory needs no other change), an execution breakpoint at its linear address.
 * A watchpoint is a Unicorn memory hook on its range, installed only while it exists (a
 * memory hook slows every access): the access is noted and the vCPU stops before its next
 * instruction, as a data breakpoint's trap does.
 *
 * A vCPU stepped while another holds the turn borrows the turn for that one step and gives
 * it back (soft_run.c), so the seeded schedule goes on as if the step had not happened.
 * Knows no debugger protocol.
 */
#include "accel/soft/soft_internal.h"

#include <errno.h>
#include <stdio.h>

/* A watched range was accessed by the vCPU executing: noted for the code hook. */
static void on_watch(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value,
		     void *ud)
{
	struct accel_vcpu *v = soft_running;

	(void)uc;
	(void)value;
	(void)ud;
	for (uint32_t i = 0; v && i < v->dbg.nbp; i++) {
		const __typeof__(v->dbg.bp[0]) *b = &v->dbg.bp[i];
		bool kind = b->kind == ACCEL_BP_ACCESS || (b->kind == ACCEL_BP_WRITE &&
							   type == UC_MEM_WRITE);
		if (b->kind != ACCEL_BP_EXEC && kind && addr < b->addr + b->len &&
		    b->addr < addr + (uint64_t)size) {
			v->dbg_watch = true;
			v->dbg_watch_addr = b->addr;
			return;
		}
	}
}

/* The engine's memory hooks: one per watchpoint of d (every vCPU is asked the same). */
static int watch_hooks(struct soft *s, const struct accel_debug *d, char *err, size_t errlen)
{
	while (s->nwatch_hooks)
		unicorn.hook_del(s->uc, s->watch_hooks[--s->nwatch_hooks]);
	for (uint32_t i = 0; i < d->nbp; i++) {
		if (d->bp[i].kind == ACCEL_BP_EXEC)
			continue;
		int type = d->bp[i].kind == ACCEL_BP_WRITE ? UC_HOOK_MEM_WRITE :
			   UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE;
		uc_err r = unicorn.hook_add(s->uc, &s->watch_hooks[s->nwatch_hooks], type,
					    (void *)on_watch, s, d->bp[i].addr,
					    d->bp[i].addr + d->bp[i].len - 1);
		if (r != UC_ERR_OK)
			return soft_engine_fail(err, errlen, "uc_hook_add", r);
		s->nwatch_hooks++;
	}
	return 0;
}

int soft_set_debug(struct accel_vcpu *v, const struct accel_debug *d, char *err, size_t errlen)
{
	struct soft *s = v->s;
	bool took;

	if (d->nbp > ACCEL_DEBUG_BPS) {
		snprintf(err, errlen, "at most %u breakpoints by address", ACCEL_DEBUG_BPS);
		errno = EINVAL;
		return -1;
	}
	soft_engine_lock(s, &took);
	v->dbg = *d;
	v->dbg_on = d->step || d->sw_int3 || d->nbp;
	v->dbg_watch = false;
	int r = watch_hooks(s, d, err, errlen);
	/* Memory may hold INT3 bytes written or taken out since: translate it again. */
	unicorn.ctl(s->uc, UC_CTL_WRITE(UC_CTL_TB_FLUSH, 0));
	soft_engine_unlock(s, took);
	return r;
}

static bool is_int3(struct soft *s, uint64_t addr)
{
	const uint8_t *p = soft_phys(s, addr, 1);

	return p && *p == 0xcc;
}

static bool exec_bp(const struct accel_vcpu *v, uint64_t addr)
{
	for (uint32_t i = 0; i < v->dbg.nbp; i++)
		if (v->dbg.bp[i].kind == ACCEL_BP_EXEC && v->dbg.bp[i].addr == addr)
			return true;
	return false;
}

/*
 * In the code hook, before the instruction at `addr` (linear): whether to stop for the
 * debugger, and why.  The first instruction of a run after a debug stop is not stopped
 * at again (it is where the debugger resumes, as RF does for a debug register).
 */
bool soft_debug_check(struct accel_vcpu *v, uint64_t addr)
{
	bool first = v->dbg_resume;

	v->dbg_resume = false;
	if (v->dbg_watch) {
		v->dbg_watch = false;
		v->dbg_cause = ACCEL_DEBUG_WATCH;
	} else if (v->dbg.step && v->executed >= 1) {
		v->dbg_cause = ACCEL_DEBUG_STEP;
	} else if (first && addr == v->dbg_pc) {
		return false;
	} else if (v->dbg.sw_int3 && is_int3(v->s, addr)) {
		v->dbg_cause = ACCEL_DEBUG_SW_BP;
	} else if (exec_bp(v, addr)) {
		v->dbg_cause = ACCEL_DEBUG_HW_BP;
	} else {
		return false;
	}
	v->dbg_hit = true;
	v->dbg_pc = addr;
	return true;
}

/*
 * A step of a vCPU that does not hold the turn (all-stop: the holder is parked): take it
 * for that one step.  True if v now holds the engine on loan (soft_debug_return).
 */
bool soft_debug_borrow(struct accel_vcpu *v)
{
	struct soft *s = v->s;

	if (!v->dbg.step || soft_holds_engine)
		return false;
	pthread_mutex_lock(&s->lock);
	v->dbg_lent = s->turn;
	s->turn = v->index;
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_lock(&s->engine);
	soft_holds_engine = true;
	return true;
}

void soft_debug_return(struct accel_vcpu *v)
{
	struct soft *s = v->s;

	soft_holds_engine = false;
	pthread_mutex_unlock(&s->engine);
	pthread_mutex_lock(&s->lock);
	s->turn = v->dbg_lent;
	pthread_mutex_unlock(&s->lock);
}
