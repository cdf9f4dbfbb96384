/*
 * trap.h - the chaos guest's IDT and what it does with every vector: an NMI is counted; a
 * fault the guest expects (a refused MSR) resumes past the instruction; any other exception
 * starts the CPU's loop over on a fresh stack; an interrupt is counted and EOIed, and a
 * storm of them is cut off at the end of the STI window it came in.  Nothing stops a CPU.
 */
#ifndef CHAOS_TRAP_H
#define CHAOS_TRAP_H

#include <stdint.h>

struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

/* Interrupts one STI window may take before IF is left clear on return (a storm's end). */
#define WINDOW_IRQS_MAX 8u

/* BSP, once: fill the 256 gates. */
void trap_init(void);
/* Every CPU: load IDTR. */
void trap_load(void);

/* RDMSR/WRMSR that return -1 instead of faulting (isr.S). */
int msr_write_safe(uint32_t msr, uint64_t value);
int msr_read_safe(uint32_t msr, uint64_t *value);

/* isr.S calls these. */
void chaos_trap(struct trap_frame *f);
__attribute__((noreturn)) void chaos_resume_c(void);

#endif
