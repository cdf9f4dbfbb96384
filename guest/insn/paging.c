/*
 * paging.c - see paging.h.  4-level paging entries (Intel SDM Vol. 3A, 4.5, Tables 4-14 to
 * 4-20): the VMM's identity map uses PDPT[0..3]; PDPT[4] gets a page directory of ours whose
 * first entry points to a page table of 4 KiB pages.
 */
#include "paging.h"

#include "arch.h"
#include "lib.h"

#define PTE_P 1ull
#define PTE_RW 2ull
#define PTE_ADDR 0x000ffffffffff000ull

static uint64_t pd[512] __attribute__((aligned(4096)));
static uint64_t pt[512] __attribute__((aligned(4096)));
static uint8_t frames[3][PAGE] __attribute__((aligned(4096)));

static void write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

void alias_init(uint8_t **page0, uint8_t **page1)
{
	uint64_t *pml4 = phys(read_cr3() & PTE_ADDR);
	uint64_t *pdpt = phys(pml4[0] & PTE_ADDR);

	/* frames[2] backs page 0, frames[0] backs page 1: not adjacent, and in reverse order. */
	memset(pd, 0, sizeof(pd));
	memset(pt, 0, sizeof(pt));
	pt[0] = (uint64_t)(uintptr_t)frames[2] | PTE_P | PTE_RW;
	pt[1] = (uint64_t)(uintptr_t)frames[0] | PTE_P | PTE_RW;
	pd[0] = (uint64_t)(uintptr_t)pt | PTE_P | PTE_RW;
	pdpt[4] = (uint64_t)(uintptr_t)pd | PTE_P | PTE_RW;
	write_cr3(read_cr3()); /* flush the TLB */
	*page0 = frames[2];
	*page1 = frames[0];
}
