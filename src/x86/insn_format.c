/*
 * insn_format.c - a decoded instruction as text, for reports (insn.h: insn_kind_name,
 * insn_format): the carried kinds with their operands, a small table of names for others
 * (after the instruction pages of the Intel SDM Vol. 2), the opcode for the rest, memory
 * operands in Intel syntax.  It reads a struct insn only: it must not know the instruction's
 * bytes or how insn.c decoded them.
 */
#include "x86/insn.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const kind_names[INSN_KINDS] = {
	"int n", "int3", "int1", "fwait", "popcnt", "lzcnt", "tzcnt", "clac", "stac", "ldmxcsr",
	"stmxcsr", "fnclex", "fnstsw", "emms", "cmpxchg16b",
};

const char *insn_kind_name(enum insn_kind k)
{
	return (unsigned)k < INSN_KINDS ? kind_names[k] : "?";
}

/* ---- Names of instructions that are not carried (for reports) -------------------------- */

#define ANY (-1)

struct name_entry {
	uint8_t map, opcode;
	int8_t reg;     /* ModRM.reg (without REX.R) or ANY                           */
	int8_t mod3;    /* 1: register form only, 0: memory form only, ANY            */
	int8_t rm;      /* ModRM.rm of a register form (without REX.B), or ANY         */
	int16_t prefix; /* mandatory 0x66/0xF2/0xF3, 0 = none of them, ANY            */
	const char *name;
};

