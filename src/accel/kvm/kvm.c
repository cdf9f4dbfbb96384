/*
 * kvm.c - the KVM accelerator: opening /dev/kvm, the VM (memory, the interrupt controllers
 * it is told to keep, the BSP chosen with KVM_SET_BOOT_CPU_ID before any vCPU exists) and
 * what CPUID it can offer.  The machine half of accel.h (struct accel_vm_ops); a vCPU is
 * kvm_vcpu.c's, the controllers kvm_irqchip.c's, the clock kvm_timer.c's, snapshots
 * kvm_state.c's.  Every ioctl goes through kvm_ioctl.c, so every failure names its ioctl.
 */
#include "accel/kvm/kvm.h"
#include "accel/kvm/kvm_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm_para.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/hostfile.h"
#include "util/log.h"

static int kvm_limits(struct accel *a, uint32_t *max_vcpus, uint32_t *max_vcpu_id)
{
	struct kvm *k = kvm_of(a);
	int mv = kvm_check_cap(k, KVM_CAP_MAX_VCPUS);
	int mid = kvm_check_cap(k, KVM_CAP_MAX_VCPU_ID);

	/* api.rst: without MAX_VCPUS use NR_VCPUS (or 4); without MAX_VCPU_ID use MAX_VCPUS. */
	if (mv <= 0)
		mv = kvm_check_cap(k, KVM_CAP_NR_VCPUS);
	if (mv <= 0)
		mv = 4;
	if (mid <= 0)
		mid = mv;
	*max_vcpus = (uint32_t)mv;
	*max_vcpu_id = (uint32_t)mid;
	return 0;
}

