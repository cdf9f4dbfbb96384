/*
 * irq.h - how a device raises an interrupt: it drives a line of the platform's interrupt
 * controllers (an ISA IRQ / IOAPIC GSI).  The VM hands each device one of these; where the
 * line goes (KVM_IRQ_LINE into the in-kernel PIC and IOAPIC, or a userspace model) is not
 * the device's business.
 */
#ifndef MPVMM_DEV_IRQ_H
#define MPVMM_DEV_IRQ_H

#include <stdbool.h>

struct irq_line {
	void (*set)(void *ctx, unsigned gsi, bool level);
	void *ctx;
};

static inline void irq_set(const struct irq_line *l, unsigned gsi, bool level)
{
	if (l && l->set)
		l->set(l->ctx, gsi, level);
}

/* An edge: raise then lower, as an ISA device does for an edge-triggered IRQ. */
static inline void irq_pulse(const struct irq_line *l, unsigned gsi)
{
	irq_set(l, gsi, true);
	irq_set(l, gsi, false);
}

#endif
