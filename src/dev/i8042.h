/*
 * i8042.h - the PC/AT keyboard controller (Intel 8042, as IBM's PC/AT Technical Reference
 * describes its firmware): data port 0x60, status/command port 0x64.  No keyboard and no
 * mouse are attached; the controller itself answers what Linux's i8042 driver asks (command
 * byte, self-tests, port enables, AUX loopback with its IRQ 12) and, above all, carries the
 * CPU reset line: command 0xFE (pulse output port bit 0) or an output port write with bit 0
 * clear resets the machine through vm_control (ACPI_RESET_PORT/VALUE in the FADT point here).
 *
 * IRQ 1 and IRQ 12 follow "output buffer full" for keyboard and AUX data when the command
 * byte enables them, as the 8042's OBF pins do.  The controller knows nothing of vCPUs or
 * of what a reset does: it asks vm_control, and the VM decides (restart or exit).
 */
#ifndef MPVMM_DEV_I8042_H
#define MPVMM_DEV_I8042_H

#include <stdint.h>

#include "dev/bus.h"
#include "dev/device.h"
#include "dev/irq.h"
#include "dev/vm_control.h"
#include "snapshot/snapfile.h"

#define I8042_DATA_PORT    0x60
#define I8042_COMMAND_PORT 0x64
#define I8042_KBD_GSI      1
#define I8042_AUX_GSI      12

struct i8042;

struct i8042 *i8042_create(struct bus *pio, const struct vm_control *ctl,
			   const struct irq_line *irq);
void i8042_destroy(struct i8042 *k);

/*
 * Snapshots: append the device's guest-visible state / put it back (on a device built with
 * the same configuration; the VM is paused).  load returns 0, or -1 with a reason in err.
 */
int i8042_save(struct i8042 *k, struct snap_enc *e);
int i8042_load(struct i8042 *k, struct snap_dec *d, char *err, size_t errlen);

/* Its row in the device table (vm/devices.c). */
extern const struct device_desc i8042_device;

#endif
