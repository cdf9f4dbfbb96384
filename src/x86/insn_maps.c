/*
 * insn_maps.c - the opcode maps of the Intel SDM Vol. 2D, Appendix A (the one-byte map,
 * Table A-2; the 0F map, Table A-3), as what the decoder asks of an opcode: does it exist,
 * does a ModRM byte follow, which immediate.  It must not know the instruction's bytes, its
 * prefixes or the mode's sizes (insn.c applies the answers), nor what an instruction does.
 */
#include "x86/insn.h"
#include "x86/insn_internal.h"

/* One-byte map, 64-bit mode: opcodes that do not exist there (SDM Vol. 2D, Table A-2 "i64"). */
bool insn_invalid_in_64(uint8_t op)
{
	switch (op) {
	case 0x06: case 0x07: case 0x0e: case 0x16: case 0x17: case 0x1e: case 0x1f:
	case 0x27: case 0x2f: case 0x37: case 0x3f: case 0x60: case 0x61: case 0x62:
	case 0x82: case 0x9a: case 0xce: case 0xd4: case 0xd5: case 0xd6: case 0xea:
		return true;
	default:
		return false;
	}
}

bool insn_one_byte_has_modrm(uint8_t op)
{
	if (op < 0x40)
		return (op & 7) < 4;
	switch (op) {
	case 0x62: case 0x63: case 0x69: case 0x6b: case 0xc0: case 0xc1: case 0xc4: case 0xc5:
	case 0xc6: case 0xc7: case 0xf6: case 0xf7: case 0xfe: case 0xff:
		return true;
	default:
		return (op >= 0x80 && op <= 0x8f) || (op >= 0xd0 && op <= 0xd3) ||
		       (op >= 0xd8 && op <= 0xdf);
	}
}

enum imm insn_one_byte_imm(uint8_t op, uint8_t reg)
{
	if (op < 0x40 && (op & 7) == 4)
		return IMM_B;
	if (op < 0x40 && (op & 7) == 5)
		return IMM_Z;
	if ((op >= 0x70 && op <= 0x7f) || (op >= 0xb0 && op <= 0xb7) || (op >= 0xe0 && op <= 0xe7))
		return IMM_B;
	if (op >= 0xb8 && op <= 0xbf)
		return IMM_V;
	if (op >= 0xa0 && op <= 0xa3)
		return IMM_MOFFS;
	switch (op) {
	case 0x6a: case 0x6b: case 0x80: case 0x82: case 0x83: case 0xa8: case 0xc0: case 0xc1:
	case 0xc6: case 0xcd: case 0xd4: case 0xd5: case 0xeb:
		return IMM_B;
	case 0x68: case 0x69: case 0x81: case 0xa9: case 0xc7:
		return IMM_Z;
	case 0xc2: case 0xca:
		return IMM_W;
	case 0xc8:
		return IMM_ENTER;
	case 0x9a: case 0xea:
		return IMM_FAR;
	case 0xe8: case 0xe9:
		return IMM_REL_Z;
	case 0xf6:
		return reg < 2 ? IMM_B : IMM_NONE; /* TEST Eb, Ib is /0 (and /1) */
	case 0xf7:
		return reg < 2 ? IMM_Z : IMM_NONE;
	default:
		return IMM_NONE;
	}
}

/* 0F map (SDM Vol. 2D, Table A-3): opcodes without ModRM, and unknown/undefined ones. */
bool insn_map0f_no_modrm(uint8_t op)
{
	switch (op) {
	case 0x05: case 0x06: case 0x07: case 0x08: case 0x09: case 0x0b: case 0x0e:
	case 0x30: case 0x31: case 0x32: case 0x33: case 0x34: case 0x35: case 0x37:
	case 0x77: case 0xa0: case 0xa1: case 0xa2: case 0xa8: case 0xa9: case 0xaa:
		return true;
	default:
		return (op >= 0x80 && op <= 0x8f) || (op >= 0xc8 && op <= 0xcf);
	}
}

bool insn_map0f_invalid(uint8_t op)
{
	switch (op) {
	case 0x04: case 0x0a: case 0x0c: case 0x0f: case 0x24: case 0x25: case 0x26: case 0x27:
	case 0x36: case 0x39: case 0x3b: case 0x3c: case 0x3d: case 0x3e: case 0x3f:
	case 0x7a: case 0x7b: case 0xa6: case 0xa7:
		return true;
	default:
		return false;
	}
}

enum imm insn_map0f_imm(uint8_t op)
{
	if (op >= 0x80 && op <= 0x8f)
		return IMM_REL_Z;
	switch (op) {
	case 0x70: case 0x71: case 0x72: case 0x73: case 0xa4: case 0xac: case 0xba:
	case 0xc2: case 0xc4: case 0xc5: case 0xc6:
		return IMM_B;
	default:
		return IMM_NONE;
	}
}
