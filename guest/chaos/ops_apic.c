/*
 * ops_apic.c - what a CPU's local APIC sends and times: IPIs of every delivery mode (fixed,
 * lowest priority, NMI, INIT, STARTUP, ExtINT) with destination shorthands, physical,
 * logical, nonexistent and broadcast destinations; the APIC timer (one-shot, periodic with
 * counts of 1, TSC-deadline, the reserved mode); HLT; and writes to any of its registers.
 *
 * What is never sent, and why:
 *  - INIT to the BSP (by its ID, a broadcast, a shorthand that includes it, a logical
 *    destination, an LVT or I/O APIC entry): the BSP would restart at the reset vector, where
 *    there is no firmware, and mpvmm ends the run (status 5).  APs INIT themselves and each
 *    other; the BSP sends INIT to all excluding self.  The APIC ID register is never
 *    written, so an ID keeps naming the CPU the guest thinks it does.
 *  - SMI: it enters SMM, where there is no handler (SMRAM is empty), and the CPU runs wild.
 *  - Delivery mode 3 (reserved): KVM's local APIC prints a kernel message for each one
 *    ("TODO: unsupported delivery mode"), which would flood the host's log.
 *  - A STARTUP vector other than the three pages the guest prepared (apic.h).
 *  - An NMI that may reach an AP between its STARTUP and its IDT (real, 16- and 32-bit
 *    code, where the NMI would go through a table that is not one and triple-fault): while
 *    INITs restart APs, NMIs go only to self, the BSP and APs in the loop (apic.c).
 */
#include "ops.h"

#include "apic.h"
#include "arch.h"
#include "rng.h"
#include "trap.h"

#define MSR_TSC_DEADLINE 0x6e0u

uint32_t rand_value32(struct chaos_cpu *c)
{
	switch (rng_below(&c->rng, 8)) {
	case 0: return 0;
	case 1: return 0xffffffffu;
	case 2: return 1u << rng_below(&c->rng, 32);
	case 3: return rng_below(&c->rng, 256);
	default: return (uint32_t)rng_next(&c->rng);
	}
}

uint64_t rand_value64(struct chaos_cpu *c)
{
	if (rng_one_in(&c->rng, 4))
		return rand_value32(c);
	return rng_next(&c->rng);
}

static bool is_lvt(uint32_t reg)
{
	return reg == LAPIC_LVT_CMCI || (reg >= LAPIC_LVT_TIMER && reg <= LAPIC_LVT_ERROR);
}

void lapic_reg_write(struct chaos_cpu *c, uint32_t reg, uint32_t v)
{
	if (reg == LAPIC_ID) {
		c->filtered++;
		return;
	}
	if (reg == LAPIC_ICR_LO) {
		op_ipi(c); /* a write to the ICR is a message: made by the rules of one */
		return;
	}
	apic_write(c, reg, is_lvt(reg) ? delivery_safe(c, v) : v);
}

/* ---- destinations ---- */

static uint32_t nobody(struct chaos_cpu *c)
{
	return c->x2apic ? 0x1000 + rng_below(&c->rng, 0x100000) : 0x80 + rng_below(&c->rng, 0x7f);
}

static uint32_t rand_dest(struct chaos_cpu *c)
{
	switch (rng_below(&c->rng, 8)) {
	case 0: return apic_broadcast(c);
	case 1: return nobody(c);
	case 2: return c->x2apic ? (uint32_t)rng_next(&c->rng) : rng_below(&c->rng, 256);
	case 3: return cs.apic_ids[0];
	default: return cs.apic_ids[rng_below(&c->rng, cs.ncpus)];
	}
}

/* none half the time, else self, all including self, all excluding self (SDM 10.6.1). */
static uint32_t rand_shorthand(struct chaos_cpu *c)
{
	return rng_one_in(&c->rng, 2) ? SH_NONE : 1 + rng_below(&c->rng, 3);
}

/* Whether an INIT to physical `dest` (no shorthand) cannot reach the BSP. */
static bool init_dest_ok(uint32_t dest)
{
	uint32_t bsp = cs.apic_ids[0];

	return dest != bsp && (dest & 0xff) != (bsp & 0xff) && (dest & 0xff) != 0xff;
}

/* ---- messages ---- */

