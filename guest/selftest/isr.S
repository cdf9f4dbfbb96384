/*
 * isr.S - interrupt and exception entry stubs for the 64-bit IDT (idt.c fills the gates).
 *
 * In 64-bit mode the CPU aligns RSP to 16 and pushes SS, RSP, RFLAGS, CS, RIP and, for some
 * exceptions, an error code (Intel SDM Vol. 3A, 6.14.2).  Exceptions never return: they
 * report and halt.  The interrupt vectors save the caller-saved registers, call C and
 * IRETQ; the guest is built with -mgeneral-regs-only, so there is no SSE state to save.
 */
	.text
	.code64

/* Vectors whose exceptions push an error code (SDM Vol. 3A, Table 6-1). */
#define HAS_ERR(v) ((v) == 8 || (v) == 10 || (v) == 11 || (v) == 12 || (v) == 13 || \
		    (v) == 14 || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

	.macro EXC vec
	.balign 16
exc_stub_\vec:
	.if !HAS_ERR(\vec)
	pushq	$0				/* uniform frame: a dummy error code */
	.endif
	pushq	$\vec
	jmp	exc_common
	.endm

#define VECTORS_0_31 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15, \
		     16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31

	.irp	v, VECTORS_0_31
	EXC	\v
	.endr

exc_common:
	/* (%rsp) vector, 8(%rsp) error code, 16(%rsp) RIP */
	movq	(%rsp), %rdi
	movq	16(%rsp), %rsi
	movq	8(%rsp), %rdx
	andq	$-16, %rsp
	cld
	call	exception_handler		/* does not return */
1:	cli
	hlt
	jmp	1b

	.macro IRQ name, handler
	.globl	\name
	.balign 16
\name:
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	cld
	call	\handler			/* RSP = 16n here: 40-byte frame + 72 bytes */
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rax
	iretq
	.endm

	IRQ	isr_ap_reported, irq_ap_reported
	IRQ	isr_timer, irq_timer
	IRQ	isr_spurious, irq_spurious
	IRQ	isr_pit_ioapic, irq_pit_ioapic
	IRQ	isr_com1, irq_com1
	IRQ	isr_pic_pit, irq_pic_pit
	IRQ	isr_pic_spurious, irq_pic_spurious
	IRQ	isr_tsc_deadline, irq_tsc_deadline
	IRQ	isr_ping, irq_ping
	IRQ	isr_pong, irq_pong

	.section .rodata
	.balign 8
	.globl	exc_stubs
exc_stubs:					/* 32 stub addresses, by vector */
	.irp	v, VECTORS_0_31
	.quad	exc_stub_\v
	.endr

	.section .note.GNU-stack, "", @progbits
