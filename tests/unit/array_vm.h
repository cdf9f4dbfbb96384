/*
 * array_vm.h - a VM without a CPU for the control API's tests and fuzzer: the real MP
 * interface (struct mp) over an array-backed MP backend, and an api_ops table implementing
 * the VM's side of the API over it (pause, resume, shutdown, INIT, SIPI with the states an
 * AP goes through).
 */
#ifndef MPVMM_TEST_ARRAY_VM_H
#define MPVMM_TEST_ARRAY_VM_H

#include <pthread.h>
#include <stdint.h>

#include "accel/accel.h"
#include "api/api.h"
#include "mp/mp.h"
#include "mp/mp_break.h"
#include "x86/insn.h"

struct array_vm_cpu {
	enum mp_state state;
	int sipi_vector; /* -1 until a SIPI */
	uint64_t exits[ACCEL_EXIT_KINDS];
	uint64_t carried[INSN_KINDS];
};

struct array_vm {
	uint32_t ncpus;
	uint32_t boot_cpu;
	struct array_vm_cpu *cpus;
	struct mp *mp;
	pthread_mutex_t lock; /* cpus[] and state */
	const char *state;    /* "running", "paused", "shutting-down" */
	uint64_t t0_ns;
	_Atomic unsigned delay_ms; /* every vcpu_info takes this long (a slow vCPU thread) */
	_Atomic unsigned shutdowns; /* shutdown requests seen */
	struct api_ops ops;
	void *cpus_ctx;       /* the backend's per-vCPU contexts */
	struct mp_break_set breaks; /* armed through the API (under lock) */
};

struct array_vm *array_vm_create(uint32_t ncpus, uint32_t boot_cpu);
void array_vm_destroy(struct array_vm *vm);
enum mp_state array_vm_state(struct array_vm *vm, uint32_t cpu);

#endif
