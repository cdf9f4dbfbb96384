/*
 * accel.h - the accelerator interface: what runs vCPUs.  KVM (accel/kvm.c) implements it
 * today; a software CPU plugs in beside it without touching the MP-state interface, the
 * devices or the loaders.
 *
 * The VM and vCPU layers see only these types: an exit is described in accelerator-neutral
 * terms, registers are struct x86_regs / x86_sregs, CPUID is struct cpuid_table.  Every
 * vCPU operation must be called from that vCPU's thread (after thread_init).
 */
#ifndef MPVMM_ACCEL_H
#define MPVMM_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "x86/guest_mem.h"
#include "mp/mp.h"
#include "snapshot/snapfile.h"
#include "x86/cpuid.h"
#include "x86/fpu.h"
#include "x86/regs.h"

enum accel_exit_kind {
	ACCEL_EXIT_IO = 0,
	ACCEL_EXIT_MMIO,
	ACCEL_EXIT_HLT,
	ACCEL_EXIT_SHUTDOWN,      /* triple fault                                        */
	ACCEL_EXIT_SYSTEM_EVENT,  /* reset / shutdown / crash requested through the platform */
	ACCEL_EXIT_INTERNAL,      /* the accelerator could not go on (e.g. emulation failure) */
	ACCEL_EXIT_FAIL_ENTRY,
	ACCEL_EXIT_INTERRUPTED,   /* kicked: left the guest to serve a request            */
	ACCEL_EXIT_OTHER,
	ACCEL_EXIT_EXCEPTION,     /* a guest exception the accelerator cannot deliver (soft)  */
	ACCEL_EXIT_EOI,           /* an in-kernel local APIC's EOI of a level-triggered interrupt
				   * from mpvmm's I/O APIC (--irqchip split)                  */
	ACCEL_EXIT_RDMSR,         /* an MSR mpvmm answers (--irqchip user: the APIC's)         */
	ACCEL_EXIT_WRMSR,
	ACCEL_EXIT_KINDS,
};

#define ACCEL_INTERNAL_EMULATION 1 /* suberror: instruction emulation failed */
#define ACCEL_INTERNAL_MAX_DATA 16

struct accel_exit {
	enum accel_exit_kind kind;
	union {
		struct {
			uint16_t port;
			uint8_t size;   /* 1, 2 or 4 */
			bool out;
			uint32_t count; /* string I/O repeats */
			uint8_t *data;  /* count * size bytes; IN results are written here */
		} io;
		struct {
			uint64_t addr;
			uint32_t len;
			bool write;
			uint8_t *data;  /* len bytes; read results are written here */
		} mmio;
		struct {
			uint32_t type;
		} system_event;
		struct {
			uint32_t suberror;
			uint32_t ndata;
			uint64_t data[ACCEL_INTERNAL_MAX_DATA];
		} internal;
		struct {
			uint32_t reason;
			uint64_t detail;
		} other;
		struct {
			uint8_t vector;
		} eoi;
		struct {
			uint32_t index;
			uint64_t *data;  /* RDMSR: the handler writes the value; WRMSR: the value */
			uint8_t *error;  /* the handler sets it to 1 for #GP(0)                   */
		} msr;
		struct {
			int vector;         /* 0-31, or -1 for a memory error (what says which) */
			uint64_t rip;       /* where it happened                               */
			const char *what;   /* a static description                            */
		} exception;
	};
};

const char *accel_exit_name(enum accel_exit_kind k);

struct accel;
struct accel_vcpu;

enum accel_ipi {
	ACCEL_IPI_FIXED = 0,
	ACCEL_IPI_INIT,
	ACCEL_IPI_STARTUP,
};

/* Where the interrupt controllers of a KVM guest live (--irqchip). */
enum accel_irqchip {
	ACCEL_IRQCHIP_KERNEL = 0, /* PIC, I/O APIC, PIT and local APICs in the kernel          */
	ACCEL_IRQCHIP_SPLIT,      /* local APICs in the kernel; PIC, I/O APIC, PIT in mpvmm     */
	ACCEL_IRQCHIP_USER,       /* all of them in mpvmm                                       */
};

/* An interrupt message in MSI format (Intel SDM Vol. 3A, 10.11.1-10.11.2). */
struct accel_msi {
	uint64_t address;
	uint32_t data;
};

