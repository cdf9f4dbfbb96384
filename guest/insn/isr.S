/*
 * isr.S - exception entry stubs of the insn guest (trap.c fills the IDT): vectors 0-31 and
 * the software-interrupt vector INSN_TEST_VECTOR.  Every stub builds one frame (struct
 * trap_frame in trap.h: the 15 general registers, vector, error code, then what the CPU
 * pushed, Intel SDM Vol. 3A, 6.14.2), calls trap_handler, which may change the saved RIP to
 * resume a test after an expected fault, and returns with IRETQ.
 */
#include "trap.h"

	.text
	.code64

/* Vectors whose exceptions push an error code (SDM Vol. 3A, Table 6-1). */
#define HAS_ERR(v) ((v) == 8 || (v) == 10 || (v) == 11 || (v) == 12 || (v) == 13 || \
		    (v) == 14 || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

	.macro STUB vec
	.balign 16
trap_stub_\vec:
	.if !HAS_ERR(\vec)
	pushq	$0				/* uniform frame: a dummy error code */
	.endif
	pushq	$\vec
	jmp	trap_common
	.endm

#define VECTORS 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15, \
		16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,INSN_TEST_VECTOR

	.irp	v, VECTORS
	STUB	\v
	.endr

trap_common:
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi			/* 22 quadwords since the 16-aligned entry RSP */
	cld
	call	trap_handler
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp			/* vector, error code */
	iretq

	.section .rodata
	.balign 8
	.globl	trap_stubs
trap_stubs:					/* stub addresses, in VECTORS order */
	.irp	v, VECTORS
	.quad	trap_stub_\v
	.endr

	.section .note.GNU-stack, "", @progbits
