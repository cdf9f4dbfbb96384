/*
 * accel.c - accelerator-neutral helpers shared by every backend.
 */
#include "accel/accel.h"

const char *accel_exit_name(enum accel_exit_kind k)
{
	static const char *const names[ACCEL_EXIT_KINDS] = {
		"io", "mmio", "hlt", "shutdown", "system-event", "internal-error",
		"fail-entry", "interrupted", "other", "exception", "eoi", "rdmsr", "wrmsr", "debug",
	};

	return (unsigned)k < ACCEL_EXIT_KINDS ? names[k] : "?";
}
