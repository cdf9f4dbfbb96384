/*
 * vcpu.c - see vcpu.h.  The loop: serve requests, run, count the exit, hand it to whoever
 * owns it (buses for I/O and MMIO, the VM for shutdown and errors), until the VM stops.
 */
#include "vcpu/vcpu.h"

#include <cpuid.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "vcpu/vcpu_user.h"
#include "x86/emulate.h"

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
		v->env->ops->destroy_vcpu(v->av);
	v->av = NULL;
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	pthread_mutex_destroy(&v->call_lock);
}

void vcpu_kick(struct vcpu *v)
{
	v->env->ops->kick(v->av);
	if (v->env->user)
		vcpu_user_kick(v); /* it may be waiting to become runnable */
}

int vcpu_gate_init(struct vcpu_gate *g)
{
	g->closed = false;
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
	bool closed = g->closed;
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
	while (g->closed && !atomic_load(v->env->stopping) && !atomic_load(&v->req_pending))
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
	const struct accel_ops *ops = v->env->ops;

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

/* Copy up to n instruction bytes at the guest's CS:RIP, one page at a time. */
static size_t fetch_insn(struct vcpu *v, uint64_t linear, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		uint64_t gpa;
		if (v->env->ops->translate(v->av, linear + got, &gpa) < 0)
			break;
		size_t in_page = 4096 - ((linear + got) & 4095);
		size_t chunk = n - got < in_page ? n - got : in_page;
		const uint8_t *src = guest_mem_ptr(v->env->mem, gpa, chunk);
		if (!src)
			break;
		memcpy(buf + got, src, chunk);
		got += chunk;
	}
	return got;
}

/* KVM's emulation-failure exit: data[0] flags, then insn_size and 15 bytes (api.rst). */
#define EMULATION_FLAG_INSN_BYTES 1ull

static size_t insn_bytes(struct vcpu *v, const struct accel_exit *e, const struct x86_regs *r,
			 const struct x86_sregs *s, uint8_t *buf)
{
	if (e->internal.ndata >= 3 && (e->internal.data[0] & EMULATION_FLAG_INSN_BYTES)) {
		uint8_t raw[16];
		memcpy(raw, &e->internal.data[1], sizeof(raw));
		size_t n = raw[0] <= INSN_MAX_LEN ? raw[0] : INSN_MAX_LEN;
		if (n) {
			memcpy(buf, raw + 1, n);
			return n;
		}
	}
	return fetch_insn(v, s->cs.base + r->rip, buf, INSN_MAX_LEN);
}

/*
 * Guest memory for the emulator (x86/emulate.h): a linear range of at most 16 bytes, through
 * the vCPU's paging, as up to two host pieces (it may cross one page boundary).  Every page
 * is translated before any byte is touched, so a fault leaves memory unchanged.
 */
static int map_linear(struct vcpu *v, uint64_t linear, size_t n, uint8_t *host[2],
		      size_t len[2], uint64_t *fault)
{
	size_t first = 4096 - (linear & 4095);

	len[0] = n < first ? n : first;
	len[1] = n - len[0];
	for (int i = 0; i < 2 && len[i]; i++) {
		uint64_t lin = linear + (i ? len[0] : 0), gpa;
		if (v->env->ops->translate(v->av, lin, &gpa) < 0) {
			*fault = lin;
			return EMU_MEM_FAULT;
		}
		host[i] = guest_mem_ptr(v->env->mem, gpa, len[i]);
		if (!host[i])
			return EMU_MEM_UNSUPPORTED; /* MMIO: not carried */
	}
	return EMU_MEM_OK;
}

static int emu_read(void *ctx, uint64_t linear, void *buf, size_t n, uint64_t *fault)
{
	uint8_t *host[2] = { NULL, NULL };
	size_t len[2];
	int r = map_linear(ctx, linear, n, host, len, fault);

	if (r == EMU_MEM_OK) {
		memcpy(buf, host[0], len[0]);
		if (len[1])
			memcpy((uint8_t *)buf + len[0], host[1], len[1]);
	}
	return r;
}

static int emu_write(void *ctx, uint64_t linear, const void *buf, size_t n, uint64_t *fault)
{
	uint8_t *host[2] = { NULL, NULL };
	size_t len[2];
	int r = map_linear(ctx, linear, n, host, len, fault);

	if (r == EMU_MEM_OK) {
		memcpy(host[0], buf, len[0]);
		if (len[1])
			memcpy(host[1], (const uint8_t *)buf + len[0], len[1]);
	}
	return r;
}

/*
 * CMPXCHG16B is performed, not hidden: CPUID.CX16 can be cleared on some hosts (PVM honours
 * it) but not all, and guests may require it.  An aligned 16-byte operand never crosses a
 * page, so it is one host location, and a host LOCK CMPXCHG16B there is atomic against every
 * other vCPU's locked access to the same RAM, whether the CPU or KVM's emulator does it.
 */
