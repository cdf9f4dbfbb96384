/*
 * carry.h - instructions the accelerator could not emulate (KVM_EXIT_INTERNAL_ERROR with the
 * emulation suberror, carrying the instruction's bytes), performed by mpvmm on the vCPU's
 * registers and memory: INT n / INT3 / INT1 (the event injected), FWAIT, POPCNT, LZCNT,
 * TZCNT, CLAC/STAC, LDMXCSR/STMXCSR, FNCLEX, FNSTSW, EMMS, CMPXCHG16B (x86/emulate.h).
 * On the vCPU's own thread.
 */
#ifndef MPVMM_VCPU_CARRY_H
#define MPVMM_VCPU_CARRY_H

#include <stdint.h>

#include "accel/accel.h"
#include "x86/guest_mem.h"

struct vcpu_carry {
	const struct accel_cpu_ops *cpu;
	struct accel_vcpu *av;
	struct guest_mem *mem;
	uint32_t index; /* for messages */
};

/*
 * Carry the instruction of an ACCEL_EXIT_INTERNAL exit: its kind (enum insn_kind) once
 * performed and written back, or -1 when it cannot be (an instruction mpvmm does not carry
 * is logged with its bytes and name).
 */
int vcpu_carry(const struct vcpu_carry *x, const struct accel_exit *e);

#endif
