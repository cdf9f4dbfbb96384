/*
 * selftest.h - loader of the built-in test guests (guest/selftest/ and the others in
 * boot/guests.h): places the embedded image, its boot information, the boot GDT and page tables in guest memory and
 * gives the BSP's 64-bit entry state.  Knows nothing of KVM or of vCPU threads.
 */
#ifndef MPVMM_BOOT_SELFTEST_H
#define MPVMM_BOOT_SELFTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "x86/guest_mem.h"
#include "x86/regs.h"

struct selftest_options {
	uint32_t ncpus;
	bool step;
	bool hold;
	bool racy;
	bool irq;
	bool mistakes;
	bool ipi_pingpong;
	bool x2apic;
	bool apic_base_cpuid; /* SELFTEST_FLAG_APIC_BASE_CPUID: IA32_APIC_BASE reads 0 */
	uint32_t ap_timeout_ms;
	uint64_t lapic_timer_hz;
};

/*
 * Load an embedded test guest (boot/guests.h) with the self-test boot contract.  regs and
 * sregs come in as the BSP's current state and leave as its entry state.  Returns 0, or -1
 * with a reason in err.
 */
int selftest_load(struct guest_mem *m, const struct selftest_options *o, const uint8_t *image,
		  size_t size, struct x86_regs *regs, struct x86_sregs *sregs, char *err,
		  size_t errlen);

#endif
