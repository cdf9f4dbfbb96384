/*
 * lapic.h - a model of one local APIC (Intel SDM Vol. 3A, chapter 10) for accelerators that
 * have none of their own: KVM without an in-kernel irqchip and the software CPU.
 *
 * Pure register arithmetic: it knows neither KVM, nor threads, nor the other local APICs.
 * Time comes from the clock callback given at creation; an IPI written to the ICR is handed,
 * decoded, to the `send` callback (the APIC bus routes it); guest mistakes go to `warn`.
 * Not thread-safe: the caller (apic_bus.c) serialises every call on one APIC.
 *
 * The model: version 0x00050014 (an integrated APIC, SDM 10.4.8, with six LVT entries:
 * timer, thermal, performance counter, LINT0, LINT1, error; no CMCI, no EOI-broadcast
 * suppression), xAPIC through MMIO and x2APIC through MSRs (SDM 10.12), the timer in
 * one-shot, periodic and TSC-deadline modes (SDM 10.5.4).
 */
#ifndef MPVMM_MP_LAPIC_H
#define MPVMM_MP_LAPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAPIC_DEFAULT_BASE 0xfee00000ull  /* SDM 10.4.1 */
#define LAPIC_VERSION 0x00050014u         /* SDM 10.4.8: max LVT entry 5, version 0x14 */
/* The shortest periodic timer: KVM's min_timer_period_us (200 us) for its in-kernel APIC. */
#define LAPIC_MIN_PERIOD_NS 200000ull

/* MSRs (SDM Vol. 4 table 2-2; SDM 10.4.4, 10.5.4.1, 10.12.1.2). */
#define LAPIC_MSR_APIC_BASE 0x1bu
#define LAPIC_MSR_TSC_DEADLINE 0x6e0u
#define LAPIC_MSR_X2APIC_FIRST 0x800u
#define LAPIC_MSR_X2APIC_LAST 0x8ffu

/* IA32_APIC_BASE bits (SDM 10.4.4, figure 10-5; 10.12.1 for EXTD). */
#define LAPIC_BASE_BSP (1ull << 8)
#define LAPIC_BASE_EXTD (1ull << 10)
#define LAPIC_BASE_EN (1ull << 11)

/* Register offsets in the xAPIC page (SDM 10.4.1, table 10-1); x2APIC MSR = 0x800 + off/16. */
enum lapic_reg {
	LAPIC_ID = 0x020,
	LAPIC_VER = 0x030,
	LAPIC_TPR = 0x080,
	LAPIC_APR = 0x090,
	LAPIC_PPR = 0x0a0,
	LAPIC_EOI = 0x0b0,
	LAPIC_RRD = 0x0c0,
	LAPIC_LDR = 0x0d0,
	LAPIC_DFR = 0x0e0,
	LAPIC_SVR = 0x0f0,
	LAPIC_ISR = 0x100, /* eight registers, 0x100-0x170 */
	LAPIC_TMR = 0x180,
	LAPIC_IRR = 0x200,
	LAPIC_ESR = 0x280,
	LAPIC_ICR_LO = 0x300,
	LAPIC_ICR_HI = 0x310,
	LAPIC_LVT_TIMER = 0x320,
	LAPIC_LVT_THERMAL = 0x330,
	LAPIC_LVT_PERF = 0x340,
	LAPIC_LVT_LINT0 = 0x350,
	LAPIC_LVT_LINT1 = 0x360,
	LAPIC_LVT_ERROR = 0x370,
	LAPIC_TIMER_INITIAL = 0x380,
	LAPIC_TIMER_CURRENT = 0x390,
	LAPIC_TIMER_DIVIDE = 0x3e0,
	LAPIC_SELF_IPI = 0x3f0, /* x2APIC only (MSR 0x83f) */
};

/* ESR bits (SDM 10.5.3, figure 10-9). */
#define LAPIC_ESR_SEND_ILLEGAL_VECTOR (1u << 5)
#define LAPIC_ESR_RECV_ILLEGAL_VECTOR (1u << 6)
#define LAPIC_ESR_ILLEGAL_REGISTER (1u << 7)

