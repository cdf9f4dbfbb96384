/*
 * lapic_state.c - one local APIC saved for a snapshot and loaded back (the layout is
 * lapic_save's comment).  Every loaded value is checked against this APIC's configuration
 * and the Intel SDM Vol. 3A, chapter 10, before any of it is kept.  It must not know the
 * snapshot file (snapfile.h's codec only), the other APICs, or what the registers do when
 * the guest writes them: that is lapic_regs.c's business.
 */
#include "mp/lapic.h"
#include "mp/lapic_internal.h"

#include "snapshot/snapfile.h"

#define LAPIC_SNAP_VERSION 1u

static void enc_set(struct snap_enc *e, const uint32_t r[8])
{
	for (int i = 0; i < 8; i++)
		snap_enc_u32(e, r[i]);
}

/*
 * Layout (version 1): ID, IA32_APIC_BASE, TPR, LDR, DFR, SVR, ISR, TMR, IRR, ESR (read and
 * pending), ICR, six LVTs, DCR, the timer (armed, initial count, divide value in force,
 * ns elapsed in the current period, TSC ticks to the deadline as a signed value and whether
 * one is set), the pending NMI.
 */
/*
 * The TSC deadline's distance from now in ticks, as a signed value.  A deadline 2^63 ticks
 * or more ahead (a guest may write any IA32_TSC_DEADLINE) is saved as INT64_MAX ahead,
 * a century either way, so that it is not read back as one already passed.
 */
static uint64_t deadline_distance(const struct lapic *l, uint64_t now)
{
	const struct lapic_timer *t = &l->timer;

	if (!l->cfg.tsc_hz || !t->tsc_deadline)
		return 0;
	if (t->deadline_ns >= now) {
		uint64_t ahead = lapic_ns_to_tsc(l, t->deadline_ns - now);
		return ahead > (uint64_t)INT64_MAX ? (uint64_t)INT64_MAX : ahead;
	}
	uint64_t behind = lapic_ns_to_tsc(l, now - t->deadline_ns);
	return behind > (uint64_t)INT64_MAX ? (uint64_t)INT64_MIN : 0 - behind;
}

void lapic_save(const struct lapic *l, struct snap_enc *e)
{
	uint64_t now = now_ns(l);
	const struct lapic_timer *t = &l->timer;

	snap_enc_u32(e, LAPIC_SNAP_VERSION);
	snap_enc_u32(e, l->cfg.apic_id);
	snap_enc_u64(e, l->apic_base);
	snap_enc_u8(e, l->tpr);
	snap_enc_u32(e, l->ldr);
	snap_enc_u32(e, l->dfr);
	snap_enc_u32(e, l->svr);
	enc_set(e, l->isr);
	enc_set(e, l->tmr);
	enc_set(e, l->irr);
	snap_enc_u32(e, l->esr);
	snap_enc_u32(e, l->esr_pending);
	snap_enc_u32(e, l->icr_lo);
	snap_enc_u32(e, l->icr_hi);
	for (int i = 0; i < LVT_COUNT; i++)
		snap_enc_u32(e, l->lvt[i]);
	snap_enc_u32(e, l->dcr);
	snap_enc_u8(e, t->armed);
	snap_enc_u32(e, t->initial);
	snap_enc_u32(e, t->div);
	snap_enc_u64(e, now - t->start_ns); /* two's complement if the period starts later */
	snap_enc_u8(e, t->tsc_deadline != 0);
	snap_enc_u64(e, deadline_distance(l, now));
	snap_enc_u8(e, l->nmi_pending);
}

static void dec_set(struct snap_dec *d, uint32_t r[8])
{
	for (int i = 0; i < 8; i++)
		r[i] = snap_dec_u32(d);
}

#define refuse(err, errlen, ...) snap_refuse(err, errlen, "local APIC", __VA_ARGS__)

static bool valid_divide(uint32_t div)
{
	return div && div <= 128 && !(div & (div - 1));
}