struct accel_vm_params {
	struct guest_mem *mem;
	uint32_t boot_vcpu_id; /* vcpu id (= APIC ID) of the BSP                  */
	bool x2apic;           /* 32-bit APIC IDs in x2APIC mode                  */
};

/*
 * What an accelerator without an in-kernel local APIC calls back on the vCPU's thread while
 * run() is in progress (accel_ops.set_hooks).  `enter` comes once the vCPU may execute (the
 * software CPU: once it holds the engine), right before guest code: it loads a latched start
 * and injects interrupts; returning false leaves run() with ACCEL_EXIT_INTERRUPTED.  `exit`
 * receives the exits that must complete inside run() (the software CPU: an IN needs its value
 * before the next instruction): port I/O and MMIO, which run() then does not return.
 */
struct accel_vcpu_hooks {
	bool (*enter)(void *ctx);
	void (*exit)(void *ctx, const struct accel_exit *e);
	void *ctx;
};

/*
 * The machine as a scheduler of vCPUs needs it (accel_ops.set_machine): which vCPU (by
 * creation index) can run, and the timers on the accelerator's clock.
 */
#define ACCEL_NO_EVENT UINT64_MAX
enum accel_runnable {
	ACCEL_BLOCKED = 0,  /* waits for INIT, a SIPI or an interrupt */
	ACCEL_RUNNABLE,
	ACCEL_STARTING,     /* a start (SIPI) is latched: it is taken at the vCPU's next turn */
};
struct accel_machine {
	enum accel_runnable (*runnable)(void *ctx, uint32_t index);
	uint64_t (*next_event)(void *ctx);            /* earliest timer, or ACCEL_NO_EVENT */
	void (*advance)(void *ctx, uint64_t now_ns);  /* time is now: fire what is due     */
	void *ctx;
};

/* Events pending or being delivered on a vCPU (Intel SDM Vol. 3C, 27.6: event injection). */
struct accel_events {
	bool irq_injected;     /* an external interrupt is being delivered ...           */
	uint8_t irq_vector;    /* ... with this vector                                    */
	bool irq_shadow;       /* STI / MOV SS blocking: no interrupt before the next instruction */
	bool nmi_injected, nmi_pending, nmi_masked;
	bool exc_injected;     /* an exception is being delivered ...                     */
	uint8_t exc_vector;    /* ... with this vector                                    */
};

/* The registers of a local APIC: the 32-bit register at each 16-byte offset 0x000-0x3f0 of
 * its xAPIC page (Intel SDM Vol. 3A, table 10-1), in xAPIC or x2APIC mode alike. */
#define ACCEL_LAPIC_REGS 64
struct accel_lapic {
	uint32_t reg[ACCEL_LAPIC_REGS];
};

struct accel_ops {
	const char *name;

	/* VM scope, main thread. */
	int (*limits)(struct accel *a, uint32_t *max_vcpus, uint32_t *max_vcpu_id);
	int (*create_vm)(struct accel *a, const struct accel_vm_params *p, char *err, size_t errlen);
	/* A malloc'd table of what the accelerator can offer a guest. */
	struct cpuid_table *(*supported_cpuid)(struct accel *a, char *err, size_t errlen);
	int (*create_vcpu)(struct accel *a, uint32_t vcpu_id, struct accel_vcpu **out, char *err,
			   size_t errlen);
	void (*destroy)(struct accel *a);
	/* Any thread: drive an input of the in-kernel interrupt controllers (PIC + IOAPIC). */
	int (*irq_line)(struct accel *a, unsigned gsi, bool level);
	/*
	 * Any thread, with in-kernel local APICs: deliver an MSI-format message (mpvmm's I/O
	 * APIC's interrupts) as the platform's APIC bus would.  ENOTSUP without them.
	 */
	int (*msi)(struct accel *a, const struct accel_msi *m);
	/*
	 * Any thread, --irqchip split (NULL or ENOTSUP otherwise): the message each of the I/O
	 * APIC's n pins sends now, so that the in-kernel local APICs know which vectors are
	 * level-triggered and report their EOI (ACCEL_EXIT_EOI).
	 */
	int (*msi_routes)(struct accel *a, const struct accel_msi *m, unsigned n);
	/*
	 * Any thread: deliver INIT, STARTUP (with vector) or a fixed interrupt to the local
	 * APIC with this ID, through the platform's APIC bus, as another CPU's IPI would.
	 */
	int (*send_ipi)(struct accel *a, uint32_t dest_apic_id, enum accel_ipi kind,
			uint8_t vector);

