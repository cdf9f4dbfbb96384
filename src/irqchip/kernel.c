/*
 * kernel.c - --irqchip kernel: every interrupt controller is the accelerator's (KVM's
 * in-kernel PIC pair, I/O APIC, PIT and local APICs), so is every vCPU's MP state.  Devices'
 * lines go to its PIC and I/O APIC; it has no exits, no timers and no snapshot section of
 * mpvmm's (the accelerator saves its controllers with its VM state).
 */
#include "irqchip/irqchip_internal.h"

#include <stdio.h>
#include <stdlib.h>

struct kernel_chip {
	struct irqchip base;
	struct accel *accel;
	struct lapic_in_accel *lapics;
};

static struct kernel_chip *of(struct irqchip *ic)
{
	return (struct kernel_chip *)ic;
}

static void line_set(void *ctx, unsigned gsi, bool level)
{
	struct accel *a = ctx;

	a->vm->irq_line(a, gsi, level); /* a failure is logged there */
}

static void kernel_destroy(struct irqchip *ic)
{
	if (!ic)
		return;
	lapic_in_accel_destroy(of(ic)->lapics);
	free(ic);
}

static struct irqchip *kernel_create(const struct irqchip_env *env, char *err, size_t errlen);

static void kernel_attach(struct irqchip *ic, uint32_t cpu, struct accel_vcpu *av)
{
	lapic_in_accel_attach(of(ic)->lapics, cpu, av);
}

static int kernel_send(struct irqchip *ic, uint32_t cpu, enum irqchip_ipi kind, uint8_t vector)
{
	return lapic_in_accel_send(of(ic)->lapics, cpu, kind, vector);
}

static int kernel_lapic(struct irqchip *ic, uint32_t cpu, struct accel_lapic *out)
{
	return lapic_in_accel_read(of(ic)->lapics, cpu, out);
}

static int kernel_save(struct irqchip *ic, struct snap_writer *w, char *err, size_t errlen)
{
	(void)ic;
	(void)w;
	(void)err;
	(void)errlen;
	return 0; /* the accelerator's VM state holds the controllers */
}

static int kernel_load(struct irqchip *ic, const struct snap_reader *r, char *err,
		       size_t errlen)
{
	(void)ic;
	return chipset_owned_absent(r, err, errlen);
}

const struct irqchip_mode irqchip_kernel = {
	.name = "kernel",
	.snapshot_id = 0,
	.accel_lapic = true,
	.accel_chipset = true,
	.create = kernel_create,
	.destroy = kernel_destroy,
	.attach = kernel_attach,
	.send = kernel_send,
	.lapic = kernel_lapic,
	.save = kernel_save,
	.load = kernel_load,
};

static struct irqchip *kernel_create(const struct irqchip_env *env, char *err, size_t errlen)
{
	struct kernel_chip *k = calloc(1, sizeof(*k));

	if (k) {
		k->base.mode = &irqchip_kernel;
		k->accel = env->accel;
		k->base.line = (struct irq_line){ .set = line_set, .ctx = env->accel };
		k->lapics = lapic_in_accel_create(env, &k->base.mp);
	}
	if (!k || !k->lapics) {
		snprintf(err, errlen, "out of memory");
		kernel_destroy(k ? &k->base : NULL);
		return NULL;
	}
	return &k->base;
}
