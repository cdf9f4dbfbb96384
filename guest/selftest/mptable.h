/*
 * mptable.h - the guest's own reading of the Intel MultiProcessor Specification 1.4 table,
 * cross-checked against the processors read from the MADT (g.cpus).
 */
#ifndef SELFTEST_MPTABLE_H
#define SELFTEST_MPTABLE_H

#include <stdbool.h>
#include <stdint.h>

/*
 * expected: the platform must have an MP table (every APIC ID < 255, xAPIC mode).  Then
 * find it, verify it, and check it lists the MADT's processors with the BP flag on g.cpus[0];
 * otherwise check that no valid floating pointer exists.  Ends the test with FAIL on error.
 */
void mptable_check(bool expected, uint64_t mem_size);

#endif
