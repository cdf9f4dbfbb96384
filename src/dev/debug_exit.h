/*
 * debug_exit.h - QEMU's isa-debug-exit device: a guest write of V to the port ends mpvmm
 * with exit status (V << 1) | 1, so test kernels written for QEMU report results unchanged.
 */
#ifndef MPVMM_DEV_DEBUG_EXIT_H
#define MPVMM_DEV_DEBUG_EXIT_H

#include <stdint.h>

#include "dev/bus.h"
#include "dev/device.h"
#include "dev/vm_control.h"

/* The status the device asks for when the guest writes `value` (low 8 bits of it matter). */
int debug_exit_status(uint32_t value);

struct debug_exit;

/* QEMU's isa-debug-exit at its default iobase (--debug-exit PORT moves it). */
#define DEBUG_EXIT_DEFAULT_PORT 0xf4u

struct debug_exit *debug_exit_create(struct bus *pio, uint16_t port,
				     const struct vm_control *ctl);
void debug_exit_destroy(struct debug_exit *d);

/* Its row in the device table (vm/devices.c). */
extern const struct device_desc debug_exit_device;

#endif
