/*
 * topology.h - the processor topology of a VM (QEMU -smp style) and the APIC IDs it implies.
 *
 * Pure arithmetic: knows nothing of KVM, guest memory or firmware tables.
 * APIC IDs are bit-packed: | socket | core | thread |, each field as wide as the smallest
 * power of two that holds its count (Intel SDM Vol. 3A, 8.9 "Identification of hardware
 * threads", and CPUID leaf 0xB), so a shape with 3 cores still decodes with shifts.
 */
#ifndef MPVMM_X86_TOPOLOGY_H
#define MPVMM_X86_TOPOLOGY_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct topology {
	uint32_t cpus;
	uint32_t sockets;
	uint32_t cores;   /* per socket */
	uint32_t threads; /* per core   */
};

/*
 * Parse "N[,sockets=S][,cores=C][,threads=T]".  Missing counts are derived as QEMU does for
 * x86 (threads = 1, then cores = 1, then sockets = N / (cores * threads)); the product must
 * equal N.  Returns 0, or -1 with a one-line reason in err.
 */
int topology_parse(const char *spec, struct topology *out, char *err, size_t errlen);

/*
 * Whether counts that came from elsewhere (a snapshot) make a topology: none 0, and
 * sockets * cores * threads == cpus, the product taken without overflow.
 */
bool topology_consistent(const struct topology *t);

/* Width in bits of the thread and core fields of an APIC ID. */
unsigned topology_thread_bits(const struct topology *t);
unsigned topology_core_bits(const struct topology *t);

/* APIC ID of the vCPU with linear index i (0 <= i < cpus), threads varying fastest. */
uint32_t topology_apic_id(const struct topology *t, uint32_t index);

/* Largest APIC ID of any vCPU. */
uint32_t topology_max_apic_id(const struct topology *t);

#endif
