/*
 * vcpu.c - see vcpu.h.  The loop: serve requests, run, count the exit, hand it to whoever
 * owns it (buses for I/O and MMIO, the VM for shutdown and errors), until the VM stops.
 */
#include "vcpu/vcpu.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mp/mp_break.h"
#include "util/log.h"
#include "util/seccomp.h"
#include "vcpu/carry.h"

/* The vCPU whose thread this is (NULL on other threads). */
static __thread struct vcpu *current_vcpu;

int vcpu_init(struct vcpu *v, uint32_t index, uint32_t apic_id, bool bsp,
	      struct accel_vcpu *av, const struct vcpu_env *env)
{
	memset(v, 0, sizeof(*v));
	v->index = index;
	v->apic_id = apic_id;
	v->bsp = bsp;
	v->av = av;
	v->env = env;
	atomic_init(&v->running, false);
	atomic_init(&v->req_pending, false);
	for (unsigned i = 0; i < ACCEL_EXIT_KINDS; i++)
		atomic_init(&v->exits[i], 0);
	for (unsigned i = 0; i < INSN_KINDS; i++)
		atomic_init(&v->carried[i], 0);
	if (pthread_mutex_init(&v->call_lock, NULL) || pthread_mutex_init(&v->lock, NULL) ||
	    pthread_cond_init(&v->cond, NULL))
		return -1;
	return 0;
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->env && v->av)
		v->env->cpu->destroy_vcpu(v->av);
	v->av = NULL;
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	pthread_mutex_destroy(&v->call_lock);
}

void vcpu_kick(struct vcpu *v)
{
	v->env->cpu->kick(v->av);
	irqchip_kick(v->env->irqchip, v->index); /* it may be waiting to become runnable */
}

int vcpu_gate_init(struct vcpu_gate *g)
{
	g->closed = false;
	g->pass = 0;
	g->parked = 0;
	g->want = 0;
	if (pthread_mutex_init(&g->lock, NULL))
		return -1;
	if (pthread_cond_init(&g->cond, NULL)) {
		pthread_mutex_destroy(&g->lock);
		return -1;
	}
	if (pthread_cond_init(&g->all_parked, NULL)) {
		pthread_cond_destroy(&g->cond);
		pthread_mutex_destroy(&g->lock);
		return -1;
	}
	return 0;
}

void vcpu_gate_destroy(struct vcpu_gate *g)
{
	pthread_cond_destroy(&g->all_parked);
	pthread_cond_destroy(&g->cond);
	pthread_mutex_destroy(&g->lock);
}

void vcpu_gate_poke(struct vcpu_gate *g)
{
	pthread_mutex_lock(&g->lock);
	pthread_cond_broadcast(&g->cond);
	pthread_cond_broadcast(&g->all_parked);
	pthread_mutex_unlock(&g->lock);
}

static bool gate_closed(struct vcpu *v)
{
	struct vcpu_gate *g = v->env->gate;

	pthread_mutex_lock(&g->lock);
	bool closed = g->closed && g->pass != v->index + 1;
	pthread_mutex_unlock(&g->lock);
	return closed;
}

/*
 * Wait at the closed gate.  Leave it (to serve a request, or for good) when the gate opens,
 * the VM stops, or someone asks this vCPU for work; the caller's loop decides what next.
 */
static void park(struct vcpu *v)
{
	struct vcpu_gate *g = v->env->gate;

	pthread_mutex_lock(&g->lock);
	/* Only the last to arrive wakes the pauser: one wake-up, not one per vCPU. */
	if (++g->parked >= g->want)
		pthread_cond_signal(&g->all_parked);
	while (g->closed && g->pass != v->index + 1 && !atomic_load(v->env->stopping) &&
	       !atomic_load(&v->req_pending))
		pthread_cond_wait(&g->cond, &g->lock);
	g->parked--;
	pthread_mutex_unlock(&g->lock);
}