void op_ipi(struct chaos_cpu *c)
{
	static const uint8_t modes[] = { DM_FIXED, DM_FIXED, DM_FIXED, DM_LOWEST, DM_LOWEST,
					 DM_EXTINT };
	uint32_t vec = rng_one_in(&c->rng, 10) ? rng_below(&c->rng, 16) : rng_below(&c->rng, 256);
	uint32_t lo = vec | (uint32_t)modes[rng_below(&c->rng, sizeof(modes))] << DM_SHIFT |
		      rand_shorthand(c) << SH_SHIFT;

	if (rng_one_in(&c->rng, 4))
		lo |= ICR_LOGICAL;
	if (rng_below(&c->rng, 4))
		lo |= ICR_ASSERT;
	if (rng_one_in(&c->rng, 8))
		lo |= ICR_LEVEL;
	apic_icr(c, rand_dest(c), lo);
}

void op_nmi(struct chaos_cpu *c)
{
	uint32_t sh = rand_shorthand(c), dest = rand_dest(c);
	bool logical = rng_one_in(&c->rng, 4);

	if (!nmi_dest_safe(c, sh, logical, dest)) {
		sh = SH_SELF;
		logical = false;
	}
	apic_icr(c, dest, DM_NMI << DM_SHIFT | ICR_ASSERT | sh << SH_SHIFT |
		 (logical ? ICR_LOGICAL : 0));
}

/* INIT as the SDM's MP example sends it (10.6.1): assert, then (xAPIC) de-assert. */
static void send_init(struct chaos_cpu *c, uint32_t dest, uint32_t sh)
{
	uint32_t lo = DM_INIT << DM_SHIFT | ICR_ASSERT | sh << SH_SHIFT;

	if (c->x2apic || rng_one_in(&c->rng, 4)) {
		apic_icr(c, dest, lo); /* edge-triggered */
		return;
	}
	apic_icr(c, dest, lo | ICR_LEVEL);
	apic_icr(c, dest, (lo & ~ICR_ASSERT) | ICR_LEVEL);
}

static void send_sipis(struct chaos_cpu *c, uint32_t dest, uint32_t sh, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		apic_icr(c, dest, DM_STARTUP << DM_SHIFT | ICR_ASSERT | sh << SH_SHIFT |
			 sipi_vector(c));
}

static void mark_restarting(uint32_t i)
{
	__atomic_store_n(&cpus[i].alive, 0, __ATOMIC_SEQ_CST);
}

/* An AP other than the BSP's twin (an ID whose low byte is the BSP's is never INITed). */
static int init_target(struct chaos_cpu *c)
{
	if (cs.ncpus < 2)
		return -1;
	uint32_t i = 1 + rng_below(&c->rng, cs.ncpus - 1);
	return init_dest_ok(cs.apic_ids[i]) ? (int)i : -1;
}

void op_init(struct chaos_cpu *c)
{
	uint32_t r = rng_below(&c->rng, 8);
	int t = init_target(c);

	if (r == 0 && c->index == 0) { /* the BSP: every AP at once */
		for (uint32_t i = 1; i < cs.ncpus; i++)
			mark_restarting(i);
		send_init(c, 0, SH_OTHERS);
		send_sipis(c, 0, SH_OTHERS, rng_below(&c->rng, 3));
		return;
	}
	if (r == 1) { /* nobody: an ID no processor has */
		uint32_t dest = nobody(c);
		if (init_dest_ok(dest))
			send_init(c, dest, SH_NONE);
		return;
	}
	if (r == 2 && c->index != 0) /* itself: the next instruction is its SIPI's */
		t = (int)c->index;
	if (t < 0)
		return;
	mark_restarting((uint32_t)t);
	send_init(c, cs.apic_ids[t], SH_NONE);
	send_sipis(c, cs.apic_ids[t], SH_NONE, rng_below(&c->rng, 3));
}

/* INIT level de-assert (SDM 10.6.1): no processor is reset by it, the BSP included. */
void op_init_deassert(struct chaos_cpu *c)
{
	uint32_t lo = DM_INIT << DM_SHIFT | ICR_LEVEL;

	if (rng_one_in(&c->rng, 2))
		apic_icr(c, 0, lo | SH_ALL << SH_SHIFT);
	else
		apic_icr(c, rand_dest(c), lo);
}

