/*
 * multiboot.S - the Multiboot (version 1) header and 32-bit entry of the self-test guest
 * (multiboot.h).  Section numbers are those of the Multiboot Specification 0.6.96.
 *
 * The header sits in .text.multiboot, which guest.ld places right after the 64-bit entry
 * (.text.entry, the image's first byte), well inside the first 8192 bytes (3.1.1).  The image
 * is a flat binary, not an ELF file, so flag 16 says where it goes (3.1.3): the whole file at
 * load_addr = SELFTEST_IMAGE_ADDR, zeroes up to bss_end_addr, entry at multiboot_entry.
 *
 * Machine state at multiboot_entry (3.2): 32-bit protected mode, flat CS/DS/ES/SS, paging
 * and interrupts off, EAX = 0x2BADB002, EBX = the multiboot information, no usable stack,
 * GDTR and IDTR undefined.  From there straight to IA-32e mode (Intel SDM Vol. 3A, 9.8.5
 * "Initializing IA-32e Mode"): identity page tables for 0-4 GiB in .bss, our GDT, CR4.PAE,
 * CR3, EFER.LME, then CR0.PG, and a far jump to a 64-bit code segment.  Paging is never
 * turned on in legacy 32-bit mode: on some hosts (PVM) that raises #GP.
 */
#include "gdt.h"
#include "multiboot.h"

#define CR0_NW   0x20000000
#define CR0_CD   0x40000000
#define CR0_PG   0x80000000
#define CR4_PAE  0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100

/* Page-table entry bits (SDM Vol. 3A, 4.5, Tables 4-14 to 4-18). */
#define PTE_P    0x001
#define PTE_W    0x002
#define PTE_PWT  0x008
#define PTE_PCD  0x010
#define PTE_PS   0x080 /* in a page-directory entry: a 2 MiB page */

#define PAGE_2M  0x200000
#define PD_ENTRIES_4G 2048 /* 4 page directories of 512 entries */
#define PD_FIRST_UC   1536 /* 3 GiB / 2 MiB: the MMIO hole (LAPIC, IOAPIC) is uncached */

	.section .text.multiboot, "ax"
	.balign 4
	.globl	multiboot_header
multiboot_header:				/* 3.1.2, 3.1.3 */
	.long	MB_HEADER_MAGIC			/* magic                                  */
	.long	MB_HEADER_FLAGS			/* flags: memory information, addresses   */
	.long	-(MB_HEADER_MAGIC + MB_HEADER_FLAGS) /* checksum: the three add up to 0 */
	.long	multiboot_header		/* header_addr: where this header lands   */
	.long	__image_start			/* load_addr: file offset 0 goes here     */
	.long	__load_end			/* load_end_addr: end of .data, of the file */
	.long	__bss_end			/* bss_end_addr: zeroed by the loader too  */
	.long	multiboot_entry			/* entry_addr                             */

	.code32
	.globl	multiboot_entry
multiboot_entry:
	cli
	cld
	movl	%eax, %esi			/* magic: multiboot_main() checks it      */
						/* %ebx (the information) is kept as is   */

	/* .bss (8-byte aligned and sized, guest.ld) holds the page tables and the stack. */
	movl	$__bss_start, %edi
	movl	$__bss_end, %ecx
	subl	%edi, %ecx
	shrl	$2, %ecx
	xorl	%eax, %eax
	rep stosl

	/* PML4[0] -> PDPT; PDPT[0..3] -> the four page directories (SDM 4.5, Figure 4-9). */
	movl	$mb_pdpt + PTE_P + PTE_W, mb_pml4
	movl	$mb_pd + PTE_P + PTE_W, %eax
	movl	$mb_pdpt, %edi
	movl	$4, %ecx
1:	movl	%eax, (%edi)
	addl	$4096, %eax
	addl	$8, %edi
	decl	%ecx
	jnz	1b

	/* 2048 identity 2 MiB pages; from 3 GiB up PCD and PWT (uncached, SDM 11.12.3). */
	movl	$mb_pd, %edi
	movl	$PTE_P + PTE_W + PTE_PS, %eax
	xorl	%ecx, %ecx
2:	cmpl	$PD_FIRST_UC, %ecx
	jne	3f
	orl	$PTE_PCD + PTE_PWT, %eax
3:	movl	%eax, (%edi)			/* the high half stays 0 (.bss is zeroed) */
	addl	$PAGE_2M, %eax
	addl	$8, %edi
	incl	%ecx
	cmpl	$PD_ENTRIES_4G, %ecx
	jb	2b

	/* SDM 9.8.5: our GDT (its 64-bit code segment), PAE, CR3, EFER.LME, then PG. */
	lgdtl	gdt_ptr				/* 32-bit operand: limit and low 32 base bits */
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$mb_pml4, %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	andl	$~(CR0_CD | CR0_NW), %eax
	orl	$CR0_PG, %eax			/* LME + PG: IA-32e mode (compatibility)  */
	movl	%eax, %cr0
	ljmpl	$GDT_CODE64, $multiboot_long	/* 64-bit mode from here (SDM 9.8.5, step 6) */

	.code64
multiboot_long:
	movl	$GDT_DATA, %eax
	movw	%ax, %ds
	movw	%ax, %es
	movw	%ax, %ss
	movw	%ax, %fs
	movw	%ax, %gs
	leaq	bsp_stack_top(%rip), %rsp	/* the 64-bit entry's stack (entry.S) */
	xorl	%ebp, %ebp
	movl	%esi, %edi			/* magic */
	movl	%ebx, %esi			/* multiboot information, below 4 GiB */
	call	multiboot_main			/* does not return */
4:	cli
	hlt
	jmp	4b

/* Identity map of 0-4 GiB for the multiboot entry (the VMM builds one for the other). */
	.section .bss
	.balign 4096
mb_pml4:
	.skip	4096
mb_pdpt:
	.skip	4096
mb_pd:
	.skip	4 * 4096

	.section .note.GNU-stack, "", @progbits
