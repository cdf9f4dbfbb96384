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

#endif
