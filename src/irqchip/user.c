/*
 * user.c - --irqchip user, and the software CPU's only mode: every interrupt controller is
 * mpvmm's.  The MP state machine (mp/mp_user.h, Intel SDM Vol. 3A 8.4) and the local APICs
 * (mp/apic_bus.h, SDM chapter 10) see every INIT, SIPI and IPI exactly; the PIC pair, I/O
 * APIC and PIT are dev/chipset's, its messages and INTR delivered on mpvmm's APIC bus.
 *
 * On a vCPU's thread this file decides when each of their answers reaches the accelerator:
 * it waits while the vCPU cannot run, loads a latched start (SIPI) when it runs, injects
 * NMIs and interrupts, feeds HLT to the state machine and the APIC's MSRs to the APICs.  The
 * accelerator schedules or times the machine through struct accel_machine.  It must not
 * know how the accelerator runs guest code, nor the APIC registers.
 */
#include "irqchip/irqchip_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp/apic_bus.h"
#include "mp/lapic.h"
#include "mp/mp_user.h"
#include "mpvmm/selftest_abi.h"
#include "util/log.h"

/* Step mode: how long a step waits for a released AP to take its start. */
#define STEP_RELEASE_WAIT_NS 1000000000ull
/*
 * An AP in INIT_RECEIVED this long without a SIPI is worth a warning.  The SDM's example
 * waits 10 ms between INIT and SIPI (8.4.4.1); the checks come with the timer passes (at
 * least every 50 ms on KVM).
 */
#define SIPI_TIMEOUT_NS 500000000ull
/* Snapshot sections: SNAP_SEC_MP_USER instances. */
enum { SNAP_MP_STATE = 0, SNAP_APICS = 1 };
/* xAPIC IDs 0-254; 0xFF is the broadcast (SDM 10.6.2.1). */
#define XAPIC_CPUS 255u

struct user_chip {
	struct irqchip base;
	struct accel *accel;
	struct vm_control ctl;
	struct mp_user *mp_user;
	struct apic_bus *apics;
	struct chipset *chipset;
	struct accel_vcpu **vcpus;
	uint32_t n;
};

static struct user_chip *of(struct irqchip *ic)
{
	return (struct user_chip *)ic;
}

static void fault(struct user_chip *u, uint32_t cpu, int status, const char *what)
{
	char why[200];

	snprintf(why, sizeof(why), "vCPU %u (APIC ID %u): %s", cpu,
		 mp_cpu(u->base.mp, cpu)->apic_id, what);
	vm_control_stop(&u->ctl, status, why);
}

/* A timer of the APICs may have moved (a register or MSR written, a state loaded). */
static void timers_changed(struct user_chip *u)
{
	if (u->accel->vm->timers_changed)
		u->accel->vm->timers_changed(u->accel);
}

/* ---- what this mode asks of the accelerator and the guest's CPUID ------------------------ */

/*
 * Without MSR exits mpvmm's APICs cannot see the x2APIC MSRs: xAPIC only, so APIC IDs
 * below 255 (SDM 10.6.2.1) and no x2APIC mode.
 */
static int user_check(const struct accel_caps *caps, const struct irqchip_need *need, char *err,
		      size_t errlen)
{
	if (caps->msr_exits)
		return 0;
	if (need->cpus > XAPIC_CPUS || need->top_apic_id >= XAPIC_CPUS || need->x2apic) {
		snprintf(err, errlen, "--cpus %u%s: mpvmm's local APICs on %s are xAPIC only (%s "
			 "cannot hand it the x2APIC MSRs): at most %u vCPUs with APIC IDs below %u, "
			 "and this topology needs APIC ID %u", need->cpus,
			 need->x2apic ? " --x2apic" : "", caps->what, caps->what, XAPIC_CPUS,
			 XAPIC_CPUS, need->top_apic_id);
		return -1;
	}
	return 0;
}

static void user_fit_platform(struct platform *p)
{
	p->ioapic_version = PLATFORM_IOAPIC_VERSION_MPVMM;
}

