/*
 * lapic.c - see lapic.h.  One local APIC as registers and arithmetic: its state and mode,
 * RESET and INIT, priorities, and the life of an interrupt (IRR, ISR, EOI); the guest's
 * register accesses are lapic_regs.c's, the timer lapic_timer.c's, snapshots
 * lapic_state.c's.  Section numbers are those of the Intel SDM Vol. 3A, chapter 10.  It must
 * not know how IPIs are routed, which CPU runs it, or what a thread is: those are
 * apic_bus.c's and the accelerator's business.
 */
#include "mp/lapic.h"
#include "mp/lapic_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((format(printf, 2, 3)))
void lapic_warnf(const struct lapic *l, const char *fmt, ...)
{
	char msg[160];
	int n;
	va_list ap;

	if (!l->cfg.warn)
		return;
	n = snprintf(msg, sizeof(msg), "cpu %u: local APIC: ", l->cfg.cpu);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	l->cfg.warn(l->cfg.warn_ctx, msg);
}

/* ---- vectors: IRR, ISR, TMR are 256-bit sets, 32 bits per register (10.8.4) ---------- */

static void bit_set(uint32_t r[8], uint8_t v, bool on)
{
	if (on)
		r[v >> 5] |= 1u << (v & 31);
	else
		r[v >> 5] &= ~(1u << (v & 31));
}

static bool bit_test(const uint32_t r[8], uint8_t v)
{
	return r[v >> 5] & (1u << (v & 31));
}

static int highest(const uint32_t r[8])
{
	for (int i = 7; i >= 0; i--)
		if (r[i])
			return i * 32 + 31 - __builtin_clz(r[i]);
	return -1;
}

/* ---- state ---------------------------------------------------------------------------- */

enum lapic_mode lapic_mode(const struct lapic *l)
{
	if (!(l->apic_base & LAPIC_BASE_EN))
		return LAPIC_MODE_DISABLED;
	return l->apic_base & LAPIC_BASE_EXTD ? LAPIC_MODE_X2APIC : LAPIC_MODE_XAPIC;
}

uint64_t lapic_base(const struct lapic *l)
{
	return l->apic_base & ~0xfffull;
}

uint32_t lapic_id(const struct lapic *l)
{
	return l->cfg.apic_id;
}

uint32_t lapic_ldr(const struct lapic *l)
{
	return l->ldr;
}

uint32_t lapic_dfr(const struct lapic *l)
{
	return l->dfr;
}

bool lapic_sw_enabled(const struct lapic *l)
{
	return l->svr & LAPIC_SVR_ENABLE;
}

/* Register values after power-up, RESET and INIT (10.4.7.1, 10.4.7.3). */
void lapic_clear_regs(struct lapic *l)
{
	l->tpr = 0;
	l->ldr = lapic_mode(l) == LAPIC_MODE_X2APIC ? x2apic_ldr(l->cfg.apic_id) : 0;
	l->dfr = 0xffffffffu;
	l->svr = 0xff;
	for (int i = 0; i < 8; i++)
		l->isr[i] = l->tmr[i] = l->irr[i] = 0;
	l->esr = l->esr_pending = 0;
	l->icr_lo = l->icr_hi = 0;
	for (int i = 0; i < LVT_COUNT; i++)
		l->lvt[i] = LAPIC_LVT_MASKED;
	if (l->cfg.virtual_wire)
		l->lvt[LVT_LINT0] = (uint32_t)LAPIC_DM_EXTINT << 8;
	l->dcr = 0;
	l->timer = (struct lapic_timer){ 0 };
	l->nmi_pending = false;
}

void lapic_reset(struct lapic *l)
{
	l->apic_base = LAPIC_DEFAULT_BASE | LAPIC_BASE_EN | (l->cfg.bsp ? LAPIC_BASE_BSP : 0);
	lapic_clear_regs(l);
}

void lapic_init(struct lapic *l)
{
	lapic_clear_regs(l);
}

struct lapic *lapic_create(const struct lapic_config *cfg)
{
	struct lapic *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->cfg = *cfg;
	if (!l->cfg.bus_hz)
		l->cfg.bus_hz = NS_PER_S;
	if (!l->cfg.phys_bits || l->cfg.phys_bits > 52)
		l->cfg.phys_bits = 52;
	lapic_reset(l);
	return l;
}