	/* vCPU scope.  thread_init binds the vCPU to the calling thread (for kick). */
	int (*thread_init)(struct accel_vcpu *v);
	int (*set_cpuid)(struct accel_vcpu *v, const struct cpuid_table *t);
	int (*get_regs)(struct accel_vcpu *v, struct x86_regs *r);
	int (*set_regs)(struct accel_vcpu *v, const struct x86_regs *r);
	int (*get_sregs)(struct accel_vcpu *v, struct x86_sregs *s);
	int (*set_sregs)(struct accel_vcpu *v, const struct x86_sregs *s);
	/* Run until the next exit.  Returns 0 with *exit filled, or -1 (errno) on failure. */
	int (*run)(struct accel_vcpu *v, struct accel_exit *exit);
	int (*get_mp_state)(struct accel_vcpu *v, enum mp_state *s);
	int (*set_mp_state)(struct accel_vcpu *v, enum mp_state s);
	/* Deliver an exception (#BP, #DB...) or a software interrupt (INT n) on next entry. */
	int (*inject)(struct accel_vcpu *v, uint8_t vector, bool soft_int);
	/* Deliver an exception that pushes an error code (#GP, #PF...) on next entry. */
	int (*inject_error)(struct accel_vcpu *v, uint8_t vector, uint32_t error_code);
	/* x87/SSE control and status (FCW, FSW, abridged FTW, MXCSR); set keeps the rest. */
	int (*get_fpu)(struct accel_vcpu *v, struct x86_fpu *f);
	int (*set_fpu)(struct accel_vcpu *v, const struct x86_fpu *f);
	/* The guest's TSC frequency in kHz (0: unknown); NULL where there is no TSC to ask. */
	uint32_t (*tsc_khz)(struct accel_vcpu *v);
	/* Pending and injected events; NULL where the accelerator keeps none of its own. */
	int (*get_events)(struct accel_vcpu *v, struct accel_events *e);
	/* The in-kernel local APIC's registers; NULL where mpvmm keeps the APICs (user_mp). */
	int (*get_lapic)(struct accel_vcpu *v, struct accel_lapic *l);
	/* Guest virtual -> guest physical through the vCPU's current paging. */
	int (*translate)(struct accel_vcpu *v, uint64_t gva, uint64_t *gpa);
	/* Any thread: make the vCPU leave run() soon with ACCEL_EXIT_INTERRUPTED. */
	void (*kick)(struct accel_vcpu *v);
	void (*destroy_vcpu)(struct accel_vcpu *v);

	/*
	 * For accelerators without an in-kernel local APIC (accel.user_mp) or interrupt
	 * controllers (accel.user_irqchip); NULL otherwise.  set_machine: VM scope, before vCPU
	 * threads start (with user_irqchip alone, only its timers are used).  now_ns: the
	 * guest's clock (any thread).  timers_changed: a timer the machine reports may have
	 * moved: look at next_event again (any thread; NULL if never needed).  set_hooks: with
	 * an in-kernel local APIC too (--irqchip split: the 8259A's ExtINT on the BSP).
	 * interrupt_window: IF is set and no interrupt shadow (STI, MOV SS) is in force (with an
	 * in-kernel local APIC: and it takes an ExtINT); if not and `request`, run() returns as
	 * soon as it may open.  interrupt: deliver an external interrupt (or an NMI, vector 2)
	 * now, through the guest's IDT (with an in-kernel local APIC: an ExtINT vector).  idle:
	 * the vCPU will not run until its MP state changes: let the others have the CPU.
	 */
	void (*set_machine)(struct accel *a, const struct accel_machine *m);
	uint64_t (*now_ns)(struct accel *a);
	void (*timers_changed)(struct accel *a);
	int (*set_hooks)(struct accel_vcpu *v, const struct accel_vcpu_hooks *h);
	bool (*interrupt_window)(struct accel_vcpu *v, bool request);
	int (*interrupt)(struct accel_vcpu *v, uint8_t vector, bool nmi);
	void (*idle)(struct accel_vcpu *v);
	/* user_mp with tsc_hz: the vCPU's TSC now (its thread, or the VM paused); -1, errno. */
	int (*guest_tsc)(struct accel_vcpu *v, uint64_t *tsc);

