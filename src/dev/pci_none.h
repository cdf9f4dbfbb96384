/*
 * pci_none.h - PCI configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2) on a machine
 * with no PCI devices: CONFIG_ADDRESS at 0xCF8 (32-bit, reads back), CONFIG_DATA at
 * 0xCFC-0xCFF (reads all ones: no function answers at any bus/device/function; writes are
 * dropped).  So a guest's PCI probe finds the mechanism, and nothing behind it, at once.
 *
 * The range also holds the chipset's reset control register at 0xCF9 (as the PIIX3 and ICH
 * have it): a write with bit 2 (RST_CPU) set resets the machine through vm_control.  The
 * device knows nothing of the VM beyond that request.
 */
#ifndef MPVMM_DEV_PCI_NONE_H
#define MPVMM_DEV_PCI_NONE_H

#include <stdint.h>

#include "dev/bus.h"
#include "dev/device.h"
#include "dev/vm_control.h"
#include "snapshot/snapfile.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_RESET_CONTROL  0xcf9
#define PCI_CONFIG_DATA    0xcfc

struct pci_none;

struct pci_none *pci_none_create(struct bus *pio, const struct vm_control *ctl);
/* The CONFIG_ADDRESS value the guest last wrote (reserved bits read as 0). */
uint32_t pci_none_address(struct pci_none *p);
void pci_none_destroy(struct pci_none *p);

/*
 * Snapshots: append the device's guest-visible state / put it back (on a device built with
 * the same configuration; the VM is paused).  load returns 0, or -1 with a reason in err.
 */
int pci_none_save(struct pci_none *p, struct snap_enc *e);
int pci_none_load(struct pci_none *p, struct snap_dec *d, char *err, size_t errlen);

/* Its row in the device table (vm/devices.c). */
extern const struct device_desc pci_none_device;

#endif
