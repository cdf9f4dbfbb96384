/*
 * selftest_port.h - the I/O ports through which the built-in self-test guest reports to
 * the VMM (include/mpvmm/selftest_abi.h): each INIT/SIPI step it takes, each AP reporting
 * in, and the final verdict.  It turns them into MP-state trace events and, in step mode,
 * reads and prints the target AP's MP state at every step.
 */
#ifndef MPVMM_DEV_SELFTEST_PORT_H
#define MPVMM_DEV_SELFTEST_PORT_H

#include <stdbool.h>

#include "dev/bus.h"
#include "dev/device.h"
#include "dev/vm_control.h"
#include "mp/mp.h"

struct selftest_port;

/* hold: a passing verdict leaves the VM running (SELFTEST_FLAG_HOLD). */
struct selftest_port *selftest_port_create(struct bus *pio, struct mp *mp,
					   const struct vm_control *ctl, bool step_mode, bool hold);
void selftest_port_destroy(struct selftest_port *p);

/* Name of a step (enum selftest_step), e.g. "after-init". */
const char *selftest_step_name(unsigned step);

/* Its row in the device table (vm/devices.c). */
extern const struct device_desc selftest_port_device;

#endif
