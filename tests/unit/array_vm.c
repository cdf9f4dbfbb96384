/*
 * array_vm.c - see array_vm.h.  The MP backend is an array of states behind a mutex (the
 * API calls it from several threads at once); `exec` runs the function on the caller's
 * thread, as there are no vCPU threads.
 */
#include "array_vm.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct backend_ctx {
	struct array_vm *vm;
	uint32_t cpu;
};

static int be_get(void *ctx, enum mp_state *out)
{
	struct backend_ctx *b = ctx;

	pthread_mutex_lock(&b->vm->lock);
	*out = b->vm->cpus[b->cpu].state;
	pthread_mutex_unlock(&b->vm->lock);
	return 0;
}

static int be_set(void *ctx, enum mp_state s)
{
	struct backend_ctx *b = ctx;

	pthread_mutex_lock(&b->vm->lock);
	b->vm->cpus[b->cpu].state = s;
	pthread_mutex_unlock(&b->vm->lock);
	return 0;
}

static const struct mp_backend array_backend = { "array", true, be_get, be_set };

static int exec_here(void *ctx, uint32_t cpu, void (*fn)(void *), void *arg)
{
	fn(arg);
	return 0;
}

/* ---- the VM's side of the API ------------------------------------------------------- */

static void vm_info(void *ctx, struct api_vm_info *out)
{
	struct array_vm *vm = ctx;

	pthread_mutex_lock(&vm->lock);
	*out = (struct api_vm_info){
		.cpus = vm->ncpus, .sockets = 1, .cores = vm->ncpus, .threads = 1,
		.boot_cpu = vm->boot_cpu, .memory = 256ull << 20, .irqchip = "array",
		.accel = "none", .guest = "none", .state = vm->state,
		.uptime_ns = mp_now_ns() - vm->t0_ns,
	};
	pthread_mutex_unlock(&vm->lock);
}