/* LVT and SVR bits (SDM 10.5.1 figure 10-8, 10.9 figure 10-23). */
#define LAPIC_LVT_MASKED (1u << 16)
#define LAPIC_TIMER_ONESHOT (0u << 17)
#define LAPIC_TIMER_PERIODIC (1u << 17)
#define LAPIC_TIMER_TSC_DEADLINE (2u << 17)
#define LAPIC_SVR_ENABLE (1u << 8)

/* ICR delivery modes and shorthands (SDM 10.6.1, figure 10-12). */
enum lapic_delivery {
	LAPIC_DM_FIXED = 0,
	LAPIC_DM_LOWEST = 1,
	LAPIC_DM_SMI = 2,
	LAPIC_DM_NMI = 4,
	LAPIC_DM_INIT = 5,
	LAPIC_DM_SIPI = 6,
	LAPIC_DM_EXTINT = 7, /* LVT only (10.5.1): the 8259A's INTA supplies the vector */
};

enum lapic_shorthand {
	LAPIC_SH_NONE = 0,
	LAPIC_SH_SELF = 1,
	LAPIC_SH_ALL = 2,    /* all including self */
	LAPIC_SH_OTHERS = 3, /* all excluding self */
};

#define LAPIC_ICR_LOGICAL (1u << 11)
#define LAPIC_ICR_ASSERT (1u << 14)
#define LAPIC_ICR_LEVEL (1u << 15)

/* One interprocessor interrupt as the ICR (or the x2APIC SELF IPI register) described it. */
struct lapic_ipi {
	uint32_t dest;      /* xAPIC: ICR bits 63:56; x2APIC: ICR bits 63:32 */
	uint8_t vector;
	uint8_t mode;       /* enum lapic_delivery (3 and 7 never reach the bus) */
	uint8_t shorthand;  /* enum lapic_shorthand */
	bool logical;       /* destination mode (SDM 10.6.2.2) */
	bool assert;        /* level bit: false only for INIT level de-assert */
	bool level;         /* trigger mode */
	bool x2apic;        /* the sender's mode: selects the destination format */
};

enum lapic_mode {
	LAPIC_MODE_DISABLED = 0, /* IA32_APIC_BASE.EN = 0 (SDM 10.4.3) */
	LAPIC_MODE_XAPIC,
	LAPIC_MODE_X2APIC,
};

/* Results of the access functions. */
#define LAPIC_OK 0
#define LAPIC_GP (-1)        /* the instruction raises #GP(0) */
#define LAPIC_UNCLAIMED (-2) /* not this APIC's: an ordinary MMIO address or MSR */

#define LAPIC_TIMER_NONE UINT64_MAX

struct lapic_config {
	uint32_t cpu;        /* index handed back in `send` */
	uint32_t apic_id;
	bool bsp;            /* IA32_APIC_BASE.BSP */
	bool x2apic;         /* x2APIC mode is available (CPUID.1:ECX.x2APIC) */
	uint8_t phys_bits;   /* MAXPHYADDR for IA32_APIC_BASE; 0: 52 */
	uint64_t bus_hz;     /* the timer's input clock (SDM 10.5.4); 0: 1 GHz */
	uint64_t tsc_hz;     /* TSC frequency; 0: no TSC-deadline mode */
	/* Guest time in ns; without tsc_now, the guest TSC is now * tsc_hz / 1e9. */
	uint64_t (*now_ns)(void *ctx);
	void *clock_ctx;
	/*
	 * The guest TSC of vCPU `cpu` now, where it does not follow the clock (KVM: the CPU's
	 * own counter).  Read when the guest writes IA32_TSC_DEADLINE (on that vCPU's thread,
	 * stopped) and when a snapshot is loaded, so a deadline becomes a time on the clock
	 * from the distance between the two.  NULL: derived from now_ns.
	 */
	uint64_t (*tsc_now)(void *ctx, uint32_t cpu);
	void *tsc_ctx;
	void (*send)(void *ctx, uint32_t from, const struct lapic_ipi *ipi);
	void *send_ctx;
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
	/* EOI of a level-triggered interrupt (TMR set): broadcast to the I/O APICs (10.8.5). */
	void (*eoi)(void *ctx, uint32_t cpu, uint8_t vector);
	void *eoi_ctx;
	/*
	 * LVT LINT0 is ExtINT, unmasked, after RESET and INIT ("virtual wire", MP Spec 3.6.2.2):
	 * the BSP as PC firmware leaves it, and as KVM's in-kernel APIC starts it.
	 */
	bool virtual_wire;
};

