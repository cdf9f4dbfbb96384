/*
 * trap.h - exceptions in the insn guest: every one is recorded (vector, error code, RIP,
 * CR2); a fault a test expects resumes at the address the test armed; any other fault
 * fails the run.  INT3, INT1 and INT INSN_TEST_VECTOR simply return after the record.
 */
#ifndef INSN_TRAP_H
#define INSN_TRAP_H

#define INSN_TEST_VECTOR 64 /* the vector the INT n case raises */

#ifndef __ASSEMBLER__
#include <stdint.h>

struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

struct trap_record {
	uint64_t count;  /* exceptions and interrupts taken so far */
	uint64_t vector;
	uint64_t error;
	uint64_t rip;    /* saved RIP: the faulting instruction, or the one after a trap */
	uint64_t cr2;
};

extern volatile struct trap_record last_trap;
/* Where the next fault resumes (0: a fault is unexpected and ends the run). */
extern volatile uint64_t trap_resume;

void trap_init(void);
/* A 64-bit interrupt gate to `handler`; dpl 3 lets INT n reach it from CPL 3. */
void trap_set_gate(unsigned vec, uint64_t handler, unsigned dpl);
void trap_handler(struct trap_frame *f);
#endif

#endif
