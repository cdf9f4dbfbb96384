/*
 * report.h - the end-of-run table: per vCPU its APIC ID, whether it is the BSP, the MP
 * states it went through with times since VM start, and the time from its first SIPI to
 * its first exit.  Reads the MP trace and the vCPUs' counters; changes nothing.
 */
#ifndef MPVMM_REPORT_H
#define MPVMM_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "mp/mp.h"
#include "vcpu/vcpu.h"

void report_print(FILE *out, struct mp *mp, const struct vcpu *vcpus, uint32_t n);

/*
 * Memory: the process's peak resident set minus the guest RAM the host backed, i.e. what
 * the VMM itself costs.  guest_resident comes from guest_mem_resident().
 */
void report_memory(FILE *out, uint64_t guest_resident);

#endif
