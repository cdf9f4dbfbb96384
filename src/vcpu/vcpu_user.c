/*
 * vcpu_user.c - see vcpu_user.h.  The state machine is mp_user's (Intel SDM Vol. 3A 8.4) and
 * the interrupt logic the APICs' (SDM 10.8); this file only decides, on the vCPU's thread,
 * when each of their answers reaches the accelerator.  It must not know how the accelerator
 * runs guest code, nor the APIC registers.
 */
#include "vcpu/vcpu_user.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "vcpu/vcpu.h"

static void fault(struct vcpu *v, int status, const char *what)
{
	char why[200];

	snprintf(why, sizeof(why), "vCPU %u (APIC ID %u): %s", v->index, v->apic_id, what);
	vm_control_stop(&v->env->ctl, status, why);
}

/*
 * A latched start is loaded only now that the vCPU runs (the accelerator calls `enter` at
 * its turn), so its MP state reads SIPI_RECEIVED until then: mp_user_take_sipi moves it to
 * RUNNABLE and gives the register state of table 9-1.
 */
static bool take_start(struct vcpu *v)
{
	const struct accel_ops *ops = v->env->ops;
	struct x86_regs r;
	struct x86_sregs s;

	if (mp_user_take_sipi(v->env->user->mp, v->index, &r, &s) == MP_USER_START_NONE)
		return true;
	/* set_sregs first: the software CPU prepares a real-mode start there. */
	if (ops->set_sregs(v->av, &s) < 0 || ops->set_regs(v->av, &r) < 0) {
		fault(v, VCPU_STATUS_VMM_ERROR, "cannot load the start state of its SIPI");
		return false;
	}
	return true;
}

/*
 * An NMI first (SDM 6.9: it outranks maskable interrupts); then the 8259A's ExtINT through
 * LINT0, which the APIC's priorities do not hold back (SDM 10.5.1: the vector comes from the
 * INTA, as KVM gives it precedence); else the APIC's highest vector.
 */
static bool inject(struct vcpu *v)
{
	const struct accel_ops *ops = v->env->ops;
	const struct vcpu_user *u = v->env->user;
	struct apic_bus *b = u->apics;
	int vector = -1;
	bool nmi = apic_bus_take_nmi(b, v->index);

	if (!nmi) {
		bool extint = u->ic && apic_bus_extint(b, v->index);
		if ((!extint && apic_bus_pending(b, v->index) < 0) ||
		    !ops->interrupt_window(v->av, true))
			return true;
		vector = extint ? chipset_ack(u->ic) : apic_bus_take_interrupt(b, v->index);
		if (vector < 0)
			return true;
	}
	if (ops->interrupt(v->av, (uint8_t)(nmi ? 2 : vector), nmi) == 0)
		return true;
	fault(v, VCPU_STATUS_GUEST_FAULT, "an interrupt cannot be delivered through its IDT");
	return false;
}

static bool on_enter(void *ctx)
{
	struct vcpu *v = ctx;

	if (!take_start(v))
		return false;
	if (mp_user_state(v->env->user->mp, v->index) != MP_STATE_RUNNABLE)
		return false;
	return inject(v);
}

/* Port I/O and MMIO that the accelerator completes inside run(). */
static void on_exit(void *ctx, const struct accel_exit *e)
{
	vcpu_exit(ctx, e);
}

int vcpu_user_thread_init(struct vcpu *v)
{
	const struct accel_vcpu_hooks h = { .enter = on_enter, .exit = on_exit, .ctx = v };

	return v->env->ops->set_hooks(v->av, &h);
}

/* HLT: HALTED, unless an NMI or (IF = 1) an interrupt would wake it at once (SDM 8.4, 6.8). */
static void halt(struct vcpu *v)
{
	struct x86_regs r;

	if (v->env->ops->get_regs(v->av, &r) < 0) {
		fault(v, VCPU_STATUS_VMM_ERROR, "cannot read its registers after HLT");
		return;
	}
	mp_user_halt(v->env->user->mp, v->index, r.rflags & X86_RFLAGS_IF);
}

void vcpu_user_run(struct vcpu *v)
{
	const struct accel_ops *ops = v->env->ops;
	struct mp_user *mp = v->env->user->mp;
	struct accel_exit e;
	enum mp_user_run r = mp_user_poll(mp, v->index);

	if (r == MP_USER_BLOCKED) {
		ops->idle(v->av);
		r = mp_user_wait_runnable(mp, v->index, NULL);
	}
	if (r != MP_USER_RUN && r != MP_USER_START)
		return; /* kicked (a request, the gate), or stopped: the loop looks */
	if (ops->run(v->av, &e) < 0) {
		char why[160];
		snprintf(why, sizeof(why), "cannot run: %s", strerror(errno));
		fault(v, VCPU_STATUS_VMM_ERROR, why);
		return;
	}
	vcpu_exit(v, &e);
	if (e.kind == ACCEL_EXIT_HLT)
		halt(v);
}

/*
 * IA32_APIC_BASE and the x2APIC MSRs go to the vCPU's APIC model; the accelerator also hands
 * over MSRs it refused itself, which stay refused (SDM Vol. 3A, 10.12.1.2: x2APIC MSRs #GP
 * outside x2APIC mode; the APIC model says so as LAPIC_GP).
 */
void vcpu_user_msr(struct vcpu *v, const struct accel_exit *e)
{
	struct apic_bus *b = v->env->user->apics;
	int r;

	if (e->kind == ACCEL_EXIT_RDMSR)
		r = apic_bus_msr_read(b, v->index, e->msr.index, e->msr.data);
	else
		r = apic_bus_msr_write(b, v->index, e->msr.index, *e->msr.data);
	*e->msr.error = r != LAPIC_OK;
}

void vcpu_user_kick(struct vcpu *v)
{
	mp_user_kick(v->env->user->mp, v->index);
}

void vcpu_user_thread_exit(struct vcpu *v)
{
	v->env->ops->idle(v->av);
}

/* ---- the scheduler's view ----------------------------------------------------------------- */

static enum accel_runnable runnable(void *ctx, uint32_t index)
{
	struct vcpu_user *u = ctx;

	switch (mp_user_state(u->mp, index)) {
	case MP_STATE_SIPI_RECEIVED:
		return ACCEL_STARTING;
	case MP_STATE_RUNNABLE:
		return ACCEL_RUNNABLE;
	default:
		return ACCEL_BLOCKED;
	}
}

static uint64_t next_event(void *ctx)
{
	struct vcpu_user *u = ctx;
	uint64_t t = apic_bus_next_deadline(u->apics);

	return t == LAPIC_TIMER_NONE ? ACCEL_NO_EVENT : t;
}

/* Timers due; and an AP left in INIT_RECEIVED too long is a guest mistake worth a line. */
static void advance(void *ctx, uint64_t now_ns)
{
	struct vcpu_user *u = ctx;

	if (apic_bus_next_deadline(u->apics) <= now_ns)
		apic_bus_fire_timers(u->apics, now_ns);
	mp_user_tick(u->mp, now_ns);
}

void vcpu_user_machine(struct vcpu_user *u, struct accel_machine *m)
{
	*m = (struct accel_machine){ .runnable = runnable, .next_event = next_event,
				     .advance = advance, .ctx = u };
}