static const struct name_entry names[] = {
	{ 0, 0x90, ANY, ANY, ANY, 0xf3, "pause" }, { 0, 0x90, ANY, ANY, ANY, ANY, "nop" },
	{ 0, 0xf4, ANY, ANY, ANY, ANY, "hlt" }, { 0, 0xfa, ANY, ANY, ANY, ANY, "cli" },
	{ 0, 0xfb, ANY, ANY, ANY, ANY, "sti" }, { 0, 0xcf, ANY, ANY, ANY, ANY, "iret" },
	{ 0, 0xce, ANY, ANY, ANY, ANY, "into" }, { 0, 0xf5, ANY, ANY, ANY, ANY, "cmc" },
	{ 0, 0xe4, ANY, ANY, ANY, ANY, "in" }, { 0, 0xe5, ANY, ANY, ANY, ANY, "in" },
	{ 0, 0xec, ANY, ANY, ANY, ANY, "in" }, { 0, 0xed, ANY, ANY, ANY, ANY, "in" },
	{ 0, 0xe6, ANY, ANY, ANY, ANY, "out" }, { 0, 0xe7, ANY, ANY, ANY, ANY, "out" },
	{ 0, 0xee, ANY, ANY, ANY, ANY, "out" }, { 0, 0xef, ANY, ANY, ANY, ANY, "out" },
	{ 0, 0xdb, 4, 1, 3, ANY, "fninit" }, { 0, 0xd9, 5, 1, 0, ANY, "fld1" },
	{ 0, 0xd9, 5, 1, 6, ANY, "fldz" }, { 0, 0xde, 7, 1, ANY, ANY, "fdivp" },
	{ 0, 0xd9, 5, 0, ANY, ANY, "fldcw" }, { 0, 0xd9, 7, 0, ANY, ANY, "fnstcw" },
	{ 0, 0xd9, 6, 0, ANY, ANY, "fnstenv" }, { 0, 0xd9, 4, 0, ANY, ANY, "fldenv" },
	{ 0, 0xdb, 0, 0, ANY, ANY, "fild" },
	{ 1, 0x00, 0, ANY, ANY, ANY, "sldt" }, { 1, 0x00, 1, ANY, ANY, ANY, "str" },
	{ 1, 0x00, 2, ANY, ANY, ANY, "lldt" }, { 1, 0x00, 3, ANY, ANY, ANY, "ltr" },
	{ 1, 0x01, 0, 1, 1, ANY, "vmcall" }, { 1, 0x01, 1, 1, 0, ANY, "monitor" },
	{ 1, 0x01, 1, 1, 1, ANY, "mwait" }, { 1, 0x01, 1, 1, 2, 0xf2, "erets" },
	{ 1, 0x01, 1, 1, 2, 0xf3, "eretu" }, { 1, 0x01, 2, 1, 0, ANY, "xgetbv" },
	{ 1, 0x01, 2, 1, 1, ANY, "xsetbv" }, { 1, 0x01, 3, 1, 1, ANY, "vmmcall" },
	{ 1, 0x01, 5, 1, 6, ANY, "rdpkru" }, { 1, 0x01, 5, 1, 7, ANY, "wrpkru" },
	{ 1, 0x01, 7, 1, 0, ANY, "swapgs" }, { 1, 0x01, 7, 1, 1, ANY, "rdtscp" },
	{ 1, 0x01, 0, 0, ANY, ANY, "sgdt" }, { 1, 0x01, 1, 0, ANY, ANY, "sidt" },
	{ 1, 0x01, 2, 0, ANY, ANY, "lgdt" }, { 1, 0x01, 3, 0, ANY, ANY, "lidt" },
	{ 1, 0x01, 4, ANY, ANY, ANY, "smsw" }, { 1, 0x01, 6, ANY, ANY, ANY, "lmsw" },
	{ 1, 0x01, 7, 0, ANY, ANY, "invlpg" },
	{ 1, 0x05, ANY, ANY, ANY, ANY, "syscall" }, { 1, 0x06, ANY, ANY, ANY, ANY, "clts" },
	{ 1, 0x07, ANY, ANY, ANY, ANY, "sysret" }, { 1, 0x08, ANY, ANY, ANY, ANY, "invd" },
	{ 1, 0x09, ANY, ANY, ANY, ANY, "wbinvd" }, { 1, 0x0b, ANY, ANY, ANY, ANY, "ud2" },
	{ 1, 0x1f, ANY, ANY, ANY, ANY, "nop" },
	{ 1, 0x20, ANY, ANY, ANY, ANY, "mov from cr" }, { 1, 0x22, ANY, ANY, ANY, ANY, "mov to cr" },
	{ 1, 0x21, ANY, ANY, ANY, ANY, "mov from dr" }, { 1, 0x23, ANY, ANY, ANY, ANY, "mov to dr" },
	{ 1, 0x30, ANY, ANY, ANY, ANY, "wrmsr" }, { 1, 0x31, ANY, ANY, ANY, ANY, "rdtsc" },
	{ 1, 0x32, ANY, ANY, ANY, ANY, "rdmsr" }, { 1, 0x33, ANY, ANY, ANY, ANY, "rdpmc" },
	{ 1, 0x34, ANY, ANY, ANY, ANY, "sysenter" }, { 1, 0x35, ANY, ANY, ANY, ANY, "sysexit" },
	{ 1, 0xa2, ANY, ANY, ANY, ANY, "cpuid" },
	{ 1, 0xae, 0, 0, ANY, 0, "fxsave" }, { 1, 0xae, 1, 0, ANY, 0, "fxrstor" },
	{ 1, 0xae, 3, 0, ANY, 0, "stmxcsr" }, { 1, 0xae, 4, 0, ANY, 0, "xsave" },
	{ 1, 0xae, 5, 0, ANY, 0, "xrstor" }, { 1, 0xae, 6, 0, ANY, 0, "xsaveopt" },
	{ 1, 0xae, 7, 0, ANY, 0, "clflush" }, { 1, 0xae, 5, 1, ANY, 0, "lfence" },
	{ 1, 0xae, 6, 1, ANY, 0, "mfence" }, { 1, 0xae, 7, 1, ANY, 0, "sfence" },
	{ 1, 0xae, 0, 1, ANY, 0xf3, "rdfsbase" }, { 1, 0xae, 1, 1, ANY, 0xf3, "rdgsbase" },
	{ 1, 0xae, 2, 1, ANY, 0xf3, "wrfsbase" }, { 1, 0xae, 3, 1, ANY, 0xf3, "wrgsbase" },
	{ 1, 0xb0, ANY, ANY, ANY, ANY, "cmpxchg" }, { 1, 0xb1, ANY, ANY, ANY, ANY, "cmpxchg" },
	{ 1, 0xb9, ANY, ANY, ANY, ANY, "ud1" }, { 1, 0xff, ANY, ANY, ANY, ANY, "ud0" },
	{ 1, 0xbc, ANY, ANY, ANY, ANY, "bsf" }, { 1, 0xbd, ANY, ANY, ANY, ANY, "bsr" },
	{ 1, 0xc0, ANY, ANY, ANY, ANY, "xadd" }, { 1, 0xc1, ANY, ANY, ANY, ANY, "xadd" },
	{ 1, 0xc7, 1, 0, ANY, ANY, "cmpxchg8b" }, { 1, 0xc7, 3, 0, ANY, ANY, "xrstors" },
	{ 1, 0xc7, 4, 0, ANY, ANY, "xsavec" }, { 1, 0xc7, 5, 0, ANY, ANY, "xsaves" },
	{ 1, 0xc7, 6, 1, ANY, 0, "rdrand" }, { 1, 0xc7, 7, 1, ANY, 0xf3, "rdpid" },
	{ 1, 0xc7, 7, 1, ANY, 0, "rdseed" }, { 1, 0xc7, 6, 0, ANY, 0, "vmptrld" },
	{ 2, 0xf0, ANY, ANY, ANY, 0xf2, "crc32" }, { 2, 0xf1, ANY, ANY, ANY, 0xf2, "crc32" },
	{ 2, 0xf0, ANY, 0, ANY, ANY, "movbe" }, { 2, 0xf1, ANY, 0, ANY, ANY, "movbe" },
};