/*
 * Where RDMSR cannot be trapped (the software CPU), IA32_APIC_BASE reads 0 in the guest; the
 * value the APIC model holds is offered in mpvmm's CPUID leaf SELFTEST_CPUID_APIC_BASE (EAX
 * low half, EDX high half), which the self-test reads when its boot information says so.
 * It is the reset value (SDM 10.4.4): the guest cannot change it without WRMSR.
 */
static void offer_apic_base(struct cpuid_table *t, const struct cpu_desc *c)
{
	uint64_t base = LAPIC_DEFAULT_BASE | LAPIC_BASE_EN | (c->bsp ? LAPIC_BASE_BSP : 0);

	for (size_t i = 0; i < t->n; i++) {
		if (t->e[i].function != SELFTEST_CPUID_APIC_BASE)
			continue;
		t->e[i].eax = (uint32_t)base;
		t->e[i].edx = (uint32_t)(base >> 32);
	}
}

/*
 * What mpvmm's APICs can give: x2APIC (CPUID.01H:ECX[21], SDM 10.12.1) only where the
 * accelerator hands them its MSRs; the TSC-deadline mode (ECX[24], SDM 10.5.4.1) only where
 * they also see IA32_TSC_DEADLINE and know the guest TSC's rate.
 */
static void user_fit_cpuid(const struct accel_caps *caps, const struct cpu_desc *c,
			   struct cpuid_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->e[i].function != 1)
			continue;
		if (!caps->msr_exits)
			t->e[i].ecx &= ~(1u << 21);
		if (!caps->msr_exits || !caps->tsc_hz)
			t->e[i].ecx &= ~(1u << 24);
	}
	if (!caps->apic_base_msr)
		offer_apic_base(t, c);
}

/* ---- the machine's parts ------------------------------------------------------------------- */

static uint64_t clock_now(void *ctx)
{
	struct accel *a = ctx;

	return a->vm->now_ns(a);
}

/* mp_user: cpu's MP state changed or an interrupt came: make it leave run() to look. */
static void kick_engine(void *ctx, uint32_t cpu)
{
	struct user_chip *u = ctx;

	if (cpu < u->n && u->vcpus[cpu])
		u->accel->cpu->kick(u->vcpus[cpu]);
}

/* A local APIC's EOI of a level-triggered interrupt, broadcast to the I/O APIC. */
static void apic_eoi(void *ctx, uint8_t vector)
{
	struct user_chip *u = ctx;

	if (u->chipset)
		chipset_eoi(u->chipset, vector);
}

/*
 * A vCPU's TSC, for a TSC deadline it has just written (its thread) or a loaded snapshot's
 * (VM not running).  If it cannot be read, the deadline is taken as passed: an early timer
 * interrupt, which a guest checks against its clock, rather than one that never comes.
 */
static uint64_t guest_tsc(void *ctx, uint32_t cpu)
{
	struct user_chip *u = ctx;
	uint64_t tsc;

	if (cpu < u->n && u->vcpus[cpu] && u->accel->cpu->guest_tsc &&
	    u->accel->cpu->guest_tsc(u->vcpus[cpu], &tsc) == 0)
		return tsc;
	log_error("vCPU %u: cannot read its TSC for a TSC deadline: %s", cpu, strerror(errno));
	return UINT64_MAX;
}

/* The local APIC page: each vCPU's access goes to its own APIC. */
static void lapic_mmio(void *ctx, const struct bus_access *a)
{
	struct user_chip *u = ctx;
	uint32_t v = 0;

	if (a->write) {
		for (uint32_t i = 0; i < a->size && i < 4; i++)
			v |= (uint32_t)a->data[i] << (8 * i);
		apic_bus_mmio_write(u->apics, a->cpu, a->addr, a->size, v);
		timers_changed(u);
		return;
	}
	if (apic_bus_mmio_read(u->apics, a->cpu, a->addr, a->size, &v) != LAPIC_OK)
		v = UINT32_MAX;
	for (uint32_t i = 0; i < a->size; i++)
		a->data[i] = i < 4 ? (uint8_t)(v >> (8 * i)) : 0xff;
}

