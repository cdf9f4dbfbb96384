/*
 * trampoline.S - where every AP starts: real mode at SELFTEST_TRAMPOLINE after its STARTUP
 * IPI (CS = vector << 8 = 0x0800, IP = 0; Intel SDM Vol. 3A, 8.4.4.1 and 10.6.1).
 *
 * Assembled for the address it runs at, not the one it is linked at: every absolute
 * address is written ABS(sym).  The BSP copies trampoline_start..trampoline_end there and
 * fills the data block (trampoline.h).
 *
 * Real mode -> 32-bit protected mode without paging -> long mode (SDM Vol. 3A, 9.9.1 and
 * 9.8.5): PE, far jump; PAE, CR3, EFER.LME, then PG, far jump to a 64-bit code segment.  No
 * paging is ever turned on in legacy 32-bit mode: on PVM hosts that raises #GP.
 */
#include "gdt.h"
#include "trampoline.h"

#define ABS(sym)  ((sym) - trampoline_start + TRAMPOLINE_ADDR)
#define DATA(off) (ABS(trampoline_data) + (off))

#define CR0_PE  0x00000001
#define CR0_NW  0x20000000
#define CR0_CD  0x40000000
#define CR0_PG  0x80000000
#define CR4_PAE 0x00000020
#define MSR_EFER 0xc0000080

	.section .rodata.trampoline, "a"
	.globl	trampoline_start, trampoline_data, trampoline_end

	.code16
trampoline_start:
	cli
	cld
	xorw	%ax, %ax
	movw	%ax, %ds			/* DS base 0: DATA() offsets are < 64 KiB */
	lgdtl	DATA(TD_GDTR)			/* 32-bit base: the GDT lives in the image */
	movl	%cr0, %eax
	andl	$~(CR0_CD | CR0_NW), %eax	/* INIT leaves caching disabled (SDM 9.1.1) */
	orl	$CR0_PE, %eax
	movl	%eax, %cr0
	ljmpl	$GDT_CODE32, $ABS(tramp32)

	.code32
tramp32:
	movl	$GDT_DATA32, %eax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs
	movl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	DATA(TD_CR3), %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	DATA(TD_EFER_OR), %eax
	wrmsr
	movl	%cr0, %eax
	orl	$CR0_PG, %eax			/* LME + PG: IA-32e mode (compatibility) */
	movl	%eax, %cr0
	ljmpl	$GDT_CODE64, $ABS(tramp64)

	.code64
tramp64:
	movl	$GDT_DATA, %eax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs
	/*
	 * A stack of our own: index = stack_next++ modulo stack_count, top = base + (index + 1)
	 * * AP_STACK_SIZE.  The first stack_count APs get distinct stacks; only an AP restarted
	 * from outside (hold mode) wraps around, onto the stack of an AP that halted for good
	 * with interrupts off and never touches it again.
	 */
	movl	$1, %eax
	lock xaddl %eax, DATA(TD_STACK_NEXT)
	movl	DATA(TD_STACK_COUNT), %ecx
	testl	%ecx, %ecx
	jz	1f				/* no stacks at all: halt (the BSP reports it) */
	xorl	%edx, %edx
	divl	%ecx
	movl	%edx, %eax
	incl	%eax				/* zero-extends into %rax */
	shlq	$12, %rax			/* AP_STACK_SIZE */
	addq	DATA(TD_STACK_BASE), %rax
	movq	%rax, %rsp
	xorl	%ebp, %ebp
	call	*DATA(TD_ENTRY)			/* ap_main(): does not return */
1:	cli
	hlt
	jmp	1b

	.balign 8
trampoline_data:
	.skip	TD_SIZE
trampoline_end:

#if AP_STACK_SIZE != 4096
#error "tramp64 shifts by 12"
#endif

	.section .note.GNU-stack, "", @progbits
