/*
 * restore.c - a VM built back from a snapshot file (snapshot.c writes one).
 *
 * The machine section gives a configuration; the VM is built from it as for a fresh boot
 * (vm_build) with three differences, its hooks: RAM comes from the snapshot (mapped before
 * the accelerator registers it, so KVM sees the file-backed pages), the firmware tables are
 * not written again (they are in that RAM, and the one platform check still reads them), and
 * CPUID must come out equal to the saved one.  Then, before any vCPU thread starts: VM-wide
 * accelerator state (the in-kernel irqchip before the LAPICs that route through it), each
 * vCPU (accel/kvm/kvm_state.c says in which order), the trace (mpvmm's MP state machine
 * records what it loads there), the --irqchip mode's state (mpvmm's PIC, I/O APIC and PIT
 * after the clock the VM-wide state restored: their PIT counts on it), the devices.
 *
 * Knows the VM's parts and the snapshot file's interface, as snapshot.c; what a snapshot
 * cannot give back is refused with one line, and nothing is left half-restored.
 */
#include "vm/vm_parts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "irqchip/irqchip.h"
#include "mp/mp_break.h"
#include "snapshot/snapfile.h"
#include "util/log.h"
#include "vm/accels.h"
#include "vm/snapshot_sections.h"

#define ERRLEN 512

static int bad(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "the snapshot's %s is damaged or from another mpvmm", what);
	return -1;
}

