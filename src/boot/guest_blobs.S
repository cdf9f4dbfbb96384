/*
 * guest_blobs.S - the built-in guest images, included byte for byte into the mpvmm binary
 * so that `mpvmm` needs no file at run time.  SELFTEST_BIN is the path of the flat binary
 * that guest/meson.build produces.
 */
	.section .rodata
	.balign 4096
	.globl selftest_image, selftest_image_end
selftest_image:
	.incbin SELFTEST_BIN
selftest_image_end:

	.balign 4096
	.globl insn_image, insn_image_end
insn_image:
	.incbin INSN_BIN
insn_image_end:

	.balign 4096
	.globl insn_unsupported_image, insn_unsupported_image_end
insn_unsupported_image:
	.incbin INSN_UNSUPPORTED_BIN
insn_unsupported_image_end:

	.balign 4096
	.globl chaos_image, chaos_image_end
chaos_image:
	.incbin CHAOS_BIN
chaos_image_end:

	.section .note.GNU-stack,"",@progbits
