/*
 * trap.c - see trap.h.  Gates are 64-bit interrupt gates (Intel SDM Vol. 3A, 6.14.1), so
 * every handler runs with IF = 0 on the stack it interrupted (IST 0): the handler finds its
 * CPU from that stack (chaos.h: this_cpu), without a per-CPU register chaos could clobber.
 */
#include "trap.h"

#include "apic.h"
#include "arch.h"
#include "chaos.h"
#include "gdt.h"

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
#define STUB_SIZE 16u        /* isr.S */
#define VEC_NMI 2u
#define VEC_FIRST_IRQ 32u    /* 0-31 are exceptions (SDM Vol. 3A, Table 6-1) */

extern const uint8_t isr_stubs[];
extern const uint64_t chaos_extable[], chaos_extable_end[];

static struct gate idt[256];

void trap_init(void)
{
	for (unsigned v = 0; v < 256; v++) {
		uint64_t h = (uint64_t)(uintptr_t)(isr_stubs + v * STUB_SIZE);
		idt[v] = (struct gate){
			.offset_lo = (uint16_t)h, .selector = GDT_CODE64,
			.type_attr = GATE_INTERRUPT, .offset_mid = (uint16_t)(h >> 16),
			.offset_hi = (uint32_t)(h >> 32),
		};
	}
}

void trap_load(void)
{
	struct idtr r = { .limit = sizeof(idt) - 1, .base = (uint64_t)(uintptr_t)idt };

	__asm__ volatile("lidt %0" : : "m"(r) : "memory");
}

static uint64_t extable_fixup(uint64_t rip)
{
	for (const uint64_t *e = chaos_extable; e < chaos_extable_end; e += 2)
		if (e[0] == rip)
			return e[1];
	return 0;
}

/*
 * An exception vector.  A fault the guest expects resumes at its fixup.  Anything else (an
 * external interrupt on an exception vector looks the same when it pushes no error code)
 * starts the loop over on a fresh stack with IF = 0: a CPU is never lost to a fault.
 */
static void exception(struct chaos_cpu *c, struct trap_frame *f)
{
	uint64_t fix = extable_fixup(f->rip);

	if (fix) {
		c->faults++;
		f->rip = fix;
		return;
	}
	c->restarts++;
	f->rip = (uint64_t)(uintptr_t)chaos_resume;
	f->rsp = stack_top(c);
	f->rflags = RFLAGS_RESERVED;
}

void chaos_trap(struct trap_frame *f)
{
	struct chaos_cpu *c = this_cpu();

	if (!c)
		return; /* an AP still on the trampoline's stack: nothing to do but return */
	if (f->vector == VEC_NMI) {
		c->nmis++;
		return;
	}
	if (f->vector < VEC_FIRST_IRQ) {
		exception(c, f);
		return;
	}
	c->irqs++;
	apic_eoi(c);
	if (++c->window_irqs >= WINDOW_IRQS_MAX)
		f->rflags &= ~RFLAGS_IF;
}

void chaos_resume_c(void)
{
	struct chaos_cpu *c = this_cpu();

	if (!c)
		halt_forever();
	chaos_loop(c);
}
