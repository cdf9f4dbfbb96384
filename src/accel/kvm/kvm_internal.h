/*
 * kvm_internal.h - the KVM accelerator's own types, shared by the files of accel/kvm/ and
 * nothing else: kvm.c (opening KVM, the VM, CPUID), kvm_vcpu.c (a vCPU and its runs),
 * kvm_irqchip.c (the interrupt controllers KVM keeps), kvm_timer.c (the clock and the
 * timers of what mpvmm keeps), kvm_state.c (snapshots) and kvm_ioctl.c (the one place that
 * calls ioctl()).
 */
#ifndef MPVMM_KVM_INTERNAL_H
#define MPVMM_KVM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/accel.h"

#define KVM_KICK_SIGNAL SIGUSR1
/* Addresses KVM needs for real-mode support on VMX, inside the 3..4 GiB hole (as QEMU). */
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ull
#define KVM_TSS_ADDR 0xfeffd000ull

/* Without the in-kernel I/O APIC: the GSI routes KVM reserves for mpvmm's, one per pin. */
#define KVM_SPLIT_IOAPIC_PINS 24

/* The machine's timers' thread sleeps at most this long between two looks. */
#define KVM_TIMER_MAX_SLEEP_NS 50000000ull

struct kvm {
	struct accel base;
	int sys_fd;
	int vm_fd;
	int run_size;
	bool lapic;                /* the local APICs are KVM's (accel_vm_params.lapic)       */
	bool chipset;              /* ... and the PIC, I/O APIC and PIT (KVM_CREATE_IRQCHIP)  */
	bool apic_msr_exits;       /* no lapic: the APIC's MSRs come out as RDMSR/WRMSR exits */
	bool x2apic_api;           /* KVM_CAP_X2APIC_API: MSIs carry 32-bit destinations      */
	struct accel_machine m;    /* the timers of what mpvmm keeps (kvm_timer.c)            */
	pthread_t timer;           /* fires them on host time                                 */
	bool timer_started;
	pthread_mutex_t timer_lock;
	pthread_cond_t timer_cond; /* CLOCK_MONOTONIC; signalled when a deadline may move     */
	bool timer_look;           /* a deadline may have moved: look again                   */
	bool timer_stop;
	uint32_t *save_msrs;       /* snapshots: the MSRs this KVM saves (kvm_state.c)       */
	uint32_t nsave_msrs;
};

struct accel_vcpu {
	struct kvm *kvm;
	int fd;
	uint32_t id;
	struct kvm_run *run;
	pthread_mutex_t kick_lock;     /* thread and bound: a kick signals only a live thread */
	pthread_t thread;
	bool bound;                    /* between thread_init and thread_exit              */
	struct accel_vcpu_hooks hooks; /* set where mpvmm keeps an interrupt controller    */
	struct accel_debug debug;      /* what a debugger asked (kvm_debug.c)              */
};

/*
 * The one place mpvmm calls ioctl() (kvm_ioctl.c): on /dev/kvm, the VM or a vCPU.  Returns
 * what the ioctl returns (a descriptor, a count, a value, 0) or -1 with errno kept; on
 * failure, unless err is NULL, "NAME: strerror(errno)" is written there, so that every
 * message names the ioctl and its error.  kvm_ioctl() passes the request's own name.
 */
int kvm_ioctl_named(int fd, unsigned long req, const char *name, void *arg, char *err,
		    size_t errlen);
#define kvm_ioctl(fd, req, arg, err, errlen) kvm_ioctl_named(fd, req, #req, arg, err, errlen)
/* An integer argument, as ioctl() takes it for KVM_CREATE_VCPU, KVM_CHECK_EXTENSION... */
#define KVM_ARG(x) ((void *)(uintptr_t)(x))
/* A vCPU ioctl whose failure is logged: "vCPU N: NAME: strerror"; -1 with errno kept. */
int kvm_vcpu_ioctl_named(struct accel_vcpu *v, unsigned long req, const char *name, void *arg);
#define kvm_vcpu_ioctl(v, req, arg) kvm_vcpu_ioctl_named(v, req, #req, arg)

int kvm_complete_pending_exit(struct accel_vcpu *v, bool rearm, char *err, size_t errlen);
/* KVM_ENABLE_CAP on the VM, the capability named in the error. */
int kvm_enable_cap_named(struct kvm *k, uint32_t cap, const char *name, uint64_t arg0,
			 char *err, size_t errlen);
#define kvm_enable_cap(k, cap, arg0, err, errlen) \
	kvm_enable_cap_named(k, cap, "KVM_ENABLE_CAP(" #cap ")", arg0, err, errlen)

struct kvm *kvm_of(struct accel *a);
/* KVM_CHECK_EXTENSION on the VM (or /dev/kvm before it exists); 0 when absent. */
int kvm_check_cap(struct kvm *k, long cap);
/* The vCPU's current value of MSR `index` (KVM_GET_MSRS); -1 with errno if KVM cannot read it. */
int kvm_get_msr(struct accel_vcpu *v, uint32_t index, uint64_t *value);

/* kvm_vcpu.c: the CPU engine. */
extern const struct accel_cpu_ops kvm_cpu_ops;
int kvm_install_kick_handler(void);
int kvm_create_vcpu(struct accel *a, uint32_t id, struct accel_vcpu **out, char *err,
		    size_t errlen);

/* kvm_irqchip.c: what KVM keeps of the interrupt controllers. */
int kvm_create_irqchip(struct kvm *k, char *err, size_t errlen);
int kvm_irq_line(struct accel *a, unsigned gsi, bool level);
int kvm_msi(struct accel *a, const struct accel_msi *m);
int kvm_msi_routes(struct accel *a, const struct accel_msi *m, unsigned n);
int kvm_get_lapic(struct accel_vcpu *v, struct accel_lapic *l);

/* kvm_timer.c: the clock, and the timers of what mpvmm keeps, on host time. */
uint64_t kvm_now_ns(struct accel *a);
void kvm_set_machine(struct accel *a, const struct accel_machine *m);
void kvm_timers_changed(struct accel *a);
void kvm_timer_stop(struct kvm *k);

/* kvm_state.c: snapshots. */
/* kvm_debug.c: KVM_SET_GUEST_DEBUG and its exits. */
int kvm_set_debug(struct accel_vcpu *v, const struct accel_debug *d, char *err, size_t errlen);
void kvm_debug_exit(struct accel_vcpu *v, struct accel_exit *e);
bool kvm_debug_int3(struct accel_vcpu *v, struct accel_exit *e, uint64_t cs_base, uint64_t rip);

int kvm_save_vcpu(struct accel_vcpu *v, struct snap_enc *e, char *err, size_t errlen);
int kvm_load_vcpu(struct accel_vcpu *v, struct snap_dec *d, char *err, size_t errlen);
int kvm_save_vm(struct accel *a, struct snap_enc *e, char *err, size_t errlen);
int kvm_load_vm(struct accel *a, struct snap_dec *d, char *err, size_t errlen);

#endif
