/*
 * paging.h - a small 4 KiB-page window at ALIAS_BASE for the page-crossing cases: its page
 * 0 and page 1 map two physical pages that are not adjacent (page 1's frame lies *below*
 * page 0's), page 2 is not present.  An access or an instruction that crosses from page 0
 * into page 1 therefore needs two translations, as on a real OS.
 */
#ifndef INSN_PAGING_H
#define INSN_PAGING_H

#include <stdint.h>

#define ALIAS_BASE 0x100000000ull /* 4 GiB: PML4[0], PDPT[4], beyond the VMM's identity map */
#define PAGE 4096u

/* Build the window; returns the physical (= identity-mapped) address of page 0 and 1. */
void alias_init(uint8_t **page0, uint8_t **page1);

#endif
