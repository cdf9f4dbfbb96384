/*
 * config.h - what the user asked for: the command line of `mpvmm run` and `mpvmm restore`,
 * turned into a struct vm_config (vm/vm_config.h), every error one line naming the option.
 * Knows nothing of KVM; limits that depend on the host (KVM's maximum vCPU count) are
 * checked later by vm.c.
 */
#ifndef MPVMM_CONFIG_H
#define MPVMM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "vm/vm_config.h"

enum config_result {
	CONFIG_OK = 0,
	CONFIG_HELP = 1,    /* --help: usage printed, exit 0 */
	CONFIG_VERSION = 2, /* --version */
	CONFIG_ERROR = -1,  /* reason in err */
};

/*
 * Parse the options of `mpvmm run` (argv[0] is the first option, not the program name).
 * Every error is one line in err naming the option and the bad value.
 */
enum config_result config_parse_run(int argc, char *const argv[], struct vm_config *cfg,
				    char *err, size_t errlen);

/*
 * Parse a size: a number with an optional K, M, G or T suffix (binary units, case
 * insensitive, optional trailing B as in "256MB"); a bare number means MiB, as in QEMU's -m.
 */
int config_parse_size(const char *s, uint64_t *out, char *err, size_t errlen);

/* Parse an unsigned decimal or 0x-prefixed number no larger than max. */
int config_parse_uint(const char *s, uint64_t max, uint64_t *out);

void config_usage(FILE *out);

/* `mpvmm restore SNAPSHOT [options]`: what this process adds to the saved VM. */
struct config_restore {
	const char *snapshot;
	const char *memory_file; /* --memory-file, or NULL: the one the snapshot names */
	struct vm_config local;  /* --api, --trace, --timeline, --quiet, --accel */
};
enum config_result config_parse_restore(int argc, char *const argv[], struct config_restore *r,
					char *err, size_t errlen);
void config_restore_usage(FILE *out);

#endif
