/*
 * test_insn.c - decoding of the instructions mpvmm carries for a KVM that cannot emulate
 * them: lengths, vectors, prefixes, REX only in 64-bit mode, truncated and foreign bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "x86/insn.h"

static void expect(const uint8_t *b, size_t n, bool lm, enum insn_kind kind, uint8_t vector,
		   uint8_t len, bool soft)
{
	struct insn in;

	assert_int_equal(insn_decode(b, n, lm, &in), 0);
	assert_int_equal(in.kind, kind);
	assert_int_equal(in.vector, vector);
	assert_int_equal(in.len, len);
	assert_int_equal(in.soft_int, soft);
}

static void test_plain(void **state)
{
	(void)state;
	expect((const uint8_t[]){ 0xcd, 0x80 }, 2, true, INSN_INT_N, 0x80, 2, true);
	expect((const uint8_t[]){ 0xcd, 0x03 }, 2, false, INSN_INT_N, 3, 2, true);
	expect((const uint8_t[]){ 0xcc, 0x90 }, 2, true, INSN_INT3, 3, 1, false);
	expect((const uint8_t[]){ 0xf1 }, 1, false, INSN_INT1, 1, 1, false);
}

static void test_prefixes(void **state)
{
	(void)state;
	expect((const uint8_t[]){ 0x66, 0xcd, 0x21 }, 3, false, INSN_INT_N, 0x21, 3, true);
	expect((const uint8_t[]){ 0x2e, 0x3e, 0xcc }, 3, true, INSN_INT3, 3, 3, false);
	expect((const uint8_t[]){ 0x48, 0xcc }, 2, true, INSN_INT3, 3, 2, false);
	expect((const uint8_t[]){ 0x66, 0x41, 0xcd, 0x40 }, 4, true, INSN_INT_N, 0x40, 4, true);
}

static void test_rejects(void **state)
{
	struct insn in;
	uint8_t many[16];

	(void)state;
	/* 0x48 is DEC EAX outside 64-bit mode, not a prefix. */
	assert_int_equal(insn_decode((const uint8_t[]){ 0x48, 0xcc }, 2, false, &in), -1);
	/* A REX prefix must come right before the opcode. */
	assert_int_equal(insn_decode((const uint8_t[]){ 0x48, 0x66, 0xcc }, 3, true, &in), -1);
	assert_int_equal(insn_decode((const uint8_t[]){ 0xcd }, 1, true, &in), -1);
	assert_int_equal(insn_decode((const uint8_t[]){ 0x90 }, 1, true, &in), -1);
	assert_int_equal(insn_decode((const uint8_t[]){ 0x0f, 0x01, 0xca }, 3, true, &in), -1);
	assert_int_equal(insn_decode(NULL, 0, true, &in), -1);
	for (size_t i = 0; i < sizeof(many); i++)
		many[i] = 0x66;
	many[15] = 0xcc; /* 16th byte: beyond the architectural 15-byte limit */
	assert_int_equal(insn_decode(many, sizeof(many), true, &in), -1);
	many[14] = 0xcc; /* exactly 15 bytes: legal */
	assert_int_equal(insn_decode(many, sizeof(many), true, &in), 0);
	assert_int_equal(in.len, 15);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
