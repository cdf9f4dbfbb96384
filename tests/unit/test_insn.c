/*
 * test_insn.c - the instruction decoder on byte strings (no KVM): lengths of every operand
 * shape (ModRM, SIB, displacements, RIP-relative, immediates), prefixes and REX, the 0F /
 * 0F 38 / 0F 3A maps and VEX, the carried kinds, names, and malformed or truncated bytes,
 * which must give -1 without reading past the buffer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "x86/insn.h"

#define B(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

static struct insn dec(const uint8_t *b, size_t n, enum insn_mode mode)
{
	struct insn in;

	assert_int_equal(insn_decode_mode(b, n, mode, &in), 0);
	return in;
}

static void expect_len(const uint8_t *b, size_t n, enum insn_mode mode, unsigned len)
{
	assert_int_equal(dec(b, n, mode).len, len);
}

static void expect_kind(const uint8_t *b, size_t n, enum insn_kind kind, unsigned len)
{
	struct insn in = dec(b, n, INSN_MODE_64);

	assert_int_equal(in.kind, kind);
	assert_int_equal(in.len, len);
}

static void expect_name(const uint8_t *b, size_t n, enum insn_mode mode, const char *want)
{
	struct insn in = dec(b, n, mode);
	char buf[96];

	insn_format(&in, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

/* Decoding must fail, also when the bytes sit at the very end of a heap block (ASan). */
static void expect_reject(const uint8_t *b, size_t n, enum insn_mode mode)
{
	struct insn in;
	uint8_t *copy = malloc(n ? n : 1);

	assert_non_null(copy);
	if (n)
		memcpy(copy, b, n);
	assert_int_equal(insn_decode_mode(copy, n, mode, &in), -1);
	free(copy);
}

static void test_software_interrupts(void **state)
{
	struct insn in;

	(void)state;
	in = dec(B(0xcd, 0x80), INSN_MODE_64);
	assert_int_equal(in.kind, INSN_INT_N);
	assert_int_equal(in.vector, 0x80);
	assert_true(in.soft_int);
	assert_int_equal(in.len, 2);
	in = dec(B(0xcc, 0x90), INSN_MODE_64);
	assert_int_equal(in.kind, INSN_INT3);
	assert_int_equal(in.vector, 3);
	assert_false(in.soft_int);
	assert_int_equal(in.len, 1);
	in = dec(B(0xf1), INSN_MODE_32);
	assert_int_equal(in.kind, INSN_INT1);
	assert_int_equal(in.vector, 1);
	in = dec(B(0x66, 0x41, 0xcd, 0x40), INSN_MODE_64);
	assert_int_equal(in.kind, INSN_INT_N);
	assert_int_equal(in.len, 4);
	assert_int_equal(insn_decode(B(0x66, 0xcd, 0x21), false, &in), 0);
	assert_int_equal(in.len, 3);
}

static void test_carried_kinds(void **state)
{
	(void)state;
	expect_kind(B(0x9b), INSN_FWAIT, 1);
	expect_kind(B(0xf3, 0x48, 0x0f, 0xb8, 0xc3), INSN_POPCNT, 5);
	expect_kind(B(0xf3, 0x0f, 0xbd, 0xc1), INSN_LZCNT, 4);
	expect_kind(B(0xf3, 0x0f, 0xbc, 0x07), INSN_TZCNT, 4);
	expect_kind(B(0x0f, 0x01, 0xca), INSN_CLAC, 3);
	expect_kind(B(0x0f, 0x01, 0xcb), INSN_STAC, 3);
	expect_kind(B(0x0f, 0xae, 0x10), INSN_LDMXCSR, 3);
	expect_kind(B(0x0f, 0xae, 0x5c, 0x24, 0x0c), INSN_STMXCSR, 5);
	expect_kind(B(0xdb, 0xe2), INSN_FNCLEX, 2);
	expect_kind(B(0xdf, 0xe0), INSN_FNSTSW, 2);
	expect_kind(B(0xdd, 0x38), INSN_FNSTSW, 2);
	expect_kind(B(0x0f, 0x77), INSN_EMMS, 2);
	expect_kind(B(0xf0, 0x48, 0x0f, 0xc7, 0x0f), INSN_CMPXCHG16B, 5);
	/* Same opcodes, other instructions. */
	expect_kind(B(0x0f, 0xb8, 0xc3), INSN_OTHER, 3);             /* JMPE / #UD */
	expect_kind(B(0x0f, 0xbd, 0xc1), INSN_OTHER, 3);             /* BSR        */
	expect_kind(B(0xf3, 0x0f, 0x01, 0xca), INSN_OTHER, 4);       /* ERETU      */
	expect_kind(B(0x0f, 0xae, 0xd0), INSN_OTHER, 3);             /* /2 reg: not LDMXCSR */
	expect_kind(B(0x0f, 0xae, 0x28), INSN_OTHER, 3);             /* XRSTOR     */
	expect_kind(B(0x0f, 0xc7, 0x0f), INSN_OTHER, 3);             /* CMPXCHG8B  */
	expect_kind(B(0x66, 0x0f, 0x77), INSN_OTHER, 3);
	expect_kind(B(0x90), INSN_OTHER, 1);
}

