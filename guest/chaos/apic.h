/*
 * apic.h - the local APIC of the CPU running, in whichever mode it is in now (struct
 * chaos_cpu.x2apic): xAPIC through its page at 0xFEE00000, x2APIC through MSRs 0x800 +
 * offset / 16 (Intel SDM Vol. 3A, 10.12.1.2).  Registers are named by their xAPIC offset
 * (SDM Table 10-1).  And the rules that keep an interrupt message from ending the run.
 */
#ifndef CHAOS_APIC_H
#define CHAOS_APIC_H

#include <stdbool.h>
#include <stdint.h>

#include "chaos.h"

#define LAPIC_BASE      0xfee00000u
#define LAPIC_ID        0x020u
#define LAPIC_TPR       0x080u
#define LAPIC_EOI       0x0b0u
#define LAPIC_LDR       0x0d0u
#define LAPIC_DFR       0x0e0u
#define LAPIC_SVR       0x0f0u
#define LAPIC_ESR       0x280u
#define LAPIC_LVT_CMCI  0x2f0u
#define LAPIC_ICR_LO    0x300u
#define LAPIC_ICR_HI    0x310u
#define LAPIC_LVT_TIMER 0x320u
#define LAPIC_LVT_ERROR 0x370u
#define LAPIC_TIMER_ICR 0x380u
#define LAPIC_TIMER_CCR 0x390u
#define LAPIC_TIMER_DCR 0x3e0u

#define X2APIC_MSR_BASE 0x800u
#define X2APIC_ICR_MSR  0x830u

#define SVR_ENABLE (1u << 8)

/* ICR low half (SDM 10.6.1, Figure 10-12) and LVT entries (10.5.1, Figure 10-8). */
#define DM_SHIFT        8
#define DM_MASK         (7u << DM_SHIFT)
#define DM_FIXED        0u
#define DM_LOWEST       1u
#define DM_SMI          2u
#define DM_RESERVED     3u
#define DM_NMI          4u
#define DM_INIT         5u
#define DM_STARTUP      6u
#define DM_EXTINT       7u
#define ICR_LOGICAL     (1u << 11)
#define ICR_ASSERT      (1u << 14)
#define ICR_LEVEL       (1u << 15)
#define SH_SHIFT        18
#define SH_NONE         0u
#define SH_SELF         1u
#define SH_ALL          2u
#define SH_OTHERS       3u
#define LVT_MASKED      (1u << 16)

/* STARTUP vectors the guest prepared (lowmem.c); any other would start an AP in zeros. */
#define SIPI_TRAMPOLINE 0x08u /* SELFTEST_SIPI_VECTOR: the way back into the loop   */
#define SIPI_PARK       0x0au /* CLI; HLT in real mode until the next INIT          */
#define SIPI_JUMP       0x0bu /* a far jump to the trampoline                        */

uint32_t apic_read(struct chaos_cpu *c, uint32_t reg);
void apic_write(struct chaos_cpu *c, uint32_t reg, uint32_t v);
void apic_eoi(struct chaos_cpu *c);
/* Write the ICR: destination `dest` (8 bits in xAPIC mode, 32 in x2APIC), low half `lo`. */
void apic_icr(struct chaos_cpu *c, uint32_t dest, uint32_t lo);
/* Put this CPU's APIC in xAPIC or x2APIC mode and software-enable it. */
void apic_setup(struct chaos_cpu *c, bool x2apic);

/* The broadcast destination in this CPU's mode (SDM 10.6.2.1, 10.12.9). */
uint32_t apic_broadcast(const struct chaos_cpu *c);

/* A random STARTUP vector among the prepared ones. */
uint32_t sipi_vector(struct chaos_cpu *c);

/*
 * A delivery mode that cannot end the run, in an LVT entry or an I/O APIC redirection entry:
 * `v` with SMI, INIT and the reserved mode 3 replaced by fixed, NMI too where NMIs must not
 * reach a restarting AP (chaos.c), and a STARTUP vector made one of the prepared ones.
 */
uint32_t delivery_safe(struct chaos_cpu *c, uint32_t v);

/* Whether an NMI sent this way cannot reach an AP between its SIPI and its IDT (chaos.c). */
bool nmi_dest_safe(const struct chaos_cpu *c, uint32_t shorthand, bool logical, uint32_t dest);

#endif
