/*
 * vm_internal.h - the VM's parts, shared only by the files that wire them together
 * (vm.c: lifecycle; vm_api.c: the control API's operations).  Nothing else includes this:
 * devices, vCPUs and the MP layer see only their own small interfaces.
 */
#ifndef MPVMM_VM_INTERNAL_H
#define MPVMM_VM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "accel/accel.h"
#include "api/api.h"
#include "cli/config.h"
#include "dev/bus.h"
#include "dev/console.h"
#include "dev/serial.h"
#include "irqchip/irqchip.h"
#include "mp/mp.h"
#include "snapshot/snapfile.h"
#include "vcpu/vcpu.h"
#include "vm/devices.h"
#include "x86/cpuid.h"
#include "x86/guest_mem.h"
#include "x86/platform.h"

struct vm {
	struct vm_config cfg;
	struct accel *accel;
	const struct irqchip_mode *mode; /* --irqchip: where the interrupt controllers are */
	struct irqchip *ic;              /* the mode's controllers, the MP interface, IRQ lines */
	struct guest_mem mem;
	struct platform plat;
	struct cpuid_table **cpuid; /* per vCPU */
	struct bus *pio, *mmio;
	struct devices *devices;   /* the device table's (vm/devices.c)          */
	struct serial *serial;     /* COM1, one of them: the console's            */
	struct console *console;   /* only when the guest reads its console */
	struct api *api;
	struct api_ops api_ops;
	struct mp *mp;                   /* ic->mp */
	struct vcpu *vcpus;
	uint32_t nvcpus; /* created so far */
	struct vcpu_env env;
	uint64_t t0_ns;
	const struct snap_reader *restoring; /* while a restore builds the VM */
	char *restored_kernel;               /* cfg.kernel's storage after a restore */

	_Atomic bool stopping;
	struct vcpu_gate gate;
	pthread_mutex_t stop_lock;
	pthread_cond_t stop_cond;
	bool stopped;       /* a vm_stop came: the first one's status and reason stand */
	bool vcpus_told;    /* that vm_stop has kicked every vCPU: their threads may be joined */
	int status;
	char why[256];

	pthread_mutex_t warn_lock; /* guest-mistake warnings: a window and its counts */
	uint64_t warn_since;
	unsigned warn_shown, warn_dropped, warn_repeats;
	char warn_last[256];
};

/* The control API's operations on this VM (vm_api.c). */
void vm_api_ops(struct vm *vm, struct api_ops *ops);

/* Every vCPU's CPUID as this VM builds it (vm.c); NULL with a reason in err. */
struct cpuid_table **vm_cpuid_tables(struct vm *vm, char *err, size_t errlen);
void vm_cpuid_tables_free(struct cpuid_table **t, uint32_t n);

/*
 * Snapshots (vm_snapshot.c).  A restore: vm_restore_config gives the configuration (accel and
 * kernel are its string storage), vm.c builds the VM calling vm_restore_memory (after RAM is
 * allocated, before the accelerator maps it) and vm_restore_check_cpuid (CPUID built, before
 * the vCPUs get it), then vm_restore_state puts everything else back before any vCPU runs.
 */
int vm_restore_config(const struct snap_reader *r, struct vm_config *cfg, char *accel,
		      size_t accel_len, char *kernel, size_t kernel_len, uint64_t *elapsed_ns,
		      char *err, size_t errlen);
int vm_restore_memory(struct vm *vm, const struct snap_reader *r, char *err, size_t errlen);
int vm_restore_check_cpuid(struct vm *vm, const struct snap_reader *r, char *err,
			   size_t errlen);
int vm_restore_state(struct vm *vm, const struct snap_reader *r, char *err, size_t errlen);

#endif