static uint32_t ncpus(void *ctx)
{
	return ((struct array_vm *)ctx)->ncpus;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static enum api_status vcpu_info(void *ctx, uint32_t id, struct api_vcpu_info *out, char *err,
				 size_t errlen)
{
	struct array_vm *vm = ctx;
	enum mp_state s;

	if (vm->delay_ms)
		sleep_ms(vm->delay_ms);
	if (mp_get(vm->mp, id, &s) < 0) {
		snprintf(err, errlen, "vCPU %u: %s", id, strerror(errno));
		return API_FAILED;
	}
	pthread_mutex_lock(&vm->lock);
	const struct array_vm_cpu *c = &vm->cpus[id];
	*out = (struct api_vcpu_info){
		.id = id, .apic_id = mp_cpu(vm->mp, id)->apic_id, .is_bsp = id == vm->boot_cpu,
		.mp_state_known = true, .mp_state = s, .rip_known = s == MP_STATE_RUNNABLE,
		.rip = 0xffffffff80000000ull + id, .sipi_vector_known = c->sipi_vector >= 0,
		.sipi_vector = (uint8_t)c->sipi_vector,
	};
	for (unsigned k = 0; k < ACCEL_EXIT_KINDS; k++)
		out->exits[k] = (struct api_count){ accel_exit_name((enum accel_exit_kind)k),
						    c->exits[k] };
	out->nexits = ACCEL_EXIT_KINDS;
	for (unsigned k = 0; k < INSN_KINDS; k++)
		out->carried[k] = (struct api_count){ insn_kind_name((enum insn_kind)k),
						      c->carried[k] };
	out->ncarried = INSN_KINDS;
	pthread_mutex_unlock(&vm->lock);
	return API_OK;
}

/* Registers a test can predict from the id: RIP = 0xffffffff80000000 + id, CS 0x10. */
static enum api_status vcpu_regs(void *ctx, uint32_t id, struct api_vcpu_regs *out, char *err,
				 size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->regs.rip = 0xffffffff80000000ull + id;
	out->regs.rflags = 0x246;
	out->sregs.cr3 = 0x1000ull * (id + 1);
	out->sregs.cs = (struct x86_segment){ .selector = 0x10, .l = 1, .limit = 0xffffffff };
	out->events_known = id != 0; /* vCPU 0's accelerator reports no events */
	out->events.irq_shadow = true;
	return API_OK;
}

/* A local APIC with vector 0xfb (Linux's CALL_FUNCTION) pending in IRR and 0xec in service. */
static enum api_status vcpu_lapic(void *ctx, uint32_t id, struct api_lapic *out, char *err,
				  size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->reg[0x02] = id << 24;      /* ID */
	out->reg[0x0a] = 0xe0;          /* PPR */
	out->reg[0x10 + 0xec / 32] |= 1u << (0xec % 32); /* ISR */
	out->reg[0x20 + 0xfb / 32] |= 1u << (0xfb % 32); /* IRR */
	out->reg[0x32] = 0x400ec;       /* LVT timer: TSC-deadline, vector 0xec */
	out->reg[0x38] = 1000;          /* timer initial count */
	return API_OK;
}

static bool shutting_down(struct array_vm *vm, char *err, size_t errlen)
{
	pthread_mutex_lock(&vm->lock);
	bool down = !strcmp(vm->state, "shutting-down");
	pthread_mutex_unlock(&vm->lock);
	if (down)
		snprintf(err, errlen, "the VM is shutting down");
	return down;
}

static enum api_status set_mp_state(void *ctx, uint32_t id, enum mp_state s, char *err,
				    size_t errlen)
{
	struct array_vm *vm = ctx;

	if (shutting_down(vm, err, errlen))
		return API_CONFLICT;
	if (s == MP_STATE_SIPI_RECEIVED) {
		snprintf(err, errlen, "SIPI_RECEIVED cannot be set: send a SIPI");
		return API_BAD_REQUEST;
	}
	return mp_set(vm->mp, id, s) == 0 ? API_OK : API_FAILED;
}

static enum api_status send_init(void *ctx, uint32_t id, char *err, size_t errlen)
{
	struct array_vm *vm = ctx;

	if (shutting_down(vm, err, errlen))
		return API_CONFLICT;
	mp_note_ipi(vm->mp, TRACE_INIT, vm->boot_cpu, id, 0, TRACE_EXACT);
	return mp_set(vm->mp, id, MP_STATE_INIT_RECEIVED) == 0 ? API_OK : API_FAILED;
}

static enum api_status send_sipi(void *ctx, uint32_t id, uint8_t vector, char *err,
				 size_t errlen)
{
	struct array_vm *vm = ctx;
	enum mp_state s;

	if (shutting_down(vm, err, errlen))
		return API_CONFLICT;
	if (mp_get(vm->mp, id, &s) < 0)
		return API_FAILED;
	if (s != MP_STATE_INIT_RECEIVED) {
		snprintf(err, errlen, "vCPU %u is %s, not waiting for a SIPI", id, mp_state_name(s));
		return API_CONFLICT;
	}
	mp_note_ipi(vm->mp, TRACE_SIPI, vm->boot_cpu, id, vector, TRACE_EXACT);
	pthread_mutex_lock(&vm->lock);
	vm->cpus[id].sipi_vector = vector;
	pthread_mutex_unlock(&vm->lock);
	return mp_set(vm->mp, id, MP_STATE_RUNNABLE) == 0 ? API_OK : API_FAILED;
}

/* Breaks are only armed here: nothing in this VM runs to hit them. */
static enum api_status get_breaks(void *ctx, struct api_breaks *out, char *err, size_t errlen)
{
	struct array_vm *vm = ctx;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&vm->lock);
	mp_break_format(&vm->breaks, out->armed, sizeof(out->armed));
	pthread_mutex_unlock(&vm->lock);
	return API_OK;
}

static enum api_status set_breaks(void *ctx, const char *spec, char *err, size_t errlen)
{
	struct array_vm *vm = ctx;
	struct mp_break_set s;

	if (mp_break_parse(spec, vm->ncpus, &s, err, errlen) < 0)
		return API_BAD_REQUEST;
	pthread_mutex_lock(&vm->lock);
	vm->breaks = s;
	pthread_mutex_unlock(&vm->lock);
	return API_OK;
}

