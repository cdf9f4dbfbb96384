/*
 * guests.h - the guests built into the mpvmm binary (guest/, included by guest_blobs.S),
 * found by name for `--guest NAME`.  Each is a flat image entered in 64-bit mode with the
 * self-test boot contract (include/mpvmm/selftest_abi.h).
 */
#ifndef MPVMM_BOOT_GUESTS_H
#define MPVMM_BOOT_GUESTS_H

#include <stddef.h>
#include <stdint.h>

struct embedded_guest {
	const char *name;
	const char *what;
	const uint8_t *image;
	size_t size;
};

/* NULL if there is no such guest. */
const struct embedded_guest *embedded_guest_find(const char *name);

/* The i-th guest (for listing), or NULL past the end. */
const struct embedded_guest *embedded_guest_at(size_t i);

#endif
