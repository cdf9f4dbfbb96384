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
#include "boot/guests.h"
#include "boot/selftest.h"
#include "dev/bus.h"
#include "dev/debug_exit.h"
#include "dev/chipset.h"
#include "dev/selftest_port.h"
#include "dev/serial.h"
#include "x86/guest_mem.h"
#include "util/log.h"
#include "mp/apic_bus.h"
#include "mp/mp.h"
#include "mp/mp_user.h"
#include "mp/trace_export.h"
#include "mpvmm/selftest_abi.h"
#include "vm/report.h"
#include "vcpu/vcpu.h"
#include "vcpu/vcpu_user.h"
#include "x86/acpi.h"
#include "x86/cpuid.h"
#include "x86/mptable.h"
#include "x86/platform.h"
#include "x86/platform_check.h"


#define ERRLEN 512
/* Step mode: how long a step waits for a released AP to take its start. */
#define STEP_RELEASE_WAIT_NS 1000000000ull
/*
 * mpvmm's MP state: an AP in INIT_RECEIVED this long without a SIPI is worth a warning.  The
 * SDM's example waits 10 ms between INIT and SIPI (8.4.4.1); the checks come with the timer
 * passes (at least every 50 ms on KVM).
 */
#define SIPI_TIMEOUT_NS 500000000ull
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

	/* Step mode: the step is printed, a start held in SIPI_RECEIVED may be taken now. */
	if (vm->user.mp)
		mp_user_release_starts(vm->user.mp, STEP_RELEASE_WAIT_NS);
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
	if (vm->user.mp)
		mp_user_stop(vm->user.mp);
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

