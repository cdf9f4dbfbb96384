/*
 * regs.h - x86-64 architectural register state as the VMM handles it, independent of the
 * accelerator.  The layouts deliberately match struct kvm_regs / kvm_segment / kvm_dtable /
 * kvm_sregs field for field (the KVM backend checks this at compile time and copies), so
 * the other accelerators and the loaders share one description.
 */
#ifndef MPVMM_X86_REGS_H
#define MPVMM_X86_REGS_H

#include <stdint.h>

struct x86_regs {
	uint64_t rax, rbx, rcx, rdx;
	uint64_t rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11;
	uint64_t r12, r13, r14, r15;
	uint64_t rip, rflags;
};

struct x86_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint8_t type;
	uint8_t present, dpl, db, s, l, g, avl;
	uint8_t unusable;
	uint8_t padding;
};

struct x86_dtable {
	uint64_t base;
	uint16_t limit;
	uint16_t padding[3];
};

struct x86_sregs {
	struct x86_segment cs, ds, es, fs, gs, ss;
	struct x86_segment tr, ldt;
	struct x86_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8;
	uint64_t efer;
	uint64_t apic_base;
	uint64_t interrupt_bitmap[4];
};

/* Control-register and EFER bits (Intel SDM Vol. 3A, 2.5 and 2.2.1). */
#define X86_CR0_PE (1ull << 0)
#define X86_CR0_MP (1ull << 1)
#define X86_CR0_ET (1ull << 4)
#define X86_CR0_NE (1ull << 5)
#define X86_CR0_WP (1ull << 16)
#define X86_CR0_AM (1ull << 18)
#define X86_CR0_PG (1ull << 31)
#define X86_CR4_PAE (1ull << 5)
#define X86_EFER_LME (1ull << 8)
#define X86_EFER_LMA (1ull << 10)
#define X86_RFLAGS_RESERVED1 (1ull << 1)
#define X86_RFLAGS_IF (1ull << 9)

#endif
