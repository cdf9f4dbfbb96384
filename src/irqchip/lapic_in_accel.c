/*
 * lapic_in_accel.c - the local APICs where the accelerator keeps them (--irqchip kernel and
 * split): it runs the INIT-SIPI protocol itself, so the MP state is read and written through
 * its CPU engine (KVM_GET/SET_MP_STATE) on each vCPU's own thread, and the MP interface sees
 * no transition by itself (mp.c infers the rest from what the guest reports).  INIT and SIPI
 * from outside go in as messages its APICs latch; its APIC registers are read on the vCPU's
 * thread.
 */
#include "irqchip/irqchip_internal.h"

#include <errno.h>
#include <stdlib.h>

struct engine_vcpu {
	const struct accel_cpu_ops *cpu;
	struct accel_vcpu *av;
};

struct lapic_in_accel {
	struct accel *accel;
	struct mp *mp;
	mp_exec_fn exec;
	void *exec_ctx;
	uint32_t n;
	struct engine_vcpu *vcpus; /* the MP backend's per-vCPU context */
};

static int engine_get(void *ctx, enum mp_state *out)
{
	struct engine_vcpu *e = ctx;

	return e->cpu->get_mp_state(e->av, out);
}

static int engine_set(void *ctx, enum mp_state s)
{
	struct engine_vcpu *e = ctx;

	return e->cpu->set_mp_state(e->av, s);
}

static const struct mp_backend engine_backend = {
	.name = "kernel", /* the accelerator's: KVM's in-kernel local APIC */
	.exact = false,
	.get = engine_get,
	.set = engine_set,
};

struct lapic_in_accel *lapic_in_accel_create(const struct irqchip_env *env, struct mp **mp)
{
	uint32_t n = env->plat->topo.cpus;
	struct lapic_in_accel *l = calloc(1, sizeof(*l));
	struct mp_cpu *cpus = calloc(n, sizeof(*cpus));

	if (l)
		l->vcpus = calloc(n, sizeof(*l->vcpus));
	if (!l || !cpus || !l->vcpus) {
		free(cpus);
		lapic_in_accel_destroy(l);
		return NULL;
	}
	*l = (struct lapic_in_accel){ .accel = env->accel, .exec = env->exec,
				      .exec_ctx = env->exec_ctx, .n = n, .vcpus = l->vcpus };
	for (uint32_t i = 0; i < n; i++) {
		l->vcpus[i].cpu = env->accel->cpu;
		cpus[i] = (struct mp_cpu){ .apic_id = env->plat->cpus[i].apic_id,
					   .bsp = env->plat->cpus[i].bsp,
					   .backend_ctx = &l->vcpus[i] };
	}
	l->mp = mp_create(n, cpus, &engine_backend, env->exec, env->exec_ctx, env->t0_ns);
	free(cpus);
	if (!l->mp) {
		lapic_in_accel_destroy(l);
		return NULL;
	}
	*mp = l->mp;
	return l;
}

void lapic_in_accel_destroy(struct lapic_in_accel *l)
{
	if (!l)
		return;
	mp_destroy(l->mp);
	free(l->vcpus);
	free(l);
}

void lapic_in_accel_attach(struct lapic_in_accel *l, uint32_t cpu, struct accel_vcpu *av)
{
	if (cpu < l->n)
		l->vcpus[cpu].av = av;
}

/*
 * An MSI is a message on the APIC bus like an IPI, and its delivery-mode field takes INIT
 * and StartUp as the ICR's does (Intel SDM Vol. 3A, 10.11.1-10.11.2: address bits 19:12
 * destination ID, data bits 10:8 delivery mode, 7:0 vector), so the accelerator's local APIC
 * latches a real INIT (the vCPU is reset) or SIPI.  With 32-bit destinations (KVM's x2APIC
 * API), bits 31:8 of the ID go in the address's upper half.
 */
int lapic_in_accel_send(struct lapic_in_accel *l, uint32_t cpu, enum irqchip_ipi kind,
			uint8_t vector)
{
	uint32_t dest = mp_cpu(l->mp, cpu)->apic_id;
	uint32_t mode = kind == IRQCHIP_INIT ? 5 : 6; /* delivery mode INIT, StartUp */
	const struct accel_msi m = {
		.address = 0xfee00000u | ((dest & 0xffu) << 12) |
			   ((uint64_t)(dest & 0xffffff00u) << 32),
		.data = (mode << 8) | (kind == IRQCHIP_INIT ? 0 : vector) | (1u << 14),
	};

	if (!l->accel->vm->msi) {
		errno = ENOTSUP;
		return -1;
	}
	if (l->accel->vm->msi(l->accel, &m) < 0)
		return -1;
	/* Sent by the VMM itself, so exact; TRACE_NO_CPU marks "from outside". */
	mp_note_ipi(l->mp, kind == IRQCHIP_INIT ? TRACE_INIT : TRACE_SIPI, TRACE_NO_CPU, cpu,
		    vector, TRACE_EXACT);
	return 0;
}

struct lapic_read {
	struct engine_vcpu *v;
	struct accel *accel;
	struct accel_lapic *out;
	int ret;
};

static void read_on_thread(void *arg)
{
	struct lapic_read *r = arg;

	r->ret = r->accel->vm->get_lapic(r->v->av, r->out);
}

int lapic_in_accel_read(struct lapic_in_accel *l, uint32_t cpu, struct accel_lapic *out)
{
	struct lapic_read r = { .v = &l->vcpus[cpu], .accel = l->accel, .out = out, .ret = -1 };

	if (cpu >= l->n || !l->accel->vm->get_lapic) {
		errno = ENODEV;
		return -1;
	}
	if (l->exec(l->exec_ctx, cpu, read_on_thread, &r) < 0)
		return -1;
	return r.ret;
}
