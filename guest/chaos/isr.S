/*
 * isr.S - the chaos guest's entry points below C: one stub per vector (all 256: whatever a
 * chaotic APIC, I/O APIC or 8259A delivers lands somewhere), the common frame (struct
 * trap_frame, trap.h), RDMSR/WRMSR that survive a #GP (their fault addresses are in
 * chaos_extable, which trap.c searches), the loop's restart point and a stack switch.
 */
#include "gdt.h"

	.text
	.code64

/*
 * One stub per vector: push the vector, join isr_common.  16 bytes each, so that the gate
 * of vector v is isr_stubs + 16 * v.
 */
	.macro STUB vec
	.balign 16
	pushq	$\vec
	jmp	isr_common
	.endm

	.balign 16
	.globl	isr_stubs
isr_stubs:
	.altmacro
	.set	vec, 0
	.rept	256
	STUB	%vec
	.set	vec, vec + 1
	.endr
	.noaltmacro

/*
 * Whether the CPU pushed an error code cannot be told from the vector alone: an external
 * interrupt on vector 17 (#AC) or from an 8259A moved to vector 13 pushes none (SDM Vol. 3A,
 * 6.13).  The frame tells: above the vector lies either RIP (no error code) with CS above
 * it, or the error code with RIP above it.  CS is always GDT_CODE64 here and RIP never is,
 * so the word two above the vector is GDT_CODE64 exactly when no error code was pushed;
 * then a 0 is put in its place, for one frame layout.
 */
isr_common:
	cmpq	$GDT_CODE64, 16(%rsp)
	jne	1f
	pushq	(%rsp)				/* [vector][vector][rip]...   */
	movq	$0, 8(%rsp)			/* [vector][0][rip]...         */
1:	pushq	%rax
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
	call	chaos_trap
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

/* int msr_write_safe(uint32_t msr, uint64_t value): 0, or -1 when WRMSR raised #GP. */
	.globl	msr_write_safe
msr_write_safe:
	movl	%edi, %ecx
	movl	%esi, %eax
	movq	%rsi, %rdx
	shrq	$32, %rdx
wrmsr_insn:
	wrmsr
	xorl	%eax, %eax
	ret
wrmsr_fixup:
	movl	$-1, %eax
	ret

/* int msr_read_safe(uint32_t msr, uint64_t *value): 0, or -1 when RDMSR raised #GP. */
	.globl	msr_read_safe
msr_read_safe:
	movl	%edi, %ecx
rdmsr_insn:
	rdmsr
	shlq	$32, %rdx
	orq	%rdx, %rax			/* RDMSR zero-extended EAX into RAX */
	movq	%rax, (%rsi)
	xorl	%eax, %eax
	ret
rdmsr_fixup:
	movl	$-1, %eax
	ret

/* The loop again, on a fresh stack (trap.c sets RSP to the CPU's stack top, IF = 0). */
	.globl	chaos_resume
chaos_resume:
	call	chaos_resume_c
1:	cli
	hlt
	jmp	1b

/* chaos_switch_stack(top, fn, arg): fn(arg) on the new stack; fn does not return. */
	.globl	chaos_switch_stack
chaos_switch_stack:
	movq	%rdi, %rsp
	movl	%edx, %edi
	xorl	%ebp, %ebp
	call	*%rsi
1:	cli
	hlt
	jmp	1b

/* {faulting instruction, where to resume}: the faults the guest expects. */
	.section .rodata
	.balign 8
	.globl	chaos_extable, chaos_extable_end
chaos_extable:
	.quad	wrmsr_insn, wrmsr_fixup
	.quad	rdmsr_insn, rdmsr_fixup
chaos_extable_end:

	.section .note.GNU-stack, "", @progbits
