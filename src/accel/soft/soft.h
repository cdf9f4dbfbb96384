/*
 * soft.h - the software CPU (accel.h's interfaces over Unicorn 2.0.1): how it is opened.
 * The rest of accel/soft/ is its own business.
 */
#ifndef MPVMM_ACCEL_SOFT_H
#define MPVMM_ACCEL_SOFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/accel.h"

/*
 * Open the software CPU (Unicorn).  With `seeded`, the order of turns and their lengths are a
 * function of `seed`, and the guest clock counts instructions; otherwise round robin.
 */
struct accel *accel_soft_open(bool seeded, uint64_t seed, char *err, size_t errlen);

/* Load Unicorn now, before a jail hides the host's libraries.  0, or -1 with a reason. */
int accel_soft_prepare(char *err, size_t errlen);

#endif
