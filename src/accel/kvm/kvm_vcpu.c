/*
 * kvm_vcpu.c - a KVM vCPU: the CPU engine of accel.h (struct accel_cpu_ops).  One kvm_run
 * page per vCPU; a kick sets kvm_run.immediate_exit, then signals the thread (whose handler
 * sets it too), so a kick can never be lost between the check for requests and the next
 * KVM_RUN (Documentation/virt/kvm/api.rst, KVM_RUN).  Where mpvmm keeps an interrupt controller,
 * the `enter` hook runs before every KVM_RUN and interrupts go in with KVM_INTERRUPT when
 * run->ready_for_interrupt_injection says the guest takes one, else after an interrupt
 * window (run->request_interrupt_window, KVM_EXIT_IRQ_WINDOW_OPEN); NMIs with KVM_NMI
 * (api.rst 4.16, 4.70, 5: struct kvm_run).
 */
#include "accel/kvm/kvm_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/log.h"

_Static_assert(sizeof(struct x86_regs) == sizeof(struct kvm_regs), "x86_regs layout");
_Static_assert(sizeof(struct x86_sregs) == sizeof(struct kvm_sregs), "x86_sregs layout");
_Static_assert(sizeof(struct x86_segment) == sizeof(struct kvm_segment), "segment layout");

static __thread struct kvm_run *tls_run;

static void set_immediate_exit(struct kvm_run *run, uint8_t v)
{
	__atomic_store_n(&run->immediate_exit, v, __ATOMIC_SEQ_CST);
}

static void kick_handler(int sig)
{
	(void)sig;
	/* Async-signal-safe: one store.  KVM_RUN with immediate_exit set returns EINTR. */
	if (tls_run)
		set_immediate_exit(tls_run, 1);
}

int kvm_install_kick_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler; /* no SA_RESTART: KVM_RUN must see EINTR */
	sigemptyset(&sa.sa_mask);
	return sigaction(KVM_KICK_SIGNAL, &sa, NULL);
}

int kvm_create_vcpu(struct accel *a, uint32_t id, struct accel_vcpu **out, char *err,
			   size_t errlen)
{
	struct kvm *k = kvm_of(a);
	struct accel_vcpu *v = calloc(1, sizeof(*v));

	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	v->kvm = k;
	v->id = id;
	v->fd = kvm_ioctl(k->vm_fd, KVM_CREATE_VCPU, KVM_ARG(id), err, errlen);
	if (v->fd < 0) {
		free(v);
		return -1;
	}
	v->run = mmap(NULL, (size_t)k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		snprintf(err, errlen, "mmap of vCPU %u's kvm_run: %s", id, strerror(errno));
		close(v->fd);
		free(v);
		return -1;
	}
	pthread_mutex_init(&v->kick_lock, NULL);
	*out = v;
	return 0;
}

static void kvm_destroy_vcpu(struct accel_vcpu *v)
{
	if (!v)
		return;
	munmap(v->run, (size_t)v->kvm->run_size);
	close(v->fd);
	pthread_mutex_destroy(&v->kick_lock);
	free(v);
}

static int kvm_thread_init(struct accel_vcpu *v)
{
	sigset_t set;

	tls_run = v->run;
	pthread_mutex_lock(&v->kick_lock);
	v->thread = pthread_self();
	v->bound = true;
	pthread_mutex_unlock(&v->kick_lock);
	sigemptyset(&set);
	sigaddset(&set, KVM_KICK_SIGNAL);
	return pthread_sigmask(SIG_UNBLOCK, &set, NULL) ? -1 : 0;
}

