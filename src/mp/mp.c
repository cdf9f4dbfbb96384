/*
 * mp.c - see mp.h.  The generic half of MP-state handling: names, the per-vCPU "last known
 * state" used to record only real changes, inference of the transitions a backend cannot
 * see, and marshalling of backend calls onto the vCPU's thread.
 */
#include "mp/mp.h"

#include "mp/mp_break.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

/* Bring-up takes under ten events per vCPU: they stay; a ring keeps the newest after them. */
#define TRACE_FIRST_PER_CPU 16
#define TRACE_LAST_PER_CPU 64
#define STATE_UNKNOWN 0xff

struct mp {
	uint32_t ncpus;
	const struct mp_backend *be;
	mp_exec_fn exec;
	void *exec_ctx;
	uint64_t t0_ns;
	struct trace *trace;
	struct mp_cpu *cpus;
	_Atomic uint8_t *last;      /* last recorded state per vCPU, or STATE_UNKNOWN */
	_Atomic uint8_t *exited;    /* first exit seen per vCPU                       */
	uint64_t (*clock)(void *ctx); /* NULL: mp_now_ns() - t0_ns                     */
	void *clock_ctx;
	struct mp_break *brk;       /* breaks on MP events, or NULL                   */
};

static const char *const state_names[MP_STATE_COUNT] = {
	[MP_STATE_UNINITIALIZED] = "UNINITIALIZED",
	[MP_STATE_INIT_RECEIVED] = "INIT_RECEIVED",
	[MP_STATE_SIPI_RECEIVED] = "SIPI_RECEIVED",
	[MP_STATE_RUNNABLE] = "RUNNABLE",
	[MP_STATE_HALTED] = "HALTED",
};

const char *mp_state_name(enum mp_state s)
{
	return (unsigned)s < MP_STATE_COUNT ? state_names[s] : "UNKNOWN";
}

int mp_state_parse(const char *name, enum mp_state *out)
{
	for (unsigned i = 0; name && i < MP_STATE_COUNT; i++) {
		if (!strcasecmp(name, state_names[i])) {
			*out = (enum mp_state)i;
			return 0;
		}
	}
	return -1;
}

uint64_t mp_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct mp *mp_create(uint32_t ncpus, const struct mp_cpu *cpus, const struct mp_backend *be,
		     mp_exec_fn exec, void *exec_ctx, uint64_t t0_ns)
{
	struct mp *mp = calloc(1, sizeof(*mp));

	if (!mp)
		return NULL;
	mp->ncpus = ncpus;
	mp->be = be;
	mp->exec = exec;
	mp->exec_ctx = exec_ctx;
	mp->t0_ns = t0_ns;
	mp->cpus = calloc(ncpus, sizeof(*mp->cpus));
	mp->last = calloc(ncpus, sizeof(*mp->last));
	mp->exited = calloc(ncpus, sizeof(*mp->exited));
	mp->trace = trace_create(ncpus, TRACE_FIRST_PER_CPU, TRACE_LAST_PER_CPU);
	if (!mp->cpus || !mp->last || !mp->exited || !mp->trace) {
		mp_destroy(mp);
		return NULL;
	}
	for (uint32_t i = 0; i < ncpus; i++) {
		mp->cpus[i] = cpus[i];
		atomic_init(&mp->last[i], STATE_UNKNOWN);
		atomic_init(&mp->exited[i], 0);
	}
	return mp;
}

void mp_destroy(struct mp *mp)
{
	if (!mp)
		return;
	trace_destroy(mp->trace);
	free(mp->cpus);
	free((void *)mp->last);
	free((void *)mp->exited);
	free(mp);
}

uint32_t mp_ncpus(const struct mp *mp)
{
	return mp->ncpus;
}

const struct mp_cpu *mp_cpu(const struct mp *mp, uint32_t cpu)
{
	return cpu < mp->ncpus ? &mp->cpus[cpu] : NULL;
}

