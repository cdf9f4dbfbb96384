/*
 * gdb_packet.h - gdb's remote serial protocol as bytes: a packet's framing `$DATA#CK`
 * (checksum, acknowledgements `+`/`-`, the interrupt byte 0x03), binary escapes (`}` and
 * x ^ 0x20 for `#`, `$`, `}`, `*`), and hex.  Pure: no sockets, no VM, no commands; the
 * fuzz harness (fuzz/fuzz_gdb_packet.c) drives it with any bytes.
 */
#ifndef MPVMM_GDB_PACKET_H
#define MPVMM_GDB_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GDB_PACKET_MAX 4096 /* PacketSize we announce: the largest DATA we take */

enum gdb_rx_event {
	GDB_RX_NONE = 0,   /* need more bytes                                          */
	GDB_RX_PACKET,     /* a packet whose checksum matched: rx.buf[0..len) (answer +) */
	GDB_RX_BAD,        /* a packet with a wrong checksum or too long (answer -)      */
	GDB_RX_INTERRUPT,  /* 0x03 outside a packet: Ctrl-C                              */
	GDB_RX_ACK,        /* + */
	GDB_RX_NAK,        /* - : send the last packet again                              */
};

struct gdb_rx {
	enum { RX_IDLE, RX_DATA, RX_CK1, RX_CK2 } state;
	char buf[GDB_PACKET_MAX + 1]; /* NUL-terminated for convenience; may hold NULs */
	size_t len;
	uint8_t sum, ck;
	bool overflow;
};

void gdb_rx_init(struct gdb_rx *rx);
/* Feed one received byte. */
enum gdb_rx_event gdb_rx_byte(struct gdb_rx *rx, uint8_t c);

/*
 * `$DATA#CK` into out (outlen bytes), DATA escaped where the protocol needs it.  Returns
 * the framed length, or 0 if it does not fit.
 */
size_t gdb_frame(const void *data, size_t len, char *out, size_t outlen);

/* Undo binary escapes in place (X packets); returns the new length, or -1 if a `}` ends it. */
long gdb_unescape(char *buf, size_t len);

/* Hex: len bytes → 2*len characters (no NUL); 2*len characters → bytes (-1: not hex). */
void gdb_hex_encode(const void *in, size_t len, char *out);
int gdb_hex_decode(const char *in, size_t len, void *out);
/* A hex number at *p (at most 16 digits), *p moved past it; -1 if there is none. */
int gdb_hex_u64(const char **p, const char *end, uint64_t *v);

#endif
