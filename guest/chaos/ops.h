/*
 * ops.h - the operations the chaos loop draws from, one function per kind of
 * include/mpvmm/selftest_abi.h's CHAOS_OPS, each one operation with its arguments drawn from
 * the CPU's stream: port I/O and the PC's chips (ops_io.c), MMIO (ops_mmio.c), the local
 * APIC's messages and timer (ops_apic.c), MSRs (ops_msr.c).
 */
#ifndef CHAOS_OPS_H
#define CHAOS_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "chaos.h"

void op_pio(struct chaos_cpu *c);
void op_pio_string(struct chaos_cpu *c);
void op_report_ports(struct chaos_cpu *c);
void op_pit(struct chaos_cpu *c);
void op_pic(struct chaos_cpu *c);

void op_lapic_mmio(struct chaos_cpu *c);
void op_ioapic_mmio(struct chaos_cpu *c);
void op_hole_mmio(struct chaos_cpu *c);
void op_rte(struct chaos_cpu *c);

void op_ipi(struct chaos_cpu *c);
void op_nmi(struct chaos_cpu *c);
void op_init(struct chaos_cpu *c);
void op_init_deassert(struct chaos_cpu *c);
void op_sipi(struct chaos_cpu *c);
void op_lapic_timer(struct chaos_cpu *c);
void op_tsc_deadline(struct chaos_cpu *c);
void op_hlt(struct chaos_cpu *c);
void op_tidy(struct chaos_cpu *c);

void op_msr(struct chaos_cpu *c);
void op_apic_base(struct chaos_cpu *c);

/* Whether an OUT of `value` (`width` bytes) at `port` leaves the run going (ops_io.c). */
bool pio_write_ok(uint16_t port, unsigned width, uint32_t value);

/* A write to the local APIC's register `reg` from any path, filtered (ops_apic.c). */
void lapic_reg_write(struct chaos_cpu *c, uint32_t reg, uint32_t v);

/* Random values shaped the way chaos wants them: small, edges, or anything. */
uint32_t rand_value32(struct chaos_cpu *c);
uint64_t rand_value64(struct chaos_cpu *c);

#endif
