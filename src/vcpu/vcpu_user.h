/*
 * vcpu_user.h - the part of a vCPU's loop for an accelerator without an in-kernel local APIC
 * (accel.user_mp): the software CPU today, KVM with its irqchip in userspace later, both
 * unchanged.  mpvmm keeps the MP state (mp/mp_user.h) and the local APICs (mp/apic_bus.h);
 * this file waits while a vCPU cannot run, takes a latched start (SIPI) at the moment the
 * vCPU runs, injects NMIs and interrupts, and feeds HLT to the MP state machine.
 *
 * It knows the accelerator only through struct accel_ops, and neither KVM nor Unicorn.
 */
#ifndef MPVMM_VCPU_USER_H
#define MPVMM_VCPU_USER_H

#include <stdint.h>

#include "accel/accel.h"
#include "dev/chipset.h"
#include "mp/apic_bus.h"
#include "mp/mp_user.h"

struct vcpu;

/* The machine's MP state and APICs, shared by its vCPUs (struct vcpu_env.user). */
struct vcpu_user {
	struct mp_user *mp;
	struct apic_bus *apics;
	struct chipset *ic; /* the 8259A answers an ExtINT's INTA; NULL: none */
};

/* On the vCPU's thread, before its loop: hand the accelerator our enter/exit hooks. */
int vcpu_user_thread_init(struct vcpu *v);
/* One pass of the loop: wait until runnable (or kicked), run once, handle the exit. */
void vcpu_user_run(struct vcpu *v);
/* Make a waiting vCPU look at its requests (vcpu_call, pause, stop). */
void vcpu_user_kick(struct vcpu *v);
/* An RDMSR or WRMSR exit: the local APIC's MSRs, #GP(0) for anything else or refused. */
void vcpu_user_msr(struct vcpu *v, const struct accel_exit *e);
/* The thread ends: let the other vCPUs have the CPU. */
void vcpu_user_thread_exit(struct vcpu *v);

/* What the accelerator's scheduler sees of the machine (accel_ops.set_machine). */
void vcpu_user_machine(struct vcpu_user *u, struct accel_machine *m);

#endif
