/*
 * smp.c - see smp.h.  The AP trampoline is the self-test's (guest/selftest/trampoline.S:
 * real mode -> long mode, a stack, a call); what it calls here finds the CPU by its CPUID
 * APIC ID and moves to that CPU's own stack at once, so a CPU restarted by chaos any number
 * of times always runs on the same stack and keeps its random stream.
 *
 * Low memory (Intel SDM Vol. 3A, 8.4.4.1: STARTUP vector V starts an AP at V << 12, real
 * mode, CS = V << 8, IP = 0):
 *   0x0000  real-mode IVT: every vector -> IRET at 0x0A00:0x0010, so an NMI that reaches
 *           an AP in real mode (INIT left IDTR base 0) returns where it came from
 *   0x8000  the trampoline (SIPI_TRAMPOLINE)
 *   0xA000  CLI; HLT; JMP back to the HLT (SIPI_PARK): an AP parked until its next INIT
 *   0xA010  IRET
 *   0xB000  JMP FAR 0x0800:0000 (SIPI_JUMP): the trampoline by another vector
 * Before the INIT the SIPIs are sent after, real mode pushes land at 0xFFFA-0xFFFF (SS = 0,
 * SP = 0 after INIT): free.
 */
#include "smp.h"

#include "apic.h"
#include "arch.h"
#include "chaos.h"
#include "lib.h"
#include "trampoline.h"
#include "trap.h"

#define PARK_PAGE 0xa000u
#define JUMP_PAGE 0xb000u
#define REAL_IRET 0x10u          /* offset of the IRET in the park page */
#define TRAMPOLINE_STACKS 16u    /* only a return address lands there: few are enough */

extern const uint64_t gdt[], gdt_end[]; /* selftest/entry.S */

static uint8_t tramp_stacks[TRAMPOLINE_STACKS][AP_STACK_SIZE] __attribute__((aligned(4096)));

__attribute__((noreturn)) void chaos_ap_entry(void);

static void real_mode_pages(void)
{
	static const uint8_t park[] = { 0xfa, 0xf4, 0xeb, 0xfd };      /* cli; 1: hlt; jmp 1b */
	static const uint8_t jump[] = { 0xea, 0x00, 0x00, 0x00, 0x08 }; /* ljmp $0x0800, $0   */
	uint32_t *ivt = phys(0);

	memcpy(phys(PARK_PAGE), park, sizeof(park));
	*(uint8_t *)phys(PARK_PAGE + REAL_IRET) = 0xcf;                 /* iret */
	memcpy(phys(JUMP_PAGE), jump, sizeof(jump));
	for (unsigned v = 0; v < 256; v++)
		ivt[v] = (PARK_PAGE >> 4) << 16 | REAL_IRET;             /* segment:offset */
}

static void trampoline_install(void)
{
	memcpy(phys(SELFTEST_TRAMPOLINE), trampoline_start,
	       (size_t)(trampoline_end - trampoline_start));
	struct trampoline_data *td =
		phys(SELFTEST_TRAMPOLINE + (uint64_t)(trampoline_data - trampoline_start));
	td->gdt_limit = (uint16_t)((uintptr_t)gdt_end - (uintptr_t)gdt - 1);
	td->gdt_base_lo = (uint16_t)(uintptr_t)gdt;
	td->gdt_base_hi = (uint16_t)((uintptr_t)gdt >> 16);
	td->pad = 0;
	td->cr3 = read_cr3();
	td->efer_or = EFER_LME | (rdmsr(MSR_EFER) & (EFER_NXE | EFER_SCE));
	td->entry = (uint64_t)(uintptr_t)chaos_ap_entry;
	td->stack_base = (uint64_t)(uintptr_t)tramp_stacks;
	td->stack_count = TRAMPOLINE_STACKS;
	td->stack_next = 0;
}

void lowmem_install(void)
{
	real_mode_pages();
	trampoline_install();
}

/* Leaf 0xB's x2APIC ID where the leaf exists, else leaf 1's 8-bit initial APIC ID. */
uint32_t smp_apic_id(void)
{
	if (cpuid(0, 0).eax >= 0xb) {
		struct cpuid_regs r = cpuid(0xb, 0);
		if (r.ebx)
			return r.edx;
	}
	return cpuid(1, 0).ebx >> 24;
}

int smp_cpu_index(void)
{
	uint32_t id = smp_apic_id();

	for (uint32_t i = 0; i < cs.ncpus; i++)
		if (cs.apic_ids[i] == id)
			return (int)i;
	return -1;
}

/* INIT-SIPI-SIPI (SDM Vol. 3A, 8.4.4.1), without the waits real hardware needs. */
static void start_ap(struct chaos_cpu *bsp, uint32_t apic_id)
{
	const uint32_t sipi = DM_STARTUP << DM_SHIFT | ICR_ASSERT | SIPI_TRAMPOLINE;
	const uint32_t init = DM_INIT << DM_SHIFT | ICR_ASSERT;

	if (bsp->x2apic) {
		apic_icr(bsp, apic_id, init); /* x2APIC has no INIT level de-assert (10.12.9) */
	} else {
		apic_icr(bsp, apic_id, init | ICR_LEVEL);
		apic_icr(bsp, apic_id, DM_INIT << DM_SHIFT | ICR_LEVEL);
	}
	apic_icr(bsp, apic_id, sipi);
	apic_icr(bsp, apic_id, sipi);
}

static bool all_alive(void)
{
	for (uint32_t i = 1; i < cs.ncpus; i++)
		if (!__atomic_load_n(&cpus[i].alive, __ATOMIC_ACQUIRE))
			return false;
	return true;
}

bool smp_start_aps(uint32_t ms)
{
	uint64_t deadline = rdtsc() + cs.tsc_hz / 1000 * ms;

	for (uint32_t i = 1; i < cs.ncpus; i++)
		start_ap(&cpus[0], cs.apic_ids[i]);
	while (!all_alive()) {
		if (rdtsc() > deadline)
			return false;
		cpu_relax();
	}
	return true;
}

/* On the AP's own stack: its IDT, its APIC, then the loop (after `go` the first time). */
static __attribute__((noreturn)) void ap_main(uint32_t i)
{
	struct chaos_cpu *c = &cpus[i];

	trap_load();
	apic_setup(c, cs.x2apic_machine);
	c->starts++;
	c->window_irqs = 0;
	__atomic_store_n(&c->alive, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&cs.go, __ATOMIC_ACQUIRE))
		cpu_relax();
	chaos_loop(c);
}

/* Called by the trampoline, IF = 0, on one of its stacks. */
void chaos_ap_entry(void)
{
	int i = smp_cpu_index();

	if (i <= 0)
		halt_forever(); /* not a processor of the MADT, or one claiming the BSP's ID */
	chaos_switch_stack(stack_top(&cpus[i]), ap_main, (uint32_t)i);
}
