/*
 * insn.c - see insn.h.  Encodings from the Intel SDM Vol. 2A: prefixes (2.1.1), REX (2.2.1),
 * ModRM/SIB (2.1.5, Tables 2-1 to 2-3), RIP-relative addressing (2.2.1.6), VEX (2.3.5),
 * the opcode maps (Vol. 2D, Appendix A, Tables) and the instruction pages of the
 * carried instructions.  Knows nothing of registers' values, memory or KVM; what the one-byte
 * and 0F maps say of each opcode is insn_maps.c's, the text of a decoded instruction
 * insn_format.c's.
 */
#include "x86/insn.h"
#include "x86/insn_internal.h"

/* A cursor over the instruction bytes that never reads past n or past 15 bytes. */
struct cursor {
	const uint8_t *b;
	size_t n;
	size_t i;
};

static int next_byte(struct cursor *c, uint8_t *out)
{
	if (c->i >= c->n || c->i >= INSN_MAX_LEN)
		return -1;
	*out = c->b[c->i++];
	return 0;
}

static int peek_byte(const struct cursor *c, size_t ahead, uint8_t *out)
{
	if (c->i + ahead >= c->n || c->i + ahead >= INSN_MAX_LEN)
		return -1;
	*out = c->b[c->i + ahead];
	return 0;
}

/* Little-endian immediate or displacement of `size` bytes. */
static int next_le(struct cursor *c, unsigned size, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned k = 0; k < size; k++) {
		uint8_t b;
		if (next_byte(c, &b) < 0)
			return -1;
		v |= (uint64_t)b << (8 * k);
	}
	*out = v;
	return 0;
}

/* ---- Prefixes ------------------------------------------------------------------------- */

static int seg_prefix(uint8_t b)
{
	switch (b) {
	case 0x26: return INSN_SEG_ES;
	case 0x2e: return INSN_SEG_CS;
	case 0x36: return INSN_SEG_SS;
	case 0x3e: return INSN_SEG_DS;
	case 0x64: return INSN_SEG_FS;
	case 0x65: return INSN_SEG_GS;
	default: return INSN_SEG_NONE;
	}
}

static bool take_legacy_prefix(struct insn *in, uint8_t b)
{
	int seg = seg_prefix(b);

	if (seg != INSN_SEG_NONE)
		in->seg = (int8_t)seg;
	else if (b == 0xf0)
		in->lock = true;
	else if (b == 0xf2 || b == 0xf3)
		in->rep = b;
	else if (b == 0x66)
		in->opsize_prefix = true;
	else if (b == 0x67)
		in->addrsize_prefix = true;
	else
		return false;
	return true;
}

/*
 * Legacy prefixes in any order, then in 64-bit mode a REX prefix.  A REX followed by another
 * prefix is ignored (SDM Vol. 2A, 2.2.1: REX must immediately precede the opcode).
 */
static int read_prefixes(struct cursor *c, struct insn *in)
{
	uint8_t b;

	for (;;) {
		if (peek_byte(c, 0, &b) < 0)
			return -1;
		if (in->mode == INSN_MODE_64 && (b & 0xf0) == 0x40) {
			in->rex = b;
			c->i++;
			continue;
		}
		if (!take_legacy_prefix(in, b))
			return 0;
		in->rex = 0;
		c->i++;
	}
}

#define REX_W(in) (((in)->rex >> 3) & 1)
#define REX_R(in) (((in)->rex >> 2) & 1)
#define REX_X(in) (((in)->rex >> 1) & 1)
#define REX_B(in) ((in)->rex & 1)

static void set_sizes(struct insn *in)
{
	switch (in->mode) {
	case INSN_MODE_64:
		in->opsize = REX_W(in) ? 8 : in->opsize_prefix ? 2 : 4;
		in->addrsize = in->addrsize_prefix ? 4 : 8;
		break;
	case INSN_MODE_32:
		in->opsize = in->opsize_prefix ? 2 : 4;
		in->addrsize = in->addrsize_prefix ? 2 : 4;
		break;
	case INSN_MODE_16:
		in->opsize = in->opsize_prefix ? 4 : 2;
		in->addrsize = in->addrsize_prefix ? 4 : 2;
		break;
	}
}

