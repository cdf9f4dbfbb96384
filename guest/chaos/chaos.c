/*
 * chaos.c - the loop every CPU runs once started: draw an operation kind from its own
 * stream (weights below), make it, count it, open a one-instruction interrupt window
 * (STI; NOP; CLI: interrupts chaos programmed are taken there, a storm cut off after
 * WINDOW_IRQS_MAX), again.  The BSP watches the TSC; when the time is up it stops the
 * others, puts COM1 back in order and reports.
 *
 * How the guest keeps itself running while it does everything else (each file says what it
 * leaves out and why: ops_io.c, ops_mmio.c, ops_apic.c, ops_msr.c):
 *  - an IDT with a gate for every vector; faults it expects resume past the instruction, any
 *    other exception restarts the loop (trap.c);
 *  - the BSP is never sent INIT (it has no firmware to restart in);
 *  - an AP an INIT restarts comes back through its STARTUP to the loop, on its own stack;
 *    NMIs avoid APs on that way back, where no IDT is loaded yet (apic.c: nmi_dest_safe);
 *  - the end of the run does not depend on anything chaos touches but the TSC.
 */
#include "chaos.h"

#include "apic.h"
#include "arch.h"
#include "lib.h"
#include "ops.h"
#include "rng.h"

struct chaos_state cs;
struct chaos_cpu cpus[CHAOS_MAX_CPUS];
uint8_t cpu_stacks[CHAOS_MAX_CPUS][CPU_STACK_SIZE] __attribute__((aligned(4096)));

#define STOP_WAIT_MS 500u

static const struct {
	void (*fn)(struct chaos_cpu *c);
	uint8_t weight;
	bool ap_only;
} kinds[CHAOS_OP_COUNT] = {
	[CHAOS_OP_PIO] = { op_pio, 14, false },
	[CHAOS_OP_PIO_STRING] = { op_pio_string, 5, false },
	[CHAOS_OP_REPORT_PORTS] = { op_report_ports, 1, false },
	[CHAOS_OP_LAPIC_MMIO] = { op_lapic_mmio, 10, false },
	[CHAOS_OP_IOAPIC_MMIO] = { op_ioapic_mmio, 5, false },
	[CHAOS_OP_HOLE_MMIO] = { op_hole_mmio, 8, false },
	[CHAOS_OP_IPI] = { op_ipi, 10, false },
	[CHAOS_OP_NMI] = { op_nmi, 4, false },
	[CHAOS_OP_INIT] = { op_init, 3, false },
	[CHAOS_OP_INIT_DEASSERT] = { op_init_deassert, 1, false },
	[CHAOS_OP_SIPI] = { op_sipi, 3, false },
	[CHAOS_OP_MSR] = { op_msr, 8, false },
	[CHAOS_OP_APIC_BASE] = { op_apic_base, 2, true },
	[CHAOS_OP_RTE] = { op_rte, 6, false },
	[CHAOS_OP_LAPIC_TIMER] = { op_lapic_timer, 6, false },
	[CHAOS_OP_TSC_DEADLINE] = { op_tsc_deadline, 3, false },
	[CHAOS_OP_PIT] = { op_pit, 4, false },
	[CHAOS_OP_PIC] = { op_pic, 3, false },
	[CHAOS_OP_HLT] = { op_hlt, 1, true },
	[CHAOS_OP_TIDY] = { op_tidy, 4, false },
};

static const char *const kind_names[CHAOS_OP_COUNT] = {
#define KIND_NAME(name, word) [CHAOS_OP_##name] = word,
	CHAOS_OPS(KIND_NAME)
#undef KIND_NAME
};

/* Cumulative weights of the kinds on: [0] for the BSP, [1] for the APs. */
static uint32_t cumulative[2][CHAOS_OP_COUNT];

void chaos_weights(void)
{
	for (unsigned ap = 0; ap < 2; ap++) {
		uint32_t sum = 0;
		for (unsigned k = 0; k < CHAOS_OP_COUNT; k++) {
			if (op_on((enum chaos_op)k) && (ap || !kinds[k].ap_only))
				sum += kinds[k].weight;
			cumulative[ap][k] = sum;
		}
	}
}

const char *chaos_kind_name(unsigned k)
{
	return k < CHAOS_OP_COUNT ? kind_names[k] : "?";
}

