/*
 * apic_bus.c - see apic_bus.h.  Destination resolution follows the Intel SDM Vol. 3A:
 * physical and logical (flat, cluster) destinations 10.6.2, the x2APIC forms 10.12.9 and
 * 10.12.10, lowest priority 10.6.2.4.  It must not know the APIC registers beyond lapic.h's
 * accessors, nor how a vCPU is run or kicked.
 */
#include "mp/apic_bus.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot/snapfile.h"

struct apic_bus {
	struct apic_bus_config cfg;
	pthread_mutex_t lock;
	struct lapic **lapics;
	struct mp_cpu *cpus; /* a copy of cfg.cpus (the caller's may not outlive create) */
	bool *hit; /* scratch: the targets of the IPI being routed (used under the lock) */
	/* An INIT reset this APIC after its vCPU last entered the guest (cleared by
	 * apic_bus_entered): an access from an exit that vCPU had already made is squashed. */
	atomic_bool *reset_since_entry;
	bool extint;   /* the 8259A's INTR, on every LINT0 */
	int eoi;       /* a level-triggered EOI to broadcast once unlocked, or -1 */
};

static const char *const mode_names[8] = {
	"fixed", "lowest-priority", "SMI", "reserved", "NMI", "INIT", "SIPI", "reserved",
};

__attribute__((format(printf, 2, 3)))
static void warnf(const struct apic_bus *b, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	if (!b->cfg.warn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	b->cfg.warn(b->cfg.warn_ctx, msg);
}

/* Tell the MP state machine what cpu's APIC now holds (wakes HLT, kicks a running vCPU). */
static void sync(struct apic_bus *b, uint32_t cpu)
{
	const struct lapic *l = b->lapics[cpu];

	if (b->cfg.mp)
		mp_user_set_pending(b->cfg.mp, cpu,
				    lapic_pending(l) >= 0 || (b->extint && lapic_accepts_extint(l)),
				    lapic_nmi_pending(l));
}

/* ---- destinations ------------------------------------------------------------------------ */

/* 10.6.2.1-2 and 10.12.9: does `l` match the destination field of `ipi`? */
static bool match(const struct lapic *l, const struct lapic_ipi *ipi)
{
	uint32_t broadcast = ipi->x2apic ? 0xffffffffu : 0xffu;

	if (ipi->dest == broadcast)
		return true;
	if (!ipi->logical) /* physical: the APIC ID; an xAPIC ID has 8 bits */
		return ipi->x2apic ? lapic_id(l) == ipi->dest : lapic_id(l) == (ipi->dest & 0xff);
	if (lapic_mode(l) == LAPIC_MODE_X2APIC) { /* 10.12.10.2: cluster in 31:16, mask 15:0 */
		uint32_t ldr = lapic_ldr(l);
		return (ldr >> 16) == (ipi->dest >> 16) && (ldr & ipi->dest & 0xffff);
	}
	uint32_t ldr = lapic_ldr(l) >> 24, mda = ipi->dest & 0xff;
	if (lapic_dfr(l) >> 28 == 0xf) /* flat: a bit per APIC */
		return ldr & mda;
	return (ldr >> 4) == (mda >> 4) && (ldr & mda & 0xf); /* cluster: nibble + mask */
}

static uint32_t select_targets(struct apic_bus *b, uint32_t from, const struct lapic_ipi *ipi)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < b->cfg.ncpus; i++) {
		const struct lapic *l = b->lapics[i];
		bool hit;
		switch (ipi->shorthand) {
		case LAPIC_SH_SELF: hit = i == from; break;
		case LAPIC_SH_ALL: hit = true; break;
		case LAPIC_SH_OTHERS: hit = i != from; break;
		default: hit = match(l, ipi); break;
		}
		/* 10.4.3: a hardware-disabled APIC takes no messages from the bus. */
		b->hit[i] = hit && lapic_mode(l) != LAPIC_MODE_DISABLED;
		n += b->hit[i];
	}
	return n;
}