static int set_memory(struct kvm *k, struct guest_mem *m, char *err, size_t errlen)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = i,
			.guest_phys_addr = m->regions[i].gpa,
			.memory_size = m->regions[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)m->regions[i].hva,
		};
		if (kvm_ioctl(k->vm_fd, KVM_SET_USER_MEMORY_REGION, &r, err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* With KVM's local APICs: 32-bit APIC IDs in x2APIC mode, no xAPIC-broadcast quirk
 * (api.rst 7.x, KVM_CAP_X2APIC_API). */
static int enable_x2apic_api(struct kvm *k, char *err, size_t errlen)
{
	if (!kvm_check_cap(k, KVM_CAP_X2APIC_API)) {
		snprintf(err, errlen, "x2APIC IDs need KVM_CAP_X2APIC_API, which this KVM lacks");
		return -1;
	}
	if (kvm_enable_cap(k, KVM_CAP_X2APIC_API,
			   KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK,
			   err, errlen) < 0)
		return -1;
	k->x2apic_api = true;
	return 0;
}

static int real_mode_support(struct kvm *k, char *err, size_t errlen)
{
	/* VMX without unrestricted guest emulates real mode with these (api.rst 4.48, 4.42). */
	uint64_t addr = KVM_IDENTITY_MAP_ADDR;

	if (kvm_check_cap(k, KVM_CAP_SET_IDENTITY_MAP_ADDR) &&
	    kvm_ioctl(k->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &addr, err, errlen) < 0)
		return -1;
	if (kvm_check_cap(k, KVM_CAP_SET_TSS_ADDR) &&
	    kvm_ioctl(k->vm_fd, KVM_SET_TSS_ADDR, KVM_ARG(KVM_TSS_ADDR), err, errlen) < 0)
		return -1;
	return 0;
}

static int set_boot_cpu(struct kvm *k, uint32_t id, char *err, size_t errlen)
{
	if (!kvm_check_cap(k, KVM_CAP_SET_BOOT_CPU_ID)) {
		if (id == 0)
			return 0;
		snprintf(err, errlen, "this KVM lacks KVM_CAP_SET_BOOT_CPU_ID: only vCPU 0 can be "
			 "the BSP");
		return -1;
	}
	return kvm_ioctl(k->vm_fd, KVM_SET_BOOT_CPU_ID, KVM_ARG(id), err, errlen) < 0 ? -1 : 0;
}

/*
 * The guest TSC's rate, the default for the VM's vCPUs (KVM_GET_TSC_KHZ as a VM ioctl,
 * api.rst 4.56; answered on PVM although KVM_CAP_VM_TSC_CONTROL reads 0): mpvmm's local
 * APICs time a TSC deadline with it.  0 where KVM does not say.
 */
static uint64_t vm_tsc_hz(struct kvm *k)
{
	int khz = kvm_ioctl(k->vm_fd, KVM_GET_TSC_KHZ, NULL, NULL, 0);

	return khz > 0 ? (uint64_t)khz * 1000u : 0;
}

static int kvm_create_vm(struct accel *a, const struct accel_vm_params *p, char *err,
			 size_t errlen)
{
	struct kvm *k = kvm_of(a);

	k->lapic = p->lapic;
	k->chipset = p->lapic && p->chipset;
	k->apic_msr_exits = !p->lapic && p->apic_msr_exits && k->base.caps.msr_exits;
	if (p->x2apic && !k->lapic && !k->apic_msr_exits) {
		snprintf(err, errlen, "x2APIC mode without KVM's local APICs needs MSR exits "
			 "(KVM_CAP_X86_USER_SPACE_MSR, KVM_CAP_X86_MSR_FILTER), which this KVM lacks");
		return -1;
	}
	k->vm_fd = kvm_ioctl(k->sys_fd, KVM_CREATE_VM, NULL, err, errlen);
	if (k->vm_fd < 0)
		return -1;
	if (real_mode_support(k, err, errlen) < 0 || set_memory(k, p->mem, err, errlen) < 0 ||
	    (p->x2apic && k->lapic && enable_x2apic_api(k, err, errlen) < 0) ||
	    kvm_create_irqchip(k, err, errlen) < 0)
		return -1;
	k->base.caps.tsc_hz = vm_tsc_hz(k);
	return set_boot_cpu(k, p->boot_vcpu_id, err, errlen);
}

/*
 * KVM's paravirtual features (leaf 0x40000001, EAX; Documentation/virt/kvm/x86/cpuid.rst)
 * that go through its own local APIC: without it an EOI through PV_EOI's MSR would #GP, a
 * PV_SEND_IPI or PV_UNHALT kick would reach nobody (and pass by mpvmm's APICs, which must
 * see every IPI), and async page faults could not say "ready".
 */
#define KVM_FEATURES_NEED_APIC ((1u << KVM_FEATURE_ASYNC_PF) | (1u << KVM_FEATURE_PV_EOI) | \
				(1u << KVM_FEATURE_PV_UNHALT) | (1u << KVM_FEATURE_PV_SEND_IPI) | \
				(1u << KVM_FEATURE_ASYNC_PF_INT))

/*
 * KVM_FEATURE_MSI_EXT_DEST_ID (cpuid.rst): the I/O APIC's messages may carry APIC ID bits
 * 14:8 (dev/ioapic.h), so a guest reaches more than 255 CPUs without interrupt remapping.
 * Where the I/O APIC is mpvmm's: its messages go to mpvmm's APICs, or to KVM's, which read
 * the high bits with KVM_CAP_X2APIC_API only (as QEMU does).
 */
static bool ext_dest_id(const struct kvm *k)
{
	return !k->chipset && (!k->lapic || k->x2apic_api);
}

/* KVM's paravirtual leaf as the controllers it keeps can serve it. */
static void fit_kvm_features(const struct kvm *k, struct cpuid_entry *e)
{
	if (e->function != KVM_CPUID_FEATURES)
		return;
	if (ext_dest_id(k))
		e->eax |= 1u << KVM_FEATURE_MSI_EXT_DEST_ID;
	if (!k->lapic)
		e->eax &= ~KVM_FEATURES_NEED_APIC;
}

static struct cpuid_table *table_from(const struct kvm_cpuid2 *c)
{
	struct cpuid_table *t = calloc(1, sizeof(*t) + (c->nent + CPUID_EXTRA_ENTRIES) *
					      sizeof(struct cpuid_entry));

	if (!t)
		return NULL;
	t->n = c->nent;
	for (unsigned i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];
		t->e[i] = (struct cpuid_entry){
			.function = e->function, .index = e->index,
			.flags = e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX ?
				 CPUID_FLAG_SIGNIFICANT_INDEX : 0,
			.eax = e->eax, .ebx = e->ebx, .ecx = e->ecx, .edx = e->edx,
		};
	}
	return t;
}

static struct cpuid_table *kvm_supported_cpuid(struct accel *a, char *err, size_t errlen)
{
	struct kvm *k = kvm_of(a);

	for (unsigned nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			break;
		c->nent = nent;
		if (kvm_ioctl(k->sys_fd, KVM_GET_SUPPORTED_CPUID, c, err, errlen) < 0) {
			int e = errno;
			free(c);
			if (e == E2BIG)
				continue;
			return NULL;
		}
		struct cpuid_table *t = table_from(c);
		free(c);
		if (!t)
			break;
		for (size_t i = 0; i < t->n; i++)
			fit_kvm_features(k, &t->e[i]);
		return t;
	}
	snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: out of memory");
	return NULL;
}

static void kvm_destroy(struct accel *a)
{
	struct kvm *k = kvm_of(a);

	if (!k)
		return;
	kvm_timer_stop(k);
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
	free(k->save_msrs);
	free(k);
}

