/*
 * ring3.c - see ring3.h: the GDT with user segments and a TSS (Intel SDM Vol. 3A, 3.4.5,
 * 7.2.3), the MSRs of SYSCALL (STAR, LSTAR, FMASK, EFER.SCE), a DPL 3 gate for INT 0x80, and user access (U = 1) to the first 16 MiB of the VMM's
 * identity map, where this guest and its stacks live.
 */
#include "ring3.h"

#include "arch.h"
#include "lib.h"
#include "trap.h"

#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_FMASK 0xc0000084u
#define PTE_US 4ull
#define PTE_ADDR 0x000ffffffffff000ull

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3, iomap;
} __attribute__((packed));

struct gdtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

extern char ring3_syscall_entry[], ring3_int80_entry[];
extern uint64_t ring3_kstack, ring3_entry_cs, ring3_entry_rcx;
extern char ring3_return[];
void ring3_enter(int kind);

static uint64_t gdt[8] __attribute__((aligned(16)));
static struct tss tss __attribute__((aligned(16)));
static uint8_t kstack[4096] __attribute__((aligned(16)));
static volatile int active;
static volatile uint64_t traps, vector, error, rip, cs;

void ring3_init(void)
{
	uint64_t t = (uint64_t)(uintptr_t)&tss;
	struct gdtr r = { .limit = sizeof(gdt) - 1, .base = (uint64_t)(uintptr_t)gdt };
	uint64_t *pml4 = phys(read_cr3() & PTE_ADDR);
	uint64_t *pdpt = phys(pml4[0] & PTE_ADDR);
	uint64_t *pd = phys(pdpt[0] & PTE_ADDR);

	gdt[RING3_KCODE / 8] = 0x00af9a000000ffffull;  /* 64-bit code, DPL 0 */
	gdt[RING3_KDATA / 8] = 0x00cf92000000ffffull;  /* data, DPL 0        */
	gdt[RING3_UBASE / 8] = 0x00cffa000000ffffull;  /* 32-bit code, DPL 3 */
	gdt[RING3_UDATA / 8] = 0x00cff2000000ffffull;  /* data, DPL 3        */
	gdt[RING3_UCODE / 8] = 0x00affa000000ffffull;  /* 64-bit code, DPL 3 */
	gdt[RING3_TSS / 8] = (sizeof(tss) - 1) | (t & 0xffffff) << 16 | 0x89ull << 40 |
			     ((t >> 24) & 0xff) << 56;   /* available 64-bit TSS */
	gdt[RING3_TSS / 8 + 1] = t >> 32;
	tss.rsp[0] = (uint64_t)(uintptr_t)(kstack + sizeof(kstack));
	tss.iomap = sizeof(tss);
	__asm__ volatile("lgdt %0\n\t"
			 "pushq %1\n\tleaq 1f(%%rip), %%rax\n\tpushq %%rax\n\tlretq\n1:\n\t"
			 "movw %w2, %%ax\n\tmovw %%ax, %%ds\n\tmovw %%ax, %%es\n\tmovw %%ax, %%ss\n\t"
			 "movw %w3, %%ax\n\tltr %%ax"
			 : : "m"(r), "i"(RING3_KCODE), "r"(RING3_KDATA), "r"(RING3_TSS)
			 : "rax", "memory");
	pml4[0] |= PTE_US;
	pdpt[0] |= PTE_US;
	for (unsigned i = 0; i < 8; i++)
		pd[i] |= PTE_US;
	__asm__ volatile("mov %0, %%cr3" : : "r"(read_cr3()) : "memory");
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	wrmsr(MSR_STAR, (uint64_t)RING3_UBASE << 48 | (uint64_t)RING3_KCODE << 32);
	wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)ring3_syscall_entry);
	wrmsr(MSR_FMASK, 0x200);
	trap_set_gate(RING3_VECTOR, (uint64_t)(uintptr_t)ring3_int80_entry, 3);
}

int ring3_back(struct trap_frame *f)
{
	if (!active || !(f->cs & 3))
		return 0;
	traps++;
	vector = f->vector;
	error = f->error;
	rip = f->rip;
	cs = f->cs;
	f->rip = (uint64_t)(uintptr_t)ring3_return;
	f->cs = RING3_KCODE;
	f->ss = RING3_KDATA;
	f->rsp = ring3_kstack;
	return 1;
}

void ring3_try(int kind, struct ring3_result *r)
{
	ring3_entry_cs = ring3_entry_rcx = 0;
	traps = vector = error = rip = cs = 0;
	active = 1;
	ring3_enter(kind);
	active = 0;
	*r = (struct ring3_result){ .entry_cs = ring3_entry_cs, .entry_rcx = ring3_entry_rcx,
				    .traps = traps, .vector = vector, .error = error, .rip = rip,
				    .cs = cs };
}
