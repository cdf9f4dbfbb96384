/*
 * guest_mem.h - the guest's RAM: one anonymous host mapping, laid out in guest physical
 * space as a PC does, below the 32-bit MMIO hole and above 4 GiB.
 *
 * Owns every guest physical address the VMM writes (loaders and firmware tables go through
 * guest_mem_ptr, which refuses ranges that are not RAM).  Knows nothing of KVM.
 */
#ifndef MPVMM_GUEST_MEM_H
#define MPVMM_GUEST_MEM_H

#include <stddef.h>
#include <stdint.h>

/* RAM stops at 3 GiB; 3..4 GiB is the MMIO hole (LAPIC, IOAPIC, ...); the rest is at 4 GiB. */
#define GUEST_MEM_HOLE_START 0xc0000000ull
#define GUEST_MEM_HIGH_START 0x100000000ull
#define GUEST_MEM_MAX_REGIONS 2

struct guest_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_mem {
	uint8_t *host;  /* the whole mapping */
	uint64_t size;  /* bytes of RAM      */
	unsigned nregions;
	struct guest_region regions[GUEST_MEM_MAX_REGIONS];
};

/* Map `size` bytes of zeroed RAM (lazily backed).  Returns 0, or -1 with a reason in err. */
int guest_mem_init(struct guest_mem *m, uint64_t size, char *err, size_t errlen);
void guest_mem_free(struct guest_mem *m);

/* Host pointer to guest physical [gpa, gpa + len), or NULL unless all of it is RAM. */
void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Bytes of guest RAM the host has backed with memory so far (mincore). */
uint64_t guest_mem_resident(const struct guest_mem *m);

/* Bytes of RAM contiguous from guest physical 0. */
uint64_t guest_mem_low_size(const struct guest_mem *m);

#endif