/*
 * 10.6.2.4: lowest priority goes to the target with the lowest arbitration priority (the
 * TPR, raised by what is in service or pending).  Ties go to the lowest APIC ID, so the
 * choice is deterministic (hardware breaks them by arbitration ID, which is not modelled).
 */
static void keep_lowest(struct apic_bus *b)
{
	long best = -1;

	for (uint32_t i = 0; i < b->cfg.ncpus; i++) {
		if (!b->hit[i])
			continue;
		const struct lapic *l = b->lapics[i];
		if (best < 0 || lapic_apr(l) < lapic_apr(b->lapics[best]) ||
		    (lapic_apr(l) == lapic_apr(b->lapics[best]) &&
		     lapic_id(l) < lapic_id(b->lapics[best])))
			best = i;
	}
	for (uint32_t i = 0; i < b->cfg.ncpus; i++)
		b->hit[i] = (long)i == best;
}

/* ---- delivery (10.6.1, table 10-3) ----------------------------------------------------------- */

static void deliver_fixed(struct apic_bus *b, uint32_t from, uint32_t to,
			  const struct lapic_ipi *ipi)
{
	struct lapic *l = b->lapics[to];

	if (b->cfg.mp)
		mp_user_note_ipi(b->cfg.mp, from, to, ipi->vector);
	if (!lapic_set_irq(l, ipi->vector, ipi->level) && !lapic_sw_enabled(l))
		warnf(b, "cpu %u: %s interrupt vector %#x dropped: its APIC is software-disabled",
		      to, mode_names[ipi->mode], ipi->vector);
}

static void deliver_one(struct apic_bus *b, uint32_t from, uint32_t to,
			const struct lapic_ipi *ipi)
{
	struct lapic *l = b->lapics[to];

	switch (ipi->mode) {
	case LAPIC_DM_FIXED:
	case LAPIC_DM_LOWEST:
		deliver_fixed(b, from, to, ipi);
		break;
	case LAPIC_DM_NMI:
		if (!b->cfg.mp || mp_user_nmi_allowed(b->cfg.mp, to))
			lapic_raise_nmi(l);
		else
			warnf(b, "cpu %u: NMI dropped: it waits for INIT or SIPI (SDM 8.4.1)",
			      to);
		break;
	case LAPIC_DM_INIT: /* 10.4.7.3: the APIC resets, ID and base kept; then the core */
		lapic_init(l);
		atomic_store(&b->reset_since_entry[to], true);
		if (b->cfg.mp)
			mp_user_init(b->cfg.mp, to, from);
		break;
	case LAPIC_DM_SIPI:
		if (b->cfg.mp)
			mp_user_sipi(b->cfg.mp, to, from, ipi->vector);
		break;
	}
	sync(b, to);
}

static void warn_no_target(struct apic_bus *b, uint32_t from, const struct lapic_ipi *ipi)
{
	if (ipi->shorthand == LAPIC_SH_OTHERS && b->cfg.ncpus == 1)
		return; /* "everyone else" on a one-vCPU machine is nobody: not a mistake */
	warnf(b, "%s IPI from cpu %d to %s destination %#x%s reaches no enabled APIC",
	      mode_names[ipi->mode], from == APIC_BUS_EXTERNAL ? -1 : (int)from,
	      ipi->logical ? "logical" : "physical", ipi->dest,
	      ipi->shorthand ? " (shorthand)" : "");
}

