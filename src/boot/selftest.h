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
 * What only the chaos guest reads (guest/chaos/), written into every test guest's boot
 * information.  The command line sets it (cli/config.c) before the VM is built; it stays
 * beside struct vm_config because nothing else in the VM uses it.
 */
struct selftest_chaos {
	bool seeded;              /* --seed given                                      */
	uint64_t seed;
	uint32_t seconds;         /* --chaos-seconds; 0: the guest's default            */
	uint32_t skip;            /* --chaos-skip: 1 << CHAOS_OP_x per kind left out     */
	uint16_t debug_exit_port; /* --debug-exit: the guest must not write there        */
};

void selftest_chaos_set(const struct selftest_chaos *c);

/*
 * Load an embedded test guest (boot/guests.h) with the self-test boot contract.  regs and
 * sregs come in as the BSP's current state and leave as its entry state.  Returns 0, or -1
 * with a reason in err.
 */
int selftest_load(struct guest_mem *m, const struct selftest_options *o, const uint8_t *image,
		  size_t size, struct x86_regs *regs, struct x86_sregs *sregs, char *err,
		  size_t errlen);

#endif
