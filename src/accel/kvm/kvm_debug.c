/*
 * kvm_debug.c - a debugger's requests on a KVM vCPU (accel_cpu_ops.set_debug):
 * KVM_SET_GUEST_DEBUG with single-step, INT3 intercepted (KVM_GUESTDBG_USE_SW_BP) and the
 * debug registers DR0-DR3/DR7 (KVM_GUESTDBG_USE_HW_BP), and KVM_EXIT_DEBUG turned into a
 * neutral ACCEL_EXIT_DEBUG (api.rst 4.52 and 5, "KVM_EXIT_DEBUG").
 *
 * On PVM an INT3 without a debugger ends KVM_RUN with an emulation failure whose bytes
 * start with 0xCC (docs/HOST-NOTES.md); with KVM_GUESTDBG_USE_SW_BP it exits as
 * KVM_EXIT_DEBUG in long mode (measured), and should the emulation failure come instead,
 * with sw_int3 asked for it is taken as that breakpoint.  It knows no debugger protocol.
 */
#include "accel/kvm/kvm_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define DR7_LOCAL(i) (1ull << (2 * (i)))
#define DR7_RW_SHIFT(i) (16 + 4 * (i))
#define DR7_LEN_SHIFT(i) (18 + 4 * (i))
#define DR6_BS (1ull << 14)
#define DB_VECTOR 1
#define BP_VECTOR 3
#define EMULATION_FLAG_INSN_BYTES 1ull

/* SDM Vol. 3B, 17.2.4: R/W 00 execution, 01 write, 11 read or write; LEN 00 1, 01 2,
 * 11 4, 10 8 bytes. */
static uint64_t dr7_bits(unsigned i, enum accel_bp_kind kind, uint8_t len)
{
	uint64_t rw = kind == ACCEL_BP_EXEC ? 0 : kind == ACCEL_BP_WRITE ? 1 : 3;
	uint64_t l = kind == ACCEL_BP_EXEC ? 0 : len == 2 ? 1 : len == 4 ? 3 : len == 8 ? 2 : 0;

	return DR7_LOCAL(i) | rw << DR7_RW_SHIFT(i) | l << DR7_LEN_SHIFT(i);
}

int kvm_set_debug(struct accel_vcpu *v, const struct accel_debug *d, char *err, size_t errlen)
{
	struct kvm_guest_debug g;

	memset(&g, 0, sizeof(g));
	if (d->nbp > ACCEL_DEBUG_BPS) {
		snprintf(err, errlen, "at most %u breakpoints by address", ACCEL_DEBUG_BPS);
		errno = EINVAL;
		return -1;
	}
	if (d->step || d->sw_int3 || d->nbp)
		g.control = KVM_GUESTDBG_ENABLE;
	if (d->step)
		g.control |= KVM_GUESTDBG_SINGLESTEP;
	if (d->sw_int3)
		g.control |= KVM_GUESTDBG_USE_SW_BP;
	if (d->nbp)
		g.control |= KVM_GUESTDBG_USE_HW_BP;
	for (uint32_t i = 0; i < d->nbp; i++) {
		g.arch.debugreg[i] = d->bp[i].addr;
		g.arch.debugreg[7] |= dr7_bits(i, d->bp[i].kind, d->bp[i].len);
	}
	if (kvm_ioctl(v->fd, KVM_SET_GUEST_DEBUG, &g, err, errlen) < 0)
		return -1;
	v->debug = *d;
	return 0;
}

/* KVM_EXIT_DEBUG: which of DR0-DR3 matched (DR6 bits 0-3), or a step (BS), or #BP. */
void kvm_debug_exit(struct accel_vcpu *v, struct accel_exit *e)
{
	const struct kvm_debug_exit_arch *a = &v->run->debug.arch;

	e->kind = ACCEL_EXIT_DEBUG;
	e->debug.pc = a->pc;
	if (a->exception == BP_VECTOR) {
		e->debug.cause = ACCEL_DEBUG_SW_BP;
		return;
	}
	for (uint32_t i = 0; i < v->debug.nbp && i < 4; i++) {
		if (!(a->dr6 & (1ull << i)))
			continue;
		if (v->debug.bp[i].kind == ACCEL_BP_EXEC) {
			e->debug.cause = ACCEL_DEBUG_HW_BP;
		} else {
			e->debug.cause = ACCEL_DEBUG_WATCH;
			e->debug.addr = v->debug.bp[i].addr;
		}
		return;
	}
	e->debug.cause = ACCEL_DEBUG_STEP;
}

/*
 * PVM: an INT3 ends KVM_RUN as an emulation failure with its bytes.  With sw_int3 asked
 * for, that is the debugger's breakpoint: RIP still points at it.  True if e became one.
 */
bool kvm_debug_int3(struct accel_vcpu *v, struct accel_exit *e, uint64_t cs_base, uint64_t rip)
{
	if (!v->debug.sw_int3 || e->internal.suberror != ACCEL_INTERNAL_EMULATION ||
	    e->internal.ndata < 3 || !(e->internal.data[0] & EMULATION_FLAG_INSN_BYTES))
		return false;
	uint8_t raw[16];
	memcpy(raw, &e->internal.data[1], sizeof(raw));
	if (raw[0] < 1 || raw[1] != 0xcc)
		return false;
	memset(e, 0, sizeof(*e));
	e->kind = ACCEL_EXIT_DEBUG;
	e->debug.cause = ACCEL_DEBUG_SW_BP;
	e->debug.pc = cs_base + rip;
	return true;
}
