/*
 * chaos.h - what every vCPU of the chaos guest shares: the processors (MADT order, the BSP
 * first), the options from the boot information, one struct chaos_cpu per vCPU (its random
 * stream, its counters, its stack), and the flags that keep the run alive (chaos.c says
 * which operations are avoided and why).
 */
#ifndef CHAOS_CHAOS_H
#define CHAOS_CHAOS_H

#include <stdbool.h>
#include <stdint.h>

#include "mpvmm/selftest_abi.h"

#define CHAOS_MAX_CPUS 64u
#define CPU_STACK_SIZE 8192u

/* Vectors the guest programs for itself; chaos may use any vector too. */
#define VEC_HLT_TIMER 0xeeu /* an AP's one-shot timer before its HLT                */
#define VEC_SPURIOUS  0xffu /* spurious-interrupt vector (SDM Vol. 3A, 10.9)        */

/* RFLAGS (SDM Vol. 1, 3.4.3): bit 1 always set, IF. */
#define RFLAGS_RESERVED 0x2ull
#define RFLAGS_IF       0x200ull

struct chaos_cpu {
	uint32_t index;             /* in cs.apic_ids: 0 is the BSP                      */
	uint32_t apic_id;
	uint64_t rng;               /* its own stream (rng.h)                            */
	uint64_t ops;               /* operations made                                   */
	uint64_t kind_ops[CHAOS_OP_COUNT];
	uint64_t nmis, irqs;        /* taken by its handlers                             */
	uint64_t faults;            /* expected faults (a refused MSR) resumed past      */
	uint64_t restarts;          /* other exceptions: the loop started over           */
	uint64_t starts;            /* times it entered the loop from its SIPI           */
	uint64_t filtered;          /* writes left out because they would end the run    */
	uint32_t alive;             /* atomic: in the loop with its IDT; 0 once INIT is sent to it */
	uint32_t stopped;           /* atomic: saw cs.stop and halts                     */
	bool x2apic;                /* its local APIC is in x2APIC mode                  */
	uint32_t window_irqs;       /* interrupts taken in the current STI window        */
	uint8_t buf[64] __attribute__((aligned(8))); /* REP INS/OUTS data              */
} __attribute__((aligned(64)));

struct chaos_state {
	const struct selftest_bootinfo *bi;
	uint32_t ncpus;
	uint32_t apic_ids[CHAOS_MAX_CPUS]; /* MADT order, the BSP first                  */
	uint32_t ioapic_addr;
	uint32_t skip;              /* 1 << CHAOS_OP_x: kinds not made                   */
	uint64_t seed;
	uint32_t seconds;
	uint32_t debug_exit_port;
	bool soft;                  /* mpvmm's software CPU: no MSRs, no exceptions      */
	bool x2apic_machine;        /* every CPU uses x2APIC (IDs > 254 or --x2apic)     */
	bool has_x2apic;            /* CPUID.1:ECX[21]                                   */
	bool has_tsc_deadline;      /* CPUID.1:ECX[24]                                   */
	uint64_t tsc_hz;            /* measured against the RTC                          */
	uint64_t end_tsc;           /* the BSP stops everyone here                       */
	uint32_t go;                /* atomic: APs wait for it before their first operation */
	uint32_t stop;              /* atomic: the time is up                            */
};

extern struct chaos_state cs;
extern struct chaos_cpu cpus[CHAOS_MAX_CPUS];
extern uint8_t cpu_stacks[CHAOS_MAX_CPUS][CPU_STACK_SIZE];

/* The CPU whose stack this code runs on, or NULL (early code, the trampoline's stack). */
static inline struct chaos_cpu *this_cpu(void)
{
	uint64_t sp, base = (uint64_t)(uintptr_t)cpu_stacks;

	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	if (sp - base >= (uint64_t)CHAOS_MAX_CPUS * CPU_STACK_SIZE)
		return 0;
	return &cpus[(sp - base) / CPU_STACK_SIZE];
}

static inline uint64_t stack_top(const struct chaos_cpu *c)
{
	return (uint64_t)(uintptr_t)cpu_stacks[c->index] + CPU_STACK_SIZE;
}

static inline bool op_on(enum chaos_op op)
{
	return !(cs.skip & (1u << op));
}

/* Whether INITs may restart APs in this run (chaos.c: NMIs must then avoid restarting APs). */
static inline bool restarts_on(void)
{
	return op_on(CHAOS_OP_INIT);
}

/* chaos.c: the draw's weights from cs.skip, once, before any CPU draws. */
void chaos_weights(void);
/* chaos.c: a kind's name, as --chaos-skip takes it. */
const char *chaos_kind_name(unsigned k);

/* chaos.c: every CPU's loop, entered on its own stack; never returns. */
__attribute__((noreturn)) void chaos_loop(struct chaos_cpu *c);

/* isr.S: the loop again after an unexpected exception (the frame's RIP points here). */
void chaos_resume(void);
/* isr.S: run fn(arg) on the stack whose top is `top`. */
__attribute__((noreturn)) void chaos_switch_stack(uint64_t top, void (*fn)(uint32_t),
						  uint32_t arg);

#endif
