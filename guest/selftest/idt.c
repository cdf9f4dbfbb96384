/*
 * idt.c - IDT gates (Intel SDM Vol. 3A, 6.14.1, Figure 6-7: 16-byte interrupt gates) and
 * the C side of the handlers whose entry stubs are in isr.S.
 */
#include "idt.h"

#include <stdint.h>

#include "arch.h"
#include "gdt.h"
#include "irq.h"
#include "lapic.h"
#include "result.h"
#include "state.h"

struct gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr; /* P | DPL | type */
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __attribute__((packed));

_Static_assert(sizeof(struct gate) == 16, "64-bit IDT gate is 16 bytes");

#define GATE_INTERRUPT 0x8eu /* present, DPL 0, 64-bit interrupt gate (IF cleared on entry) */
#define NUM_EXCEPTIONS 32u

struct idtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

static struct gate idt[256];

extern const uint64_t exc_stubs[NUM_EXCEPTIONS];
extern char isr_ap_reported[], isr_timer[], isr_spurious[];
extern char isr_pit_ioapic[], isr_com1[], isr_pic_pit[], isr_pic_spurious[], isr_tsc_deadline[];
extern char isr_ping[], isr_pong[];

__attribute__((noreturn)) void exception_handler(uint64_t vec, uint64_t rip, uint64_t err);
void irq_ap_reported(void);
void irq_timer(void);
void irq_spurious(void);

static void set_gate(unsigned vec, uint64_t handler)
{
	idt[vec] = (struct gate){
		.offset_lo = (uint16_t)handler,
		.selector = GDT_CODE64,
		.ist = 0,
		.type_attr = GATE_INTERRUPT,
		.offset_mid = (uint16_t)(handler >> 16),
		.offset_hi = (uint32_t)(handler >> 32),
		.reserved = 0,
	};
}

void idt_init(void)
{
	for (unsigned v = 0; v < NUM_EXCEPTIONS; v++)
		set_gate(v, exc_stubs[v]);
	set_gate(VEC_AP_REPORTED, (uint64_t)(uintptr_t)isr_ap_reported);
	set_gate(VEC_TIMER, (uint64_t)(uintptr_t)isr_timer);
	set_gate(VEC_SPURIOUS, (uint64_t)(uintptr_t)isr_spurious);
	/* irq.c's checks: IRQ 0 and the spurious IRQ 7 of the 8259A, the I/O APIC's two;
	 * tscdeadline.c's timer; pingpong.c's two IPIs. */
	set_gate(VEC_PIC_BASE, (uint64_t)(uintptr_t)isr_pic_pit);
	set_gate(VEC_PIC_BASE + 7, (uint64_t)(uintptr_t)isr_pic_spurious);
	set_gate(VEC_IOAPIC_PIT, (uint64_t)(uintptr_t)isr_pit_ioapic);
	set_gate(VEC_IOAPIC_COM1, (uint64_t)(uintptr_t)isr_com1);
	set_gate(VEC_TSC_DEADLINE, (uint64_t)(uintptr_t)isr_tsc_deadline);
	set_gate(VEC_PING, (uint64_t)(uintptr_t)isr_ping);
	set_gate(VEC_PONG, (uint64_t)(uintptr_t)isr_pong);
	/* Any other vector hits a not-present gate: #NP (11), which reports like any fault. */
}

void idt_load(void)
{
	struct idtr r = { .limit = sizeof(idt) - 1, .base = (uint64_t)(uintptr_t)idt };

	__asm__ volatile("lidt %0" : : "m"(r) : "memory");
}

static uint32_t exceptions_taken; /* atomic: a fault inside the report must not loop */

void exception_handler(uint64_t vec, uint64_t rip, uint64_t err)
{
	(void)err;
	if (__atomic_fetch_add(&exceptions_taken, 1, __ATOMIC_RELAXED) >= 4)
		halt_forever();
	fail(SELFTEST_FAIL_EXCEPTION, "exception %u at rip=0x%lx", (unsigned)vec,
	     (unsigned long)rip);
}

/* The BSP only needs waking: the wait loop re-reads the counters. */
void irq_ap_reported(void)
{
	lapic_eoi();
}

void irq_timer(void)
{
	__atomic_fetch_add(&g.ticks, 1, __ATOMIC_RELAXED);
	lapic_eoi();
}

/* A spurious interrupt sets no ISR bit and takes no EOI (SDM Vol. 3A, 10.9). */
void irq_spurious(void)
{
}
