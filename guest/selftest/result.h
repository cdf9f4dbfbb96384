/*
 * result.h - how the test ends: "selftest: PASS ..." and a 0 on SELFTEST_PORT_RESULT, or
 * "selftest: FAIL ..." lines and a SELFTEST_FAIL_* code; then the CPU halts for good.
 */
#ifndef SELFTEST_RESULT_H
#define SELFTEST_RESULT_H

#include <stdint.h>

#include "mpvmm/selftest_abi.h"

/* Print "selftest: FAIL <message>" without ending the test (several findings in a row). */
void fail_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Report `code` on SELFTEST_PORT_RESULT and halt forever. */
__attribute__((noreturn)) void fail_end(enum selftest_fail code);

/* fail_line + fail_end. */
__attribute__((noreturn)) void fail(enum selftest_fail code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Print "selftest: PASS cpus=<ncpus> bsp=<uid>", report 0, halt forever. */
__attribute__((noreturn)) void pass(uint32_t ncpus, uint32_t bsp_uid);

#endif
