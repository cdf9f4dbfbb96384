/*
 * lapic_regs.c - the guest's way into one local APIC: its registers in the xAPIC page (MMIO,
 * Intel SDM Vol. 3A, 10.4.1) and as x2APIC MSRs (10.12.1.2), IA32_APIC_BASE (10.4.4,
 * 10.12.5.1) and IA32_TSC_DEADLINE (10.5.4.1), and the IPIs an ICR write sends (10.6.1).
 * Every access is checked as the SDM says (#GP, ESR errors, warnings).  It must not know
 * where an IPI goes (the `send` callback's business) or how the state behind the registers
 * changes on its own (lapic.c, lapic_timer.c).
 */
#include "mp/lapic.h"
#include "mp/lapic_internal.h"

/* ---- sending (10.6.1) ---------------------------------------------------------------------- */

static void send_ipi(struct lapic *l, uint32_t lo, uint32_t dest, bool x2)
{
	struct lapic_ipi ipi = {
		.dest = dest,
		.vector = (uint8_t)(lo & 0xff),
		.mode = (uint8_t)((lo >> 8) & 7),
		.shorthand = (uint8_t)((lo >> 18) & 3),
		.logical = lo & LAPIC_ICR_LOGICAL,
		.level = lo & LAPIC_ICR_LEVEL,
		.x2apic = x2,
	};

	/* The level bit is 0 only for INIT level de-assert (level-triggered INIT). */
	ipi.assert = (lo & LAPIC_ICR_ASSERT) || ipi.mode != LAPIC_DM_INIT || !ipi.level;
	if (ipi.mode == 3 || ipi.mode == 7) {
		lapic_warnf(l, "ICR delivery mode %u is reserved: IPI dropped", ipi.mode);
		return;
	}
	if ((ipi.mode == LAPIC_DM_FIXED || ipi.mode == LAPIC_DM_LOWEST) && ipi.vector < 16) {
		lapic_error(l, LAPIC_ESR_SEND_ILLEGAL_VECTOR); /* 10.5.3 */
		lapic_warnf(l, "IPI with illegal vector %u not sent", ipi.vector);
		return;
	}
	if (!lapic_sw_enabled(l))
		lapic_warnf(l, "IPI sent while software-disabled (delivered, SDM 10.4.7.2)");
	if (l->cfg.send)
		l->cfg.send(l->cfg.send_ctx, l->cfg.cpu, &ipi);
}

/* ---- registers ------------------------------------------------------------------------- */

static bool in_range(uint32_t off, uint32_t first)
{
	return off >= first && off < first + 0x80 && !(off & 0xf);
}

static int reg_read(const struct lapic *l, uint32_t off, bool x2, uint32_t *v)
{
	if (in_range(off, LAPIC_ISR) || in_range(off, LAPIC_TMR) || in_range(off, LAPIC_IRR)) {
		const uint32_t *set = off < LAPIC_TMR ? l->isr : off < LAPIC_IRR ? l->tmr : l->irr;
		*v = set[(off & 0x7f) >> 4];
		return 0;
	}
	if (off >= LAPIC_LVT_TIMER && off <= LAPIC_LVT_ERROR && !(off & 0xf)) {
		*v = l->lvt[(off - LAPIC_LVT_TIMER) >> 4];
		return 0;
	}
	switch (off) {
	case LAPIC_ID: *v = x2 ? l->cfg.apic_id : (l->cfg.apic_id & 0xff) << 24; return 0;
	case LAPIC_VER: *v = LAPIC_VERSION; return 0;
	case LAPIC_TPR: *v = l->tpr; return 0;
	case LAPIC_PPR: *v = lapic_ppr(l); return 0;
	case LAPIC_LDR: *v = l->ldr; return 0;
	case LAPIC_SVR: *v = l->svr; return 0;
	case LAPIC_ESR: *v = l->esr; return 0;
	case LAPIC_ICR_LO: *v = l->icr_lo & ~ICR_STATUS; return 0;
	case LAPIC_TIMER_INITIAL: *v = l->timer.initial; return 0;
	case LAPIC_TIMER_CURRENT: *v = lapic_timer_current(l); return 0;
	case LAPIC_TIMER_DIVIDE: *v = l->dcr; return 0;
	}
	if (x2) /* 10.12.1.2, table 10-6: APR, RRD, DFR and ICR high have no MSR */
		return -1;
	switch (off) {
	case LAPIC_APR: *v = lapic_apr(l); return 0;
	case LAPIC_RRD: *v = 0; return 0; /* remote read is not supported */
	case LAPIC_DFR: *v = l->dfr; return 0;
	case LAPIC_ICR_HI: *v = l->icr_hi; return 0;
	case LAPIC_EOI: *v = 0; return 0; /* write-only in xAPIC: reads 0 */
	}
	return -1;
}

