/*
 * mp_user.h - the MP-state backend kept by mpvmm itself (`exact = true`), for accelerators
 * without an in-kernel local APIC: KVM with the irqchip in userspace (a thread per vCPU) and
 * the software CPU (all vCPUs on one host thread).
 *
 * It is the state machine of Intel SDM Vol. 3A 8.4 (and 10.4.7.3, table 9-1): which vCPU
 * may run, which waits for INIT or a SIPI, which is halted, and the register state a start
 * begins with.  It knows neither KVM, nor Unicorn, nor the local APIC registers: the APIC bus
 * (apic_bus.c) tells it about INIT, SIPI, NMI and deliverable interrupts, and the accelerator
 * tells it about HLT and asks whether and how a vCPU may run.
 *
 * One mutex guards every vCPU.  Callbacks (warn, kick) run with it held and must not call
 * back into mp_user.  Lock order: apic_bus, then mp_user, then the MP trace.
 */
#ifndef MPVMM_MP_USER_H
#define MPVMM_MP_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mp/mp.h"
#include "x86/regs.h"

extern const struct mp_backend mp_user_backend;

struct mp_user_config {
	uint32_t ncpus;
	uint32_t bsp;               /* index of the bootstrap processor                   */
	uint64_t sipi_timeout_ns;   /* warn when INIT_RECEIVED lasts longer; 0: never      */
	uint32_t cpu_signature;     /* EDX after RESET/INIT (table 9-1); 0: 0x600          */
	uint64_t (*now_ns)(void *ctx); /* the caller's clock, as given to the APICs        */
	void *clock_ctx;
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
	/* Make vCPU `cpu` leave the accelerator (its state changed, or an interrupt came). */
	void (*kick)(void *ctx, uint32_t cpu);
	void *kick_ctx;
	/*
	 * Step mode with a thread per vCPU: a latched start stays SIPI_RECEIVED (not handed out
	 * by poll / wait_runnable / take_sipi) until mp_user_release_starts, so that whoever
	 * observes the SIPI sees SIPI_RECEIVED before the vCPU runs from it.
	 */
	bool hold_starts;
};

/* What a vCPU's loop does next (mp_user_wait_runnable, mp_user_poll). */
enum mp_user_run {
	MP_USER_RUN = 0,   /* RUNNABLE: enter the guest                                   */
	MP_USER_START,     /* a start is latched: mp_user_take_sipi, load it, then run      */
	MP_USER_BLOCKED,   /* (poll only) not runnable: UNINITIALIZED, INIT/SIPI wait, HLT  */
	MP_USER_KICKED,    /* mp_user_kick: serve a request, then call again                */
	MP_USER_TIMEOUT,   /* abstime passed (e.g. a timer deadline): fire timers, again    */
	MP_USER_STOPPED,   /* mp_user_stop: leave the loop                                  */
};

/* What a start latched by mp_user_take_sipi is. */
enum mp_user_start {
	MP_USER_START_NONE = 0,
	MP_USER_START_SIPI,  /* an AP: real mode at vector << 12 (8.4.1)               */
	MP_USER_START_RESET, /* the BSP after INIT: the reset vector F000:FFF0 (8.4.2)  */
};

struct mp_user;

struct mp_user *mp_user_create(const struct mp_user_config *cfg);
void mp_user_destroy(struct mp_user *u);
/* Record transitions in mp's trace from now on (mp_create needs the backend first). */
void mp_user_attach(struct mp_user *u, struct mp *mp);
/* The backend_ctx of vCPU `cpu` for struct mp_cpu. */
void *mp_user_backend_ctx(struct mp_user *u, uint32_t cpu);

/* ---- from the APIC bus (the sender is a vCPU index, or TRACE_NO_CPU) ------------------ */

