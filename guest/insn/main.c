/*
 * main.c - the insn guest: one case per instruction mpvmm carries when the host's KVM cannot
 * emulate it, each checking destination, flags, memory and RIP against values computed here
 * independently.  Entered like the self-test guest (include/mpvmm/selftest_abi.h): 64-bit
 * mode, RDI = boot info; output on COM1; verdict on SELFTEST_PORT_RESULT (0 = PASS).
 */
#include "arch.h"
#include "cases.h"
#include "check.h"
#include "lib.h"
#include "mpvmm/selftest_abi.h"
#include "trap.h"

__attribute__((noreturn)) void bsp_main(const struct selftest_bootinfo *bi);

static const char *current;
static unsigned current_fails, current_skipped, cases, failed, skipped;

void eq(const char *what, uint64_t got, uint64_t want)
{
	if (got == want)
		return;
	if (!current_fails++)
		printk("insn: FAIL %s %s=0x%lx want 0x%lx\n", current, what, (unsigned long)got,
		       (unsigned long)want);
}

void skip_case(const char *why)
{
	if (!current_skipped++ && why[0])
		printk("insn: SKIP %s %s\n", current, why);
}

void run_case(const char *name, void (*fn)(void))
{
	current = name;
	current_fails = current_skipped = 0;
	fn();
	cases++;
	if (current_fails)
		failed++;
	else if (current_skipped)
		skipped++;
	else
		printk("insn: PASS %s\n", name);
}

/* SSE and x87 usable at CPL 0: CR0.EM = 0, TS = 0, MP = NE = 1; CR4.OSFXSR, OSXMMEXCPT. */
static void enable_fpu(void)
{
	uint64_t cr0, cr4;

	__asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
	cr0 = (cr0 & ~(uint64_t)0xc) | 0x22;
	__asm__ volatile("mov %0, %%cr0" : : "r"(cr0));
	__asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
	cr4 |= (1u << 9) | (1u << 10);
	__asm__ volatile("mov %0, %%cr4" : : "r"(cr4));
	__asm__ volatile("fninit");
}

void bsp_main(const struct selftest_bootinfo *bi)
{
	trap_init();
	if (bi->magic != SELFTEST_BOOTINFO_MAGIC) {
		printk("insn: FAIL bootinfo magic 0x%x\n", bi->magic);
		outl(SELFTEST_PORT_RESULT, 1);
		halt_forever();
	}
	enable_fpu();
	run_all_cases();
	if (failed)
		printk("insn: FAIL %u of %u cases\n", failed, cases);
	else
		printk("insn: PASS %u cases, %u skipped\n", cases - skipped, skipped);
	outl(SELFTEST_PORT_RESULT, failed ? 1 : 0);
	halt_forever();
}
