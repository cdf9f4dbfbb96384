/*
 * vcpu.h - one virtual CPU: its thread, its run loop, the dispatch of its exits to the
 * devices, and a mailbox through which other threads run work on it (vCPU ioctls must be
 * issued by the vCPU's own thread while it may be inside KVM_RUN).
 *
 * A vCPU knows the accelerator's CPU engine, the --irqchip mode, the buses, the MP interface
 * and guest memory through struct vcpu_env, never the VM that owns it.
 */
#ifndef MPVMM_VCPU_H
#define MPVMM_VCPU_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/accel.h"
#include "dev/bus.h"
#include "dev/vm_control.h"
#include "irqchip/irqchip.h"
#include "mp/mp.h"
#include "x86/guest_mem.h"
#include "x86/insn.h"

/*
 * The gate every vCPU passes before entering the guest: closed, vCPUs park on it (out of
 * KVM_RUN, still serving requests) until it opens again.  Owned by the VM.
 */
struct vcpu_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;       /* parked vCPUs wait here for the gate to open   */
	pthread_cond_t all_parked; /* the pauser waits here, woken once, by the last */
	bool closed;
	uint32_t pass;   /* index + 1 of the one vCPU a closed gate lets through (a
			  * debugger's single step), or 0 */
	uint32_t parked; /* vCPUs waiting at the closed gate */
	uint32_t want;   /* how many the pauser waits for */
};

int vcpu_gate_init(struct vcpu_gate *g);
void vcpu_gate_destroy(struct vcpu_gate *g);
/* Wake every parked vCPU to look again (the VM stopping, a request arriving). */
void vcpu_gate_poke(struct vcpu_gate *g);

struct vcpu_env {
	const struct accel_cpu_ops *cpu;
	struct irqchip *irqchip; /* the --irqchip mode: its exits, waits and injections */
	struct bus *pio;
	struct bus *mmio;
	struct mp *mp;
	struct guest_mem *mem;
	struct vm_control ctl;
	_Atomic bool *stopping;
	struct vcpu_gate *gate;
	/* Breaks on MP events: when one is queued, take_break pauses the VM for it from this
	 * thread (between two runs, never inside one).  brk NULL: none. */
	struct mp_break *brk;
	void (*take_break)(void *ctx, uint32_t cpu);
	void *break_ctx;
	/* ACCEL_EXIT_DEBUG (a debugger's breakpoint or step), on the vCPU's thread. */
	void (*debug)(void *ctx, uint32_t cpu, const struct accel_exit *e);
	void *debug_ctx;
};

struct vcpu {
	uint32_t index;
	uint32_t apic_id;
	bool bsp;
	struct accel_vcpu *av;
	const struct vcpu_env *env;

	pthread_t thread;
	_Atomic bool running; /* the thread exists and serves requests */

	/* Mailbox: one request at a time (call_lock), served between two runs. */
	pthread_mutex_t call_lock;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	_Atomic bool req_pending;
	void (*req_fn)(void *arg);
	void *req_arg;
	bool req_done;
	bool exited;

	_Atomic uint64_t exits[ACCEL_EXIT_KINDS];
	_Atomic uint64_t carried[INSN_KINDS]; /* instructions the VMM performed for the guest */
};

int vcpu_init(struct vcpu *v, uint32_t index, uint32_t apic_id, bool bsp,
	      struct accel_vcpu *av, const struct vcpu_env *env);
void vcpu_destroy(struct vcpu *v);

/*
 * Mark v as about to start: from now on vcpu_call waits for its thread instead of failing.
 * A VM marks every vCPU before starting the first, so that a vCPU that runs at once (a
 * restored one) can ask another that has no thread yet.
 */
void vcpu_starting(struct vcpu *v);
int vcpu_start(struct vcpu *v);
/* A vCPU marked starting that will not start after all (an earlier one failed to). */
void vcpu_not_started(struct vcpu *v);
void vcpu_join(struct vcpu *v);

/* Run fn(arg) on v's thread and wait for it.  Returns 0, or -1 (ESRCH) once v has ended. */
int vcpu_call(struct vcpu *v, void (*fn)(void *arg), void *arg);
/*
 * vcpu_call in two halves, so that one caller can have many vCPUs work at once: post the
 * request (0, or -1 with ESRCH and nothing to wait for), then wait for it (0, or -1 ESRCH if
 * v ended first).  Every successful post must be followed by exactly one wait.
 */
int vcpu_post(struct vcpu *v, void (*fn)(void *arg), void *arg);
int vcpu_wait(struct vcpu *v);

/*
 * From v's own thread, inside an exit: count v as parked at the (closed) gate and wait there,
 * still serving requests, until the gate opens or the VM stops.
 */
void vcpu_park_here(struct vcpu *v);

/* The vCPU whose thread is calling, or NULL on any other thread. */
struct vcpu *vcpu_current(void);

/* Make v leave the guest soon (to notice a request or the VM stopping). */
void vcpu_kick(struct vcpu *v);

#endif
