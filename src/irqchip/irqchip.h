/*
 * irqchip.h - where the machine's interrupt controllers live: a mode, chosen once when the
 * VM is built (--irqchip), as a table of operations (struct irqchip_mode):
 *
 *   kernel  every controller in the accelerator (KVM's in-kernel irqchip): irqchip/kernel.c
 *   split   the local APICs, and so the MP state, in the accelerator; the PIC, I/O APIC and
 *           PIT mpvmm's (dev/chipset.h): irqchip/split.c
 *   user    all of them mpvmm's, the MP state too (mp/mp_user.h, mp/apic_bus.h): every
 *           INIT, SIPI and IPI seen exactly; the software CPU's only mode: irqchip/user.c
 *
 * A mode creates its controllers and the MP interface over whatever keeps the MP state,
 * hands the devices an IRQ line, tells the accelerator what it must keep (struct
 * accel_vm_params) and what CPUID may offer, takes the exits that are its business (HLT,
 * EOI, the APIC's MSRs), injects into a vCPU before it enters the guest, delivers INIT and
 * SIPI from outside, and saves and loads its state.  The VM and the vCPU loop call these
 * and never ask which mode they have: a new mode is one file and one row in irqchip.c.
 *
 * A mode knows the accelerator's interfaces, mpvmm's controller models and the MP interface;
 * not the VM, the vCPU threads or the devices.
 */
#ifndef MPVMM_IRQCHIP_H
#define MPVMM_IRQCHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "accel/accel.h"
#include "dev/bus.h"
#include "dev/irq.h"
#include "dev/vm_control.h"
#include "mp/mp.h"
#include "snapshot/snapfile.h"
#include "x86/cpuid.h"
#include "x86/platform.h"

/* What the VM gives a mode when it creates one. */
struct irqchip_env {
	struct accel *accel;
	const struct platform *plat;
	uint32_t boot_cpu;              /* vCPU index of the BSP                              */
	struct bus *pio, *mmio;         /* where controllers mpvmm keeps claim their registers */
	uint64_t t0_ns;                 /* the MP trace's start                                */
	bool seeded;                    /* the trace runs on the accelerator's clock          */
	bool step;                      /* --selftest-step: each INIT/SIPI step is printed     */
	mp_exec_fn exec;                /* run a function on a vCPU's thread                   */
	void *exec_ctx;
	struct vm_control ctl;          /* stop the VM (a fault the mode cannot go on from)    */
	/* A guest mistake, rate-limited: `warn` with the context of the mistakes' source, which
	 * `warn_source` gives for a name (each source has a budget of its own). */
	void (*warn)(void *source, const char *msg);
	void *(*warn_source)(void *ctx, const char *name);
	void *warn_ctx;
};

/* What every mode's instance begins with: the VM reads these directly. */
struct irqchip {
	const struct irqchip_mode *mode;
	struct mp *mp;              /* the MP interface over whatever keeps the MP state     */
	struct irq_line line;       /* where the devices' IRQ lines go                       */
};

/* What the vCPU loop does after irqchip_wait. */
enum irqchip_wait {
	IRQCHIP_RUN = 0, /* enter the guest now                                  */
	IRQCHIP_LOOK,    /* kicked or stopped: look at requests, the gate, the VM */
};

enum irqchip_ipi {
	IRQCHIP_INIT,
	IRQCHIP_STARTUP,
};

/* A machine a mode is asked to give: its size and whether x2APIC mode is wanted. */
struct irqchip_need {
	uint32_t cpus;
	uint32_t top_apic_id;
	bool x2apic;
};

struct irqchip_mode {
	const char *name;
	/* In a snapshot's machine section (the first format's numbers: kernel 0, which is also
	 * "the accelerator's default", split 1, user 2). */
	uint32_t snapshot_id;
	/* What the accelerator must keep; a mode that needs an accelerator's local APICs runs
	 * only where caps.lapic.  apic_msrs: the APIC's MSRs to mpvmm wherever it can. */
	bool accel_lapic, accel_chipset, apic_msrs;

	/* Refuse what this mode cannot give on this accelerator, in one line.  NULL: all. */
	int (*check)(const struct accel_caps *caps, const struct irqchip_need *need, char *err,
		     size_t errlen);
	/* The platform description as the mode's controllers are (the I/O APIC's version). */
	void (*fit_platform)(struct platform *p);
	/* What vCPU `c`'s CPUID may offer, given the accelerator's table (after the VM exists). */
	void (*fit_cpuid)(const struct accel_caps *caps, const struct cpu_desc *c,
			  struct cpuid_table *t);