/* Writable bits of each LVT entry, and its read-only bits (10.5.1, figure 10-8). */
uint32_t lapic_lvt_writable(const struct lapic *l, int i)
{
	switch (i) {
	case LVT_TIMER:
		return LVT_VECTOR | LAPIC_LVT_MASKED |
		       (l->cfg.tsc_hz ? LVT_TIMER_MODE : LAPIC_TIMER_PERIODIC);
	case LVT_LINT0:
	case LVT_LINT1:
		return LVT_VECTOR | LVT_DELIVERY_MODE | LVT_POLARITY | LVT_TRIGGER |
		       LAPIC_LVT_MASKED;
	case LVT_ERROR:
		return LVT_VECTOR | LAPIC_LVT_MASKED;
	default:
		return LVT_VECTOR | LVT_DELIVERY_MODE | LAPIC_LVT_MASKED;
	}
}

static int write_lvt(struct lapic *l, int i, uint32_t v, bool x2)
{
	uint32_t w = lapic_lvt_writable(l, i);
	uint32_t ro = LVT_STATUS | (i == LVT_LINT0 || i == LVT_LINT1 ? LVT_REMOTE_IRR : 0);

	if (x2 && (v & ~(w | ro)))
		return LAPIC_GP; /* 10.12.1.3: reserved bits */
	v &= w;
	if (i == LVT_TIMER && (v & LVT_TIMER_MODE) == LVT_TIMER_MODE) {
		if (x2)
			return LAPIC_GP;
		lapic_warnf(l, "LVT timer mode 3 is reserved: one-shot used");
		v &= ~LVT_TIMER_MODE;
	}
	if (!lapic_sw_enabled(l))
		v |= LAPIC_LVT_MASKED; /* 10.4.7.2: masks cannot be cleared while disabled */
	if (i == LVT_TIMER && (timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE) !=
				      ((v & LVT_TIMER_MODE) == LAPIC_TIMER_TSC_DEADLINE)) {
		l->timer.armed = false; /* 10.5.4.1: a change to/from TSC-deadline disarms */
		l->timer.tsc_deadline = 0;
	}
	l->lvt[i] = v;
	return LAPIC_OK;
}

static int write_svr(struct lapic *l, uint32_t v, bool x2)
{
	if (x2 && (v & ~SVR_WRITABLE))
		return LAPIC_GP;
	l->svr = v & SVR_WRITABLE;
	if (!lapic_sw_enabled(l))
		for (int i = 0; i < LVT_COUNT; i++)
			l->lvt[i] |= LAPIC_LVT_MASKED; /* 10.4.7.2 */
	return LAPIC_OK;
}

static int write_dfr(struct lapic *l, uint32_t v)
{
	uint32_t model = v >> 28;

	if (model != 0xf && model != 0)
		lapic_warnf(l, "DFR model %#x is undefined (flat 0xf or cluster 0x0)", model);
	l->dfr = (v & 0xf0000000u) | 0x0fffffffu; /* 10.6.2.2: bits 27:0 read as ones */
	return LAPIC_OK;
}

/* Writes common to both modes; for x2APIC every violation of 10.12.1.3 is #GP. */
static int reg_write(struct lapic *l, uint32_t off, uint32_t v, bool x2)
{
	if (off >= LAPIC_LVT_TIMER && off <= LAPIC_LVT_ERROR && !(off & 0xf))
		return write_lvt(l, (int)((off - LAPIC_LVT_TIMER) >> 4), v, x2);
	switch (off) {
	case LAPIC_TPR:
		if (x2 && (v & ~0xffu))
			return LAPIC_GP;
		l->tpr = (uint8_t)v;
		return LAPIC_OK;
	case LAPIC_EOI:
		if (x2 && v) /* 10.12.1.2: a non-zero EOI write is #GP */
			return LAPIC_GP;
		lapic_eoi(l);
		return LAPIC_OK;
	case LAPIC_SVR:
		return write_svr(l, v, x2);
	case LAPIC_ESR:
		if (x2 && v) /* 10.5.3: only zero may be written in x2APIC mode */
			return LAPIC_GP;
		l->esr = l->esr_pending; /* write-then-read: latch and clear */
		l->esr_pending = 0;
		return LAPIC_OK;
	case LAPIC_TIMER_INITIAL:
		if (timer_mode(l) != LAPIC_TIMER_TSC_DEADLINE) /* ignored in TSC-deadline mode */
			lapic_timer_arm(l, v);
		return LAPIC_OK;
	case LAPIC_TIMER_DIVIDE:
		if (x2 && (v & ~DCR_WRITABLE))
			return LAPIC_GP;
		l->dcr = v & DCR_WRITABLE; /* takes effect at the next arm or period */
		return LAPIC_OK;
	}
	return 1; /* not a common writable register */
}