/* An I/O APIC message and the 8259A's INTR, on mpvmm's APIC bus (every LINT0). */
static void out_msi(void *ctx, const struct ioapic_msi *m)
{
	struct user_chip *u = ctx;

	apic_bus_msi(u->apics, m->address, m->data);
}

static void out_intr(void *ctx, bool level)
{
	struct user_chip *u = ctx;

	apic_bus_set_extint(u->apics, level);
}

/* The MP state machine and the MP interface over it, on the accelerator's clock. */
static int create_mp(struct user_chip *u, const struct irqchip_env *env, struct mp_cpu *cpus)
{
	const struct mp_user_config uc = {
		.ncpus = u->n, .bsp = env->boot_cpu, .now_ns = clock_now, .clock_ctx = u->accel,
		.sipi_timeout_ns = SIPI_TIMEOUT_NS, .warn = env->warn,
		.warn_ctx = env->warn_source(env->warn_ctx, "MP state"),
		.kick = kick_engine, .kick_ctx = u,
		/* Threads run at once: without a hold, an AP takes its start before the BSP's
		 * step announcement of the SIPI, which could never show SIPI_RECEIVED. */
		.hold_starts = env->step && u->accel->caps.parallel,
	};

	u->mp_user = mp_user_create(&uc);
	if (!u->mp_user)
		return -1;
	for (uint32_t i = 0; i < u->n; i++)
		cpus[i] = (struct mp_cpu){ .apic_id = env->plat->cpus[i].apic_id,
					   .bsp = env->plat->cpus[i].bsp,
					   .backend_ctx = mp_user_backend_ctx(u->mp_user, i) };
	u->base.mp = mp_create(u->n, cpus, &mp_user_backend, env->exec, env->exec_ctx,
			       env->t0_ns);
	if (!u->base.mp)
		return -1;
	/* With --seed the trace runs on the guest's clock too (instructions retired), so that
	 * the same seed gives the same trace. */
	if (env->seeded)
		mp_set_clock(u->base.mp, clock_now, u->accel);
	mp_user_attach(u->mp_user, u->base.mp);
	return 0;
}

static int create_apics(struct user_chip *u, const struct irqchip_env *env,
			const struct mp_cpu *cpus)
{
	const struct accel_caps *caps = &u->accel->caps;
	const struct apic_bus_config bc = {
		.ncpus = u->n, .cpus = cpus, .bus_hz = caps->lapic_timer_hz,
		.x2apic = caps->msr_exits, .tsc_hz = caps->msr_exits ? caps->tsc_hz : 0,
		.now_ns = clock_now, .clock_ctx = u->accel,
		.tsc_now = caps->msr_exits && caps->tsc_hz ? guest_tsc : NULL, .tsc_ctx = u,
		.warn = env->warn, .warn_ctx = env->warn_source(env->warn_ctx, "local APICs"),
		.mp = u->mp_user, .eoi = apic_eoi, .eoi_ctx = u,
	};

	u->apics = apic_bus_create(&bc);
	return u->apics ? bus_register(env->mmio, LAPIC_DEFAULT_BASE, 0x1000, lapic_mmio, u,
				       "local APIC") : -1;
}

static void user_destroy(struct irqchip *ic)
{
	struct user_chip *u = of(ic);

	if (!u)
		return;
	chipset_destroy(u->chipset);
	mp_destroy(u->base.mp);
	apic_bus_destroy(u->apics);
	mp_user_destroy(u->mp_user);
	free(u->vcpus);
	free(u);
}

static void user_attach(struct irqchip *ic, uint32_t cpu, struct accel_vcpu *av)
{
	struct user_chip *u = of(ic);

	if (cpu < u->n)
		u->vcpus[cpu] = av;
}

/* ---- a vCPU's thread ----------------------------------------------------------------------- */

/*
 * A latched start is loaded only now that the vCPU runs (the accelerator calls `enter` at
 * its turn), so its MP state reads SIPI_RECEIVED until then: mp_user_take_sipi moves it to
 * RUNNABLE and gives the register state of table 9-1.  A `startup` break (mp_note_startup)
 * stops here, the start loaded, before its first instruction: false, and the vCPU's loop
 * pauses the VM; its next `enter` finds nothing latched and runs it.
 */
