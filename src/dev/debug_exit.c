/*
 * debug_exit.c - see debug_exit.h.  Like QEMU's device, any access width is accepted; the
 * status is computed from the value modulo 256 because a process exit status has 8 bits.
 */
#include "dev/debug_exit.h"

#include <stdio.h>
#include <stdlib.h>

struct debug_exit {
	struct vm_control ctl;
};

int debug_exit_status(uint32_t value)
{
	return (int)((((value & 0xff) << 1) | 1) & 0xff);
}

static void debug_exit_io(void *ctx, const struct bus_access *a)
{
	struct debug_exit *d = ctx;
	uint32_t v = 0;
	char why[64];

	if (!a->write) {
		for (uint32_t i = 0; i < a->size; i++)
			a->data[i] = 0xff;
		return;
	}
	for (uint32_t i = 0; i < a->size && i < 4; i++)
		v |= (uint32_t)a->data[i] << (8 * i);
	snprintf(why, sizeof(why), "guest wrote 0x%x to the debug exit port", v);
	vm_control_stop(&d->ctl, debug_exit_status(v), why);
}

struct debug_exit *debug_exit_create(struct bus *pio, uint16_t port,
				     const struct vm_control *ctl)
{
	struct debug_exit *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->ctl = *ctl;
	if (bus_register(pio, port, 1, debug_exit_io, d, "debug-exit") < 0) {
		free(d);
		return NULL;
	}
	return d;
}

void debug_exit_destroy(struct debug_exit *d)
{
	free(d);
}

/* ---- the device table's row (dev/device.h) ---- */

DEVICE_UNTYPED_DESTROY(debug_exit)

static void *device_create(const struct device_env *env)
{
	return debug_exit_create(env->pio, env->debug_exit_port, env->ctl);
}

const struct device_desc debug_exit_device = {
	.name = "debug exit",
	.snap_id = DEVICE_NOT_SAVED,
	.claims = { { DEVICE_PIO, DEBUG_EXIT_DEFAULT_PORT, 1 } },
	.create = device_create,
	.destroy = debug_exit_untyped_destroy,
};
