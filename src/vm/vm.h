/*
 * vm.h - a virtual machine's lifecycle: from a vm_config to running vCPU threads and back.
 *
 * Creates, in order: the accelerator VM (memory, in-kernel irqchip, BSP choice), the
 * platform description and everything derived from it (CPUID per vCPU, MP table, ACPI),
 * the consistency check, devices, the MP-state interface, the vCPUs; then loads the guest,
 * runs it, and stops it on the first request (guest verdict, fault, signal).
 */
#ifndef MPVMM_VM_H
#define MPVMM_VM_H

#include <stdbool.h>
#include <stddef.h>

#include "vm/vm_config.h"

/* Exit statuses of mpvmm beyond the guest's own (see config_usage). */
#define VM_STATUS_USAGE 2
#define VM_STATUS_NO_KVM 3
#define VM_STATUS_VMM_ERROR 5
#define VM_STATUS_INTERRUPTED 130
/* Not an exit status: the guest reset with --on-reboot restart; main() boots a new VM. */
#define VM_STATUS_RESTART (-1)

struct vm;

/* Returns the VM, or NULL with the exit status to use in *status (a reason was logged). */
struct vm *vm_create(const struct vm_config *cfg, int *status);
/* Load the built-in guest cfg->guest (default: the self-test).  Returns 0, or -1 (logged). */
int vm_load_selftest(struct vm *vm);
/* Load cfg->kernel (and cfg->initrd, cfg->cmdline).  Returns 0, or -1 (logged). */
int vm_load_kernel(struct vm *vm);
/* The one a user asked for: --kernel, else the built-in guest.  Returns 0 or -1. */
int vm_load(struct vm *vm);
/*
 * The snapshot at `path` (its RAM in `memory_path`, or the file the snapshot names) opened
 * and checked whole, not yet a VM: `mpvmm restore --jail` opens it before entering its
 * jail.  NULL with the exit status in *status (the reason was logged): VM_STATUS_USAGE for
 * a file that is no usable snapshot.
 */
struct vm_restore_file;
struct vm_restore_file *vm_restore_open(const char *path, const char *memory_path, int *status);
/* Its open descriptors (a jail keeps them): how many, up to max. */
size_t vm_restore_file_fds(const struct vm_restore_file *f, int *fds, size_t max);
/* The name of the accelerator it was taken with, or NULL (vm_restore then says why). */
const char *vm_restore_file_accel(const struct vm_restore_file *f);
/*
 * The VM built back from it: the saved configuration, with the API socket and trace files
 * of `local` (this process's options).  Ready for vm_run.  Closes f.  NULL with the exit
 * status in *status (the reason was logged).
 */
struct vm *vm_restore(struct vm_restore_file *f, const struct vm_config *local, int *status);
/*
 * Save the VM to `path` (and its RAM to `memory_path` if not NULL), atomically: pause, write,
 * resume unless `resume` is false or the VM was paused already.  Any thread but a vCPU's.
 * Returns 0, or -1 with a reason in err (no file is left at `path` then).
 */
int vm_snapshot(struct vm *vm, const char *path, const char *memory_path, bool resume,
		char *err, size_t errlen);
/* Run until the VM stops; returns the exit status. */
int vm_run(struct vm *vm);
/* Ask the VM to stop (any thread, also from a signal-handling thread). */
void vm_stop(struct vm *vm, int status, const char *why);
/*
 * Take every vCPU out of the guest and park it (kick all first, then wait for all), or let
 * them run again.  Parked vCPUs still serve MP-state reads and writes.  Return 0, -1 when
 * the VM is stopping, or (vm_pause) -2 when the vCPUs did not all stop within
 * VM_PAUSE_TIMEOUT_S: then none stays parked.
 */
#define VM_PAUSE_TIMEOUT_S 5
int vm_pause(struct vm *vm);
int vm_resume(struct vm *vm);
bool vm_paused(struct vm *vm);

/*
 * Breaks on MP events (mp/mp_break.h; --break-on, PUT /vm/breakpoints).  When one fires,
 * the VM pauses (as vm_pause leaves it), one line says which on stderr, then each listener
 * is called, on the thread of the vCPU that paused it, with the VM paused: a stopper of its
 * own (a debugger stub) learns there why the VM stopped, and resumes it with vm_resume when
 * it wants.  A listener must not block for long (it holds up the next break) and must not
 * call vm_pause.  Register before vm_run; at most VM_MAX_BREAK_LISTENERS.  0, or -1.
 */
#define VM_MAX_BREAK_LISTENERS 4
struct mp_break_hit;
typedef void (*vm_break_fn)(void *ctx, const struct mp_break_hit *hit);
int vm_on_break(struct vm *vm, vm_break_fn fn, void *ctx);
/* Arm "EVENT[:VCPU][,...]" ("" disarms): 0, or -1 with one line in err (as --break-on). */
int vm_set_breaks(struct vm *vm, const char *spec, char *err, size_t errlen);
/* What is armed, as text, and the last break if there was one (returns whether). */
bool vm_breaks(struct vm *vm, char *spec, size_t len, struct mp_break_hit *last);

/* The control API's operations on this VM (api_ops.c), for api_start: *ops must outlive it. */
struct api_ops;
void vm_api_ops(struct vm *vm, struct api_ops *ops);
/* The gdb stub's operations on this VM (gdb_ops.c) over the API's `api`: both must outlive
 * the stub. */
struct gdb_target;
int vm_gdb_target(struct vm *vm, struct gdb_target *t, const struct api_ops *api);
/* Write cfg->trace_file / cfg->timeline_file (if set), atomically.  Returns 0 or -1. */
int vm_write_trace_files(struct vm *vm);

/* Print the per-vCPU MP-state table (after vm_run). */
void vm_report(struct vm *vm);
void vm_destroy(struct vm *vm);

#endif
