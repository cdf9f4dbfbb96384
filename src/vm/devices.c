/*
 * devices.c - see devices.h.  The table: the PC platform every guest finds (COM1, the CMOS
 * clock, the keyboard controller, ACPI PM, QEMU's fw_cfg, an empty PCI bus) and the ports
 * of mpvmm's own (the debug exit, the self-test's reports).  The interrupt controllers are
 * not here: they are the --irqchip mode's (irqchip/), created before the devices, whose
 * lines are their inputs.  A new device is its file and one row below.
 */
#include "vm/devices.h"

#include <stdio.h>
#include <stdlib.h>

#include "dev/acpi_pm.h"
#include "dev/debug_exit.h"
#include "dev/fw_cfg.h"
#include "dev/i8042.h"
#include "dev/pci_none.h"
#include "dev/rtc.h"
#include "dev/selftest_port.h"
#include "dev/serial.h"
#include "util/log.h"

static const struct device_desc *const table[] = {
	&serial_device,
	&rtc_device,
	&i8042_device,
	&acpi_pm_device,
	&fw_cfg_device,
	&pci_none_device,
	&debug_exit_device,
	&selftest_port_device,
};
#define NDEVICES (sizeof(table) / sizeof(table[0]))

struct devices {
	void *dev[NDEVICES];
};

const struct device_desc *const *devices_table(size_t *n)
{
	*n = NDEVICES;
	return table;
}

struct devices *devices_create(const struct device_env *env, struct warn_limiter *warn)
{
	struct devices *d = calloc(1, sizeof(*d));

	for (size_t i = 0; d && i < NDEVICES; i++) {
		struct device_env e = *env;
		e.warn = warn_guest;
		e.warn_ctx = warn_source(warn, table[i]->name);
		if (table[i]->wanted && !table[i]->wanted(&e))
			continue;
		d->dev[i] = table[i]->create(&e);
		if (!d->dev[i]) {
			log_error("cannot create the %s (out of memory, or its ports are taken)",
				  table[i]->name);
			devices_destroy(d);
			return NULL;
		}
	}
	return d;
}

void devices_destroy(struct devices *d)
{
	if (!d)
		return;
	for (size_t i = NDEVICES; i-- > 0;)
		if (d->dev[i])
			table[i]->destroy(d->dev[i]);
	free(d);
}

void *devices_get(const struct devices *d, const struct device_desc *row)
{
	for (size_t i = 0; d && i < NDEVICES; i++)
		if (table[i] == row)
			return d->dev[i];
	return NULL;
}

int devices_save(const struct devices *d, struct snap_writer *w, char *err, size_t errlen)
{
	struct snap_enc e = { 0 };

	for (size_t i = 0; i < NDEVICES; i++) {
		if (table[i]->snap_id == DEVICE_NOT_SAVED || !d->dev[i])
			continue;
		if (table[i]->save(d->dev[i], &e) < 0)
			e.oom = true;
		if (snap_put_enc(w, SNAP_SEC_DEVICE, (uint32_t)table[i]->snap_id, &e,
				 table[i]->name, err, errlen) < 0)
			return -1;
	}
	return 0;
}

int devices_load(const struct devices *d, const struct snap_reader *r, char *err,
		 size_t errlen)
{
	struct snap_dec dec;

	for (size_t i = 0; i < NDEVICES; i++) {
		if (table[i]->snap_id == DEVICE_NOT_SAVED || !d->dev[i])
			continue;
		if (!snap_section(r, SNAP_SEC_DEVICE, (uint32_t)table[i]->snap_id, &dec)) {
			snprintf(err, errlen, "the snapshot has no %s state", table[i]->name);
			return -1;
		}
		if (table[i]->load(d->dev[i], &dec, err, errlen) < 0)
			return -1;
	}
	return 0;
}
