/*
 * smp.h - bringing the APs up (BSP side, smp.c) and what each AP runs (ap.c).
 */
#ifndef SELFTEST_SMP_H
#define SELFTEST_SMP_H

/*
 * Start every other MADT processor with INIT-SIPI-SIPI, wait for their reports, check them.
 * Ends the test: PASS or FAIL.
 */
__attribute__((noreturn)) void smp_boot_aps(void);

/* The AP's 64-bit C entry, called by the trampoline on the AP's own stack. */
__attribute__((noreturn)) void ap_main(void);

#endif