	/*
	 * Snapshots (vm_snapshot.c), in the accelerator's own encoding, which only it reads back.
	 * save_vcpu: on the vCPU's thread with the VM paused; the whole architectural state,
	 * in the order the implementation documents.  load_vcpu: before the vCPU's thread
	 * starts, after set_cpuid.  save_vm / load_vm: VM-wide state (in-kernel irqchip, PIT,
	 * clock), main thread, the VM paused / before any vCPU runs.  Return 0, or -1 with a
	 * reason in err.
	 */
	int (*save_vcpu)(struct accel_vcpu *v, struct snap_enc *e, char *err, size_t errlen);
	int (*load_vcpu)(struct accel_vcpu *v, struct snap_dec *d, char *err, size_t errlen);
	int (*save_vm)(struct accel *a, struct snap_enc *e, char *err, size_t errlen);
	int (*load_vm)(struct accel *a, struct snap_dec *d, char *err, size_t errlen);
};

struct accel {
	const struct accel_ops *ops;
	uint64_t lapic_timer_hz; /* local APIC timer input clock the guest sees */
	uint64_t tsc_hz;         /* user_mp: the guest TSC's rate, for the local APIC's
				  * TSC-deadline mode (guest_tsc); 0: no such mode          */
	bool emulates;           /* guest code is emulated (PVM): slow, and some instructions
				  * end KVM_RUN with an emulation failure */
	bool user_mp;            /* no in-kernel local APIC: mpvmm keeps MP state and APICs */
	bool user_irqchip;       /* no in-kernel PIC, I/O APIC or PIT: mpvmm's (dev/irqchip.h) */
	bool identity_only;      /* paging does not translate: identity-mapped guests only  */
	bool no_msr_exits;       /* RDMSR/WRMSR cannot be trapped: no x2APIC, and
				  * IA32_APIC_BASE reads 0 in the guest                   */
	bool apic_msrs;          /* user_mp: the APIC's MSRs reach mpvmm's APICs
				  * (ACCEL_EXIT_RDMSR/WRMSR): x2APIC mode works            */
	uint32_t max_xapic_cpus; /* user_mp: at most this many vCPUs (xAPIC IDs)           */
	bool parallel;           /* vCPUs run at once, a host thread each (KVM)            */
};

/*
 * Open KVM.  Returns NULL with a reason in err; *missing is set if /dev/kvm is not usable.
 * ACCEL_IRQCHIP_USER: no in-kernel irqchip: user_mp and user_irqchip are set and the
 * set_machine ... idle operations work; where KVM can exit on MSRs
 * (KVM_CAP_X86_USER_SPACE_MSR, KVM_CAP_X86_MSR_FILTER) IA32_APIC_BASE and the x2APIC MSRs
 * come out as ACCEL_EXIT_RDMSR/WRMSR (apic_msrs), otherwise the APIC is xAPIC only.
 * ACCEL_IRQCHIP_SPLIT: in-kernel local APICs only (KVM_CAP_SPLIT_IRQCHIP): user_irqchip is set; set_machine, now_ns, timers_changed,
 * set_hooks, interrupt_window, interrupt, msi_routes and ACCEL_EXIT_EOI serve mpvmm's PIC,
 * I/O APIC and PIT.
 */
struct accel *accel_kvm_open(enum accel_irqchip irqchip, bool *missing, char *err,
			     size_t errlen);

/*
 * Open the software CPU (Unicorn).  With `seeded`, the order of turns and their lengths are a
 * function of `seed`, and the guest clock counts instructions; otherwise round robin.
 */
struct accel *accel_soft_open(bool seeded, uint64_t seed, char *err, size_t errlen);

/* KVM's snapshot operations (accel/kvm_state.c). */
int kvm_save_vcpu(struct accel_vcpu *v, struct snap_enc *e, char *err, size_t errlen);
int kvm_load_vcpu(struct accel_vcpu *v, struct snap_dec *d, char *err, size_t errlen);
int kvm_save_vm(struct accel *a, struct snap_enc *e, char *err, size_t errlen);
int kvm_load_vm(struct accel *a, struct snap_dec *d, char *err, size_t errlen);

/* The MP backend over an accelerator that keeps MP state itself (KVM's in-kernel LAPIC). */
extern const struct mp_backend mp_kernel_backend;
/* Per-vCPU context for mp_kernel_backend. */
struct mp_kernel_ctx {
	const struct accel_ops *ops;
	struct accel_vcpu *vcpu;
};

#endif
