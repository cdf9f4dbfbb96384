/*
 * split.c - --irqchip split: the local APICs, and so every vCPU's MP state, are the
 * accelerator's (KVM_CAP_SPLIT_IRQCHIP); the PIC pair, I/O APIC and PIT are mpvmm's
 * (dev/chipset.h, on host time).  The I/O APIC's messages go to the accelerator's APICs
 * (accel msi), its pins are mirrored as the accelerator's MSI routes so that they report the
 * EOI of a level-triggered vector (ACCEL_EXIT_EOI, back to the I/O APIC), and the 8259A's
 * INTR goes to the BSP only, as QEMU wires it: injected as an ExtINT before the BSP's next
 * entry, once its local APIC takes one, else after an interrupt window.
 */
#include "irqchip/irqchip_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct split_chip {
	struct irqchip base;
	struct accel *accel;
	struct vm_control ctl;
	struct lapic_in_accel *lapics;
	struct chipset *chipset;
	struct accel_vcpu **vcpus;
	uint32_t n, bsp;
	void (*warn)(void *source, const char *msg); /* the guest's mistakes, rate-limited */
	void *warn_source;
};

static struct split_chip *of(struct irqchip *ic)
{
	return (struct split_chip *)ic;
}

/* An I/O APIC message, to the accelerator's local APICs. */
static void out_msi(void *ctx, const struct ioapic_msi *m)
{
	struct split_chip *s = ctx;
	const struct accel_msi am = { .address = m->address, .data = m->data };

	/*
	 * KVM refuses a message no local APIC takes (EPERM: "no destination", as an LDR the
	 * guest left empty can make it): the guest's mistake, said within its budget.
	 */
	if (s->accel->vm->msi(s->accel, &am) < 0) {
		char msg[160];
		snprintf(msg, sizeof(msg), "I/O APIC message (address %#llx, data %#x) was not "
			 "delivered: KVM_SIGNAL_MSI: %s", (unsigned long long)m->address, m->data,
			 strerror(errno));
		s->warn(s->warn_source, msg);
	}
}

/* The 8259A's INTR: the BSP leaves the guest to take it at its next entry (split_enter). */
static void out_intr(void *ctx, bool level)
{
	struct split_chip *s = ctx;
	struct accel_vcpu *bsp = s->bsp < s->n ? s->vcpus[s->bsp] : NULL;

	if (level && bsp)
		s->accel->cpu->kick(bsp);
}

/* The accelerator's APICs learn which vectors are the I/O APIC's, and how they trigger. */
static void out_routes(void *ctx, const struct ioapic_msi m[IOAPIC_PINS])
{
	struct split_chip *s = ctx;
	struct accel_msi am[IOAPIC_PINS];

	if (!s->accel->vm->msi_routes)
		return;
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		am[i] = (struct accel_msi){ .address = m[i].address, .data = m[i].data };
	s->accel->vm->msi_routes(s->accel, am, IOAPIC_PINS);
}

static void split_fit_platform(struct platform *p)
{
	p->ioapic_version = PLATFORM_IOAPIC_VERSION_MPVMM;
}

static void split_destroy(struct irqchip *ic)
{
	struct split_chip *s = of(ic);

	if (!s)
		return;
	chipset_destroy(s->chipset);
	lapic_in_accel_destroy(s->lapics);
	free(s->vcpus);
	free(s);
}

static struct irqchip *split_create(const struct irqchip_env *env, char *err, size_t errlen);

static void split_attach(struct irqchip *ic, uint32_t cpu, struct accel_vcpu *av)
{
	struct split_chip *s = of(ic);

	lapic_in_accel_attach(s->lapics, cpu, av);
	if (cpu < s->n)
		s->vcpus[cpu] = av;
}

/*
 * The BSP before each entry: the 8259A's INTR is injected as an ExtINT (KVM_INTERRUPT) once
 * the accelerator's local APIC would take it, else an interrupt window is asked for.
 */
