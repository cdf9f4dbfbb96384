/*
 * gdb_ops.c - the gdb stub's operations on a VM (struct gdb_target, gdb/gdb_target.h):
 * registers written on each vCPU's thread, guest RAM, breakpoints and steps set on every
 * vCPU's thread through the accelerator's set_debug, one vCPU let through the closed
 * pause gate for a step, and the vCPUs' debug stops: a vCPU that stops closes the gate,
 * kicks the others and tells the stub, which then pauses the VM (vm_pause) to wait for all.
 * The VM's lifecycle (vm.c) does not know the stub.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gdb/gdb_target.h"
#include "mp/mp_break.h"
#include "util/log.h"
#include "vm/vm_parts.h"

static struct vm *vm_of(void *ctx)
{
	return ctx;
}

struct regs_job {
	struct vcpu *v;
	const struct x86_regs *r;
	const struct x86_sregs *s;
	int ret;
};

static void set_regs_on_thread(void *arg)
{
	struct regs_job *j = arg;
	const struct accel_cpu_ops *ops = j->v->env->cpu;

	j->ret = ops->set_sregs(j->v->av, j->s);
	if (j->ret == 0)
		j->ret = ops->set_regs(j->v->av, j->r);
}

static int gdb_set_regs(void *ctx, uint32_t cpu, const struct x86_regs *r,
			const struct x86_sregs *s)
{
	struct vm *vm = vm_of(ctx);
	struct regs_job j = { .r = r, .s = s, .ret = -1 };

	if (cpu >= vm->nvcpus)
		return -1;
	j.v = &vm->vcpus[cpu];
	if (vcpu_call(j.v, set_regs_on_thread, &j) < 0)
		return -1;
	return j.ret;
}

static void *gdb_phys(void *ctx, uint64_t gpa, size_t len)
{
	return guest_mem_ptr(&vm_of(ctx)->mem, gpa, len);
}

struct debug_job {
	struct vcpu *v;
	struct accel_debug d;
	int ret;
	char err[200];
};

static void set_debug_on_thread(void *arg)
{
	struct debug_job *j = arg;

	j->ret = j->v->env->cpu->set_debug(j->v->av, &j->d, j->err, sizeof(j->err));
}

static int gdb_set_debug(void *ctx, const struct accel_debug *d, uint32_t step, char *err,
			 size_t errlen)
{
	struct vm *vm = vm_of(ctx);
	int r = 0;

	if (!vm->accel->cpu->set_debug) {
		snprintf(err, errlen, "%s offers no breakpoints or steps", vm->accel->caps.what);
		return -1;
	}
	for (uint32_t i = 0; i < vm->nvcpus; i++) {
		struct debug_job j = { .v = &vm->vcpus[i], .d = *d, .ret = -1 };
		j.d.step = i == step;
		if (vcpu_call(j.v, set_debug_on_thread, &j) < 0) {
			snprintf(err, errlen, "vCPU %u has ended", i);
			return -1;
		}
		if (j.ret < 0 && r == 0) {
			snprintf(err, errlen, "vCPU %u: %s", i, j.err);
			r = -1;
		}
	}
	return r;
}

static int gdb_step(void *ctx, uint32_t cpu)
{
	struct vm *vm = vm_of(ctx);
	struct vcpu_gate *g = &vm->gate;

	if (cpu >= vm->nvcpus)
		return -1;
	pthread_mutex_lock(&g->lock);
	g->pass = cpu + 1;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	return 0;
}

static void gdb_set_stop_hook(void *ctx, gdb_stop_fn *fn, void *fn_ctx)
{
	struct vm *vm = vm_of(ctx);

	pthread_mutex_lock(&vm->debug_lock);
	vm->debug_stop = fn;
	vm->debug_stop_ctx = fn_ctx;
	pthread_mutex_unlock(&vm->debug_lock);
}

static void gdb_set_break_hook(void *ctx, gdb_break_fn *fn, void *fn_ctx)
{
	struct vm *vm = vm_of(ctx);

	pthread_mutex_lock(&vm->debug_lock);
	vm->debug_break = fn;
	vm->debug_break_ctx = fn_ctx;
	pthread_mutex_unlock(&vm->debug_lock);
}

/* A break listener (vm_on_break): the VM paused for an MP event; the debugger hears of it. */
static void mp_break_to_gdb(void *ctx, const struct mp_break_hit *h)
{
	struct vm *vm = ctx;
	const struct mp_cpu *c = mp_cpu(vm->mp, h->cpu);
	char what[160];

	mp_break_describe(h, c ? c->apic_id : 0, h->state >= 0 ? mp_state_name(h->state) : NULL,
			  what, sizeof(what));
	pthread_mutex_lock(&vm->debug_lock);
	if (vm->debug_break)
		vm->debug_break(vm->debug_break_ctx, h->cpu, what);
	pthread_mutex_unlock(&vm->debug_lock);
}

static void gdb_kill(void *ctx)
{
	vm_stop(vm_of(ctx), 0, "killed by gdb");
}

static bool gdb_ended(void *ctx, int *status)
{
	struct vm *vm = vm_of(ctx);

	pthread_mutex_lock(&vm->stop_lock);
	bool ended = vm->stopped;
	*status = vm->status;
	pthread_mutex_unlock(&vm->stop_lock);
	return ended;
}

/*
 * ACCEL_EXIT_DEBUG on vCPU `cpu`'s thread: close the gate (the vCPU parks at it as soon as
 * this returns), make the others leave the guest, tell the debugger.  With no debugger
 * (it just left), the VM runs on.
 */
void vm_debug_exit(void *ctx, uint32_t cpu, const struct accel_exit *e)
{
	struct vm *vm = vm_of(ctx);
	struct vcpu_gate *g = &vm->gate;

	pthread_mutex_lock(&vm->debug_lock);
	gdb_stop_fn *fn = vm->debug_stop;
	if (fn) {
		pthread_mutex_lock(&g->lock);
		g->closed = true;
		g->pass = 0;
		pthread_mutex_unlock(&g->lock);
		for (uint32_t i = 0; i < vm->nvcpus; i++)
			if (i != cpu)
				vcpu_kick(&vm->vcpus[i]);
		fn(vm->debug_stop_ctx, cpu, e);
	}
	pthread_mutex_unlock(&vm->debug_lock);
}

int vm_gdb_target(struct vm *vm, struct gdb_target *t, const struct api_ops *api)
{
	const struct accel_caps *c = &vm->accel->caps;

	*t = (struct gdb_target){
		.ctx = vm, .api = api, .set_regs = gdb_set_regs, .phys = gdb_phys,
		.exec_bps = c->debug_exec_bps, .watch = c->debug_watch,
		.why_not = c->debug_why_not ? c->debug_why_not : "not offered",
		.set_debug = gdb_set_debug, .step = gdb_step,
		.set_stop_hook = gdb_set_stop_hook, .set_break_hook = gdb_set_break_hook,
		.kill = gdb_kill, .ended = gdb_ended,
	};
	return vm_on_break(vm, mp_break_to_gdb, vm);
}
