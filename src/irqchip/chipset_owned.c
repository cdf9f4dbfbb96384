/*
 * chipset_owned.c - the PIC, I/O APIC and PIT where mpvmm keeps them (--irqchip split and
 * user): dev/chipset on the VM's buses, its PIT on the accelerator's clock and timers, and
 * its snapshot section.  Where its messages and INTR go is the mode's business.
 */
#include "irqchip/irqchip_internal.h"

#include <stdio.h>

static uint64_t clock_now(void *ctx)
{
	struct accel *a = ctx;

	return a->vm->now_ns(a);
}

/* The PIT's next event moved: the accelerator's timers look again. */
static void timer_changed(void *ctx)
{
	struct accel *a = ctx;

	if (a->vm->timers_changed)
		a->vm->timers_changed(a);
}

struct chipset *chipset_owned_create(const struct irqchip_env *env,
				     const struct chipset_config *outs)
{
	struct chipset_config c = *outs;

	c.pio = env->pio;
	c.mmio = env->mmio;
	c.ioapic_id = env->plat->ioapic_id;
	c.now_ns = clock_now;
	c.clock_ctx = env->accel;
	c.timer_changed = timer_changed;
	c.timer_ctx = env->accel;
	c.warn = env->warn;
	c.warn_ctx = env->warn_source(env->warn_ctx, "PIC, I/O APIC, PIT");
	return chipset_create(&c);
}

uint64_t chipset_owned_next(struct chipset *c, uint64_t t)
{
	uint64_t p = chipset_next_event(c);

	return p < t ? p : t;
}

int chipset_owned_save(struct chipset *c, struct snap_writer *w, char *err, size_t errlen)
{
	struct snap_enc e = { 0 };

	if (chipset_save(c, &e) < 0)
		e.oom = true;
	return snap_put_enc(w, SNAP_SEC_DEVICE, CHIPSET_SNAP_ID, &e, "interrupt controllers",
			    err, errlen);
}

/*
 * First of the devices' state (their IRQ lines are its inputs), on the clock the
 * accelerator's VM state restored.
 */
int chipset_owned_load(struct chipset *c, const struct snap_reader *r, char *err,
		       size_t errlen)
{
	struct snap_dec d;

	if (!snap_section(r, SNAP_SEC_DEVICE, CHIPSET_SNAP_ID, &d)) {
		snprintf(err, errlen, "the snapshot has no state for mpvmm's interrupt controllers "
			 "(PIC, I/O APIC, PIT)");
		return -1;
	}
	return chipset_load(c, &d, err, errlen);
}

int chipset_owned_absent(const struct snap_reader *r, char *err, size_t errlen)
{
	struct snap_dec d;

	if (!snap_section(r, SNAP_SEC_DEVICE, CHIPSET_SNAP_ID, &d))
		return 0;
	snprintf(err, errlen, "the snapshot has state for mpvmm's interrupt controllers, but this "
		 "VM does not keep them (they are the accelerator's)");
	return -1;
}
