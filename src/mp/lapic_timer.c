/*
 * lapic_timer.c - the local APIC timer (Intel SDM Vol. 3A, 10.5.4): one-shot and periodic
 * counting from the bus clock through the divide configuration, and TSC-deadline mode
 * (10.5.4.1), its deadline kept as a time on the caller's clock.  It must not know how the
 * guest reaches the timer's registers (MMIO or MSRs, lapic_regs.c), nor who calls
 * lapic_timer_fire and when: the caller owns the clock and the thread.
 */
#include "mp/lapic.h"
#include "mp/lapic_internal.h"

/* Table 10-10 (figure 10-10): bits 3,1,0 = 111 -> 1, otherwise 2 << value. */
static uint32_t divide_value(uint32_t dcr)
{
	uint32_t x = (dcr & 3) | ((dcr >> 1) & 4);

	return x == 7 ? 1 : 2u << x;
}

/* The count's period on the bus clock, at least one nanosecond. */
static uint64_t count_period_ns(const struct lapic *l)
{
	unsigned __int128 ns = (unsigned __int128)l->timer.initial * l->timer.div * NS_PER_S;
	unsigned __int128 p = (ns + l->cfg.bus_hz - 1) / l->cfg.bus_hz;

	return p ? (uint64_t)p : 1;
}

/*
 * The timer's period: in periodic mode never below LAPIC_MIN_PERIOD_NS, as KVM's in-kernel
 * APIC clamps it (min_timer_period_us, arch/x86/kvm/lapic.c): a guest asking for a count
 * of 1 would otherwise have mpvmm fire a timer every nanosecond.  The count then runs at
 * that slower pace too, as it does under KVM.
 */
static uint64_t timer_period_ns(const struct lapic *l)
{
	uint64_t p = count_period_ns(l);

	return timer_mode(l) == LAPIC_TIMER_PERIODIC && p < LAPIC_MIN_PERIOD_NS ?
	       LAPIC_MIN_PERIOD_NS : p;
}

/* TSC ticks as ns, rounded up (a deadline never falls due early). */
static uint64_t tsc_to_ns(const struct lapic *l, uint64_t tsc)
{
	unsigned __int128 ns = (unsigned __int128)tsc * NS_PER_S + l->cfg.tsc_hz - 1;

	ns /= l->cfg.tsc_hz;

	return ns >= LAPIC_TIMER_NONE ? LAPIC_TIMER_NONE - 1 : (uint64_t)ns;
}

/* ns as TSC ticks (the inverse of tsc_to_ns, rounded down). */
uint64_t lapic_ns_to_tsc(const struct lapic *l, uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * l->cfg.tsc_hz / NS_PER_S);
}

/* The guest TSC at clock time `now`: the CPU's own where it keeps one, else the clock's. */
uint64_t lapic_guest_tsc(const struct lapic *l, uint64_t now)
{
	return l->cfg.tsc_now ? l->cfg.tsc_now(l->cfg.tsc_ctx, l->cfg.cpu)
			      : lapic_ns_to_tsc(l, now);
}

/* IA32_TSC_DEADLINE := tsc, `tsc` being the guest TSC at clock time `now`: due that many
 * ticks later on the clock, at once if it has passed (10.5.4.1). */
void lapic_deadline_set(struct lapic *l, uint64_t deadline, uint64_t now, uint64_t tsc)
{
	uint64_t ahead = deadline > tsc ? tsc_to_ns(l, deadline - tsc) : 0;

	l->timer.tsc_deadline = deadline;
	l->timer.deadline_ns = now > LAPIC_TIMER_NONE - 1 - ahead ? LAPIC_TIMER_NONE - 1
								   : now + ahead;
}

void lapic_timer_arm(struct lapic *l, uint32_t initial)
{
	l->timer.initial = initial;
	l->timer.armed = initial != 0; /* 10.5.4: a zero initial count stops the timer */
	l->timer.div = divide_value(l->dcr);
	l->timer.start_ns = now_ns(l);
	if (l->timer.armed && timer_mode(l) == LAPIC_TIMER_PERIODIC &&
	    count_period_ns(l) < LAPIC_MIN_PERIOD_NS)
		lapic_warnf(l, "periodic timer of %llu ns is below %llu us: %llu us used, as KVM does",
			    (unsigned long long)count_period_ns(l),
			    (unsigned long long)(LAPIC_MIN_PERIOD_NS / 1000),
			    (unsigned long long)(LAPIC_MIN_PERIOD_NS / 1000));
}

uint32_t lapic_timer_current(const struct lapic *l)
{
	if (!l->timer.armed || timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE)
		return 0;
	uint64_t now = now_ns(l), period = timer_period_ns(l);
	if (now < l->timer.start_ns)
		return l->timer.initial;
	uint64_t el = now - l->timer.start_ns;
	if (el >= period) {
		if (timer_mode(l) != LAPIC_TIMER_PERIODIC)
			return 0;
		el %= period;
	}
	unsigned __int128 ticks = (unsigned __int128)el * l->cfg.bus_hz;
	ticks /= (uint64_t)l->timer.div * NS_PER_S;
	/* A clamped period counts the initial count down over the whole of it. */
	if (period != count_period_ns(l))
		ticks = (unsigned __int128)el * l->timer.initial / period;
	return ticks >= l->timer.initial ? 0 : l->timer.initial - (uint32_t)ticks;
}

uint64_t lapic_timer_next(const struct lapic *l)
{
	if (lapic_mode(l) == LAPIC_MODE_DISABLED)
		return LAPIC_TIMER_NONE;
	if (timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE) {
		return l->timer.tsc_deadline ? l->timer.deadline_ns : LAPIC_TIMER_NONE;
	}
	if (!l->timer.armed)
		return LAPIC_TIMER_NONE;
	uint64_t p = timer_period_ns(l);
	return l->timer.start_ns > LAPIC_TIMER_NONE - 1 - p ? LAPIC_TIMER_NONE - 1
							      : l->timer.start_ns + p;
}

/* A masked LVT entry only suppresses the interrupt; the count goes on (10.5.4). */
static bool timer_raise(struct lapic *l)
{
	uint32_t lvt = l->lvt[LVT_TIMER];

	if (lvt & LAPIC_LVT_MASKED)
		return false;
	return lapic_set_irq(l, (uint8_t)(lvt & LVT_VECTOR), false);
}

bool lapic_timer_fire(struct lapic *l, uint64_t now)
{
	uint64_t due = lapic_timer_next(l);

	if (due == LAPIC_TIMER_NONE || now < due)
		return false;
	if (timer_mode(l) == LAPIC_TIMER_TSC_DEADLINE) {
		l->timer.tsc_deadline = 0; /* 10.5.4.1: it disarms itself and clears the MSR */
	} else if (timer_mode(l) == LAPIC_TIMER_PERIODIC) {
		/* One interrupt for however many periods passed: IRR holds one per vector. */
		uint64_t p = timer_period_ns(l);
		l->timer.start_ns += (now - l->timer.start_ns) / p * p;
		l->timer.div = divide_value(l->dcr); /* a new divide value applies from here */
		/* Shorter by it, the next period may be over already: it is due after now. */
		p = timer_period_ns(l);
		l->timer.start_ns += (now - l->timer.start_ns) / p * p;
	} else {
		l->timer.armed = false;
	}
	return timer_raise(l);
}
