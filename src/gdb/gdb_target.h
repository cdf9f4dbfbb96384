/*
 * gdb_target.h - what the gdb stub may ask of the VM it debugs (struct gdb_target), which
 * the VM implements (vm/gdb_ops.c) over its own parts: the control API's operations (vCPU
 * information, MP state, INIT, SIPI, pause, resume, shutdown), registers and guest RAM,
 * breakpoints and steps through the accelerator's neutral interface (struct accel_debug,
 * ACCEL_EXIT_DEBUG), and a hook for the vCPUs' debug stops.
 *
 * The stub knows neither KVM nor Unicorn nor the VM's insides: only this table.  Every
 * operation may be called from the stub's thread at any time between gdb_start and
 * gdb_stop; those on a vCPU run on its thread.
 */
#ifndef MPVMM_GDB_TARGET_H
#define MPVMM_GDB_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/accel.h"
#include "api/api.h"
#include "x86/regs.h"

#define GDB_NO_CPU UINT32_MAX

/* A vCPU stopped for the debugger (its thread, inside the exit). */
typedef void gdb_stop_fn(void *ctx, uint32_t cpu, const struct accel_exit *e);
/* A break on an MP event (--break-on, `monitor break-on`) paused the VM: on vCPU cpu's
 * thread, the VM paused; `what` as the break's line says it ("sipi on vCPU 2 ..."). */
typedef void gdb_break_fn(void *ctx, uint32_t cpu, const char *what);

struct gdb_target {
	void *ctx;
	const struct api_ops *api;  /* vcpu_info, vcpu_regs, set_mp_state, send_init... */
	int (*set_regs)(void *ctx, uint32_t cpu, const struct x86_regs *r,
			const struct x86_sregs *s);
	/* Guest RAM at a physical address: a host pointer to len bytes, or NULL. */
	void *(*phys)(void *ctx, uint64_t gpa, size_t len);
	/* What the accelerator can do by address (accel_caps.debug_*). */
	uint32_t exec_bps;
	bool watch;
	const char *why_not;
	/* Every vCPU gets d, and the vCPU `step` (or none: GDB_NO_CPU) single-steps too.
	 * 0, or -1 with a reason in err. */
	int (*set_debug)(void *ctx, const struct accel_debug *d, uint32_t step, char *err,
			 size_t errlen);
	/* With the VM paused: let vCPU `cpu` alone run until its next debug stop. */
	int (*step)(void *ctx, uint32_t cpu);
	/* Who hears of debug stops (NULL: nobody, and a stop resumes the VM at once). */
	void (*set_stop_hook)(void *ctx, gdb_stop_fn *fn, void *fn_ctx);
	/* Who hears of MP-event breaks (NULL: nobody; the VM stays paused for the API). */
	void (*set_break_hook)(void *ctx, gdb_break_fn *fn, void *fn_ctx);
	/* gdb's `k`: stop the VM (status 0); returns at once. */
	void (*kill)(void *ctx);
	/* The VM has stopped for good: true with its exit status. */
	bool (*ended)(void *ctx, int *status);
};

#endif
