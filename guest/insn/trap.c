/*
 * trap.c - the insn guest's IDT (Intel SDM Vol. 3A, 6.14.1: 16-byte interrupt gates) and
 * the C side of isr.S.
 */
#include "trap.h"

#include "arch.h"
#include "gdt.h"
#include "lib.h"
#include "mpvmm/selftest_abi.h"
#include "ring3.h"

struct gate {
	uint16_t offset_lo;
	uint16_t selector;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t offset_mid;
	uint32_t offset_hi;
	uint32_t reserved;
} __attribute__((packed));

struct idtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

#define GATE_INTERRUPT 0x8eu /* present, DPL 0, 64-bit interrupt gate */
#define GATE_DPL_SHIFT 5
#define STUBS 33u            /* vectors 0-31 and INSN_TEST_VECTOR     */

extern const uint64_t trap_stubs[STUBS];

static struct gate idt[256];
volatile struct trap_record last_trap;
volatile uint64_t trap_resume;

void trap_set_gate(unsigned vec, uint64_t handler, unsigned dpl)
{
	idt[vec] = (struct gate){
		.offset_lo = (uint16_t)handler, .selector = GDT_CODE64,
		.type_attr = (uint8_t)(GATE_INTERRUPT | dpl << GATE_DPL_SHIFT),
		.offset_mid = (uint16_t)(handler >> 16), .offset_hi = (uint32_t)(handler >> 32),
	};
}

void trap_init(void)
{
	struct idtr r = { .limit = sizeof(idt) - 1, .base = (uint64_t)(uintptr_t)idt };

	for (unsigned v = 0; v < 32; v++)
		trap_set_gate(v, trap_stubs[v], 0);
	trap_set_gate(INSN_TEST_VECTOR, trap_stubs[32], 0);
	__asm__ volatile("lidt %0" : : "m"(r) : "memory");
}

static uint64_t read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

void trap_handler(struct trap_frame *f)
{
	last_trap.vector = f->vector;
	last_trap.error = f->error;
	last_trap.rip = f->rip;
	last_trap.cr2 = read_cr2();
	last_trap.count++;
	if (ring3_back(f))
		return; /* from CPL 3: back to the ring-3 case at CPL 0 */
	if (f->vector == 1 || f->vector == 3 || f->vector == INSN_TEST_VECTOR)
		return; /* traps: resume after the instruction */
	if (trap_resume) {
		f->rip = trap_resume;
		trap_resume = 0;
		return;
	}
	printk("insn: FAIL unexpected exception %lu (error 0x%lx) at rip=0x%lx cr2=0x%lx\n",
	       (unsigned long)f->vector, (unsigned long)f->error, (unsigned long)f->rip,
	       (unsigned long)last_trap.cr2);
	outl(SELFTEST_PORT_RESULT, 1);
	halt_forever();
}