/* Move from state `from` to `to`, or say why not. */
static enum api_status change(struct array_vm *vm, const char *from, const char *to, char *err,
			      size_t errlen)
{
	enum api_status st = API_OK;

	pthread_mutex_lock(&vm->lock);
	if (from && strcmp(vm->state, from)) {
		snprintf(err, errlen, "the VM is %s, not %s", vm->state, from);
		st = API_CONFLICT;
	} else {
		vm->state = to;
	}
	pthread_mutex_unlock(&vm->lock);
	return st;
}

static enum api_status pause_vm(void *ctx, char *err, size_t errlen)
{
	return change(ctx, "running", "paused", err, errlen);
}

static enum api_status resume_vm(void *ctx, char *err, size_t errlen)
{
	return change(ctx, "paused", "running", err, errlen);
}

static enum api_status shutdown_vm(void *ctx, char *err, size_t errlen)
{
	struct array_vm *vm = ctx;

	atomic_fetch_add(&vm->shutdowns, 1);
	return change(vm, NULL, "shutting-down", err, errlen);
}

static struct mp *get_mp(void *ctx)
{
	return ((struct array_vm *)ctx)->mp;
}

/* ---- life ----------------------------------------------------------------------------- */

struct array_vm *array_vm_create(uint32_t n, uint32_t boot_cpu)
{
	struct array_vm *vm = calloc(1, sizeof(*vm));
	struct mp_cpu *desc = calloc(n, sizeof(*desc));
	struct backend_ctx *bctx = calloc(n, sizeof(*bctx));

	vm->ncpus = n;
	vm->boot_cpu = boot_cpu;
	vm->cpus = calloc(n, sizeof(*vm->cpus));
	vm->state = "running";
	vm->t0_ns = mp_now_ns();
	pthread_mutex_init(&vm->lock, NULL);
	for (uint32_t i = 0; i < n; i++) {
		vm->cpus[i].state = i == boot_cpu ? MP_STATE_RUNNABLE : MP_STATE_UNINITIALIZED;
		vm->cpus[i].sipi_vector = -1;
		vm->cpus[i].exits[ACCEL_EXIT_IO] = 10 * i + 1;
		vm->cpus[i].carried[INSN_INT3] = i;
		bctx[i] = (struct backend_ctx){ vm, i };
		/* APIC IDs with gaps, as a 3-core topology packs them. */
		desc[i] = (struct mp_cpu){ .apic_id = i / 3 * 4 + i % 3, .bsp = i == boot_cpu,
					   .backend_ctx = &bctx[i] };
	}
	vm->mp = mp_create(n, desc, &array_backend, exec_here, vm, vm->t0_ns);
	free(desc);
	/* The backend contexts live as long as the VM: keep them with it. */
	vm->ops = (struct api_ops){
		.ctx = vm, .vm_info = vm_info, .ncpus = ncpus, .vcpu_info = vcpu_info,
		.vcpu_regs = vcpu_regs, .vcpu_lapic = vcpu_lapic,
		.set_mp_state = set_mp_state, .send_init = send_init, .send_sipi = send_sipi,
		.pause = pause_vm, .resume = resume_vm, .shutdown = shutdown_vm, .mp = get_mp,
		.get_breaks = get_breaks, .set_breaks = set_breaks,
	};
	for (uint32_t i = 0; i < n; i++)
		mp_observe(vm->mp, i, vm->cpus[i].state, TRACE_EXACT);
	vm->cpus_ctx = bctx;
	return vm;
}

void array_vm_destroy(struct array_vm *vm)
{
	if (!vm)
		return;
	mp_destroy(vm->mp);
	pthread_mutex_destroy(&vm->lock);
	free(vm->cpus_ctx);
	free(vm->cpus);
	free(vm);
}

enum mp_state array_vm_state(struct array_vm *vm, uint32_t cpu)
{
	enum mp_state s;

	be_get(&(struct backend_ctx){ vm, cpu }, &s);
	return s;
}
