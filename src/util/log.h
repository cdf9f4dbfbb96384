/*
 * log.h - one-line messages from the VMM to stderr, each prefixed "mpvmm: ".
 *
 * Guest output goes to stdout through the serial device; everything the VMM itself says
 * goes through here so the two never mix within a line.
 */
#ifndef MPVMM_LOG_H
#define MPVMM_LOG_H

#include <stdarg.h>

__attribute__((format(printf, 1, 2))) void log_info(const char *fmt, ...);
/* Always printed, even with --quiet: output the user asked for (e.g. --selftest-step). */
__attribute__((format(printf, 1, 2))) void log_print(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void log_warn(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void log_error(const char *fmt, ...);

/* Silence log_info (warnings and errors are always printed). */
void log_set_quiet(int quiet);

#endif
