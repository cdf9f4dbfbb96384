/*
 * accel.h - what runs guest code, behind two narrow interfaces: the CPU engine (one vCPU:
 * its registers, MSRs, events and MP state, and a run to its next exit: struct
 * accel_cpu_ops) and the machine around the vCPUs (the VM, its memory and CPUID, its clock,
 * and the interrupt controllers an accelerator may keep itself: struct accel_vm_ops).  KVM
 * (accel/kvm/) and the software CPU (accel/soft/) implement both; vm/accels.c is the table
 * --accel chooses from.
 *
 * An accelerator knows no --irqchip mode: create_vm tells it which interrupt controllers it
 * keeps (struct accel_vm_params), and the mode above it (irqchip/) does the rest.  The VM
 * and vCPU layers see only these types: an exit is described in accelerator-neutral terms,
 * registers are struct x86_regs / x86_sregs, CPUID is struct cpuid_table.  Every vCPU
 * operation must be called from that vCPU's thread (after thread_init) unless it says
 * otherwise.
 */
#ifndef MPVMM_ACCEL_H
#define MPVMM_ACCEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp/mp_state.h"
#include "snapshot/snapfile.h"
#include "x86/cpuid.h"
#include "x86/fpu.h"
#include "x86/guest_mem.h"
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
	ACCEL_EXIT_DEBUG,         /* a breakpoint, watchpoint or single step set_debug asked for */
	ACCEL_EXIT_KINDS,
};
/* A vCPU snapshot counts the exits of the kinds before ACCEL_EXIT_DEBUG (its format's). */
#define ACCEL_EXIT_SAVED_KINDS ACCEL_EXIT_DEBUG

/* Why an ACCEL_EXIT_DEBUG stopped the vCPU (before the instruction at `pc` executes). */
enum accel_debug_cause {
	ACCEL_DEBUG_STEP = 0,   /* one instruction executed                          */
	ACCEL_DEBUG_SW_BP,      /* an INT3 (0xCC) in guest memory, or a code breakpoint    */
	ACCEL_DEBUG_HW_BP,      /* an execution breakpoint of accel_debug.bp[]             */
	ACCEL_DEBUG_WATCH,      /* a data access matched accel_debug.bp[] (write or access)  */
};

/*
 * What a debugger asks of one vCPU (accel_cpu_ops.set_debug): single-step, INT3 exits to the
 * VMM instead of the guest (sw_int3), and up to ACCEL_DEBUG_BPS breakpoints by linear address
 * that need no change of guest memory: execution (len 1) or data (write, or read/write; len
 * 1, 2, 4 or 8).  How many and which kinds an accelerator can give is in accel_caps.
 */
#define ACCEL_DEBUG_BPS 4
enum accel_bp_kind { ACCEL_BP_EXEC = 0, ACCEL_BP_WRITE, ACCEL_BP_ACCESS };
struct accel_debug {
	bool step;
	bool sw_int3;
	uint32_t nbp;
	struct {
		enum accel_bp_kind kind;
		uint64_t addr;
		uint8_t len;
	} bp[ACCEL_DEBUG_BPS];
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
		struct {
			enum accel_debug_cause cause;
			uint64_t pc;        /* linear address of the next instruction          */
			uint64_t addr;      /* a watchpoint's data address (linear)             */
		} debug;
	};
};

const char *accel_exit_name(enum accel_exit_kind k);

struct accel;
struct accel_vcpu;

/* An interrupt message in MSI format (Intel SDM Vol. 3A, 10.11.1-10.11.2). */
struct accel_msi {
	uint64_t address;
	uint32_t data;
};

/*
 * The VM to create, and which of the machine's interrupt controllers the accelerator keeps
 * (the --irqchip mode decides): the local APICs, and with them each vCPU's MP state; the
 * PIC, I/O APIC and PIT too.  Whatever it does not keep, mpvmm does.
 */
