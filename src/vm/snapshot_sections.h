/*
 * snapshot_sections.h - the VM's own snapshot sections, one definition for both sides
 * (snapshot.c writes them, restore.c reads them): the machine (the configuration the VM was
 * built from, every vCPU's CPUID) and each vCPU's frame around its accelerator state.  The
 * other sections are their owners': the accelerator's VM state, the --irqchip mode's, the
 * devices', the MP trace's.
 */
#ifndef MPVMM_VM_SNAPSHOT_SECTIONS_H
#define MPVMM_VM_SNAPSHOT_SECTIONS_H

#define MACHINE_VERSION 1u
#define VCPU_VERSION 1u

/* SNAP_SEC_MACHINE instances. */
enum machine_instance { MACHINE_CONFIG = 0, MACHINE_CPUID = 1 };

/* The configuration's flags, in MACHINE_CONFIG. */
enum config_flag {
	FLAG_STEP = 1u << 0,
	FLAG_HOLD = 1u << 1,
	FLAG_RACY = 1u << 2,
	FLAG_X2APIC = 1u << 3,
	FLAG_KERNEL = 1u << 4,
	FLAG_REBOOT_RESTART = 1u << 5,
	FLAG_SEEDED = 1u << 6,
};

struct vm;
struct snap_mem_region;
/* Guest RAM's regions as the snapshot describes them (snapshot.c); how many. */
unsigned vm_snap_regions(const struct vm *vm, struct snap_mem_region *out);

#endif