static void route(struct apic_bus *b, uint32_t from, const struct lapic_ipi *ipi)
{
	if (ipi->mode == LAPIC_DM_SMI) {
		warnf(b, "SMI IPI from cpu %d ignored: no system management mode",
		      from == APIC_BUS_EXTERNAL ? -1 : (int)from);
		return;
	}
	if (ipi->mode == LAPIC_DM_INIT && !ipi->assert)
		return; /* INIT level de-assert (10.6.1): arbitration IDs only, no MP state */
	if (ipi->mode == LAPIC_DM_EXTINT && from == APIC_BUS_EXTERNAL) {
		warnf(b, "ExtINT message (vector %#x) dropped: the 8259A reaches the CPUs through "
		      "LINT0 only", ipi->vector);
		return;
	}
	if (ipi->mode > LAPIC_DM_SIPI || ipi->mode == 3)
		return;
	if (select_targets(b, from, ipi) == 0) {
		warn_no_target(b, from, ipi);
		return;
	}
	if (ipi->mode == LAPIC_DM_LOWEST)
		keep_lowest(b);
	for (uint32_t i = 0; i < b->cfg.ncpus; i++)
		if (b->hit[i])
			deliver_one(b, from, i, ipi);
}

/* The lapic's `send` callback: called from an ICR write, with the bus already locked. */
static void lapic_send(void *ctx, uint32_t from, const struct lapic_ipi *ipi)
{
	route(ctx, from, ipi);
}

/* The lapic's `eoi` callback (bus locked): broadcast once the bus is unlocked. */
static void lapic_eoi_level(void *ctx, uint32_t cpu, uint8_t vector)
{
	struct apic_bus *b = ctx;

	(void)cpu;
	b->eoi = vector;
}

/* Unlock, then broadcast the EOI a register write made, if any. */
static void unlock_and_broadcast(struct apic_bus *b)
{
	int eoi = b->eoi;

	b->eoi = -1;
	pthread_mutex_unlock(&b->lock);
	if (eoi >= 0 && b->cfg.eoi)
		b->cfg.eoi(b->cfg.eoi_ctx, (uint8_t)eoi);
}

/* ---- lifecycle --------------------------------------------------------------------------- */

static struct lapic_config lapic_config_of(struct apic_bus *b, uint32_t i)
{
	const struct apic_bus_config *cfg = &b->cfg;

	return (struct lapic_config){
		.cpu = i, .apic_id = cfg->cpus[i].apic_id, .bsp = cfg->cpus[i].bsp,
		.x2apic = cfg->x2apic, .phys_bits = cfg->phys_bits,
		.bus_hz = cfg->bus_hz, .tsc_hz = cfg->tsc_hz,
		.now_ns = cfg->now_ns, .clock_ctx = cfg->clock_ctx,
		.tsc_now = cfg->tsc_now, .tsc_ctx = cfg->tsc_ctx,
		.send = lapic_send, .send_ctx = b,
		.warn = cfg->warn, .warn_ctx = cfg->warn_ctx,
		.eoi = lapic_eoi_level, .eoi_ctx = b,
		/* The BSP's LINT0 in virtual wire mode, as PC firmware and KVM leave it. */
		.virtual_wire = cfg->cpus[i].bsp,
	};
}

struct apic_bus *apic_bus_create(const struct apic_bus_config *cfg)
{
	struct apic_bus *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->cfg = *cfg;
	b->eoi = -1;
	pthread_mutex_init(&b->lock, NULL);
	b->lapics = calloc(cfg->ncpus, sizeof(*b->lapics));
	b->hit = calloc(cfg->ncpus, sizeof(*b->hit));
	b->cpus = calloc(cfg->ncpus, sizeof(*b->cpus));
	b->reset_since_entry = calloc(cfg->ncpus, sizeof(*b->reset_since_entry));
	if (!cfg->ncpus || !b->lapics || !b->hit || !b->cpus || !b->reset_since_entry) {
		apic_bus_destroy(b);
		return NULL;
	}
	memcpy(b->cpus, cfg->cpus, cfg->ncpus * sizeof(*b->cpus));
	b->cfg.cpus = b->cpus;
	for (uint32_t i = 0; i < cfg->ncpus; i++) {
		struct lapic_config lc = lapic_config_of(b, i);
		b->lapics[i] = lapic_create(&lc);
		if (!b->lapics[i]) {
			apic_bus_destroy(b);
			return NULL;
		}
	}
	return b;
}

