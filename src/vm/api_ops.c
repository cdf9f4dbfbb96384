/*
 * api_ops.c - the control API's operations on a running VM (struct api_ops): what the API
 * server may see and do, expressed with the VM's own parts and handed over in the API's own
 * types.  Every vCPU access goes through the MP interface, the --irqchip mode or vcpu_call,
 * so it happens on that vCPU's thread.  The VM's lifecycle (vm.c) does not know the API.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "mp/mp_break.h"
#include "util/confine.h"
#include "vm/vm_parts.h"

static struct vm *vm_of(void *ctx)
{
	return ctx;
}

static void api_vm_info(void *ctx, struct api_vm_info *out)
{
	struct vm *vm = vm_of(ctx);
	uint64_t now = mp_now_ns();

	*out = (struct api_vm_info){
		.cpus = vm->plat.topo.cpus, .sockets = vm->plat.topo.sockets,
		.cores = vm->plat.topo.cores, .threads = vm->plat.topo.threads,
		.boot_cpu = vm->cfg.boot_cpu, .memory = vm->cfg.mem_size,
		.irqchip = vm->mode->name, .accel = vm->accel->caps.name,
		.guest = vm->cfg.kernel ? vm->cfg.kernel : vm->cfg.guest,
		.state = atomic_load(&vm->stopping) ? "shutting-down" :
			 vm_paused(vm) ? "paused" : "running",
		.uptime_ns = now > vm->t0_ns ? now - vm->t0_ns : 0,
		.console_dropped = serial_dropped(vm->serial),
	};
}

static uint32_t api_ncpus(void *ctx)
{
	return vm_of(ctx)->nvcpus;
}

struct rip_read {
	struct vcpu *v;
	struct x86_regs regs;
	int ret;
};

static void read_regs_on_thread(void *arg)
{
	struct rip_read *r = arg;

	r->ret = r->v->env->cpu->get_regs(r->v->av, &r->regs);
}

/* The vector of the last SIPI this vCPU was sent, from the MP trace. */
static bool last_sipi_vector(struct vm *vm, uint32_t id, uint8_t *vector)
{
	enum { MAX = 256 };
	struct trace_event *ev = malloc(MAX * sizeof(*ev));
	bool found = false;

	if (!ev)
		return false;
	size_t n = trace_copy(mp_trace(vm->mp), id, ev, MAX);
	for (size_t i = n; i-- > 0 && !found;) {
		if (ev[i].kind == TRACE_SIPI) {
			*vector = ev[i].vector;
			found = true;
		}
	}
	free(ev);
	return found;
}

static enum api_status api_vcpu_info(void *ctx, uint32_t id, struct api_vcpu_info *out,
				     char *err, size_t errlen)
{
	struct vm *vm = vm_of(ctx);
	struct vcpu *v = &vm->vcpus[id];
	struct rip_read r = { .v = v };

	memset(out, 0, sizeof(*out));
	out->id = id;
	out->apic_id = v->apic_id;
	out->is_bsp = v->bsp;
	out->mp_state_known = mp_get(vm->mp, id, &out->mp_state) == 0;
	out->rip_known = vcpu_call(v, read_regs_on_thread, &r) == 0 && r.ret == 0;
	out->rip = r.regs.rip;
	out->sipi_vector_known = last_sipi_vector(vm, id, &out->sipi_vector);
	_Static_assert(ACCEL_EXIT_KINDS <= API_MAX_COUNTS && INSN_KINDS <= API_MAX_COUNTS,
		       "API_MAX_COUNTS");
	for (unsigned k = 0; k < ACCEL_EXIT_KINDS; k++)
		out->exits[k] = (struct api_count){ accel_exit_name((enum accel_exit_kind)k),
						    atomic_load(&v->exits[k]) };
	out->nexits = ACCEL_EXIT_KINDS;
	for (unsigned k = 0; k < INSN_KINDS; k++)
		out->carried[k] = (struct api_count){ insn_kind_name((enum insn_kind)k),
						      atomic_load(&v->carried[k]) };
	out->ncarried = INSN_KINDS;
	if (!out->mp_state_known && atomic_load(&vm->stopping)) {
		snprintf(err, errlen, "the VM is shutting down");
		return API_CONFLICT;
	}
	return API_OK;
}

struct regs_read {
	struct vcpu *v;
	struct api_vcpu_regs *out;
	int ret;
};