static int mandatory_prefix(const struct insn *in)
{
	return in->rep ? in->rep : in->opsize_prefix ? 0x66 : 0;
}

static bool name_matches(const struct name_entry *e, const struct insn *in)
{
	if (e->map != in->map || e->opcode != in->opcode)
		return false;
	if (e->prefix != ANY && e->prefix != mandatory_prefix(in))
		return false;
	if (!in->has_modrm)
		return e->reg == ANY && e->mod3 == ANY;
	if (e->reg != ANY && e->reg != (in->reg & 7))
		return false;
	if (e->mod3 != ANY && e->mod3 != (in->mod == 3))
		return false;
	return e->rm == ANY || e->rm == (in->rm & 7);
}

static const char *other_name(const struct insn *in)
{
	if (in->vex)
		return NULL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (name_matches(&names[i], in))
			return names[i].name;
	return NULL;
}

/* ---- Formatting ------------------------------------------------------------------------ */

static const char *const reg64[16] = { "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
				       "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };
static const char *const reg32[16] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi",
				       "r8d", "r9d", "r10d", "r11d", "r12d", "r13d", "r14d",
				       "r15d" };
static const char *const reg16[16] = { "ax", "cx", "dx", "bx", "sp", "bp", "si", "di",
				       "r8w", "r9w", "r10w", "r11w", "r12w", "r13w", "r14w",
				       "r15w" };

static const char *reg_name(unsigned r, unsigned size)
{
	r &= 15;
	return size == 8 ? reg64[r] : size == 4 ? reg32[r] : reg16[r];
}

/* Appends to buf like snprintf, keeping *used at most len - 1. */
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;

	if (*used + 1 >= len)
		return;
	va_start(ap, fmt);
	int w = vsnprintf(buf + *used, len - *used, fmt, ap);
	va_end(ap);
	if (w > 0)
		*used = *used + (size_t)w < len ? *used + (size_t)w : len - 1;
}

static const char *size_word(unsigned size)
{
	switch (size) {
	case 2: return "word ";
	case 4: return "dword ";
	case 8: return "qword ";
	case 16: return "xmmword ";
	default: return "";
	}
}