struct accel_vm_params {
	struct guest_mem *mem;
	uint32_t boot_vcpu_id;  /* vcpu id (= APIC ID) of the BSP                            */
	bool x2apic;            /* 32-bit APIC IDs in x2APIC mode                            */
	bool lapic;             /* the accelerator keeps the local APICs and MP state         */
	bool chipset;           /* ... and the PIC, I/O APIC and PIT (only with lapic)        */
	bool apic_msr_exits;    /* without lapic: IA32_APIC_BASE, IA32_TSC_DEADLINE and the
				 * x2APIC MSRs come out as ACCEL_EXIT_RDMSR/WRMSR (caps.msr_exits) */
};

/* What an accelerator is and can do; fixed once it is open (tsc_hz once the VM exists). */
struct accel_caps {
	const char *name;        /* "kvm", "soft": --accel and snapshots                      */
	const char *what;        /* for messages: "KVM", "the software CPU"                    */
	uint64_t lapic_timer_hz; /* the local APIC timer's input clock the guest sees          */
	uint64_t tsc_hz;         /* the guest TSC's rate (0: unknown)                          */
	bool emulates;           /* guest code is emulated (PVM): slow, and some instructions
				  * end a run with an emulation failure                      */
	bool identity_only;      /* paging does not translate: identity-mapped guests only     */
	bool parallel;           /* vCPUs run at once, a host thread each                      */
	bool lapic;              /* can keep local APICs itself (accel_vm_params.lapic)        */
	bool msr_exits;          /* can hand the APIC's MSRs to mpvmm (.apic_msr_exits)        */
	bool apic_base_msr;      /* the guest reads IA32_APIC_BASE by itself (false: RDMSR
				  * cannot be trapped and reads 0)                           */
	/* set_debug: what accel_debug.bp[] may hold (0 / false: none of that kind); why not. */
	uint32_t debug_exec_bps; /* execution breakpoints                                    */
	bool debug_watch;        /* data breakpoints (watchpoints)                           */
	const char *debug_why_not; /* one line: why breakpoints by address are not offered   */
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

/*
 * What run() calls back on the vCPU's thread where mpvmm keeps an interrupt controller
 * (accel_cpu_ops.set_hooks).  `enter` comes once the vCPU may execute (the software CPU:
 * once it holds the engine), right before guest code: it loads a latched start and injects
 * interrupts; returning false leaves run() with ACCEL_EXIT_INTERRUPTED.  `exit` receives the
 * exits that must complete inside run() (the software CPU: an IN needs its value before the
 * next instruction): port I/O and MMIO, which run() then does not return.
 */
struct accel_vcpu_hooks {
	bool (*enter)(void *ctx);
	void (*exit)(void *ctx, const struct accel_exit *e);
	void *ctx;
};

/*
 * The machine as a scheduler of vCPUs needs it (accel_vm_ops.set_machine): which vCPU (by
 * creation index) can run, and the timers on the accelerator's clock.
 */
#define ACCEL_NO_EVENT UINT64_MAX
enum accel_runnable {
	ACCEL_BLOCKED = 0,  /* waits for INIT, a SIPI or an interrupt */
	ACCEL_RUNNABLE,
	ACCEL_STARTING,     /* a start (SIPI) is latched: it is taken at the vCPU's next turn */
};
struct accel_machine {
	enum accel_runnable (*runnable)(void *ctx, uint32_t index); /* NULL: all can run */
	uint64_t (*next_event)(void *ctx);            /* earliest timer, or ACCEL_NO_EVENT */
	void (*advance)(void *ctx, uint64_t now_ns);  /* time is now: fire what is due     */
	void *ctx;
};

/* The machine: the VM, its vCPUs' creation, its clock, the controllers it keeps. */
struct accel_vm_ops {
	/* Main thread, before and while the VM is built. */
	int (*limits)(struct accel *a, uint32_t *max_vcpus, uint32_t *max_vcpu_id);
	int (*create_vm)(struct accel *a, const struct accel_vm_params *p, char *err, size_t errlen);
	/* A malloc'd table of what the accelerator can offer a guest. */
	struct cpuid_table *(*supported_cpuid)(struct accel *a, char *err, size_t errlen);
	int (*create_vcpu)(struct accel *a, uint32_t vcpu_id, struct accel_vcpu **out, char *err,
			   size_t errlen);
	void (*destroy)(struct accel *a);