static void kvm_kick(struct accel_vcpu *v)
{
	/*
	 * The kicker's own store first: a handler may run late (ThreadSanitizer defers one that
	 * arrives outside a blocking call until the next call it intercepts, which can be after
	 * the thread blocked in KVM_RUN).  The signal still interrupts a KVM_RUN under way.
	 * Clearing it after an EINTR cannot lose this kick: what a kick is for (a request, the
	 * gate, a stop) is set before it, and the thread looks at those after clearing.
	 */
	set_immediate_exit(v->run, 1);
	/* Not bound: the thread has not entered its loop (where it looks for requests), or has
	 * left it and may be gone (pthread_kill of a joined thread reads freed memory: a
	 * timer thread's kick at teardown died of SIGSEGV). */
	pthread_mutex_lock(&v->kick_lock);
	if (v->bound)
		pthread_kill(v->thread, KVM_KICK_SIGNAL);
	pthread_mutex_unlock(&v->kick_lock);
}

static void kvm_thread_exit(struct accel_vcpu *v)
{
	pthread_mutex_lock(&v->kick_lock);
	v->bound = false;
	pthread_mutex_unlock(&v->kick_lock);
}

static int kvm_set_cpuid(struct accel_vcpu *v, const struct cpuid_table *t)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + t->n * sizeof(c->entries[0]));

	if (!c)
		return -1;
	c->nent = (uint32_t)t->n;
	for (size_t i = 0; i < t->n; i++) {
		const struct cpuid_entry *e = &t->e[i];
		c->entries[i] = (struct kvm_cpuid_entry2){
			.function = e->function, .index = e->index,
			.flags = e->flags & CPUID_FLAG_SIGNIFICANT_INDEX ?
				 KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0,
			.eax = e->eax, .ebx = e->ebx, .ecx = e->ecx, .edx = e->edx,
		};
	}
	int r = kvm_vcpu_ioctl(v, KVM_SET_CPUID2, c);
	free(c);
	return r;
}

static int kvm_get_regs(struct accel_vcpu *v, struct x86_regs *r)
{
	return kvm_vcpu_ioctl(v, KVM_GET_REGS, r);
}

static int kvm_set_regs(struct accel_vcpu *v, const struct x86_regs *r)
{
	if (kvm_vcpu_ioctl(v, KVM_SET_REGS, (void *)r) < 0)
		return -1;
	/* run->if_flag is KVM's copy from the last exit; a new RFLAGS (a start) replaces it
	 * until the next exit, so that no interrupt is injected with IF = 0. */
	if (!(r->rflags & X86_RFLAGS_IF))
		v->run->if_flag = 0;
	return 0;
}

static int kvm_get_sregs(struct accel_vcpu *v, struct x86_sregs *s)
{
	return kvm_vcpu_ioctl(v, KVM_GET_SREGS, s);
}

/*
 * KVM keeps IA32_APIC_BASE in the vCPU (even without its local APIC) and KVM_SET_SREGS
 * writes it.  A start state mpvmm made (mp_user: a SIPI) leaves apic_base 0, "the APIC's
 * own": keep the vCPU's value then, BSP flag included (SDM Vol. 3A, 10.4.4: INIT leaves it).
 */
static int kvm_set_sregs(struct accel_vcpu *v, const struct x86_sregs *s)
{
	struct x86_sregs cur;

	if (s->apic_base == 0) {
		if (kvm_get_sregs(v, &cur) < 0)
			return -1;
		struct x86_sregs with = *s;
		with.apic_base = cur.apic_base;
		return kvm_vcpu_ioctl(v, KVM_SET_SREGS, &with);
	}
	return kvm_vcpu_ioctl(v, KVM_SET_SREGS, (void *)s);
}

static const struct { uint32_t kvm; enum mp_state mp; } mp_map[] = {
	{ KVM_MP_STATE_UNINITIALIZED, MP_STATE_UNINITIALIZED },
	{ KVM_MP_STATE_INIT_RECEIVED, MP_STATE_INIT_RECEIVED },
	{ KVM_MP_STATE_SIPI_RECEIVED, MP_STATE_SIPI_RECEIVED },
	{ KVM_MP_STATE_RUNNABLE, MP_STATE_RUNNABLE },
	{ KVM_MP_STATE_HALTED, MP_STATE_HALTED },
};