long mp_cpu_by_apic_id(const struct mp *mp, uint32_t apic_id)
{
	/* APIC IDs grow with the index (topology packing), so bisect. */
	uint32_t lo = 0, hi = mp->ncpus;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (mp->cpus[mid].apic_id < apic_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < mp->ncpus && mp->cpus[lo].apic_id == apic_id ? (long)lo : -1;
}

const char *mp_backend_name(const struct mp *mp)
{
	return mp->be->name;
}

bool mp_exact(const struct mp *mp)
{
	return mp->be->exact;
}

struct trace *mp_trace(struct mp *mp)
{
	return mp->trace;
}

void mp_set_clock(struct mp *mp, uint64_t (*now_ns)(void *ctx), void *ctx)
{
	mp->clock = now_ns;
	mp->clock_ctx = ctx;
}

static uint64_t since_start(const struct mp *mp)
{
	if (mp->clock)
		return mp->clock(mp->clock_ctx);
	uint64_t now = mp_now_ns();

	return now > mp->t0_ns ? now - mp->t0_ns : 0;
}

uint64_t mp_trace_now(const struct mp *mp)
{
	return since_start(mp);
}

void mp_set_break(struct mp *mp, struct mp_break *b)
{
	mp->brk = b;
}

/* A break that fires is recorded in the trace, next to the event that fired it. */
static bool hit(struct mp *mp, enum mp_break_event e, uint32_t cpu, uint32_t from, int vector,
		int state, bool exact)
{
	if (!mp_break_hit(mp->brk, e, cpu, from == TRACE_NO_CPU ? MP_BREAK_OUTSIDE : from,
			  vector, state, exact, NULL))
		return false;
	struct trace_event ev = {
		.t_ns = since_start(mp), .cpu = cpu, .from = from, .kind = TRACE_BREAK,
		.source = exact ? TRACE_EXACT : TRACE_INFERRED, .state = (uint8_t)e,
		.vector = vector >= 0 ? (uint8_t)vector : 0,
	};
	trace_record(mp->trace, &ev);
	return true;
}

void mp_observe(struct mp *mp, uint32_t cpu, enum mp_state s, enum trace_source src)
{
	if (cpu >= mp->ncpus || (unsigned)s >= MP_STATE_COUNT)
		return;
	if (atomic_exchange(&mp->last[cpu], (uint8_t)s) == (uint8_t)s)
		return; /* not a change */
	struct trace_event ev = {
		.t_ns = since_start(mp), .cpu = cpu, .from = TRACE_NO_CPU,
		.kind = TRACE_STATE, .source = (uint8_t)src, .state = (uint8_t)s,
	};
	trace_record(mp->trace, &ev);
	bool exact = src == TRACE_EXACT;
	if (s == MP_STATE_HALTED && exact)
		hit(mp, MP_BREAK_HALT, cpu, TRACE_NO_CPU, -1, (int)s, exact);
	hit(mp, MP_BREAK_STATE, cpu, TRACE_NO_CPU, -1, (int)s, exact);
}

/*
 * A backend that does not see transitions (KVM's in-kernel APIC) still lets us deduce them
 * from the IPIs the guest reports: INIT always moves an AP to INIT_RECEIVED (SDM Vol. 3A
 * 8.4.1), and KVM turns a SIPI received in INIT_RECEIVED into RUNNABLE at once
 * (kvm_apic_accept_events), so SIPI_RECEIVED is never visible there.
 */
static void infer_from_ipi(struct mp *mp, enum trace_kind kind, uint32_t to)
{
	if (mp->be->exact || mp->cpus[to].bsp)
		return;
	uint8_t last = atomic_load(&mp->last[to]);
	if (kind == TRACE_INIT)
		mp_observe(mp, to, MP_STATE_INIT_RECEIVED, TRACE_INFERRED);
	else if (kind == TRACE_SIPI && last == MP_STATE_INIT_RECEIVED)
		mp_observe(mp, to, MP_STATE_RUNNABLE, TRACE_INFERRED);
}

void mp_note_ipi(struct mp *mp, enum trace_kind kind, uint32_t from, uint32_t to, uint8_t vector,
		 enum trace_source src)
{
	if (to >= mp->ncpus)
		return;
	struct trace_event ev = {
		.t_ns = since_start(mp), .cpu = to, .from = from,
		.kind = (uint8_t)kind, .source = (uint8_t)src, .vector = vector,
	};
	trace_record(mp->trace, &ev);
	if (kind == TRACE_INIT)
		hit(mp, MP_BREAK_INIT, to, from, -1, -1, src == TRACE_EXACT);
	else if (kind == TRACE_SIPI)
		hit(mp, MP_BREAK_SIPI, to, from, vector, -1, src == TRACE_EXACT);
	infer_from_ipi(mp, kind, to);
}

bool mp_note_startup(struct mp *mp, uint32_t cpu, uint8_t vector)
{
	return cpu < mp->ncpus && hit(mp, MP_BREAK_STARTUP, cpu, TRACE_NO_CPU, vector, -1, true);
}

void mp_note_first_exit(struct mp *mp, uint32_t cpu)
{
	if (cpu >= mp->ncpus || atomic_exchange(&mp->exited[cpu], 1))
		return;
	struct trace_event ev = {
		.t_ns = since_start(mp), .cpu = cpu, .from = TRACE_NO_CPU,
		.kind = TRACE_FIRST_EXIT, .source = TRACE_EXACT,
	};
	trace_record(mp->trace, &ev);
	/* It is executing guest code, so it is RUNNABLE, whatever we believed before. */
	mp_observe(mp, cpu, MP_STATE_RUNNABLE, TRACE_EXACT);
}

struct mp_call {
	struct mp *mp;
	uint32_t cpu;
	enum mp_state state;
	int ret;
	int err;
	bool set;
};

static void mp_call_on_thread(void *arg)
{
	struct mp_call *c = arg;
	void *ctx = c->mp->cpus[c->cpu].backend_ctx;

	errno = 0;
	c->ret = c->set ? c->mp->be->set(ctx, c->state) : c->mp->be->get(ctx, &c->state);
	c->err = errno;
	if (c->ret == 0)
		mp_observe(c->mp, c->cpu, c->state, TRACE_EXACT);
}

static int mp_call(struct mp *mp, struct mp_call *c)
{
	if (c->cpu >= mp->ncpus) {
		errno = EINVAL;
		return -1;
	}
	if (mp->exec(mp->exec_ctx, c->cpu, mp_call_on_thread, c) < 0)
		return -1;
	errno = c->err;
	return c->ret;
}

int mp_get(struct mp *mp, uint32_t cpu, enum mp_state *out)
{
	struct mp_call c = { .mp = mp, .cpu = cpu };

	if (mp_call(mp, &c) < 0)
		return -1;
	*out = c.state;
	return 0;
}

int mp_set(struct mp *mp, uint32_t cpu, enum mp_state s)
{
	struct mp_call c = { .mp = mp, .cpu = cpu, .state = s, .set = true };

	return mp_call(mp, &c);
}

/* ---- snapshots ---- */

int mp_save(struct mp *mp, struct snap_enc *e)
{
	size_t cap = trace_capacity(mp->trace);
	struct trace_event *ev = calloc(cap, sizeof(*ev));

	if (!ev)
		return -1;
	snap_enc_u32(e, mp->ncpus);
	for (uint32_t cpu = 0; cpu < mp->ncpus; cpu++) {
		size_t n = trace_copy(mp->trace, cpu, ev, cap);
		snap_enc_u8(e, atomic_load(&mp->last[cpu]));
		snap_enc_u8(e, atomic_load(&mp->exited[cpu]));
		snap_enc_u32(e, (uint32_t)n);
		for (size_t i = 0; i < n; i++) {
			snap_enc_u64(e, ev[i].t_ns);
			snap_enc_u32(e, ev[i].from);
			snap_enc_u8(e, ev[i].kind);
			snap_enc_u8(e, ev[i].source);
			snap_enc_u8(e, ev[i].state);
			snap_enc_u8(e, ev[i].vector);
		}
	}
	free(ev);
	return e->oom ? -1 : 0;
}

static bool event_valid(const struct trace_event *ev, uint32_t ncpus)
{
	unsigned states = ev->kind == TRACE_BREAK ? MP_BREAK_EVENTS : MP_STATE_COUNT;

	return ev->kind < TRACE_KINDS && ev->source < TRACE_SOURCES && ev->state < states &&
	       (ev->from == TRACE_NO_CPU || ev->from < ncpus);
}

int mp_load(struct mp *mp, struct snap_dec *d, char *err, size_t errlen)
{
	if (snap_dec_u32(d) != mp->ncpus) {
		snprintf(err, errlen, "MP trace: saved for another number of vCPUs");
		return -1;
	}
	/* What building the VM recorded (initial states) is older news than the saved trace. */
	trace_clear(mp->trace);
	for (uint32_t cpu = 0; cpu < mp->ncpus && !d->bad; cpu++) {
		uint8_t last = snap_dec_u8(d), exited = snap_dec_u8(d);
		uint32_t n = snap_dec_u32(d);
		if (d->bad || (last >= MP_STATE_COUNT && last != STATE_UNKNOWN) ||
		    n > trace_capacity(mp->trace))
			break;
		atomic_store(&mp->last[cpu], last);
		atomic_store(&mp->exited[cpu], exited != 0);
		for (uint32_t i = 0; i < n; i++) {
			struct trace_event ev = { .cpu = cpu };
			ev.t_ns = snap_dec_u64(d);
			ev.from = snap_dec_u32(d);
			ev.kind = snap_dec_u8(d);
			ev.source = snap_dec_u8(d);
			ev.state = snap_dec_u8(d);
			ev.vector = snap_dec_u8(d);
			if (d->bad || !event_valid(&ev, mp->ncpus)) {
				d->bad = true;
				break;
			}
			trace_record(mp->trace, &ev);
		}
	}
	if (!snap_dec_done(d)) {
		snprintf(err, errlen, "MP trace: bad state");
		return -1;
	}
	return 0;
}
