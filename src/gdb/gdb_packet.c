/*
 * gdb_packet.c - see gdb_packet.h.  GDB manual, appendix E.1 "Overview" (framing,
 * checksums, escapes) and E.10 "Interrupts".
 */
#include "gdb/gdb_packet.h"

#include <string.h>

void gdb_rx_init(struct gdb_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static enum gdb_rx_event rx_idle(struct gdb_rx *rx, uint8_t c)
{
	switch (c) {
	case '$':
		rx->state = RX_DATA;
		rx->len = 0;
		rx->sum = 0;
		rx->overflow = false;
		return GDB_RX_NONE;
	case 0x03:
		return GDB_RX_INTERRUPT;
	case '+':
		return GDB_RX_ACK;
	case '-':
		return GDB_RX_NAK;
	default:
		return GDB_RX_NONE; /* noise between packets */
	}
}

static enum gdb_rx_event rx_data(struct gdb_rx *rx, uint8_t c)
{
	if (c == '#') {
		rx->state = RX_CK1;
		return GDB_RX_NONE;
	}
	if (c == '$') { /* a new packet before this one ended: start over */
		rx->len = 0;
		rx->sum = 0;
		rx->overflow = false;
		return GDB_RX_NONE;
	}
	rx->sum = (uint8_t)(rx->sum + c);
	if (rx->len < GDB_PACKET_MAX)
		rx->buf[rx->len++] = (char)c;
	else
		rx->overflow = true;
	return GDB_RX_NONE;
}

enum gdb_rx_event gdb_rx_byte(struct gdb_rx *rx, uint8_t c)
{
	int h;

	switch (rx->state) {
	case RX_IDLE:
		return rx_idle(rx, c);
	case RX_DATA:
		return rx_data(rx, c);
	case RX_CK1:
		h = hexval(c);
		rx->ck = (uint8_t)((h < 0 ? 0 : h) << 4);
		rx->state = h < 0 ? RX_IDLE : RX_CK2;
		return h < 0 ? GDB_RX_BAD : GDB_RX_NONE;
	case RX_CK2:
		rx->state = RX_IDLE;
		h = hexval(c);
		if (h < 0 || rx->overflow || (uint8_t)(rx->ck | h) != rx->sum)
			return GDB_RX_BAD;
		rx->buf[rx->len] = 0;
		return GDB_RX_PACKET;
	}
	rx->state = RX_IDLE;
	return GDB_RX_NONE;
}

static bool needs_escape(uint8_t c)
{
	return c == '#' || c == '$' || c == '}' || c == '*';
}

size_t gdb_frame(const void *data, size_t len, char *out, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *d = data;
	size_t n = 0;
	uint8_t sum = 0;

	if (outlen < 4)
		return 0;
	out[n++] = '$';
	for (size_t i = 0; i < len; i++) {
		uint8_t c = d[i];
		if (n + 2 + 3 > outlen)
			return 0;
		if (needs_escape(c)) {
			out[n++] = '}';
			sum = (uint8_t)(sum + '}');
			c ^= 0x20;
		}
		out[n++] = (char)c;
		sum = (uint8_t)(sum + c);
	}
	if (n + 3 > outlen)
		return 0;
	out[n++] = '#';
	out[n++] = hex[sum >> 4];
	out[n++] = hex[sum & 15];
	return n;
}

long gdb_unescape(char *buf, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '}') {
			if (++i >= len)
				return -1;
			buf[o++] = (char)(buf[i] ^ 0x20);
		} else {
			buf[o++] = buf[i];
		}
	}
	return (long)o;
}

void gdb_hex_encode(const void *in, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *b = in;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
}

int gdb_hex_decode(const char *in, size_t len, void *out)
{
	uint8_t *b = out;

	if (len % 2)
		return -1;
	for (size_t i = 0; i < len / 2; i++) {
		int hi = hexval((uint8_t)in[2 * i]), lo = hexval((uint8_t)in[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		b[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int gdb_hex_u64(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t x = 0;
	int n = 0, h;

	while (s < end && (h = hexval((uint8_t)*s)) >= 0) {
		if (++n > 16)
			return -1;
		x = x << 4 | (uint64_t)h;
		s++;
	}
	if (!n)
		return -1;
	*v = x;
	*p = s;
	return 0;
}
