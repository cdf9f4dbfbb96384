/*
 * kvm.h - the KVM accelerator (accel.h's interfaces over /dev/kvm): how it is opened.  The
 * rest of accel/kvm/ is its own business.
 */
#ifndef MPVMM_ACCEL_KVM_H
#define MPVMM_ACCEL_KVM_H

#include <stdbool.h>
#include <stddef.h>

#include "accel/accel.h"

/*
 * Open KVM (/dev/kvm).  NULL with a reason in err; *absent is set when this host has no
 * usable KVM (no /dev/kvm, not a KVM device), as opposed to a KVM that failed.
 */
struct accel *accel_kvm_open(bool *absent, char *err, size_t errlen);

/*
 * What accel_kvm_open needs from the host's filesystem, taken now, before a jail hides it:
 * /dev/kvm kept open (util/hostfile.h), whether KVM emulates guest code.  0, or -1 with a
 * reason in err and *absent set (no /dev/kvm that opens).
 */
int accel_kvm_prepare(bool *absent, char *err, size_t errlen);

#endif