static bool take_start(struct user_chip *u, uint32_t cpu)
{
	const struct accel_cpu_ops *ops = u->accel->cpu;
	struct x86_regs r;
	struct x86_sregs s;
	enum mp_user_start kind = mp_user_take_sipi(u->mp_user, cpu, &r, &s);

	if (kind == MP_USER_START_NONE)
		return true;
	/* The instruction an INIT overtook is finished first (its completion would write
	 * over the start); set_sregs next: the software CPU prepares a real-mode start there. */
	if ((ops->finish_exit && ops->finish_exit(u->vcpus[cpu]) < 0) ||
	    ops->set_sregs(u->vcpus[cpu], &s) < 0 || ops->set_regs(u->vcpus[cpu], &r) < 0) {
		fault(u, cpu, VM_CONTROL_VMM_ERROR, "cannot load the start state of its SIPI");
		return false;
	}
	/* Table 9-1: a SIPI's start has CS.selector = vector << 8. */
	return kind != MP_USER_START_SIPI ||
	       !mp_note_startup(u->base.mp, cpu, (uint8_t)(s.cs.selector >> 8));
}

/*
 * An NMI first (SDM 6.9: it outranks maskable interrupts); then the 8259A's ExtINT through
 * LINT0, which the APIC's priorities do not hold back (SDM 10.5.1: the vector comes from the
 * INTA, as KVM gives it precedence); else the APIC's highest vector.
 */
static bool inject(struct user_chip *u, uint32_t cpu)
{
	const struct accel_cpu_ops *ops = u->accel->cpu;
	struct accel_vcpu *av = u->vcpus[cpu];
	int vector = -1;
	bool nmi = apic_bus_take_nmi(u->apics, cpu);

	if (!nmi) {
		bool extint = u->chipset && apic_bus_extint(u->apics, cpu);
		if ((!extint && apic_bus_pending(u->apics, cpu) < 0) ||
		    !ops->interrupt_window(av, true))
			return true;
		vector = extint ? chipset_ack(u->chipset) : apic_bus_take_interrupt(u->apics, cpu);
		if (vector < 0)
			return true;
	}
	if (ops->interrupt(av, (uint8_t)(nmi ? 2 : vector), nmi) == 0)
		return true;
	fault(u, cpu, VM_CONTROL_GUEST_FAULT, "an interrupt cannot be delivered through its IDT");
	return false;
}

static bool user_enter(struct irqchip *ic, uint32_t cpu)
{
	struct user_chip *u = of(ic);

	apic_bus_entered(u->apics, cpu);
	if (!take_start(u, cpu))
		return false;
	if (mp_user_state(u->mp_user, cpu) != MP_STATE_RUNNABLE)
		return false;
	return inject(u, cpu);
}

/* Until the vCPU can run (RUNNABLE, or a start latched), or it is kicked or stopped. */
static enum irqchip_wait user_wait(struct irqchip *ic, uint32_t cpu)
{
	struct user_chip *u = of(ic);
	enum mp_user_run r = mp_user_poll(u->mp_user, cpu);

	if (r == MP_USER_BLOCKED) {
		u->accel->cpu->idle(u->vcpus[cpu]);
		r = mp_user_wait_runnable(u->mp_user, cpu, NULL);
	}
	return r == MP_USER_RUN || r == MP_USER_START ? IRQCHIP_RUN : IRQCHIP_LOOK;
}

/* HLT: HALTED, unless an NMI or (IF = 1) an interrupt would wake it at once (SDM 8.4, 6.8). */
static void halt(struct user_chip *u, uint32_t cpu)
{
	struct x86_regs r;

	if (u->accel->cpu->get_regs(u->vcpus[cpu], &r) < 0) {
		fault(u, cpu, VM_CONTROL_VMM_ERROR, "cannot read its registers after HLT");
		return;
	}
	mp_user_halt(u->mp_user, cpu, r.rflags & X86_RFLAGS_IF);
}

