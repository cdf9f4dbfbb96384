/*
 * flood.S - a multiboot v1 kernel of the tests' own that writes to COM1 for ever, as fast as
 * it can ("flood 0123456789...\n" lines), and never reads anything: with mpvmm's standard
 * output on a pipe nobody reads, it shows that the console cannot hold up the VMM
 * (tests/lib/hostile.sh).  Built with `as --32` and `ld -m elf_i386 -Ttext 0x100000`.
 */
	.set MB_MAGIC, 0x1badb002
	.set MB_FLAGS, 0
	.section .text
	.code32
	.globl _start
	.balign 4
multiboot_header:
	.long MB_MAGIC
	.long MB_FLAGS
	.long -(MB_MAGIC + MB_FLAGS)
_start:
	mov $0x3f8, %dx
1:	mov $line, %esi
2:	lodsb
	test %al, %al
	jz 1b
	out %al, %dx
	jmp 2b
line:	.asciz "flood 0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\n"
	.section .note.GNU-stack,"",@progbits
