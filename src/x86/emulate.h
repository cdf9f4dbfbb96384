/*
 * emulate.h - performs one decoded instruction (x86/insn.h) on an abstract CPU: the fallback
 * for instructions the host's KVM cannot emulate.  The CPU is plain register values; guest
 * memory is reached through callbacks on linear addresses (the caller translates through the
 * vCPU's paging), so the emulator runs the same on a fake CPU in a unit test.
 *
 * It must not know KVM, the accelerator, vCPU threads or guest physical memory.
 *
 * Result: either the instruction completed (registers updated, RIP past it, maybe an event
 * to deliver: INT n, INT3, INT1), or it faults (state unchanged, RIP at the instruction,
 * the exception to deliver in *ev), or it is not supported (nothing changed).
 */
#ifndef MPVMM_X86_EMULATE_H
#define MPVMM_X86_EMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "x86/fpu.h"
#include "x86/insn.h"
#include "x86/regs.h"

/* Processor features the guest is told about (CPUID) that decide what these instructions do. */
#define EMU_FEAT_POPCNT (1u << 0) /* CPUID.1:ECX[23]                                  */
#define EMU_FEAT_LZCNT (1u << 1)  /* CPUID.80000001H:ECX[5] (ABM); else F3 0F BD = BSR */
#define EMU_FEAT_BMI1 (1u << 2)   /* CPUID.(7,0):EBX[3]; else F3 0F BC = BSF            */
#define EMU_FEAT_SMAP (1u << 3)   /* CPUID.(7,0):EBX[20]: CLAC/STAC exist               */
#define EMU_FEAT_SSE (1u << 4)    /* CPUID.1:EDX[25]: LDMXCSR exists                    */
#define EMU_FEAT_CX16 (1u << 5)   /* CPUID.1:ECX[13]: CMPXCHG16B exists                 */

struct emu_cpu {
	struct x86_regs regs;
	struct x86_sregs sregs;
	struct x86_fpu fpu;      /* read only if emu_needs_fpu(): the caller fills it then */
	uint32_t features;       /* EMU_FEAT_*                                              */
	uint32_t mxcsr_mask;     /* writable MXCSR bits (X86_MXCSR_DEFAULT_MASK)            */
	bool sregs_dirty;        /* set when sregs changed (CR2 of a page fault)            */
	bool fpu_dirty;          /* set when fpu changed                                    */
};

/* Memory callbacks' results. */
#define EMU_MEM_OK 0
#define EMU_MEM_FAULT (-1)   /* not mapped at *fault (a linear address): a page fault    */
#define EMU_MEM_UNSUPPORTED (-2) /* mapped but not RAM (MMIO): the emulator gives up     */

struct emu_mem {
	void *ctx;
	/* Copy n (<= 16) bytes at a linear address, which may cross a page boundary. */
	int (*read)(void *ctx, uint64_t linear, void *buf, size_t n, uint64_t *fault);
	/* Write n (<= 16) bytes: all pages are checked before any byte is written. */
	int (*write)(void *ctx, uint64_t linear, const void *buf, size_t n, uint64_t *fault);
	/*
	 * Atomically: if the 16 bytes at the 16-byte-aligned linear address equal old[0..1]
	 * (low quadword first) store new_[0..1], else copy them into old.  Sets *swapped.  May
	 * be NULL: the emulator then uses read and write, which is not atomic.
	 */
	int (*cmpxchg16)(void *ctx, uint64_t linear, uint64_t old[2], const uint64_t new_[2],
			 bool *swapped, uint64_t *fault);
};

/* An event to deliver after the instruction (a fault, or what INT n / INT3 / INT1 raise). */
struct emu_event {
	bool pending;
	uint8_t vector;
	bool soft_int;        /* INT n: a software interrupt                              */
	bool has_error_code;
	uint32_t error_code;
};

/* Exception vectors (Intel SDM Vol. 3A, Table 6-1). */
#define X86_VEC_DB 1
#define X86_VEC_BP 3
#define X86_VEC_UD 6
#define X86_VEC_NM 7
#define X86_VEC_GP 13
#define X86_VEC_PF 14
#define X86_VEC_MF 16

enum emu_status {
	EMU_DONE = 0,         /* completed or faulted: write back state, deliver *ev        */
	EMU_UNSUPPORTED = -1, /* not an instruction (or form) the emulator performs         */
};

/* Whether performing `in` reads or writes cpu->fpu (the caller fetches it only then). */
bool emu_needs_fpu(const struct insn *in);

enum emu_status emulate(const struct insn *in, struct emu_cpu *cpu, const struct emu_mem *mem,
			struct emu_event *ev);

/*
 * LOCK CMPXCHG16B on host memory `p` (16-byte aligned): the atomic primitive behind a
 * cmpxchg16 callback over a host mapping of guest RAM.  Same contract as cmpxchg16.
 */
void emu_host_cmpxchg16(void *p, uint64_t old[2], const uint64_t new_[2], bool *swapped);

#endif
