/*
 * idt.h - the guest's 64-bit IDT: exceptions 0-31 report FAIL and halt; VEC_AP_REPORTED
 * and VEC_TIMER wake the waiting BSP; VEC_SPURIOUS is ignored; irq.c's vectors count their
 * interrupts.  Shared by all CPUs.
 */
#ifndef SELFTEST_IDT_H
#define SELFTEST_IDT_H

/* BSP, once: fill the gates. */
void idt_init(void);

/* Every CPU: load IDTR. */
void idt_load(void);

#endif
