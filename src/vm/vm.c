/*
 * vm.c - see vm.h.  A VM's lifecycle: its parts chosen and built in order (the accelerator,
 * the --irqchip mode on it, memory, CPUID and firmware tables, the mode's controllers, the
 * devices, the vCPUs), its vCPU threads run, paused, resumed and stopped, and torn down.  The
 * only place that wires the parts together; each knows only the small interface it is given.
 */
#include "vm/vm_parts.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mp/trace_export.h"
#include "util/log.h"
#include "vm/accels.h"
#include "vm/report.h"

#define ERRLEN 512

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
	if (!vm->cfg.api_socket || cpu >= vm->nvcpus)
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
	g->pass = 0;
	/* Called from a vCPU's own exit (vm_hold_cb), that vCPU cannot park before we return. */
	g->want = running_vcpus(vm) - (vcpu_current() ? 1 : 0);
	pthread_mutex_unlock(&g->lock);
	/* Kick everyone first, then wait for everyone: the waits overlap. */
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until); /* the condition variable's clock */
	until.tv_sec += VM_PAUSE_TIMEOUT_S;
	int timed_out = 0;
	pthread_mutex_lock(&g->lock);
	/* A resume that comes first (g->closed cleared) ends the wait too. */
	while (g->closed && g->parked < g->want && !atomic_load(&vm->stopping) && !timed_out)
		timed_out = pthread_cond_timedwait(&g->all_parked, &g->lock, &until) == ETIMEDOUT;
	uint32_t parked = g->parked, want = g->want;
	if (timed_out && g->closed && parked < want) {
		/* Never leave a half-paused VM behind: those that stopped run on. */
		g->closed = false;
		pthread_cond_broadcast(&g->cond);
	} else {
		timed_out = 0;
	}
	pthread_mutex_unlock(&g->lock);
	if (atomic_load(&vm->stopping))
		return -1;
	if (timed_out) {
		log_warn("pause: %u of %u vCPUs stopped within %d s; the VM runs on", parked, want,
			 VM_PAUSE_TIMEOUT_S);
		return -2;
	}
	return 0;
}

int vm_resume(struct vm *vm)
{
	struct vcpu_gate *g = &vm->gate;
	/* Read before opening: once open, the guest may finish and stop the VM at once. */
	bool stopping = atomic_load(&vm->stopping);

	pthread_mutex_lock(&g->lock);
	g->closed = false;
	g->pass = 0;
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

static int build_cpuid(struct vm *vm, const struct vm_build_hooks *h, char *err)
{
	vm->cpuid = vm_cpuid_tables(vm, !h, err, ERRLEN);
	if (!vm->cpuid)
		return -1;
	return h && h->cpuid ? h->cpuid(vm, h->ctx, err, ERRLEN) : 0;
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
		.builtin_guest = !vm->cfg.kernel,
	};

	vm->devices = devices_create(&env, &vm->warn);
	if (!vm->devices)
		return -1;
	vm->serial = devices_get(vm->devices, &serial_device);
	vm->env = (struct vcpu_env){
		.cpu = vm->accel->cpu, .irqchip = vm->ic, .pio = vm->pio, .mmio = vm->mmio,
		.mp = vm->mp, .mem = &vm->mem, .ctl = ctl, .stopping = &vm->stopping,
		.gate = &vm->gate, .debug = vm_debug_exit, .debug_ctx = vm,
	};
	return 0;
}

/* The guest mistakes of one source, with a budget of its own (vm/warn.h). */
static void *source_of(void *ctx, const char *name)
{
	return warn_source(ctx, name);
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
		.ctl = { .stop = mode_stop_cb, .vm = vm }, .warn = warn_guest,
		.warn_source = source_of, .warn_ctx = &vm->warn,
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

int vm_build(struct vm *vm, const struct vm_build_hooks *h, int *status)
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
	/* A restored guest's RAM holds the tables it booted with (and maybe changed since). */
	if (guest_mem_init(&vm->mem, vm->cfg.mem_size, err, sizeof(err)) < 0 ||
	    (h && h->memory && h->memory(vm, h->ctx, err, sizeof(err)) < 0) ||
	    vm->accel->vm->create_vm(vm->accel, &params, err, sizeof(err)) < 0 ||
	    build_cpuid(vm, h, err) < 0 ||
	    vm_firmware_tables(vm, !h || !h->tables_in_ram, err, sizeof(err)) < 0 ||
	    create_irqchip(vm, err) < 0) {
		log_error("%s", err);
		return -1;
	}
	if (create_devices(vm) < 0)
		return -1;
	int r = vm_breaks_create(vm);
	if (r < 0) {
		*status = r == -2 ? VM_STATUS_USAGE : VM_STATUS_VMM_ERROR;
		return -1;
	}
	if (create_vcpus(vm, err) < 0) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

struct vm *vm_alloc(const struct vm_config *cfg, int *status)
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
	pthread_mutex_init(&vm->break_lock, NULL);
	pthread_cond_init(&vm->stop_cond, NULL);
	pthread_mutex_init(&vm->debug_lock, NULL);
	warn_init(&vm->warn);
	return vm;
}

