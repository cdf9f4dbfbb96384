/*
 * breaks.c - the VM's side of breaks on MP events (mp/mp_break.h): the armed set from the
 * configuration or the API, checked against what the --irqchip mode can see; a hit kicks
 * every vCPU out of the guest; the first vCPU thread to come by takes it, pauses the whole
 * VM as POST /vm/pause does, says so on stderr and tells the listeners (vm_on_break).  Which
 * events match is mp_break's business, not this file's.
 */
#include "vm/vm_parts.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mp/mp_break.h"
#include "util/log.h"

/* A hit was queued, maybe under the APIC bus's and mp_user's locks: only kick. */
static void kick_all(void *ctx)
{
	struct vm *vm = ctx;

	if (atomic_load(&vm->stopping))
		return; /* every vCPU leaves for good; at teardown they may be gone */
	for (uint32_t i = 0; i < vm->nvcpus; i++)
		vm->accel->cpu->kick(vm->vcpus[i].av);
}

/*
 * On vCPU `cpu`'s thread, between two runs, when a hit is queued.  One thread at a time
 * pauses for one (trylock: another vCPU pausing for a break waits for this one to park, so
 * it must not wait here).  The hit is taken off the queue only once the VM is paused: until
 * then every vCPU sees it queued and does not enter the guest, so nothing runs between the
 * event and the pause.  None is taken while the VM is paused: each resume shows the next.
 */
static void take_break(void *ctx, uint32_t cpu)
{
	struct vm *vm = ctx;
	struct mp_break_hit h;
	char what[160];

	(void)cpu;
	if (pthread_mutex_trylock(&vm->break_lock))
		return;
	if (vm_paused(vm) || vm_pause(vm) < 0) {
		pthread_mutex_unlock(&vm->break_lock); /* stopping, or not all parked in time */
		return;
	}
	if (!mp_break_take(vm->brk, &h)) {
		vm_resume(vm); /* disarmed meanwhile */
		pthread_mutex_unlock(&vm->break_lock);
		return;
	}
	const struct mp_cpu *c = mp_cpu(vm->mp, h.cpu);
	mp_break_describe(&h, c ? c->apic_id : 0, h.state >= 0 ? mp_state_name(h.state) : NULL,
			  what, sizeof(what));
	log_print("break: %s; paused (resume to go on)", what);
	uint64_t dropped = mp_break_dropped(vm->brk);
	if (dropped > vm->breaks_dropped_said) {
		log_warn("break: %llu breaks were dropped: more than %d waited at once",
			 (unsigned long long)(dropped - vm->breaks_dropped_said), MP_BREAK_QUEUE);
		vm->breaks_dropped_said = dropped;
	}
	for (unsigned i = 0; i < vm->nlisteners; i++)
		vm->listeners[i].fn(vm->listeners[i].ctx, &h);
	pthread_mutex_unlock(&vm->break_lock);
}

/* Whether --break-on's own events, without --step's, are refused by the mode too. */
static bool refused_alone(struct vm *vm)
{
	struct mp_break_set s;
	char err[256];

	return mp_break_parse(vm->cfg.break_on, vm->nvcpus ? vm->nvcpus : vm->plat.topo.cpus,
			      &s, err, sizeof(err)) < 0 ||
	       mp_break_check(&s, mp_exact(vm->mp), vm->mode->name, err, sizeof(err)) < 0;
}

int vm_breaks_create(struct vm *vm)
{
	char err[256];

	vm->brk = mp_break_create(kick_all, vm);
	if (!vm->brk)
		return -1;
	mp_set_break(vm->mp, vm->brk);
	vm->env.brk = vm->brk;
	vm->env.take_break = take_break;
	vm->env.break_ctx = vm;
	if (mp_break_check(&vm->cfg.breaks, mp_exact(vm->mp), vm->mode->name, err,
			   sizeof(err)) < 0) {
		if (vm->cfg.step && !refused_alone(vm))
			log_error("--step: with --irqchip %s the local APICs are KVM's (INIT, SIPI "
				  "and HLT never reach mpvmm); use --irqchip user", vm->mode->name);
		else
			log_error("%s", err);
		return -2;
	}
	mp_break_arm(vm->brk, &vm->cfg.breaks);
	return 0;
}

/* After the mode's controllers (their timers and IPIs hit) are gone. */
void vm_breaks_destroy(struct vm *vm)
{
	mp_break_destroy(vm->brk);
	vm->brk = NULL;
}

int vm_on_break(struct vm *vm, vm_break_fn fn, void *ctx)
{
	if (vm->nlisteners == VM_MAX_BREAK_LISTENERS) {
		errno = ENOSPC;
		return -1;
	}
	vm->listeners[vm->nlisteners++] = (struct vm_break_listener){ fn, ctx };
	return 0;
}

int vm_set_breaks(struct vm *vm, const char *spec, char *err, size_t errlen)
{
	struct mp_break_set s;

	if (mp_break_parse(spec, vm->nvcpus, &s, err, errlen) < 0 ||
	    mp_break_check(&s, mp_exact(vm->mp), vm->mode->name, err, errlen) < 0)
		return -1;
	mp_break_arm(vm->brk, &s);
	return 0;
}

bool vm_breaks(struct vm *vm, char *spec, size_t len, struct mp_break_hit *last)
{
	struct mp_break_set s;

	mp_break_armed(vm->brk, &s);
	mp_break_format(&s, spec, len);
	return mp_break_last(vm->brk, last);
}