struct lapic;

struct lapic *lapic_create(const struct lapic_config *cfg);
void lapic_destroy(struct lapic *l);

/* Power-up / RESET state (SDM 10.4.7.1): xAPIC mode at the default base, enabled. */
void lapic_reset(struct lapic *l);
/* INIT (SDM 10.4.7.3): as RESET, but the APIC ID and IA32_APIC_BASE (mode, base) are kept. */
void lapic_init(struct lapic *l);

/*
 * xAPIC MMIO at `offset` into the APIC page: LAPIC_OK, or LAPIC_UNCLAIMED in x2APIC mode or
 * when disabled.  Only aligned 32-bit accesses reach a register (SDM 10.4.1); others read 0
 * and are dropped with a warning.
 */
int lapic_mmio_read(struct lapic *l, uint32_t offset, unsigned size, uint32_t *value);
int lapic_mmio_write(struct lapic *l, uint32_t offset, unsigned size, uint32_t value);
/* IA32_APIC_BASE, IA32_TSC_DEADLINE, x2APIC 0x800-0x8ff: LAPIC_OK, LAPIC_GP, LAPIC_UNCLAIMED. */
int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *value);
int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t value);

/*
 * Every register the xAPIC page reads at offset 16*i, into reg[i] (i < 64), with no side
 * effect: reserved and write-only offsets read 0 and no error is logged (for a debugger).
 */
void lapic_peek(const struct lapic *l, uint32_t reg[64]);

enum lapic_mode lapic_mode(const struct lapic *l);
uint64_t lapic_base(const struct lapic *l); /* MMIO page address */
uint32_t lapic_id(const struct lapic *l);
uint32_t lapic_ldr(const struct lapic *l);
uint32_t lapic_dfr(const struct lapic *l);
bool lapic_sw_enabled(const struct lapic *l);
uint8_t lapic_ppr(const struct lapic *l);
uint8_t lapic_apr(const struct lapic *l); /* arbitration priority (SDM 10.6.2.4) */

/*
 * A fixed interrupt arrives (SDM 10.8.2): sets IRR, and TMR for level.  Refused (false) when
 * disabled, software-disabled (SDM 10.4.7.2), or for vectors 0-15 (ESR receive error).
 */
bool lapic_set_irq(struct lapic *l, uint8_t vector, bool level);
/* Highest IRR vector whose priority class is above the PPR's (SDM 10.8.3.1), or -1. */
int lapic_pending(const struct lapic *l);
/* The CPU takes it: IRR -> ISR (SDM 10.8.4); returns the vector, or -1 if none. */
int lapic_accept(struct lapic *l);
/*
 * The 8259A's INTR reaches this CPU (10.5.1, 10.4.3): LVT LINT0 is unmasked with delivery
 * mode ExtINT, or the APIC is disabled and LINT0 is the processor's INTR pin.
 */
bool lapic_accepts_extint(const struct lapic *l);
/* NMI (10.6.1): a pending flag the CPU takes; no IRR, no priority, not blocked by SVR. */
void lapic_raise_nmi(struct lapic *l);
bool lapic_nmi_pending(const struct lapic *l);
bool lapic_take_nmi(struct lapic *l);

/* Absolute time (caller's clock, ns) at which the timer next expires, or LAPIC_TIMER_NONE. */
uint64_t lapic_timer_next(const struct lapic *l);
/* Expire the timer if due at now_ns; re-arms periodic mode.  True if its vector was raised. */
bool lapic_timer_fire(struct lapic *l, uint64_t now_ns);

/*
 * Snapshots: every register and the pending NMI.  Time is saved relative to the clock at the
 * call (how far into its period the timer is, how far the TSC deadline lies ahead) and
 * loaded relative to the clock of the APIC it is loaded into, so a restored timer fires the
 * same guest time later even when the new clock started elsewhere.  lapic_load checks
 * everything against this APIC's configuration (its ID, BSP flag, x2APIC and TSC-deadline
 * support) and the architectural rules, and changes nothing unless it returns 0; -1 with a
 * reason in err otherwise.
 */
struct snap_enc;
struct snap_dec;
void lapic_save(const struct lapic *l, struct snap_enc *e);
int lapic_load(struct lapic *l, struct snap_dec *d, char *err, size_t errlen);

#endif
