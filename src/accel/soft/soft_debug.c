/*
 * soft_debug.c - a debugger's requests on the software CPU (accel_cpu_ops.set_debug), all
 * checked in the code hook before each instruction (soft_run.c's on_code): a single step
 * stops before the second instruction of a run, an INT3 byte (0xCC) before it executes
 * (so guest memory needs no other change), an execution breakpoint at its linear address.
 * No watchpoints: Unicorn's memory hooks would slow every access of every run.
 *
 * A vCPU stepped while another holds the turn borrows the turn for that one step and gives
 * it back (soft_run.c), so the seeded schedule goes on as if the step had not happened.
 * Knows no debugger protocol.
 */
#include "accel/soft/soft_internal.h"

#include <errno.h>
#include <stdio.h>

int soft_set_debug(struct accel_vcpu *v, const struct accel_debug *d, char *err, size_t errlen)
{
	struct soft *s = v->s;
	bool took;

	for (uint32_t i = 0; i < d->nbp; i++) {
		if (i >= ACCEL_DEBUG_BPS || d->bp[i].kind != ACCEL_BP_EXEC) {
			snprintf(err, errlen, "the software CPU has no watchpoints");
			errno = ENOTSUP;
			return -1;
		}
	}
	soft_engine_lock(s, &took);
	v->dbg = *d;
	v->dbg_on = d->step || d->sw_int3 || d->nbp;
	/* Memory may hold INT3 bytes written or taken out since: translate it again. */
	unicorn.ctl(s->uc, UC_CTL_WRITE(UC_CTL_TB_FLUSH, 0));
	soft_engine_unlock(s, took);
	return 0;
}

static bool is_int3(struct soft *s, uint64_t addr)
{
	const uint8_t *p = soft_phys(s, addr, 1);

	return p && *p == 0xcc;
}

static bool exec_bp(const struct accel_vcpu *v, uint64_t addr)
{
	for (uint32_t i = 0; i < v->dbg.nbp; i++)
		if (v->dbg.bp[i].addr == addr)
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
	if (v->dbg.step && v->executed >= 1) {
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
