/*
 * main.c - the BSP: check the boot info, read the processors from ACPI, cross-check the MP
 * table, choose the APIC mode, check itself, then hand over to smp.c to start the APs.
 *
 * Output (COM1), at most: one info line; with SELFTEST_FLAG_IRQ one "selftest: interrupts
 * ok ..." line and one "selftest: tsc-deadline timer ..." line; one "selftest: ipi round
 * trip ..." line with SELFTEST_FLAG_IPI_PINGPONG; one "selftest: mistakes ..." line with
 * SELFTEST_FLAG_MISTAKES; then "selftest: PASS cpus=<N> bsp=<uid>" or one or more
 * "selftest: FAIL <reason>" lines.
 */
#include <stdbool.h>
#include <stdint.h>

#include "acpi.h"
#include "arch.h"
#include "cpu.h"
#include "idt.h"
#include "lapic.h"
#include "lib.h"
#include "mptable.h"
#include "result.h"
#include "smp.h"
#include "state.h"

/* The MP table and xAPIC mode hold 8-bit APIC IDs; 0xFF is the broadcast ID (SDM 10.6.2.1). */
#define XAPIC_MAX_ID 254u

__attribute__((noreturn)) void bsp_main(const struct selftest_bootinfo *bi);

static void check_bootinfo(const struct selftest_bootinfo *bi)
{
	if (bi->magic != SELFTEST_BOOTINFO_MAGIC)
		fail(SELFTEST_FAIL_BOOTINFO, "bootinfo at 0x%lx: magic 0x%x, want 0x%x",
		     (unsigned long)(uintptr_t)bi, bi->magic, SELFTEST_BOOTINFO_MAGIC);
	if (bi->version != SELFTEST_BOOTINFO_VERSION)
		fail(SELFTEST_FAIL_BOOTINFO, "bootinfo: version %u, want %u", bi->version,
		     SELFTEST_BOOTINFO_VERSION);
	if (bi->ncpus == 0 || bi->ncpus > SELFTEST_MAX_CPUS)
		fail(SELFTEST_FAIL_BOOTINFO, "bootinfo: ncpus %u, want 1..%u", bi->ncpus,
		     SELFTEST_MAX_CPUS);
	if (bi->lapic_timer_hz < TIMER_HZ)
		fail(SELFTEST_FAIL_BOOTINFO, "bootinfo: lapic_timer_hz %lu is too low",
		     (unsigned long)bi->lapic_timer_hz);
	if (bi->ap_timeout_ms == 0)
		fail(SELFTEST_FAIL_BOOTINFO, "bootinfo: ap_timeout_ms is 0");
	if (bi->mem_size < 0x200000)
		fail(SELFTEST_FAIL_BOOTINFO, "bootinfo: mem_size 0x%lx is below 2 MiB",
		     (unsigned long)bi->mem_size);
}

/* ACPI processor UIDs are the vCPU indexes: each below ncpus, none twice. */
static void check_uids(uint32_t ncpus)
{
	static uint8_t seen[SELFTEST_MAX_CPUS / 8];

	for (uint32_t i = 0; i < g.ncpus; i++) {
		uint32_t uid = g.cpus[i].uid;
		if (uid >= ncpus)
			fail(SELFTEST_FAIL_ACPI, "acpi: apic id %u has processor uid %u, want < %u",
			     g.cpus[i].apic_id, uid, ncpus);
		if (seen[uid / 8] & (1u << (uid % 8)))
			fail(SELFTEST_FAIL_ACPI, "acpi: processor uid %u listed twice", uid);
		seen[uid / 8] |= (uint8_t)(1u << (uid % 8));
	}
}

void bsp_main(const struct selftest_bootinfo *bi)
{
	idt_init();
	idt_load();
	check_bootinfo(bi);
	g.bi = bi;
	__atomic_store_n(&g.step, (bi->flags & SELFTEST_FLAG_STEP) != 0, __ATOMIC_RELAXED);
	g.hold = (bi->flags & SELFTEST_FLAG_HOLD) != 0;
	g.racy = (bi->flags & SELFTEST_FLAG_RACY) != 0;
	g.irq = (bi->flags & SELFTEST_FLAG_IRQ) != 0;
	g.mistakes = (bi->flags & SELFTEST_FLAG_MISTAKES) != 0;
	g.pingpong = (bi->flags & SELFTEST_FLAG_IPI_PINGPONG) != 0;
	__atomic_store_n(&g.apic_base_cpuid, (bi->flags & SELFTEST_FLAG_APIC_BASE_CPUID) != 0,
			 __ATOMIC_RELAXED);

	acpi_read_processors(bi->mem_size);
	if (g.ncpus != bi->ncpus)
		fail(SELFTEST_FAIL_ACPI, "acpi: madt lists %u enabled processors, the vm has %u",
		     g.ncpus, bi->ncpus);
	check_uids(bi->ncpus);

	bool x2apic = (bi->flags & SELFTEST_FLAG_X2APIC) != 0;
	for (uint32_t i = 0; i < g.ncpus; i++)
		if (g.cpus[i].apic_id > XAPIC_MAX_ID)
			x2apic = true;
	mptable_check(!x2apic, bi->mem_size);

	/* The BSP's APIC: globally enabled since reset (SDM 10.4.3), now in the test's mode. */
	if (!(apic_base() & APIC_BASE_EN))
		fail(SELFTEST_FAIL_BSP, "bsp: ia32_apic_base global enable is clear");
	__atomic_store_n(&lapic_x2apic, x2apic, __ATOMIC_RELAXED);
	/*
	 * Software-enable it before any IPI: on some hosts (PVM) a directed INIT or SIPI
	 * from a software-disabled APIC is not delivered.
	 */
	if (!lapic_enable(VEC_SPURIOUS))
		fail(SELFTEST_FAIL_BSP, "bsp: x2apic mode needed but cpuid.1:ecx.x2apic is clear");
	lapic_write(LAPIC_TPR, 0);

	uint32_t id = lapic_id();
	enum selftest_ap_err err = cpu_check_identity(id, true);
	if (err != SELFTEST_AP_OK)
		fail(SELFTEST_FAIL_BSP, "bsp apic=%u: %s (cpuid apic id %u)", id, ap_err_name(err),
		     cpuid_apic_id());
	if (id != g.cpus[0].apic_id)
		fail(SELFTEST_FAIL_BSP, "bsp apic=%u is not the madt's first processor (apic=%u)",
		     id, g.cpus[0].apic_id);
	__atomic_store_n(&g.bsp_apic_id, id, __ATOMIC_RELAXED);

	printk("selftest: %u cpus, bsp apic=%u, %s mode\n", g.ncpus, id,
	       x2apic ? "x2apic" : "xapic");
	smp_boot_aps();
}
