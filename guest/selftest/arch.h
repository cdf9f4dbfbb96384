/*
 * arch.h - x86-64 instructions the self-test guest needs, as inline functions: port I/O,
 * MSRs, CPUID, control registers, the time-stamp counter, interrupt flag, HLT and PAUSE.
 * Nothing else.
 */
#ifndef SELFTEST_ARCH_H
#define SELFTEST_ARCH_H

#include <stdint.h>

/* Architectural MSRs (Intel SDM Vol. 4, Table 2-2). */
#define MSR_IA32_APIC_BASE 0x0000001bu
#define MSR_EFER           0xc0000080u

/* IA32_APIC_BASE bits (SDM Vol. 3A, 10.4.4, Figure 10-5; 10.12.1 for EXTD). */
#define APIC_BASE_BSP  (1u << 8)  /* processor is the BSP                */
#define APIC_BASE_EXTD (1u << 10) /* x2APIC mode                          */
#define APIC_BASE_EN   (1u << 11) /* APIC global enable                   */

/* EFER bits (SDM Vol. 3A, 2.2.1). */
#define EFER_SCE (1u << 0)
#define EFER_LME (1u << 8)
#define EFER_NXE (1u << 11)

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
	return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
			 : "memory");
}

struct cpuid_regs {
	uint32_t eax, ebx, ecx, edx;
};

static inline struct cpuid_regs cpuid(uint32_t leaf, uint32_t subleaf)
{
	struct cpuid_regs r;
	__asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
			 : "a"(leaf), "c"(subleaf));
	return r;
}

static inline uint64_t read_cr3(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

/*
 * The time-stamp counter, read after every earlier instruction has completed: LFENCE before
 * RDTSC orders it (SDM Vol. 2B, RDTSC), so a timed interval does not start or end early.
 */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
	return ((uint64_t)hi << 32) | lo;
}

static inline void cli(void)
{
	__asm__ volatile("cli" : : : "memory");
}

static inline void sti(void)
{
	__asm__ volatile("sti" : : : "memory");
}

/*
 * Enable interrupts and halt as one step: STI delays interrupt recognition until after the
 * next instruction (SDM Vol. 2B, STI), so an interrupt that arrives between a check made
 * with IF = 0 and the HLT still wakes the HLT instead of being missed.
 */
static inline void sti_hlt(void)
{
	__asm__ volatile("sti; hlt" : : : "memory");
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" : : : "memory");
}

static inline __attribute__((noreturn)) void halt_forever(void)
{
	for (;;)
		__asm__ volatile("cli; hlt" : : : "memory");
}

/*
 * A pointer to guest physical memory (identity mapped).  The empty asm hides the constant
 * from the compiler, which otherwise warns about dereferencing small fixed addresses.
 */
static inline void *phys(uint64_t addr)
{
	__asm__("" : "+r"(addr));
	return (void *)(uintptr_t)addr;
}

#endif
