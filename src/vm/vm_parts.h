/*
 * vm_parts.h - the VM's parts, for the files of vm/ that work on a whole VM: vm.c (its
 * lifecycle), tables.c (what the guest is told of its processors), guest_load.c (a guest put
 * in), api_ops.c (the control API's operations), snapshot.c and restore.c.  Nothing outside
 * vm/ includes this: devices, vCPUs, modes and accelerators see only their own interfaces.
 *
 * Each part is a module of its own: the accelerator, the --irqchip mode's controllers, the
 * devices of the table, the vCPUs.  Data flows one way: the configuration builds the VM, the
 * VM its vCPUs, whose exits reach the devices.
 */
#ifndef MPVMM_VM_PARTS_H
#define MPVMM_VM_PARTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/accel.h"
#include "vm/vm_config.h"
#include "dev/bus.h"
#include "dev/console.h"
#include "dev/serial.h"
#include "irqchip/irqchip.h"
#include "mp/mp.h"
#include "vcpu/vcpu.h"
#include "vm/devices.h"
#include "vm/vm.h"
#include "vm/warn.h"
#include "x86/cpuid.h"
#include "x86/guest_mem.h"
#include "x86/platform.h"

struct vm {
	struct vm_config cfg;
	struct accel *accel;
	const struct irqchip_mode *mode; /* --irqchip: where the interrupt controllers are  */
	struct irqchip *ic;              /* its controllers, the MP interface, the IRQ lines */
	struct guest_mem mem;
	struct platform plat;
	struct cpuid_table **cpuid;      /* per vCPU, until each vCPU has its own           */
	struct bus *pio, *mmio;
	struct devices *devices;         /* the device table's (vm/devices.c)               */
	struct serial *serial;           /* COM1, one of them: the console's                */
	struct console *console;         /* only when the guest reads its console           */
	struct mp *mp;                   /* ic->mp                                          */
	struct vcpu *vcpus;
	uint32_t nvcpus;                 /* created so far                                  */
	struct vcpu_env env;
	uint64_t t0_ns;
	char *kernel;                    /* cfg.kernel's storage, when the VM owns it       */
	struct warn_limiter warn;        /* the guest's mistakes, rate-limited              */

	_Atomic bool stopping;
	struct vcpu_gate gate;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stopped;       /* a vm_stop came: the first one's status and reason stand */
	bool vcpus_told;    /* that vm_stop has kicked every vCPU: their threads may be joined */
	int status;
	char why[256];

	struct mp_break *brk;            /* breaks on MP events (breaks.c)                  */
	pthread_mutex_t break_lock;      /* one vCPU at a time pauses for a break           */
	struct vm_break_listener { vm_break_fn fn; void *ctx; } listeners[VM_MAX_BREAK_LISTENERS];
	unsigned nlisteners;
	uint64_t breaks_dropped_said;    /* hits the full queue dropped, said so far        */
	/* A debugger's stop hook (vm/gdb_ops.c), called from vCPU threads under debug_lock. */
	pthread_mutex_t debug_lock;
	void (*debug_stop)(void *ctx, uint32_t cpu, const struct accel_exit *e);
	void *debug_stop_ctx;
	void (*debug_break)(void *ctx, uint32_t cpu, const char *what); /* MP-event breaks */
	void *debug_break_ctx;
};

/* gdb_ops.c: a vCPU's ACCEL_EXIT_DEBUG (struct vcpu_env.debug). */
void vm_debug_exit(void *ctx, uint32_t cpu, const struct accel_exit *e);

/*
 * A VM built from something else than a fresh boot (a snapshot, restore.c): what it adds
 * to the build.  memory: RAM is allocated and the accelerator has not mapped it yet; fill
 * it.  cpuid: every vCPU's CPUID is built (vm->cpuid) and no vCPU has it yet; check it.
 * tables_in_ram: RAM holds the firmware tables already; they are only checked.
 */
struct vm_build_hooks {
	int (*memory)(struct vm *vm, void *ctx, char *err, size_t errlen);
	int (*cpuid)(struct vm *vm, void *ctx, char *err, size_t errlen);
	bool tables_in_ram;
	void *ctx;
};

/* vm.c: a VM with cfg (copied) and nothing built, or NULL with the status (logged). */
struct vm *vm_alloc(const struct vm_config *cfg, int *status);
/* Build every part, in order; hooks may be NULL.  0, or -1 with the status (logged). */
int vm_build(struct vm *vm, const struct vm_build_hooks *hooks, int *status);

/* tables.c: every vCPU's CPUID as this VM builds it (say: log what it offers); NULL with a
 * reason in err. */
struct cpuid_table **vm_cpuid_tables(struct vm *vm, bool say, char *err, size_t errlen);
void vm_cpuid_tables_free(struct cpuid_table **t, uint32_t n);
/* The MP table and ACPI tables into RAM (if write), then the check that they and CPUID
 * agree with the platform.  0, or -1 with a reason in err. */
int vm_firmware_tables(struct vm *vm, bool write, char *err, size_t errlen);

/* breaks.c: the breaks of cfg armed on the MP interface (after the mode's controllers):
 * 0, -1 (out of memory) or -2 (an event the mode cannot see: said, exit status 2). */
int vm_breaks_create(struct vm *vm);
void vm_breaks_destroy(struct vm *vm);
/* --step: the vCPUs park before their first instruction (before their threads start). */

#endif
