/*
 * lapic.h - the local APIC in either mode: xAPIC (MMIO page at 0xFEE00000) or x2APIC
 * (MSRs 0x800 + offset / 16).  Registers are named by their xAPIC MMIO offset
 * (Intel SDM Vol. 3A, Table 10-1); in x2APIC mode the same name selects the MSR
 * (SDM 10.12.1.2, Table 10-6).
 */
#ifndef SELFTEST_LAPIC_H
#define SELFTEST_LAPIC_H

#include <stdbool.h>
#include <stdint.h>

#define LAPIC_MMIO_BASE 0xfee00000u

#define LAPIC_ID        0x020u
#define LAPIC_TPR       0x080u
#define LAPIC_EOI       0x0b0u
#define LAPIC_SVR       0x0f0u
#define LAPIC_ICR_LO    0x300u
#define LAPIC_ICR_HI    0x310u /* xAPIC only: in x2APIC mode the ICR is one 64-bit MSR */
#define LAPIC_LVT_TIMER 0x320u
#define LAPIC_TIMER_ICR 0x380u /* initial count */
#define LAPIC_TIMER_DCR 0x3e0u /* divide configuration */

/* Spurious-interrupt vector register (SDM 10.9, Figure 10-23): bit 8 = APIC software enable. */
#define SVR_ENABLE          (1u << 8)

/* Interrupt command register, low half (SDM 10.6.1, Figure 10-12). */
#define ICR_DM_FIXED        (0u << 8)
#define ICR_DM_INIT         (5u << 8)
#define ICR_DM_STARTUP      (6u << 8)
#define ICR_DELIVERY_STATUS (1u << 12) /* send pending (xAPIC only) */
#define ICR_LEVEL_ASSERT    (1u << 14)
#define ICR_TRIGGER_LEVEL   (1u << 15)

/* LVT timer (SDM 10.5.1, Figure 10-8) and divide configuration (Figure 10-10). */
#define LVT_MASKED          (1u << 16)
#define LVT_TIMER_PERIODIC  (1u << 17)
#define TIMER_DIVIDE_BY_1   0xbu

/*
 * Mode of every local APIC in the test, chosen by the BSP before any AP starts and only
 * read afterwards (APs read it after the SIPI, which orders it).
 */
extern bool lapic_x2apic;

uint32_t lapic_read(uint32_t reg);
void lapic_write(uint32_t reg, uint32_t val);

/* This CPU's APIC ID: all 32 bits in x2APIC mode, bits 31:24 of the register in xAPIC. */
uint32_t lapic_id(void);

/*
 * Put this CPU's APIC in the test's mode (x2APIC: IA32_APIC_BASE EN|EXTD, SDM 10.12.1) and
 * software-enable it with spurious vector `spurious_vec`.  Returns false if x2APIC mode is
 * wanted and CPUID.1:ECX.x2APIC[bit 21] is clear.
 */
bool lapic_enable(uint8_t spurious_vec);

void lapic_eoi(void);

/* Send an IPI: icr_lo is the low half of the ICR (vector, delivery mode, level, trigger). */
void lapic_send_ipi(uint32_t dest_apic_id, uint32_t icr_lo);

/* Set once the BSP's timer runs (atomic); result.c stops it at the end. */
extern bool lapic_timer_on;

void lapic_timer_periodic(uint8_t vec, uint32_t initial_count);
/* Periodic, divide by 1, `hz` times a second on a timer clock of `input_hz` (as near as the
 * 32-bit count allows). */
void lapic_timer_at_hz(uint8_t vec, uint64_t input_hz, uint32_t hz);
void lapic_timer_stop(void);

#endif
