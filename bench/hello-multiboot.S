/*
 * hello-multiboot.S - the smallest multiboot v1 kernel that shows "the guest is running":
 * it writes "hello\n" to COM1 and ends QEMU through isa-debug-exit (port 0xf4).  The
 * benchmarks boot it in QEMU to time a peer VMM from process start to first guest output.
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
	mov $msg, %esi
1:	lodsb
	test %al, %al
	jz 2f
	mov $0x3f8, %dx
	out %al, %dx
	jmp 1b
2:	mov $0xf4, %dx
	xor %eax, %eax
	out %al, %dx
3:	hlt
	jmp 3b
msg:	.asciz "hello\n"
	.section .note.GNU-stack,"",@progbits