	struct irqchip *(*create)(const struct irqchip_env *env, char *err, size_t errlen);
	void (*destroy)(struct irqchip *ic);
	/* vCPU `cpu`'s engine, once created, before any vCPU thread starts. */
	void (*attach)(struct irqchip *ic, uint32_t cpu, struct accel_vcpu *av);

	/*
	 * On vCPU `cpu`'s thread.  enter: right before guest code (a latched start, an
	 * injection); false: do not enter now (NULL: nothing to do, no hook at all).  wait:
	 * before each run, until the vCPU can run (NULL: it always can).  exit: an exit that
	 * is the mode's (HLT, EOI, RDMSR/WRMSR); false if it is not (an MSR then #GPs).  kick:
	 * make a waiting vCPU look at its requests.  vcpu_done: its thread ends.
	 */
	bool (*enter)(struct irqchip *ic, uint32_t cpu);
	enum irqchip_wait (*wait)(struct irqchip *ic, uint32_t cpu);
	bool (*exit)(struct irqchip *ic, uint32_t cpu, const struct accel_exit *e);
	void (*kick)(struct irqchip *ic, uint32_t cpu);
	void (*vcpu_done)(struct irqchip *ic, uint32_t cpu);

	/*
	 * The VM.  machine: the timers (and, where the mode keeps the MP state, who can run)
	 * the accelerator must serve; false: none.  stop: the VM stops, wake every waiter.
	 * stepped: a step-mode announcement is printed (a held start may be taken).  send:
	 * INIT or SIPI from outside (the control API), as an IPI.  lapic: vCPU `cpu`'s local
	 * APIC registers, read where it is.  save/load: the mode's state, its own snapshot
	 * sections (load refuses a file that does not match this mode's controllers).
	 */
	bool (*machine)(struct irqchip *ic, struct accel_machine *m);
	void (*stop)(struct irqchip *ic);
	void (*stepped)(struct irqchip *ic);
	int (*send)(struct irqchip *ic, uint32_t cpu, enum irqchip_ipi kind, uint8_t vector);
	int (*lapic)(struct irqchip *ic, uint32_t cpu, struct accel_lapic *out);
	int (*save)(struct irqchip *ic, struct snap_writer *w, char *err, size_t errlen);
	int (*load)(struct irqchip *ic, const struct snap_reader *r, char *err, size_t errlen);
};

/*
 * The mode named `name` (NULL: the accelerator's default, the first of the table it can
 * give) for this accelerator, or NULL with one line in err.
 */
const struct irqchip_mode *irqchip_mode_choose(const char *name, const struct accel_caps *caps,
					       char *err, size_t errlen);
/* By name (any accelerator), or NULL; the names as "kernel, split or user". */
const struct irqchip_mode *irqchip_mode_find(const char *name);
const struct irqchip_mode *irqchip_mode_by_snapshot_id(uint32_t id);
const char *irqchip_mode_names(void);
/* What the accelerator must keep for this mode (the rest of accel_vm_params is the VM's). */
void irqchip_vm_params(const struct irqchip_mode *m, const struct accel_caps *caps,
		       struct accel_vm_params *p);

/* The operations, for the VM and the vCPU loop: each does nothing where a mode has none. */
static inline bool irqchip_enter(struct irqchip *ic, uint32_t cpu)
{
	return !ic->mode->enter || ic->mode->enter(ic, cpu);
}

static inline enum irqchip_wait irqchip_wait(struct irqchip *ic, uint32_t cpu)
{
	return ic->mode->wait ? ic->mode->wait(ic, cpu) : IRQCHIP_RUN;
}

static inline bool irqchip_exit(struct irqchip *ic, uint32_t cpu, const struct accel_exit *e)
{
	return ic->mode->exit && ic->mode->exit(ic, cpu, e);
}

static inline void irqchip_kick(struct irqchip *ic, uint32_t cpu)
{
	if (ic->mode->kick)
		ic->mode->kick(ic, cpu);
}

static inline void irqchip_vcpu_done(struct irqchip *ic, uint32_t cpu)
{
	if (ic->mode->vcpu_done)
		ic->mode->vcpu_done(ic, cpu);
}

static inline void irqchip_stop(struct irqchip *ic)
{
	if (ic->mode->stop)
		ic->mode->stop(ic);
}

static inline void irqchip_stepped(struct irqchip *ic)
{
	if (ic->mode->stepped)
		ic->mode->stepped(ic);
}

#endif