static void test_operand_sizes(void **state)
{
	struct insn in;

	(void)state;
	in = dec(B(0xf3, 0x0f, 0xb8, 0xc3), INSN_MODE_64);
	assert_int_equal(in.opsize, 4);
	in = dec(B(0x66, 0xf3, 0x0f, 0xb8, 0xc3), INSN_MODE_64);
	assert_int_equal(in.opsize, 2);
	in = dec(B(0x66, 0xf3, 0x48, 0x0f, 0xb8, 0xc3), INSN_MODE_64);
	assert_int_equal(in.opsize, 8); /* REX.W wins over 66 */
	in = dec(B(0xf3, 0x0f, 0xb8, 0xc3), INSN_MODE_16);
	assert_int_equal(in.opsize, 2);
	in = dec(B(0x66, 0xf3, 0x0f, 0xb8, 0xc3), INSN_MODE_16);
	assert_int_equal(in.opsize, 4);
	assert_int_equal(in.addrsize, 2);
	in = dec(B(0x67, 0xf3, 0x0f, 0xb8, 0x03), INSN_MODE_64);
	assert_int_equal(in.addrsize, 4);
}

static void test_modrm_sib_disp(void **state)
{
	struct insn in;

	(void)state;
	/* popcnt r10, [r9 + r11*8 - 0x10]: REX.WRXB, SIB, disp8 */
	in = dec(B(0xf3, 0x4f, 0x0f, 0xb8, 0x54, 0xd9, 0xf0), INSN_MODE_64);
	assert_int_equal(in.len, 7);
	assert_int_equal(in.reg, 10);
	assert_int_equal(in.base, 9);
	assert_int_equal(in.index, 11);
	assert_int_equal(in.scale, 8);
	assert_int_equal(in.disp, -16);
	assert_int_equal(in.disp_size, 1);
	/* [rsp] needs a SIB with no index; [r12] too (REX.B does not change that) */
	in = dec(B(0xf3, 0x41, 0x0f, 0xb8, 0x04, 0x24), INSN_MODE_64);
	assert_int_equal(in.base, 12);
	assert_int_equal(in.index, INSN_REG_NONE);
	/* SIB base 101 with mod 00: disp32, no base */
	in = dec(B(0xf3, 0x0f, 0xb8, 0x04, 0x25, 0x78, 0x56, 0x34, 0x12), INSN_MODE_64);
	assert_int_equal(in.base, INSN_REG_NONE);
	assert_int_equal(in.disp, 0x12345678);
	assert_false(in.rip_relative);
	assert_int_equal(in.len, 9);
	/* RIP-relative in 64-bit mode, absolute disp32 in 32-bit mode */
	in = dec(B(0xf3, 0x48, 0x0f, 0xb8, 0x05, 0xf0, 0xff, 0xff, 0xff), INSN_MODE_64);
	assert_true(in.rip_relative);
	assert_int_equal(in.disp, -16);
	in = dec(B(0xf3, 0x0f, 0xb8, 0x05, 0x00, 0x10, 0x00, 0x00), INSN_MODE_32);
	assert_false(in.rip_relative);
	assert_int_equal(in.base, INSN_REG_NONE);
	/* REX.X with index 100: r12 as index */
	in = dec(B(0xf3, 0x4a, 0x0f, 0xb8, 0x04, 0x20), INSN_MODE_64);
	assert_int_equal(in.index, 12);
	/* disp32 with mod 10 */
	in = dec(B(0x0f, 0xae, 0x90, 0x00, 0x01, 0x00, 0x00), INSN_MODE_64);
	assert_int_equal(in.disp, 0x100);
	assert_int_equal(in.len, 7);
	/* 16-bit addressing: [bp+di+disp8], [disp16] */
	in = dec(B(0x0f, 0xae, 0x53, 0x08), INSN_MODE_16);
	assert_int_equal(in.base, 5);
	assert_int_equal(in.index, 7);
	assert_int_equal(in.len, 4);
	in = dec(B(0x0f, 0xae, 0x16, 0x34, 0x12), INSN_MODE_16);
	assert_int_equal(in.base, INSN_REG_NONE);
	assert_int_equal(in.disp, 0x1234);
}

