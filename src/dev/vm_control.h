/*
 * vm_control.h - the little that a device may ask of the VM as a whole: to stop, with the
 * process exit status and a reason, or to reset the machine (the guest pulsed the reset
 * line).  Devices get this instead of the VM, so they cannot reach into vCPUs or the VM's
 * internals.
 */
#ifndef MPVMM_VM_CONTROL_H
#define MPVMM_VM_CONTROL_H

#include <stdint.h>

#include <stdio.h>

/* Exit statuses a part of the VM stops it with (cli/config.c's usage lists them all). */
#define VM_CONTROL_GUEST_FAULT 4 /* triple fault, an exception nothing can deliver */
#define VM_CONTROL_VMM_ERROR 5   /* mpvmm or the accelerator cannot go on          */

struct vm_control {
	void (*stop)(void *vm, int status, const char *why);
	/* Optional: the guest asked for a system reset.  NULL: a reset stops with status 0. */
	void (*reset)(void *vm, const char *why);
	/*
	 * Optional: pause the whole VM from inside an exit of vCPU `cpu` and return only when
	 * it is resumed (e.g. through the control API).  NULL, or no way to resume: returns at
	 * once.
	 */
	void (*hold)(void *vm, uint32_t cpu, const char *why);
	void *vm;
};

static inline void vm_control_hold(const struct vm_control *c, uint32_t cpu, const char *why)
{
	if (c->hold)
		c->hold(c->vm, cpu, why);
}

static inline void vm_control_stop(const struct vm_control *c, int status, const char *why)
{
	c->stop(c->vm, status, why);
}

/* What the VM decides (restart or exit) is its business; without a hook, reset = stop 0. */
static inline void vm_control_reset(const struct vm_control *c, const char *why)
{
	char msg[160];

	if (c->reset) {
		c->reset(c->vm, why);
		return;
	}
	snprintf(msg, sizeof(msg), "guest reset: %s", why);
	c->stop(c->vm, 0, msg);
}

#endif
