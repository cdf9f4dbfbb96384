/*
 * vm_control.h - the little that a device may ask of the VM as a whole: to stop, with the
 * process exit status and a reason.  Devices get this instead of the VM, so they cannot
 * reach into vCPUs or the VM's internals.
 */
#ifndef MPVMM_VM_CONTROL_H
#define MPVMM_VM_CONTROL_H

struct vm_control {
	void (*stop)(void *vm, int status, const char *why);
	void *vm;
};

static inline void vm_control_stop(const struct vm_control *c, int status, const char *why)
{
	c->stop(c->vm, status, why);
}

#endif
