/*
 * insn.h - x86 instruction decoder for the instructions the VMM carries for a guest when the
 * host's KVM cannot emulate them (KVM_EXIT_INTERNAL_ERROR, emulation suberror).
 *
 * It delimits any legacy/REX/VEX-encoded instruction of the one-byte, 0F, 0F 38 and 0F 3A
 * maps (prefixes, opcode, ModRM, SIB, displacement, immediate: its full length), classifies
 * the few that x86/emulate.c performs, and names any instruction disassembly-style for
 * reports.  Pure decoding of a byte string: no KVM, no guest memory, no register values.
 */
#ifndef MPVMM_X86_INSN_H
#define MPVMM_X86_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the VMM can carry.  The order is the order of the end-of-run table's counters. */
enum insn_kind {
	INSN_INT_N = 0,   /* CD ib: software interrupt, vector ib                        */
	INSN_INT3,        /* CC: breakpoint exception #BP (vector 3)                     */
	INSN_INT1,        /* F1: ICEBP, debug exception #DB (vector 1)                   */
	INSN_FWAIT,       /* 9B: check for pending unmasked x87 exceptions               */
	INSN_POPCNT,      /* F3 0F B8 /r                                                 */
	INSN_LZCNT,       /* F3 0F BD /r                                                 */
	INSN_TZCNT,       /* F3 0F BC /r                                                 */
	INSN_CLAC,        /* 0F 01 CA                                                    */
	INSN_STAC,        /* 0F 01 CB                                                    */
	INSN_LDMXCSR,     /* 0F AE /2 (memory operand)                                   */
	INSN_STMXCSR,     /* 0F AE /3 (memory operand)                                   */
	INSN_FNCLEX,      /* DB E2                                                       */
	INSN_FNSTSW,      /* DF E0 (AX) or DD /7 (m16)                                   */
	INSN_EMMS,        /* 0F 77                                                       */
	INSN_CMPXCHG16B,  /* REX.W 0F C7 /1 (memory operand)                             */
	INSN_KINDS,
	/* A well-formed instruction the VMM does not carry (not counted). */
	INSN_OTHER = INSN_KINDS,
};

/* Longest x86 instruction (Intel SDM Vol. 2A, 2.3.11). */
#define INSN_MAX_LEN 15

/* Code-segment default sizes: 16-bit, 32-bit (protected/compatibility) or 64-bit mode. */
enum insn_mode { INSN_MODE_16 = 2, INSN_MODE_32 = 4, INSN_MODE_64 = 8 };

/* Opcode maps (SDM Vol. 2A, 2.1.2; VEX.mmmmm uses the same numbers). */
enum insn_map { INSN_MAP_1B = 0, INSN_MAP_0F = 1, INSN_MAP_0F38 = 2, INSN_MAP_0F3A = 3 };

/* Segment register numbers as in the ModRM sreg field (SDM Vol. 2A, 3.1.1.3). */
enum insn_seg { INSN_SEG_ES, INSN_SEG_CS, INSN_SEG_SS, INSN_SEG_DS, INSN_SEG_FS, INSN_SEG_GS,
		INSN_SEG_NONE = -1 };

/* A register number 0-15 (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8-R15) or none. */
#define INSN_REG_NONE (-1)

struct insn {
	enum insn_kind kind;
	uint8_t len;          /* bytes, prefixes included                                  */
	enum insn_mode mode;

	/* Prefixes (SDM Vol. 2A, 2.1.1 and 2.2.1). */
	bool lock;
	uint8_t rep;          /* 0, 0xF2 or 0xF3: the last one given                       */
	bool opsize_prefix;   /* 66                                                        */
	bool addrsize_prefix; /* 67                                                        */
	int8_t seg;           /* enum insn_seg: the last override given, or INSN_SEG_NONE  */
	uint8_t rex;          /* the REX byte (0x40-0x4F) or 0                             */
	bool vex;             /* VEX-encoded (C4/C5)                                       */

	enum insn_map map;
	uint8_t opcode;
	uint8_t opsize;       /* operand size in bytes: 2, 4 or 8                          */
	uint8_t addrsize;     /* address size in bytes: 2, 4 or 8                          */

	/* ModRM and memory operand (SDM Vol. 2A, 2.1.5; 2.2.1.6 for RIP-relative). */
	bool has_modrm;
	uint8_t mod;          /* 0-3; 3 = register operand                                 */
	uint8_t reg;          /* ModRM.reg, REX.R included                                 */
	uint8_t rm;           /* ModRM.rm, REX.B included (register form)                  */
	bool has_sib;
	int8_t base;          /* memory operand base register, or INSN_REG_NONE            */
	int8_t index;         /* memory operand index register, or INSN_REG_NONE           */
	uint8_t scale;        /* 1, 2, 4 or 8                                              */
	bool rip_relative;    /* base is the address of the next instruction               */
	uint8_t disp_size;    /* 0, 1, 2 or 4 bytes                                        */
	int32_t disp;         /* sign-extended                                             */
	uint8_t imm_size;     /* 0, 1, 2, 3 (ENTER), 4 or 8 bytes                          */
	uint64_t imm;

	/* Software interrupts: what to inject. */
	uint8_t vector;
	bool soft_int;        /* inject as a software interrupt (INT n), not an exception  */
};

/*
 * Decode the instruction at the start of bytes[0..n) executed in `mode`.  Returns 0 with
 * *out filled (kind INSN_OTHER for an instruction the VMM does not carry), or -1 if the bytes
 * end first, the instruction would exceed 15 bytes, or it is not a valid encoding this
 * decoder knows (invalid in the mode, EVEX, XOP, 3DNow!).  Never reads bytes[n] or beyond.
 */
int insn_decode_mode(const uint8_t *bytes, size_t n, enum insn_mode mode, struct insn *out);

/* insn_decode_mode in 64-bit mode if long_mode, else 32-bit protected mode. */
int insn_decode(const uint8_t *bytes, size_t n, bool long_mode, struct insn *out);

/* Mnemonic of a carried kind, for the end-of-run table ("?" for anything else). */
const char *insn_kind_name(enum insn_kind k);

/*
 * Disassembly-style text of a decoded instruction ("popcnt rax, qword [rbx+rcx*4+0x10]"),
 * Intel operand order; instructions outside a small table of names are shown by their
 * opcode ("0f 38 f6 /r").  Always NUL-terminates buf (if len > 0).
 */
void insn_format(const struct insn *in, char *buf, size_t len);

#endif