/*
 * IA32_APIC_BASE, IA32_TSC_DEADLINE and the x2APIC MSRs go to the vCPU's APIC model; the
 * accelerator also hands over MSRs it refused itself, which stay refused (SDM Vol. 3A,
 * 10.12.1.2: x2APIC MSRs #GP outside x2APIC mode; the APIC model says so as LAPIC_GP).
 */
static void msr(struct user_chip *u, uint32_t cpu, const struct accel_exit *e)
{
	int r;

	if (e->kind == ACCEL_EXIT_RDMSR) {
		r = apic_bus_msr_read(u->apics, cpu, e->msr.index, e->msr.data);
	} else {
		r = apic_bus_msr_write(u->apics, cpu, e->msr.index, *e->msr.data);
		timers_changed(u);
	}
	*e->msr.error = r != LAPIC_OK;
}

static bool user_exit(struct irqchip *ic, uint32_t cpu, const struct accel_exit *e)
{
	struct user_chip *u = of(ic);

	switch (e->kind) {
	case ACCEL_EXIT_HLT:
		halt(u, cpu);
		return true;
	case ACCEL_EXIT_RDMSR:
	case ACCEL_EXIT_WRMSR:
		msr(u, cpu, e);
		return true;
	default:
		return false;
	}
}

static void user_kick(struct irqchip *ic, uint32_t cpu)
{
	mp_user_kick(of(ic)->mp_user, cpu);
}

/* The thread ends: let the other vCPUs have the CPU. */
static void user_vcpu_done(struct irqchip *ic, uint32_t cpu)
{
	struct user_chip *u = of(ic);

	u->accel->cpu->idle(u->vcpus[cpu]);
}

/* ---- the machine --------------------------------------------------------------------------- */

static enum accel_runnable runnable(void *ctx, uint32_t cpu)
{
	struct user_chip *u = ctx;

	switch (mp_user_state(u->mp_user, cpu)) {
	case MP_STATE_SIPI_RECEIVED:
		return ACCEL_STARTING;
	case MP_STATE_RUNNABLE:
		return ACCEL_RUNNABLE;
	default:
		return ACCEL_BLOCKED;
	}
}

/* The earliest of the local APICs' timers and the PIT. */
static uint64_t next_event(void *ctx)
{
	struct user_chip *u = ctx;
	uint64_t t = apic_bus_next_deadline(u->apics);

	return chipset_owned_next(u->chipset, t == LAPIC_TIMER_NONE ? ACCEL_NO_EVENT : t);
}

/* Timers due; and an AP left in INIT_RECEIVED too long is a guest mistake worth a line. */
static void advance(void *ctx, uint64_t now_ns)
{
	struct user_chip *u = ctx;

	if (apic_bus_next_deadline(u->apics) <= now_ns)
		apic_bus_fire_timers(u->apics, now_ns);
	mp_user_tick(u->mp_user, now_ns);
	chipset_advance(u->chipset, now_ns);
}

static bool user_machine(struct irqchip *ic, struct accel_machine *m)
{
	*m = (struct accel_machine){ .runnable = runnable, .next_event = next_event,
				     .advance = advance, .ctx = of(ic) };
	return true;
}

static void user_stop(struct irqchip *ic)
{
	mp_user_stop(of(ic)->mp_user);
}

/* Step mode: the step is printed, a start held in SIPI_RECEIVED may be taken now. */
static void user_stepped(struct irqchip *ic)
{
	mp_user_release_starts(of(ic)->mp_user, STEP_RELEASE_WAIT_NS);
}

/* INIT or SIPI from outside: mpvmm's own APIC bus delivers it, and records it exactly. */
static int user_send(struct irqchip *ic, uint32_t cpu, enum irqchip_ipi kind, uint8_t vector)
{
	struct user_chip *u = of(ic);
	const struct lapic_ipi ipi = {
		.dest = mp_cpu(u->base.mp, cpu)->apic_id, .vector = vector, .assert = true,
		.mode = kind == IRQCHIP_INIT ? LAPIC_DM_INIT : LAPIC_DM_SIPI,
		.shorthand = LAPIC_SH_NONE,
	};

	apic_bus_deliver(u->apics, APIC_BUS_EXTERNAL, &ipi);
	return 0;
}

