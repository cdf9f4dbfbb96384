/*
 * mp_state.h - the x86 multiprocessor (MP) states a vCPU can be in, with the names of the KVM
 * API (Documentation/virt/kvm/api.rst, KVM_GET_MP_STATE; Intel SDM Vol. 3A, 8.4).  A leaf:
 * the MP interface, the accelerators that keep the state themselves and the control API
 * share it without knowing each other.
 */
#ifndef MPVMM_MP_STATE_H
#define MPVMM_MP_STATE_H

enum mp_state {
	MP_STATE_UNINITIALIZED = 0, /* an AP waiting for INIT                      */
	MP_STATE_INIT_RECEIVED,     /* INIT latched: waiting for a SIPI             */
	MP_STATE_SIPI_RECEIVED,     /* SIPI latched: about to start at vector << 12 */
	MP_STATE_RUNNABLE,
	MP_STATE_HALTED,            /* HLT: waiting for an interrupt, NMI, INIT, SIPI */
	MP_STATE_COUNT,
};

const char *mp_state_name(enum mp_state s);
/* Accepts the names above, case-insensitively; returns 0 or -1. */
int mp_state_parse(const char *name, enum mp_state *out);

#endif
