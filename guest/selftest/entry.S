/*
 * entry.S - the BSP's first instructions (the image's first byte) and the guest's GDT.
 *
 * Entered in 64-bit mode with the VMM's GDT, CR3 = identity map, IF = 0, RDI = boot info,
 * RSP undefined: take a stack, zero .bss, switch to our own GDT (which also has the 32-bit
 * descriptors the AP trampoline needs), and call bsp_main(bootinfo).  A multiboot loader
 * enters at multiboot_entry (multiboot.S) instead, which uses this GDT and stack too.
 */
#include "gdt.h"

	.section .text.entry, "ax"
	.code64
	.globl _start
_start:
	cli
	cld
	leaq	bsp_stack_top(%rip), %rsp	/* nothing is pushed before .bss is zeroed */
	movq	%rdi, %rbx			/* struct selftest_bootinfo * */

	leaq	__bss_start(%rip), %rdi		/* .bss is 8-byte aligned and sized (guest.ld) */
	leaq	__bss_end(%rip), %rcx
	subq	%rdi, %rcx
	shrq	$3, %rcx
	xorl	%eax, %eax
	rep stosq

	lgdt	gdt_ptr(%rip)
	pushq	$GDT_CODE64			/* reload CS through a far return */
	leaq	1f(%rip), %rax
	pushq	%rax
	lretq
1:	movl	$GDT_DATA, %eax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs

	movq	%rbx, %rdi
	call	bsp_main			/* does not return */
2:	cli
	hlt
	jmp	2b

/*
 * Descriptors (Intel SDM Vol. 3A, 3.4.5, Figure 3-8; 5.2.1 for the L bit).  Accessed bits
 * are preset so that the CPU never writes the table.
 */
	.section .data
	.balign 16
	.globl	gdt, gdt_end, gdt_ptr		/* gdt_ptr: multiboot.S loads it too */
gdt:
	.quad	0				/* null */
	.quad	0x00af9b000000ffff		/* GDT_CODE64: P, DPL 0, code r/x, L = 1, D = 0 */
	.quad	0x00cf93000000ffff		/* GDT_DATA:   P, DPL 0, data r/w, 4 GiB, B = 1 */
	.quad	0x00cf9b000000ffff		/* GDT_CODE32: P, DPL 0, code r/x, 4 GiB, D = 1 */
	.quad	0x00cf93000000ffff		/* GDT_DATA32: P, DPL 0, data r/w, 4 GiB, B = 1 */
gdt_end:

	.balign 8
gdt_ptr:
	.word	gdt_end - gdt - 1
	.quad	gdt

	.section .bss
	.balign 16
	.globl	bsp_stack_top			/* multiboot.S runs on this stack too */
bsp_stack:
	.skip	16384
bsp_stack_top:

	.section .note.GNU-stack, "", @progbits