	/*
	 * The clock and the timers of what mpvmm keeps.  now_ns: the guest's clock (any
	 * thread).  set_machine: before vCPU threads start; the accelerator fires the
	 * machine's timers on its clock and, where it schedules vCPUs itself, runs only the
	 * runnable ones; set_machine(NULL) when the VM is torn down, before its vCPUs: no
	 * timer fires any more once it returns.  timers_changed: a timer may have moved, look at next_event again
	 * (any thread; NULL where the accelerator looks at every turn anyway).
	 */
	uint64_t (*now_ns)(struct accel *a);
	void (*set_machine)(struct accel *a, const struct accel_machine *m);
	void (*timers_changed)(struct accel *a);

	/*
	 * The interrupt controllers the accelerator keeps (accel_vm_params.lapic, .chipset);
	 * NULL or ENOTSUP where it keeps none.  Any thread but get_lapic (the vCPU's).
	 * irq_line: an input of its PIC and I/O APIC.  msi: a message on its APIC bus, in MSI
	 * format, whose delivery mode may be INIT or StartUp as in an ICR; -1 with errno, not
	 * logged, when it cannot be delivered (a guest may cause that).  msi_routes: with
	 * lapic but not chipset, the message each of mpvmm's I/O APIC pins sends now, so that
	 * its local APICs know the level-triggered vectors and report their EOI
	 * (ACCEL_EXIT_EOI).
	 */
	int (*irq_line)(struct accel *a, unsigned gsi, bool level);
	int (*msi)(struct accel *a, const struct accel_msi *m);
	int (*msi_routes)(struct accel *a, const struct accel_msi *m, unsigned n);
	int (*get_lapic)(struct accel_vcpu *v, struct accel_lapic *l);

	/* Snapshots: VM-wide state (the controllers it keeps, the clock), main thread, the VM
	 * paused / before any vCPU runs.  0, or -1 with a reason in err. */
	int (*save_vm)(struct accel *a, struct snap_enc *e, char *err, size_t errlen);
	int (*load_vm)(struct accel *a, struct snap_dec *d, char *err, size_t errlen);
};

/* The CPU engine: one vCPU.  thread_init binds the vCPU to the calling thread (for kick). */
struct accel_cpu_ops {
	int (*thread_init)(struct accel_vcpu *v);
	/* Optional, on the vCPU's thread as it leaves for good: no kick reaches it afterwards. */
	void (*thread_exit)(struct accel_vcpu *v);
	void (*destroy_vcpu)(struct accel_vcpu *v);
	/* Any thread: make the vCPU leave run() soon with ACCEL_EXIT_INTERRUPTED. */
	void (*kick)(struct accel_vcpu *v);
	/* Run until the next exit.  Returns 0 with *exit filled, or -1 (errno) on failure. */
	int (*run)(struct accel_vcpu *v, struct accel_exit *exit);

	/* Registers.  An x86_sregs.apic_base of 0 leaves the vCPU's IA32_APIC_BASE as it is. */
	int (*set_cpuid)(struct accel_vcpu *v, const struct cpuid_table *t);
	int (*get_regs)(struct accel_vcpu *v, struct x86_regs *r);
	int (*set_regs)(struct accel_vcpu *v, const struct x86_regs *r);
	int (*get_sregs)(struct accel_vcpu *v, struct x86_sregs *s);
	int (*set_sregs)(struct accel_vcpu *v, const struct x86_sregs *s);
	/*
	 * Optional, on the vCPU's thread: finish the instruction whose exit was served, so
	 * that registers set next (a SIPI's start) are not overwritten by its completion
	 * (KVM completes an I/O or MMIO instruction at the next KVM_RUN).  0, or -1 (errno).
	 */
	int (*finish_exit)(struct accel_vcpu *v);
	/* x87/SSE control and status (FCW, FSW, abridged FTW, MXCSR); set keeps the rest. */
	int (*get_fpu)(struct accel_vcpu *v, struct x86_fpu *f);
	int (*set_fpu)(struct accel_vcpu *v, const struct x86_fpu *f);
	/* Guest virtual -> guest physical through the vCPU's current paging. */
	int (*translate)(struct accel_vcpu *v, uint64_t gva, uint64_t *gpa);
	/* The guest's TSC frequency in kHz (0: unknown), and its TSC now (the vCPU's thread,
	 * or the VM paused; -1 with errno).  NULL where there is no TSC to ask. */
	uint32_t (*tsc_khz)(struct accel_vcpu *v);
	int (*guest_tsc)(struct accel_vcpu *v, uint64_t *tsc);

