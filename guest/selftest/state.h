/*
 * state.h - what the BSP and the APs share: the processors the BSP read from the MADT, an
 * APIC-ID -> index lookup, one result slot per processor, and the counters the BSP waits on.
 *
 * Written by the BSP before the first INIT and published to each AP by its SIPI (the ICR
 * write comes after the stores; x86 keeps stores in order, and lapic.c fences before an
 * x2APIC WRMSR); afterwards only the fields marked "atomic" change, always through __atomic
 * builtins.  Scalars the APs read (step, bsp_apic_id) are also accessed atomically.
 */
#ifndef SELFTEST_STATE_H
#define SELFTEST_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "mpvmm/selftest_abi.h"

/* Interrupt vectors of the test (0x00-0x1f are exceptions). */
#define VEC_AP_REPORTED 0x40u /* fixed IPI an AP sends the BSP after reporting */
#define VEC_TIMER       0x41u /* LAPIC timer, 100 Hz, only for timeouts        */
#define VEC_SPURIOUS    0xffu
/* irq.c (SELFTEST_FLAG_IRQ): the 8259A's vector base, and the I/O APIC's vectors. */
#define VEC_PIC_BASE    0x30u /* IRQ 0-15 -> 0x30-0x3f                          */
#define VEC_IOAPIC_PIT  0x50u /* the PIT through the I/O APIC, edge            */
#define VEC_IOAPIC_COM1 0x51u /* COM1 through the I/O APIC, level-triggered    */
#define VEC_TSC_DEADLINE 0x52u /* the LAPIC timer in TSC-deadline mode         */
/* pingpong.c (SELFTEST_FLAG_IPI_PINGPONG): the two fixed IPIs of a round trip. */
#define VEC_PING        0x53u /* BSP -> first AP                               */
#define VEC_PONG        0x54u /* first AP -> BSP, sent by its VEC_PING handler */

#define TIMER_HZ 100u

/* Power of two, >= 2 * SELFTEST_MAX_CPUS: open addressing stays short. */
#define CPU_HASH_SIZE 4096u

struct cpu {
	uint32_t apic_id;
	uint32_t uid; /* ACPI processor UID: the vCPU index the user counts with --boot-cpu */
};

/* One per MADT processor, same index; the BSP's (index 0) only catches an AP claiming its ID. */
struct ap_slot {
	uint32_t reported; /* atomic: set by the AP (exchange: a second setter is a duplicate) */
	uint32_t status;   /* atomic: enum selftest_ap_err, stored before `reported`          */
	uint32_t release;  /* atomic: step mode, set by the BSP to let the AP run its checks  */
	uint32_t duplicate;/* atomic: another AP with the same APIC ID reported here          */
	uint32_t again;    /* atomic: hold mode, reports after the verdict (restarted AP)     */
};

struct selftest_state {
	const struct selftest_bootinfo *bi;
	bool step;
	bool hold;                            /* SELFTEST_FLAG_HOLD                      */
	bool racy;                            /* SELFTEST_FLAG_RACY                      */
	uint32_t racy_count;                  /* racy mode: bumped by each AP WITHOUT a lock */
	bool apic_base_cpuid;                 /* SELFTEST_FLAG_APIC_BASE_CPUID            */
	uint32_t holding;                     /* atomic: the verdict is out; reports count as "again" */
	uint32_t bsp_apic_id;
	uint32_t ncpus;                       /* enabled MADT processors, BSP first */
	struct cpu cpus[SELFTEST_MAX_CPUS];
	uint16_t id_hash[CPU_HASH_SIZE];      /* index + 1, 0 = empty                */
	struct ap_slot slots[SELFTEST_MAX_CPUS];
	uint32_t reported;                    /* atomic: APs that reported in          */
	uint32_t strays;                      /* atomic: APs whose ID is not in the MADT */
	uint32_t stray_apic_id;               /* atomic: the first of them              */
	uint32_t ticks;                       /* atomic: timer interrupts on the BSP   */
	bool irq;                             /* SELFTEST_FLAG_IRQ                       */
	bool mistakes;                        /* SELFTEST_FLAG_MISTAKES                  */
	bool pingpong;                        /* SELFTEST_FLAG_IPI_PINGPONG              */
	uint32_t ioapic_addr;                 /* the MADT's first I/O APIC, 0 if none    */
	uint32_t timer_gsi;                   /* ISA IRQ 0's GSI (MADT override, else 0) */
	uint32_t irqs[4];                     /* atomic: interrupts taken per irq.c test */
};

extern struct selftest_state g;

/* Index of apic_id in g.cpus, or -1. */
int cpu_index(uint32_t apic_id);

/* Append a processor; false if g.cpus is full or the APIC ID is already listed. */
bool cpu_add(uint32_t apic_id, uint32_t uid);

#endif
