/*
 * mistakes.h - SELFTEST_FLAG_MISTAKES: after bring-up the BSP makes the MP-protocol and
 * local APIC mistakes a VMM must report and survive (mistakes.c).
 */
#ifndef SELFTEST_MISTAKES_H
#define SELFTEST_MISTAKES_H

/* BSP, after every AP reported: make them, then print one "selftest: mistakes made" line. */
void mistakes_make(void);

#endif