/* ---- ModRM, SIB, displacement ---------------------------------------------------------- */

/* 16-bit addressing (SDM Vol. 2A, Table 2-1): rm -> base, index. */
static const int8_t rm16_base[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };        /* BX BX BP BP SI DI BP BX */
static const int8_t rm16_index[8] = { 6, 7, 6, 7, -1, -1, -1, -1 };   /* SI DI SI DI -  -  -  - */

static int read_modrm16(struct insn *in, uint8_t rm)
{
	in->base = rm16_base[rm];
	in->index = rm16_index[rm];
	if (in->mod == 0 && rm == 6) {
		in->base = INSN_REG_NONE;
		in->disp_size = 2;
	} else {
		in->disp_size = in->mod == 1 ? 1 : in->mod == 2 ? 2 : 0;
	}
	return 0;
}

/* 32/64-bit addressing (SDM Vol. 2A, Tables 2-2 and 2-3). */
static int read_modrm32(struct cursor *c, struct insn *in, uint8_t rm)
{
	uint8_t base = rm;

	if (rm == 4) {
		uint8_t sib;
		if (next_byte(c, &sib) < 0)
			return -1;
		in->has_sib = true;
		in->scale = (uint8_t)(1u << (sib >> 6));
		uint8_t idx = (uint8_t)(((sib >> 3) & 7) | REX_X(in) << 3);
		in->index = idx == 4 ? INSN_REG_NONE : (int8_t)idx; /* no index: 100b without X */
		base = sib & 7;
		if (base == 5 && in->mod == 0) {
			in->base = INSN_REG_NONE;
			in->disp_size = 4;
			return 0;
		}
	} else if (rm == 5 && in->mod == 0) {
		in->base = INSN_REG_NONE;
		in->rip_relative = in->mode == INSN_MODE_64;
		in->disp_size = 4;
		return 0;
	}
	in->base = (int8_t)(base | REX_B(in) << 3);
	in->disp_size = in->mod == 1 ? 1 : in->mod == 2 ? 4 : 0;
	return 0;
}

static int read_modrm(struct cursor *c, struct insn *in)
{
	uint8_t m;

	if (next_byte(c, &m) < 0)
		return -1;
	in->has_modrm = true;
	in->mod = m >> 6;
	in->reg = (uint8_t)(((m >> 3) & 7) | REX_R(in) << 3);
	in->rm = (uint8_t)((m & 7) | REX_B(in) << 3);
	in->scale = 1;
	if (in->mod == 3)
		return 0;
	int r = in->addrsize == 2 ? read_modrm16(in, m & 7) : read_modrm32(c, in, m & 7);
	if (r < 0)
		return -1;
	uint64_t d;
	if (next_le(c, in->disp_size, &d) < 0)
		return -1;
	in->disp = in->disp_size == 1 ? (int8_t)d : in->disp_size == 2 ? (int16_t)d : (int32_t)d;
	return 0;
}

/* ---- Immediates ------------------------------------------------------------------------ */

static unsigned imm_bytes(const struct insn *in, enum imm t)
{
	switch (t) {
	case IMM_B: return 1;
	case IMM_W: return 2;
	case IMM_ENTER: return 3;
	case IMM_Z: return in->opsize == 2 ? 2 : 4;
	case IMM_V: return in->opsize;
	case IMM_MOFFS: return in->addrsize;
	case IMM_FAR: return (in->opsize == 2 ? 2u : 4u) + 2u;
	/* Near branches: rel32 in 64-bit mode whatever 66 says (Intel behaviour). */
	case IMM_REL_Z: return in->mode == INSN_MODE_64 || in->opsize != 2 ? 4 : 2;
	default: return 0;
	}
}

static int read_imm(struct cursor *c, struct insn *in, enum imm t)
{
	if (t == IMM_INVALID)
		return -1;
	in->imm_size = (uint8_t)imm_bytes(in, t);
	return next_le(c, in->imm_size, &in->imm);
}