void lapic_destroy(struct lapic *l)
{
	free(l);
}

/* ---- priorities (10.8.3.1, 10.6.2.4) ----------------------------------------------------- */

uint8_t lapic_ppr(const struct lapic *l)
{
	int isrv = highest(l->isr);
	uint8_t isr_class = isrv < 0 ? 0 : (uint8_t)(isrv & 0xf0);

	return (l->tpr & 0xf0) >= isr_class ? l->tpr : isr_class;
}

/* Figure 10-15: TPR if it dominates the highest IRR and ISR classes, else the top class. */
uint8_t lapic_apr(const struct lapic *l)
{
	int isrv = highest(l->isr), irrv = highest(l->irr);
	uint8_t tpr_c = l->tpr & 0xf0;
	uint8_t isr_c = isrv < 0 ? 0 : (uint8_t)(isrv & 0xf0);
	uint8_t irr_c = irrv < 0 ? 0 : (uint8_t)(irrv & 0xf0);

	if (tpr_c >= irr_c && tpr_c > isr_c)
		return l->tpr;
	uint8_t c = tpr_c > isr_c ? tpr_c : isr_c;
	return c > irr_c ? c : irr_c;
}

/* ---- interrupts --------------------------------------------------------------------------- */

static void irr_post(struct lapic *l, uint8_t vector, bool level)
{
	bit_set(l->irr, vector, true);
	bit_set(l->tmr, vector, level);
}

/* 10.5.3: log an error; the LVT error entry raises its vector unless masked. */
void lapic_error(struct lapic *l, uint32_t bit)
{
	uint32_t lvt = l->lvt[LVT_ERROR];

	l->esr_pending |= bit;
	if (!(lvt & LAPIC_LVT_MASKED) && (lvt & LVT_VECTOR) >= 16 && lapic_sw_enabled(l))
		irr_post(l, (uint8_t)(lvt & LVT_VECTOR), false);
}

bool lapic_set_irq(struct lapic *l, uint8_t vector, bool level)
{
	if (lapic_mode(l) == LAPIC_MODE_DISABLED)
		return false;
	if (vector < 16) { /* 10.5.2: vectors 0-15 are illegal */
		lapic_error(l, LAPIC_ESR_RECV_ILLEGAL_VECTOR);
		lapic_warnf(l, "received illegal vector %u", vector);
		return false;
	}
	if (!lapic_sw_enabled(l)) /* 10.4.7.2: no fixed interrupts while software-disabled */
		return false;
	irr_post(l, vector, level);
	return true;
}

int lapic_pending(const struct lapic *l)
{
	int v = highest(l->irr);

	if (lapic_mode(l) == LAPIC_MODE_DISABLED || v < 0)
		return -1;
	return (v & 0xf0) > (lapic_ppr(l) & 0xf0) ? v : -1;
}

int lapic_accept(struct lapic *l)
{
	int v = lapic_pending(l);

	if (v < 0)
		return -1;
	bit_set(l->irr, (uint8_t)v, false);
	bit_set(l->isr, (uint8_t)v, true);
	return v;
}

/*
 * 10.8.5: EOI retires the highest-priority in-service interrupt; for a level-triggered one
 * (TMR set) the EOI is also broadcast to the I/O APICs.
 */
void lapic_eoi(struct lapic *l)
{
	int v = highest(l->isr);

	if (v < 0)
		return;
	bit_set(l->isr, (uint8_t)v, false);
	if (bit_test(l->tmr, (uint8_t)v) && l->cfg.eoi)
		l->cfg.eoi(l->cfg.eoi_ctx, l->cfg.cpu, (uint8_t)v);
}

bool lapic_accepts_extint(const struct lapic *l)
{
	uint32_t lint0 = l->lvt[LVT_LINT0];

	if (lapic_mode(l) == LAPIC_MODE_DISABLED)
		return true;
	return !(lint0 & LAPIC_LVT_MASKED) &&
	       ((lint0 & LVT_DELIVERY_MODE) >> 8) == LAPIC_DM_EXTINT;
}

void lapic_raise_nmi(struct lapic *l)
{
	l->nmi_pending = true;
}

bool lapic_nmi_pending(const struct lapic *l)
{
	return l->nmi_pending;
}

bool lapic_take_nmi(struct lapic *l)
{
	bool was = l->nmi_pending;

	l->nmi_pending = false;
	return was;
}