static int check_limits(struct vm *vm)
{
	uint32_t max_vcpus, max_id;
	const struct topology *t = &vm->cfg.topo;
	uint32_t top_id = topology_max_apic_id(t);

	vm->accel->ops->limits(vm->accel, &max_vcpus, &max_id);
	if (vm->accel->user_mp && !vm->accel->apic_msrs &&
	    (t->cpus > max_vcpus || top_id >= max_id || vm->cfg.x2apic)) {
		log_error("--cpus %u%s: %s allows %u vCPUs with APIC IDs below %u (xAPIC only: %s); "
			  "this topology needs APIC ID %u", t->cpus, vm->cfg.x2apic ? " --x2apic" : "",
			  strcmp(vm->accel->ops->name, "kvm") ? "the software CPU" : "--irqchip user",
			  max_vcpus, max_id,
			  strcmp(vm->accel->ops->name, "kvm") ? "it cannot trap RDMSR/WRMSR, so it has "
			  "no x2APIC" : "this KVM has no MSR exits for the x2APIC MSRs", top_id);
		return -1;
	}
	if (t->cpus > max_vcpus) {
		log_error("--cpus %u: this KVM allows at most %u vCPUs (KVM_CAP_MAX_VCPUS)",
			  t->cpus, max_vcpus);
		return -1;
	}
	if (top_id >= max_id) {
		log_error("--cpus %u: the topology needs APIC ID %u but this KVM allows vCPU ids "
			  "below %u only (KVM_CAP_MAX_VCPU_ID)", t->cpus, top_id, max_id);
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

/*
 * Where RDMSR cannot be trapped (the software CPU), IA32_APIC_BASE reads 0 in the guest; the
 * value the APIC model holds is offered in mpvmm's CPUID leaf SELFTEST_CPUID_APIC_BASE (EAX
 * low half, EDX high half), which the self-test reads when its boot information says so.
 * It is the reset value (SDM 10.4.4): the guest cannot change it without WRMSR.
 */
static void offer_apic_base(struct cpuid_table *t, const struct cpu_desc *c)
{
	uint64_t base = LAPIC_DEFAULT_BASE | LAPIC_BASE_EN | (c->bsp ? LAPIC_BASE_BSP : 0);

	for (size_t i = 0; i < t->n; i++) {
		if (t->e[i].function != SELFTEST_CPUID_APIC_BASE)
			continue;
		t->e[i].eax = (uint32_t)base;
		t->e[i].edx = (uint32_t)(base >> 32);
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
	struct cpuid_table *supported = vm->accel->ops->supported_cpuid(vm->accel, err, errlen);
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
		if (vm->accel->emulates && vm->cfg.kernel)
			offer_intel_vendor(t[i], i == 0 && !vm->restoring);
		if (vm->accel->no_msr_exits)
			offer_apic_base(t[i], &vm->plat.cpus[i]);
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

static void irq_line_cb(void *ctx, unsigned gsi, bool level)
{
	struct vm *vm = ctx;

	vm->accel->ops->irq_line(vm->accel, gsi, level);
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

/* ---- the PIC, I/O APIC and PIT kept by mpvmm (accel.user_irqchip) ------------------------ */

/* An I/O APIC message: into mpvmm's APIC bus, or to the in-kernel local APICs. */
static void platform_msi(void *ctx, const struct ioapic_msi *m)
{
	struct vm *vm = ctx;
	const struct accel_msi am = { .address = m->address, .data = m->data };

	if (vm->user.apics)
		apic_bus_msi(vm->user.apics, m->address, m->data);
	else
		vm->accel->ops->msi(vm->accel, &am); /* a failure is logged there */
}

/*
 * The 8259A's INTR: on every LINT0 of mpvmm's APICs; with in-kernel ones to the BSP, as QEMU
 * wires it, which injects the ExtINT before its next entry (vcpu.c): kick it out of KVM_RUN.
 */
static void platform_intr(void *ctx, bool level)
{
	struct vm *vm = ctx;

	if (vm->user.apics)
		apic_bus_set_extint(vm->user.apics, level);
	else if (level && vm->cfg.boot_cpu < vm->nvcpus)
		vcpu_kick(&vm->vcpus[vm->cfg.boot_cpu]);
}

/* --irqchip split: the in-kernel APICs learn which vectors are the I/O APIC's, and how. */
static void platform_routes(void *ctx, const struct ioapic_msi m[IOAPIC_PINS])
{
	struct vm *vm = ctx;
	struct accel_msi am[IOAPIC_PINS];

	if (vm->user.apics || !vm->accel->ops->msi_routes)
		return;
	for (unsigned i = 0; i < IOAPIC_PINS; i++)
		am[i] = (struct accel_msi){ .address = m[i].address, .data = m[i].data };
	vm->accel->ops->msi_routes(vm->accel, am, IOAPIC_PINS);
}

static void platform_timer_changed(void *ctx)
{
	struct vm *vm = ctx;

	if (vm->accel->ops->timers_changed)
		vm->accel->ops->timers_changed(vm->accel);
}

static uint64_t guest_clock(void *ctx)
{
	struct accel *a = ctx;

	return a->ops->now_ns(a);
}

/*
 * A vCPU's TSC, for a TSC deadline it has just written (its thread) or a loaded snapshot's
 * (VM not running).  If it cannot be read, the deadline is taken as passed: an early timer
 * interrupt, which a guest checks against its clock, rather than one that never comes.
 */
static uint64_t guest_tsc(void *ctx, uint32_t cpu)
{
	struct vm *vm = ctx;
	uint64_t tsc;

	if (vm->accel->ops->guest_tsc(vm->vcpus[cpu].av, &tsc) == 0)
		return tsc;
	log_error("vCPU %u: cannot read its TSC for a TSC deadline: %s", cpu, strerror(errno));
	return UINT64_MAX;
}

static int create_irqchip(struct vm *vm)
{
	const struct chipset_config c = {
		.pio = vm->pio, .mmio = vm->mmio, .ioapic_id = vm->plat.ioapic_id,
		.now_ns = guest_clock, .clock_ctx = vm->accel,
		.msi = platform_msi, .intr = platform_intr, .routes = platform_routes,
		.timer_changed = platform_timer_changed, .warn = user_warn, .ctx = vm,
	};

	vm->irqchip = chipset_create(&c);
	if (!vm->irqchip)
		return -1;
	vm->user.ic = vm->irqchip;
	return 0;
}

/* The PC platform every guest finds: COM1, i8042, RTC, an empty PCI bus, ACPI PM, fw_cfg. */
static int create_platform_devices(struct vm *vm, const struct vm_control *ctl)
{
	uint16_t ncpus = (uint16_t)vm->plat.topo.cpus;

	vm->irq = (struct irq_line){ .set = irq_line_cb, .ctx = vm };
	if (vm->accel->user_irqchip) {
		if (create_irqchip(vm) < 0)
			return -1;
		vm->irq = chipset_line(vm->irqchip);
	}
	vm->serial = serial_create(vm->pio, SERIAL_COM1_BASE, STDOUT_FILENO);
	if (!vm->serial)
		return -1;
	serial_connect_irq(vm->serial, &vm->irq, SERIAL_COM1_GSI);
	vm->i8042 = i8042_create(vm->pio, ctl, &vm->irq);
	vm->rtc = rtc_create(vm->pio);
	vm->pci = pci_none_create(vm->pio, ctl);
	vm->acpi_pm = acpi_pm_create(vm->pio, ctl, &vm->irq);
	vm->fw_cfg = fw_cfg_create(vm->pio, vm->cfg.mem_size, ncpus, ncpus);
	return vm->i8042 && vm->rtc && vm->pci && vm->acpi_pm && vm->fw_cfg ? 0 : -1;
}

/* The local APIC page: each vCPU's access goes to its own APIC (apic_bus). */
static void lapic_mmio(void *ctx, const struct bus_access *a)
{
	struct vm *vm = ctx;
	uint32_t v = 0;

	if (a->write) {
		for (uint32_t i = 0; i < a->size && i < 4; i++)
			v |= (uint32_t)a->data[i] << (8 * i);
		apic_bus_mmio_write(vm->user.apics, a->cpu, a->addr, a->size, v);
		return;
	}
	if (apic_bus_mmio_read(vm->user.apics, a->cpu, a->addr, a->size, &v) != LAPIC_OK)
		v = UINT32_MAX;
	for (uint32_t i = 0; i < a->size; i++)
		a->data[i] = i < 4 ? (uint8_t)(v >> (8 * i)) : 0xff;
}

static int create_devices(struct vm *vm)
{
	struct vm_control ctl = { .stop = vm_stop_cb, .reset = vm_reset_cb, .hold = vm_hold_cb,
				  .vm = vm };

	vm->pio = bus_create("I/O port");
	vm->mmio = bus_create("MMIO");
	if (!vm->pio || !vm->mmio || create_platform_devices(vm, &ctl) < 0)
		return -1;
	vm->debug_exit = debug_exit_create(vm->pio, vm->cfg.debug_exit_port, &ctl);
	vm->selftest = selftest_port_create(vm->pio, vm->mp, &ctl, vm->cfg.selftest_step,
					    vm->cfg.selftest_hold);
	if (!vm->debug_exit || !vm->selftest)
		return -1;
	vm->env = (struct vcpu_env){
		.ops = vm->accel->ops, .pio = vm->pio, .mmio = vm->mmio, .mp = vm->mp,
		.mem = &vm->mem, .ctl = ctl, .stopping = &vm->stopping, .gate = &vm->gate,
		.user = vm->accel->user_mp ? &vm->user : NULL, .irqchip = vm->irqchip,
	};
	if (vm->accel->user_mp &&
	    bus_register(vm->mmio, LAPIC_DEFAULT_BASE, 0x1000, lapic_mmio, vm, "local APIC") < 0)
		return -1;
	return 0;
}

/* mp_user: cpu's MP state changed or an interrupt came: make it leave run() to look. */
static void user_kick(void *ctx, uint32_t cpu)
{
	struct vm *vm = ctx;

	if (cpu < vm->nvcpus)
		vm->accel->ops->kick(vm->vcpus[cpu].av);
}

/* A local APIC's EOI of a level-triggered interrupt, broadcast to the I/O APIC. */
static void user_eoi(void *ctx, uint8_t vector)
{
	struct vm *vm = ctx;

	if (vm->irqchip)
		chipset_eoi(vm->irqchip, vector);
}

/*
 * No in-kernel APIC: mpvmm's MP state machine (mp_user) and APIC bus, on the guest's clock.
 * With --seed the trace runs on that clock too (instructions retired), so that the same seed
 * gives the same trace.
 */
static int create_user_mp(struct vm *vm)
{
	uint32_t n = vm->plat.topo.cpus;
	const struct mp_user_config uc = {
		.ncpus = n, .bsp = vm->cfg.boot_cpu, .now_ns = guest_clock, .clock_ctx = vm->accel,
		.sipi_timeout_ns = SIPI_TIMEOUT_NS,
		.warn = user_warn, .warn_ctx = vm, .kick = user_kick, .kick_ctx = vm,
		/* Threads run at once: without a hold, an AP takes its start before the BSP's
		 * step announcement of the SIPI, which could never show SIPI_RECEIVED. */
		.hold_starts = vm->cfg.selftest_step && vm->accel->parallel,
	};
	struct mp_cpu *cpus = calloc(n, sizeof(*cpus));

	vm->user.mp = mp_user_create(&uc);
	if (!cpus || !vm->user.mp) {
		free(cpus);
		return -1;
	}
	for (uint32_t i = 0; i < n; i++)
		cpus[i] = (struct mp_cpu){ .apic_id = vm->plat.cpus[i].apic_id,
					   .bsp = vm->plat.cpus[i].bsp,
					   .backend_ctx = mp_user_backend_ctx(vm->user.mp, i) };
	vm->mp = mp_create(n, cpus, &mp_user_backend, exec_on_vcpu, vm, vm->t0_ns);
	const struct apic_bus_config bc = {
		.ncpus = n, .cpus = cpus, .bus_hz = vm->accel->lapic_timer_hz,
		.x2apic = vm->accel->apic_msrs, .tsc_hz = vm->accel->tsc_hz,
		.now_ns = guest_clock, .clock_ctx = vm->accel,
		.tsc_now = vm->accel->tsc_hz ? guest_tsc : NULL, .tsc_ctx = vm, .warn = user_warn, .warn_ctx = vm,
		.mp = vm->user.mp, .eoi = user_eoi, .eoi_ctx = vm,
	};
	vm->user.apics = vm->mp ? apic_bus_create(&bc) : NULL;
	free(cpus);
	if (!vm->user.apics)
		return -1;
	if (vm->cfg.seeded)
		mp_set_clock(vm->mp, guest_clock, vm->accel);
	mp_user_attach(vm->user.mp, vm->mp);
	vcpu_user_machine(&vm->user, &vm->user_machine);
	return 0;
}

static int create_mp(struct vm *vm)
{
	if (vm->accel->user_mp)
		return create_user_mp(vm);

	uint32_t n = vm->plat.topo.cpus;
	struct mp_cpu *cpus = calloc(n, sizeof(*cpus));

	vm->mp_ctx = calloc(n, sizeof(*vm->mp_ctx));
	if (!cpus || !vm->mp_ctx) {
		free(cpus);
		return -1;
	}
	for (uint32_t i = 0; i < n; i++) {
		vm->mp_ctx[i] = (struct mp_kernel_ctx){ .ops = vm->accel->ops };
		cpus[i] = (struct mp_cpu){ .apic_id = vm->plat.cpus[i].apic_id,
					   .bsp = vm->plat.cpus[i].bsp,
					   .backend_ctx = &vm->mp_ctx[i] };
	}
	vm->mp = mp_create(n, cpus, &mp_kernel_backend, exec_on_vcpu, vm, vm->t0_ns);
	free(cpus);
	return vm->mp ? 0 : -1;
}

/* ---- the machine as the accelerator schedules and times it ---------------------------------- */

static enum accel_runnable machine_runnable(void *ctx, uint32_t index)
{
	struct vm *vm = ctx;

	return vm->user_machine.runnable(vm->user_machine.ctx, index);
}

/* The earliest of the local APICs' timers (user_mp) and the PIT (user_irqchip). */
static uint64_t machine_next_event(void *ctx)
{
	struct vm *vm = ctx;
	uint64_t t = vm->irqchip ? chipset_next_event(vm->irqchip) : ACCEL_NO_EVENT;

	if (vm->user.mp) {
		uint64_t u = vm->user_machine.next_event(vm->user_machine.ctx);
		t = u < t ? u : t;
	}
	return t;
}

static void machine_advance(void *ctx, uint64_t now_ns)
{
	struct vm *vm = ctx;

	if (vm->user.mp)
		vm->user_machine.advance(vm->user_machine.ctx, now_ns);
	if (vm->irqchip)
		chipset_advance(vm->irqchip, now_ns);
}

static void set_machine(struct vm *vm)
{
	const struct accel_machine m = {
		.runnable = vm->user.mp ? machine_runnable : NULL,
		.next_event = machine_next_event, .advance = machine_advance, .ctx = vm,
	};

	if (vm->accel->user_mp || vm->accel->user_irqchip)
		vm->accel->ops->set_machine(vm->accel, &m);
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
		if (vm->accel->ops->create_vcpu(vm->accel, d->apic_id, &av, err, ERRLEN) < 0)
			return -1;
		if (vcpu_init(&vm->vcpus[i], i, d->apic_id, d->bsp, av, &vm->env) < 0) {
			vm->accel->ops->destroy_vcpu(av);
			snprintf(err, ERRLEN, "cannot initialise vCPU %u", i);
			return -1;
		}
		vm->nvcpus = i + 1;
		if (vm->mp_ctx)
			vm->mp_ctx[i].vcpu = av;
		if (vm->accel->ops->set_cpuid(av, vm->cpuid[i]) < 0) {
			snprintf(err, ERRLEN, "cannot set vCPU %u's CPUID", i);
			return -1;
		}
		/* The accelerator keeps its own copy; ours was needed for the check only. */
		free(vm->cpuid[i]);
		vm->cpuid[i] = NULL;
	}
	return 0;
}

/*
 * --accel: KVM, the software CPU, or (auto) KVM when /dev/kvm opens and the software CPU
 * otherwise, said in one line.  What the software CPU cannot run is refused (status 2).
 */
static int open_accel(struct vm *vm, int *status)
{
	char err[ERRLEN] = "", why[ERRLEN] = "";
	bool missing = false;
	enum config_accel want = vm->cfg.accel;

	static const enum accel_irqchip irqchip[] = {
		[CONFIG_IRQCHIP_KERNEL] = ACCEL_IRQCHIP_KERNEL,
		[CONFIG_IRQCHIP_SPLIT] = ACCEL_IRQCHIP_SPLIT,
		[CONFIG_IRQCHIP_USER] = ACCEL_IRQCHIP_USER,
	};

	if (want != CONFIG_ACCEL_SOFT)
		vm->accel = accel_kvm_open(irqchip[vm->cfg.irqchip], &missing, err, sizeof(err));
	if (want == CONFIG_ACCEL_AUTO && vm->accel)
		log_info("accelerator: kvm (--accel auto: /dev/kvm opened)");
	if (!vm->accel && want != CONFIG_ACCEL_SOFT && (want == CONFIG_ACCEL_KVM || !missing)) {
		log_error("%s", err);
		*status = missing ? VM_STATUS_NO_KVM : VM_STATUS_VMM_ERROR;
		return -1;
	}
	if (vm->accel && vm->cfg.seeded)
		log_warn("--seed orders the software CPU's turns; KVM ignores it");
	if (vm->accel)
		return 0;
	if (want == CONFIG_ACCEL_AUTO)
		log_info("accelerator: soft (--accel auto: %s)", err);
	if (config_check_soft(&vm->cfg, true, why, sizeof(why)) < 0) {
		log_error("%s", why);
		*status = VM_STATUS_USAGE;
		return -1;
	}
	vm->accel = accel_soft_open(vm->cfg.seeded, vm->cfg.seed, err, sizeof(err));
	if (!vm->accel) {
		log_error("%s", err);
		return -1;
	}
	return 0;
}

static int vm_build(struct vm *vm, int *status)
{
	char err[ERRLEN] = "";

	*status = VM_STATUS_VMM_ERROR;
	if (open_accel(vm, status) < 0)
		return -1;
	if (check_limits(vm) < 0) {
		*status = VM_STATUS_USAGE;
		return -1;
	}
	if (platform_init(&vm->plat, &vm->cfg.topo, vm->cfg.boot_cpu, vm->cfg.x2apic, err,
			  sizeof(err)) < 0) {
		log_error("%s", err);
		*status = VM_STATUS_USAGE;
		return -1;
	}
	/* The MP table names the I/O APIC's version: mpvmm's own model where it is mpvmm's. */
	if (vm->accel->user_irqchip)
		vm->plat.ioapic_version = PLATFORM_IOAPIC_VERSION_MPVMM;
	struct accel_vm_params params = {
		.mem = &vm->mem,
		.boot_vcpu_id = vm->plat.cpus[vm->cfg.boot_cpu].apic_id,
		.x2apic = vm->plat.x2apic,
	};
	if (guest_mem_init(&vm->mem, vm->cfg.mem_size, err, sizeof(err)) < 0 ||
	    (vm->restoring && vm_restore_memory(vm, vm->restoring, err, sizeof(err)) < 0) ||
	    vm->accel->ops->create_vm(vm->accel, &params, err, sizeof(err)) < 0 ||
	    build_cpuid(vm, err) < 0 || build_firmware(vm, err) < 0) {
		log_error("%s", err);
		return -1;
	}
	if (create_mp(vm) < 0 || create_devices(vm) < 0) {
		log_error("cannot create the MP interface or devices (out of memory?)");
		return -1;
	}
	set_machine(vm);
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
	if (local->accel != CONFIG_ACCEL_AUTO && local->accel != cfg.accel) {
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
		 vm->accel->ops->name);
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
	selftest_port_destroy(vm->selftest);
	debug_exit_destroy(vm->debug_exit);
	if (vm->console)
		console_destroy(vm->console);
	fw_cfg_destroy(vm->fw_cfg);
	acpi_pm_destroy(vm->acpi_pm);
	pci_none_destroy(vm->pci);
	rtc_destroy(vm->rtc);
	i8042_destroy(vm->i8042);
	serial_destroy(vm->serial);
	bus_destroy(vm->pio);
	bus_destroy(vm->mmio);
	/* Before the APIC bus and the PIT: KVM fires their timers from a thread. */
	if (vm->accel)
		vm->accel->ops->destroy(vm->accel);
	vm->accel = NULL;
	chipset_destroy(vm->irqchip);
	mp_destroy(vm->mp);
	apic_bus_destroy(vm->user.apics);
	mp_user_destroy(vm->user.mp);
	free(vm->mp_ctx);
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