static int load_string(struct snap_dec *d, char *out, size_t cap)
{
	size_t n;
	const void *p = snap_dec_blob(d, &n);

	if (!p || n >= cap)
		return -1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/*
 * The configuration the snapshot's VM was built from; kernel is the storage of cfg->kernel
 * (the others point at static names).
 */
static int restore_config(const struct snap_reader *r, struct vm_config *cfg, char *kernel,
			  size_t kernel_len, uint64_t *elapsed_ns, char *err, size_t errlen)
{
	size_t len;
	const void *p = snap_get(r, SNAP_SEC_MACHINE, MACHINE_CONFIG, &len);
	struct snap_dec d;

	if (!p)
		return bad(err, errlen, "configuration");
	snap_dec_init(&d, p, len);
	uint32_t version = snap_dec_u32(&d);
	if (version != MACHINE_VERSION) {
		snprintf(err, errlen, "the snapshot's machine description is version %u; this "
			 "mpvmm reads version %u", version, MACHINE_VERSION);
		return -1;
	}
	char accel[16];
	config_defaults(cfg);
	if (load_string(&d, accel, sizeof(accel)) < 0)
		return bad(err, errlen, "configuration");
	uint32_t irqchip = snap_dec_u32(&d);
	cfg->topo.cpus = snap_dec_u32(&d);
	cfg->topo.sockets = snap_dec_u32(&d);
	cfg->topo.cores = snap_dec_u32(&d);
	cfg->topo.threads = snap_dec_u32(&d);
	cfg->boot_cpu = snap_dec_u32(&d);
	cfg->mem_size = snap_dec_u64(&d);
	uint32_t flags = snap_dec_u32(&d);
	cfg->ap_timeout_ms = snap_dec_u32(&d);
	uint32_t port = snap_dec_u32(&d);
	if (load_string(&d, cfg->guest, sizeof(cfg->guest)) < 0 ||
	    load_string(&d, kernel, kernel_len) < 0)
		return bad(err, errlen, "configuration");
	cfg->seed = snap_dec_u64(&d);
	*elapsed_ns = snap_dec_u64(&d);
	const struct irqchip_mode *mode = irqchip_mode_by_snapshot_id(irqchip);
	if (!snap_dec_done(&d) || !mode || port > UINT16_MAX ||
	    cfg->topo.cpus == 0 || cfg->topo.cpus > CONFIG_MAX_CPUS ||
	    !topology_consistent(&cfg->topo) ||
	    cfg->boot_cpu >= cfg->topo.cpus || cfg->mem_size < CONFIG_MIN_MEMORY ||
	    cfg->mem_size > CONFIG_MAX_MEMORY)
		return bad(err, errlen, "configuration");
	cfg->irqchip = irqchip ? mode->name : NULL;
	cfg->debug_exit_port = (uint16_t)port;
	cfg->selftest_step = flags & FLAG_STEP;
	cfg->selftest_hold = flags & FLAG_HOLD;
	cfg->selftest_racy = flags & FLAG_RACY;
	cfg->x2apic = flags & FLAG_X2APIC;
	cfg->kernel = flags & FLAG_KERNEL ? kernel : NULL;
	cfg->reboot_restart = flags & FLAG_REBOOT_RESTART;
	cfg->seeded = flags & FLAG_SEEDED;
	cfg->accel = vm_accel_find(accel);
	if (!cfg->accel)
		return bad(err, errlen, "accelerator name");
	return 0;
}

/* Hook: RAM from the snapshot, before the accelerator maps it (so KVM sees those pages). */
static int restore_memory(struct vm *vm, void *ctx, char *err, size_t errlen)
{
	const struct snap_reader *r = ctx;
	struct snap_mem_region regions[GUEST_MEM_MAX_REGIONS];

	return snap_load_memory(r, regions, vm_snap_regions(vm, regions), err, errlen);
}

static void describe_entry(const struct cpuid_entry *c, char *out, size_t len)
{
	snprintf(out, len, "leaf %#x subleaf %u: %08x %08x %08x %08x", c->function, c->index,
		 c->eax, c->ebx, c->ecx, c->edx);
}

/*
 * What this host builds must be what the snapshot's guest saw: a guest that found a feature
 * in CPUID may use it at any moment.  The first difference is named.
 */
static int check_cpuid(struct vm *vm, void *ctx, char *err, size_t errlen)
{
	const struct snap_reader *r = ctx;
	size_t len;
	const void *p = snap_get(r, SNAP_SEC_MACHINE, MACHINE_CPUID, &len);
	struct snap_dec d;
	uint32_t n = vm->plat.topo.cpus;

	if (!p)
		return bad(err, errlen, "CPUID");
	snap_dec_init(&d, p, len);
	if (snap_dec_u32(&d) != n)
		return bad(err, errlen, "CPUID");
	for (uint32_t i = 0; i < n && !d.bad; i++) {
		const struct cpuid_table *t = vm->cpuid[i];
		uint32_t count = snap_dec_u32(&d);
		for (uint32_t j = 0; j < count && !d.bad; j++) {
			struct cpuid_entry s;
			uint32_t *w[] = { &s.function, &s.index, &s.flags, &s.eax, &s.ebx, &s.ecx,
					  &s.edx };
			for (size_t k = 0; k < sizeof(w) / sizeof(w[0]); k++)
				*w[k] = snap_dec_u32(&d);
			const struct cpuid_entry *h = j < t->n ? &t->e[j] : NULL;
			if (d.bad || (h && !memcmp(h, &s, sizeof(s))))
				continue;
			char saved[96], here[96] = "absent";
			describe_entry(&s, saved, sizeof(saved));
			if (h)
				describe_entry(h, here, sizeof(here));
			snprintf(err, errlen, "this host's CPU differs from the snapshot's: vCPU %u "
				 "CPUID %s in the snapshot, %s here", i, saved, here);
			return -1;
		}
		if (!d.bad && count != t->n) {
			snprintf(err, errlen, "this host's CPU differs from the snapshot's: vCPU %u "
				 "has %u CPUID entries in the snapshot, %zu here", i, count, t->n);
			return -1;
		}
	}
	if (!snap_dec_done(&d))
		return bad(err, errlen, "CPUID");
	return 0;
}

static int load_vcpu(struct vm *vm, const struct snap_reader *r, uint32_t i, char *err,
		     size_t errlen)
{
	struct snap_dec d;
	struct vcpu *v = &vm->vcpus[i];
	char why[256] = "";

	if (!snap_section(r, SNAP_SEC_VCPU, i, &d)) {
		snprintf(err, errlen, "the snapshot has no state for vCPU %u", i);
		return -1;
	}
	if (snap_dec_u32(&d) != VCPU_VERSION)
		return bad(err, errlen, "vCPU state");
	for (unsigned k = 0; k < ACCEL_EXIT_SAVED_KINDS; k++)
		atomic_store(&v->exits[k], snap_dec_u64(&d));
	for (unsigned k = 0; k < INSN_KINDS; k++)
		atomic_store(&v->carried[k], snap_dec_u64(&d));
	if (d.bad || vm->accel->cpu->load_vcpu(v->av, &d, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "vCPU %u: %s", i, why[0] ? why : "state is truncated");
		return -1;
	}
	return 0;
}

/* Everything but RAM, into the built VM before any vCPU thread starts. */
static int restore_state(struct vm *vm, const struct snap_reader *r, char *err, size_t errlen)
{
	struct snap_dec d;

	err[0] = '\0';
	if (!vm->accel->cpu->load_vcpu || !vm->accel->vm->load_vm) {
		snprintf(err, errlen, "the %s accelerator cannot restore snapshots",
			 vm->accel->caps.name);
		return -1;
	}
	if (!snap_section(r, SNAP_SEC_VM, 0, &d)) {
		snprintf(err, errlen, "the snapshot has no VM state");
		return -1;
	}
	if (vm->accel->vm->load_vm(vm->accel, &d, err, errlen) < 0)
		return -1;
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		if (load_vcpu(vm, r, i, err, errlen) < 0)
			return -1;
	/* The trace before the MP state machine, which records what it loads in it. */
	if (!snap_section(r, SNAP_SEC_TRACE, 0, &d)) {
		snprintf(err, errlen, "the snapshot has no MP trace");
		return -1;
	}
	if (mp_load(vm->mp, &d, err, errlen) < 0)
		return -1;
	/* The mode's controllers (its MP state, then its PIC, I/O APIC and PIT: the devices'
	 * lines are their inputs), then the devices. */
	if (vm->mode->load(vm->ic, r, err, errlen) < 0)
		return -1;
	return devices_load(vm->devices, r, err, errlen);
}

/*
 * The options of `mpvmm restore` that belong to this process, not to the saved VM; the
 * vCPUs --break-on names are checked against the saved VM's.  0, or -1 with one line.
 */
static int take_local_options(struct vm_config *cfg, const struct vm_config *local, char *err,
			      size_t errlen)
{
	cfg->api_socket = local->api_socket;
	cfg->snapshot_dir = local->snapshot_dir;
	cfg->trace_file = local->trace_file;
	cfg->timeline_file = local->timeline_file;
	cfg->quiet = local->quiet;
	cfg->gdb = local->gdb;
	cfg->paused = local->paused;
	cfg->break_on = local->break_on;
	memset(&cfg->breaks, 0, sizeof(cfg->breaks));
	return cfg->break_on ? mp_break_parse(cfg->break_on, cfg->topo.cpus, &cfg->breaks, err,
					      errlen) : 0;
}

static struct vm *restore_from(const struct snap_reader *r, const struct vm_config *local,
			       int *status)
{
	struct vm_config cfg;
	char kernel[4096], err[ERRLEN];
	uint64_t elapsed;
	const struct vm_build_hooks hooks = { .memory = restore_memory, .cpuid = check_cpuid,
					      .tables_in_ram = true, .ctx = (void *)r };

	*status = VM_STATUS_USAGE;
	if (restore_config(r, &cfg, kernel, sizeof(kernel), &elapsed, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return NULL;
	}
	if (local->accel && strcmp(local->accel, cfg.accel)) {
		log_error("the snapshot was taken with --accel %s; restoring it under another "
			  "accelerator is not supported (the CPU state does not map exactly)",
			  cfg.accel);
		return NULL;
	}
	if (take_local_options(&cfg, local, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return NULL;
	}
	struct vm *vm = vm_alloc(&cfg, status);
	if (!vm)
		return NULL;
	vm->kernel = cfg.kernel ? strdup(kernel) : NULL;
	vm->cfg.kernel = vm->kernel;
	/* The trace goes on from where the snapshot left it. */
	vm->t0_ns = mp_now_ns() - elapsed;
	int built = vm_build(vm, &hooks, status);
	if (built == 0 && restore_state(vm, r, err, sizeof(err)) < 0)
		log_error("cannot restore %s", err);
	else if (built == 0)
		return vm;
	/* A snapshot this host cannot take back (its CPU, its state) is refused input. */
	if (*status == VM_STATUS_VMM_ERROR)
		*status = VM_STATUS_USAGE;
	vm_destroy(vm);
	return NULL;
}

/* A snapshot opened and checked, not yet a VM: its reader, and when it was opened. */
struct vm_restore_file {
	struct snap_reader *r;
	const char *path;
	uint64_t t0;
};

struct vm_restore_file *vm_restore_open(const char *path, const char *memory_path, int *status)
{
	char err[ERRLEN];
	struct vm_restore_file *f = calloc(1, sizeof(*f));

	*status = VM_STATUS_VMM_ERROR;
	if (!f) {
		log_error("out of memory");
		return NULL;
	}
	f->path = path;
	f->t0 = mp_now_ns();
	f->r = snap_reader_open(path, memory_path, err, sizeof(err));
	if (!f->r) {
		log_error("%s", err); /* it names the file */
		*status = VM_STATUS_USAGE;
		free(f);
		return NULL;
	}
	return f;
}

size_t vm_restore_file_fds(const struct vm_restore_file *f, int *fds, size_t max)
{
	return snap_reader_fds(f->r, fds, max);
}

const char *vm_restore_file_accel(const struct vm_restore_file *f)
{
	struct vm_config cfg;
	char kernel[4096], err[ERRLEN];
	uint64_t elapsed;

	if (restore_config(f->r, &cfg, kernel, sizeof(kernel), &elapsed, err, sizeof(err)) < 0)
		return NULL;
	return cfg.accel; /* the accelerator table's own name (vm_accel_find) */
}

struct vm *vm_restore(struct vm_restore_file *f, const struct vm_config *local, int *status)
{
	struct vm *vm = restore_from(f->r, local, status);

	/* The RAM mappings hold their own reference to the file. */
	snap_reader_close(f->r);
	if (vm)
		log_info("restored %s in %.1f ms", f->path, (double)(mp_now_ns() - f->t0) / 1e6);
	free(f);
	return vm;
}