static int kvm_get_mp_state(struct accel_vcpu *v, enum mp_state *s)
{
	struct kvm_mp_state st;

	if (kvm_vcpu_ioctl(v, KVM_GET_MP_STATE, &st) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(mp_map) / sizeof(mp_map[0]); i++) {
		if (mp_map[i].kvm == st.mp_state) {
			*s = mp_map[i].mp;
			return 0;
		}
	}
	log_error("vCPU %u: KVM_GET_MP_STATE returned unknown state %u", v->id, st.mp_state);
	errno = EPROTO;
	return -1;
}

static int kvm_set_mp_state(struct accel_vcpu *v, enum mp_state s)
{
	for (size_t i = 0; i < sizeof(mp_map) / sizeof(mp_map[0]); i++) {
		if (mp_map[i].mp == s) {
			struct kvm_mp_state st = { .mp_state = mp_map[i].kvm };
			return kvm_vcpu_ioctl(v, KVM_SET_MP_STATE, &st);
		}
	}
	errno = EINVAL;
	return -1;
}

static int kvm_inject(struct accel_vcpu *v, uint8_t vector, bool soft_int)
{
	struct kvm_vcpu_events ev;

	if (kvm_vcpu_ioctl(v, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -1;
	if (soft_int) {
		ev.interrupt.injected = 1;
		ev.interrupt.nr = vector;
		ev.interrupt.soft = 1;
	} else {
		ev.exception.injected = 1;
		ev.exception.nr = vector;
		ev.exception.has_error_code = 0;
	}
	ev.flags = 0; /* leave NMI-pending, SIPI vector and shadow state alone */
	return kvm_vcpu_ioctl(v, KVM_SET_VCPU_EVENTS, &ev);
}

static int kvm_inject_error(struct accel_vcpu *v, uint8_t vector, uint32_t error_code)
{
	struct kvm_vcpu_events ev;

	if (kvm_vcpu_ioctl(v, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -1;
	ev.exception.injected = 1;
	ev.exception.nr = vector;
	ev.exception.has_error_code = 1;
	ev.exception.error_code = error_code;
	ev.flags = 0;
	return kvm_vcpu_ioctl(v, KVM_SET_VCPU_EVENTS, &ev);
}

/* KVM_GET_TSC_KHZ returns the frequency as the ioctl's value (KVM_CAP_GET_TSC_KHZ). */
static uint32_t kvm_tsc_khz(struct accel_vcpu *v)
{
	int khz = kvm_ioctl(v->fd, KVM_GET_TSC_KHZ, NULL, NULL, 0);

	return khz > 0 ? (uint32_t)khz : 0;
}

static int kvm_get_events(struct accel_vcpu *v, struct accel_events *e)
{
	struct kvm_vcpu_events ev;

	if (kvm_vcpu_ioctl(v, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -1;
	*e = (struct accel_events){
		.irq_injected = ev.interrupt.injected, .irq_vector = ev.interrupt.nr,
		.irq_shadow = ev.interrupt.shadow != 0,
		.nmi_injected = ev.nmi.injected, .nmi_pending = ev.nmi.pending,
		.nmi_masked = ev.nmi.masked,
		.exc_injected = ev.exception.injected, .exc_vector = ev.exception.nr,
	};
	return 0;
}


/*
 * The x87/SSE state through KVM_GET/SET_XSAVE, whose first 512 bytes are the FXSAVE image
 * (Intel SDM Vol. 1, 10.5.1, Table 10-2: FCW at 0, FSW at 2, abridged FTW at 4, MXCSR at
 * 24).  Not KVM_GET/SET_FPU: on a PVM host it reads MXCSR as 0 and sets none.
 */
#define FXSAVE_FCW 0
#define FXSAVE_FSW 2
#define FXSAVE_FTW 4
#define FXSAVE_MXCSR 24
#define XSAVE_HEADER 512 /* XSTATE_BV, the components the image holds */
#define XSTATE_X87 (1ull << 0)
#define XSTATE_SSE (1ull << 1)

static int kvm_get_fpu(struct accel_vcpu *v, struct x86_fpu *f)
{
	struct kvm_xsave x;
	const uint8_t *b = (const uint8_t *)x.region;

	if (kvm_vcpu_ioctl(v, KVM_GET_XSAVE, &x) < 0)
		return -1;
	memcpy(&f->fcw, b + FXSAVE_FCW, 2);
	memcpy(&f->fsw, b + FXSAVE_FSW, 2);
	f->ftw = b[FXSAVE_FTW];
	memcpy(&f->mxcsr, b + FXSAVE_MXCSR, 4);
	return 0;
}

static int kvm_set_fpu(struct accel_vcpu *v, const struct x86_fpu *f)
{
	struct kvm_xsave x;
	uint8_t *b = (uint8_t *)x.region;

	if (kvm_vcpu_ioctl(v, KVM_GET_XSAVE, &x) < 0)
		return -1;
	memcpy(b + FXSAVE_FCW, &f->fcw, 2);
	memcpy(b + FXSAVE_FSW, &f->fsw, 2);
	b[FXSAVE_FTW] = f->ftw;
	memcpy(b + FXSAVE_MXCSR, &f->mxcsr, 4);
	/* Components in their init state are not loaded from the image: mark x87 and SSE
	 * present in XSTATE_BV (SDM Vol. 1, 13.4.2), whose other bits stay as read. */
	uint64_t bv;
	memcpy(&bv, b + XSAVE_HEADER, 8);
	bv |= XSTATE_X87 | XSTATE_SSE;
	memcpy(b + XSAVE_HEADER, &bv, 8);
	return kvm_vcpu_ioctl(v, KVM_SET_XSAVE, &x);
}

static int kvm_translate(struct accel_vcpu *v, uint64_t gva, uint64_t *gpa)
{
	struct kvm_translation t = { .linear_address = gva };

	if (kvm_vcpu_ioctl(v, KVM_TRANSLATE, &t) < 0)
		return -1;
	if (!t.valid) {
		errno = EFAULT;
		return -1;
	}
	*gpa = t.physical_address;
	return 0;
}

static void fill_exit(struct accel_vcpu *v, struct accel_exit *e)
{
	struct kvm_run *r = v->run;

	memset(e, 0, sizeof(*e));
	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		e->kind = ACCEL_EXIT_IO;
		e->io.port = r->io.port;
		e->io.size = r->io.size;
		e->io.out = r->io.direction == KVM_EXIT_IO_OUT;
		e->io.count = r->io.count;
		e->io.data = (uint8_t *)r + r->io.data_offset;
		break;
	case KVM_EXIT_MMIO:
		e->kind = ACCEL_EXIT_MMIO;
		e->mmio.addr = r->mmio.phys_addr;
		e->mmio.len = r->mmio.len;
		e->mmio.write = r->mmio.is_write;
		e->mmio.data = r->mmio.data;
		break;
	case KVM_EXIT_HLT:
		e->kind = ACCEL_EXIT_HLT;
		break;
	case KVM_EXIT_SHUTDOWN:
		e->kind = ACCEL_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		e->kind = ACCEL_EXIT_SYSTEM_EVENT;
		e->system_event.type = r->system_event.type;
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		e->kind = ACCEL_EXIT_INTERNAL;
		e->internal.suberror = r->internal.suberror;
		e->internal.ndata = r->internal.ndata;
		if (e->internal.ndata > ACCEL_INTERNAL_MAX_DATA)
			e->internal.ndata = ACCEL_INTERNAL_MAX_DATA;
		memcpy(e->internal.data, r->internal.data, e->internal.ndata * sizeof(uint64_t));
		break;
	case KVM_EXIT_FAIL_ENTRY:
		e->kind = ACCEL_EXIT_FAIL_ENTRY;
		e->other.reason = r->exit_reason;
		e->other.detail = r->fail_entry.hardware_entry_failure_reason;
		break;
	case KVM_EXIT_INTR:
		e->kind = ACCEL_EXIT_INTERRUPTED;
		break;
	case KVM_EXIT_DEBUG:
		kvm_debug_exit(v, e);
		break;
	case KVM_EXIT_IOAPIC_EOI:
		e->kind = ACCEL_EXIT_EOI;
		e->eoi.vector = r->eoi.vector;
		break;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		/* Completed by the handler in kvm_run's page before the next KVM_RUN. */
		e->kind = r->exit_reason == KVM_EXIT_X86_RDMSR ? ACCEL_EXIT_RDMSR : ACCEL_EXIT_WRMSR;
		e->msr.index = r->msr.index;
		e->msr.data = (uint64_t *)&r->msr.data; /* __u64: same 64-bit object */
		e->msr.error = &r->msr.error;
		break;
	default:
		e->kind = ACCEL_EXIT_OTHER;
		e->other.reason = r->exit_reason;
		break;
	}
}

/*
 * Where mpvmm keeps an interrupt controller, before each KVM_RUN: no interrupt window unless
 * `enter` asks again, then the `enter` hook (the --irqchip mode's: a start, an injection).
 */
static bool hooked_enter(struct accel_vcpu *v)
{
	v->run->request_interrupt_window = 0;
	return v->hooks.enter(v->hooks.ctx);
}

/* An INT3 PVM could not emulate while a debugger intercepts them: its breakpoint. */
static void pvm_int3(struct accel_vcpu *v, struct accel_exit *e)
{
	struct x86_regs r;
	struct x86_sregs s;

	if (kvm_get_regs(v, &r) == 0 && kvm_get_sregs(v, &s) == 0)
		kvm_debug_int3(v, e, s.cs.base, r.rip);
}

static int kvm_run(struct accel_vcpu *v, struct accel_exit *e)
{
	char why[128];
	bool hooked = v->hooks.enter != NULL;

	for (;;) {
		if (hooked && !hooked_enter(v)) {
			memset(e, 0, sizeof(*e));
			e->kind = ACCEL_EXIT_INTERRUPTED;
			return 0;
		}
		if (kvm_ioctl(v->fd, KVM_RUN, NULL, why, sizeof(why)) == 0) {
			/* The window `enter` asked for: enter again, which injects (api.rst 5). */
			if (hooked && v->run->exit_reason == KVM_EXIT_IRQ_WINDOW_OPEN)
				continue;
			fill_exit(v, e);
			if (e->kind == ACCEL_EXIT_INTERNAL && v->debug.sw_int3)
				pvm_int3(v, e);
			return 0;
		}
		if (errno == EINTR) {
			/* Clear before the caller looks for requests, so a kick that arrives
			 * after this point makes the next KVM_RUN return at once. */
			set_immediate_exit(v->run, 0);
			memset(e, 0, sizeof(*e));
			e->kind = ACCEL_EXIT_INTERRUPTED;
			return 0;
		}
		/* Seen on PVM: an AP woken from UNINITIALIZED returns EAGAIN; run again. */
		if (errno == EAGAIN)
			continue;
		int err = errno;
		log_error("vCPU %u: %s", v->id, why);
		errno = err;
		return -1;
	}
}

/*
 * Finish the instruction whose exit was served: KVM completes an I/O or MMIO instruction
 * (an IN's or a load's value, RIP past it) only when KVM_RUN is entered again, and before
 * looking at immediate_exit (api.rst 4.10, "KVM_RUN").  State set before that would be
 * overwritten by the completion.  With `rearm`, immediate_exit stays set, so that a kick
 * that came meanwhile is not lost: the next run returns at once and the loop looks again.
 */
int kvm_complete_pending_exit(struct accel_vcpu *v, bool rearm, char *err, size_t errlen)
{
	set_immediate_exit(v->run, 1);
	int r = kvm_ioctl(v->fd, KVM_RUN, NULL, err, errlen);
	int e = errno;
	if (!rearm)
		set_immediate_exit(v->run, 0);
	if (r == 0 || e == EINTR)
		return 0;
	size_t n = strlen(err);
	snprintf(err + n, errlen - n, " (immediate exit, to complete the last exit)");
	errno = e;
	return -1;
}

static int kvm_finish_exit(struct accel_vcpu *v)
{
	char why[160];

	if (kvm_complete_pending_exit(v, true, why, sizeof(why)) == 0)
		return 0;
	int e = errno;
	log_error("vCPU %u: %s", v->id, why);
	errno = e;
	return -1;
}

/* ---- --irqchip user ----------------------------------------------------------------------- */

static int kvm_set_hooks(struct accel_vcpu *v, const struct accel_vcpu_hooks *h)
{
	v->hooks = *h;
	return 0;
}

/*
 * Whether an external interrupt can be injected now: KVM says so at every exit in
 * run->ready_for_interrupt_injection (no interrupt shadow, nothing queued) and run->if_flag
 * (api.rst 5, "struct kvm_run"; SDM Vol. 3A, 6.8.1 and Vol. 2B STI).  With KVM's local APIC
 * the kernel also requires LINT0 to take an ExtINT and no ExtINT already queued.  If not and
 * `request`, the next KVM_RUN returns with KVM_EXIT_IRQ_WINDOW_OPEN as soon as it opens.
 */
static bool kvm_interrupt_window(struct accel_vcpu *v, bool request)
{
	bool open = v->run->ready_for_interrupt_injection && v->run->if_flag;

	if (!open && request)
		v->run->request_interrupt_window = 1;
	return open;
}

/*
 * KVM_INTERRUPT (api.rst 4.16: without an in-kernel PIC; with KVM's local APIC alone it
 * queues the vector of an ExtINT, EEXIST while one is queued) or KVM_NMI (api.rst 4.70).
 */
static int kvm_interrupt(struct accel_vcpu *v, uint8_t vector, bool nmi)
{
	struct kvm_interrupt irq = { .irq = vector };

	if (nmi)
		return kvm_vcpu_ioctl(v, KVM_NMI, NULL);
	return kvm_vcpu_ioctl(v, KVM_INTERRUPT, &irq);
}

int kvm_get_msr(struct accel_vcpu *v, uint32_t index, uint64_t *value)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} one = { .h.nmsrs = 1, .e.index = index };
	int r = kvm_ioctl(v->fd, KVM_GET_MSRS, &one, NULL, 0);

	if (r != 1) {
		if (r >= 0)
			errno = EIO; /* KVM read none of them */
		return -1;
	}
	*value = one.e.data;
	return 0;
}

/* IA32_TSC (SDM Vol. 3B, 17.17) as the guest reads it now. */
static int kvm_guest_tsc(struct accel_vcpu *v, uint64_t *tsc)
{
	return kvm_get_msr(v, 0x10 /* IA32_TSC */, tsc);
}

/* Each vCPU has its own thread: nothing to hand over.  A halting vCPU may have armed a timer. */
static void kvm_idle(struct accel_vcpu *v)
{
	kvm_timers_changed(&v->kvm->base);
}


const struct accel_cpu_ops kvm_cpu_ops = {
	.thread_init = kvm_thread_init,
	.thread_exit = kvm_thread_exit,
	.destroy_vcpu = kvm_destroy_vcpu,
	.kick = kvm_kick,
	.run = kvm_run,
	.set_cpuid = kvm_set_cpuid,
	.get_regs = kvm_get_regs,
	.set_regs = kvm_set_regs,
	.finish_exit = kvm_finish_exit,
	.get_sregs = kvm_get_sregs,
	.set_sregs = kvm_set_sregs,
	.get_fpu = kvm_get_fpu,
	.set_fpu = kvm_set_fpu,
	.translate = kvm_translate,
	.tsc_khz = kvm_tsc_khz,
	.guest_tsc = kvm_guest_tsc,
	.get_mp_state = kvm_get_mp_state,
	.set_mp_state = kvm_set_mp_state,
	.inject = kvm_inject,
	.inject_error = kvm_inject_error,
	.get_events = kvm_get_events,
	.set_hooks = kvm_set_hooks,
	.interrupt_window = kvm_interrupt_window,
	.interrupt = kvm_interrupt,
	.idle = kvm_idle,
	.set_debug = kvm_set_debug,
	.save_vcpu = kvm_save_vcpu,
	.load_vcpu = kvm_load_vcpu,
};