static void read_all_regs_on_thread(void *arg)
{
	struct regs_read *r = arg;
	const struct accel_cpu_ops *ops = r->v->env->cpu;

	r->ret = ops->get_regs(r->v->av, &r->out->regs);
	if (r->ret == 0)
		r->ret = ops->get_sregs(r->v->av, &r->out->sregs);
	struct accel_events e;
	r->out->events_known = r->ret == 0 && ops->get_events && ops->get_events(r->v->av, &e) == 0;
	if (r->out->events_known)
		r->out->events = (struct api_events){
			.irq_injected = e.irq_injected, .irq_vector = e.irq_vector,
			.irq_shadow = e.irq_shadow, .nmi_injected = e.nmi_injected,
			.nmi_pending = e.nmi_pending, .nmi_masked = e.nmi_masked,
			.exc_injected = e.exc_injected, .exc_vector = e.exc_vector,
		};
}

static enum api_status api_vcpu_regs(void *ctx, uint32_t id, struct api_vcpu_regs *out,
				     char *err, size_t errlen)
{
	struct vm *vm = vm_of(ctx);
	struct regs_read r = { .v = &vm->vcpus[id], .out = out, .ret = -1 };

	memset(out, 0, sizeof(*out));
	if (vcpu_call(r.v, read_all_regs_on_thread, &r) < 0 || r.ret < 0) {
		snprintf(err, errlen, atomic_load(&vm->stopping) ? "the VM is shutting down" :
			 "cannot read vCPU %u's registers", id);
		return atomic_load(&vm->stopping) ? API_CONFLICT : API_FAILED;
	}
	return API_OK;
}

/* The local APIC where it is: mpvmm's model, or the accelerator's, read on the vCPU's thread. */
static enum api_status api_vcpu_lapic(void *ctx, uint32_t id, struct api_lapic *out,
				      char *err, size_t errlen)
{
	struct vm *vm = vm_of(ctx);
	struct accel_lapic l;

	_Static_assert(API_LAPIC_REGS == ACCEL_LAPIC_REGS, "the xAPIC page's 64 registers");
	memset(out, 0, sizeof(*out));
	if (!vm->mode->lapic) {
		snprintf(err, errlen, "this VM has no local APIC to show");
		return API_NOT_FOUND;
	}
	if (vm->mode->lapic(vm->ic, id, &l) == 0) {
		memcpy(out->reg, l.reg, sizeof(out->reg));
		return API_OK;
	}
	snprintf(err, errlen, atomic_load(&vm->stopping) ? "the VM is shutting down" :
		 "cannot read vCPU %u's local APIC", id);
	return atomic_load(&vm->stopping) ? API_CONFLICT : API_FAILED;
}

static enum api_status send(struct vm *vm, uint32_t id, enum irqchip_ipi kind, uint8_t vector,
			    char *err, size_t errlen)
{
	if (atomic_load(&vm->stopping)) {
		snprintf(err, errlen, "the VM is shutting down");
		return API_CONFLICT;
	}
	if (vm->mode->send(vm->ic, id, kind, vector) < 0) {
		snprintf(err, errlen, "cannot deliver the %s: %s",
			 kind == IRQCHIP_INIT ? "INIT" : "SIPI", strerror(errno));
		return API_FAILED;
	}
	return API_OK;
}

static enum api_status api_send_init(void *ctx, uint32_t id, char *err, size_t errlen)
{
	return send(vm_of(ctx), id, IRQCHIP_INIT, 0, err, errlen);
}

static enum api_status api_send_sipi(void *ctx, uint32_t id, uint8_t vector, char *err,
				     size_t errlen)
{
	return send(vm_of(ctx), id, IRQCHIP_STARTUP, vector, err, errlen);
}

/*
 * With KVM's in-kernel APIC, KVM_SET_MP_STATE(INIT_RECEIVED) alone would leave the vCPU's
 * registers as they were (say, in long mode), and the SIPI that follows only loads CS:IP:
 * an AP waiting for its SIPI must have been reset.  So INIT_RECEIVED is reached by a real
 * INIT, which resets the vCPU as the SDM describes (Vol. 3A, 8.4.1 and table 9-1).
 */
static enum api_status api_set_mp_state(void *ctx, uint32_t id, enum mp_state s, char *err,
					size_t errlen)
{
	struct vm *vm = vm_of(ctx);

	if (s == MP_STATE_INIT_RECEIVED && !vm->vcpus[id].bsp)
		return send(vm, id, IRQCHIP_INIT, 0, err, errlen);
	if (s == MP_STATE_INIT_RECEIVED && vm->vcpus[id].bsp) {
		snprintf(err, errlen, "an INIT restarts the BSP at the reset vector, where this VM "
			 "has no firmware: refused");
		return API_BAD_REQUEST;
	}
	if (mp_set(vm->mp, id, s) < 0) {
		int e = errno;
		snprintf(err, errlen, "%s refused %s for vCPU %u: %s", vm->accel->caps.name,
			 mp_state_name(s), id, strerror(e));
		return e == EINVAL ? API_BAD_REQUEST : e == ESRCH ? API_CONFLICT : API_FAILED;
	}
	return API_OK;
}

