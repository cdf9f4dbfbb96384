/*
 * snapshot.c - a running VM saved to a snapshot file (restore.c builds one back).
 *
 * Knows the VM's parts (vm_parts.h) and the snapshot file's interface (snapfile.h), not the
 * bytes of the file (snapfile.c) nor any accelerator's encoding of its state (the
 * accelerator's save operations), nor a device's or the --irqchip mode's (their own).
 *
 * Save, the VM paused (every vCPU parked at the gate, or inside an exit for a step hold):
 *   1. machine: the configuration the VM was built from and the accelerator; then the CPUID
 *      of every vCPU, so that a restore on a host whose KVM offers another CPU is refused;
 *   2. each vCPU, on its own thread: its counters and its accelerator state (KVM reads the MP
 *      state first, see accel/kvm/kvm_state.c);
 *   3. VM-wide accelerator state (in-kernel PIC, IOAPIC, PIT, clock), after the vCPUs: no
 *      vCPU runs between the two, and the vCPUs' reads complete their last exits first;
 *   4. the --irqchip mode's state (mpvmm's MP state machine, APICs, PIC, I/O APIC and PIT,
 *      where it keeps them), the devices of the table, the MP trace, and last guest RAM
 *      (nothing that runs while paused writes it).
 */
#include "vm/vm_parts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irqchip/irqchip.h"
#include "snapshot/snapfile.h"
#include "util/log.h"
#include "vm/snapshot_sections.h"

/* vCPUs saving at once: enough for the host's cores, few mailboxes held at a time. */
#define SAVE_BATCH 16u

/* ---- saving ------------------------------------------------------------------------------ */

static void save_config(const struct vm *vm, struct snap_enc *e)
{
	const struct vm_config *c = &vm->cfg;
	uint32_t flags = (c->selftest_step ? FLAG_STEP : 0) | (c->selftest_hold ? FLAG_HOLD : 0) |
			 (c->selftest_racy ? FLAG_RACY : 0) | (c->x2apic ? FLAG_X2APIC : 0) |
			 (c->kernel ? FLAG_KERNEL : 0) |
			 (c->reboot_restart ? FLAG_REBOOT_RESTART : 0) |
			 (c->seeded ? FLAG_SEEDED : 0);
	const char *accel = vm->accel->caps.name;
	/* The --irqchip asked for: 0 for none (the accelerator's default) or kernel, as the
	 * first format wrote it; a restore chooses the mode the same way again. */
	const struct irqchip_mode *asked = irqchip_mode_find(c->irqchip);

	snap_enc_u32(e, MACHINE_VERSION);
	snap_enc_blob(e, accel, strlen(accel));
	snap_enc_u32(e, asked ? asked->snapshot_id : 0);
	snap_enc_u32(e, c->topo.cpus);
	snap_enc_u32(e, c->topo.sockets);
	snap_enc_u32(e, c->topo.cores);
	snap_enc_u32(e, c->topo.threads);
	snap_enc_u32(e, c->boot_cpu);
	snap_enc_u64(e, c->mem_size);
	snap_enc_u32(e, flags);
	snap_enc_u32(e, c->ap_timeout_ms);
	snap_enc_u32(e, c->debug_exit_port);
	snap_enc_blob(e, c->guest, strnlen(c->guest, sizeof(c->guest)));
	snap_enc_blob(e, c->kernel ? c->kernel : "", c->kernel ? strlen(c->kernel) : 0);
	snap_enc_u64(e, c->seed);
	snap_enc_u64(e, mp_trace_now(vm->mp));
}

static void save_cpuid_tables(struct cpuid_table *const *t, uint32_t n, struct snap_enc *e)
{
	snap_enc_u32(e, n);
	for (uint32_t i = 0; i < n; i++) {
		snap_enc_u32(e, (uint32_t)t[i]->n);
		for (size_t j = 0; j < t[i]->n; j++) {
			const struct cpuid_entry *c = &t[i]->e[j];
			const uint32_t w[] = { c->function, c->index, c->flags, c->eax, c->ebx,
					       c->ecx, c->edx };
			for (size_t k = 0; k < sizeof(w) / sizeof(w[0]); k++)
				snap_enc_u32(e, w[k]);
		}
	}
}

static int save_machine(struct vm *vm, struct snap_writer *w, char *err, size_t errlen)
{
	struct snap_enc e = { 0 };
	uint32_t n = vm->plat.topo.cpus;

	save_config(vm, &e);
	if (snap_put_enc(w, SNAP_SEC_MACHINE, MACHINE_CONFIG, &e, "configuration", err, errlen) < 0)
		return -1;
	struct cpuid_table **t = vm_cpuid_tables(vm, false, err, errlen);
	if (!t)
		return -1;
	save_cpuid_tables(t, n, &e);
	vm_cpuid_tables_free(t, n);
	return snap_put_enc(w, SNAP_SEC_MACHINE, MACHINE_CPUID, &e, "CPUID", err, errlen);
}

struct vcpu_job {
	struct vcpu *v;
	struct snap_enc e;
	int r;
	char err[256];
};

/* On the vCPU's thread (vcpu_call): KVM wants vCPU ioctls from there. */
static void save_vcpu_on_thread(void *arg)
{
	struct vcpu_job *j = arg;
	struct vcpu *v = j->v;

	snap_enc_u32(&j->e, VCPU_VERSION);
	for (unsigned k = 0; k < ACCEL_EXIT_SAVED_KINDS; k++)
		snap_enc_u64(&j->e, atomic_load(&v->exits[k]));
	for (unsigned k = 0; k < INSN_KINDS; k++)
		snap_enc_u64(&j->e, atomic_load(&v->carried[k]));
	j->r = v->env->cpu->save_vcpu(v->av, &j->e, j->err, sizeof(j->err));
}

