/*
 * trampoline.h - the data block at the end of the AP trampoline (trampoline.S), filled in by
 * the BSP after copying the trampoline to SELFTEST_TRAMPOLINE.  Offsets are shared with the
 * assembly, which reads the block at its absolute address below 1 MiB.
 */
#ifndef SELFTEST_TRAMPOLINE_H
#define SELFTEST_TRAMPOLINE_H

#define TD_GDTR        0  /* 16-bit limit, 32-bit base (LGDT operand), 2 bytes pad  */
#define TD_CR3         8  /* page-table root (the BSP's CR3, below 4 GiB)          */
#define TD_EFER_OR     16 /* bits ORed into EFER: LME, plus the BSP's NXE and SCE  */
#define TD_ENTRY       24 /* 64-bit C entry: void ap_main(void), never returns      */
#define TD_STACK_BASE  32 /* AP stacks: STACK_SIZE bytes each from here             */
#define TD_STACK_COUNT 40 /* how many stacks there are                              */
#define TD_STACK_NEXT  44 /* next free stack (LOCK XADD by each AP)                 */
#define TD_SIZE        48

#define AP_STACK_SIZE  4096

/*
 * SELFTEST_TRAMPOLINE without its C suffix, for the assembler (clang's rejects "u");
 * checked equal below.
 */
#define TRAMPOLINE_ADDR 0x8000

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <stdint.h>

#include "mpvmm/selftest_abi.h"

_Static_assert(TRAMPOLINE_ADDR == SELFTEST_TRAMPOLINE, "TRAMPOLINE_ADDR");

/* The LGDT operand's base is split in halves so that every field is naturally aligned. */
struct trampoline_data {
	uint16_t gdt_limit;
	uint16_t gdt_base_lo;
	uint16_t gdt_base_hi;
	uint16_t pad;
	uint64_t cr3;
	uint64_t efer_or;
	uint64_t entry;
	uint64_t stack_base;
	uint32_t stack_count;
	uint32_t stack_next;
};

_Static_assert(offsetof(struct trampoline_data, gdt_limit) == TD_GDTR, "TD_GDTR");
_Static_assert(offsetof(struct trampoline_data, cr3) == TD_CR3, "TD_CR3");
_Static_assert(offsetof(struct trampoline_data, efer_or) == TD_EFER_OR, "TD_EFER_OR");
_Static_assert(offsetof(struct trampoline_data, entry) == TD_ENTRY, "TD_ENTRY");
_Static_assert(offsetof(struct trampoline_data, stack_base) == TD_STACK_BASE, "TD_STACK_BASE");
_Static_assert(offsetof(struct trampoline_data, stack_count) == TD_STACK_COUNT, "TD_STACK_COUNT");
_Static_assert(offsetof(struct trampoline_data, stack_next) == TD_STACK_NEXT, "TD_STACK_NEXT");
_Static_assert(sizeof(struct trampoline_data) == TD_SIZE, "TD_SIZE");

/* The trampoline's code and data in the image (copied, never run in place). */
extern const uint8_t trampoline_start[], trampoline_data[], trampoline_end[];
#endif

#endif