/* -1 when every kind is off for this CPU. */
static int pick(struct chaos_cpu *c)
{
	const uint32_t *cum = cumulative[c->index != 0];
	uint32_t total = cum[CHAOS_OP_COUNT - 1];

	if (!total)
		return -1;
	uint32_t r = rng_below(&c->rng, total);
	for (unsigned k = 0; k < CHAOS_OP_COUNT; k++)
		if (r < cum[k])
			return (int)k;
	return -1;
}

/* An AP: the time is up. */
static __attribute__((noreturn)) void stop_here(struct chaos_cpu *c)
{
	__atomic_store_n(&c->stopped, 1, __ATOMIC_RELEASE);
	halt_forever();
}

/* Every AP in the loop stopped, or STOP_WAIT_MS passed (APs an INIT left waiting never do). */
static void stop_everyone(void)
{
	uint64_t deadline = rdtsc() + cs.tsc_hz / 1000 * STOP_WAIT_MS;

	__atomic_store_n(&cs.stop, 1, __ATOMIC_RELEASE);
	for (uint32_t i = 1; i < cs.ncpus && rdtsc() < deadline; i++)
		while (__atomic_load_n(&cpus[i].alive, __ATOMIC_ACQUIRE) &&
		       !__atomic_load_n(&cpus[i].stopped, __ATOMIC_ACQUIRE) && rdtsc() < deadline)
			cpu_relax();
}

/* COM1 as the VMM left it (chaos wrote its registers): 8N1, DLAB 0, no loopback, no IRQs. */
static void serial_reset(void)
{
	outb(0x3fb, 0x03); /* LCR */
	outb(0x3f9, 0x00); /* IER */
	outb(0x3fc, 0x03); /* MCR: DTR, RTS */
	outb(0x3fa, 0x07); /* FCR: FIFOs on and cleared */
}

static void report_cpu(const struct chaos_cpu *c)
{
	printk("chaos: vcpu %u apic %u ops %lu starts %lu restarts %lu faults %lu nmis %lu "
	       "irqs %lu filtered %lu%s\n", c->index, c->apic_id, (unsigned long)c->ops,
	       (unsigned long)c->starts, (unsigned long)c->restarts, (unsigned long)c->faults,
	       (unsigned long)c->nmis, (unsigned long)c->irqs, (unsigned long)c->filtered,
	       c->index == 0 || __atomic_load_n(&c->stopped, __ATOMIC_RELAXED) ? "" :
	       " (not in the loop at the end)");
}

static uint64_t report_kinds(void)
{
	uint64_t total = 0;

	printk("chaos: ops by kind:");
	for (unsigned k = 0; k < CHAOS_OP_COUNT; k++) {
		uint64_t n = 0;
		for (uint32_t i = 0; i < cs.ncpus; i++)
			n += cpus[i].kind_ops[k];
		total += n;
		if (op_on((enum chaos_op)k))
			printk(" %s=%lu", kind_names[k], (unsigned long)n);
	}
	printk("\n");
	return total;
}

static __attribute__((noreturn)) void finish(uint64_t started)
{
	uint64_t seconds = (rdtsc() - started) / cs.tsc_hz;

	stop_everyone();
	serial_reset();
	printk("\n");
	for (uint32_t i = 0; i < cs.ncpus; i++)
		report_cpu(&cpus[i]);
	uint64_t total = report_kinds();
	printk("chaos: done vcpus=%u seconds=%lu ops=%lu seed=%lu\n", cs.ncpus,
	       (unsigned long)seconds, (unsigned long)total, (unsigned long)cs.seed);
	outl(SELFTEST_PORT_RESULT, 0);
	halt_forever();
}

/* STI; NOP; CLI: interrupts recognised at the one boundary after the NOP (SDM Vol. 2B, STI). */
static void interrupt_window(struct chaos_cpu *c)
{
	c->window_irqs = 0;
	__asm__ volatile("sti; nop; cli" : : : "memory");
}

void chaos_loop(struct chaos_cpu *c)
{
	for (;;) {
		if (__atomic_load_n(&cs.stop, __ATOMIC_ACQUIRE))
			stop_here(c);
		if (c->index == 0 && rdtsc() >= cs.end_tsc)
			finish(cs.end_tsc - cs.tsc_hz * cs.seconds);
		int k = pick(c);
		if (k >= 0) {
			kinds[k].fn(c);
			c->kind_ops[k]++;
			c->ops++;
		}
		interrupt_window(c);
	}
}
