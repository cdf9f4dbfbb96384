/*
 * irq.c - see irq.h.  Register use from the Intel 82093AA I/O APIC datasheet (IOREGSEL at
 * offset 0, IOWIN at 0x10, redirection entries at index 0x10 + 2n), the 8259A datasheet
 * (ICW1-4, OCW1, non-specific EOI), the 8254 datasheet (counter 0, mode 0) and the PC16550D
 * (IER bit 1 raises the THR-empty interrupt; reading IIR clears it; MCR OUT2 gates it on a
 * PC).  Wiring from the firmware: the I/O APIC's address and IRQ 0's pin from the MADT.
 * Every wait is bounded by the LAPIC timer (g.ticks, TIMER_HZ).
 */
#include "irq.h"

#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "lapic.h"
#include "lib.h"
#include "result.h"
#include "state.h"

#define IOREGSEL 0x00u
#define IOWIN 0x10u
#define IOAPIC_REDTBL 0x10u
#define RTE_REMOTE_IRR (1u << 14)
#define RTE_LEVEL (1u << 15)
#define RTE_MASKED (1u << 16)

#define PIT_HZ 1193182u
#define PIT_COUNTER0 0x40u
#define PIT_CONTROL 0x43u
#define PIT_C0_LOHI_MODE0 0x30u /* counter 0, LSB then MSB, mode 0, binary */
#define PIT_ONE_SHOT_HZ 100u    /* 10 ms */

#define PIC1_CMD 0x20u
#define PIC1_DATA 0x21u
#define PIC2_CMD 0xa0u
#define PIC2_DATA 0xa1u
#define PIC_EOI 0x20u           /* OCW2: non-specific EOI */

#define COM1_IER 0x3f9u
#define COM1_IIR 0x3fau
#define COM1_MCR 0x3fcu
#define COM1_IRQ 4u
#define IER_THRE 0x02u
#define MCR_OUT2 0x08u

#define LVT_LINT0 0x350u
#define LVT_EXTINT (7u << 8)    /* SDM Vol. 3A, 10.5.1: delivery mode ExtINT */

#define XAPIC_MAX_ID 254u

enum { T_PIT_IOAPIC, T_COM1, T_PIT_PIC, T_SPURIOUS };

static uint32_t taken(unsigned t)
{
	return __atomic_load_n(&g.irqs[t], __ATOMIC_ACQUIRE);
}

static void count(unsigned t)
{
	__atomic_fetch_add(&g.irqs[t], 1, __ATOMIC_RELEASE);
}

/* ---- handlers -------------------------------------------------------------------------- */

void irq_pit_ioapic(void)
{
	count(T_PIT_IOAPIC);
	lapic_eoi();
}

/* Quiet the source (reading IIR clears THR-empty) before the EOI, or it comes back at once. */
void irq_com1(void)
{
	(void)inb(COM1_IIR);
	count(T_COM1);
	lapic_eoi();
}

/* An ExtINT is the 8259A's: its EOI, none for the local APIC (it set no ISR bit). */
void irq_pic_pit(void)
{
	count(T_PIT_PIC);
	outb(PIC1_CMD, PIC_EOI);
}

/* IRQ 7 with nothing in service: no EOI (8259A datasheet, "Interrupt sequence"). */
void irq_pic_spurious(void)
{
	count(T_SPURIOUS);
}

/* ---- the devices ------------------------------------------------------------------------ */

static volatile uint32_t *ioapic_reg(uint32_t off)
{
	return (volatile uint32_t *)phys((uint64_t)g.ioapic_addr + off);
}

static uint32_t ioapic_read(uint32_t index)
{
	*ioapic_reg(IOREGSEL) = index;
	return *ioapic_reg(IOWIN);
}

static void ioapic_write(uint32_t index, uint32_t v)
{
	*ioapic_reg(IOREGSEL) = index;
	*ioapic_reg(IOWIN) = v;
}

/*
 * KVM's paravirtual CPUID leaves (Linux, Documentation/virt/kvm/x86/cpuid.rst): signature
 * "KVMKVMKVM\0\0\0" at 0x40000000, KVM_FEATURE_MSI_EXT_DEST_ID (EAX bit 15) at 0x40000001:
 * an I/O APIC entry may hold APIC ID bits 14:8 in its bits 55:49.
 */
