/*
 * mp_kernel.c - the MP-state backend for an in-kernel local APIC: KVM runs the INIT-SIPI
 * protocol itself, and KVM_GET/SET_MP_STATE (through the accelerator) read and write it.
 * It sees no transition by itself; mp.c infers the rest from what the guest reports.
 */
#include "accel/accel.h"
#include "mp/mp.h"

static int kernel_get(void *ctx, enum mp_state *out)
{
	struct mp_kernel_ctx *k = ctx;

	return k->ops->get_mp_state(k->vcpu, out);
}

static int kernel_set(void *ctx, enum mp_state s)
{
	struct mp_kernel_ctx *k = ctx;

	return k->ops->set_mp_state(k->vcpu, s);
}

const struct mp_backend mp_kernel_backend = {
	.name = "kernel",
	.exact = false,
	.get = kernel_get,
	.set = kernel_set,
};
