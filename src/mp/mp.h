/*
 * mp.h - the one interface to every vCPU's multiprocessor (MP) state.
 *
 * Callers (devices, the report, the control API) read and change a vCPU's MP state and note
 * the INIT / SIPI / IPI traffic they see only through these functions, whatever keeps the
 * state: an accelerator's own local APIC (irqchip/lapic_in_accel.c) or mpvmm (mp_user.c).
 * Each change mpvmm observes is recorded with a timestamp in the trace.
 *
 * This module knows neither KVM nor threads: a backend supplies get/set, and the VM
 * supplies `exec`, which runs a function on a given vCPU's own thread (KVM holds the vCPU
 * mutex for the whole of KVM_RUN, so vCPU ioctls must be issued from that thread).
 */
#ifndef MPVMM_MP_H
#define MPVMM_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp/mp_state.h"
#include "mp/trace.h"
#include "snapshot/snapfile.h"

struct mp_backend {
	const char *name;
	/* Observes transitions by itself (true for a VMM-kept state machine, false for KVM). */
	bool exact;
	/* Both run on the vCPU's own thread; ctx is the per-vCPU pointer given to mp_create. */
	int (*get)(void *ctx, enum mp_state *out);
	int (*set)(void *ctx, enum mp_state s);
};

/* Run fn(arg) on vCPU `cpu`'s thread and wait for it; returns 0, or -1 if it cannot. */
typedef int (*mp_exec_fn)(void *exec_ctx, uint32_t cpu, void (*fn)(void *arg), void *arg);

struct mp_cpu {
	uint32_t apic_id;
	bool bsp;
	void *backend_ctx;
};

struct mp;

struct mp *mp_create(uint32_t ncpus, const struct mp_cpu *cpus, const struct mp_backend *be,
		     mp_exec_fn exec, void *exec_ctx, uint64_t t0_ns);
void mp_destroy(struct mp *mp);

uint32_t mp_ncpus(const struct mp *mp);
const struct mp_cpu *mp_cpu(const struct mp *mp, uint32_t cpu);
/* vCPU index with this APIC ID, or -1. */
long mp_cpu_by_apic_id(const struct mp *mp, uint32_t apic_id);
const char *mp_backend_name(const struct mp *mp);
/* The backend sees every transition and IPI itself (what a guest reports adds nothing). */
bool mp_exact(const struct mp *mp);

/*
 * Read (and record) vCPU `cpu`'s MP state.  From any thread; from the vCPU's own thread it
 * calls the backend directly.  Returns 0 or -1 (errno set).
 */
int mp_get(struct mp *mp, uint32_t cpu, enum mp_state *out);
/* Change vCPU `cpu`'s MP state (recorded as exact).  Returns 0 or -1 (errno set). */
int mp_set(struct mp *mp, uint32_t cpu, enum mp_state s);

/* Record an observation of cpu's state made elsewhere (e.g. the vCPU exited: RUNNABLE). */
void mp_observe(struct mp *mp, uint32_t cpu, enum mp_state s, enum trace_source src);

/* Record an INIT / SIPI / fixed IPI from `from` to `to` (vector for SIPI and fixed IPIs). */
void mp_note_ipi(struct mp *mp, enum trace_kind kind, uint32_t from, uint32_t to, uint8_t vector,
		 enum trace_source src);

/*
 * Breaks on MP events (mp/mp_break.h): from now on observations, IPIs and starts are offered
 * to b, and a break that fires is recorded in the trace.  NULL: none.
 */
struct mp_break;
void mp_set_break(struct mp *mp, struct mp_break *b);
/*
 * An AP is about to run the first instruction of the start a SIPI with `vector` latched
 * (a backend that sees starts: mp_user).  Returns whether a break fired: then the caller
 * must not run the vCPU before the VM has paused for it.
 */
bool mp_note_startup(struct mp *mp, uint32_t cpu, uint8_t vector);

/* The vCPU left the accelerator for the first time (KVM: its first exit to userspace). */
void mp_note_first_exit(struct mp *mp, uint32_t cpu);

struct trace *mp_trace(struct mp *mp);
uint64_t mp_now_ns(void);
/*
 * The trace's clock.  By default the host's monotonic clock, counted from t0_ns; a clock set
 * here (before any vCPU runs) is used as it is: a software CPU's guest time, so that a
 * deterministic run gives a deterministic trace.
 */
void mp_set_clock(struct mp *mp, uint64_t (*now_ns)(void *ctx), void *ctx);
/* Now, on the trace's clock. */
uint64_t mp_trace_now(const struct mp *mp);

/*
 * Snapshots: the trace so far and what mp knows of each vCPU (last recorded state, first exit
 * seen).  Load into a fresh mp with as many vCPUs, before any runs: the restored trace goes on
 * from the saved events.  load returns 0, or -1 with a reason in err.
 */
int mp_save(struct mp *mp, struct snap_enc *e);
int mp_load(struct mp *mp, struct snap_dec *d, char *err, size_t errlen);

#endif
