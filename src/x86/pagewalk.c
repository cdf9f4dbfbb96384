/*
 * pagewalk.c - see pagewalk.h.  SDM Vol. 3A: 4.3 (32-bit paging), 4.4 (PAE), 4.5 (4-level
 * and 5-level).
 */
#include "x86/pagewalk.h"

#include "x86/regs.h"

#define PTE_P (1ull << 0)
#define PTE_PS (1ull << 7)
#define ADDR_MASK 0x000ffffffffff000ull /* bits 51:12 of a PAE / 4-level entry */
#define CR4_PSE (1ull << 4)
#define CR4_LA57 (1ull << 12)

static int read_entry(x86_phys_read_fn *rd, void *ctx, uint64_t gpa, unsigned size,
		      uint64_t *e)
{
	if (rd(ctx, gpa, size, e) < 0 || !(*e & PTE_P))
		return -1;
	return 0;
}

/* 4.3: PDE by bits 31:22, 4 MiB page (PSE, bits 20:13 are 39:32) or PTE by bits 21:12. */
static int walk32(const struct x86_paging *p, uint32_t lin, x86_phys_read_fn *rd, void *ctx,
		  uint64_t *gpa)
{
	uint64_t pde, pte;

	if (read_entry(rd, ctx, (p->cr3 & 0xfffff000u) + (lin >> 22) * 4, 4, &pde) < 0)
		return -1;
	if ((pde & PTE_PS) && (p->cr4 & CR4_PSE)) {
		uint64_t base = (pde & 0xffc00000u) | ((pde >> 13) & 0xff) << 32;
		*gpa = base | (lin & 0x3fffff);
		return 0;
	}
	if (read_entry(rd, ctx, (pde & 0xfffff000u) + ((lin >> 12) & 0x3ff) * 4, 4, &pte) < 0)
		return -1;
	*gpa = (pte & 0xfffff000u) | (lin & 0xfff);
	return 0;
}

/*
 * From a table at `table` on: each level takes 9 bits of the address from `shift` down to
 * 12; a PS entry at the 1 GiB or 2 MiB level maps a large page.
 */
static int walk_levels(uint64_t table, int shift, uint64_t lin, x86_phys_read_fn *rd,
		       void *ctx, uint64_t *gpa)
{
	for (; shift >= 12; shift -= 9) {
		uint64_t e;
		if (read_entry(rd, ctx, (table & ADDR_MASK) + ((lin >> shift) & 0x1ff) * 8, 8,
			       &e) < 0)
			return -1;
		uint64_t size = 1ull << shift;
		if (shift == 12 || ((e & PTE_PS) && (shift == 21 || shift == 30))) {
			*gpa = (e & ADDR_MASK & ~(size - 1)) | (lin & (size - 1));
			return 0;
		}
		table = e;
	}
	return -1;
}

int x86_pagewalk(const struct x86_paging *p, uint64_t linear, x86_phys_read_fn *rd,
		 void *ctx, uint64_t *gpa)
{
	uint64_t pdpte;

	if (!(p->cr0 & X86_CR0_PG)) {
		*gpa = linear & 0xffffffffu;
		return 0;
	}
	if (p->efer & X86_EFER_LMA)
		return walk_levels(p->cr3, p->cr4 & CR4_LA57 ? 48 : 39, linear, rd, ctx, gpa);
	linear &= 0xffffffffu;
	if (!(p->cr4 & X86_CR4_PAE))
		return walk32(p, (uint32_t)linear, rd, ctx, gpa);
	/* 4.4.1: four PDPTEs at CR3 bits 31:5, by address bits 31:30. */
	if (read_entry(rd, ctx, (p->cr3 & 0xffffffe0u) + (linear >> 30) * 8, 8, &pdpte) < 0)
		return -1;
	return walk_levels(pdpte, 21, linear, rd, ctx, gpa);
}
