/*
 * vm.c - see vm.h.  The only place that knows how the parts are wired together; each part
 * knows only the small interface it is given.
 */
#include "vm/vm.h"
#include "vm/vm_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accel/accel.h"
#include "dev/bus.h"
#include "dev/serial.h"
#include "irqchip/irqchip.h"
#include "mp/mp.h"
#include "mp/trace_export.h"
#include "util/log.h"
#include "vcpu/vcpu.h"
#include "vm/accels.h"
#include "vm/devices.h"
#include "vm/report.h"
#include "x86/acpi.h"
#include "x86/guest_mem.h"
#include "x86/cpuid.h"
#include "x86/mptable.h"
#include "x86/platform.h"
#include "x86/platform_check.h"


#define ERRLEN 512
/* Guest mistakes: a repeated line is counted, not printed; at most this many lines a second. */
#define WARN_BURST 50u
#define WARN_WINDOW_NS 1000000000ull

static void vm_stop_cb(void *vm, int status, const char *why)
{
	vm_stop(vm, status, why);
}

/*
 * Pause the VM from inside vCPU `cpu`'s exit (the self-test's step mode with --api): the
 * other vCPUs park as for a pause, this one parks where it is, and all wait for a resume.
 * Without the API nobody could resume, so it is a no-op then.
 */
static void vm_hold_cb(void *opaque, uint32_t cpu, const char *why)
{
	struct vm *vm = opaque;

	/* Step mode: the step is printed, a start held back may be taken now. */
	irqchip_stepped(vm->ic);
	if (!vm->api || cpu >= vm->nvcpus)
		return;
	if (vm_pause(vm) < 0)
		return;
	log_info("paused at %s: resume with POST /vm/resume", why);
	vcpu_park_here(&vm->vcpus[cpu]);
}

/* A guest reset ends this VM; with --on-reboot restart, main() builds a fresh one. */
static void vm_reset_cb(void *opaque, const char *why)
{
	struct vm *vm = opaque;
	char msg[300];

	snprintf(msg, sizeof(msg), "guest reset: %s", why);
	vm_stop(vm, vm->cfg.reboot_restart ? VM_STATUS_RESTART : 0, msg);
}

/*
 * The first call stops the VM: every vCPU is told, then the main thread, which joins their
 * threads.  Not before: a vCPU that sees `stopping` exits at once, and a kick sent to a
 * thread already joined would be sent to a thread that no longer exists.
 */
void vm_stop(struct vm *vm, int status, const char *why)
{
	pthread_mutex_lock(&vm->stop_lock);
	bool first = !vm->stopped;
	if (first) {
		vm->stopped = true;
		vm->status = status;
		snprintf(vm->why, sizeof(vm->why), "%s", why);
		atomic_store(&vm->stopping, true);
	}
	pthread_mutex_unlock(&vm->stop_lock);
	if (!first)
		return;
	if (vm->ic)
		irqchip_stop(vm->ic);
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	vcpu_gate_poke(&vm->gate);
	pthread_mutex_lock(&vm->stop_lock);
	vm->vcpus_told = true;
	pthread_cond_broadcast(&vm->stop_cond);
	pthread_mutex_unlock(&vm->stop_lock);
}

static uint32_t running_vcpus(struct vm *vm)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < vm->nvcpus; i++)
		n += atomic_load(&vm->vcpus[i].running);
	return n;
}

int vm_pause(struct vm *vm)
{
	struct vcpu_gate *g = &vm->gate;

	pthread_mutex_lock(&g->lock);
	g->closed = true;
	/* Called from a vCPU's own exit (vm_hold_cb), that vCPU cannot park before we return. */
	g->want = running_vcpus(vm) - (vcpu_current() ? 1 : 0);
	pthread_mutex_unlock(&g->lock);
	/* Kick everyone first, then wait for everyone: the waits overlap. */
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	pthread_mutex_lock(&g->lock);
	/* A resume that comes first (g->closed cleared) ends the wait too. */
	while (g->closed && g->parked < g->want && !atomic_load(&vm->stopping))
		pthread_cond_wait(&g->all_parked, &g->lock);
	pthread_mutex_unlock(&g->lock);
	return atomic_load(&vm->stopping) ? -1 : 0;
}