void apic_bus_destroy(struct apic_bus *b)
{
	if (!b)
		return;
	for (uint32_t i = 0; b->lapics && i < b->cfg.ncpus; i++)
		lapic_destroy(b->lapics[i]);
	free(b->lapics);
	free(b->hit);
	free(b->cpus);
	free(b->reset_since_entry);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

struct lapic *apic_bus_lapic(struct apic_bus *b, uint32_t cpu)
{
	return cpu < b->cfg.ncpus ? b->lapics[cpu] : NULL;
}

int apic_bus_peek(struct apic_bus *b, uint32_t cpu, uint32_t reg[64])
{
	if (cpu >= b->cfg.ncpus)
		return -1;
	pthread_mutex_lock(&b->lock);
	lapic_peek(b->lapics[cpu], reg);
	pthread_mutex_unlock(&b->lock);
	return 0;
}

/* ---- guest accesses: lock, act on cpu's APIC, tell the MP state, unlock -------------------- */

/*
 * An access of vCPU `cpu` that an INIT overtook (bus locked).  The vCPU made it before the
 * INIT reset its APIC, but mpvmm serves the exit after: served now, it would act on the reset
 * APIC (an ICR write would send its message to the reset ICR's destination, APIC ID 0).  An
 * INIT is taken at an instruction boundary (SDM 10.4.7.3): here, before that instruction,
 * whose effects the reset discards with the rest of the vCPU's state.
 */
static bool squashed(const struct apic_bus *b, uint32_t cpu)
{
	return atomic_load(&b->reset_since_entry[cpu]);
}

/* No lock: an INIT that lands after this store squashes the exits of this entry, one that
 * landed before left the vCPU not runnable, which the caller looks at next. */
void apic_bus_entered(struct apic_bus *b, uint32_t cpu)
{
	if (cpu < b->cfg.ncpus)
		atomic_store(&b->reset_since_entry[cpu], false);
}

int apic_bus_mmio_read(struct apic_bus *b, uint32_t cpu, uint64_t gpa, unsigned size,
		       uint32_t *value)
{
	if (cpu >= b->cfg.ncpus)
		return LAPIC_UNCLAIMED;
	int r = LAPIC_UNCLAIMED;
	pthread_mutex_lock(&b->lock);
	struct lapic *l = b->lapics[cpu];
	uint64_t base = lapic_base(l);
	if (squashed(b, cpu)) {
		*value = 0;
		r = LAPIC_OK;
	} else if (gpa >= base && gpa - base < 0x1000) {
		r = lapic_mmio_read(l, (uint32_t)(gpa - base), size, value);
		sync(b, cpu); /* a reserved read logs an error, which may raise the LVT error */
	}
	pthread_mutex_unlock(&b->lock);
	return r;
}

int apic_bus_mmio_write(struct apic_bus *b, uint32_t cpu, uint64_t gpa, unsigned size,
			uint32_t value)
{
	if (cpu >= b->cfg.ncpus)
		return LAPIC_UNCLAIMED;
	int r = LAPIC_UNCLAIMED;
	pthread_mutex_lock(&b->lock);
	struct lapic *l = b->lapics[cpu];
	uint64_t base = lapic_base(l);
	if (squashed(b, cpu)) {
		r = LAPIC_OK;
	} else if (gpa >= base && gpa - base < 0x1000) {
		r = lapic_mmio_write(l, (uint32_t)(gpa - base), size, value);
		sync(b, cpu);
	}
	unlock_and_broadcast(b);
	return r;
}

int apic_bus_msr_read(struct apic_bus *b, uint32_t cpu, uint32_t msr, uint64_t *value)
{
	if (cpu >= b->cfg.ncpus)
		return LAPIC_UNCLAIMED;
	pthread_mutex_lock(&b->lock);
	int r = squashed(b, cpu) ? (*value = 0, LAPIC_OK) : lapic_msr_read(b->lapics[cpu], msr, value);
	pthread_mutex_unlock(&b->lock);
	return r;
}

int apic_bus_msr_write(struct apic_bus *b, uint32_t cpu, uint32_t msr, uint64_t value)
{
	if (cpu >= b->cfg.ncpus)
		return LAPIC_UNCLAIMED;
	pthread_mutex_lock(&b->lock);
	int r = squashed(b, cpu) ? LAPIC_OK : lapic_msr_write(b->lapics[cpu], msr, value);
	sync(b, cpu);
	unlock_and_broadcast(b);
	return r;
}

int apic_bus_pending(struct apic_bus *b, uint32_t cpu)
{
	if (cpu >= b->cfg.ncpus)
		return -1;
	pthread_mutex_lock(&b->lock);
	int v = lapic_pending(b->lapics[cpu]);
	pthread_mutex_unlock(&b->lock);
	return v;
}

int apic_bus_take_interrupt(struct apic_bus *b, uint32_t cpu)
{
	if (cpu >= b->cfg.ncpus)
		return -1;
	pthread_mutex_lock(&b->lock);
	int v = lapic_accept(b->lapics[cpu]);
	sync(b, cpu);
	pthread_mutex_unlock(&b->lock);
	return v;
}

bool apic_bus_take_nmi(struct apic_bus *b, uint32_t cpu)
{
	if (cpu >= b->cfg.ncpus)
		return false;
	pthread_mutex_lock(&b->lock);
	bool nmi = lapic_take_nmi(b->lapics[cpu]);
	sync(b, cpu);
	pthread_mutex_unlock(&b->lock);
	return nmi;
}

uint64_t apic_bus_timer_next(struct apic_bus *b, uint32_t cpu)
{
	if (cpu >= b->cfg.ncpus)
		return LAPIC_TIMER_NONE;
	pthread_mutex_lock(&b->lock);
	uint64_t t = lapic_timer_next(b->lapics[cpu]);
	pthread_mutex_unlock(&b->lock);
	return t;
}

uint64_t apic_bus_next_deadline(struct apic_bus *b)
{
	uint64_t min = LAPIC_TIMER_NONE;

	pthread_mutex_lock(&b->lock);
	for (uint32_t i = 0; i < b->cfg.ncpus; i++) {
		uint64_t t = lapic_timer_next(b->lapics[i]);
		min = t < min ? t : min;
	}
	pthread_mutex_unlock(&b->lock);
	return min;
}

unsigned apic_bus_fire_timers(struct apic_bus *b, uint64_t now_ns)
{
	unsigned raised = 0;

	pthread_mutex_lock(&b->lock);
	for (uint32_t i = 0; i < b->cfg.ncpus; i++) {
		if (lapic_timer_next(b->lapics[i]) > now_ns)
			continue;
		raised += lapic_timer_fire(b->lapics[i], now_ns);
		sync(b, i);
	}
	pthread_mutex_unlock(&b->lock);
	return raised;
}

void apic_bus_deliver(struct apic_bus *b, uint32_t from, const struct lapic_ipi *ipi)
{
	pthread_mutex_lock(&b->lock);
	route(b, from, ipi);
	pthread_mutex_unlock(&b->lock);
}

/* ---- snapshots -------------------------------------------------------------------------- */

#define APIC_BUS_SNAP_VERSION 1u

int apic_bus_save(struct apic_bus *b, struct snap_enc *e)
{
	pthread_mutex_lock(&b->lock);
	snap_enc_u32(e, APIC_BUS_SNAP_VERSION);
	snap_enc_u32(e, b->cfg.ncpus);
	for (uint32_t i = 0; i < b->cfg.ncpus; i++) {
		struct snap_enc one = { 0 };
		lapic_save(b->lapics[i], &one);
		snap_enc_blob(e, one.buf, one.len);
		e->oom |= one.oom;
		snap_enc_free(&one);
	}
	pthread_mutex_unlock(&b->lock);
	if (e->oom) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

/* Load cpu i's record from `d` into `l` (the bus's APIC, or a scratch one to check it). */
static int load_one(struct lapic *l, uint32_t i, struct snap_dec *d, char *err, size_t errlen)
{
	size_t n;
	const void *p = snap_dec_blob(d, &n);
	struct snap_dec one;
	char why[200];

	if (!p) {
		snprintf(err, errlen, "APIC state: truncated at cpu %u", i);
		return -1;
	}
	snap_dec_init(&one, p, n);
	if (lapic_load(l, &one, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "cpu %u: %s", i, why);
		return -1;
	}
	if (!snap_dec_done(&one)) {
		snprintf(err, errlen, "cpu %u: local APIC state: %zu bytes too many", i,
			 one.len - one.off);
		return -1;
	}
	return 0;
}

/* Every record decodes and fits its APIC: checked on scratch APICs, the bus untouched. */
static int check_all(struct apic_bus *b, struct snap_dec d, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < b->cfg.ncpus; i++) {
		struct lapic_config lc = lapic_config_of(b, i);
		struct lapic *scratch = lapic_create(&lc);
		if (!scratch) {
			snprintf(err, errlen, "APIC state: out of memory");
			return -1;
		}
		int r = load_one(scratch, i, &d, err, errlen);
		lapic_destroy(scratch);
		if (r < 0)
			return -1;
	}
	if (!snap_dec_done(&d)) {
		snprintf(err, errlen, "APIC state: %zu bytes too many", d.len - d.off);
		return -1;
	}
	return 0;
}

int apic_bus_load(struct apic_bus *b, struct snap_dec *d, char *err, size_t errlen)
{
	uint32_t version = snap_dec_u32(d);
	uint32_t ncpus = snap_dec_u32(d);

	if (d->bad) {
		snprintf(err, errlen, "APIC state: truncated");
		return -1;
	}
	if (version != APIC_BUS_SNAP_VERSION || ncpus != b->cfg.ncpus) {
		snprintf(err, errlen, "APIC state: version %u with %u APICs (this mpvmm reads "
			 "version %u, and this machine has %u)", version, ncpus,
			 APIC_BUS_SNAP_VERSION, b->cfg.ncpus);
		return -1;
	}
	pthread_mutex_lock(&b->lock);
	int r = check_all(b, *d, err, errlen);
	for (uint32_t i = 0; r == 0 && i < b->cfg.ncpus; i++)
		r = load_one(b->lapics[i], i, d, err, errlen);
	pthread_mutex_unlock(&b->lock);
	return r;
}

void apic_bus_msi(struct apic_bus *b, uint64_t address, uint32_t data)
{
	/* ID bits 7:0 in address bits 19:12 (10.11.1), bits 31:8 in 63:40 (dev/ioapic.h: the
	 * extended destination ID), which make it a 32-bit, x2APIC-format destination. */
	uint32_t high = (uint32_t)(address >> 32) & ~0xffu;
	const struct lapic_ipi ipi = {
		.dest = ((uint32_t)(address >> 12) & 0xff) | high,
		.x2apic = high != 0,
		.vector = (uint8_t)data,
		.mode = (uint8_t)((data >> 8) & 7),
		.logical = address & (1u << 2),
		.assert = true, /* 10.11.2: edge messages ignore the level bit */
		.level = data & (1u << 15),
	};

	apic_bus_deliver(b, APIC_BUS_EXTERNAL, &ipi);
}

void apic_bus_set_extint(struct apic_bus *b, bool level)
{
	pthread_mutex_lock(&b->lock);
	if (b->extint != level) {
		b->extint = level;
		for (uint32_t i = 0; i < b->cfg.ncpus; i++)
			sync(b, i);
	}
	pthread_mutex_unlock(&b->lock);
}

bool apic_bus_extint(struct apic_bus *b, uint32_t cpu)
{
	if (cpu >= b->cfg.ncpus)
		return false;
	pthread_mutex_lock(&b->lock);
	bool due = b->extint && lapic_accepts_extint(b->lapics[cpu]);
	pthread_mutex_unlock(&b->lock);
	return due;
}
