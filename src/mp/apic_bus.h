/*
 * apic_bus.h - the local APICs of a machine and the bus between them: it owns one lapic per
 * vCPU, resolves the destination of every IPI (Intel SDM Vol. 3A 10.6.2, 10.12.9) and
 * delivers it: fixed and lowest-priority interrupts into the targets' IRR, NMI as a pending
 * flag, INIT and SIPI to the MP state machine (mp_user).
 *
 * This is the accelerator's one door to the APIC model: every guest access (MMIO, MSR),
 * every interrupt taken, every timer expiry goes through here, under one mutex, and after
 * each the target's MP state learns what it has pending.  It knows neither KVM nor Unicorn;
 * guest mistakes go to the `warn` callback (called with the bus locked).
 *
 * Outside the APICs: interrupt messages in MSI format (an I/O APIC's), the 8259A's INTR on
 * every LINT0, and the EOI broadcast of level-triggered interrupts out to the I/O APIC,
 * through the `eoi` callback, called with the bus unlocked (so that it may deliver again).
 * Lock order: whoever calls apic_bus_msi / apic_bus_set_extint, then the bus.
 */
#ifndef MPVMM_MP_APIC_BUS_H
#define MPVMM_MP_APIC_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp/lapic.h"
#include "mp/mp.h"
#include "mp/mp_user.h"

/* The sender of an interrupt that no vCPU sent (an IOAPIC or MSI, later). */
#define APIC_BUS_EXTERNAL TRACE_NO_CPU

struct apic_bus_config {
	uint32_t ncpus;
	const struct mp_cpu *cpus;  /* APIC ID and BSP flag per vCPU index                 */
	bool x2apic;                /* x2APIC mode may be enabled (CPUID.1:ECX.x2APIC)      */
	uint8_t phys_bits;          /* MAXPHYADDR; 0: 52                                    */
	uint64_t bus_hz;            /* APIC timer input clock; 0: 1 GHz                     */
	uint64_t tsc_hz;            /* TSC frequency; 0: no TSC-deadline timer              */
	uint64_t (*now_ns)(void *ctx);
	void *clock_ctx;
	uint64_t (*tsc_now)(void *ctx, uint32_t cpu); /* lapic.h; NULL: from now_ns        */
	void *tsc_ctx;
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
	struct mp_user *mp;         /* INIT, SIPI, NMI and wake-ups; NULL: APIC-only tests  */
	/* A local APIC's EOI of level-triggered `vector` (SDM 10.8.5); NULL: none.  Unlocked. */
	void (*eoi)(void *ctx, uint8_t vector);
	void *eoi_ctx;
};

struct apic_bus;

struct apic_bus *apic_bus_create(const struct apic_bus_config *cfg);
void apic_bus_destroy(struct apic_bus *b);

/*
 * A guest access by vCPU `cpu`.  MMIO: `gpa` is the physical address; LAPIC_UNCLAIMED when
 * it is not in that vCPU's APIC page (each APIC has its own base) or the APIC is not in xAPIC
 * mode.  MSR: IA32_APIC_BASE, IA32_TSC_DEADLINE and 0x800-0x8ff; LAPIC_GP means inject #GP(0).
 */
int apic_bus_mmio_read(struct apic_bus *b, uint32_t cpu, uint64_t gpa, unsigned size,
		       uint32_t *value);
int apic_bus_mmio_write(struct apic_bus *b, uint32_t cpu, uint64_t gpa, unsigned size,
			uint32_t value);
int apic_bus_msr_read(struct apic_bus *b, uint32_t cpu, uint32_t msr, uint64_t *value);
int apic_bus_msr_write(struct apic_bus *b, uint32_t cpu, uint32_t msr, uint64_t value);
/*
 * vCPU `cpu` is about to run guest code (its thread, before each entry; before it looks
 * whether it may run).  Until then, after an INIT reset its APIC, its accesses above are
 * squashed: they come from an instruction the INIT overtook (reads give 0).
 */
void apic_bus_entered(struct apic_bus *b, uint32_t cpu);

/* The highest interrupt cpu may take now (above its PPR), or -1. */
int apic_bus_pending(struct apic_bus *b, uint32_t cpu);
/* cpu takes it (IRR -> ISR): the vector to inject, or -1.  Call only with IF = 1. */
int apic_bus_take_interrupt(struct apic_bus *b, uint32_t cpu);
/* An NMI is pending for cpu: true once per NMI. */
bool apic_bus_take_nmi(struct apic_bus *b, uint32_t cpu);

/* Timers on the caller's clock: next expiry of one APIC or of all, LAPIC_TIMER_NONE if none. */
uint64_t apic_bus_timer_next(struct apic_bus *b, uint32_t cpu);
uint64_t apic_bus_next_deadline(struct apic_bus *b);
/* Expire every timer due at now_ns; returns how many raised their vector. */
unsigned apic_bus_fire_timers(struct apic_bus *b, uint64_t now_ns);

/* An interrupt message from outside the APICs (IOAPIC, MSI), routed like an IPI. */
void apic_bus_deliver(struct apic_bus *b, uint32_t from, const struct lapic_ipi *ipi);
/*
 * The same from its MSI address and data (SDM Vol. 3A, 10.11.1-10.11.2: destination ID in
 * address bits 19:12, destination mode bit 2; vector, delivery mode, level and trigger
 * mode in data bits 7:0, 10:8, 14, 15).  ExtINT messages are dropped with a warning: the
 * 8259A reaches the CPUs through LINT0 (apic_bus_set_extint).
 */
void apic_bus_msi(struct apic_bus *b, uint64_t address, uint32_t data);

/* The 8259A's INTR output, wired to every local APIC's LINT0. */
void apic_bus_set_extint(struct apic_bus *b, bool level);
/* INTR is high and cpu's LINT0 takes it (lapic_accepts_extint): an INTA is due. */
bool apic_bus_extint(struct apic_bus *b, uint32_t cpu);

/*
 * Snapshots, under the bus lock: every local APIC (lapic_save), in vCPU order.  The bus owns
 * nothing else that lasts (its routing scratch is per IPI).  apic_bus_load decodes and checks
 * every APIC against a scratch copy first, so that it loads all of them or none: 0, or -1
 * with a reason naming the vCPU in err.  It does not tell mp_user what the APICs hold:
 * mp_user's own snapshot says so.  Timers are placed relative to the clock: load the
 * accelerator's VM state (the software CPU's clock) first.
 */
struct snap_enc;
struct snap_dec;
int apic_bus_save(struct apic_bus *b, struct snap_enc *e);
int apic_bus_load(struct apic_bus *b, struct snap_dec *d, char *err, size_t errlen);

/* cpu's APIC registers (lapic_peek), under the bus lock; -1 if there is no such cpu. */
int apic_bus_peek(struct apic_bus *b, uint32_t cpu, uint32_t reg[64]);

/* The model of cpu's APIC, unlocked: for tests and a single-threaded caller. */
struct lapic *apic_bus_lapic(struct apic_bus *b, uint32_t cpu);

#endif
