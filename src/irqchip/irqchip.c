/*
 * irqchip.c - the table of --irqchip modes (irqchip.h) and the choice of one for an
 * accelerator: a new mode is a file of its own and one row here.
 */
#include "irqchip/irqchip.h"

#include <stdio.h>
#include <string.h>

#include "util/words.h"

extern const struct irqchip_mode irqchip_kernel, irqchip_split, irqchip_user;

/* In order of preference: an accelerator's default is the first it can give. */
static const struct irqchip_mode *const modes[] = {
	&irqchip_kernel,
	&irqchip_split,
	&irqchip_user,
};
#define NMODES (sizeof(modes) / sizeof(modes[0]))

static bool can_give(const struct irqchip_mode *m, const struct accel_caps *caps)
{
	return !m->accel_lapic || caps->lapic;
}

const struct irqchip_mode *irqchip_mode_find(const char *name)
{
	for (size_t i = 0; name && i < NMODES; i++)
		if (!strcmp(modes[i]->name, name))
			return modes[i];
	return NULL;
}

const struct irqchip_mode *irqchip_mode_by_snapshot_id(uint32_t id)
{
	for (size_t i = 0; i < NMODES; i++)
		if (modes[i]->snapshot_id == id)
			return modes[i];
	return NULL;
}

const char *irqchip_mode_names(void)
{
	static char names[64];
	const char *w[NMODES];

	for (size_t i = 0; i < NMODES; i++)
		w[i] = modes[i]->name;
	return words_or(names, sizeof(names), w, NMODES);
}

const struct irqchip_mode *irqchip_mode_choose(const char *name, const struct accel_caps *caps,
					       char *err, size_t errlen)
{
	const struct irqchip_mode *m = name ? irqchip_mode_find(name) : NULL;

	if (name && !m) {
		snprintf(err, errlen, "--irqchip '%s': use %s", name, irqchip_mode_names());
		return NULL;
	}
	for (size_t i = 0; !m && i < NMODES; i++)
		if (can_give(modes[i], caps))
			m = modes[i];
	if (!can_give(m, caps)) {
		snprintf(err, errlen, "--irqchip %s: %s keeps no interrupt controller of its own; "
			 "it runs --irqchip user", m->name, caps->what);
		return NULL;
	}
	return m;
}

void irqchip_vm_params(const struct irqchip_mode *m, const struct accel_caps *caps,
		       struct accel_vm_params *p)
{
	p->lapic = m->accel_lapic;
	p->chipset = m->accel_chipset;
	p->apic_msr_exits = m->apic_msrs && caps->msr_exits;
}