static int emu_cmpxchg16(void *ctx, uint64_t linear, uint64_t old[2], const uint64_t new_[2],
			 bool *swapped, uint64_t *fault)
{
	uint8_t *host[2] = { NULL, NULL };
	size_t len[2];
	int r = map_linear(ctx, linear, 16, host, len, fault);

	if (r == EMU_MEM_OK && (len[1] || ((uintptr_t)host[0] & 15)))
		return EMU_MEM_UNSUPPORTED; /* the emulator checked alignment: cannot happen */
	if (r == EMU_MEM_OK)
		emu_host_cmpxchg16(host[0], old, new_, swapped);
	return r;
}

#define FEATURES_KNOWN (1u << 31)

/*
 * The CPUID features that decide what a carried instruction does.  Instructions reach mpvmm
 * only where the host's KVM cannot emulate them (PVM), and there leaf 1 ECX (POPCNT) and
 * leaf 7 (SMAP, BMI1) are the host's whatever mpvmm's table says: the host's CPUID is what
 * the guest sees.
 */
static uint32_t carried_features(void)
{
	static _Atomic uint32_t known; /* features | FEATURES_KNOWN: CPUID is slow in a VM */
	unsigned a, b, c, d;
	uint32_t f = atomic_load_explicit(&known, memory_order_relaxed);

	if (f & FEATURES_KNOWN)
		return f & ~FEATURES_KNOWN;
	f = 0;
	if (__get_cpuid_count(1, 0, &a, &b, &c, &d)) {
		f |= (c & (1u << 23) ? EMU_FEAT_POPCNT : 0) | (c & (1u << 13) ? EMU_FEAT_CX16 : 0);
		f |= d & (1u << 25) ? EMU_FEAT_SSE : 0;
	}
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
		f |= (b & (1u << 3) ? EMU_FEAT_BMI1 : 0) | (b & (1u << 20) ? EMU_FEAT_SMAP : 0);
	if (__get_cpuid_count(0x80000001u, 0, &a, &b, &c, &d))
		f |= c & (1u << 5) ? EMU_FEAT_LZCNT : 0;
	atomic_store_explicit(&known, f | FEATURES_KNOWN, memory_order_relaxed);
	return f;
}

/* Code size from CR0.PE, CS.L (with EFER.LMA) and CS.D (SDM Vol. 3A, 5.2.1). */
static enum insn_mode code_mode(const struct x86_sregs *s)
{
	if (!(s->cr0 & X86_CR0_PE))
		return INSN_MODE_16;
	if (s->cs.l && (s->efer & X86_EFER_LMA))
		return INSN_MODE_64;
	return s->cs.db ? INSN_MODE_32 : INSN_MODE_16;
}

static void report_uncarried(struct vcpu *v, uint64_t rip, const uint8_t *bytes, size_t n,
			     const struct insn *in)
{
	char hex[3 * INSN_MAX_LEN + 1] = "unreadable", name[96] = "undecodable";

	if (in)
		n = in->len; /* the instruction, not what follows it */
	for (size_t i = 0, at = 0; i < n; i++)
		at += (size_t)snprintf(hex + at, sizeof(hex) - at, i ? " %02x" : "%02x", bytes[i]);
	if (in)
		insn_format(in, name, sizeof(name));
	log_error("vCPU %u: the host's KVM cannot emulate the instruction at rip=%llx "
		  "(bytes %s: %s) and mpvmm does not carry it", v->index, (unsigned long long)rip,
		  hex, name);
}

/* Put back what the emulator changed, then the event it raised (if any). */
static int write_back(struct vcpu *v, const struct emu_cpu *c, const struct emu_event *ev)
{
	const struct accel_ops *ops = v->env->ops;

	if (ops->set_regs(v->av, &c->regs) < 0)
		return -1;
	if (c->sregs_dirty && ops->set_sregs(v->av, &c->sregs) < 0)
		return -1;
	if (c->fpu_dirty && ops->set_fpu(v->av, &c->fpu) < 0)
		return -1;
	if (!ev->pending)
		return 0;
	if (ev->has_error_code)
		return ops->inject_error(v->av, ev->vector, ev->error_code);
	return ops->inject(v->av, ev->vector, ev->soft_int);
}

/*
 * Some KVMs (PVM, or KVM emulating for lack of unrestricted guest) cannot emulate some
 * instructions.  mpvmm performs the ones x86/emulate.c knows on the vCPU's registers and
 * memory and delivers what they raise, exactly as the CPU would have; any other is reported
 * (bytes and name) and ends the run.
 */