static int xapic_write(struct lapic *l, uint32_t off, uint32_t v)
{
	int r = reg_write(l, off, v, false);
	uint32_t dummy;

	if (r <= 0)
		return r;
	switch (off) {
	case LAPIC_LDR: l->ldr = v & 0xff000000u; return LAPIC_OK; /* 10.6.2.2 */
	case LAPIC_DFR: return write_dfr(l, v);
	case LAPIC_ICR_HI: l->icr_hi = v & 0xff000000u; return LAPIC_OK;
	case LAPIC_ICR_LO:
		l->icr_lo = v & ICR_WRITABLE;
		send_ipi(l, l->icr_lo, l->icr_hi >> 24, false); /* the write sends (10.6.1) */
		return LAPIC_OK;
	case LAPIC_ID: /* 10.4.6: writable on some models only; IDs here are fixed */
		lapic_warnf(l, "write of %#x to the APIC ID ignored", v);
		return LAPIC_OK;
	}
	if (reg_read(l, off, false, &dummy) == 0) {
		lapic_warnf(l, "write of %#x to read-only register %#x ignored", v, off);
		return LAPIC_OK;
	}
	lapic_error(l, LAPIC_ESR_ILLEGAL_REGISTER);
	lapic_warnf(l, "write of %#x to reserved register %#x", v, off);
	return LAPIC_OK;
}

static bool mmio_ok(struct lapic *l, uint32_t offset, unsigned size, bool write)
{
	if (size == 4 && !(offset & 0xf))
		return true;
	lapic_warnf(l, "%u-byte %s at offset %#x: registers take aligned 32-bit accesses",
		    size, write ? "write" : "read", offset);
	return false;
}

void lapic_peek(const struct lapic *l, uint32_t reg[64])
{
	for (uint32_t i = 0; i < 64; i++)
		if (reg_read(l, i * 16, false, &reg[i]) < 0)
			reg[i] = 0;
}

int lapic_mmio_read(struct lapic *l, uint32_t offset, unsigned size, uint32_t *value)
{
	if (lapic_mode(l) != LAPIC_MODE_XAPIC || offset >= 0x1000)
		return LAPIC_UNCLAIMED;
	*value = 0;
	if (!mmio_ok(l, offset, size, false))
		return LAPIC_OK;
	if (reg_read(l, offset, false, value) < 0) {
		lapic_error(l, LAPIC_ESR_ILLEGAL_REGISTER);
		lapic_warnf(l, "read of reserved register %#x", offset);
	}
	return LAPIC_OK;
}

int lapic_mmio_write(struct lapic *l, uint32_t offset, unsigned size, uint32_t value)
{
	if (lapic_mode(l) != LAPIC_MODE_XAPIC || offset >= 0x1000)
		return LAPIC_UNCLAIMED;
	if (!mmio_ok(l, offset, size, true))
		return LAPIC_OK;
	return xapic_write(l, offset, value);
}

/* ---- MSRs ---------------------------------------------------------------------------------- */

/* 10.12.5.1, figure 10-27: the legal IA32_APIC_BASE mode transitions. */
static int write_apic_base(struct lapic *l, uint64_t v)
{
	uint64_t reserved = BASE_RESERVED_LOW | ~((1ull << l->cfg.phys_bits) - 1) |
			    (l->cfg.x2apic ? 0 : LAPIC_BASE_EXTD);
	enum lapic_mode old = lapic_mode(l);

	v = (v & ~LAPIC_BASE_BSP) | (l->apic_base & LAPIC_BASE_BSP); /* BSP is read-only */
	if (v & reserved)
		return LAPIC_GP;
	if ((v & (LAPIC_BASE_EN | LAPIC_BASE_EXTD)) == LAPIC_BASE_EXTD)
		return LAPIC_GP; /* EN = 0, EXTD = 1 is invalid */
	l->apic_base = v;
	enum lapic_mode mode = lapic_mode(l);
	if ((old == LAPIC_MODE_X2APIC && mode == LAPIC_MODE_XAPIC) ||
	    (old == LAPIC_MODE_DISABLED && mode == LAPIC_MODE_X2APIC)) {
		l->apic_base = (l->apic_base & ~(LAPIC_BASE_EN | LAPIC_BASE_EXTD)) |
			       (old == LAPIC_MODE_X2APIC ? LAPIC_BASE_EN | LAPIC_BASE_EXTD : 0);
		return LAPIC_GP;
	}
	if (mode == LAPIC_MODE_DISABLED && old != LAPIC_MODE_DISABLED)
		lapic_clear_regs(l); /* 10.4.3: disabling returns the APIC to its reset state */
	else if (mode == LAPIC_MODE_X2APIC && old == LAPIC_MODE_XAPIC)
		l->ldr = x2apic_ldr(l->cfg.apic_id); /* 10.12.10.2: LDR derived from the ID */
	return LAPIC_OK;
}