static bool split_enter(struct irqchip *ic, uint32_t cpu)
{
	struct split_chip *s = of(ic);
	const struct accel_cpu_ops *ops = s->accel->cpu;
	struct accel_vcpu *av = s->vcpus[cpu];

	if (cpu != s->bsp || !chipset_intr(s->chipset) || !ops->interrupt_window(av, true))
		return true;
	if (ops->interrupt(av, (uint8_t)chipset_ack(s->chipset), false) == 0)
		return true;
	char why[96];
	snprintf(why, sizeof(why), "vCPU %u: cannot inject the 8259A's interrupt", cpu);
	vm_control_stop(&s->ctl, VM_CONTROL_VMM_ERROR, why);
	return false;
}

/* The EOI of a level-triggered vector from mpvmm's I/O APIC, reported by the accelerator. */
static bool split_exit(struct irqchip *ic, uint32_t cpu, const struct accel_exit *e)
{
	(void)cpu;
	if (e->kind != ACCEL_EXIT_EOI)
		return false;
	chipset_eoi(of(ic)->chipset, e->eoi.vector);
	return true;
}

static uint64_t machine_next(void *ctx)
{
	return chipset_owned_next(ctx, ACCEL_NO_EVENT);
}

static void machine_advance(void *ctx, uint64_t now_ns)
{
	chipset_advance(ctx, now_ns);
}

static bool split_machine(struct irqchip *ic, struct accel_machine *m)
{
	*m = (struct accel_machine){ .next_event = machine_next, .advance = machine_advance,
				     .ctx = of(ic)->chipset };
	return true;
}

static int split_send(struct irqchip *ic, uint32_t cpu, enum irqchip_ipi kind, uint8_t vector)
{
	return lapic_in_accel_send(of(ic)->lapics, cpu, kind, vector);
}

static int split_lapic(struct irqchip *ic, uint32_t cpu, struct accel_lapic *out)
{
	return lapic_in_accel_read(of(ic)->lapics, cpu, out);
}

static int split_save(struct irqchip *ic, struct snap_writer *w, char *err, size_t errlen)
{
	return chipset_owned_save(of(ic)->chipset, w, err, errlen);
}

static int split_load(struct irqchip *ic, const struct snap_reader *r, char *err,
		      size_t errlen)
{
	return chipset_owned_load(of(ic)->chipset, r, err, errlen);
}

const struct irqchip_mode irqchip_split = {
	.name = "split",
	.snapshot_id = 1,
	.accel_lapic = true,
	.fit_platform = split_fit_platform,
	.create = split_create,
	.destroy = split_destroy,
	.attach = split_attach,
	.enter = split_enter,
	.exit = split_exit,
	.machine = split_machine,
	.send = split_send,
	.lapic = split_lapic,
	.save = split_save,
	.load = split_load,
};

static struct irqchip *split_create(const struct irqchip_env *env, char *err, size_t errlen)
{
	struct split_chip *s = calloc(1, sizeof(*s));
	uint32_t n = env->plat->topo.cpus;

	if (!s || !(s->vcpus = calloc(n, sizeof(*s->vcpus)))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base.mode = &irqchip_split;
	s->accel = env->accel;
	s->ctl = env->ctl;
	s->n = n;
	s->bsp = env->boot_cpu;
	s->warn = env->warn;
	s->warn_source = env->warn_source(env->warn_ctx, "I/O APIC messages");
	s->lapics = lapic_in_accel_create(env, &s->base.mp);
	const struct chipset_config outs = { .msi = out_msi, .intr = out_intr,
					     .routes = out_routes, .ctx = s };
	s->chipset = s->lapics ? chipset_owned_create(env, &outs) : NULL;
	if (!s->chipset) {
		snprintf(err, errlen, "cannot create the interrupt controllers (out of memory?)");
		split_destroy(&s->base);
		return NULL;
	}
	s->base.line = chipset_line(s->chipset);
	return &s->base;
}