/* INIT assert (8.4.1, 10.4.7.3): an AP waits for a SIPI; the BSP restarts at the reset vector. */
void mp_user_init(struct mp_user *u, uint32_t cpu, uint32_t from);
/* STARTUP IPI: latched in INIT_RECEIVED, otherwise ignored; returns whether latched. */
bool mp_user_sipi(struct mp_user *u, uint32_t cpu, uint32_t from, uint8_t vector);
/* Record a fixed or lowest-priority IPI in the MP trace. */
void mp_user_note_ipi(struct mp_user *u, uint32_t from, uint32_t to, uint8_t vector);
/* Whether cpu takes an NMI now: not while it waits for INIT or a SIPI (8.4.1). */
bool mp_user_nmi_allowed(struct mp_user *u, uint32_t cpu);
/*
 * What cpu's APIC holds for it after any change: an interrupt above the PPR (`irq`) and an
 * NMI.  An NMI, or an interrupt when HLT ran with IF = 1, ends HALTED; a new one kicks a
 * running vCPU so that it can be injected.
 */
void mp_user_set_pending(struct mp_user *u, uint32_t cpu, bool irq, bool nmi);

/* ---- from the accelerator ------------------------------------------------------------- */

/*
 * HLT was executed with IF = if_set.  Stays RUNNABLE when something would wake it at once
 * (an NMI, or a deliverable interrupt with IF = 1), else HALTED.  Returns the new state.
 */
enum mp_state mp_user_halt(struct mp_user *u, uint32_t cpu, bool if_set);
/*
 * Take the latched start: fills *regs / *sregs with the start state (table 9-1) and moves
 * to RUNNABLE.  sregs->apic_base is left 0: the APIC base is the APIC model's, kept across
 * INIT.  Returns what was latched (MP_USER_START_NONE: nothing, the arguments untouched).
 */
enum mp_user_start mp_user_take_sipi(struct mp_user *u, uint32_t cpu, struct x86_regs *regs,
				     struct x86_sregs *sregs);
/* The register state table 9-1 gives after INIT / a SIPI with `vector` (pure). */
void mp_user_start_state(enum mp_user_start kind, uint8_t vector, uint32_t signature,
			 struct x86_regs *regs, struct x86_sregs *sregs);

/*
 * Threaded model: block until runnable, a start to take, a kick, stop, or abstime
 * (CLOCK_MONOTONIC; NULL: no limit).
 */
enum mp_user_run mp_user_wait_runnable(struct mp_user *u, uint32_t cpu,
				       const struct timespec *abstime);
/* Single-thread model: the same answer without waiting (MP_USER_BLOCKED instead of a wait). */
enum mp_user_run mp_user_poll(struct mp_user *u, uint32_t cpu);
/*
 * hold_starts: let every held start be taken, and wait (at most wait_ns) until the vCPUs'
 * threads have taken them.  Call without holding anything a vCPU thread needs to run.
 */
void mp_user_release_starts(struct mp_user *u, uint64_t wait_ns);
/* The first vCPU after `after` (cyclically, `after` itself last) that would run, or -1. */
long mp_user_next_runnable(struct mp_user *u, uint32_t after);
enum mp_state mp_user_state(struct mp_user *u, uint32_t cpu);

/* Wake cpu's waiter with MP_USER_KICKED (once per kick). */
void mp_user_kick(struct mp_user *u, uint32_t cpu);
/* Every waiter, now and later, gets MP_USER_STOPPED. */
void mp_user_stop(struct mp_user *u);
/* Time passes: warn about APs left in INIT_RECEIVED too long.  Returns new warnings. */
unsigned mp_user_tick(struct mp_user *u, uint64_t now_ns);

/*
 * Snapshots, under the lock: each vCPU's MP state, its latched start (kind and SIPI vector,
 * held or not), the SIPIs since its last INIT, what its APIC holds for it, IF at its HLT,
 * and how long ago its last INIT came (relative to the clock, as the APICs' timers).  Kicks
 * and a release in progress are not state.  mp_user_load checks everything (vCPU count,
 * BSP, states and starts in range and consistent) before it changes anything, then records
 * the loaded states in the MP trace if one is attached; 0, or -1 with a reason in err.  A
 * start saved as held stays held only if this machine holds starts (step mode).  Load it
 * after the accelerator's VM state, whose clock the INIT ages are relative to.
 */
struct snap_enc;
struct snap_dec;
int mp_user_save(struct mp_user *u, struct snap_enc *e);
int mp_user_load(struct mp_user *u, struct snap_dec *d, char *err, size_t errlen);

#endif
