/*
 * mp_user.c - see mp_user.h.  The per-vCPU MP state machine of Intel SDM Vol. 3A 8.4, with
 * one mutex for the machine and one condition variable per vCPU.  It must not know the
 * local APIC registers, the accelerator, or how a kick reaches a running vCPU.
 */
#include "mp/mp_user.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/snapfile.h"

struct mp_user_cpu {
	struct mp_user *u;
	uint32_t index;
	enum mp_state state;
	enum mp_user_start start; /* latched, until mp_user_take_sipi              */
	uint8_t vector;           /* the latched SIPI's                              */
	unsigned sipis;           /* SIPIs since the last INIT                        */
	bool latched;             /* one of them was latched                         */
	bool held;                /* hold_starts: the start waits for release_starts */
	bool released;            /* release_starts waits until the start is taken   */
	bool irq, nmi;            /* what its APIC holds (mp_user_set_pending)       */
	bool halt_if;             /* IF when HLT ran                                 */
	bool kicked;
	bool sipi_warned;
	uint64_t init_ns;         /* when the last INIT arrived                      */
	pthread_cond_t cond;
};

struct mp_user {
	struct mp_user_config cfg;
	pthread_mutex_t lock;
	struct mp *mp;
	bool stopped;
	struct mp_user_cpu cpus[];
};