static void serve_request(struct vcpu *v)
{
	if (!atomic_exchange(&v->req_pending, false))
		return;
	pthread_mutex_lock(&v->lock);
	void (*fn)(void *) = v->req_fn;
	void *arg = v->req_arg;
	pthread_mutex_unlock(&v->lock);

	fn(arg);

	pthread_mutex_lock(&v->lock);
	v->req_done = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

struct vcpu *vcpu_current(void)
{
	return current_vcpu;
}

void vcpu_park_here(struct vcpu *v)
{
	while (gate_closed(v) && !atomic_load(v->env->stopping)) {
		park(v);
		serve_request(v);
	}
}

int vcpu_post(struct vcpu *v, void (*fn)(void *arg), void *arg)
{
	if (current_vcpu == v) {
		fn(arg);
		return 0;
	}
	pthread_mutex_lock(&v->call_lock);
	pthread_mutex_lock(&v->lock);
	if (v->exited || !atomic_load(&v->running)) {
		pthread_mutex_unlock(&v->lock);
		pthread_mutex_unlock(&v->call_lock);
		errno = ESRCH;
		return -1;
	}
	v->req_fn = fn;
	v->req_arg = arg;
	v->req_done = false;
	atomic_store(&v->req_pending, true);
	pthread_mutex_unlock(&v->lock);

	vcpu_kick(v);
	vcpu_gate_poke(v->env->gate); /* in case it is parked rather than running */
	return 0;
}

int vcpu_wait(struct vcpu *v)
{
	if (current_vcpu == v)
		return 0;
	pthread_mutex_lock(&v->lock);
	while (!v->req_done && !v->exited)
		pthread_cond_wait(&v->cond, &v->lock);
	bool done = v->req_done;
	pthread_mutex_unlock(&v->lock);
	pthread_mutex_unlock(&v->call_lock);
	if (!done)
		errno = ESRCH;
	return done ? 0 : -1;
}

int vcpu_call(struct vcpu *v, void (*fn)(void *arg), void *arg)
{
	return vcpu_post(v, fn, arg) < 0 ? -1 : vcpu_wait(v);
}

static void stop_vm(struct vcpu *v, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void stop_vm(struct vcpu *v, int status, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	vm_control_stop(&v->env->ctl, status, why);
}

static void dump_state(struct vcpu *v)
{
	struct x86_regs r;
	struct x86_sregs s;
	const struct accel_cpu_ops *ops = v->env->cpu;

	if (ops->get_regs(v->av, &r) < 0 || ops->get_sregs(v->av, &s) < 0)
		return;
	log_error("vCPU %u: rip=%016llx rflags=%08llx rsp=%016llx rbp=%016llx", v->index,
		  (unsigned long long)r.rip, (unsigned long long)r.rflags,
		  (unsigned long long)r.rsp, (unsigned long long)r.rbp);
	log_error("vCPU %u: rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx", v->index,
		  (unsigned long long)r.rax, (unsigned long long)r.rbx,
		  (unsigned long long)r.rcx, (unsigned long long)r.rdx);
	log_error("vCPU %u: rsi=%016llx rdi=%016llx r8=%016llx r9=%016llx", v->index,
		  (unsigned long long)r.rsi, (unsigned long long)r.rdi,
		  (unsigned long long)r.r8, (unsigned long long)r.r9);
	log_error("vCPU %u: cs=%04x(base %llx l=%u db=%u) ss=%04x cr0=%08llx cr3=%08llx "
		  "cr4=%08llx efer=%llx", v->index, s.cs.selector,
		  (unsigned long long)s.cs.base, s.cs.l, s.cs.db, s.ss.selector,
		  (unsigned long long)s.cr0, (unsigned long long)s.cr3,
		  (unsigned long long)s.cr4, (unsigned long long)s.efer);
}

static void handle_io(struct vcpu *v, const struct accel_exit *e)
{
	for (uint32_t i = 0; i < e->io.count; i++) {
		struct bus_access a = {
			.cpu = v->index, .addr = e->io.port, .size = e->io.size,
			.write = e->io.out, .data = e->io.data + (size_t)i * e->io.size,
		};
		bus_dispatch(v->env->pio, &a);
	}
}

static void handle_mmio(struct vcpu *v, const struct accel_exit *e)
{
	struct bus_access a = {
		.cpu = v->index, .addr = e->mmio.addr, .size = e->mmio.len,
		.write = e->mmio.write, .data = e->mmio.data,
	};
	bus_dispatch(v->env->mmio, &a);
}

/* An instruction the accelerator could not emulate, performed here and counted. */
static bool carry(struct vcpu *v, const struct accel_exit *e)
{
	const struct vcpu_carry x = { .cpu = v->env->cpu, .av = v->av, .mem = v->env->mem,
				      .index = v->index };
	int kind = vcpu_carry(&x, e);

	if (kind < 0)
		return false;
	atomic_fetch_add_explicit(&v->carried[kind], 1, memory_order_relaxed);
	return true;
}

static void handle_exit(struct vcpu *v, const struct accel_exit *e)
{
	switch (e->kind) {
	case ACCEL_EXIT_IO:
		handle_io(v, e);
		break;
	case ACCEL_EXIT_MMIO:
		handle_mmio(v, e);
		break;
	case ACCEL_EXIT_INTERRUPTED:
		break;
	case ACCEL_EXIT_HLT: /* where mpvmm keeps the MP state */
	case ACCEL_EXIT_EOI: /* where it keeps the I/O APIC */
		irqchip_exit(v->env->irqchip, v->index, e);
		break;
	case ACCEL_EXIT_RDMSR:
	case ACCEL_EXIT_WRMSR: /* where it keeps the local APICs; nobody else asks: #GP(0) */
		if (!irqchip_exit(v->env->irqchip, v->index, e))
			*e->msr.error = 1;
		break;
	case ACCEL_EXIT_SHUTDOWN:
		dump_state(v);
		stop_vm(v, VM_CONTROL_GUEST_FAULT, "vCPU %u (APIC ID %u): triple fault",
			v->index, v->apic_id);
		break;
	case ACCEL_EXIT_SYSTEM_EVENT:
		stop_vm(v, 0, "vCPU %u: guest asked for system event %u", v->index,
			e->system_event.type);
		break;
	case ACCEL_EXIT_EXCEPTION:
		dump_state(v);
		stop_vm(v, VM_CONTROL_GUEST_FAULT, "vCPU %u (APIC ID %u): guest exception %d "
			"(%s) at rip=%llx; the software CPU does not deliver exceptions through the "
			"guest's IDT", v->index, v->apic_id, e->exception.vector, e->exception.what,
			(unsigned long long)e->exception.rip);
		break;
	case ACCEL_EXIT_DEBUG:
		if (v->env->debug)
			v->env->debug(v->env->debug_ctx, v->index, e);
		break;
	case ACCEL_EXIT_INTERNAL:
		if (carry(v, e))
			break;
		dump_state(v);
		stop_vm(v, VM_CONTROL_VMM_ERROR, "vCPU %u: KVM internal error, suberror %u",
			v->index, e->internal.suberror);
		break;
	default:
		dump_state(v);
		stop_vm(v, VM_CONTROL_VMM_ERROR, "vCPU %u: unexpected exit '%s' (reason %u, "
			"detail 0x%llx)", v->index, accel_exit_name(e->kind), e->other.reason,
			(unsigned long long)e->other.detail);
		break;
	}
}

/* Count an exit and hand it to whoever owns it. */
static void vcpu_exit(struct vcpu *v, const struct accel_exit *e)
{
	atomic_fetch_add_explicit(&v->exits[e->kind], 1, memory_order_relaxed);
	if (e->kind != ACCEL_EXIT_INTERRUPTED)
		mp_note_first_exit(v->env->mp, v->index);
	handle_exit(v, e);
}

static void record_own_state(struct vcpu *v)
{
	enum mp_state s;

	if (mp_get(v->env->mp, v->index, &s) < 0)
		log_warn("vCPU %u: cannot read its MP state: %s", v->index, strerror(errno));
}

static void finish(struct vcpu *v)
{
	serve_request(v);
	pthread_mutex_lock(&v->lock);
	v->exited = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

/* The accelerator's hooks: the mode's `enter`; exits completed inside a run (the software
 * CPU's port I/O and MMIO) dispatched as any other. */
static bool hook_enter(void *ctx)
{
	struct vcpu *v = ctx;

	return irqchip_enter(v->env->irqchip, v->index);
}

static void hook_exit(void *ctx, const struct accel_exit *e)
{
	vcpu_exit(ctx, e);
}

static int thread_init(struct vcpu *v)
{
	const struct accel_cpu_ops *ops = v->env->cpu;
	const struct accel_vcpu_hooks h = {
		.enter = v->env->irqchip->mode->enter ? hook_enter : NULL,
		.exit = hook_exit, .ctx = v,
	};

	char name[16];

	/* The name the kernel's audit lines give (comm=), and top -H. */
	snprintf(name, sizeof(name), "mpvmm-vcpu%u", v->index);
	(void)pthread_setname_np(pthread_self(), name); /* a name only helps logs */
	if (ops->thread_init(v->av) < 0 || (ops->set_hooks && ops->set_hooks(v->av, &h) < 0))
		return -1;
	/* Before any guest code: from here on, only the vCPU list's calls. */
	sandbox_thread(SANDBOX_VCPU);
	return 0;
}

/*
 * A break on an MP event is queued: pause the VM for it before any more guest code (the VM
 * takes one at a time; this thread may not be the one).  Returns whether one was queued.
 */
static bool take_break(struct vcpu *v)
{
	if (!mp_break_pending(v->env->brk))
		return false;
	v->env->take_break(v->env->break_ctx, v->index);
	return true;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	const struct accel_cpu_ops *ops = v->env->cpu;
	struct accel_exit e;

	current_vcpu = v;
	if (thread_init(v) < 0) {
		stop_vm(v, VM_CONTROL_VMM_ERROR, "vCPU %u: cannot set up its thread", v->index);
		if (ops->thread_exit)
			ops->thread_exit(v->av);
		finish(v);
		return NULL;
	}
	record_own_state(v);
	while (!atomic_load(v->env->stopping)) {
		serve_request(v);
		take_break(v);
		if (gate_closed(v)) {
			if (ops->parked)
				ops->parked(v->av, true);
			park(v);
			if (ops->parked)
				ops->parked(v->av, false);
			continue;
		}
		if (irqchip_wait(v->env->irqchip, v->index) != IRQCHIP_RUN)
			continue; /* kicked or stopped: look at requests, the gate, the VM */
		if (take_break(v))
			continue; /* one came while this vCPU waited: the gate first */
		if (ops->run(v->av, &e) < 0) {
			stop_vm(v, VM_CONTROL_VMM_ERROR, "vCPU %u: cannot run: %s", v->index,
				strerror(errno));
			break;
		}
		vcpu_exit(v, &e);
	}
	irqchip_vcpu_done(v->env->irqchip, v->index);
	record_own_state(v);
	if (ops->thread_exit)
		ops->thread_exit(v->av);
	finish(v);
	return NULL;
}

void vcpu_starting(struct vcpu *v)
{
	atomic_store(&v->running, true);
}

int vcpu_start(struct vcpu *v)
{
	/* Marked running first: the thread may be asked for work as soon as it exists. */
	vcpu_starting(v);
	int r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (r) {
		vcpu_not_started(v);
		errno = r;
		return -1;
	}
	return 0;
}

void vcpu_not_started(struct vcpu *v)
{
	/* Whoever already waits for this vCPU (vcpu_call) gives up; nothing is to be joined. */
	atomic_store(&v->running, false);
	pthread_mutex_lock(&v->lock);
	v->exited = true;
	pthread_cond_broadcast(&v->cond);
	pthread_mutex_unlock(&v->lock);
}

void vcpu_join(struct vcpu *v)
{
	if (atomic_load(&v->running)) {
		pthread_join(v->thread, NULL);
		atomic_store(&v->running, false);
	}
}
