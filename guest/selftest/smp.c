/*
 * smp.c - the BSP's side of the MP initialization protocol (Intel SDM Vol. 3A, 8.4.4 "MP
 * Initialization Example"): install the trampoline, then INIT-SIPI-SIPI each AP in MADT
 * order, announcing every step to the VMM; wait for the reports with HLT, never a bare
 * spin; check them; PASS or FAIL.
 */
#include "smp.h"

#include <stdint.h>

#include "arch.h"
#include "cpu.h"
#include "irq.h"
#include "lapic.h"
#include "lib.h"
#include "mistakes.h"
#include "pingpong.h"
#include "result.h"
#include "state.h"
#include "tscdeadline.h"
#include "trampoline.h"

#define MAX_MISSING_SHOWN 8u
#define MAX_AP_FAILS_SHOWN 8u
#define RAM_LIMIT 0xc0000000ull /* RAM is contiguous below 3 GiB; above is the MMIO hole */

extern const uint64_t gdt[], gdt_end[]; /* entry.S */
extern const uint8_t __stacks_start[];   /* guest.ld: first page after the image and .bss */

/*
 * Install the trampoline and its data below 1 MiB, with stacks for at least `want` APs.
 * The stacks (after the image, not zeroed) are SELFTEST_MAX_CPUS when RAM allows, so that
 * an AP that should not have started cannot take the last stack from one that should.
 */
static void trampoline_install(uint32_t want)
{
	uint64_t base = (uint64_t)(uintptr_t)__stacks_start;
	uint64_t top = g.bi->mem_size < RAM_LIMIT ? g.bi->mem_size : RAM_LIMIT;
	uint64_t room = top > base ? (top - base) / AP_STACK_SIZE : 0;
	uint32_t count = room >= SELFTEST_MAX_CPUS ? SELFTEST_MAX_CPUS : (uint32_t)room;

	if (count < want)
		fail(SELFTEST_FAIL_RESOURCES, "not enough RAM for %u AP stacks at 0x%lx (mem_size "
		     "0x%lx)", want, (unsigned long)base, (unsigned long)g.bi->mem_size);

	size_t len = (size_t)(trampoline_end - trampoline_start);
	memcpy(phys(SELFTEST_TRAMPOLINE), trampoline_start, len);

	struct trampoline_data *td =
		phys(SELFTEST_TRAMPOLINE + (uint64_t)(trampoline_data - trampoline_start));
	uint64_t cr3 = read_cr3();
	if (cr3 >> 32)
		fail(SELFTEST_FAIL_RESOURCES, "cr3 0x%lx is above 4 GiB: the trampoline loads it "
		     "in 32-bit mode", (unsigned long)cr3);
	td->gdt_limit = (uint16_t)((uintptr_t)gdt_end - (uintptr_t)gdt - 1);
	td->gdt_base_lo = (uint16_t)(uintptr_t)gdt;
	td->gdt_base_hi = (uint16_t)((uintptr_t)gdt >> 16);
	td->pad = 0;
	td->cr3 = cr3;
	td->efer_or = EFER_LME | (rdmsr(MSR_EFER) & (EFER_NXE | EFER_SCE));
	td->entry = (uint64_t)(uintptr_t)ap_main;
	td->stack_base = base;
	td->stack_count = count;
	__atomic_store_n(&td->stack_next, 0, __ATOMIC_RELAXED);
}

static void announce(uint32_t apic_id, enum selftest_step step)
{
	outl(SELFTEST_PORT_STEP, SELFTEST_STEP_VALUE(step, apic_id));
}

/* The steps that only step mode announces (each costs a VM exit). */
static void announce_step_only(uint32_t apic_id, enum selftest_step step)
{
	if (__atomic_load_n(&g.step, __ATOMIC_RELAXED))
		announce(apic_id, step);
}

