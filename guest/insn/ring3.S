/*
 * ring3.S - see ring3.h.  ring3_enter(kind) saves the callee-saved registers and RSP in
 * ring3_kstack, builds an IRETQ frame to the user code of `kind` and returns (through
 * ring3_return) once an entry point or trap.c brought the guest back to CPL 0.
 */
#include "ring3.h"

	.text
	.code64

	.globl	ring3_enter
ring3_enter:				/* %edi = kind */
	pushq	%rbx
	pushq	%rbp
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, ring3_kstack(%rip)
	leaq	user_syscall(%rip), %rax
	cmpl	$RING3_INT80, %edi
	jne	2f
	leaq	user_int80(%rip), %rax
2:	pushq	$(RING3_UDATA | 3)		/* SS  */
	leaq	ring3_ustack_top(%rip), %rcx
	pushq	%rcx				/* RSP */
	pushq	$0x2				/* RFLAGS: IF = 0 */
	pushq	$(RING3_UCODE | 3)		/* CS  */
	pushq	%rax				/* RIP */
	iretq

	.globl	ring3_return
ring3_return:				/* CPL 0 again, RSP = ring3_kstack */
	movq	ring3_kstack(%rip), %rsp
	movw	$RING3_KDATA, %ax
	movw	%ax, %ss
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbp
	popq	%rbx
	ret

/* The user code: one entry instruction each, then UD2 should it ever fall through. */
	.balign	16
user_syscall:
	syscall
	ud2
user_int80:
	int	$RING3_VECTOR
	ud2

/* The entry points: record CS (and RCX), then go back.  At CPL 3 (the entry was reached
 * without the privilege change) UD2 raises #UD, which trap.c turns into ring3_return. */
	.globl	ring3_syscall_entry, ring3_int80_entry
ring3_syscall_entry:
ring3_int80_entry:
	movq	%rcx, ring3_entry_rcx(%rip)
	movq	%cs, %rcx
	movq	%rcx, ring3_entry_cs(%rip)
	testq	$3, %rcx
	jz	ring3_return
	ud2

	.section .rodata
	.balign	8
	.globl	ring3_user_syscall, ring3_user_int80
ring3_user_syscall:	.quad	user_syscall
ring3_user_int80:	.quad	user_int80

	.bss
	.balign	16
	.globl	ring3_kstack, ring3_entry_cs, ring3_entry_rcx
ring3_kstack:	.quad	0
ring3_entry_cs:	.quad	0
ring3_entry_rcx: .quad	0
	.balign	16
	.skip	4096
ring3_ustack_top:

	.section .note.GNU-stack, "", @progbits