static void test_lengths(void **state)
{
	(void)state;
	expect_len(B(0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8), INSN_MODE_64, 10);  /* mov rax, imm64 */
	expect_len(B(0xb8, 1, 2, 3, 4), INSN_MODE_64, 5);
	expect_len(B(0x66, 0xb8, 1, 2), INSN_MODE_64, 4);
	expect_len(B(0x81, 0xc3, 1, 2, 3, 4), INSN_MODE_32, 6);                 /* add ebx, imm32 */
	expect_len(B(0x66, 0x81, 0xc3, 1, 2), INSN_MODE_32, 5);
	expect_len(B(0x83, 0x44, 0x24, 0x08, 0x01), INSN_MODE_64, 5);
	expect_len(B(0xc7, 0x05, 1, 0, 0, 0, 2, 0, 0, 0), INSN_MODE_64, 10);   /* rip, imm32 */
	expect_len(B(0xf6, 0xc0, 0x01), INSN_MODE_64, 3);                       /* test al, 1 */
	expect_len(B(0xf6, 0xd0), INSN_MODE_64, 2);                             /* not al */
	expect_len(B(0xf7, 0xc0, 1, 0, 0, 0), INSN_MODE_64, 6);
	expect_len(B(0xc8, 0x10, 0x00, 0x01), INSN_MODE_64, 4);                 /* enter */
	expect_len(B(0xe8, 0, 0, 0, 0), INSN_MODE_64, 5);
	expect_len(B(0x66, 0xe8, 0, 0, 0, 0), INSN_MODE_16, 6);      /* rel32 with 66 */
	expect_len(B(0xe8, 0, 0), INSN_MODE_16, 3);
	expect_len(B(0x0f, 0x84, 0, 0, 0, 0), INSN_MODE_64, 6);
	expect_len(B(0xa1, 1, 2, 3, 4, 5, 6, 7, 8), INSN_MODE_64, 9);          /* mov eax, moffs64 */
	expect_len(B(0x67, 0xa1, 1, 2, 3, 4), INSN_MODE_64, 6);
	expect_len(B(0x0f, 0x3a, 0x0f, 0xc1, 0x08), INSN_MODE_64, 5);          /* palignr */
	expect_len(B(0x66, 0x0f, 0x38, 0x00, 0xc1), INSN_MODE_64, 5);          /* pshufb */
	expect_len(B(0x0f, 0xba, 0xe0, 0x05), INSN_MODE_64, 4);                /* bt eax, 5 */
	expect_len(B(0x0f, 0xa2), INSN_MODE_64, 2);                            /* cpuid */
	expect_len(B(0xc5, 0xf8, 0x77), INSN_MODE_64, 3);                      /* vzeroupper */
	expect_len(B(0xc4, 0xe2, 0x79, 0x18, 0x07), INSN_MODE_64, 5);          /* vbroadcastss */
	expect_len(B(0xc4, 0xe3, 0x79, 0x0f, 0xc1, 0x08), INSN_MODE_64, 6);   /* vpalignr */
	expect_len(B(0xc5, 0x00), INSN_MODE_32, 2);                            /* lds eax, [eax] */
	expect_len(B(0x48, 0x66, 0xcc), INSN_MODE_64, 3);  /* REX then 66: REX ignored */
}

static void test_names(void **state)
{
	(void)state;
	expect_name(B(0xf3, 0x4f, 0x0f, 0xb8, 0x54, 0xd9, 0xf0), INSN_MODE_64,
		    "popcnt r10, qword [r9+r11*8-0x10]");
	expect_name(B(0x66, 0xf3, 0x0f, 0xbd, 0xc1), INSN_MODE_64, "lzcnt ax, cx");
	expect_name(B(0xf3, 0x0f, 0xbc, 0x05, 0x10, 0, 0, 0), INSN_MODE_64,
		    "tzcnt eax, dword [rip+0x10]");
	expect_name(B(0x65, 0x0f, 0xae, 0x14, 0x25, 0, 0x10, 0, 0), INSN_MODE_64,
		    "ldmxcsr dword gs:[0x1000]");
	expect_name(B(0xf0, 0x48, 0x0f, 0xc7, 0x0f), INSN_MODE_64, "lock cmpxchg16b xmmword [rdi]");
	expect_name(B(0xcd, 0x80), INSN_MODE_64, "int 0x80");
	expect_name(B(0x0f, 0xae, 0x28), INSN_MODE_64, "xrstor [rax]");
	expect_name(B(0xf2, 0x0f, 0x38, 0xf0, 0xc1), INSN_MODE_64, "crc32");
	expect_name(B(0x0f, 0x01, 0xc1), INSN_MODE_64, "vmcall");
	expect_name(B(0xd9, 0xee), INSN_MODE_64, "fldz");
	expect_name(B(0x0f, 0x38, 0xf6, 0xc1), INSN_MODE_64, "0f 38 f6 /0 (rm 1)");
	expect_name(B(0xc5, 0xf8, 0x77), INSN_MODE_64, "vex 0f 77");
	assert_string_equal(insn_kind_name(INSN_POPCNT), "popcnt");
	assert_string_equal(insn_kind_name(INSN_KINDS), "?");
}