/* Every vCPU saves itself on its own thread, all at once; then the results go out in order. */
static int save_vcpus(struct vm *vm, struct snap_writer *w, char *err, size_t errlen)
{
	uint32_t n = vm->nvcpus;
	struct vcpu_job *jobs = calloc(n, sizeof(*jobs));
	bool *posted = calloc(n, sizeof(*posted));
	int r = jobs && posted ? 0 : -1;

	if (r < 0)
		snprintf(err, errlen, "out of memory");
	/* In batches: a posted request holds its vCPU's mailbox until it is waited for. */
	for (uint32_t first = 0; r == 0 && first < n; first += SAVE_BATCH) {
		uint32_t end = first + SAVE_BATCH < n ? first + SAVE_BATCH : n;
		for (uint32_t i = first; i < end; i++) {
			jobs[i] = (struct vcpu_job){ .v = &vm->vcpus[i], .r = -1 };
			snprintf(jobs[i].err, sizeof(jobs[i].err), "its thread has ended");
			posted[i] = vcpu_post(&vm->vcpus[i], save_vcpu_on_thread, &jobs[i]) == 0;
		}
		for (uint32_t i = first; i < end; i++)
			if (posted[i])
				vcpu_wait(&vm->vcpus[i]);
	}
	for (uint32_t i = 0; r == 0 && i < n; i++) {
		char what[32];
		snprintf(what, sizeof(what), "state of vCPU %u", i);
		if (jobs[i].r < 0) {
			snprintf(err, errlen, "vCPU %u: %s", i, jobs[i].err);
			r = -1;
		} else if (snap_put_enc(w, SNAP_SEC_VCPU, i, &jobs[i].e, what, err, errlen) < 0) {
			r = -1;
		}
	}
	for (uint32_t i = 0; jobs && i < n; i++)
		snap_enc_free(&jobs[i].e);
	free(jobs);
	free(posted);
	return r;
}

static int save_vm_state(struct vm *vm, struct snap_writer *w, char *err, size_t errlen)
{
	struct snap_enc e = { 0 };

	if (vm->accel->vm->save_vm(vm->accel, &e, err, errlen) < 0) {
		snap_enc_free(&e);
		return -1;
	}
	return snap_put_enc(w, SNAP_SEC_VM, 0, &e, "VM state", err, errlen);
}

unsigned vm_snap_regions(const struct vm *vm, struct snap_mem_region *out)
{
	for (unsigned i = 0; i < vm->mem.nregions; i++)
		out[i] = (struct snap_mem_region){ .gpa = vm->mem.regions[i].gpa,
						   .size = vm->mem.regions[i].size,
						   .hva = vm->mem.regions[i].hva };
	return vm->mem.nregions;
}

static int save_rest(struct vm *vm, struct snap_writer *w, char *err, size_t errlen)
{
	struct snap_enc e = { 0 };
	struct snap_mem_region regions[GUEST_MEM_MAX_REGIONS];

	if (vm->mode->save(vm->ic, w, err, errlen) < 0 || devices_save(vm->devices, w, err, errlen) < 0)
		return -1;
	if (mp_save(vm->mp, &e) < 0) {
		snap_enc_free(&e);
		snprintf(err, errlen, "cannot save the MP trace (out of memory)");
		return -1;
	}
	if (snap_put_enc(w, SNAP_SEC_TRACE, 0, &e, "MP trace", err, errlen) < 0)
		return -1;
	if (snap_put_memory(w, regions, vm_snap_regions(vm, regions)) < 0) {
		snprintf(err, errlen, "cannot write guest memory: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int write_snapshot(struct vm *vm, const char *path, const char *memory_path, char *err,
			  size_t errlen)
{
	struct snap_writer *w = snap_writer_open(path, memory_path, err, errlen);

	if (!w)
		return -1;
	if (save_machine(vm, w, err, errlen) < 0 || save_vcpus(vm, w, err, errlen) < 0 ||
	    save_vm_state(vm, w, err, errlen) < 0 || save_rest(vm, w, err, errlen) < 0) {
		snap_writer_abort(w);
		return -1;
	}
	if (snap_writer_commit(w, err, errlen) < 0)
		return -1;
	if (err[0]) /* saved and restorable, with a memory file still at its staged name */
		log_warn("snapshot: %s", err);
	return 0;
}

int vm_snapshot(struct vm *vm, const char *path, const char *memory_path, bool resume,
		char *err, size_t errlen)
{
	err[0] = '\0';
	if (vcpu_current()) {
		snprintf(err, errlen, "a snapshot cannot be taken from a vCPU's own thread");
		return -1;
	}
	const struct accel *a = vm->accel;
	if (!a->cpu->save_vcpu || !a->vm->save_vm) {
		snprintf(err, errlen, "the %s accelerator cannot save snapshots", a->caps.name);
		return -1;
	}
	bool was_paused = vm_paused(vm);
	int paused = was_paused ? 0 : vm_pause(vm);
	if (paused < 0) {
		snprintf(err, errlen, paused == -1 ? "the VM is stopping" :
			 "the vCPUs did not all stop within %d s", VM_PAUSE_TIMEOUT_S);
		return -1;
	}
	uint64_t t0 = mp_now_ns();
	int r = write_snapshot(vm, path, memory_path, err, errlen);
	if (r == 0)
		log_info("snapshot written to %s in %.1f ms%s", path,
			 (double)(mp_now_ns() - t0) / 1e6, resume && !was_paused ? "" :
			 " (the VM stays paused)");
	if (!was_paused && resume)
		vm_resume(vm);
	return r;
}