#define KVM_CPUID_SIGNATURE 0x40000000u
#define KVM_CPUID_FEATURES 0x40000001u
#define KVM_FEATURE_MSI_EXT_DEST_ID (1u << 15)
#define EXT_DEST_MAX_ID 0x7fffu
#define RTE_EXT_DEST_SHIFT 17 /* bits 55:49: 23:17 of the high half */

static bool ext_dest_id(void)
{
	struct cpuid_regs sig = cpuid(KVM_CPUID_SIGNATURE, 0);

	return sig.ebx == 0x4b4d564bu && sig.ecx == 0x564b4d56u && sig.edx == 0x4du &&
	       sig.eax >= KVM_CPUID_FEATURES &&
	       (cpuid(KVM_CPUID_FEATURES, 0).eax & KVM_FEATURE_MSI_EXT_DEST_ID);
}

/* The high half of an entry for the BSP: APIC ID bits 7:0 in 63:56, 14:8 in 55:49. */
static uint32_t bsp_destination(void)
{
	return (g.bsp_apic_id & 0xffu) << 24 | (g.bsp_apic_id >> 8) << RTE_EXT_DEST_SHIFT;
}

/* Pin `pin` to the BSP, fixed, physical destination (82093AA 3.2.4); high half first. */
static void route(uint32_t pin, uint8_t vector, bool level, bool masked)
{
	ioapic_write(IOAPIC_REDTBL + 2 * pin + 1, bsp_destination());
	ioapic_write(IOAPIC_REDTBL + 2 * pin, vector | (level ? RTE_LEVEL : 0) |
		     (masked ? RTE_MASKED : 0));
}

static void pit_one_shot(void)
{
	uint32_t count = PIT_HZ / PIT_ONE_SHOT_HZ;

	outb(PIT_CONTROL, PIT_C0_LOHI_MODE0);
	outb(PIT_COUNTER0, (uint8_t)count);
	outb(PIT_COUNTER0, (uint8_t)(count >> 8));
}

/* Both 8259As as Linux programs them, vector bases VEC_PIC_BASE and + 8, all masked. */
static void pic_init(void)
{
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
	outb(PIC1_CMD, 0x11);               /* ICW1: edge, cascade, ICW4 */
	outb(PIC1_DATA, VEC_PIC_BASE);      /* ICW2 */
	outb(PIC1_DATA, 1u << 2);           /* ICW3: the slave on IR2 */
	outb(PIC1_DATA, 0x01);              /* ICW4: 8086 mode */
	outb(PIC2_CMD, 0x11);
	outb(PIC2_DATA, VEC_PIC_BASE + 8);
	outb(PIC2_DATA, 2);                 /* ICW3: slave ID 2 */
	outb(PIC2_DATA, 0x01);
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
}

/* Wait (STI; HLT, checked with IF = 0) until done(arg), at most the AP timeout. */
static bool wait_until(bool (*done)(uint32_t), uint32_t arg)
{
	uint32_t start = __atomic_load_n(&g.ticks, __ATOMIC_RELAXED);
	uint32_t limit = (g.bi->ap_timeout_ms + 1000 / TIMER_HZ - 1) / (1000 / TIMER_HZ);

	for (;;) {
		cli();
		if (done(arg))
			return true;
		if (__atomic_load_n(&g.ticks, __ATOMIC_RELAXED) - start >= limit)
			return false;
		sti_hlt();
	}
}

static bool com1_taken(uint32_t want)
{
	return taken(T_COM1) >= want;
}

static bool taken_once(uint32_t t)
{
	return taken(t) >= 1;
}

static bool remote_irr_clear(uint32_t pin)
{
	return !(ioapic_read(IOAPIC_REDTBL + 2 * pin) & RTE_REMOTE_IRR);
}

/* ---- the checks ------------------------------------------------------------------------- */

static void check_ioapic_edge(void)
{
	route(g.timer_gsi, VEC_IOAPIC_PIT, false, false);
	pit_one_shot();
	bool ok = wait_until(taken_once, T_PIT_IOAPIC);
	route(g.timer_gsi, VEC_IOAPIC_PIT, false, true);
	if (!ok)
		fail(SELFTEST_FAIL_IRQ, "irq: no pit interrupt through i/o apic pin %u",
		     g.timer_gsi);
}