/* The registers of `n` (already decoded) against this APIC and the architecture. */
static int check_regs(const struct lapic *l, const struct lapic *n, char *err, size_t errlen)
{
	uint64_t reserved = BASE_RESERVED_LOW | ~((1ull << l->cfg.phys_bits) - 1) |
			    (l->cfg.x2apic ? 0 : LAPIC_BASE_EXTD);

	if ((n->apic_base & reserved) ||
	    (n->apic_base & (LAPIC_BASE_EN | LAPIC_BASE_EXTD)) == LAPIC_BASE_EXTD)
		return refuse(err, errlen, "IA32_APIC_BASE %#llx is not valid here",
			      (unsigned long long)n->apic_base);
	if (!(n->apic_base & LAPIC_BASE_BSP) != !l->cfg.bsp)
		return refuse(err, errlen, "the BSP flag differs from this machine's");
	if ((n->dfr & 0x0fffffffu) != 0x0fffffffu || (n->svr & ~SVR_WRITABLE) ||
	    (n->dcr & ~DCR_WRITABLE) || (n->icr_lo & ~ICR_WRITABLE) || (n->esr & ~0xffu) ||
	    (n->esr_pending & ~0xffu))
		return refuse(err, errlen, "a register holds reserved bits (DFR, SVR, DCR, ICR "
			      "or ESR)");
	for (int i = 0; i < LVT_COUNT; i++) {
		uint32_t ro = LVT_STATUS | (i == LVT_LINT0 || i == LVT_LINT1 ? LVT_REMOTE_IRR : 0);
		if (n->lvt[i] & ~(lapic_lvt_writable(l, i) | ro) ||
		    (i == LVT_TIMER && (n->lvt[i] & LVT_TIMER_MODE) == LVT_TIMER_MODE))
			return refuse(err, errlen, "LVT entry %d (%#x) is not valid here", i,
				      n->lvt[i]);
	}
	/* Vectors 0-15 never reach the IRR, ISR or TMR (10.5.2). */
	if ((n->isr[0] | n->irr[0] | n->tmr[0]) & 0xffffu)
		return refuse(err, errlen, "vectors 0-15 are set in the IRR, ISR or TMR");
	if (lapic_mode(n) != LAPIC_MODE_X2APIC && (n->ldr & 0x00ffffffu))
		return refuse(err, errlen, "the xAPIC LDR %#x has reserved bits", n->ldr);
	if (lapic_mode(n) == LAPIC_MODE_X2APIC && n->ldr != x2apic_ldr(l->cfg.apic_id))
		return refuse(err, errlen, "the x2APIC LDR %#x does not match APIC ID %u", n->ldr,
			      l->cfg.apic_id);
	return 0;
}

static int check_timer(const struct lapic *l, const struct lapic *n, bool deadline,
		       char *err, size_t errlen)
{
	/* An expired one-shot timer keeps its initial count; an armed one has a count and a
	 * divide value (0 until the timer is first armed). */
	bool div_ok = n->timer.div ? valid_divide(n->timer.div) : !n->timer.armed;
	if (!div_ok || (n->timer.armed && !n->timer.initial))
		return refuse(err, errlen, "the timer (initial %u, divide %u, %s) is inconsistent",
			      n->timer.initial, n->timer.div, n->timer.armed ? "armed" : "idle");
	if (deadline && !l->cfg.tsc_hz)
		return refuse(err, errlen, "a TSC deadline is set but this APIC has no "
			      "TSC-deadline mode");
	return 0;
}

/* Time: the period began `elapsed` ns ago, the deadline lies `ahead` TSC ticks away. */
static void place_timer(struct lapic *n, uint64_t elapsed, bool deadline, uint64_t ahead)
{
	uint64_t now = now_ns(n);

	/* A clock younger than the elapsed time: the period starts at 0 (it is then due). */
	n->timer.start_ns = (int64_t)elapsed > 0 && elapsed > now ? 0 : now - elapsed;
	n->timer.tsc_deadline = 0;
	if (deadline) {
		uint64_t tsc = lapic_guest_tsc(n, now);
		/* `ahead` is signed; 0 - ahead is its distance back, INT64_MIN included. */
		bool behind = (int64_t)ahead < 0;
		uint64_t at = behind && 0 - ahead > tsc ? 1 : tsc + ahead;
		lapic_deadline_set(n, at ? at : 1 /* 0 would disarm it */, now, tsc);
	}
}

int lapic_load(struct lapic *l, struct snap_dec *d, char *err, size_t errlen)
{
	struct lapic n = { .cfg = l->cfg };

	uint32_t version = snap_dec_u32(d);
	uint32_t id = snap_dec_u32(d);
	n.apic_base = snap_dec_u64(d);
	n.tpr = snap_dec_u8(d);
	n.ldr = snap_dec_u32(d);
	n.dfr = snap_dec_u32(d);
	n.svr = snap_dec_u32(d);
	dec_set(d, n.isr);
	dec_set(d, n.tmr);
	dec_set(d, n.irr);
	n.esr = snap_dec_u32(d);
	n.esr_pending = snap_dec_u32(d);
	n.icr_lo = snap_dec_u32(d);
	n.icr_hi = snap_dec_u32(d);
	for (int i = 0; i < LVT_COUNT; i++)
		n.lvt[i] = snap_dec_u32(d);
	n.dcr = snap_dec_u32(d);
	uint8_t armed = snap_dec_u8(d);
	n.timer.initial = snap_dec_u32(d);
	n.timer.div = snap_dec_u32(d);
	uint64_t elapsed = snap_dec_u64(d);
	uint8_t deadline = snap_dec_u8(d);
	uint64_t ahead = snap_dec_u64(d);
	uint8_t nmi = snap_dec_u8(d);
	if (d->bad)
		return refuse(err, errlen, "truncated");
	if (version != LAPIC_SNAP_VERSION)
		return refuse(err, errlen, "version %u (this mpvmm reads %u)", version,
			      LAPIC_SNAP_VERSION);
	if (id != l->cfg.apic_id)
		return refuse(err, errlen, "saved for APIC ID %u, loaded into APIC ID %u", id,
			      l->cfg.apic_id);
	if (armed > 1 || deadline > 1 || nmi > 1)
		return refuse(err, errlen, "a flag is neither 0 nor 1");
	n.timer.armed = armed;
	n.nmi_pending = nmi;
	if (check_regs(l, &n, err, errlen) < 0 || check_timer(l, &n, deadline, err, errlen) < 0)
		return -1;
	place_timer(&n, elapsed, deadline, ahead);
	*l = n;
	return 0;
}
