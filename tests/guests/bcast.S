/*
 * bcast.S - a multiboot v1 SMP kernel of the tests' own: the BSP counts the enabled
 * processors of the MP table, wakes every AP at once with a broadcast INIT-SIPI-SIPI
 * (destination shorthand "all excluding self"), and each AP goes from its real-mode
 * trampoline to 32-bit protected mode, increments a counter with LOCK and halts.  When the
 * counter reaches the count, the BSP writes "bcast: PASS cpus=N" to COM1 and 7 to the
 * debug-exit port (0xF4: mpvmm exits with (7 << 1) | 1 = 15); "bcast: FAIL ..." and 8
 * (status 17) if they do not all come.  tests/lib/breaks.sh drives it.  Built with
 * `as --32` and `ld -m elf_i386 -Ttext 0x100000`.
 *
 * MP table: Intel MP Spec 1.4, 4.1 (floating pointer "_MP_" on a 16-byte boundary in
 * 0xF0000-0xFFFFF, its physical pointer at +4) and 4.2-4.3 (header "PCMP", entry count at
 * +0x22, entries from +0x2c; processor entries, type 0, are 20 bytes, enabled if bit 0 of
 * +3; the other types are 8).  INIT-SIPI-SIPI: SDM Vol. 3A 8.4.4.1 and 10.6.1 (ICR low
 * 0x300: vector 7:0, delivery mode 10:8 (101 INIT, 110 StartUp), delivery status 12, level
 * 14, shorthand 19:18 (11: all excluding self)).  A SIPI with vector V starts an AP in real
 * mode at V << 12 (8.4.1): the trampoline is copied to 0x8000, vector 0x08.
 */
	.set MB_MAGIC, 0x1badb002
	.set MB_FLAGS, 0
	.set APIC, 0xfee00000
	.set ICR_LO, APIC + 0x300
	.set TRAMPOLINE, 0x8000
	.set SIPI_VECTOR, TRAMPOLINE >> 12
	.set ALL_BUT_SELF, 0xc0000
	.set LEVEL_ASSERT, 0x4000
	.set DM_INIT, 0x500
	.set DM_STARTUP, 0x600
	.set DEBUG_EXIT, 0xf4
	.set COM1, 0x3f8
	.section .text
	.code32
	.globl _start
	.balign 4
multiboot_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
_start:
	cli
	mov $stack_top, %esp
	lgdt gdtr                 /* our own flat segments: the loader's GDT is not ours */
	ljmp $0x08, $1f
1:	mov $0x10, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	call count_cpus           /* -> %ebx */
	mov %ebx, ncpus
	mov $ap_start, %esi       /* the trampoline to 0x8000 */
	mov $TRAMPOLINE, %edi
	mov $(ap_end - ap_start), %ecx
	rep movsb
	movl $0x1ff, APIC + 0xf0  /* SVR: software enable, spurious vector 0xff */
	movl $0, APIC + 0x310     /* ICR high: destination unused with a shorthand */
	mov $(ALL_BUT_SELF | LEVEL_ASSERT | DM_INIT), %eax
	call send_ipi
	mov $20000, %ecx          /* the SDM's 10 ms: nobody here measures it */
	call delay
	mov $(ALL_BUT_SELF | LEVEL_ASSERT | DM_STARTUP | SIPI_VECTOR), %eax
	call send_ipi
	mov $2000, %ecx
	call delay
	mov $(ALL_BUT_SELF | LEVEL_ASSERT | DM_STARTUP | SIPI_VECTOR), %eax
	call send_ipi
	mov ncpus, %ebx
	dec %ebx                  /* the APs */
	mov $0x4000000, %ecx      /* about a minute of a slow host's guest time */
2:	cmp %ebx, started
	je pass
	pause
	loop 2b
	mov $fail_msg, %esi
	call puts
	mov $8, %al
	jmp done
pass:
	mov $pass_msg, %esi
	call puts
	mov $7, %al
done:
	push %eax
	mov ncpus, %eax
	call putdec
	mov $newline, %esi
	call puts
	pop %eax
	out %al, $DEBUG_EXIT
3:	cli
	hlt
	jmp 3b

/* send_ipi: ICR low = %eax, then wait until the APIC has sent it (delivery status idle). */
send_ipi:
	mov %eax, ICR_LO
1:	testl $0x1000, ICR_LO
	jnz 1b
	ret

/* delay: %ecx turns of a loop. */
delay:
	pause
	loop delay
	ret

/*
 * count_cpus: %ebx = the enabled processor entries of the MP table (1 if there is none).
 * Uses %eax, %ecx, %edx, %esi, %edi.
 */
count_cpus:
	mov $1, %ebx
	mov $0xf0000, %esi
1:	cmpl $0x5f504d5f, (%esi)  /* "_MP_" */
	je 2f
	add $16, %esi
	cmp $0x100000, %esi
	jb 1b
	ret
2:	mov 4(%esi), %esi         /* the configuration table */
	test %esi, %esi
	jz 9f
	cmpl $0x504d4350, (%esi)  /* "PCMP" */
	jne 9f
	movzwl 0x22(%esi), %ecx   /* entry count */
	lea 0x2c(%esi), %edi
	xor %ebx, %ebx
3:	test %ecx, %ecx
	jz 8f
	cmpb $0, (%edi)
	jne 4f
	testb $1, 3(%edi)         /* enabled */
	jz 5f
	inc %ebx
5:	add $20, %edi
	dec %ecx
	jmp 3b
4:	add $8, %edi
	dec %ecx
	jmp 3b
8:	test %ebx, %ebx
	jnz 9f
	inc %ebx
9:	ret

/* puts: the NUL-terminated string at %esi to COM1. */
puts:
	push %edx
	mov $COM1, %dx
1:	lodsb
	test %al, %al
	jz 2f
	out %al, %dx
	jmp 1b
2:	pop %edx
	ret

/* putdec: %eax (below 10000) in decimal to COM1. */
putdec:
	mov $COM1, %dx
	mov $10, %ecx
	xor %edi, %edi
1:	xor %edx, %edx
	div %ecx
	push %edx
	inc %edi
	test %eax, %eax
	jnz 1b
	mov $COM1, %dx
2:	pop %eax
	add $'0', %al
	out %al, %dx
	dec %edi
	jnz 2b
	ret

/* ---- the AP's trampoline, run at 0x8000 in real mode (CS = 0x0800, IP = 0) ---- */
	.code16
ap_start:
	cli
	lgdtl %cs:(ap_gdtr - ap_start)
	mov %cr0, %eax
	or $1, %eax               /* PE */
	mov %eax, %cr0
	ljmpl $0x08, $ap_pm
ap_gdtr:
	.word gdt_end - gdt - 1
	.long gdt
ap_end:

	.code32
ap_pm:
	mov $0x10, %ax
	mov %ax, %ds
	lock incl started
1:	cli
	hlt
	jmp 1b

	.section .data
	.balign 8
gdt:
	.quad 0
	.quad 0x00cf9a000000ffff  /* 0x08: flat 32-bit code */
	.quad 0x00cf92000000ffff  /* 0x10: flat data */
gdt_end:
gdtr:
	.word gdt_end - gdt - 1
	.long gdt
ncpus:
	.long 1
started:
	.long 0
pass_msg:
	.asciz "bcast: PASS cpus="
fail_msg:
	.asciz "bcast: FAIL (not every AP came) cpus="
newline:
	.asciz "\n"

	.section .bss
	.balign 16
	.skip 4096
stack_top:
