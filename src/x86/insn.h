/*
 * insn.h - recognise the instructions the VMM carries for a guest when the host's KVM
 * cannot emulate them (KVM_EXIT_INTERNAL_ERROR, emulation suberror).  Today: the software
 * interrupt family INT n, INT3 and INT1, whose effect is an event the VMM can inject.
 *
 * Pure decoding of a byte string: no KVM, no guest memory.
 */
#ifndef MPVMM_X86_INSN_H
#define MPVMM_X86_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum insn_kind {
	INSN_INT_N = 0, /* CD ib: software interrupt, vector ib                    */
	INSN_INT3,      /* CC: breakpoint exception #BP (vector 3)                 */
	INSN_INT1,      /* F1: ICEBP, debug exception #DB (vector 1)               */
	INSN_KINDS,
};

/* Longest x86 instruction (Intel SDM Vol. 2A, 2.3.11). */
#define INSN_MAX_LEN 15

struct insn {
	enum insn_kind kind;
	uint8_t vector;
	uint8_t len;       /* bytes, prefixes included */
	bool soft_int;     /* inject as a software interrupt (INT n), not an exception */
};

/*
 * Decode the instruction at the start of bytes[0..n).  Legacy prefixes and, in 64-bit mode,
 * one REX prefix right before the opcode are skipped (they do not change these
 * instructions).  Returns 0 with *out filled, or -1 if it is not one of the supported
 * instructions or the bytes end first.
 */
int insn_decode(const uint8_t *bytes, size_t n, bool long_mode, struct insn *out);

const char *insn_kind_name(enum insn_kind k);

#endif
