/*
 * accels.h - the accelerators --accel chooses from, as a table (accels.c): their names, what
 * each refuses to run, and how each is opened.  --accel auto takes the first this host has;
 * a new accelerator is its folder under accel/ and one row there.
 */
#ifndef MPVMM_VM_ACCELS_H
#define MPVMM_VM_ACCELS_H

#include <stdbool.h>

#include "accel/accel.h"
#include "vm/vm_config.h"

/* "kvm, soft or auto": what --accel takes. */
const char *vm_accel_names(void);
/* NULL (auto) or the name of a row. */
bool vm_accel_known(const char *name);
/* The row's own name (static storage), or NULL when there is no such row. */
const char *vm_accel_find(const char *name);
/* What the accelerator `name` cannot run, whatever the host (one line in err): -1, else 0. */
int vm_accel_refuses(const struct vm_config *cfg, const char *name, char *err, size_t errlen);
/*
 * The accelerator cfg->accel names, or with auto the first this host has, said in one
 * line.  NULL with the exit status in *status (the reason was logged): VM_STATUS_USAGE for
 * what the accelerator refuses to run, VM_STATUS_NO_KVM when the host has none of it.
 */
struct accel *vm_accel_open(const struct vm_config *cfg, int *status);
/*
 * Before a jail: what the accelerator `name` (NULL: auto, the first this host has) needs
 * from the host's filesystem, taken now, so that vm_accel_open works inside the jail.
 * Returns 0, or -1 with the exit status in *status (the reason was logged).
 */
int vm_accel_prepare(const char *name, int *status);

#endif
