/*
 * smp.h - the chaos guest's processors: the low pages every STARTUP vector it uses leads to
 * (the self-test's trampoline, a park loop, a jump to the trampoline, a real-mode IVT), the
 * BSP starting the APs with INIT-SIPI-SIPI, and where an AP enters from its trampoline, the
 * first time and after every INIT chaos sends it.
 */
#ifndef CHAOS_SMP_H
#define CHAOS_SMP_H

#include <stdbool.h>
#include <stdint.h>

/* BSP, before any AP starts: the trampoline, the park and jump pages, the IVT. */
void lowmem_install(void);

/* BSP: INIT-SIPI-SIPI every AP; true if all of them reached the loop within `ms`. */
bool smp_start_aps(uint32_t ms);

/* CPUID's APIC ID of the CPU executing this: leaf 0xB's where it exists, else leaf 1's. */
uint32_t smp_apic_id(void);

/* The index of the CPU executing this (CPUID's APIC ID in cs.apic_ids), or -1. */
int smp_cpu_index(void);

#endif
