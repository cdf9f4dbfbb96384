/*
 * test_gdb_packet.c - unit tests of the gdb stub's packet layer (gdb/gdb_packet.c):
 * framing and checksums both ways, acknowledgements and Ctrl-C, bad checksums, packets too
 * long, binary escapes, hex; and of the register layout (gdb/gdb_regs.c): the `g` block's
 * size, and the linear pc outside long mode.
 *
 * Pure: no sockets, no VM.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gdb/gdb_packet.h"
#include "gdb/gdb_regs.h"

static enum gdb_rx_event feed(struct gdb_rx *rx, const char *s, size_t n)
{
	enum gdb_rx_event last = GDB_RX_NONE;

	for (size_t i = 0; i < n; i++) {
		enum gdb_rx_event e = gdb_rx_byte(rx, (uint8_t)s[i]);
		if (e != GDB_RX_NONE)
			last = e;
	}
	return last;
}

static void test_frame_and_receive(void **state)
{
	char out[64];
	struct gdb_rx rx;

	(void)state;
	size_t n = gdb_frame("OK", 2, out, sizeof(out));
	assert_int_equal(n, 6);
	assert_memory_equal(out, "$OK#9a", 6);
	gdb_rx_init(&rx);
	assert_int_equal(feed(&rx, out, n), GDB_RX_PACKET);
	assert_string_equal(rx.buf, "OK");
	assert_int_equal(feed(&rx, "$OK#9b", 6), GDB_RX_BAD);
	assert_int_equal(feed(&rx, "+", 1), GDB_RX_ACK);
	assert_int_equal(feed(&rx, "-", 1), GDB_RX_NAK);
	assert_int_equal(feed(&rx, "\x03", 1), GDB_RX_INTERRUPT);
	/* 0x03 inside a packet is data; a '$' restarts the packet. */
	assert_int_equal(feed(&rx, "$a$OK#9a", 8), GDB_RX_PACKET);
	assert_string_equal(rx.buf, "OK");
}

static void test_escapes(void **state)
{
	char out[64], data[] = { '#', '$', '}', '*', 'x' };
	struct gdb_rx rx;

	(void)state;
	size_t n = gdb_frame(data, sizeof(data), out, sizeof(out));
	assert_true(n > 0);
	gdb_rx_init(&rx);
	assert_int_equal(feed(&rx, out, n), GDB_RX_PACKET);
	long m = gdb_unescape(rx.buf, rx.len);
	assert_int_equal(m, 5);
	assert_memory_equal(rx.buf, data, 5);
	char bad[] = "ab}";
	assert_int_equal(gdb_unescape(bad, 3), -1);
	assert_int_equal(gdb_frame("abcdef", 6, out, 8), 0); /* does not fit */
}

static void test_too_long(void **state)
{
	struct gdb_rx rx;
	char c = 'a';

	(void)state;
	gdb_rx_init(&rx);
	gdb_rx_byte(&rx, '$');
	uint8_t sum = 0;
	for (int i = 0; i < GDB_PACKET_MAX + 10; i++) {
		gdb_rx_byte(&rx, (uint8_t)c);
		sum = (uint8_t)(sum + c);
	}
	char ck[4];
	snprintf(ck, sizeof(ck), "#%02x", sum);
	assert_int_equal(feed(&rx, ck, 3), GDB_RX_BAD);
}

static void test_hex(void **state)
{
	uint8_t b[3];
	char h[7];
	const char *p = "1f,x", *q = "g";
	uint64_t v;

	(void)state;
	gdb_hex_encode("\x01\xab\xff", 3, h);
	assert_memory_equal(h, "01abff", 6);
	assert_int_equal(gdb_hex_decode("01ABff", 6, b), 0);
	assert_memory_equal(b, "\x01\xab\xff", 3);
	assert_int_equal(gdb_hex_decode("0g", 2, b), -1);
	assert_int_equal(gdb_hex_decode("012", 3, b), -1);
	assert_int_equal(gdb_hex_u64(&p, p + 4, &v), 0);
	assert_int_equal(v, 0x1f);
	assert_int_equal(*p, ',');
	assert_int_equal(gdb_hex_u64(&q, q + 1, &v), -1);
	const char *big = "11112222333344445";
	assert_int_equal(gdb_hex_u64(&big, big + 17, &v), -1);
}

static void test_regs(void **state)
{
	struct x86_regs r = { .rax = 1, .rbp = 2, .rsp = 3, .rip = 0 };
	struct x86_sregs s = { .cs = { .selector = 0x800, .base = 0x8000 } };
	uint8_t g[GDB_REGS_BYTES];
	uint64_t v;

	(void)state;
	unsigned total = 0;
	for (unsigned n = 0; n < GDB_NREGS; n++)
		total += gdb_reg_size(n);
	assert_int_equal(total, GDB_REGS_BYTES);
	gdb_regs_get(&r, &s, g);
	memcpy(&v, g + 6 * 8, 8);
	assert_int_equal(v, 2); /* gdb's order: rbp before rsp */
	memcpy(&v, g + 16 * 8, 8);
	assert_int_equal(v, 0x8000); /* real mode: pc = CS.base + IP */
	v = 0x8003;
	gdb_reg_set(&r, &s, 16, (const uint8_t *)&v);
	assert_int_equal(r.rip, 3);
	uint32_t cs = 0x900;
	gdb_reg_set(&r, &s, 18, (const uint8_t *)&cs);
	assert_int_equal(s.cs.base, 0x9000); /* real mode: base follows the selector */
	s.efer = X86_EFER_LMA;
	r.rip = 0xffffffff81000000ull;
	gdb_reg_get(&r, &s, 16, (uint8_t *)&v);
	assert_true(v == 0xffffffff81000000ull);
	assert_non_null(strstr(gdb_target_xml, "i386:x86-64"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_and_receive),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_regs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