struct vm *vm_create(const struct vm_config *cfg, int *status)
{
	struct vm *vm = vm_alloc(cfg, status);

	if (vm && vm_build(vm, NULL, status) < 0) {
		vm_destroy(vm);
		return NULL;
	}
	return vm;
}

/* --paused, --step: the gate closed before any vCPU thread exists, so each parks before its
 * first guest instruction, as a pause leaves it. */
static void vm_start_paused(struct vm *vm)
{
	pthread_mutex_lock(&vm->gate.lock);
	vm->gate.closed = true;
	pthread_mutex_unlock(&vm->gate.lock);
	if (vm->cfg.step)
		log_print("step: paused before the first instruction (resume to go on)");
	else
		log_info("paused before the first guest instruction: resume with POST /vm/resume, "
			 "mpvmm ctl PATH resume or gdb's continue");
}

int vm_run(struct vm *vm)
{
	log_info("%u vCPUs (BSP: vCPU %u, APIC ID %u), %llu MiB, %s APIC mode, accelerator %s",
		 vm->plat.topo.cpus, vm->cfg.boot_cpu, vm->plat.cpus[vm->cfg.boot_cpu].apic_id,
		 (unsigned long long)(vm->cfg.mem_size >> 20), vm->plat.x2apic ? "x2APIC" : "xAPIC",
		 vm->accel->caps.name);
	/* A kernel gets the terminal as its console; the built-in guests read no input; with
	 * --step on a terminal, the step prompt (cli/step_prompt.c) reads it. */
	if (vm->cfg.kernel && !(vm->cfg.step && isatty(STDIN_FILENO))) {
		vm->console = console_create(vm->serial, STDIN_FILENO, &vm->env.ctl);
		if (!vm->console)
			log_warn("no console input: cannot read standard input");
	}
	if (vm->cfg.paused || vm->cfg.step)
		vm_start_paused(vm);
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
	warn_flush(&vm->warn);

	pthread_mutex_lock(&vm->stop_lock);
	int status = vm->status;
	if (status == 0 || status == VM_STATUS_RESTART)
		log_info("stopped: %s", vm->why);
	else
		log_error("stopped: %s (exit status %d)", vm->why, status);
	pthread_mutex_unlock(&vm->stop_lock);
	return status;
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
	/* The accelerator's timer thread fires the mode's timers, which may kick a vCPU. */
	if (vm->accel)
		vm->accel->vm->set_machine(vm->accel, NULL);
	/* The mode forgets the vCPUs before they go: what may still kick one from another
	 * thread (a device's interrupt on its way through the 8259A to the BSP) finds none. */
	for (uint32_t i = 0; vm->ic && vm->mode->attach && i < vm->nvcpus; i++)
		vm->mode->attach(vm->ic, i, NULL);
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
	vm_breaks_destroy(vm);
	bus_destroy(vm->pio);
	bus_destroy(vm->mmio);
	if (vm->cpuid)
		for (uint32_t i = 0; i < vm->plat.topo.cpus; i++)
			free(vm->cpuid[i]);
	free(vm->cpuid);
	platform_free(&vm->plat);
	guest_mem_free(&vm->mem);
	free(vm->kernel);
	pthread_cond_destroy(&vm->stop_cond);
	pthread_mutex_destroy(&vm->stop_lock);
	pthread_mutex_destroy(&vm->break_lock);
	pthread_mutex_destroy(&vm->debug_lock);
	warn_destroy(&vm->warn);
	vcpu_gate_destroy(&vm->gate);
	free(vm);
}