static const struct accel_vm_ops kvm_vm_ops = {
	.limits = kvm_limits,
	.create_vm = kvm_create_vm,
	.supported_cpuid = kvm_supported_cpuid,
	.create_vcpu = kvm_create_vcpu,
	.destroy = kvm_destroy,
	.now_ns = kvm_now_ns,
	.set_machine = kvm_set_machine,
	.timers_changed = kvm_timers_changed,
	.irq_line = kvm_irq_line,
	.msi = kvm_msi,
	.msi_routes = kvm_msi_routes,
	.get_lapic = kvm_get_lapic,
	.save_vm = kvm_save_vm,
	.load_vm = kvm_load_vm,
};

/*
 * PVM, a KVM that runs inside a VM without VMX/SVM, emulates guest kernel code.  Asked once
 * and remembered: inside a jail (--jail) /sys is not there to ask.
 */
static bool host_emulates(void)
{
	static int emulates = -1;

	if (emulates < 0)
		emulates = access("/sys/module/kvm_pvm", F_OK) == 0;
	return emulates;
}

int accel_kvm_prepare(bool *absent, char *err, size_t errlen)
{
	*absent = false;
	host_emulates();
	if (hostfile_keep("/dev/kvm", O_RDWR) == 0)
		return 0;
	*absent = true;
	snprintf(err, errlen, "cannot open /dev/kvm: %s", strerror(errno));
	return -1;
}

/* /dev/kvm, checked: a KVM device, this API version.  *absent when this host has none. */
static int open_device(struct kvm *k, bool *absent, char *err, size_t errlen)
{
	/* The descriptor kept from before a jail, if there is one (util/hostfile.h). */
	k->sys_fd = hostfile_open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->sys_fd < 0) {
		int e = errno;
		*absent = true;
		snprintf(err, errlen, "cannot open /dev/kvm: %s (%s)", strerror(e),
			 e == ENOENT ? "this machine has no KVM; load kvm_intel or kvm_amd, or run "
				       "on a host with virtualization" :
			 e == EACCES ? "add yourself to the 'kvm' group or run as root" :
				       "check that KVM is available");
		return -1;
	}
	char why[128];
	int version = kvm_ioctl(k->sys_fd, KVM_GET_API_VERSION, NULL, why, sizeof(why));
	if (version < 0) {
		*absent = true;
		snprintf(err, errlen, "/dev/kvm is not a KVM device (%s)", why);
		return -1;
	}
	if (version != KVM_API_VERSION) {
		*absent = true;
		snprintf(err, errlen, "/dev/kvm speaks API version %d, mpvmm needs %d", version,
			 KVM_API_VERSION);
		return -1;
	}
	return 0;
}

struct accel *accel_kvm_open(bool *absent, char *err, size_t errlen)
{
	struct kvm *k = calloc(1, sizeof(*k));

	*absent = false;
	if (!k) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->vm_fd = -1;
	k->base.vm = &kvm_vm_ops;
	k->base.cpu = &kvm_cpu_ops;
	if (open_device(k, absent, err, errlen) < 0) {
		kvm_destroy(&k->base);
		return NULL;
	}
	k->base.caps = (struct accel_caps){
		.name = "kvm", .what = "KVM",
		/* KVM's APIC bus runs at 1 GHz: APIC_BUS_CYCLE_NS = 1 (arch/x86/kvm/lapic.h). */
		.lapic_timer_hz = 1000000000ull,
		.emulates = host_emulates(),
		.parallel = true, .lapic = true, .apic_base_msr = true,
		.msr_exits = kvm_check_cap(k, KVM_CAP_X86_USER_SPACE_MSR) &&
			     kvm_check_cap(k, KVM_CAP_X86_MSR_FILTER),
	};
	/* DR0-DR3 through KVM_SET_GUEST_DEBUG; PVM accepts them and never fires one. */
	if (k->base.caps.emulates) {
		k->base.caps.debug_why_not = "this KVM (PVM) accepts debug registers in "
			"KVM_SET_GUEST_DEBUG but never fires them (docs/HOST-NOTES.md)";
	} else {
		k->base.caps.debug_exec_bps = 4;
		k->base.caps.debug_watch = true;
	}
	k->run_size = kvm_ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, NULL, err, errlen);
	if (k->run_size <= 0 || !kvm_check_cap(k, KVM_CAP_IMMEDIATE_EXIT) ||
	    kvm_install_kick_handler() < 0) {
		if (k->run_size > 0)
			snprintf(err, errlen, "this KVM lacks KVM_CAP_IMMEDIATE_EXIT, or the kick "
				 "signal's handler cannot be installed: %s", strerror(errno));
		kvm_destroy(&k->base);
		return NULL;
	}
	return &k->base;
}