	/* MP state, where the accelerator keeps the local APICs (accel_vm_params.lapic). */
	int (*get_mp_state)(struct accel_vcpu *v, enum mp_state *s);
	int (*set_mp_state)(struct accel_vcpu *v, enum mp_state s);

	/* Events.  inject: an exception (#BP, #DB...) or a software interrupt (INT n) on the
	 * next entry; inject_error: one that pushes an error code (#GP, #PF...).  get_events:
	 * what is pending or being delivered; NULL where the accelerator keeps none. */
	int (*inject)(struct accel_vcpu *v, uint8_t vector, bool soft_int);
	int (*inject_error)(struct accel_vcpu *v, uint8_t vector, uint32_t error_code);
	int (*get_events)(struct accel_vcpu *v, struct accel_events *e);

	/*
	 * Interrupts from a controller mpvmm keeps.  set_hooks: struct accel_vcpu_hooks.
	 * interrupt_window: IF is set and no interrupt shadow (STI, MOV SS) is in force (with
	 * the accelerator's local APIC: and it takes an ExtINT); if not and `request`, run()
	 * returns as soon as it may open.  interrupt: deliver an external interrupt (or an NMI,
	 * vector 2) now, through the guest's IDT (with the accelerator's local APIC: an ExtINT
	 * vector).  idle: the vCPU will not run until its MP state changes: let the others
	 * have the CPU.
	 */
	int (*set_hooks)(struct accel_vcpu *v, const struct accel_vcpu_hooks *h);
	bool (*interrupt_window)(struct accel_vcpu *v, bool request);
	int (*interrupt)(struct accel_vcpu *v, uint8_t vector, bool nmi);
	void (*idle)(struct accel_vcpu *v);
	/*
	 * Optional, on the vCPU's thread: it waits at the closed pause gate (true) or leaves
	 * it (false), between two runs.  Meanwhile the accelerator may let go of what it
	 * holds (the software CPU: its engine, so that the other vCPUs' registers can be
	 * read while the VM is paused), keeping the vCPU's place.
	 */
	void (*parked)(struct accel_vcpu *v, bool parked);
	/*
	 * Optional: what a debugger asks (struct accel_debug), replacing what it asked before;
	 * a run then ends with ACCEL_EXIT_DEBUG where it matches.  NULL, or -1 with a reason in
	 * err, where the accelerator cannot.  Guest memory may have changed since the last
	 * call (an INT3 written or taken out): the accelerator forgets what it cached of it.
	 */
	int (*set_debug)(struct accel_vcpu *v, const struct accel_debug *d, char *err,
			 size_t errlen);

	/*
	 * Snapshots, in the accelerator's own encoding, which only it reads back.  save_vcpu:
	 * on the vCPU's thread with the VM paused; the whole architectural state, in the order
	 * the implementation documents.  load_vcpu: before the vCPU's thread starts, after
	 * set_cpuid.  0, or -1 with a reason in err.
	 */
	int (*save_vcpu)(struct accel_vcpu *v, struct snap_enc *e, char *err, size_t errlen);
	int (*load_vcpu)(struct accel_vcpu *v, struct snap_dec *d, char *err, size_t errlen);
};

struct accel {
	const struct accel_vm_ops *vm;
	const struct accel_cpu_ops *cpu;
	struct accel_caps caps;
};

#endif
