/*
 * fpu.h - the x87/SSE control and status state the VMM reads and writes when it performs an
 * instruction for the guest (FWAIT, FNCLEX, EMMS, LDMXCSR).  Independent of the accelerator:
 * only the fields these instructions use, in FXSAVE terms (Intel SDM Vol. 1, 10.5.1).
 */
#ifndef MPVMM_X86_FPU_H
#define MPVMM_X86_FPU_H

#include <stdint.h>

struct x86_fpu {
	uint16_t fcw;   /* x87 control word                                            */
	uint16_t fsw;   /* x87 status word                                             */
	uint8_t ftw;    /* abridged tag word: bit i set = physical register i is valid */
	uint32_t mxcsr; /* SSE control and status                                      */
};

/* x87 status word bits (SDM Vol. 1, 8.1.3, Figure 8-4). */
#define X86_FSW_EXCEPTIONS 0x003fu   /* IE DE ZE OE UE PE                        */
#define X86_FSW_SF (1u << 6)         /* stack fault                              */
#define X86_FSW_ES (1u << 7)         /* exception summary: unmasked one pending  */
#define X86_FSW_B (1u << 15)         /* busy (mirrors ES)                        */

/* MXCSR: bits 31:16 are reserved on every processor with MXCSR_MASK = 0xFFFF (SDM Vol. 1,
 * 11.6.6); a processor without DAZ also reserves bit 6. */
#define X86_MXCSR_DEFAULT_MASK 0xffffu

#endif
