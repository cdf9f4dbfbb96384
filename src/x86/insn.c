/*
 * insn.c - see insn.h.  Opcodes from the Intel SDM Vol. 2A: prefixes (2.1.1), REX (2.2.1),
 * INT n / INTO / INT3 / INT1 ("INT n/INTO/INT3/INT1 - Call to Interrupt Procedure").
 */
#include "x86/insn.h"

static bool is_legacy_prefix(uint8_t b)
{
	switch (b) {
	case 0xf0: case 0xf2: case 0xf3:                     /* LOCK, REPNE, REP    */
	case 0x2e: case 0x36: case 0x3e: case 0x26:          /* segment overrides   */
	case 0x64: case 0x65:
	case 0x66: case 0x67:                                /* operand/address size */
		return true;
	default:
		return false;
	}
}

static bool is_rex(uint8_t b, bool long_mode)
{
	return long_mode && (b & 0xf0) == 0x40;
}

int insn_decode(const uint8_t *bytes, size_t n, bool long_mode, struct insn *out)
{
	size_t i = 0;

	if (n > INSN_MAX_LEN)
		n = INSN_MAX_LEN;
	while (i < n && is_legacy_prefix(bytes[i]))
		i++;
	/* A REX prefix only counts right before the opcode (SDM Vol. 2A, 2.2.1). */
	if (i < n && is_rex(bytes[i], long_mode))
		i++;
	if (i >= n)
		return -1;
	switch (bytes[i]) {
	case 0xcd:
		if (i + 1 >= n)
			return -1;
		*out = (struct insn){ .kind = INSN_INT_N, .vector = bytes[i + 1],
				      .len = (uint8_t)(i + 2), .soft_int = true };
		return 0;
	case 0xcc:
		*out = (struct insn){ .kind = INSN_INT3, .vector = 3, .len = (uint8_t)(i + 1) };
		return 0;
	case 0xf1:
		*out = (struct insn){ .kind = INSN_INT1, .vector = 1, .len = (uint8_t)(i + 1) };
		return 0;
	default:
		return -1;
	}
}

const char *insn_kind_name(enum insn_kind k)
{
	static const char *const names[INSN_KINDS] = { "int n", "int3", "int1" };

	return (unsigned)k < INSN_KINDS ? names[k] : "?";
}