static int restarting_ap(struct chaos_cpu *c)
{
	uint32_t from = rng_below(&c->rng, cs.ncpus);

	for (uint32_t k = 0; k < cs.ncpus; k++) {
		uint32_t i = (from + k) % cs.ncpus;
		if (i && !__atomic_load_n(&cpus[i].alive, __ATOMIC_ACQUIRE))
			return (int)i;
	}
	return -1;
}

/* A storm of STARTUPs: to APs waiting for one, to all others, anywhere. */
void op_sipi(struct chaos_cpu *c)
{
	uint32_t n = 1 + rng_below(&c->rng, 8);

	for (uint32_t k = 0; k < n; k++) {
		int t = restarting_ap(c);
		uint32_t r = rng_below(&c->rng, 10);
		if (r < 4 && t > 0)
			send_sipis(c, cs.apic_ids[t], SH_NONE, 1);
		else if (r < 6)
			send_sipis(c, 0, SH_OTHERS, 1);
		else if (r < 8)
			send_sipis(c, rand_dest(c), SH_NONE, 1);
		else
			send_sipis(c, 0, r == 8 ? SH_SELF : SH_ALL, 1);
	}
}

/* ---- the timer (SDM 10.5.4) ---- */

static uint32_t timer_count(struct chaos_cpu *c)
{
	switch (rng_below(&c->rng, 8)) {
	case 0: return 0; /* stops it */
	case 1:
	case 2:
	case 3: return 1 + rng_below(&c->rng, 16);
	case 4:
	case 5: return 17 + rng_below(&c->rng, 4096);
	default: return (uint32_t)rng_next(&c->rng);
	}
}

void op_lapic_timer(struct chaos_cpu *c)
{
	uint32_t vec = rng_one_in(&c->rng, 8) ? rng_below(&c->rng, 32) : 32 + rng_below(&c->rng, 224);
	uint32_t lvt = vec | rng_below(&c->rng, 4) << 17; /* one-shot, periodic, deadline, reserved */

	if (rng_one_in(&c->rng, 4))
		lvt |= LVT_MASKED;
	lapic_reg_write(c, LAPIC_LVT_TIMER, lvt);
	apic_write(c, LAPIC_TIMER_DCR, rng_below(&c->rng, 16));
	apic_write(c, LAPIC_TIMER_ICR, timer_count(c));
	if (rng_one_in(&c->rng, 4))
		(void)apic_read(c, LAPIC_TIMER_CCR);
}

/* IA32_TSC_DEADLINE (SDM 10.5.4.1): passed, now, soon, far, 0, anything. */
void op_tsc_deadline(struct chaos_cpu *c)
{
	uint64_t now = rdtsc(), v;

	switch (rng_below(&c->rng, 6)) {
	case 0: v = 0; break;
	case 1: v = now - rng_below(&c->rng, 1u << 30); break;
	case 2: v = now + rng_below(&c->rng, 1u << 16); break;
	case 3: v = now + rng_below(&c->rng, 1u << 30); break;
	default: v = rng_next(&c->rng); break;
	}
	if (rng_one_in(&c->rng, 2))
		lapic_reg_write(c, LAPIC_LVT_TIMER, (32 + rng_below(&c->rng, 224)) | 2u << 17);
	msr_write_safe(MSR_TSC_DEADLINE, v);
}

/* ---- sleeping and tidying ---- */

/* An AP: STI; HLT with its own one-shot timer armed (anything else may wake it too). */
void op_hlt(struct chaos_cpu *c)
{
	apic_write(c, LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
	apic_write(c, LAPIC_LVT_TIMER, VEC_HLT_TIMER);
	apic_write(c, LAPIC_TIMER_DCR, 0xb); /* divide by 1 */
	apic_write(c, LAPIC_TIMER_ICR, 1000 + rng_below(&c->rng, 100000));
	c->window_irqs = 0;
	__asm__ volatile("sti; hlt; cli" : : : "memory");
}

/* The APIC software-enabled again and TPR 0: chaos stays lively. */
void op_tidy(struct chaos_cpu *c)
{
	apic_write(c, LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
	apic_write(c, LAPIC_TPR, 0);
	apic_write(c, LAPIC_ESR, 0);
	(void)apic_read(c, LAPIC_ESR);
}
