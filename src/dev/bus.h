/*
 * bus.h - dispatch of port I/O and MMIO exits to the devices that claimed the addresses.
 *
 * A device registers a range and a handler; the vCPU loop hands each access to the bus.
 * Unclaimed reads return all ones and unclaimed writes are dropped, as on a PC; both are
 * counted.  Registration happens before vCPUs run; dispatch is then lock-free.
 */
#ifndef MPVMM_DEV_BUS_H
#define MPVMM_DEV_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bus_access {
	uint32_t cpu;   /* vCPU index doing the access */
	uint64_t addr;  /* port number or guest physical address */
	uint32_t size;  /* bytes: 1, 2, 4 (8 for MMIO) */
	bool write;
	uint8_t *data;  /* size bytes, little endian; a read handler fills it */
};

typedef void (*bus_handler)(void *ctx, const struct bus_access *a);

struct bus;

struct bus *bus_create(const char *name);
void bus_destroy(struct bus *b);

/* Claim [base, base + len).  Returns 0, or -1 if it overlaps a claimed range. */
int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_handler fn, void *ctx,
		 const char *device);

/* Dispatch one access; returns true if a device claimed it. */
bool bus_dispatch(struct bus *b, const struct bus_access *a);

uint64_t bus_unclaimed(const struct bus *b);

/* The ranges claimed so far, in address order: up to max of them in out; returns how many
 * there are. */
struct bus_claim {
	uint64_t base, len;
	const char *device;
};
size_t bus_claims(const struct bus *b, struct bus_claim *out, size_t max);

#endif