/* ---- VEX (SDM Vol. 2A, 2.3.5, Figure 2-9) ---------------------------------------------- */

/* C4/C5 is VEX in 64-bit mode, elsewhere only if the next byte has its top two bits set. */
static bool is_vex(const struct cursor *c, const struct insn *in, uint8_t op)
{
	uint8_t next;

	if (op != 0xc4 && op != 0xc5)
		return false;
	if (in->mode == INSN_MODE_64)
		return true;
	return peek_byte(c, 0, &next) == 0 && (next & 0xc0) == 0xc0;
}

static int read_vex(struct cursor *c, struct insn *in, uint8_t op)
{
	uint8_t p0, p1 = 0;

	/* VEX after 66, F2, F3, LOCK or REX is #UD (SDM Vol. 2A, 2.3.2). */
	if (in->opsize_prefix || in->rep || in->lock || in->rex)
		return -1;
	if (next_byte(c, &p0) < 0 || (op == 0xc4 && next_byte(c, &p1) < 0))
		return -1;
	in->vex = true;
	uint8_t r_inv = p0 >> 7, pp = (op == 0xc4 ? p1 : p0) & 3;
	in->rex = (uint8_t)(0x40 | (!r_inv) << 2);
	in->map = INSN_MAP_0F;
	if (op == 0xc4) {
		in->rex |= (uint8_t)((!((p0 >> 6) & 1)) << 1 | (!((p0 >> 5) & 1)) | (p1 >> 7) << 3);
		unsigned m = p0 & 0x1f;
		if (m < 1 || m > 3)
			return -1;
		in->map = (enum insn_map)m;
	}
	in->opsize_prefix = pp == 1;
	in->rep = pp == 2 ? 0xf3 : pp == 3 ? 0xf2 : 0;
	set_sizes(in);
	if (next_byte(c, &in->opcode) < 0)
		return -1;
	if (!(in->map == INSN_MAP_0F && in->opcode == 0x77) && read_modrm(c, in) < 0)
		return -1;
	enum imm t = in->map == INSN_MAP_0F3A ? IMM_B :
		     in->map == INSN_MAP_0F ? insn_map0f_imm(in->opcode) : IMM_NONE;
	if (in->map == INSN_MAP_0F && in->opcode >= 0x80 && in->opcode <= 0x8f)
		return -1; /* no VEX Jcc */
	return read_imm(c, in, t);
}

/* ---- Legacy opcode and operands -------------------------------------------------------- */

static int read_escape(struct cursor *c, struct insn *in)
{
	if (next_byte(c, &in->opcode) < 0)
		return -1;
	if (in->opcode == 0x38 || in->opcode == 0x3a) {
		in->map = in->opcode == 0x38 ? INSN_MAP_0F38 : INSN_MAP_0F3A;
		if (next_byte(c, &in->opcode) < 0 || read_modrm(c, in) < 0)
			return -1;
		return read_imm(c, in, in->map == INSN_MAP_0F3A ? IMM_B : IMM_NONE);
	}
	in->map = INSN_MAP_0F;
	if (insn_map0f_invalid(in->opcode))
		return -1;
	if (!insn_map0f_no_modrm(in->opcode) && read_modrm(c, in) < 0)
		return -1;
	return read_imm(c, in, insn_map0f_imm(in->opcode));
}

static int read_one_byte(struct cursor *c, struct insn *in)
{
	uint8_t op = in->opcode;

	if (in->mode == INSN_MODE_64 && insn_invalid_in_64(op))
		return -1;
	if (in->mode != INSN_MODE_64 && op == 0x62) {
		uint8_t next;
		if (peek_byte(c, 0, &next) < 0 || (next & 0xc0) == 0xc0)
			return -1; /* EVEX, not BOUND */
	}
	if (insn_one_byte_has_modrm(op) && read_modrm(c, in) < 0)
		return -1;
	if (op == 0x8f && (in->reg & 7) != 0)
		return -1; /* XOP */
	return read_imm(c, in, insn_one_byte_imm(op, in->reg & 7));
}

/* ---- Classification of the carried instructions ---------------------------------------- */

