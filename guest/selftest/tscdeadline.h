/*
 * tscdeadline.h - SELFTEST_FLAG_IRQ, after irq.c: the local APIC timer's TSC-deadline mode
 * (Intel SDM Vol. 3A, 10.5.4.1), where CPUID.01H:ECX.TSC_Deadline[bit 24] offers it.
 */
#ifndef SELFTEST_TSCDEADLINE_H
#define SELFTEST_TSCDEADLINE_H

/*
 * BSP, its periodic timer running: a deadline ahead fires once and not before it (and reads
 * back until then, 0 after), a deadline already passed fires at once, writing 0 disarms.
 * Prints one "selftest: tsc-deadline timer ..." line (or "... not offered"), or ends the
 * test with FAIL; the periodic timer runs again afterwards.
 */
void tsc_deadline_check(void);

/* C side of the handler (isr.S). */
void irq_tsc_deadline(void);

#endif