static enum api_status api_pause(void *ctx, char *err, size_t errlen)
{
	switch (vm_pause(vm_of(ctx))) {
	case 0:
		return API_OK;
	case -1:
		snprintf(err, errlen, "the VM is shutting down");
		return API_CONFLICT;
	}
	snprintf(err, errlen, "the vCPUs did not all stop within %d s; the VM runs on",
		 VM_PAUSE_TIMEOUT_S);
	return API_FAILED;
}

static enum api_status api_resume(void *ctx, char *err, size_t errlen)
{
	if (vm_resume(vm_of(ctx)) < 0) {
		snprintf(err, errlen, "the VM is shutting down");
		return API_CONFLICT;
	}
	return API_OK;
}

static enum api_status api_shutdown(void *ctx, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	vm_stop(vm_of(ctx), 0, "shut down through the control API");
	return API_OK;
}

/* With --snapshot-dir, a snapshot's files go there or nowhere. */
static enum api_status confined(const struct vm *vm, const char *path, char *err, size_t errlen)
{
	if (!vm->cfg.snapshot_dir || !path)
		return API_OK;
	switch (confine_check(vm->cfg.snapshot_dir, path, err, errlen)) {
	case CONFINE_INSIDE:
		return API_OK;
	case CONFINE_OUTSIDE:
		return API_FORBIDDEN;
	case CONFINE_UNRESOLVED:
		break;
	}
	return API_BAD_REQUEST;
}

static enum api_status api_snapshot(void *ctx, const char *path, const char *memory_path,
				    bool resume, char *err, size_t errlen)
{
	struct vm *vm = vm_of(ctx);
	enum api_status st = confined(vm, path, err, errlen);

	if (st == API_OK)
		st = confined(vm, memory_path, err, errlen);
	if (st != API_OK)
		return st;
	if (vm_snapshot(vm, path, memory_path, resume, err, errlen) < 0)
		return atomic_load(&vm->stopping) ? API_CONFLICT : API_FAILED;
	return API_OK;
}

static enum api_status api_get_breaks(void *ctx, struct api_breaks *out, char *err,
				      size_t errlen)
{
	struct vm *vm = vm_of(ctx);
	struct mp_break_hit h;

	(void)err;
	(void)errlen;
	memset(out, 0, sizeof(*out));
	out->has_last = vm_breaks(vm, out->armed, sizeof(out->armed), &h);
	if (!out->has_last)
		return API_OK;
	const struct mp_cpu *c = mp_cpu(vm->mp, h.cpu);
	out->last = (struct api_break){
		.seq = h.seq, .event = mp_break_event_name(h.event), .vcpu = h.cpu,
		.apic_id = c ? c->apic_id : 0, .from_vcpu = h.from != MP_BREAK_OUTSIDE,
		.from = h.from, .vector = h.vector,
		.state = h.state >= 0 ? mp_state_name((enum mp_state)h.state) : NULL,
		.exact = h.exact,
	};
	return API_OK;
}

static enum api_status api_set_breaks(void *ctx, const char *spec, char *err, size_t errlen)
{
	return vm_set_breaks(vm_of(ctx), spec, err, errlen) < 0 ? API_BAD_REQUEST : API_OK;
}

static struct mp *api_mp(void *ctx)
{
	return vm_of(ctx)->mp;
}

void vm_api_ops(struct vm *vm, struct api_ops *ops)
{
	*ops = (struct api_ops){
		.ctx = vm,
		.vm_info = api_vm_info,
		.ncpus = api_ncpus,
		.vcpu_info = api_vcpu_info,
		.vcpu_regs = api_vcpu_regs,
		.vcpu_lapic = api_vcpu_lapic,
		.set_mp_state = api_set_mp_state,
		.send_init = api_send_init,
		.send_sipi = api_send_sipi,
		.pause = api_pause,
		.resume = api_resume,
		.shutdown = api_shutdown,
		.snapshot = api_snapshot,
		.get_breaks = api_get_breaks,
		.set_breaks = api_set_breaks,
		.mp = api_mp,
	};
}