static void format_mem(const struct insn *in, unsigned size, char *buf, size_t len, size_t *used)
{
	static const char *const segs[6] = { "es", "cs", "ss", "ds", "fs", "gs" };
	unsigned asz = in->addrsize;
	bool any = false;

	append(buf, len, used, "%s", size_word(size));
	if (in->seg != INSN_SEG_NONE)
		append(buf, len, used, "%s:", segs[(unsigned)in->seg]);
	append(buf, len, used, "[");
	if (in->rip_relative) {
		append(buf, len, used, "%s", asz == 4 ? "eip" : "rip");
		any = true;
	} else if (in->base != INSN_REG_NONE) {
		append(buf, len, used, "%s", reg_name((unsigned)in->base, asz));
		any = true;
	}
	if (in->index != INSN_REG_NONE) {
		append(buf, len, used, "%s%s", any ? "+" : "", reg_name((unsigned)in->index, asz));
		if (in->scale > 1)
			append(buf, len, used, "*%u", in->scale);
		any = true;
	}
	if (in->disp_size && (in->disp || !any)) {
		long long d = in->disp;
		if (!any)
			append(buf, len, used, "0x%llx", (unsigned long long)(uint32_t)in->disp);
		else
			append(buf, len, used, "%s0x%llx", d < 0 ? "-" : "+",
			       (unsigned long long)(d < 0 ? -d : d));
	}
	append(buf, len, used, "]");
}

/* "reg, r/m" of the bit-count instructions. */
static void format_reg_rm(const struct insn *in, char *buf, size_t len, size_t *used)
{
	append(buf, len, used, " %s, ", reg_name(in->reg, in->opsize));
	if (in->mod == 3)
		append(buf, len, used, "%s", reg_name(in->rm, in->opsize));
	else
		format_mem(in, in->opsize, buf, len, used);
}

static void format_carried(const struct insn *in, char *buf, size_t len, size_t *used)
{
	switch (in->kind) {
	case INSN_INT_N:
		append(buf, len, used, "int 0x%x", in->vector);
		break;
	case INSN_POPCNT: case INSN_LZCNT: case INSN_TZCNT:
		append(buf, len, used, "%s", kind_names[in->kind]);
		format_reg_rm(in, buf, len, used);
		break;
	case INSN_FNSTSW:
		append(buf, len, used, "fnstsw ");
		if (in->mod == 3)
			append(buf, len, used, "ax");
		else
			format_mem(in, 2, buf, len, used);
		break;
	case INSN_LDMXCSR: case INSN_STMXCSR:
		append(buf, len, used, "%s ", kind_names[in->kind]);
		format_mem(in, 4, buf, len, used);
		break;
	case INSN_CMPXCHG16B:
		append(buf, len, used, "%scmpxchg16b ", in->lock ? "lock " : "");
		format_mem(in, 16, buf, len, used);
		break;
	default:
		append(buf, len, used, "%s", kind_names[in->kind]);
		break;
	}
}

static void format_opcode(const struct insn *in, char *buf, size_t len, size_t *used)
{
	static const char *const escapes[4] = { "", "0f ", "0f 38 ", "0f 3a " };

	if (in->vex)
		append(buf, len, used, "vex ");
	else if (mandatory_prefix(in))
		append(buf, len, used, "%02x ", mandatory_prefix(in));
	append(buf, len, used, "%s%02x", escapes[in->map], in->opcode);
	if (in->has_modrm)
		append(buf, len, used, " /%u", in->reg & 7);
	if (in->has_modrm && in->mod == 3)
		append(buf, len, used, " (rm %u)", in->rm & 7);
}

void insn_format(const struct insn *in, char *buf, size_t len)
{
	size_t used = 0;

	if (!len)
		return;
	buf[0] = 0;
	if (in->kind < INSN_KINDS) {
		format_carried(in, buf, len, &used);
		return;
	}
	const char *name = other_name(in);
	if (name)
		append(buf, len, &used, "%s%s", in->lock ? "lock " : "", name);
	else
		format_opcode(in, buf, len, &used);
	if (in->has_modrm && in->mod != 3) {
		append(buf, len, &used, " ");
		format_mem(in, 0, buf, len, &used);
	}
}
