/*
 * chaos_options.h - the chaos guest's command-line options (--chaos-seconds, --chaos-skip,
 * --chaos-only, with --seed and --debug-exit): parsed into the block the guest reads at
 * boot (boot/selftest.h's struct selftest_chaos).  cli/config.c calls it; it knows nothing
 * of the rest of the command line.
 */
#ifndef MPVMM_CLI_CHAOS_OPTIONS_H
#define MPVMM_CLI_CHAOS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Before a command line: nothing skipped, the default time. */
void chaos_options_reset(void);
/* --chaos-seconds S.  0, or -1 with a reason in err. */
int chaos_options_seconds(const char *arg, char *err, size_t errlen);
/* --chaos-skip KINDS (skip) or --chaos-only KINDS.  0, or -1 naming the unknown kind. */
int chaos_options_kinds(bool skip, const char *arg, char *err, size_t errlen);
/* The command line parsed: hand the options, with the seed and the exit port, to the guest. */
void chaos_options_apply(bool seeded, uint64_t seed, uint16_t debug_exit_port);
/* The kinds, for --help. */
void chaos_options_usage(FILE *out);

#endif
