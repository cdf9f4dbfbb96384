/*
 * tick.S - a multiboot v1 kernel of the tests' own that asks its local APIC for the
 * fastest periodic timer there is (divide by 1, initial count 1: a period of one bus
 * clock) and takes every interrupt, writing "tick\n" to COM1 after each 1000.  The
 * VMM must not fire that timer every nanosecond (tests/lib/hostile.sh counts the ticks
 * per second).  Built with `as --32` and `ld -m elf_i386 -Ttext 0x100000`.
 *
 * No handler returns with IRET (some KVMs cannot emulate it in 32-bit code, HOST-NOTES.md):
 * the guest has nothing to go back to but HLT, so each handler resets the stack and waits.
 *
 * Local APIC registers: SDM Vol. 3A 10.4.1 (base 0xfee00000), 10.9 (SVR), 10.5.4 (timer:
 * LVT 0x320, initial count 0x380, divide 0x3e0), 10.8.5 (EOI 0xb0).  The IDT: SDM 6.11.
 */
	.set MB_MAGIC, 0x1badb002
	.set MB_FLAGS, 0
	.set APIC, 0xfee00000
	.set TICK_VECTOR, 0x40
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
	/* Every vector returns at once; the timer's counts. */
	xor %ecx, %ecx
1:	mov $ignore, %eax
	cmp $TICK_VECTOR, %ecx
	jne 2f
	mov $tick, %eax
2:	call set_gate
	inc %ecx
	cmp $256, %ecx
	jne 1b
	lidt idtr
	movl $0x1ff, APIC + 0xf0     /* software enable, spurious vector 0xff */
	movl $0xb, APIC + 0x3e0      /* divide by 1 */
	movl $(0x20000 | TICK_VECTOR), APIC + 0x320 /* periodic */
	mov $armed, %esi
	call puts
	movl $1, APIC + 0x380        /* go */
	jmp idle

/* set_gate: IDT entry %ecx -> handler %eax, a 32-bit interrupt gate in this code segment. */
set_gate:
	lea idt(,%ecx,8), %edi
	mov %ax, (%edi)
	mov %cs, %dx
	mov %dx, 2(%edi)
	movw $0x8e00, 4(%edi)
	shr $16, %eax
	mov %ax, 6(%edi)
	ret

/* puts: the NUL-terminated string at %esi to COM1. */
puts:
	mov $0x3f8, %dx
1:	lodsb
	test %al, %al
	jz 2f
	out %al, %dx
	jmp 1b
2:	ret

/* idle: wait for the next interrupt on a fresh stack (what an interrupt pushed is dropped). */
idle:
	mov $stack_top, %esp
	sti
1:	hlt
	jmp 1b

ignore:
	jmp idle

tick:
	incl count
	cmpl $1000, count
	jne 1f
	movl $0, count
	mov $tickline, %esi
	call puts
1:	movl $0, APIC + 0xb0         /* EOI */
	jmp idle

armed:	.asciz "tick armed\n"
tickline: .asciz "tick\n"
	.balign 8
idtr:	.word 256 * 8 - 1
	.long idt
	.section .bss
	.balign 8
idt:	.skip 256 * 8
count:	.long 0
	.balign 16
	.skip 4096
stack_top:
	.section .note.GNU-stack,"",@progbits
