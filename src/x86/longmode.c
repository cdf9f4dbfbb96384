/*
 * longmode.c - see longmode.h.  Constants from the Intel SDM Vol. 3A: segment descriptors
 * (3.4.5), 4-level paging entries (4.5, tables 4-14 to 4-18), IA-32e mode (9.8.5).
 */
#include "x86/longmode.h"

#include <stdio.h>
#include <string.h>

/* Page-table entry bits (SDM Vol. 3A, 4.5). */
#define PTE_P   (1ull << 0)
#define PTE_RW  (1ull << 1)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS  (1ull << 7)

#define PAGE_SIZE_2M (2ull << 20)
#define MMIO_HOLE_START 0xc0000000ull

/* Flat descriptors: base 0, limit 0xfffff pages (SDM Vol. 3A, 3.4.5, figure 3-8). */
#define DESC_CODE64 0x00af9b000000ffffull /* 64-bit code, L=1, present, DPL 0 */
#define DESC_DATA   0x00cf93000000ffffull /* data, 32-bit, writable, accessed */
#define DESC_CODE32 0x00cf9b000000ffffull /* 32-bit code, D=1                 */
#define GDT_ENTRIES 4

static const uint64_t boot_gdt[][GDT_ENTRIES] = {
	[LONGMODE_GDT_SELFTEST] = { 0, DESC_CODE64, DESC_DATA, DESC_CODE32 },
	[LONGMODE_GDT_KERNEL] = { 0, DESC_CODE32, DESC_CODE64, DESC_DATA },
};

static int write_gdt(struct guest_mem *m, uint64_t gpa, enum longmode_gdt kind,
		     struct x86_sregs *s, char *err, size_t errlen)
{
	void *gdt = guest_mem_ptr(m, gpa, sizeof(boot_gdt[kind]));

	if (!gdt) {
		snprintf(err, errlen, "GDT at 0x%llx is not in guest RAM", (unsigned long long)gpa);
		return -1;
	}
	memcpy(gdt, boot_gdt[kind], sizeof(boot_gdt[kind]));
	s->gdt = (struct x86_dtable){ .base = gpa, .limit = sizeof(boot_gdt[kind]) - 1 };
	s->idt = (struct x86_dtable){ .base = 0, .limit = 0 };
	return 0;
}

static struct x86_segment flat_segment(uint16_t selector, uint8_t type, int code64)
{
	return (struct x86_segment){
		.base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
		.present = 1, .dpl = 0, .db = code64 ? 0 : 1, .s = 1, .l = code64 ? 1 : 0, .g = 1,
	};
}

static int write_page_tables(struct guest_mem *m, uint64_t pml4_gpa, char *err, size_t errlen)
{
	uint64_t pdpt_gpa = pml4_gpa + 0x1000, pd_gpa = pml4_gpa + 0x2000;
	uint64_t *pml4 = guest_mem_ptr(m, pml4_gpa, 0x1000);
	uint64_t *pdpt = guest_mem_ptr(m, pdpt_gpa, 0x1000);
	uint64_t *pd = guest_mem_ptr(m, pd_gpa, 4 * 0x1000);

	if (!pml4 || !pdpt || !pd) {
		snprintf(err, errlen, "page tables at 0x%llx do not fit in guest RAM",
			 (unsigned long long)pml4_gpa);
		return -1;
	}
	memset(pml4, 0, 0x1000);
	memset(pdpt, 0, 0x1000);
	pml4[0] = pdpt_gpa | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4; i++)
		pdpt[i] = (pd_gpa + i * 0x1000) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < 4 * 512; i++) {
		uint64_t addr = i * PAGE_SIZE_2M;
		uint64_t cache = addr >= MMIO_HOLE_START ? PTE_PCD | PTE_PWT : 0;
		pd[i] = addr | PTE_P | PTE_RW | PTE_PS | cache;
	}
	return 0;
}

int longmode_setup(struct guest_mem *m, const struct longmode_layout *l, struct x86_sregs *s,
		   char *err, size_t errlen)
{
	int kernel = l->kind == LONGMODE_GDT_KERNEL;
	uint16_t code = kernel ? LONGMODE_KSEL_CODE64 : LONGMODE_SEL_CODE64;
	uint16_t data = kernel ? LONGMODE_KSEL_DATA : LONGMODE_SEL_DATA;

	if (write_gdt(m, l->gdt, kernel ? LONGMODE_GDT_KERNEL : LONGMODE_GDT_SELFTEST, s, err,
		      errlen) < 0 ||
	    write_page_tables(m, l->pml4, err, errlen) < 0)
		return -1;

	s->cs = flat_segment(code, 0xb, 1);
	s->ds = s->es = s->fs = s->gs = s->ss = flat_segment(data, 0x3, 0);
	s->cr0 = X86_CR0_PE | X86_CR0_MP | X86_CR0_ET | X86_CR0_NE | X86_CR0_WP | X86_CR0_AM |
		 X86_CR0_PG;
	s->cr3 = l->pml4;
	s->cr4 = X86_CR4_PAE;
	s->efer = X86_EFER_LME | X86_EFER_LMA;
	return 0;
}

int longmode_flat32_setup(struct guest_mem *m, uint64_t gdt, struct x86_sregs *s, char *err,
			  size_t errlen)
{
	if (write_gdt(m, gdt, LONGMODE_GDT_KERNEL, s, err, errlen) < 0)
		return -1;
	s->cs = flat_segment(LONGMODE_KSEL_CODE32, 0xb, 0);
	s->ds = s->es = s->fs = s->gs = s->ss = flat_segment(LONGMODE_KSEL_DATA, 0x3, 0);
	s->cr0 = X86_CR0_PE | X86_CR0_ET; /* paging off (Multiboot 0.6.96, 3.2) */
	s->cr3 = 0;
	s->cr4 = 0;
	s->efer = 0;
	return 0;
}
