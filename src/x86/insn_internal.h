/*
 * insn_internal.h - what the opcode maps say of an opcode (insn_maps.c), asked by the
 * decoder that walks an instruction's bytes (insn.c).  Only the insn*.c files include it.
 */
#ifndef MPVMM_X86_INSN_INTERNAL_H
#define MPVMM_X86_INSN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The immediate after the opcode (and ModRM): byte, word, z (word or dword by operand size),
 * v (operand size), ENTER's word and byte, a moffs address, a far pointer, a near branch's
 * rel16/rel32 (SDM Vol. 2D, A.2.2); IMM_INVALID refuses the instruction.
 */
enum imm { IMM_NONE, IMM_B, IMM_W, IMM_Z, IMM_V, IMM_ENTER, IMM_MOFFS, IMM_FAR, IMM_REL_Z,
	   IMM_INVALID };

/* One-byte map (Table A-2). */
bool insn_invalid_in_64(uint8_t op);
bool insn_one_byte_has_modrm(uint8_t op);
enum imm insn_one_byte_imm(uint8_t op, uint8_t reg);

/* 0F map (Table A-3). */
bool insn_map0f_no_modrm(uint8_t op);
bool insn_map0f_invalid(uint8_t op);
enum imm insn_map0f_imm(uint8_t op);

#endif
