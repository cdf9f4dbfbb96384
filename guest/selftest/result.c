/*
 * result.c - the end of the test.  On the BSP the LAPIC timer is stopped first (if it was
 * started) so that a VM the VMM keeps around after the result takes no 100 exits a second.
 * An AP (an exception) leaves its APIC alone: it may fault there again.
 */
#include "result.h"

#include <stdarg.h>

#include "arch.h"
#include "lapic.h"
#include "lib.h"
#include "multiboot.h"
#include "state.h"

static void vfail_line(const char *fmt, va_list ap)
{
	printk("selftest: FAIL ");
	vprintk(fmt, ap);
	printk("\n");
}

void fail_line(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_line(fmt, ap);
	va_end(ap);
}

static __attribute__((noreturn)) void finish(uint32_t code)
{
	cli();
	if (__atomic_load_n(&lapic_timer_on, __ATOMIC_RELAXED) &&
	    (rdmsr(MSR_IA32_APIC_BASE) & APIC_BASE_BSP))
		lapic_timer_stop();
	/*
	 * A multiboot start may also want it on the debug-exit port, which must come first:
	 * a VMM with both ports stops at the first one written.
	 */
	multiboot_report(code);
	outl(SELFTEST_PORT_RESULT, code);
	halt_forever();
}

void fail_end(enum selftest_fail code)
{
	finish(code ? (uint32_t)code : 0xffu);
}

void fail(enum selftest_fail code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail_line(fmt, ap);
	va_end(ap);
	fail_end(code);
}

/*
 * Hold mode: wait (HLT, woken by the report IPI) for APs that report again after being
 * restarted from outside, and say so for each.  Never returns.
 */
static __attribute__((noreturn)) void hold(void)
{
	static uint32_t seen[SELFTEST_MAX_CPUS];

	__atomic_store_n(&g.holding, 1, __ATOMIC_RELEASE);
	for (;;) {
		cli();
		for (uint32_t i = 1; i < g.ncpus; i++) {
			uint32_t again = __atomic_load_n(&g.slots[i].again, __ATOMIC_ACQUIRE);
			if (again != seen[i]) {
				seen[i] = again;
				printk("selftest: apic=%u reported again\n", g.cpus[i].apic_id);
			}
		}
		sti_hlt();
	}
}

void pass(uint32_t ncpus, uint32_t bsp_uid)
{
	printk("selftest: PASS cpus=%u bsp=%u\n", ncpus, bsp_uid);
	if (!g.hold)
		finish(0);
	cli();
	if (__atomic_load_n(&lapic_timer_on, __ATOMIC_RELAXED))
		lapic_timer_stop();
	outl(SELFTEST_PORT_RESULT, 0);
	hold();
}