__attribute__((format(printf, 2, 3)))
static void warnf(struct mp_user *u, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	if (!u->cfg.warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	u->cfg.warn(u->cfg.warn_ctx, msg);
}

static uint64_t now_ns(const struct mp_user *u)
{
	return u->cfg.now_ns ? u->cfg.now_ns(u->cfg.clock_ctx) : 0;
}

static void kick(struct mp_user *u, uint32_t cpu)
{
	if (u->cfg.kick)
		u->cfg.kick(u->cfg.kick_ctx, cpu);
}

/* Every change is recorded, exactly, in the MP trace; the vCPU's waiter re-checks. */
static void set_state(struct mp_user_cpu *c, enum mp_state s)
{
	c->state = s;
	if (c->u->mp)
		mp_observe(c->u->mp, c->index, s, TRACE_EXACT);
	pthread_cond_signal(&c->cond);
}

struct mp_user *mp_user_create(const struct mp_user_config *cfg)
{
	struct mp_user *u;
	pthread_condattr_t attr;

	if (!cfg->ncpus || cfg->bsp >= cfg->ncpus)
		return NULL;
	u = calloc(1, sizeof(*u) + cfg->ncpus * sizeof(u->cpus[0]));
	if (!u)
		return NULL;
	u->cfg = *cfg;
	if (!u->cfg.cpu_signature)
		u->cfg.cpu_signature = 0x600;
	pthread_mutex_init(&u->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	for (uint32_t i = 0; i < cfg->ncpus; i++) {
		struct mp_user_cpu *c = &u->cpus[i];
		c->u = u;
		c->index = i;
		/* 8.4.1: after RESET the BSP runs the BIOS, the APs wait for INIT. */
		c->state = i == cfg->bsp ? MP_STATE_RUNNABLE : MP_STATE_UNINITIALIZED;
		pthread_cond_init(&c->cond, &attr);
	}
	pthread_condattr_destroy(&attr);
	return u;
}

void mp_user_destroy(struct mp_user *u)
{
	if (!u)
		return;
	for (uint32_t i = 0; i < u->cfg.ncpus; i++)
		pthread_cond_destroy(&u->cpus[i].cond);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

void mp_user_attach(struct mp_user *u, struct mp *mp)
{
	pthread_mutex_lock(&u->lock);
	u->mp = mp;
	for (uint32_t i = 0; mp && i < u->cfg.ncpus; i++)
		mp_observe(mp, i, u->cpus[i].state, TRACE_EXACT);
	pthread_mutex_unlock(&u->lock);
}

void *mp_user_backend_ctx(struct mp_user *u, uint32_t cpu)
{
	return cpu < u->cfg.ncpus ? &u->cpus[cpu] : NULL;
}

/* ---- the backend: get / set from the MP-state interface ---------------------------------- */

static int user_get(void *ctx, enum mp_state *out)
{
	struct mp_user_cpu *c = ctx;

	pthread_mutex_lock(&c->u->lock);
	*out = c->state;
	pthread_mutex_unlock(&c->u->lock);
	return 0;
}

/* A forced state (control API): no APIC reset; SIPI_RECEIVED restarts at the last vector. */
static int user_set(void *ctx, enum mp_state s)
{
	struct mp_user_cpu *c = ctx;
	struct mp_user *u = c->u;

	if ((unsigned)s >= MP_STATE_COUNT) {
		errno = EINVAL;
		return -1;
	}
	pthread_mutex_lock(&u->lock);
	c->start = s == MP_STATE_SIPI_RECEIVED ? MP_USER_START_SIPI : MP_USER_START_NONE;
	if (s == MP_STATE_INIT_RECEIVED) {
		c->init_ns = now_ns(u);
		c->sipi_warned = false;
		c->sipis = 0;
		c->latched = false;
	}
	if (s == MP_STATE_HALTED)
		c->halt_if = true;
	set_state(c, s);
	if (s != MP_STATE_RUNNABLE)
		kick(u, c->index);
	pthread_mutex_unlock(&u->lock);
	return 0;
}

const struct mp_backend mp_user_backend = {
	.name = "user",
	.exact = true,
	.get = user_get,
	.set = user_set,
};

/* ---- from the APIC bus ----------------------------------------------------------------- */

static void note(struct mp_user *u, enum trace_kind kind, uint32_t from, uint32_t to, uint8_t v)
{
	if (u->mp)
		mp_note_ipi(u->mp, kind, from, to, v, TRACE_EXACT);
}

void mp_user_note_ipi(struct mp_user *u, uint32_t from, uint32_t to, uint8_t vector)
{
	pthread_mutex_lock(&u->lock);
	note(u, TRACE_IPI, from, to, vector);
	pthread_mutex_unlock(&u->lock);
}

void mp_user_init(struct mp_user *u, uint32_t cpu, uint32_t from)
{
	if (cpu >= u->cfg.ncpus)
		return;
	struct mp_user_cpu *c = &u->cpus[cpu];

	pthread_mutex_lock(&u->lock);
	note(u, TRACE_INIT, from, cpu, 0);
	bool was_running = c->state == MP_STATE_RUNNABLE;
	c->sipis = 0;
	c->latched = false;
	c->sipi_warned = false;
	c->init_ns = now_ns(u);
	c->irq = c->nmi = false; /* the INIT reset the APIC too */
	if (cpu == u->cfg.bsp) {
		/* 8.4.2: after the MP protocol, an INIT leaves the BSP flag set and the BSP runs
		 * the BIOS from the reset vector; it never waits for a SIPI. */
		warnf(u, "cpu %u, the BSP: INIT from cpu %d: it restarts at the reset vector "
		      "F000:FFF0 (SDM 8.4.2), where this machine has no firmware", cpu,
		      from == TRACE_NO_CPU ? -1 : (int)from);
		c->start = MP_USER_START_RESET;
		set_state(c, MP_STATE_RUNNABLE);
	} else {
		/* 8.4.1, 10.4.7.3: an AP enters wait-for-SIPI, from any state. */
		c->start = MP_USER_START_NONE;
		set_state(c, MP_STATE_INIT_RECEIVED);
	}
	if (was_running)
		kick(u, cpu); /* it must leave the guest: its registers are now the INIT state */
	pthread_mutex_unlock(&u->lock);
}

bool mp_user_sipi(struct mp_user *u, uint32_t cpu, uint32_t from, uint8_t vector)
{
	if (cpu >= u->cfg.ncpus)
		return false;
	struct mp_user_cpu *c = &u->cpus[cpu];
	bool latched = false;

	pthread_mutex_lock(&u->lock);
	note(u, TRACE_SIPI, from, cpu, vector);
	c->sipis++;
	if (c->state == MP_STATE_INIT_RECEIVED) {
		c->vector = vector;
		c->start = MP_USER_START_SIPI;
		c->latched = latched = true;
		c->held = u->cfg.hold_starts;
		set_state(c, MP_STATE_SIPI_RECEIVED);
	} else if (!(c->latched && c->sipis == 2)) {
		/* 8.4.4.1 sends a second SIPI that a started AP ignores: that one is expected. */
		warnf(u, "cpu %u: SIPI vector %#x from cpu %d ignored in state %s (only a vCPU in "
			 "INIT_RECEIVED takes a SIPI, SDM 8.4.2)", cpu, vector,
		      from == TRACE_NO_CPU ? -1 : (int)from, mp_state_name(c->state));
	}
	pthread_mutex_unlock(&u->lock);
	return latched;
}

bool mp_user_nmi_allowed(struct mp_user *u, uint32_t cpu)
{
	if (cpu >= u->cfg.ncpus)
		return false;
	pthread_mutex_lock(&u->lock);
	enum mp_state s = u->cpus[cpu].state;
	pthread_mutex_unlock(&u->lock);
	return s == MP_STATE_RUNNABLE || s == MP_STATE_HALTED;
}

void mp_user_set_pending(struct mp_user *u, uint32_t cpu, bool irq, bool nmi)
{
	if (cpu >= u->cfg.ncpus)
		return;
	struct mp_user_cpu *c = &u->cpus[cpu];

	pthread_mutex_lock(&u->lock);
	bool rise = (irq && !c->irq) || (nmi && !c->nmi);
	c->irq = irq;
	c->nmi = nmi;
	if (c->state == MP_STATE_HALTED && (nmi || (irq && c->halt_if)))
		set_state(c, MP_STATE_RUNNABLE); /* HLT ends on NMI or an enabled interrupt */
	else if (c->state == MP_STATE_RUNNABLE && rise)
		kick(u, cpu);
	pthread_mutex_unlock(&u->lock);
}

/* ---- from the accelerator ------------------------------------------------------------- */

enum mp_state mp_user_halt(struct mp_user *u, uint32_t cpu, bool if_set)
{
	if (cpu >= u->cfg.ncpus)
		return MP_STATE_COUNT;
	struct mp_user_cpu *c = &u->cpus[cpu];

	pthread_mutex_lock(&u->lock);
	if (c->state == MP_STATE_RUNNABLE && !c->nmi && !(c->irq && if_set)) {
		c->halt_if = if_set;
		set_state(c, MP_STATE_HALTED);
	}
	enum mp_state s = c->state;
	pthread_mutex_unlock(&u->lock);
	return s;
}

static struct x86_segment real_segment(uint16_t selector, uint64_t base, uint8_t type, uint8_t s)
{
	return (struct x86_segment){
		.base = base, .limit = 0xffff, .selector = selector, .type = type, .present = 1,
		.s = s,
	};
}

void mp_user_start_state(enum mp_user_start kind, uint8_t vector, uint32_t signature,
			 struct x86_regs *regs, struct x86_sregs *sregs)
{
	bool sipi = kind == MP_USER_START_SIPI;

	/* Table 9-1, INIT column: EDX holds the processor signature, EFLAGS only bit 1. */
	*regs = (struct x86_regs){ .rdx = signature, .rflags = X86_RFLAGS_RESERVED1 };
	regs->rip = sipi ? 0 : 0xfff0;
	*sregs = (struct x86_sregs){ 0 };
	/* 8.4.1 / 10.4.4.1: a SIPI starts at vector << 12, as CS = vector << 8, IP = 0. */
	sregs->cs = sipi ? real_segment((uint16_t)(vector << 8), (uint64_t)vector << 12, 0xb, 1)
			 : real_segment(0xf000, 0xffff0000, 0xb, 1);
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = real_segment(0, 0, 0x3, 1);
	sregs->ldt = real_segment(0, 0, 0x2, 0);
	/* Table 9-1 says "present, R/W"; a busy TSS type is what VM entry accepts (Vol. 3C
	 * 26.3.1.2), as every VMM loads it. */
	sregs->tr = real_segment(0, 0, 0xb, 0);
	sregs->gdt = (struct x86_dtable){ .base = 0, .limit = 0xffff };
	sregs->idt = (struct x86_dtable){ .base = 0, .limit = 0xffff };
	/* CR0 60000010H: the power-up value; INIT keeps CD and NW, which start set. */
	sregs->cr0 = 0x60000010ull;
}

enum mp_user_start mp_user_take_sipi(struct mp_user *u, uint32_t cpu, struct x86_regs *regs,
				     struct x86_sregs *sregs)
{
	if (cpu >= u->cfg.ncpus)
		return MP_USER_START_NONE;
	struct mp_user_cpu *c = &u->cpus[cpu];

	pthread_mutex_lock(&u->lock);
	enum mp_user_start kind = c->held ? MP_USER_START_NONE : c->start;
	if (kind != MP_USER_START_NONE) {
		mp_user_start_state(kind, c->vector, u->cfg.cpu_signature, regs, sregs);
		c->start = MP_USER_START_NONE;
		set_state(c, MP_STATE_RUNNABLE);
	}
	pthread_mutex_unlock(&u->lock);
	return kind;
}

static enum mp_user_run poll_locked(struct mp_user *u, struct mp_user_cpu *c)
{
	if (u->stopped)
		return MP_USER_STOPPED;
	if (c->kicked) {
		c->kicked = false;
		return MP_USER_KICKED;
	}
	if (c->start != MP_USER_START_NONE && !c->held)
		return MP_USER_START;
	return c->state == MP_STATE_RUNNABLE ? MP_USER_RUN : MP_USER_BLOCKED;
}

enum mp_user_run mp_user_poll(struct mp_user *u, uint32_t cpu)
{
	if (cpu >= u->cfg.ncpus)
		return MP_USER_STOPPED;
	pthread_mutex_lock(&u->lock);
	enum mp_user_run r = poll_locked(u, &u->cpus[cpu]);
	pthread_mutex_unlock(&u->lock);
	return r;
}

enum mp_user_run mp_user_wait_runnable(struct mp_user *u, uint32_t cpu,
				       const struct timespec *abstime)
{
	if (cpu >= u->cfg.ncpus)
		return MP_USER_STOPPED;
	struct mp_user_cpu *c = &u->cpus[cpu];
	enum mp_user_run r;

	pthread_mutex_lock(&u->lock);
	while ((r = poll_locked(u, c)) == MP_USER_BLOCKED) {
		if (!abstime) {
			pthread_cond_wait(&c->cond, &u->lock);
		} else if (pthread_cond_timedwait(&c->cond, &u->lock, abstime) == ETIMEDOUT) {
			r = poll_locked(u, c);
			if (r == MP_USER_BLOCKED)
				r = MP_USER_TIMEOUT;
			break;
		}
	}
	pthread_mutex_unlock(&u->lock);
	return r;
}

void mp_user_release_starts(struct mp_user *u, uint64_t wait_ns)
{
	uint64_t deadline = mp_now_ns() + wait_ns;
	bool any = false;

	pthread_mutex_lock(&u->lock);
	for (uint32_t i = 0; i < u->cfg.ncpus; i++) {
		struct mp_user_cpu *c = &u->cpus[i];
		if (!c->held)
			continue;
		c->held = false;
		c->released = any = true;
		pthread_cond_signal(&c->cond);
	}
	/* Until each released start is taken (its vCPU's own thread loads it), or wait_ns. */
	while (any && mp_now_ns() < deadline) {
		any = false;
		for (uint32_t i = 0; i < u->cfg.ncpus; i++)
			any = any || (u->cpus[i].released && u->cpus[i].start != MP_USER_START_NONE);
		if (!any)
			break;
		pthread_mutex_unlock(&u->lock);
		nanosleep(&(struct timespec){ .tv_nsec = 20000 }, NULL);
		pthread_mutex_lock(&u->lock);
	}
	for (uint32_t i = 0; i < u->cfg.ncpus; i++)
		u->cpus[i].released = false;
	pthread_mutex_unlock(&u->lock);
}

long mp_user_next_runnable(struct mp_user *u, uint32_t after)
{
	uint32_t n = u->cfg.ncpus;
	long found = -1;

	pthread_mutex_lock(&u->lock);
	for (uint32_t i = 1; i <= n && found < 0; i++) {
		const struct mp_user_cpu *c = &u->cpus[(after % n + i) % n];
		if (c->state == MP_STATE_RUNNABLE || c->start != MP_USER_START_NONE)
			found = c->index;
	}
	pthread_mutex_unlock(&u->lock);
	return found;
}

enum mp_state mp_user_state(struct mp_user *u, uint32_t cpu)
{
	if (cpu >= u->cfg.ncpus)
		return MP_STATE_COUNT;
	pthread_mutex_lock(&u->lock);
	enum mp_state s = u->cpus[cpu].state;
	pthread_mutex_unlock(&u->lock);
	return s;
}

void mp_user_kick(struct mp_user *u, uint32_t cpu)
{
	if (cpu >= u->cfg.ncpus)
		return;
	pthread_mutex_lock(&u->lock);
	u->cpus[cpu].kicked = true;
	pthread_cond_signal(&u->cpus[cpu].cond);
	pthread_mutex_unlock(&u->lock);
}

void mp_user_stop(struct mp_user *u)
{
	pthread_mutex_lock(&u->lock);
	u->stopped = true;
	for (uint32_t i = 0; i < u->cfg.ncpus; i++)
		pthread_cond_signal(&u->cpus[i].cond);
	pthread_mutex_unlock(&u->lock);
}

unsigned mp_user_tick(struct mp_user *u, uint64_t now)
{
	unsigned warned = 0;

	if (!u->cfg.sipi_timeout_ns)
		return 0;
	pthread_mutex_lock(&u->lock);
	for (uint32_t i = 0; i < u->cfg.ncpus; i++) {
		struct mp_user_cpu *c = &u->cpus[i];
		if (c->state != MP_STATE_INIT_RECEIVED || c->sipi_warned || now < c->init_ns ||
		    now - c->init_ns < u->cfg.sipi_timeout_ns)
			continue;
		c->sipi_warned = true;
		warned++;
		warnf(u, "cpu %u: INIT received %llu ms ago and no SIPI since", i,
		      (unsigned long long)((now - c->init_ns) / 1000000));
	}
	pthread_mutex_unlock(&u->lock);
	return warned;
}

/* ---- snapshots -------------------------------------------------------------------------- */

#define MP_USER_SNAP_VERSION 1u

/* Per vCPU: state, start, vector, SIPIs, flags (latched, held, irq, nmi, halt_if,
 * sipi_warned), ns since the last INIT. */
static void save_cpu(const struct mp_user_cpu *c, uint64_t now, struct snap_enc *e)
{
	snap_enc_u8(e, (uint8_t)c->state);
	snap_enc_u8(e, (uint8_t)c->start);
	snap_enc_u8(e, c->vector);
	snap_enc_u32(e, c->sipis);
	snap_enc_u8(e, (uint8_t)(c->latched | c->held << 1 | c->irq << 2 | c->nmi << 3 |
				 c->halt_if << 4 | c->sipi_warned << 5));
	snap_enc_u64(e, now - c->init_ns);
}

int mp_user_save(struct mp_user *u, struct snap_enc *e)
{
	pthread_mutex_lock(&u->lock);
	uint64_t now = now_ns(u);
	snap_enc_u32(e, MP_USER_SNAP_VERSION);
	snap_enc_u32(e, u->cfg.ncpus);
	snap_enc_u32(e, u->cfg.bsp);
	for (uint32_t i = 0; i < u->cfg.ncpus; i++)
		save_cpu(&u->cpus[i], now, e);
	pthread_mutex_unlock(&u->lock);
	if (e->oom) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* What one vCPU's record says, decoded but not yet applied. */
struct saved_cpu {
	uint8_t state, start, vector, flags;
	uint32_t sipis;
	uint64_t since_init;
};

static void decode_cpu(struct snap_dec *d, struct saved_cpu *s)
{
	s->state = snap_dec_u8(d);
	s->start = snap_dec_u8(d);
	s->vector = snap_dec_u8(d);
	s->sipis = snap_dec_u32(d);
	s->flags = snap_dec_u8(d);
	s->since_init = snap_dec_u64(d);
}

#define refuse(err, errlen, ...) snap_refuse(err, errlen, "MP", __VA_ARGS__)

/* A start is latched exactly in SIPI_RECEIVED, or (the BSP after INIT) while RUNNABLE. */
static int check_cpu(const struct mp_user *u, uint32_t i, const struct saved_cpu *s,
		     char *err, size_t errlen)
{
	if (s->state >= MP_STATE_COUNT)
		return refuse(err, errlen, "cpu %u: state %u is out of range", i, s->state);
	if (s->start > MP_USER_START_RESET || s->flags >> 6)
		return refuse(err, errlen, "cpu %u: start kind %u or flags %#x out of range", i,
			      s->start, s->flags);
	if ((s->start == MP_USER_START_SIPI) != (s->state == MP_STATE_SIPI_RECEIVED))
		return refuse(err, errlen, "cpu %u: %s with %s latched start", i,
			      mp_state_name((enum mp_state)s->state),
			      s->start == MP_USER_START_SIPI ? "a SIPI" : "no SIPI");
	if (s->start == MP_USER_START_RESET &&
	    (i != u->cfg.bsp || s->state != MP_STATE_RUNNABLE))
		return refuse(err, errlen, "cpu %u: a reset start latched on an AP or a BSP "
			      "that is not RUNNABLE", i);
	if ((s->flags & 2) && s->start != MP_USER_START_SIPI)
		return refuse(err, errlen, "cpu %u: a held start without a SIPI", i);
	return 0;
}

static void apply_cpu(struct mp_user *u, struct mp_user_cpu *c, const struct saved_cpu *s,
		      uint64_t now)
{
	c->state = (enum mp_state)s->state;
	c->start = (enum mp_user_start)s->start;
	c->vector = s->vector;
	c->sipis = s->sipis;
	c->latched = s->flags & 1;
	c->held = (s->flags & 2) && u->cfg.hold_starts;
	c->irq = s->flags & 4;
	c->nmi = s->flags & 8;
	c->halt_if = s->flags & 16;
	c->sipi_warned = s->flags & 32;
	c->init_ns = s->since_init > now ? 0 : now - s->since_init;
	c->released = c->kicked = false;
	if (u->mp)
		mp_observe(u->mp, c->index, c->state, TRACE_EXACT);
	pthread_cond_signal(&c->cond);
}

int mp_user_load(struct mp_user *u, struct snap_dec *d, char *err, size_t errlen)
{
	uint32_t version = snap_dec_u32(d), ncpus = snap_dec_u32(d), bsp = snap_dec_u32(d);

	if (d->bad)
		return refuse(err, errlen, "truncated");
	if (version != MP_USER_SNAP_VERSION)
		return refuse(err, errlen, "version %u (this mpvmm reads %u)", version,
			      MP_USER_SNAP_VERSION);
	if (ncpus != u->cfg.ncpus || bsp != u->cfg.bsp)
		return refuse(err, errlen, "saved with %u vCPUs and BSP %u, this machine has %u "
			      "and BSP %u", ncpus, bsp, u->cfg.ncpus, u->cfg.bsp);
	struct saved_cpu *s = calloc(ncpus, sizeof(*s));
	if (!s)
		return refuse(err, errlen, "out of memory");
	int r = 0;
	for (uint32_t i = 0; i < ncpus && r == 0; i++) {
		decode_cpu(d, &s[i]);
		r = d->bad ? refuse(err, errlen, "truncated at cpu %u", i)
			   : check_cpu(u, i, &s[i], err, errlen);
	}
	if (r == 0 && !snap_dec_done(d))
		r = refuse(err, errlen, "%zu bytes too many", d->len - d->off);
	if (r == 0) {
		pthread_mutex_lock(&u->lock);
		uint64_t now = now_ns(u);
		for (uint32_t i = 0; i < ncpus; i++)
			apply_cpu(u, &u->cpus[i], &s[i], now);
		pthread_mutex_unlock(&u->lock);
	}
	free(s);
	return r;
}
