/*
 * lapic_internal.h - one local APIC's registers as a structure, and the little its files
 * share: lapic.c (state, priorities, interrupt acceptance), lapic_regs.c (MMIO and MSR
 * accesses, the ICR), lapic_timer.c (the timer) and lapic_state.c (snapshots).  Only the
 * lapic*.c files include it; everyone else sees lapic.h's accessors.  Section numbers are
 * those of the Intel SDM Vol. 3A, chapter 10.
 */
#ifndef MPVMM_MP_LAPIC_INTERNAL_H
#define MPVMM_MP_LAPIC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "mp/lapic.h"

#define NS_PER_S 1000000000ull

/* The six LVT entries in register order, 0x320-0x370 (10.5.1). */
enum lvt_index { LVT_TIMER, LVT_THERMAL, LVT_PERF, LVT_LINT0, LVT_LINT1, LVT_ERROR, LVT_COUNT };

#define LVT_VECTOR 0xffu
#define LVT_DELIVERY_MODE (7u << 8)
#define LVT_STATUS (1u << 12)       /* delivery status, read-only: always idle here */
#define LVT_POLARITY (1u << 13)
#define LVT_REMOTE_IRR (1u << 14)   /* read-only */
#define LVT_TRIGGER (1u << 15)
#define LVT_TIMER_MODE (3u << 17)   /* 10.5.4.1 */

#define SVR_WRITABLE 0x3ffu         /* vector, enable, focus checking (10.9) */
#define DCR_WRITABLE 0xbu           /* bits 0, 1, 3 (10.5.4, figure 10-10) */
#define ICR_WRITABLE 0x000ccfffu    /* vector, mode, dest mode, level, trigger, shorthand */
#define ICR_STATUS (1u << 12)       /* delivery status: reads idle (10.6.1) */
#define BASE_RESERVED_LOW 0x2ffull  /* IA32_APIC_BASE bits 0-7 and 9 (10.4.4) */

struct lapic_timer {
	bool armed;             /* one-shot / periodic counting                        */
	uint32_t initial;
	uint32_t div;           /* divide value in force for the current period         */
	uint64_t start_ns;      /* the current period began                             */
	uint64_t tsc_deadline;  /* IA32_TSC_DEADLINE; 0 disarmed (10.5.4.1)             */
	uint64_t deadline_ns;   /* when tsc_deadline falls due, on the clock            */
};

struct lapic {
	struct lapic_config cfg;
	uint64_t apic_base;
	uint8_t tpr;
	uint32_t ldr, dfr, svr;
	uint32_t isr[8], tmr[8], irr[8];
	uint32_t esr, esr_pending;  /* what ESR reads; errors since the last ESR write   */
	uint32_t icr_lo, icr_hi;    /* icr_hi: xAPIC bits 31:24, x2APIC the 32-bit dest  */
	uint32_t lvt[LVT_COUNT];
	uint32_t dcr;
	struct lapic_timer timer;
	bool nmi_pending;
};

/* Guest time in ns on the caller's clock (0 without one). */
static inline uint64_t now_ns(const struct lapic *l)
{
	return l->cfg.now_ns ? l->cfg.now_ns(l->cfg.clock_ctx) : 0;
}

/* 10.12.10.2: x2APIC logical ID = cluster (ID[19:4]) << 16 | 1 << ID[3:0]. */
static inline uint32_t x2apic_ldr(uint32_t id)
{
	return ((id >> 4) << 16) | (1u << (id & 0xf));
}

/* The LVT timer entry's mode: one-shot, periodic or TSC-deadline (10.5.4.1). */
static inline uint32_t timer_mode(const struct lapic *l)
{
	return l->lvt[LVT_TIMER] & LVT_TIMER_MODE;
}

/* ---- lapic.c ---- */

/* A guest mistake, to the `warn` callback, prefixed with the CPU. */
__attribute__((format(printf, 2, 3)))
void lapic_warnf(const struct lapic *l, const char *fmt, ...);
/* Register values after power-up, RESET and INIT (10.4.7.1, 10.4.7.3). */
void lapic_clear_regs(struct lapic *l);
/* An error bit in the ESR; the LVT error entry's interrupt (10.5.3). */
void lapic_error(struct lapic *l, uint32_t bit);
/* EOI: the highest in-service interrupt retires (10.8.5). */
void lapic_eoi(struct lapic *l);

/* ---- lapic_regs.c ---- */

/* Writable bits of LVT entry i (10.5.1, figure 10-8). */
uint32_t lapic_lvt_writable(const struct lapic *l, int i);

/* ---- lapic_timer.c ---- */

/* The initial-count register is written: a new period starts, at the current divide value. */
void lapic_timer_arm(struct lapic *l, uint32_t initial);
/* What the current-count register reads now (0 in TSC-deadline mode). */
uint32_t lapic_timer_current(const struct lapic *l);
/* ns on the clock as TSC ticks, rounded down. */
uint64_t lapic_ns_to_tsc(const struct lapic *l, uint64_t ns);
/* The guest TSC at clock time `now`. */
uint64_t lapic_guest_tsc(const struct lapic *l, uint64_t now);
/* IA32_TSC_DEADLINE := deadline, `tsc` being the guest TSC at clock time `now`. */
void lapic_deadline_set(struct lapic *l, uint64_t deadline, uint64_t now, uint64_t tsc);

#endif