static bool carry_instruction(struct vcpu *v, const struct accel_exit *e)
{
	const struct accel_ops *ops = v->env->ops;
	struct emu_cpu c = { .mxcsr_mask = X86_MXCSR_DEFAULT_MASK };
	const struct emu_mem mem = { .ctx = v, .read = emu_read, .write = emu_write,
				     .cmpxchg16 = emu_cmpxchg16 };
	uint8_t bytes[INSN_MAX_LEN];
	struct insn in;
	struct emu_event ev;

	if (e->internal.suberror != ACCEL_INTERNAL_EMULATION)
		return false;
	if (ops->get_regs(v->av, &c.regs) < 0 || ops->get_sregs(v->av, &c.sregs) < 0)
		return false;
	size_t n = insn_bytes(v, e, &c.regs, &c.sregs, bytes);
	bool decoded = insn_decode_mode(bytes, n, code_mode(&c.sregs), &in) == 0;
	c.features = carried_features();
	if (!decoded || in.kind >= INSN_KINDS ||
	    (emu_needs_fpu(&in) && ops->get_fpu(v->av, &c.fpu) < 0) ||
	    emulate(&in, &c, &mem, &ev) != EMU_DONE) {
		report_uncarried(v, c.regs.rip, bytes, n, decoded ? &in : NULL);
		return false;
	}
	if (write_back(v, &c, &ev) < 0)
		return false;
	atomic_fetch_add_explicit(&v->carried[in.kind], 1, memory_order_relaxed);
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
	case ACCEL_EXIT_HLT:
	case ACCEL_EXIT_INTERRUPTED:
		break; /* HLT only reaches us without an in-kernel irqchip */
	case ACCEL_EXIT_EOI:
		if (v->env->irqchip)
			chipset_eoi(v->env->irqchip, e->eoi.vector);
		break;
	case ACCEL_EXIT_RDMSR:
	case ACCEL_EXIT_WRMSR:
		if (v->env->user)
			vcpu_user_msr(v, e);
		else
			*e->msr.error = 1; /* nobody else asks for MSR exits: #GP(0) */
		break;
	case ACCEL_EXIT_SHUTDOWN:
		dump_state(v);
		stop_vm(v, VCPU_STATUS_TRIPLE_FAULT, "vCPU %u (APIC ID %u): triple fault",
			v->index, v->apic_id);
		break;
	case ACCEL_EXIT_SYSTEM_EVENT:
		stop_vm(v, 0, "vCPU %u: guest asked for system event %u", v->index,
			e->system_event.type);
		break;
	case ACCEL_EXIT_EXCEPTION:
		dump_state(v);
		stop_vm(v, VCPU_STATUS_GUEST_FAULT, "vCPU %u (APIC ID %u): guest exception %d "
			"(%s) at rip=%llx; the software CPU does not deliver exceptions through the "
			"guest's IDT", v->index, v->apic_id, e->exception.vector, e->exception.what,
			(unsigned long long)e->exception.rip);
		break;
	case ACCEL_EXIT_INTERNAL:
		if (carry_instruction(v, e))
			break;
		dump_state(v);
		stop_vm(v, VCPU_STATUS_VMM_ERROR, "vCPU %u: KVM internal error, suberror %u",
			v->index, e->internal.suberror);
		break;
	default:
		dump_state(v);
		stop_vm(v, VCPU_STATUS_VMM_ERROR, "vCPU %u: unexpected exit '%s' (reason %u, "
			"detail 0x%llx)", v->index, accel_exit_name(e->kind), e->other.reason,
			(unsigned long long)e->other.detail);
		break;
	}
}

void vcpu_exit(struct vcpu *v, const struct accel_exit *e)
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

/*
 * --irqchip split, the BSP before each entry: the 8259A's INTR is injected as an ExtINT
 * (KVM_INTERRUPT) once the kernel's local APIC would take it, else an interrupt window is
 * asked for.  The PIC's INTR reaches only the BSP, as in QEMU.
 */
static bool split_enter(void *ctx)
{
	struct vcpu *v = ctx;
	const struct accel_ops *ops = v->env->ops;

	if (!chipset_intr(v->env->irqchip) || !ops->interrupt_window(v->av, true))
		return true;
	if (ops->interrupt(v->av, (uint8_t)chipset_ack(v->env->irqchip), false) == 0)
		return true;
	stop_vm(v, VCPU_STATUS_VMM_ERROR, "vCPU %u: cannot inject the 8259A's interrupt",
		v->index);
	return false;
}

static int thread_init(struct vcpu *v)
{
	const struct accel_ops *ops = v->env->ops;
	const struct accel_vcpu_hooks split = { .enter = split_enter, .ctx = v };

	if (ops->thread_init(v->av) < 0)
		return -1;
	if (v->env->user)
		return vcpu_user_thread_init(v);
	if (v->env->irqchip && v->bsp)
		return ops->set_hooks(v->av, &split);
	return 0;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	const struct accel_ops *ops = v->env->ops;
	struct accel_exit e;

	current_vcpu = v;
	if (thread_init(v) < 0) {
		stop_vm(v, VCPU_STATUS_VMM_ERROR, "vCPU %u: cannot set up its thread", v->index);
		finish(v);
		return NULL;
	}
	record_own_state(v);
	while (!atomic_load(v->env->stopping)) {
		serve_request(v);
		if (gate_closed(v)) {
			park(v);
			continue;
		}
		if (v->env->user) {
			vcpu_user_run(v);
			continue;
		}
		if (ops->run(v->av, &e) < 0) {
			stop_vm(v, VCPU_STATUS_VMM_ERROR, "vCPU %u: cannot run: %s", v->index,
				strerror(errno));
			break;
		}
		vcpu_exit(v, &e);
	}
	if (v->env->user)
		vcpu_user_thread_exit(v);
	record_own_state(v);
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