/*
 * INIT-SIPI-SIPI (SDM Vol. 3A, 8.4.4.1; ICR encodings 10.6.1, x2APIC 10.12.9).  The SDM's
 * 10 ms after INIT and 200 us between the STARTUPs are for real hardware: a virtual CPU
 * latches INIT and each SIPI in order as it arrives (a SIPI is only accepted in
 * wait-for-SIPI state, so the second one is ignored once the AP runs), and waiting here
 * would cost seconds of emulated time with many APs.
 */
static void start_ap(uint32_t apic_id)
{
	const uint32_t sipi = ICR_DM_STARTUP | ICR_LEVEL_ASSERT | SELFTEST_SIPI_VECTOR; /* 0x4608 */

	if (__atomic_load_n(&g.step, __ATOMIC_RELAXED))
		announce(apic_id, SELFTEST_STEP_BEFORE_INIT);
	else
		announce(apic_id, SELFTEST_STEP_SENDING);
	if (__atomic_load_n(&lapic_x2apic, __ATOMIC_RELAXED)) {
		/* x2APIC has no INIT level de-assert (SDM 10.12.9). */
		lapic_send_ipi(apic_id, ICR_DM_INIT | ICR_LEVEL_ASSERT); /* 0x4500 */
	} else {
		lapic_send_ipi(apic_id, ICR_DM_INIT | ICR_LEVEL_ASSERT | ICR_TRIGGER_LEVEL); /* 0xc500 */
		lapic_send_ipi(apic_id, ICR_DM_INIT | ICR_TRIGGER_LEVEL);                    /* 0x8500 */
	}
	announce_step_only(apic_id, SELFTEST_STEP_AFTER_INIT);
	lapic_send_ipi(apic_id, sipi);
	announce_step_only(apic_id, SELFTEST_STEP_AFTER_SIPI1);
	lapic_send_ipi(apic_id, sipi);
	announce_step_only(apic_id, SELFTEST_STEP_AFTER_SIPI2);
}

/*
 * Wait until `target` APs have reported or `timeout_ticks` timer ticks pass.  The check is
 * made with IF = 0 and followed by STI; HLT, so a report IPI or tick arriving after the
 * check still ends the HLT (arch.h).  Returns with IF = 0.
 */
static bool wait_reported(uint32_t target, uint32_t timeout_ticks)
{
	uint32_t start = __atomic_load_n(&g.ticks, __ATOMIC_RELAXED);

	for (;;) {
		cli();
		if (__atomic_load_n(&g.reported, __ATOMIC_ACQUIRE) >= target)
			return true;
		if (__atomic_load_n(&g.ticks, __ATOMIC_RELAXED) - start >= timeout_ticks)
			return false;
		sti_hlt();
	}
}

/* APs 1..started have been sent INIT-SIPI-SIPI; some did not report in time. */
static __attribute__((noreturn)) void fail_timeout(uint32_t started)
{
	char list[MAX_MISSING_SHOWN * 11 + 8];
	size_t n = 0;
	uint32_t shown = 0, missing = 0;

	for (uint32_t i = 1; i <= started; i++) {
		if (__atomic_load_n(&g.slots[i].reported, __ATOMIC_ACQUIRE))
			continue;
		missing++;
		if (shown == MAX_MISSING_SHOWN)
			continue;
		/* Decimal, comma separated: small enough to build by hand. */
		char tmp[10];
		unsigned k = 0;
		uint32_t v = g.cpus[i].apic_id;
		do {
			tmp[k++] = (char)('0' + v % 10);
			v /= 10;
		} while (v);
		if (shown)
			list[n++] = ',';
		while (k)
			list[n++] = tmp[--k];
		shown++;
	}
	if (missing > shown) {
		memcpy(list + n, ",...", 4);
		n += 4;
	}
	list[n] = '\0';
	fail(SELFTEST_FAIL_TIMEOUT, "timeout: %u of %u APs reported; missing apic=%s",
	     __atomic_load_n(&g.reported, __ATOMIC_RELAXED), started, n ? list : "none");
}