int vm_resume(struct vm *vm)
{
	struct vcpu_gate *g = &vm->gate;
	/* Read before opening: once open, the guest may finish and stop the VM at once. */
	bool stopping = atomic_load(&vm->stopping);

	pthread_mutex_lock(&g->lock);
	g->closed = false;
	pthread_cond_broadcast(&g->cond);
	pthread_cond_broadcast(&g->all_parked); /* a pause still waiting gives up */
	pthread_mutex_unlock(&g->lock);
	return stopping ? -1 : 0;
}

bool vm_paused(struct vm *vm)
{
	pthread_mutex_lock(&vm->gate.lock);
	bool closed = vm->gate.closed;
	pthread_mutex_unlock(&vm->gate.lock);
	return closed;
}

static int exec_on_vcpu(void *ctx, uint32_t cpu, void (*fn)(void *), void *arg)
{
	struct vm *vm = ctx;

	if (cpu >= vm->nvcpus) {
		errno = EINVAL;
		return -1;
	}
	return vcpu_call(&vm->vcpus[cpu], fn, arg);
}

/* What the accelerator allows, then what the --irqchip mode can give on it. */
static int check_limits(struct vm *vm)
{
	uint32_t max_vcpus, max_id;
	const struct topology *t = &vm->cfg.topo;
	const struct irqchip_need need = { .cpus = t->cpus, .top_apic_id = topology_max_apic_id(t),
					   .x2apic = vm->cfg.x2apic };
	char err[ERRLEN];

	vm->accel->vm->limits(vm->accel, &max_vcpus, &max_id);
	if (t->cpus > max_vcpus) {
		log_error("--cpus %u: %s allows at most %u vCPUs (KVM_CAP_MAX_VCPUS)", t->cpus,
			  vm->accel->caps.what, max_vcpus);
		return -1;
	}
	if (need.top_apic_id >= max_id) {
		log_error("--cpus %u: the topology needs APIC ID %u but %s allows vCPU ids below "
			  "%u only (KVM_CAP_MAX_VCPU_ID)", t->cpus, need.top_apic_id,
			  vm->accel->caps.what, max_id);
		return -1;
	}
	if (vm->mode->check && vm->mode->check(&vm->accel->caps, &need, err, sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

/*
 * On a KVM that emulates guest code, Linux's workaround for AMD's FXSAVE leak (fnclex, emms,
 * fild at the first return to user space) hits an instruction nothing can carry there; the
 * vendor string is one of the few CPUID fields such a host lets the VMM set (leaf 0 follows
 * the table, see docs/HOST-NOTES.md).  Never done on hardware KVM.
 */
static void offer_intel_vendor(struct cpuid_table *t, bool say)
{
	for (size_t i = 0; i < t->n; i++) {
		if (t->e[i].function != 0)
			continue;
		t->e[i].ebx = 0x756e6547; /* "Genu" */
		t->e[i].edx = 0x49656e69; /* "ineI" */
		t->e[i].ecx = 0x6c65746e; /* "ntel" */
		if (say)
			log_info("this KVM emulates guest code: offering vendor GenuineIntel in CPUID "
				 "leaf 0 (the AMD FXSAVE-leak workaround cannot run here)");
	}
}

void vm_cpuid_tables_free(struct cpuid_table **t, uint32_t n)
{
	for (uint32_t i = 0; t && i < n; i++)
		free(t[i]);
	free(t);
}

struct cpuid_table **vm_cpuid_tables(struct vm *vm, char *err, size_t errlen)
{
	struct cpuid_table *supported = vm->accel->vm->supported_cpuid(vm->accel, err, errlen);
	uint32_t n = vm->plat.topo.cpus;
	struct cpuid_table **t = supported ? calloc(n, sizeof(*t)) : NULL;

	if (supported && !t)
		snprintf(err, errlen, "out of memory");
	for (uint32_t i = 0; t && i < n; i++) {
		size_t cap = supported->n + CPUID_EXTRA_ENTRIES;
		t[i] = calloc(1, sizeof(struct cpuid_table) + cap * sizeof(struct cpuid_entry));
		if (!t[i] || cpuid_for_vcpu(&vm->plat, i, supported, t[i]) < 0) {
			snprintf(err, errlen, "cannot build CPUID for vCPU %u", i);
			vm_cpuid_tables_free(t, n);
			t = NULL;
			break;
		}
		if (vm->accel->caps.emulates && vm->cfg.kernel)
			offer_intel_vendor(t[i], i == 0 && !vm->restoring);
		if (vm->mode->fit_cpuid)
			vm->mode->fit_cpuid(&vm->accel->caps, &vm->plat.cpus[i], t[i]);
	}
	free(supported);
	return t;
}

static int build_cpuid(struct vm *vm, char *err)
{
	vm->cpuid = vm_cpuid_tables(vm, err, ERRLEN);
	if (!vm->cpuid)
		return -1;
	if (vm->restoring && vm_restore_check_cpuid(vm, vm->restoring, err, ERRLEN) < 0)
		return -1;
	return 0;
}

static int build_firmware(struct vm *vm, char *err)
{
	uint8_t *low = vm->mem.host;
	size_t low_size = guest_mem_low_size(&vm->mem);

	/* A restored guest's RAM holds the tables it booted with (and maybe changed since). */
	if (!vm->restoring &&
	    (mptable_build(&vm->plat, low, low_size, MPTABLE_ADDR, MPTABLE_MAX, err, ERRLEN) < 0 ||
	     acpi_build(&vm->plat, low, low_size, ACPI_ADDR, ACPI_MAX, err, ERRLEN) < 0))
		return -1;
	/* The one check that every description of the processors agrees, before any runs. */
	if (platform_check(&vm->plat, low, low_size, (const struct cpuid_table *const *)vm->cpuid,
			   err, ERRLEN) < 0) {
		char why[ERRLEN - 64];
		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, ERRLEN, "refusing to start: firmware tables and CPUID disagree: %s",
			 why);
		return -1;
	}
	return 0;
}

/* Say how many warnings were held back: repeats of the last line, lines over the burst. */
static void warn_flush_locked(struct vm *vm)
{
	if (vm->warn_repeats)
		log_warn("the warning above came %u more times", vm->warn_repeats);
	if (vm->warn_dropped)
		log_warn("%u more warnings about the guest in the last second were not shown",
			 vm->warn_dropped);
	vm->warn_repeats = vm->warn_dropped = 0;
}

/*
 * A guest mistake (the models' warn callbacks, under their locks): one line each, but the
 * same line again is only counted (a SIPI storm), and a guest making many different ones
 * gets WARN_BURST lines a second and a count.
 */
static void user_warn(void *ctx, const char *msg)
{
	struct vm *vm = ctx;
	uint64_t now = mp_now_ns();

	pthread_mutex_lock(&vm->warn_lock);
	if (!strcmp(msg, vm->warn_last)) {
		vm->warn_repeats++;
		pthread_mutex_unlock(&vm->warn_lock);
		return;
	}
	if (now - vm->warn_since >= WARN_WINDOW_NS) {
		warn_flush_locked(vm);
		vm->warn_since = now;
		vm->warn_shown = 0;
	} else if (vm->warn_repeats) {
		log_warn("the warning above came %u more times", vm->warn_repeats);
		vm->warn_repeats = 0;
	}
	snprintf(vm->warn_last, sizeof(vm->warn_last), "%s", msg);
	if (vm->warn_shown < WARN_BURST) {
		vm->warn_shown++;
		log_warn("%s", msg);
	} else {
		vm->warn_dropped++;
	}
	pthread_mutex_unlock(&vm->warn_lock);
}

/* The device table's devices, on the buses, their lines the --irqchip mode's. */
static int create_devices(struct vm *vm)
{
	struct vm_control ctl = { .stop = vm_stop_cb, .reset = vm_reset_cb, .hold = vm_hold_cb,
				  .vm = vm };
	const struct device_env env = {
		.pio = vm->pio, .mmio = vm->mmio, .irq = &vm->ic->line, .ctl = &ctl, .mp = vm->mp,
		.console_fd = STDOUT_FILENO, .ram_size = vm->cfg.mem_size,
		.ncpus = (uint16_t)vm->plat.topo.cpus, .debug_exit_port = vm->cfg.debug_exit_port,
		.step = vm->cfg.selftest_step, .hold = vm->cfg.selftest_hold,
	};

	vm->devices = devices_create(&env);
	if (!vm->devices)
		return -1;
	vm->serial = devices_get(vm->devices, &serial_device);
	vm->env = (struct vcpu_env){
		.cpu = vm->accel->cpu, .irqchip = vm->ic, .pio = vm->pio, .mmio = vm->mmio,
		.mp = vm->mp, .mem = &vm->mem, .ctl = ctl, .stopping = &vm->stopping,
		.gate = &vm->gate,
	};
	return 0;
}

static void mode_stop_cb(void *opaque, int status, const char *why)
{
	vm_stop(opaque, status, why);
}

/* The --irqchip mode's controllers and the MP interface, on the buses; then its timers. */
static int create_irqchip(struct vm *vm, char *err)
{
	struct accel_machine m;

	vm->pio = bus_create("I/O port");
	vm->mmio = bus_create("MMIO");
	if (!vm->pio || !vm->mmio) {
		snprintf(err, ERRLEN, "out of memory");
		return -1;
	}
	const struct irqchip_env env = {
		.accel = vm->accel, .plat = &vm->plat, .boot_cpu = vm->cfg.boot_cpu,
		.pio = vm->pio, .mmio = vm->mmio, .t0_ns = vm->t0_ns, .seeded = vm->cfg.seeded,
		.step = vm->cfg.selftest_step, .exec = exec_on_vcpu, .exec_ctx = vm,
		.ctl = { .stop = mode_stop_cb, .vm = vm }, .warn = user_warn, .warn_ctx = vm,
	};
	vm->ic = vm->mode->create(&env, err, ERRLEN);
	if (!vm->ic)
		return -1;
	vm->mp = vm->ic->mp;
	if (vm->mode->machine && vm->mode->machine(vm->ic, &m))
		vm->accel->vm->set_machine(vm->accel, &m);
	return 0;
}

static int create_vcpus(struct vm *vm, char *err)
{
	uint32_t n = vm->plat.topo.cpus;

	vm->vcpus = calloc(n, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		snprintf(err, ERRLEN, "out of memory");
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct cpu_desc *d = &vm->plat.cpus[i];
		struct accel_vcpu *av;
		if (vm->accel->vm->create_vcpu(vm->accel, d->apic_id, &av, err, ERRLEN) < 0)
			return -1;
		if (vcpu_init(&vm->vcpus[i], i, d->apic_id, d->bsp, av, &vm->env) < 0) {
			vm->accel->cpu->destroy_vcpu(av);
			snprintf(err, ERRLEN, "cannot initialise vCPU %u", i);
			return -1;
		}
		vm->nvcpus = i + 1;
		if (vm->mode->attach)
			vm->mode->attach(vm->ic, i, av);
		if (vm->accel->cpu->set_cpuid(av, vm->cpuid[i]) < 0) {
			snprintf(err, ERRLEN, "cannot set vCPU %u's CPUID", i);
			return -1;
		}
		/* The accelerator keeps its own copy; ours was needed for the check only. */
		free(vm->cpuid[i]);
		vm->cpuid[i] = NULL;
	}
	return 0;
}

/* The accelerator and the --irqchip mode on it; what they cannot give is refused (status 2). */
static int choose_parts(struct vm *vm, int *status)
{
	char err[ERRLEN];

	vm->accel = vm_accel_open(&vm->cfg, status);
	if (!vm->accel)
		return -1;
	*status = VM_STATUS_USAGE;
	vm->mode = irqchip_mode_choose(vm->cfg.irqchip, &vm->accel->caps, err, sizeof(err));
	if (!vm->mode) {
		log_error("%s", err);
		return -1;
	}
	if (check_limits(vm) < 0)
		return -1;
	if (platform_init(&vm->plat, &vm->cfg.topo, vm->cfg.boot_cpu, vm->cfg.x2apic, err,
			  sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	/* The firmware tables name the I/O APIC's version: the mode's controllers' own. */
	if (vm->mode->fit_platform)
		vm->mode->fit_platform(&vm->plat);
	*status = VM_STATUS_VMM_ERROR;
	return 0;
}

static int vm_build(struct vm *vm, int *status)
{
	char err[ERRLEN] = "";

	*status = VM_STATUS_VMM_ERROR;
	if (choose_parts(vm, status) < 0)
		return -1;
	struct accel_vm_params params = {
		.mem = &vm->mem,
		.boot_vcpu_id = vm->plat.cpus[vm->cfg.boot_cpu].apic_id,
		.x2apic = vm->plat.x2apic,
	};
	irqchip_vm_params(vm->mode, &vm->accel->caps, &params);
	if (guest_mem_init(&vm->mem, vm->cfg.mem_size, err, sizeof(err)) < 0 ||
	    (vm->restoring && vm_restore_memory(vm, vm->restoring, err, sizeof(err)) < 0) ||
	    vm->accel->vm->create_vm(vm->accel, &params, err, sizeof(err)) < 0 ||
	    build_cpuid(vm, err) < 0 || build_firmware(vm, err) < 0 ||
	    create_irqchip(vm, err) < 0) {
		log_error("%s", err);
		return -1;
	}
	if (create_devices(vm) < 0)
		return -1;
	if (create_vcpus(vm, err) < 0) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

static struct vm *vm_alloc(const struct vm_config *cfg, int *status)
{
	struct vm *vm = calloc(1, sizeof(*vm));

	if (!vm) {
		log_error("out of memory");
		*status = VM_STATUS_VMM_ERROR;
		return NULL;
	}
	vm->cfg = *cfg;
	vm->t0_ns = mp_now_ns();
	atomic_init(&vm->stopping, false);
	vcpu_gate_init(&vm->gate);
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_cond_init(&vm->stop_cond, NULL);
	pthread_mutex_init(&vm->warn_lock, NULL);
	return vm;
}

struct vm *vm_create(const struct vm_config *cfg, int *status)
{
	struct vm *vm = vm_alloc(cfg, status);

	if (vm && vm_build(vm, status) < 0) {
		vm_destroy(vm);
		return NULL;
	}
	return vm;
}

/* The options of `mpvmm restore` that belong to this process, not to the saved VM. */
static void take_local_options(struct vm_config *cfg, const struct vm_config *local)
{
	cfg->api_socket = local->api_socket;
	cfg->trace_file = local->trace_file;
	cfg->timeline_file = local->timeline_file;
	cfg->quiet = local->quiet;
}

static struct vm *restore_from(const struct snap_reader *r, const struct vm_config *local,
			       int *status)
{
	struct vm_config cfg;
	char accel[16], kernel[4096], err[ERRLEN];
	uint64_t elapsed;

	*status = VM_STATUS_USAGE;
	if (vm_restore_config(r, &cfg, accel, sizeof(accel), kernel, sizeof(kernel), &elapsed,
			      err, sizeof(err)) < 0) {
		log_error("%s", err);
		return NULL;
	}
	if (local->accel && strcmp(local->accel, cfg.accel)) {
		log_error("the snapshot was taken with --accel %s; restoring it under another "
			  "accelerator is not supported (the CPU state does not map exactly)",
			  accel);
		return NULL;
	}
	take_local_options(&cfg, local);
	struct vm *vm = vm_alloc(&cfg, status);
	if (!vm)
		return NULL;
	vm->restored_kernel = cfg.kernel ? strdup(kernel) : NULL;
	vm->cfg.kernel = vm->restored_kernel;
	/* The trace goes on from where the snapshot left it. */
	vm->t0_ns = mp_now_ns() - elapsed;
	vm->restoring = r;
	int built = vm_build(vm, status);
	if (built == 0 && vm_restore_state(vm, r, err, sizeof(err)) < 0)
		log_error("cannot restore %s", err);
	else if (built == 0) {
		vm->restoring = NULL;
		return vm;
	}
	/* A snapshot this host cannot take back (its CPU, its state) is refused input. */
	if (*status == VM_STATUS_VMM_ERROR)
		*status = VM_STATUS_USAGE;
	vm_destroy(vm);
	return NULL;
}

struct vm *vm_restore(const char *path, const char *memory_path, const struct vm_config *local,
		      int *status)
{
	char err[ERRLEN];
	uint64_t t0 = mp_now_ns();
	struct snap_reader *r = snap_reader_open(path, memory_path, err, sizeof(err));

	if (!r) {
		log_error("%s", err); /* it names the file */
		*status = VM_STATUS_USAGE;
		return NULL;
	}
	struct vm *vm = restore_from(r, local, status);
	/* The RAM mappings hold their own reference to the file. */
	snap_reader_close(r);
	if (vm)
		log_info("restored %s in %.1f ms", path, (double)(mp_now_ns() - t0) / 1e6);
	return vm;
}


int vm_run(struct vm *vm)
{
	log_info("%u vCPUs (BSP: vCPU %u, APIC ID %u), %llu MiB, %s APIC mode, accelerator %s",
		 vm->plat.topo.cpus, vm->cfg.boot_cpu, vm->plat.cpus[vm->cfg.boot_cpu].apic_id,
		 (unsigned long long)(vm->cfg.mem_size >> 20), vm->plat.x2apic ? "x2APIC" : "xAPIC",
		 vm->accel->caps.name);
	/* A kernel gets the terminal as its console; the built-in guests read no input. */
	if (vm->cfg.kernel) {
		vm->console = console_create(vm->serial, STDIN_FILENO, &vm->env.ctl);
		if (!vm->console)
			log_warn("no console input: cannot read standard input");
	}
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		vcpu_starting(&vm->vcpus[i]);
	for (uint32_t i = 0; i < vm->nvcpus; i++) {
		if (vcpu_start(&vm->vcpus[i]) < 0) {
			char why[64];
			snprintf(why, sizeof(why), "cannot start vCPU %u's thread", i);
			vm_stop(vm, VM_STATUS_VMM_ERROR, why);
			for (uint32_t j = i + 1; j < vm->nvcpus; j++)
				vcpu_not_started(&vm->vcpus[j]);
			break;
		}
	}
	pthread_mutex_lock(&vm->stop_lock);
	while (!vm->vcpus_told)
		pthread_cond_wait(&vm->stop_cond, &vm->stop_lock);
	pthread_mutex_unlock(&vm->stop_lock);
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		vcpu_join(&vm->vcpus[i]);
	/* The terminal is the user's again before anything else is printed. */
	if (vm->console) {
		console_destroy(vm->console);
		vm->console = NULL;
	}
	serial_flush(vm->serial);
	pthread_mutex_lock(&vm->warn_lock);
	warn_flush_locked(vm);
	pthread_mutex_unlock(&vm->warn_lock);

	pthread_mutex_lock(&vm->stop_lock);
	int status = vm->status;
	if (status == 0 || status == VM_STATUS_RESTART)
		log_info("stopped: %s", vm->why);
	else
		log_error("stopped: %s (exit status %d)", vm->why, status);
	pthread_mutex_unlock(&vm->stop_lock);
	return status;
}

int vm_start_api(struct vm *vm)
{
	char err[ERRLEN];

	if (!vm->cfg.api_socket)
		return 0;
	vm_api_ops(vm, &vm->api_ops);
	vm->api = api_start(vm->cfg.api_socket, &vm->api_ops, err, sizeof(err));
	if (!vm->api) {
		log_error("--api %s: %s", vm->cfg.api_socket, err);
		return -1;
	}
	log_info("control API on %s", vm->cfg.api_socket);
	return 0;
}

/* Write with `fn` into path.tmp, then rename: a reader never sees a half-written file. */
static int write_atomically(const char *path, struct mp *mp, enum trace_format f)
{
	char tmp[4096];
	uint64_t end = mp_trace_now(mp); /* the exports count from VM start */

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	FILE *out = fopen(tmp, "w");
	if (!out) {
		log_error("cannot write %s: %s", tmp, strerror(errno));
		return -1;
	}
	int r = trace_export(mp, f, end, out);
	if (fflush(out) != 0 || fsync(fileno(out)) != 0)
		r = -1;
	if (fclose(out) != 0)
		r = -1;
	if (r < 0 || rename(tmp, path) < 0) {
		log_error("cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int vm_write_trace_files(struct vm *vm)
{
	int r = 0;

	if (vm->cfg.trace_file && write_atomically(vm->cfg.trace_file, vm->mp, TRACE_FORMAT_CHROME) < 0)
		r = -1;
	if (vm->cfg.timeline_file &&
	    write_atomically(vm->cfg.timeline_file, vm->mp, TRACE_FORMAT_SVG) < 0)
		r = -1;
	return r;
}

void vm_report(struct vm *vm)
{
	report_print(stderr, vm->mp, vm->vcpus, vm->nvcpus);
	report_memory(stderr, guest_mem_resident(&vm->mem));
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	if (vm->api)
		api_stop(vm->api);
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	if (vm->console)
		console_destroy(vm->console);
	devices_destroy(vm->devices);
	/* Before the mode's controllers: the accelerator fires their timers from a thread. */
	if (vm->accel)
		vm->accel->vm->destroy(vm->accel);
	vm->accel = NULL;
	if (vm->ic)
		vm->mode->destroy(vm->ic);
	bus_destroy(vm->pio);
	bus_destroy(vm->mmio);
	if (vm->cpuid)
		for (uint32_t i = 0; i < vm->plat.topo.cpus; i++)
			free(vm->cpuid[i]);
	free(vm->cpuid);
	platform_free(&vm->plat);
	guest_mem_free(&vm->mem);
	free(vm->restored_kernel);
	pthread_cond_destroy(&vm->stop_cond);
	pthread_mutex_destroy(&vm->stop_lock);
	pthread_mutex_destroy(&vm->warn_lock);
	vcpu_gate_destroy(&vm->gate);
	free(vm);
}
