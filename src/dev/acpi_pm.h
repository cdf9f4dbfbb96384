/*
 * acpi_pm.h - the ACPI fixed-feature PM1a registers the FADT of x86/acpi.c points at
 * (ACPI 6.4, 4.8.3.1 and 4.8.3.2): PM1_STS and PM1_EN at ACPI_PM1A_EVT_PORT, PM1_CNT at
 * ACPI_PM1A_CNT_PORT.
 *
 * There is no SMI command port, so the machine is always in ACPI mode: PM1_CNT.SCI_EN reads
 * 1.  Writing SLP_EN with SLP_TYP = ACPI_S5_SLP_TYP (the DSDT's \_S5) powers off: the VM is
 * stopped with status 0.  Other sleep states are logged and ignored.  The SCI (ACPI_SCI_IRQ,
 * level, active high) follows PM1_STS & PM1_EN; nothing in mpvmm raises a PM1 event yet but
 * whoever owns one can, through acpi_pm_event.  The device knows nothing of the VM: power
 * off is a stop request through vm_control.
 */
#ifndef MPVMM_DEV_ACPI_PM_H
#define MPVMM_DEV_ACPI_PM_H

#include <stdint.h>

#include "dev/bus.h"
#include "dev/device.h"
#include "dev/irq.h"
#include "dev/vm_control.h"
#include "snapshot/snapfile.h"

/* PM1_STS / PM1_EN bits (ACPI 6.4, tables 4.16 and 4.17). */
#define ACPI_PM1_TMR        (1u << 0)
#define ACPI_PM1_GBL        (1u << 5)
#define ACPI_PM1_PWRBTN     (1u << 8)
#define ACPI_PM1_SLPBTN     (1u << 9)
#define ACPI_PM1_RTC        (1u << 10)
#define ACPI_PM1_WAK_STS    (1u << 15)

struct acpi_pm;

struct acpi_pm *acpi_pm_create(struct bus *pio, const struct vm_control *ctl,
			       const struct irq_line *irq);
/* Hardware sets PM1_STS bits (e.g. a power button press); the SCI follows. */
void acpi_pm_event(struct acpi_pm *pm, uint16_t sts_bits);
void acpi_pm_destroy(struct acpi_pm *pm);

/*
 * Snapshots: append the device's guest-visible state / put it back (on a device built with
 * the same configuration; the VM is paused).  load returns 0, or -1 with a reason in err.
 */
int acpi_pm_save(struct acpi_pm *pm, struct snap_enc *e);
int acpi_pm_load(struct acpi_pm *pm, struct snap_dec *d, char *err, size_t errlen);

/* Its row in the device table (vm/devices.c). */
extern const struct device_desc acpi_pm_device;

#endif