/* Bring-up passed: the optional checks that come after it, then PASS. */
static __attribute__((noreturn)) void verdict(void)
{
	if (g.irq) {
		irq_check();
		tsc_deadline_check();
	}
	/* Before the mistakes: their INIT without a SIPI may leave the first AP waiting. */
	if (g.pingpong)
		pingpong_run();
	if (g.mistakes)
		mistakes_make();
	pass(g.ncpus, g.cpus[0].uid);
}

/* Every AP reported: look at what they said. */
static __attribute__((noreturn)) void check_reports(void)
{
	uint32_t errors = 0;

#define AP_FAIL(...)                                        \
	do {                                                \
		if (errors++ < MAX_AP_FAILS_SHOWN)          \
			fail_line(__VA_ARGS__);             \
	} while (0)

	for (uint32_t i = 1; i < g.ncpus; i++) {
		const struct ap_slot *s = &g.slots[i];
		uint32_t id = g.cpus[i].apic_id;
		if (!__atomic_load_n(&s->reported, __ATOMIC_RELAXED))
			AP_FAIL("ap apic=%u did not report", id);
		else if (__atomic_load_n(&s->duplicate, __ATOMIC_RELAXED))
			AP_FAIL("ap apic=%u %s", id, ap_err_name(SELFTEST_AP_ERR_DUPLICATE));
		else if (__atomic_load_n(&s->status, __ATOMIC_RELAXED) != SELFTEST_AP_OK)
			AP_FAIL("ap apic=%u %s", id,
				ap_err_name(__atomic_load_n(&s->status, __ATOMIC_RELAXED)));
	}
	if (g.racy && __atomic_load_n(&g.racy_count, __ATOMIC_RELAXED) != g.ncpus - 1)
		AP_FAIL("racy counter is %u, want %u: an unlocked update was lost",
			__atomic_load_n(&g.racy_count, __ATOMIC_RELAXED), g.ncpus - 1);
	if (__atomic_load_n(&g.slots[0].reported, __ATOMIC_RELAXED))
		AP_FAIL("ap apic=%u %s (an AP has the BSP's apic id)", g.bsp_apic_id,
			ap_err_name(SELFTEST_AP_ERR_DUPLICATE));
	uint32_t stray = __atomic_load_n(&g.stray_apic_id, __ATOMIC_RELAXED);
	if (stray)
		AP_FAIL("ap apic=%u %s (%u such APs)", stray - 1,
			ap_err_name(SELFTEST_AP_ERR_NOT_IN_MADT),
			__atomic_load_n(&g.strays, __ATOMIC_RELAXED));
#undef AP_FAIL

	if (errors > MAX_AP_FAILS_SHOWN)
		fail_line("%u more ap errors", errors - MAX_AP_FAILS_SHOWN);
	if (errors)
		fail_end(SELFTEST_FAIL_AP);
	verdict();
}

void smp_boot_aps(void)
{
	uint32_t naps = g.ncpus - 1;

	if (naps == 0)
		verdict();

	trampoline_install(naps);

	/* 100 Hz periodic timer, divide by 1 (SDM 10.5.4): only to bound the waits. */
	lapic_timer_at_hz(VEC_TIMER, g.bi->lapic_timer_hz, TIMER_HZ);
	uint32_t timeout = (uint32_t)(((uint64_t)g.bi->ap_timeout_ms + 1000 / TIMER_HZ - 1) /
				      (1000 / TIMER_HZ)); /* ticks, rounded up */

	if (__atomic_load_n(&g.step, __ATOMIC_RELAXED)) {
		/* One AP at a time; it spins (RUNNABLE) until released after AFTER_SIPI2. */
		for (uint32_t i = 1; i <= naps; i++) {
			start_ap(g.cpus[i].apic_id);
			__atomic_store_n(&g.slots[i].release, 1, __ATOMIC_RELEASE);
			if (!wait_reported(i, timeout))
				fail_timeout(i);
			announce(g.cpus[i].apic_id, SELFTEST_STEP_AP_HALTED);
		}
	} else {
		for (uint32_t i = 1; i <= naps; i++)
			start_ap(g.cpus[i].apic_id);
		if (!wait_reported(naps, timeout))
			fail_timeout(naps);
	}
	check_reports();
}