static enum insn_kind classify_1b(const struct insn *in)
{
	switch (in->opcode) {
	case 0xcd: return INSN_INT_N;
	case 0xcc: return INSN_INT3;
	case 0xf1: return INSN_INT1;
	case 0x9b: return INSN_FWAIT;
	case 0xdb: return in->mod == 3 && (in->reg & 7) == 4 && (in->rm & 7) == 2 ?
			  INSN_FNCLEX : INSN_OTHER;
	case 0xdf: return in->mod == 3 && (in->reg & 7) == 4 && (in->rm & 7) == 0 ?
			  INSN_FNSTSW : INSN_OTHER;
	case 0xdd: return in->mod != 3 && (in->reg & 7) == 7 ? INSN_FNSTSW : INSN_OTHER;
	default: return INSN_OTHER;
	}
}

static enum insn_kind classify_0f(const struct insn *in)
{
	bool plain = !in->opsize_prefix && !in->rep; /* no mandatory prefix */

	switch (in->opcode) {
	case 0xb8: return in->rep == 0xf3 ? INSN_POPCNT : INSN_OTHER;
	case 0xbd: return in->rep == 0xf3 ? INSN_LZCNT : INSN_OTHER;
	case 0xbc: return in->rep == 0xf3 ? INSN_TZCNT : INSN_OTHER;
	case 0x77: return plain ? INSN_EMMS : INSN_OTHER;
	case 0x01:
		/* F2/F3 0F 01 CA/CB are other instructions (ERETS/ERETU with FRED). */
		if (!plain || in->mod != 3 || (in->reg & 7) != 1)
			return INSN_OTHER;
		return (in->rm & 7) == 2 ? INSN_CLAC : (in->rm & 7) == 3 ? INSN_STAC : INSN_OTHER;
	case 0xae:
		if (!plain || in->mod == 3)
			return INSN_OTHER;
		return (in->reg & 7) == 2 ? INSN_LDMXCSR : (in->reg & 7) == 3 ? INSN_STMXCSR :
		       INSN_OTHER;
	case 0xc7:
		return !in->rep && in->mod != 3 && (in->reg & 7) == 1 && REX_W(in) ?
		       INSN_CMPXCHG16B : INSN_OTHER;
	default:
		return INSN_OTHER;
	}
}

static enum insn_kind classify(const struct insn *in)
{
	if (in->vex)
		return INSN_OTHER;
	if (in->map == INSN_MAP_1B)
		return classify_1b(in);
	return in->map == INSN_MAP_0F ? classify_0f(in) : INSN_OTHER;
}

int insn_decode_mode(const uint8_t *bytes, size_t n, enum insn_mode mode, struct insn *out)
{
	struct cursor c = { .b = bytes, .n = bytes ? n : 0, .i = 0 };
	struct insn in = { .mode = mode, .seg = INSN_SEG_NONE, .base = INSN_REG_NONE,
			   .index = INSN_REG_NONE, .scale = 1 };
	uint8_t op;

	if (mode != INSN_MODE_16 && mode != INSN_MODE_32 && mode != INSN_MODE_64)
		return -1;
	if (read_prefixes(&c, &in) < 0 || next_byte(&c, &op) < 0)
		return -1;
	set_sizes(&in);
	int r;
	if (is_vex(&c, &in, op)) {
		r = read_vex(&c, &in, op);
	} else if (op == 0x0f) {
		r = read_escape(&c, &in);
	} else {
		in.opcode = op;
		r = read_one_byte(&c, &in);
	}
	if (r < 0)
		return -1;
	in.len = (uint8_t)c.i;
	in.kind = classify(&in);
	if (in.kind == INSN_INT_N) {
		in.vector = (uint8_t)in.imm;
		in.soft_int = true;
	} else if (in.kind == INSN_INT3 || in.kind == INSN_INT1) {
		in.vector = in.kind == INSN_INT3 ? 3 : 1;
	}
	*out = in;
	return 0;
}

int insn_decode(const uint8_t *bytes, size_t n, bool long_mode, struct insn *out)
{
	return insn_decode_mode(bytes, n, long_mode ? INSN_MODE_64 : INSN_MODE_32, out);
}
