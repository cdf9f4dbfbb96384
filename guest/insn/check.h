/*
 * check.h - the insn guest's test bookkeeping: one case at a time, each printing
 * "insn: PASS <name>", "insn: FAIL <name> <what> ..." (the first mismatch of the case) or
 * "insn: SKIP <name> <why>".
 */
#ifndef INSN_CHECK_H
#define INSN_CHECK_H

#include <stdint.h>

void eq(const char *what, uint64_t got, uint64_t want);
void run_case(const char *name, void (*fn)(void));
/* The current case cannot run here: "insn: SKIP <name> <why>" instead of PASS (an empty
 * `why`: the case printed its own SKIP line). */
void skip_case(const char *why);

/* Architectural RFLAGS bits (Intel SDM Vol. 1, 3.4.3). */
#define FL_CF 0x001ull
#define FL_PF 0x004ull
#define FL_AF 0x010ull
#define FL_ZF 0x040ull
#define FL_SF 0x080ull
#define FL_OF 0x800ull
#define FL_AC (1ull << 18)
#define FL_ARITH (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)
#define FL_FIXED 0x002ull /* bit 1 always reads 1 */

/* Written right after the instruction under test: proves RIP moved exactly past it. */
#define MARK 0x600dull

#endif