static void test_format_truncates(void **state)
{
	struct insn in = dec(B(0xf3, 0x4f, 0x0f, 0xb8, 0x54, 0xd9, 0xf0), INSN_MODE_64);
	char small[8];

	(void)state;
	memset(small, 'x', sizeof(small));
	insn_format(&in, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	insn_format(&in, small, 0); /* nothing written, no crash */
}

static void test_rejects(void **state)
{
	uint8_t many[16];

	(void)state;
	expect_reject(NULL, 0, INSN_MODE_64);
	expect_reject(B(0xcd), INSN_MODE_64);                           /* imm8 missing */
	expect_reject(B(0xf3, 0x48, 0x0f, 0xb8), INSN_MODE_64);         /* ModRM missing */
	expect_reject(B(0xf3, 0x0f, 0xb8, 0x04), INSN_MODE_64);         /* SIB missing */
	expect_reject(B(0xf3, 0x0f, 0xb8, 0x44, 0x24), INSN_MODE_64);   /* disp8 missing */
	expect_reject(B(0xf3, 0x0f, 0xb8, 0x05, 1, 2, 3), INSN_MODE_64); /* disp32 short */
	expect_reject(B(0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7), INSN_MODE_64); /* imm64 short */
	expect_reject(B(0x66, 0x66, 0xf3), INSN_MODE_64);               /* prefixes only */
	expect_reject(B(0x0f), INSN_MODE_64);
	expect_reject(B(0x0f, 0x38), INSN_MODE_64);
	expect_reject(B(0xc4, 0xe2), INSN_MODE_64);                     /* VEX cut short */
	expect_reject(B(0x06), INSN_MODE_64);                           /* push es: not in 64 */
	expect_reject(B(0x62, 0xf1, 0x7c, 0x48, 0x10, 0x01), INSN_MODE_64); /* EVEX */
	expect_reject(B(0x0f, 0x0f, 0xc1, 0xb4), INSN_MODE_64);        /* 3DNow! */
	expect_reject(B(0x66, 0xc5, 0xf8, 0x77), INSN_MODE_64);        /* 66 before VEX: #UD */
	expect_reject(B(0x8f, 0xe9, 0x78, 0x01), INSN_MODE_64);        /* XOP */
	expect_reject(B(0x0f, 0x0b), (enum insn_mode)3);               /* no such mode */
	for (size_t i = 0; i < sizeof(many); i++)
		many[i] = 0x66;
	many[15] = 0xcc; /* 16th byte: beyond the architectural limit */
	expect_reject(many, sizeof(many), INSN_MODE_64);
	many[14] = 0xcc; /* exactly 15 bytes: legal */
	expect_len(many, sizeof(many), INSN_MODE_64, 15);
	/* 0x48 is DEC EAX outside 64-bit mode: an instruction, not a prefix */
	expect_kind(B(0x48, 0xcc), INSN_INT3, 2);
	assert_int_equal(dec(B(0x48, 0xcc), INSN_MODE_32).kind, INSN_OTHER);
}

/* Every prefix of a valid encoding is truncated: -1, never a read past the end. */
static void test_every_truncation(void **state)
{
	static const uint8_t samples[][15] = {
		{ 0xf3, 0x4f, 0x0f, 0xb8, 0x54, 0xd9, 0xf0 },
		{ 0x65, 0x0f, 0xae, 0x14, 0x25, 0, 0x10, 0, 0 },
		{ 0xf0, 0x48, 0x0f, 0xc7, 0x8f, 1, 2, 3, 4 },
		{ 0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8 },
		{ 0xc4, 0xe3, 0x79, 0x0f, 0x84, 0x24, 1, 2, 3, 4, 8 },
	};
	static const unsigned lens[] = { 7, 9, 9, 10, 11 };

	(void)state;
	for (size_t s = 0; s < sizeof(lens) / sizeof(lens[0]); s++) {
		expect_len(samples[s], lens[s], INSN_MODE_64, lens[s]);
		for (size_t n = 0; n < lens[s]; n++)
			expect_reject(samples[s], n, INSN_MODE_64);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_software_interrupts),
		cmocka_unit_test(test_carried_kinds),
		cmocka_unit_test(test_operand_sizes),
		cmocka_unit_test(test_modrm_sib_disp),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_format_truncates),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_every_truncation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
