/*
 * pagewalk.h - a linear address to a physical one, as a processor in the given paging mode
 * would translate it (Intel SDM Vol. 3A, chapter 4): no paging (CR0.PG = 0: real mode and
 * protected mode, linear = physical, 32 bits), 32-bit paging (4 KiB pages, 4 MiB with
 * CR4.PSE), PAE, and 4-level (or 5-level with CR4.LA57) paging with 2 MiB and 1 GiB pages.
 * The tables are read through a callback: no guest memory, no accelerator.  Accessed and
 * dirty bits are not set.  For the gdb stub's memory accesses, which walk a vCPU's own
 * tables whatever the accelerator.
 */
#ifndef MPVMM_X86_PAGEWALK_H
#define MPVMM_X86_PAGEWALK_H

#include <stdint.h>

struct x86_paging {
	uint64_t cr0, cr3, cr4, efer;
};

/* Read `size` (4 or 8) bytes of physical memory at gpa, little-endian.  0 or -1. */
typedef int x86_phys_read_fn(void *ctx, uint64_t gpa, unsigned size, uint64_t *val);

/* 0 with *gpa, or -1 (a table entry not present, or a table outside memory). */
int x86_pagewalk(const struct x86_paging *p, uint64_t linear, x86_phys_read_fn *rd,
		 void *ctx, uint64_t *gpa);

#endif
