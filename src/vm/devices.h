/*
 * devices.h - the machine's devices, from the table in devices.c of what each declares of
 * itself (dev/device.h): created in the table's order on the buses, destroyed in reverse,
 * saved and loaded by their snapshot sections.  The VM holds one struct devices and finds a
 * device by its row (the console reads COM1).
 */
#ifndef MPVMM_VM_DEVICES_H
#define MPVMM_VM_DEVICES_H

#include <stddef.h>

#include "dev/device.h"
#include "snapshot/snapfile.h"
#include "vm/warn.h"

struct devices;

/*
 * Every device of the table this machine has (its `wanted`), each with a budget of its own
 * for the guest's mistakes in `warn`; NULL when one cannot be created (its name is logged).
 */
struct devices *devices_create(const struct device_env *env, struct warn_limiter *warn);
void devices_destroy(struct devices *d);
/* The device of this row, or NULL (not on this machine). */
void *devices_get(const struct devices *d, const struct device_desc *row);
/* Each device's section (SNAP_SEC_DEVICE, its snap_id).  0, or -1 with a reason in err. */
int devices_save(const struct devices *d, struct snap_writer *w, char *err, size_t errlen);
/* Each device's section back; a missing one is refused.  0, or -1 with a reason in err. */
int devices_load(const struct devices *d, const struct snap_reader *r, char *err,
		 size_t errlen);
/* The table itself (its tests walk it). */
const struct device_desc *const *devices_table(size_t *n);

#endif
