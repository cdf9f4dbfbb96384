/*
 * ring3.h - system-call entries from CPL 3 (Intel SDM Vol. 3A, 5.8.8 SYSCALL/SYSRET; 6.12.1
 * INT n through a DPL 3 gate): the guest drops to a 64-bit user code segment with IRETQ,
 * runs SYSCALL or INT 0x80, and its entry point records the CS it finds.  An entry reached
 * at CPL 3, or an exception instead of the entry, brings the guest back to CPL 0 through
 * trap.c (ring3_back).
 */
#ifndef INSN_RING3_H
#define INSN_RING3_H

#define RING3_KCODE 0x08 /* = GDT_CODE64: the IDT's gates keep using it      */
#define RING3_KDATA 0x10
#define RING3_UBASE 0x18 /* STAR[63:48]: SYSRET's CS = +16, SS = +8          */
#define RING3_UDATA 0x20
#define RING3_UCODE 0x28
#define RING3_TSS 0x30
#define RING3_VECTOR 0x80 /* the INT n vector, a DPL 3 interrupt gate       */

#define RING3_SYSCALL 0
#define RING3_INT80 1

#ifndef __ASSEMBLER__
#include <stdint.h>

struct trap_frame;

struct ring3_result {
	uint64_t entry_cs;  /* CS at the entry point; 0 if it was never reached */
	uint64_t entry_rcx; /* SYSCALL: RCX holds the return RIP                */
	uint64_t traps;     /* exceptions taken instead (or after the entry)    */
	uint64_t vector, error, rip, cs;
};

/* Where the user code's SYSCALL and INT 0x80 instructions are. */
extern const uint64_t ring3_user_syscall, ring3_user_int80;

void ring3_init(void);
/* Run `kind` at CPL 3; back at CPL 0 whatever happened. */
void ring3_try(int kind, struct ring3_result *r);
/* trap.c: an exception from CPL 3 while ring3_try runs; true if it took the guest back. */
int ring3_back(struct trap_frame *f);
#endif

#endif