/*
 * A level-triggered entry sends once, then waits for the EOI (remote IRR); a second
 * interrupt on the same pin comes only if the EOI reached the I/O APIC.  The EOI is a
 * message on its way: remote IRR may read 1 for a moment after the local APIC's EOI (on
 * PVM's in-kernel I/O APIC until the vCPU's next exit), so it is polled, not read once.
 */
static void check_ioapic_level(void)
{
	route(COM1_IRQ, VEC_IOAPIC_COM1, true, false);
	outb(COM1_MCR, MCR_OUT2);
	outb(COM1_IER, IER_THRE);
	bool first = wait_until(com1_taken, 1);
	bool cleared = first && wait_until(remote_irr_clear, COM1_IRQ);
	outb(COM1_IER, 0);
	outb(COM1_IER, IER_THRE);
	bool second = cleared && wait_until(com1_taken, 2);
	outb(COM1_IER, 0);
	outb(COM1_MCR, 0);
	route(COM1_IRQ, VEC_IOAPIC_COM1, true, true);
	if (!first)
		fail(SELFTEST_FAIL_IRQ, "irq: no level-triggered com1 interrupt through i/o apic "
		     "pin %u", COM1_IRQ);
	if (!cleared)
		fail(SELFTEST_FAIL_IRQ, "irq: i/o apic pin %u: remote irr still set after the eoi "
		     "(rte 0x%x)", COM1_IRQ, ioapic_read(IOAPIC_REDTBL + 2 * COM1_IRQ));
	if (!second)
		fail(SELFTEST_FAIL_IRQ, "irq: no second com1 interrupt after the eoi");
}

/* The 8259A reaches the BSP through LINT0 in virtual wire mode (MP Spec 3.6.2.2). */
static void check_pic(void)
{
	pic_init();
	lapic_write(LVT_LINT0, LVT_EXTINT);
	outb(PIC1_DATA, 0xfe);               /* IRQ 0 only */
	pit_one_shot();
	bool ok = wait_until(taken_once, T_PIT_PIC);
	outb(PIC1_DATA, 0xff);
	lapic_write(LVT_LINT0, LVT_EXTINT | LVT_MASKED);
	if (!ok)
		fail(SELFTEST_FAIL_IRQ, "irq: no pit interrupt through the 8259a and lint0 "
		     "(extint)");
}

void irq_check(void)
{
	if (!__atomic_load_n(&lapic_timer_on, __ATOMIC_RELAXED))
		lapic_timer_at_hz(VEC_TIMER, g.bi->lapic_timer_hz, TIMER_HZ);
	/* The 8259As stay masked while the I/O APIC is tested: an OS uses one or the other. */
	outb(PIC1_DATA, 0xff);
	outb(PIC2_DATA, 0xff);
	if (!g.ioapic_addr)
		fail(SELFTEST_FAIL_IRQ, "irq: the madt lists no i/o apic");
	bool ext = ext_dest_id();
	if (g.bsp_apic_id > (ext ? EXT_DEST_MAX_ID : XAPIC_MAX_ID))
		fail(SELFTEST_FAIL_IRQ, "irq: bsp apic id %u cannot be an i/o apic destination%s",
		     g.bsp_apic_id, ext ? "" : " (no extended destination id)");
	check_ioapic_edge();
	check_ioapic_level();
	check_pic();
	/* A level-triggered source may be taken once more than asserted (the handler then
	 * finds it quiet): seen with PVM's in-kernel I/O APIC, docs/HOST-NOTES.md. */
	if (taken(T_PIT_IOAPIC) != 1 || taken(T_PIT_PIC) != 1 || taken(T_COM1) < 2)
		fail(SELFTEST_FAIL_IRQ, "irq: interrupts taken: pit/i/o apic %u, com1 %u, "
		     "pit/8259a %u; want 1, at least 2, 1", taken(T_PIT_IOAPIC), taken(T_COM1),
		     taken(T_PIT_PIC));
	printk("selftest: interrupts ok: i/o apic edge (pin %u), i/o apic level + eoi "
	       "(pin %u), 8259a extint (irq 0)\n", g.timer_gsi, COM1_IRQ);
}