static int user_lapic(struct irqchip *ic, uint32_t cpu, struct accel_lapic *out)
{
	return apic_bus_peek(of(ic)->apics, cpu, out->reg);
}

/* ---- snapshots ----------------------------------------------------------------------------- */

static int user_save(struct irqchip *ic, struct snap_writer *w, char *err, size_t errlen)
{
	struct user_chip *u = of(ic);
	struct snap_enc e = { 0 };

	if (mp_user_save(u->mp_user, &e) < 0)
		e.oom = true;
	if (snap_put_enc(w, SNAP_SEC_MP_USER, SNAP_MP_STATE, &e, "MP state machine", err,
			 errlen) < 0)
		return -1;
	if (apic_bus_save(u->apics, &e) < 0)
		e.oom = true;
	if (snap_put_enc(w, SNAP_SEC_MP_USER, SNAP_APICS, &e, "local APICs", err, errlen) < 0)
		return -1;
	return chipset_owned_save(u->chipset, w, err, errlen);
}

/* The state machine (which records what it loads in the trace, loaded before), the APICs
 * (their timers relative to the accelerator's clock, loaded before), the controllers. */
static int user_load(struct irqchip *ic, const struct snap_reader *r, char *err, size_t errlen)
{
	struct user_chip *u = of(ic);
	struct snap_dec d;

	if (!snap_section(r, SNAP_SEC_MP_USER, SNAP_MP_STATE, &d) ||
	    mp_user_load(u->mp_user, &d, err, errlen) < 0 ||
	    !snap_section(r, SNAP_SEC_MP_USER, SNAP_APICS, &d) ||
	    apic_bus_load(u->apics, &d, err, errlen) < 0) {
		if (!err[0])
			snprintf(err, errlen, "the snapshot has no userspace MP state");
		return -1;
	}
	/* The accelerator's timers slept on the deadlines they saw before the load. */
	timers_changed(u);
	return chipset_owned_load(u->chipset, r, err, errlen);
}

static struct irqchip *user_create(const struct irqchip_env *env, char *err, size_t errlen);

const struct irqchip_mode irqchip_user = {
	.name = "user",
	.snapshot_id = 2,
	.apic_msrs = true,
	.check = user_check,
	.fit_platform = user_fit_platform,
	.fit_cpuid = user_fit_cpuid,
	.create = user_create,
	.destroy = user_destroy,
	.attach = user_attach,
	.enter = user_enter,
	.wait = user_wait,
	.exit = user_exit,
	.kick = user_kick,
	.vcpu_done = user_vcpu_done,
	.machine = user_machine,
	.stop = user_stop,
	.stepped = user_stepped,
	.send = user_send,
	.lapic = user_lapic,
	.save = user_save,
	.load = user_load,
};

static struct irqchip *user_create(const struct irqchip_env *env, char *err, size_t errlen)
{
	uint32_t n = env->plat->topo.cpus;
	struct user_chip *u = calloc(1, sizeof(*u));
	struct mp_cpu *cpus = calloc(n, sizeof(*cpus));

	if (u) {
		*u = (struct user_chip){ .base.mode = &irqchip_user, .accel = env->accel,
					 .ctl = env->ctl, .n = n };
		u->vcpus = calloc(n, sizeof(*u->vcpus));
	}
	const struct chipset_config outs = { .msi = out_msi, .intr = out_intr, .ctx = u };
	if (!u || !cpus || !u->vcpus || create_mp(u, env, cpus) < 0 ||
	    create_apics(u, env, cpus) < 0 || !(u->chipset = chipset_owned_create(env, &outs))) {
		snprintf(err, errlen, "cannot create mpvmm's interrupt controllers and MP state "
			 "(out of memory?)");
		free(cpus);
		user_destroy(u ? &u->base : NULL);
		return NULL;
	}
	free(cpus);
	u->base.line = chipset_line(u->chipset);
	return &u->base;
}
