/*
 * irqchip_internal.h - what the --irqchip modes share, for the files of irqchip/ only:
 *   - lapic_in_accel.c: the local APICs an accelerator keeps (kernel, split): the MP
 *     interface over its MP state, INIT and SIPI from outside as messages, its APIC's
 *     registers read on the vCPU's thread;
 *   - chipset_owned.c: the PIC, I/O APIC and PIT mpvmm keeps (split, user): created on the
 *     buses with the machine's clock, their timer, their snapshot section.
 */
#ifndef MPVMM_IRQCHIP_INTERNAL_H
#define MPVMM_IRQCHIP_INTERNAL_H

#include "dev/chipset.h"
#include "irqchip/irqchip.h"

/* ---- an accelerator's local APICs (lapic_in_accel.c) ---- */

struct lapic_in_accel;

/* The MP interface over the accelerator's MP state; NULL when out of memory. */
struct lapic_in_accel *lapic_in_accel_create(const struct irqchip_env *env, struct mp **mp);
void lapic_in_accel_destroy(struct lapic_in_accel *l);
void lapic_in_accel_attach(struct lapic_in_accel *l, uint32_t cpu, struct accel_vcpu *av);
/* INIT or SIPI to vCPU `cpu` from outside, as an MSI the accelerator's APIC latches. */
int lapic_in_accel_send(struct lapic_in_accel *l, uint32_t cpu, enum irqchip_ipi kind,
			uint8_t vector);
int lapic_in_accel_read(struct lapic_in_accel *l, uint32_t cpu, struct accel_lapic *out);

/* ---- mpvmm's PIC, I/O APIC and PIT (chipset_owned.c) ---- */

/*
 * Create them on env's buses and clock, their timer on the accelerator's; `outs` gives
 * where their messages (msi), INTR (intr) and pin routes (routes, optional) go, with ctx.
 */
struct chipset *chipset_owned_create(const struct irqchip_env *env,
				     const struct chipset_config *outs);
/* The earliest of the PIT's events and `t`, and the PIT advanced to now. */
uint64_t chipset_owned_next(struct chipset *c, uint64_t t);
int chipset_owned_save(struct chipset *c, struct snap_writer *w, char *err, size_t errlen);
/* Loads the section; refuses a snapshot without it. */
int chipset_owned_load(struct chipset *c, const struct snap_reader *r, char *err,
		       size_t errlen);
/* Refuses a snapshot with the section (the controllers are the accelerator's). */
int chipset_owned_absent(const struct snap_reader *r, char *err, size_t errlen);

#endif
