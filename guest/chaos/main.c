/*
 * main.c - the chaos guest's BSP before the chaos: the boot information and its options,
 * what the CPU offers, the processors from the MADT, the IDT, the TSC's rate against the
 * RTC (the run is timed with the TSC, which chaos never writes), the low pages, every AP
 * started; then the loop on its own stack.  Entered like the self-test guest
 * (include/mpvmm/selftest_abi.h): 64-bit mode, RDI = boot information.
 *
 * Output on COM1: "chaos: <N> vcpus, ..." first; at the end one line per vCPU, the
 * operations by kind, and "chaos: done vcpus=N seconds=S ops=K seed=X" (chaos.c); or one
 * "chaos: FAIL <reason>" line.  The verdict goes to SELFTEST_PORT_RESULT (0 = done).
 */
#include "apic.h"
#include "arch.h"
#include "chaos.h"
#include "lib.h"
#include "madt.h"
#include "rng.h"
#include "smp.h"
#include "trap.h"

#define CPUID_1_ECX_X2APIC       (1u << 21)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define XAPIC_MAX_ID 254u
#define DEBUG_EXIT_DEFAULT 0xf4u
#define CMOS_INDEX 0x70u
#define CMOS_DATA  0x71u
#define RTC_STATUS_B 0x0bu
#define RTC_B_BINARY 0x04u /* DM: binary, not BCD */
#define RTC_WAIT_TSC 20000000000ull /* a second edge of the RTC must come before this */

__attribute__((noreturn)) void bsp_main(const struct selftest_bootinfo *bi);

static __attribute__((noreturn)) void fail(const char *why)
{
	printk("chaos: FAIL %s\n", why);
	outl(SELFTEST_PORT_RESULT, 1);
	halt_forever();
}

static void read_options(const struct selftest_bootinfo *bi)
{
	const struct chaos_bootinfo *cb = phys(CHAOS_BOOTINFO_ADDR);

	if (bi->magic != SELFTEST_BOOTINFO_MAGIC || bi->version != SELFTEST_BOOTINFO_VERSION)
		fail("no boot information of the self-test contract");
	cs.bi = bi;
	/* Without the chaos block (another VMM), every default. */
	bool given = cb->magic == CHAOS_BOOTINFO_MAGIC;
	cs.seconds = given && cb->seconds ? cb->seconds : CHAOS_DEFAULT_SECONDS;
	cs.skip = given ? cb->skip : 0;
	cs.seed = given && (cb->flags & CHAOS_FLAG_SEEDED) ? cb->seed : rdtsc();
	cs.debug_exit_port = given && cb->debug_exit_port ? cb->debug_exit_port :
			     DEBUG_EXIT_DEFAULT;
	/* Only mpvmm's software CPU reads IA32_APIC_BASE through CPUID; it cannot trap MSRs
	 * and ends the run at any guest exception: no operation that may fault there. */
	cs.soft = bi->flags & SELFTEST_FLAG_APIC_BASE_CPUID;
}

/* What this machine cannot take: kinds left out whatever --chaos-skip says. */
static void platform_skips(void)
{
	struct cpuid_regs r = cpuid(1, 0);

	cs.has_x2apic = !cs.soft && (r.ecx & CPUID_1_ECX_X2APIC);
	cs.has_tsc_deadline = !cs.soft && (r.ecx & CPUID_1_ECX_TSC_DEADLINE);
	if (cs.soft)
		cs.skip |= 1u << CHAOS_OP_MSR | 1u << CHAOS_OP_APIC_BASE;
	if (!cs.has_tsc_deadline)
		cs.skip |= 1u << CHAOS_OP_TSC_DEADLINE;
}

/* The RTC's seconds (MC146818A register 0), in binary whatever register B's DM bit says. */
static uint32_t rtc_seconds(void)
{
	outb(CMOS_INDEX, RTC_STATUS_B);
	bool binary = inb(CMOS_DATA) & RTC_B_BINARY;
	outb(CMOS_INDEX, 0);
	uint8_t v = inb(CMOS_DATA);
	return binary ? v : (v >> 4) * 10u + (v & 0xfu);
}

/* Spin until the seconds change; their new value, or -1 if RTC_WAIT_TSC passes first. */
static int rtc_edge(uint64_t *at)
{
	uint32_t s = rtc_seconds(), now;
	uint64_t start = rdtsc();

	while ((now = rtc_seconds()) == s)
		if (rdtsc() - start > RTC_WAIT_TSC)
			return -1;
	*at = rdtsc();
	return (int)now;
}

/*
 * TSC ticks in a second of the RTC (wall time on mpvmm, on KVM and the software CPU), from
 * one change of its seconds to the next, divided by how many seconds they are apart: a
 * vCPU descheduled for a second on a loaded host sees two seconds pass as one change.
 */
static uint64_t tsc_per_second(void)
{
	uint64_t t0, t1;
	int s0 = rtc_edge(&t0), s1 = s0 < 0 ? -1 : rtc_edge(&t1);

	if (s1 < 0)
		return 0;
	uint32_t apart = (uint32_t)(s1 - s0 + 60) % 60;
	return (t1 - t0) / (apart ? apart : 60);
}

static void processors(void)
{
	const char *why = madt_read(smp_apic_id());

	if (why)
		fail(why);
	cs.x2apic_machine = cs.bi->flags & SELFTEST_FLAG_X2APIC;
	for (uint32_t i = 0; i < cs.ncpus; i++) {
		cs.x2apic_machine |= cs.apic_ids[i] > XAPIC_MAX_ID;
		cpus[i].index = i;
		cpus[i].apic_id = cs.apic_ids[i];
		cpus[i].rng = rng_stream(cs.seed, i);
	}
	if (cs.x2apic_machine && !cs.has_x2apic)
		fail("x2APIC IDs without x2APIC in CPUID");
}

static void say_hello(void)
{
	printk("chaos: %u vcpus, %u s, seed %lu, tsc %lu Hz, %s, skipping:", cs.ncpus,
	       cs.seconds, (unsigned long)cs.seed, (unsigned long)cs.tsc_hz,
	       cs.x2apic_machine ? "x2apic" : "xapic");
	for (unsigned k = 0; k < CHAOS_OP_COUNT; k++)
		if (!op_on((enum chaos_op)k))
			printk(" %s", chaos_kind_name(k));
	printk("\n");
}

static __attribute__((noreturn)) void bsp_chaos(uint32_t index)
{
	cs.end_tsc = rdtsc() + cs.tsc_hz * cs.seconds;
	__atomic_store_n(&cs.go, 1, __ATOMIC_RELEASE);
	chaos_loop(&cpus[index]);
}

void bsp_main(const struct selftest_bootinfo *bi)
{
	read_options(bi);
	platform_skips();
	trap_init();
	trap_load();
	processors();
	chaos_weights();
	cs.tsc_hz = tsc_per_second();
	if (!cs.tsc_hz)
		fail("the RTC's seconds do not change: no clock to time the run");
	say_hello();
	lowmem_install();
	apic_setup(&cpus[0], cs.x2apic_machine);
	cpus[0].alive = 1;
	if (!smp_start_aps(bi->ap_timeout_ms ? bi->ap_timeout_ms : 10000))
		fail("not every AP reached the loop");
	chaos_switch_stack(stack_top(&cpus[0]), bsp_chaos, 0);
}
