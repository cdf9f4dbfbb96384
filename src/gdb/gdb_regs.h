/*
 * gdb_regs.h - a vCPU's registers as gdb sees them: the target description
 * (qXfer:features:read:target.xml, i386:x86-64 with the core, SSE, segment-base and a system
 * feature), and the `g` packet's byte layout in its register numbers.  x87 and SSE data
 * registers read as zero and writes to them are ignored (the stub debugs MP bring-up, not
 * floating point).  Pure: registers in, bytes out.
 */
#ifndef MPVMM_GDB_REGS_H
#define MPVMM_GDB_REGS_H

#include <stddef.h>
#include <stdint.h>

#include "x86/regs.h"

#define GDB_NREGS 65
#define GDB_REGS_BYTES 600 /* the `g` packet's size in bytes */

/* The target description, NUL-terminated. */
extern const char gdb_target_xml[];

/* Register n's size in bytes (0: no such register) and its offset in the `g` block. */
unsigned gdb_reg_size(unsigned n);
/* Register n into out (gdb_reg_size(n) bytes, little-endian). */
void gdb_reg_get(const struct x86_regs *r, const struct x86_sregs *s, unsigned n, uint8_t *out);
/* Register n from in; a segment's base follows its selector in real mode. */
void gdb_reg_set(struct x86_regs *r, struct x86_sregs *s, unsigned n, const uint8_t *in);
/* All registers, in order, into GDB_REGS_BYTES bytes, and back. */
void gdb_regs_get(const struct x86_regs *r, const struct x86_sregs *s, uint8_t *out);
void gdb_regs_set(struct x86_regs *r, struct x86_sregs *s, const uint8_t *in);

#endif
