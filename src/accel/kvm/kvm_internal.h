/*
 * kvm_internal.h - the KVM accelerator's own types, shared by the files that issue /dev/kvm
 * ioctls (kvm.c: VM, vCPUs, runs; kvm_state.c: saving and loading state for snapshots) and
 * nothing else.
 */
#ifndef MPVMM_KVM_INTERNAL_H
#define MPVMM_KVM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/accel.h"

#define KVM_KICK_SIGNAL SIGUSR1
/* Addresses KVM needs for real-mode support on VMX, inside the 3..4 GiB hole (as QEMU). */
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ull
#define KVM_TSS_ADDR 0xfeffd000ull

/* --irqchip split: the GSI routes KVM reserves for mpvmm's I/O APIC, one per pin. */
#define KVM_SPLIT_IOAPIC_PINS 24

/* --irqchip user: the LAPIC timers' thread sleeps at most this long between two looks. */
#define KVM_TIMER_MAX_SLEEP_NS 50000000ull

struct kvm {
	struct accel base;
	int sys_fd;
	int vm_fd;
	int run_size;
	bool user;                 /* --irqchip user: no KVM_CREATE_IRQCHIP / PIT           */
	bool split;                /* --irqchip split: KVM_CAP_SPLIT_IRQCHIP, no PIT        */
	bool msr_exits;            /* user: the APIC's MSRs come out as RDMSR/WRMSR exits   */
	bool x2apic_api;           /* KVM_CAP_X2APIC_API: MSIs carry 32-bit destinations    */
	struct accel_machine m;    /* user: the machine's runnable vCPUs and timers         */
	pthread_t timer;           /* user: fires the LAPIC timers on host time             */
	bool timer_started;
	pthread_mutex_t timer_lock;
	pthread_cond_t timer_cond; /* CLOCK_MONOTONIC; signalled when a deadline may move   */
	bool timer_look;           /* a deadline may have moved: look again                 */
	bool timer_stop;
	uint32_t *save_msrs;       /* snapshots: the MSRs this KVM saves (kvm_state.c)     */
	uint32_t nsave_msrs;
};

struct accel_vcpu {
	struct kvm *kvm;
	int fd;
	uint32_t id;
	struct kvm_run *run;
	pthread_t thread;
	_Atomic bool bound; /* thread is valid: set once by the vCPU's thread */
	struct accel_vcpu_hooks hooks; /* user: vcpu_user.c's enter hook */
	bool after_mmio;    /* user: the last exit was MMIO or an MSR (a LAPIC timer may be armed) */
};

struct kvm *kvm_of(struct accel *a);
/* KVM_CHECK_EXTENSION on the VM (or /dev/kvm before it exists); 0 when absent. */
int kvm_check_cap(struct kvm *k, long cap);
/* A vCPU ioctl; on failure logs "vCPU N: what: strerror" and returns -1 with errno kept. */
int kvm_vcpu_ioctl(struct accel_vcpu *v, unsigned long req, void *arg, const char *what);
/* The vCPU's current value of MSR `index` (KVM_GET_MSRS); -1 with errno if KVM cannot read it. */
int kvm_get_msr(struct accel_vcpu *v, uint32_t index, uint64_t *value);

#endif