static int tsc_deadline_msr(struct lapic *l, bool write, uint64_t *v)
{
	bool armed_mode = timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE &&
			  lapic_mode(l) != LAPIC_MODE_DISABLED;

	if (!l->cfg.tsc_hz)
		return LAPIC_GP; /* no TSC-deadline support: the MSR does not exist */
	if (!write)
		*v = armed_mode ? l->timer.tsc_deadline : 0;
	else if (armed_mode) { /* 10.5.4.1: ignored in the other timer modes */
		uint64_t now = now_ns(l);
		lapic_deadline_set(l, *v, now, *v ? lapic_guest_tsc(l, now) : 0);
	}
	return LAPIC_OK;
}

int lapic_msr_read(struct lapic *l, uint32_t msr, uint64_t *value)
{
	uint32_t v;

	if (msr == LAPIC_MSR_APIC_BASE) {
		*value = l->apic_base;
		return LAPIC_OK;
	}
	if (msr == LAPIC_MSR_TSC_DEADLINE)
		return tsc_deadline_msr(l, false, value);
	if (msr < LAPIC_MSR_X2APIC_FIRST || msr > LAPIC_MSR_X2APIC_LAST)
		return LAPIC_UNCLAIMED;
	if (lapic_mode(l) != LAPIC_MODE_X2APIC)
		return LAPIC_GP; /* 10.12.1.2: x2APIC MSRs exist only in x2APIC mode */
	uint32_t off = (msr - LAPIC_MSR_X2APIC_FIRST) << 4;
	if (off == LAPIC_ICR_LO) {
		*value = (uint64_t)l->icr_hi << 32 | (l->icr_lo & ~ICR_STATUS);
		return LAPIC_OK;
	}
	if (off == LAPIC_EOI || off == LAPIC_SELF_IPI || reg_read(l, off, true, &v) < 0)
		return LAPIC_GP; /* write-only or reserved */
	*value = v;
	return LAPIC_OK;
}

static int x2apic_write(struct lapic *l, uint32_t off, uint64_t value)
{
	uint32_t v = (uint32_t)value;

	if (off == LAPIC_ICR_LO) { /* one 64-bit register, destination in 63:32 (10.12.9) */
		if (v & ~(ICR_WRITABLE | ICR_STATUS))
			return LAPIC_GP;
		l->icr_lo = v & ICR_WRITABLE;
		l->icr_hi = (uint32_t)(value >> 32);
		send_ipi(l, l->icr_lo, l->icr_hi, true);
		return LAPIC_OK;
	}
	if (value >> 32)
		return LAPIC_GP;
	if (off == LAPIC_SELF_IPI) { /* 10.12.11: fixed, edge, to self */
		if (v & ~0xffu)
			return LAPIC_GP;
		send_ipi(l, v | (LAPIC_SH_SELF << 18), 0, true);
		return LAPIC_OK;
	}
	int r = reg_write(l, off, v, true);
	return r <= 0 ? r : LAPIC_GP; /* read-only (ID, version, LDR, PPR, ISR...) or reserved */
}

int lapic_msr_write(struct lapic *l, uint32_t msr, uint64_t value)
{
	if (msr == LAPIC_MSR_APIC_BASE)
		return write_apic_base(l, value);
	if (msr == LAPIC_MSR_TSC_DEADLINE)
		return tsc_deadline_msr(l, true, &value);
	if (msr < LAPIC_MSR_X2APIC_FIRST || msr > LAPIC_MSR_X2APIC_LAST)
		return LAPIC_UNCLAIMED;
	if (lapic_mode(l) != LAPIC_MODE_X2APIC)
		return LAPIC_GP;
	return x2apic_write(l, (msr - LAPIC_MSR_X2APIC_FIRST) << 4, value);
}
