/*
 * irq.h - SELFTEST_FLAG_IRQ: the BSP checks the PC's interrupt controllers the way an OS
 * uses them (irq.c), and the interrupt handlers of those checks (stubs in isr.S).
 */
#ifndef SELFTEST_IRQ_H
#define SELFTEST_IRQ_H

/*
 * BSP, after every AP reported: the PIT through the I/O APIC (edge), COM1 through the I/O
 * APIC (level-triggered: remote IRR and EOI), the PIT through the 8259A and LINT0 (ExtINT).
 * Prints one "selftest: interrupts ok ..." line, or ends the test with FAIL.  Leaves every
 * source quiet and masked.
 */
void irq_check(void);

/* C side of the handlers (isr.S). */
void irq_pit_ioapic(void);
void irq_com1(void);
void irq_pic_pit(void);
void irq_pic_spurious(void);

#endif
