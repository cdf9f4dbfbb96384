/*
 * kvm.c - the KVM accelerator: the only file that issues /dev/kvm ioctls.
 *
 * VM with an in-kernel irqchip (KVM_CREATE_IRQCHIP + KVM_CREATE_PIT2), the BSP chosen with
 * KVM_SET_BOOT_CPU_ID before any vCPU exists, one kvm_run page per vCPU.  Kicks use
 * kvm_run.immediate_exit set from a signal handler, so a kick can never be lost between the
 * check for requests and the next KVM_RUN (Documentation/virt/kvm/api.rst, KVM_RUN).
 * Every failing ioctl is reported with its name and errno.
 *
 * With `--irqchip user` there is no in-kernel irqchip: mpvmm keeps the MP state and the local
 * APICs (mp_user, apic_bus) as for the software CPU, and this file gives vcpu_user.c what it
 * needs (accel.user_mp): the `enter` hook before every KVM_RUN, interrupts through
 * KVM_INTERRUPT when run->ready_for_interrupt_injection says the guest takes one, else an
 * interrupt window (run->request_interrupt_window, KVM_EXIT_IRQ_WINDOW_OPEN), NMIs through
 * KVM_NMI (api.rst 4.25, 4.48, 5: struct kvm_run), and a thread firing the LAPIC timers on
 * host time.  The APIC's MSRs (IA32_APIC_BASE, the x2APIC range) go to mpvmm through MSR
 * exits (KVM_CAP_X86_USER_SPACE_MSR: a filter for IA32_APIC_BASE, the "invalid" reason for
 * the x2APIC MSRs, which KVM does not filter and rejects without its own APIC; api.rst
 * 7.21, 4.x KVM_X86_SET_MSR_FILTER).  Where KVM has no MSR exits, xAPIC only: x2APIC is taken
 * out of CPUID.
 *
 * With `--irqchip split` (KVM_CAP_SPLIT_IRQCHIP, api.rst 7.x) the local APICs, and so the MP
 * state, stay in the kernel; the PIC, I/O APIC and PIT are mpvmm's (dev/irqchip.h).  Their
 * messages go in with KVM_SIGNAL_MSI, the I/O APIC's pins are mirrored as the reserved MSI
 * routes (KVM_SET_GSI_ROUTING) so that the kernel reports the EOI of level-triggered
 * vectors (KVM_EXIT_IOAPIC_EOI), the 8259A's ExtINT goes to the BSP with KVM_INTERRUPT
 * (through the `enter` hook), and the timer thread fires the PIT.
 */
#include "accel/accel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/kvm_para.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "accel/kvm/kvm_internal.h"
#include "util/log.h"

_Static_assert(sizeof(struct x86_regs) == sizeof(struct kvm_regs), "x86_regs layout");
_Static_assert(sizeof(struct x86_sregs) == sizeof(struct kvm_sregs), "x86_sregs layout");
_Static_assert(sizeof(struct x86_segment) == sizeof(struct kvm_segment), "segment layout");

static __thread struct kvm_run *tls_run;

static void kick_handler(int sig)
{
	(void)sig;
	/* Async-signal-safe: one store.  KVM_RUN with immediate_exit set returns EINTR. */
	if (tls_run)
		tls_run->immediate_exit = 1;
}

static int install_kick_handler(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler; /* no SA_RESTART: KVM_RUN must see EINTR */
	sigemptyset(&sa.sa_mask);
	return sigaction(KVM_KICK_SIGNAL, &sa, NULL);
}

struct kvm *kvm_of(struct accel *a)
{
	return (struct kvm *)a;
}

int kvm_check_cap(struct kvm *k, long cap)
{
	int fd = k->vm_fd >= 0 ? k->vm_fd : k->sys_fd;
	int r = ioctl(fd, KVM_CHECK_EXTENSION, cap);

	return r < 0 ? 0 : r;
}

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
	/* --irqchip user without MSR exits: xAPIC IDs only. */
	if (k->user && !k->msr_exits && (uint32_t)mv > a->max_xapic_cpus)
		mv = (int)a->max_xapic_cpus;
	if (k->user && !k->msr_exits && (uint32_t)mid > a->max_xapic_cpus)
		mid = (int)a->max_xapic_cpus;
	*max_vcpus = (uint32_t)mv;
	*max_vcpu_id = (uint32_t)mid;
	return 0;
}

static int vm_ioctl(struct kvm *k, unsigned long req, void *arg, const char *what, char *err,
		    size_t errlen)
{
	if (ioctl(k->vm_fd, req, arg) < 0) {
		snprintf(err, errlen, "%s: %s", what, strerror(errno));
		return -1;
	}
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
		if (vm_ioctl(k, KVM_SET_USER_MEMORY_REGION, &r, "KVM_SET_USER_MEMORY_REGION", err,
			     errlen) < 0)
			return -1;
	}
	return 0;
}

static int enable_x2apic_api(struct kvm *k, char *err, size_t errlen)
{
	/* 32-bit APIC IDs in x2APIC mode, and no xAPIC-broadcast quirk (api.rst 7.x). */
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X2APIC_API,
		.args[0] = KVM_X2APIC_API_USE_32BIT_IDS | KVM_X2APIC_API_DISABLE_BROADCAST_QUIRK,
	};

	if (!kvm_check_cap(k, KVM_CAP_X2APIC_API)) {
		snprintf(err, errlen, "x2APIC IDs need KVM_CAP_X2APIC_API, which this KVM lacks");
		return -1;
	}
	if (vm_ioctl(k, KVM_ENABLE_CAP, &cap, "KVM_ENABLE_CAP(KVM_CAP_X2APIC_API)", err, errlen) < 0)
		return -1;
	k->x2apic_api = true;
	return 0;
}

/*
 * --irqchip user: the local APIC's MSRs to mpvmm.  IA32_APIC_BASE and IA32_TSC_DEADLINE
 * through a filter (KVM keeps the first even without an APIC and ignores the second); the
 * x2APIC MSRs cannot be filtered, but KVM without an APIC rejects them, and the "invalid"
 * reason makes that an exit too (api.rst 7.21).  Any other MSR KVM rejects then comes out as
 * well; mpvmm answers #GP(0), as KVM would have.
 */
static int user_msr_exits(struct kvm *k, char *err, size_t errlen)
{
	static uint8_t deny[1]; /* one MSR per range, its bit clear: denied, so it exits */
	static const uint32_t denied[] = { 0x1b /* IA32_APIC_BASE */, 0x6e0 /* TSC_DEADLINE */ };
	struct kvm_enable_cap cap = {
		.cap = KVM_CAP_X86_USER_SPACE_MSR,
		.args[0] = KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_FILTER,
	};
	struct kvm_msr_filter f = { .flags = KVM_MSR_FILTER_DEFAULT_ALLOW };

	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		f.ranges[i] = (struct kvm_msr_filter_range){
			.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, .nmsrs = 1,
			.base = denied[i], .bitmap = deny,
		};
	if (vm_ioctl(k, KVM_ENABLE_CAP, &cap, "KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR)", err,
		     errlen) < 0)
		return -1;
	return vm_ioctl(k, KVM_X86_SET_MSR_FILTER, &f, "KVM_X86_SET_MSR_FILTER", err, errlen);
}

static int real_mode_support(struct kvm *k, char *err, size_t errlen)
{
	/* VMX without unrestricted guest emulates real mode with these (api.rst 4.48, 4.42). */
	if (kvm_check_cap(k, KVM_CAP_SET_IDENTITY_MAP_ADDR)) {
		uint64_t addr = KVM_IDENTITY_MAP_ADDR;
		if (vm_ioctl(k, KVM_SET_IDENTITY_MAP_ADDR, &addr, "KVM_SET_IDENTITY_MAP_ADDR", err,
			     errlen) < 0)
			return -1;
	}
	if (kvm_check_cap(k, KVM_CAP_SET_TSS_ADDR) &&
	    ioctl(k->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0) {
		snprintf(err, errlen, "KVM_SET_TSS_ADDR: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * The in-kernel irqchip's GSI routing, as QEMU sets it (api.rst 4.52 KVM_SET_GSI_ROUTING):
 * GSI n < 16 on 8259A input n but the cascade (2), GSI n < 24 on I/O APIC pin n, and GSI 0
 * (the PIT, ISA IRQ 0) on pin 2, as the MADT's interrupt source override and the MP table
 * say (x86/acpi.c, x86/mptable.c).  KVM's default routing has GSI 0 on pin 0.
 */
static int kernel_routes(struct kvm *k, char *err, size_t errlen)
{
	struct {
		struct kvm_irq_routing r;
		struct kvm_irq_routing_entry e[16 + KVM_SPLIT_IOAPIC_PINS];
	} t;
	unsigned n = 0;

	memset(&t, 0, sizeof(t));
	for (unsigned gsi = 0; gsi < 16; gsi++) {
		if (gsi == 2)
			continue;
		t.e[n].gsi = gsi;
		t.e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		t.e[n].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
		t.e[n++].u.irqchip.pin = gsi % 8;
	}
	for (unsigned gsi = 0; gsi < KVM_SPLIT_IOAPIC_PINS; gsi++) {
		if (gsi == 2)
			continue;
		t.e[n].gsi = gsi;
		t.e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		t.e[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		t.e[n++].u.irqchip.pin = gsi == 0 ? 2 : gsi;
	}
	t.r.nr = n;
	return vm_ioctl(k, KVM_SET_GSI_ROUTING, &t, "KVM_SET_GSI_ROUTING", err, errlen);
}

static int kvm_create_vm(struct accel *a, const struct accel_vm_params *p, char *err,
			 size_t errlen)
{
	struct kvm *k = kvm_of(a);

	k->vm_fd = ioctl(k->sys_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		return -1;
	}
	if (!k->user && (!kvm_check_cap(k, KVM_CAP_IRQCHIP) || !kvm_check_cap(k, KVM_CAP_MP_STATE))) {
		snprintf(err, errlen, "this KVM lacks KVM_CAP_IRQCHIP or KVM_CAP_MP_STATE");
		return -1;
	}
	if (k->split && !kvm_check_cap(k, KVM_CAP_SPLIT_IRQCHIP)) {
		snprintf(err, errlen, "--irqchip split: this KVM lacks KVM_CAP_SPLIT_IRQCHIP");
		return -1;
	}
	if (real_mode_support(k, err, errlen) < 0 || set_memory(k, p->mem, err, errlen) < 0)
		return -1;
	if (k->user && k->msr_exits && user_msr_exits(k, err, errlen) < 0)
		return -1;
	/* --irqchip user: mpvmm's APICs time a TSC deadline with the guest TSC's rate, the
	 * default for the VM's vCPUs (KVM_GET_TSC_KHZ as a VM ioctl, api.rst 4.56, with
	 * KVM_CAP_VM_TSC_CONTROL's kernels); without it, or without MSR exits to see the
	 * deadline, there is no TSC-deadline mode. */
	int khz = k->user && k->msr_exits ? ioctl(k->vm_fd, KVM_GET_TSC_KHZ, 0) : 0;
	k->base.tsc_hz = khz > 0 ? (uint64_t)khz * 1000u : 0;
	if (p->x2apic && k->user && !k->msr_exits) {
		snprintf(err, errlen, "--irqchip user: this KVM has no MSR exits "
			 "(KVM_CAP_X86_USER_SPACE_MSR, KVM_CAP_X86_MSR_FILTER): xAPIC only");
		return -1;
	}
	if (p->x2apic && !k->user && enable_x2apic_api(k, err, errlen) < 0)
		return -1;
	/* --irqchip split: local APICs only, the first routes kept for mpvmm's I/O APIC.  The
	 * kernel's PIT needs its PIC (KVM_CREATE_PIT2 fails with ENOENT then, seen on PVM). */
	struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP,
					.args[0] = KVM_SPLIT_IOAPIC_PINS };
	if (k->split && vm_ioctl(k, KVM_ENABLE_CAP, &split, "KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP)",
				 err, errlen) < 0)
		return -1;
	/* --irqchip user: the local APICs are mpvmm's; there is no PIC, IOAPIC or PIT. */
	bool kernel = !k->user && !k->split;
	if (kernel && (vm_ioctl(k, KVM_CREATE_IRQCHIP, NULL, "KVM_CREATE_IRQCHIP", err,
				errlen) < 0 || kernel_routes(k, err, errlen) < 0))
		return -1;
	struct kvm_pit_config pit = { .flags = 0 };
	if (kernel && vm_ioctl(k, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2", err, errlen) < 0)
		return -1;
	if (!kvm_check_cap(k, KVM_CAP_SET_BOOT_CPU_ID)) {
		if (p->boot_vcpu_id != 0) {
			snprintf(err, errlen, "this KVM lacks KVM_CAP_SET_BOOT_CPU_ID: only vCPU 0 "
				 "can be the BSP");
			return -1;
		}
		return 0;
	}
	if (ioctl(k->vm_fd, KVM_SET_BOOT_CPU_ID, (unsigned long)p->boot_vcpu_id) < 0) {
		snprintf(err, errlen, "KVM_SET_BOOT_CPU_ID(%u): %s", p->boot_vcpu_id,
			 strerror(errno));
		return -1;
	}
	return 0;
}

static int kvm_irq_line(struct accel *a, unsigned gsi, bool level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };

	if (kvm_of(a)->user || kvm_of(a)->split) {
		errno = ENOTSUP; /* no in-kernel PIC or I/O APIC: the VM drives mpvmm's */
		return -1;
	}

	if (ioctl(kvm_of(a)->vm_fd, KVM_IRQ_LINE, &irq) < 0) {
		int e = errno;
		log_error("KVM_IRQ_LINE(%u, %d): %s", gsi, level, strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

/* KVM_SIGNAL_MSI (api.rst 4.71): with KVM_CAP_X2APIC_API, address_hi holds ID bits 31:8. */
static int kvm_msi(struct accel *a, const struct accel_msi *m)
{
	struct kvm_msi msi = { .address_lo = (uint32_t)m->address,
			       .address_hi = (uint32_t)(m->address >> 32), .data = m->data };

	if (kvm_of(a)->user) {
		errno = ENOTSUP; /* the VM delivers through its APIC bus (apic_bus_msi) instead */
		return -1;
	}
	if (ioctl(kvm_of(a)->vm_fd, KVM_SIGNAL_MSI, &msi) < 0) {
		int e = errno;
		log_error("KVM_SIGNAL_MSI(address %#llx, data %#x): %s",
			  (unsigned long long)m->address, m->data, strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

/*
 * --irqchip split: the I/O APIC's pins as the MSI routes KVM reserved for them (GSI 0..n-1).
 * KVM scans them for level-triggered vectors aimed at each local APIC and reports their EOI
 * with KVM_EXIT_IOAPIC_EOI (api.rst 7.x, KVM_CAP_SPLIT_IRQCHIP; 4.52 KVM_SET_GSI_ROUTING).
 */
static int kvm_msi_routes(struct accel *a, const struct accel_msi *m, unsigned n)
{
	struct kvm *k = kvm_of(a);

	if (!k->split || n > KVM_SPLIT_IOAPIC_PINS) {
		errno = ENOTSUP;
		return -1;
	}
	struct {
		struct kvm_irq_routing r;
		struct kvm_irq_routing_entry e[KVM_SPLIT_IOAPIC_PINS];
	} t;
	memset(&t, 0, sizeof(t));
	t.r.nr = n;
	for (unsigned i = 0; i < n; i++) {
		t.e[i].gsi = i;
		t.e[i].type = KVM_IRQ_ROUTING_MSI;
		t.e[i].u.msi.address_lo = (uint32_t)m[i].address;
		t.e[i].u.msi.address_hi = (uint32_t)(m[i].address >> 32);
		t.e[i].u.msi.data = m[i].data;
	}
	if (ioctl(k->vm_fd, KVM_SET_GSI_ROUTING, &t) < 0) {
		int e = errno;
		log_error("KVM_SET_GSI_ROUTING(%u I/O APIC routes): %s", n, strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

/*
 * An MSI is a message on the APIC bus like an IPI, and its delivery-mode field takes INIT
 * and StartUp as the ICR's does (Intel SDM Vol. 3A, 10.11.1-10.11.2: address bits 19:12
 * destination ID, data bits 10:8 delivery mode, 7:0 vector).  KVM_SIGNAL_MSI therefore
 * makes the in-kernel local APIC latch a real INIT (the vCPU is reset) or SIPI.  With
 * KVM_CAP_X2APIC_API's 32-bit IDs, bits 31:8 of the ID go in address_hi (api.rst).
 */
static int kvm_send_ipi(struct accel *a, uint32_t dest, enum accel_ipi kind, uint8_t vector)
{
	static const uint32_t mode[] = { [ACCEL_IPI_FIXED] = 0, [ACCEL_IPI_INIT] = 5,
					 [ACCEL_IPI_STARTUP] = 6 };
	const struct accel_msi m = {
		.address = 0xfee00000u | ((dest & 0xffu) << 12) |
			   ((uint64_t)(dest & 0xffffff00u) << 32),
		.data = (mode[kind] << 8) | (kind == ACCEL_IPI_INIT ? 0 : vector) | (1u << 14),
	};

	return kvm_msi(a, &m);
}

/*
 * KVM's paravirtual features (leaf 0x40000001, EAX; Documentation/virt/kvm/x86/cpuid.rst)
 * that go through its own local APIC: with --irqchip user there is none, so an EOI through
 * PV_EOI's MSR would #GP, a PV_SEND_IPI or PV_UNHALT kick would reach nobody (and pass by
 * mpvmm's APICs, which must see every IPI), and async page faults could not say "ready".
 */
#define KVM_FEATURES_NEED_APIC ((1u << KVM_FEATURE_ASYNC_PF) | (1u << KVM_FEATURE_PV_EOI) | \
				(1u << KVM_FEATURE_PV_UNHALT) | (1u << KVM_FEATURE_PV_SEND_IPI) | \
				(1u << KVM_FEATURE_ASYNC_PF_INT))

/*
 * KVM_FEATURE_MSI_EXT_DEST_ID (cpuid.rst): the I/O APIC's messages may carry APIC ID bits
 * 14:8 (dev/ioapic.h), so a guest reaches more than 255 CPUs without interrupt remapping.
 * Where the I/O APIC is mpvmm's: with --irqchip user its messages go to mpvmm's APICs, with
 * split to KVM's, which read the high bits with KVM_CAP_X2APIC_API only (as QEMU does).
 */
static bool ext_dest_id(const struct kvm *k)
{
	return k->user || (k->split && k->x2apic_api);
}

/* What KVM offers, less what mpvmm's interrupt controllers cannot give, plus what they can. */
static void fit_to_irqchip(const struct kvm *k, struct cpuid_entry *e)
{
	if (e->function == KVM_CPUID_FEATURES) {
		if (ext_dest_id(k))
			e->eax |= 1u << KVM_FEATURE_MSI_EXT_DEST_ID;
		if (k->user)
			e->eax &= ~KVM_FEATURES_NEED_APIC;
	}
	if (e->function != 1 || !k->user)
		return;
	/* --irqchip user: without MSR exits xAPIC only: clear CPUID.01H:ECX.x2APIC[bit 21]
	 * (SDM Vol. 3A, 10.12.1).  KVM without its APIC ignores IA32_TSC_DEADLINE: mpvmm's
	 * APICs have the mode where they see the MSR and know the TSC's rate, otherwise ECX
	 * bit 24 is cleared (10.5.4.1). */
	if (!k->msr_exits)
		e->ecx &= ~(1u << 21);
	if (!k->base.tsc_hz)
		e->ecx &= ~(1u << 24);
}

static struct cpuid_table *kvm_supported_cpuid(struct accel *a, char *err, size_t errlen)
{
	struct kvm *k = kvm_of(a);

	for (unsigned nent = 64; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			break;
		c->nent = nent;
		if (ioctl(k->sys_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
			int e = errno;
			free(c);
			if (e == E2BIG)
				continue;
			snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
			return NULL;
		}
		struct cpuid_table *t = calloc(1, sizeof(*t) + (c->nent + CPUID_EXTRA_ENTRIES) *
						      sizeof(struct cpuid_entry));
		if (!t) {
			free(c);
			break;
		}
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
		free(c);
		for (size_t i = 0; i < t->n; i++)
			fit_to_irqchip(k, &t->e[i]);
		return t;
	}
	snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: out of memory");
	return NULL;
}

static int kvm_create_vcpu(struct accel *a, uint32_t id, struct accel_vcpu **out, char *err,
			   size_t errlen)
{
	struct kvm *k = kvm_of(a);
	struct accel_vcpu *v = calloc(1, sizeof(*v));

	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	v->kvm = k;
	v->id = id;
	v->fd = ioctl(k->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VCPU(%u): %s", id, strerror(errno));
		free(v);
		return -1;
	}
	v->run = mmap(NULL, (size_t)k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		snprintf(err, errlen, "mmap of vCPU %u's kvm_run: %s", id, strerror(errno));
		close(v->fd);
		free(v);
		return -1;
	}
	*out = v;
	return 0;
}

static void kvm_destroy_vcpu(struct accel_vcpu *v)
{
	if (!v)
		return;
	munmap(v->run, (size_t)v->kvm->run_size);
	close(v->fd);
	free(v);
}

static void timer_stop(struct kvm *k);

static void kvm_destroy(struct accel *a)
{
	struct kvm *k = kvm_of(a);

	if (!k)
		return;
	timer_stop(k);
	if (k->vm_fd >= 0)
		close(k->vm_fd);
	if (k->sys_fd >= 0)
		close(k->sys_fd);
	free(k->save_msrs);
	free(k);
}

static int kvm_thread_init(struct accel_vcpu *v)
{
	sigset_t set;

	tls_run = v->run;
	v->thread = pthread_self();
	atomic_store_explicit(&v->bound, true, memory_order_release);
	sigemptyset(&set);
	sigaddset(&set, KVM_KICK_SIGNAL);
	return pthread_sigmask(SIG_UNBLOCK, &set, NULL) ? -1 : 0;
}

static void kvm_kick(struct accel_vcpu *v)
{
	/* Not yet bound: the thread has not entered its loop, where it looks for requests. */
	if (atomic_load_explicit(&v->bound, memory_order_acquire))
		pthread_kill(v->thread, KVM_KICK_SIGNAL);
}

int kvm_vcpu_ioctl(struct accel_vcpu *v, unsigned long req, void *arg, const char *what)
{
	if (ioctl(v->fd, req, arg) < 0) {
		int e = errno;
		log_error("vCPU %u: %s: %s", v->id, what, strerror(e));
		errno = e;
		return -1;
	}
	return 0;
}

static int kvm_set_cpuid(struct accel_vcpu *v, const struct cpuid_table *t)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + t->n * sizeof(c->entries[0]));

	if (!c)
		return -1;
	c->nent = (uint32_t)t->n;
	for (size_t i = 0; i < t->n; i++) {
		const struct cpuid_entry *e = &t->e[i];
		c->entries[i] = (struct kvm_cpuid_entry2){
			.function = e->function, .index = e->index,
			.flags = e->flags & CPUID_FLAG_SIGNIFICANT_INDEX ?
				 KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0,
			.eax = e->eax, .ebx = e->ebx, .ecx = e->ecx, .edx = e->edx,
		};
	}
	int r = kvm_vcpu_ioctl(v, KVM_SET_CPUID2, c, "KVM_SET_CPUID2");
	free(c);
	return r;
}

static int kvm_get_regs(struct accel_vcpu *v, struct x86_regs *r)
{
	return kvm_vcpu_ioctl(v, KVM_GET_REGS, r, "KVM_GET_REGS");
}

static int kvm_set_regs(struct accel_vcpu *v, const struct x86_regs *r)
{
	if (kvm_vcpu_ioctl(v, KVM_SET_REGS, (void *)r, "KVM_SET_REGS") < 0)
		return -1;
	/* run->if_flag is KVM's copy from the last exit; a new RFLAGS (a start) replaces it
	 * until the next exit, so that no interrupt is injected with IF = 0. */
	if (v->kvm->user && !(r->rflags & X86_RFLAGS_IF))
		v->run->if_flag = 0;
	return 0;
}

static int kvm_get_sregs(struct accel_vcpu *v, struct x86_sregs *s)
{
	return kvm_vcpu_ioctl(v, KVM_GET_SREGS, s, "KVM_GET_SREGS");
}

/*
 * --irqchip user: KVM keeps IA32_APIC_BASE in the vCPU even without a local APIC, and
 * KVM_SET_SREGS writes it.  mp_user's start state leaves apic_base 0 ("the APIC model's"):
 * keep the vCPU's own value then, BSP flag included (SDM Vol. 3A, 10.4.4: INIT leaves it).
 */
static int kvm_set_sregs(struct accel_vcpu *v, const struct x86_sregs *s)
{
	struct x86_sregs cur;

	if (v->kvm->user && s->apic_base == 0) {
		if (kvm_get_sregs(v, &cur) < 0)
			return -1;
		struct x86_sregs with = *s;
		with.apic_base = cur.apic_base;
		return kvm_vcpu_ioctl(v, KVM_SET_SREGS, &with, "KVM_SET_SREGS");
	}
	return kvm_vcpu_ioctl(v, KVM_SET_SREGS, (void *)s, "KVM_SET_SREGS");
}

static const struct { uint32_t kvm; enum mp_state mp; } mp_map[] = {
	{ KVM_MP_STATE_UNINITIALIZED, MP_STATE_UNINITIALIZED },
	{ KVM_MP_STATE_INIT_RECEIVED, MP_STATE_INIT_RECEIVED },
	{ KVM_MP_STATE_SIPI_RECEIVED, MP_STATE_SIPI_RECEIVED },
	{ KVM_MP_STATE_RUNNABLE, MP_STATE_RUNNABLE },
	{ KVM_MP_STATE_HALTED, MP_STATE_HALTED },
};

static int kvm_get_mp_state(struct accel_vcpu *v, enum mp_state *s)
{
	struct kvm_mp_state st;

	if (kvm_vcpu_ioctl(v, KVM_GET_MP_STATE, &st, "KVM_GET_MP_STATE") < 0)
		return -1;
	for (size_t i = 0; i < sizeof(mp_map) / sizeof(mp_map[0]); i++) {
		if (mp_map[i].kvm == st.mp_state) {
			*s = mp_map[i].mp;
			return 0;
		}
	}
	log_error("vCPU %u: KVM_GET_MP_STATE returned unknown state %u", v->id, st.mp_state);
	errno = EPROTO;
	return -1;
}

static int kvm_set_mp_state(struct accel_vcpu *v, enum mp_state s)
{
	for (size_t i = 0; i < sizeof(mp_map) / sizeof(mp_map[0]); i++) {
		if (mp_map[i].mp == s) {
			struct kvm_mp_state st = { .mp_state = mp_map[i].kvm };
			return kvm_vcpu_ioctl(v, KVM_SET_MP_STATE, &st, "KVM_SET_MP_STATE");
		}
	}
	errno = EINVAL;
	return -1;
}

static int kvm_inject(struct accel_vcpu *v, uint8_t vector, bool soft_int)
{
	struct kvm_vcpu_events ev;

	if (kvm_vcpu_ioctl(v, KVM_GET_VCPU_EVENTS, &ev, "KVM_GET_VCPU_EVENTS") < 0)
		return -1;
	if (soft_int) {
		ev.interrupt.injected = 1;
		ev.interrupt.nr = vector;
		ev.interrupt.soft = 1;
	} else {
		ev.exception.injected = 1;
		ev.exception.nr = vector;
		ev.exception.has_error_code = 0;
	}
	ev.flags = 0; /* leave NMI-pending, SIPI vector and shadow state alone */
	return kvm_vcpu_ioctl(v, KVM_SET_VCPU_EVENTS, &ev, "KVM_SET_VCPU_EVENTS");
}

static int kvm_inject_error(struct accel_vcpu *v, uint8_t vector, uint32_t error_code)
{
	struct kvm_vcpu_events ev;

	if (kvm_vcpu_ioctl(v, KVM_GET_VCPU_EVENTS, &ev, "KVM_GET_VCPU_EVENTS") < 0)
		return -1;
	ev.exception.injected = 1;
	ev.exception.nr = vector;
	ev.exception.has_error_code = 1;
	ev.exception.error_code = error_code;
	ev.flags = 0;
	return kvm_vcpu_ioctl(v, KVM_SET_VCPU_EVENTS, &ev, "KVM_SET_VCPU_EVENTS");
}

/* KVM_GET_TSC_KHZ returns the frequency as the ioctl's value (KVM_CAP_GET_TSC_KHZ). */
static uint32_t kvm_tsc_khz(struct accel_vcpu *v)
{
	int khz = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);

	return khz > 0 ? (uint32_t)khz : 0;
}

static int kvm_get_events(struct accel_vcpu *v, struct accel_events *e)
{
	struct kvm_vcpu_events ev;

	if (kvm_vcpu_ioctl(v, KVM_GET_VCPU_EVENTS, &ev, "KVM_GET_VCPU_EVENTS") < 0)
		return -1;
	*e = (struct accel_events){
		.irq_injected = ev.interrupt.injected, .irq_vector = ev.interrupt.nr,
		.irq_shadow = ev.interrupt.shadow != 0,
		.nmi_injected = ev.nmi.injected, .nmi_pending = ev.nmi.pending,
		.nmi_masked = ev.nmi.masked,
		.exc_injected = ev.exception.injected, .exc_vector = ev.exception.nr,
	};
	return 0;
}

/* KVM_GET_LAPIC: the APIC page's first KiB as the in-kernel APIC keeps it (x2APIC mode too,
 * with KVM_CAP_X2APIC_API's 32-bit IDs left as they are). */
static int kvm_get_lapic(struct accel_vcpu *v, struct accel_lapic *l)
{
	struct kvm_lapic_state st;

	if (v->kvm->user) {
		errno = ENODEV;
		return -1;
	}
	if (kvm_vcpu_ioctl(v, KVM_GET_LAPIC, &st, "KVM_GET_LAPIC") < 0)
		return -1;
	for (unsigned i = 0; i < ACCEL_LAPIC_REGS; i++)
		memcpy(&l->reg[i], st.regs + i * 16, sizeof(l->reg[i]));
	return 0;
}

/*
 * The x87/SSE state through KVM_GET/SET_XSAVE, whose first 512 bytes are the FXSAVE image
 * (Intel SDM Vol. 1, 10.5.1, Table 10-2: FCW at 0, FSW at 2, abridged FTW at 4, MXCSR at
 * 24).  Not KVM_GET/SET_FPU: on a PVM host it reads MXCSR as 0 and sets none.
 */
#define FXSAVE_FCW 0
#define FXSAVE_FSW 2
#define FXSAVE_FTW 4
#define FXSAVE_MXCSR 24
#define XSAVE_HEADER 512 /* XSTATE_BV, the components the image holds */
#define XSTATE_X87 (1ull << 0)
#define XSTATE_SSE (1ull << 1)

static int kvm_get_fpu(struct accel_vcpu *v, struct x86_fpu *f)
{
	struct kvm_xsave x;
	const uint8_t *b = (const uint8_t *)x.region;

	if (kvm_vcpu_ioctl(v, KVM_GET_XSAVE, &x, "KVM_GET_XSAVE") < 0)
		return -1;
	memcpy(&f->fcw, b + FXSAVE_FCW, 2);
	memcpy(&f->fsw, b + FXSAVE_FSW, 2);
	f->ftw = b[FXSAVE_FTW];
	memcpy(&f->mxcsr, b + FXSAVE_MXCSR, 4);
	return 0;
}

static int kvm_set_fpu(struct accel_vcpu *v, const struct x86_fpu *f)
{
	struct kvm_xsave x;
	uint8_t *b = (uint8_t *)x.region;

	if (kvm_vcpu_ioctl(v, KVM_GET_XSAVE, &x, "KVM_GET_XSAVE") < 0)
		return -1;
	memcpy(b + FXSAVE_FCW, &f->fcw, 2);
	memcpy(b + FXSAVE_FSW, &f->fsw, 2);
	b[FXSAVE_FTW] = f->ftw;
	memcpy(b + FXSAVE_MXCSR, &f->mxcsr, 4);
	/* Components in their init state are not loaded from the image: mark x87 and SSE
	 * present in XSTATE_BV (SDM Vol. 1, 13.4.2), whose other bits stay as read. */
	uint64_t bv;
	memcpy(&bv, b + XSAVE_HEADER, 8);
	bv |= XSTATE_X87 | XSTATE_SSE;
	memcpy(b + XSAVE_HEADER, &bv, 8);
	return kvm_vcpu_ioctl(v, KVM_SET_XSAVE, &x, "KVM_SET_XSAVE");
}

static int kvm_translate(struct accel_vcpu *v, uint64_t gva, uint64_t *gpa)
{
	struct kvm_translation t = { .linear_address = gva };

	if (kvm_vcpu_ioctl(v, KVM_TRANSLATE, &t, "KVM_TRANSLATE") < 0)
		return -1;
	if (!t.valid) {
		errno = EFAULT;
		return -1;
	}
	*gpa = t.physical_address;
	return 0;
}

static void fill_exit(struct accel_vcpu *v, struct accel_exit *e)
{
	struct kvm_run *r = v->run;

	memset(e, 0, sizeof(*e));
	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		e->kind = ACCEL_EXIT_IO;
		e->io.port = r->io.port;
		e->io.size = r->io.size;
		e->io.out = r->io.direction == KVM_EXIT_IO_OUT;
		e->io.count = r->io.count;
		e->io.data = (uint8_t *)r + r->io.data_offset;
		break;
	case KVM_EXIT_MMIO:
		e->kind = ACCEL_EXIT_MMIO;
		e->mmio.addr = r->mmio.phys_addr;
		e->mmio.len = r->mmio.len;
		e->mmio.write = r->mmio.is_write;
		e->mmio.data = r->mmio.data;
		break;
	case KVM_EXIT_HLT:
		e->kind = ACCEL_EXIT_HLT;
		break;
	case KVM_EXIT_SHUTDOWN:
		e->kind = ACCEL_EXIT_SHUTDOWN;
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		e->kind = ACCEL_EXIT_SYSTEM_EVENT;
		e->system_event.type = r->system_event.type;
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		e->kind = ACCEL_EXIT_INTERNAL;
		e->internal.suberror = r->internal.suberror;
		e->internal.ndata = r->internal.ndata;
		if (e->internal.ndata > ACCEL_INTERNAL_MAX_DATA)
			e->internal.ndata = ACCEL_INTERNAL_MAX_DATA;
		memcpy(e->internal.data, r->internal.data, e->internal.ndata * sizeof(uint64_t));
		break;
	case KVM_EXIT_FAIL_ENTRY:
		e->kind = ACCEL_EXIT_FAIL_ENTRY;
		e->other.reason = r->exit_reason;
		e->other.detail = r->fail_entry.hardware_entry_failure_reason;
		break;
	case KVM_EXIT_INTR:
		e->kind = ACCEL_EXIT_INTERRUPTED;
		break;
	case KVM_EXIT_IOAPIC_EOI:
		e->kind = ACCEL_EXIT_EOI;
		e->eoi.vector = r->eoi.vector;
		break;
	case KVM_EXIT_X86_RDMSR:
	case KVM_EXIT_X86_WRMSR:
		/* Completed by the handler in kvm_run's page before the next KVM_RUN. */
		e->kind = r->exit_reason == KVM_EXIT_X86_RDMSR ? ACCEL_EXIT_RDMSR : ACCEL_EXIT_WRMSR;
		e->msr.index = r->msr.index;
		e->msr.data = (uint64_t *)&r->msr.data; /* __u64: same 64-bit object */
		e->msr.error = &r->msr.error;
		break;
	default:
		e->kind = ACCEL_EXIT_OTHER;
		e->other.reason = r->exit_reason;
		break;
	}
}

static void timer_look(struct kvm *k);

/*
 * --irqchip user (and the BSP with --irqchip split), before each KVM_RUN: no interrupt window
 * unless `enter` asks again; a LAPIC access just handled may have armed a timer; then the
 * `enter` hook (vcpu_user.c: a start, injection; vcpu.c: the 8259A's ExtINT).
 */
static bool hooked_enter(struct accel_vcpu *v)
{
	v->run->request_interrupt_window = 0;
	if (v->after_mmio && v->kvm->user) {
		v->after_mmio = false;
		timer_look(v->kvm);
	}
	return !v->hooks.enter || v->hooks.enter(v->hooks.ctx);
}

static int kvm_run(struct accel_vcpu *v, struct accel_exit *e)
{
	bool hooked = v->kvm->user || v->hooks.enter;

	for (;;) {
		if (hooked && !hooked_enter(v)) {
			memset(e, 0, sizeof(*e));
			e->kind = ACCEL_EXIT_INTERRUPTED;
			return 0;
		}
		if (ioctl(v->fd, KVM_RUN, 0) == 0) {
			/* The window `enter` asked for: enter again, which injects (api.rst 5). */
			if (hooked && v->run->exit_reason == KVM_EXIT_IRQ_WINDOW_OPEN)
				continue;
			fill_exit(v, e);
			v->after_mmio = e->kind == ACCEL_EXIT_MMIO || e->kind == ACCEL_EXIT_WRMSR;
			return 0;
		}
		if (errno == EINTR) {
			/* Clear before the caller looks for requests, so a kick that arrives
			 * after this point makes the next KVM_RUN return at once. */
			v->run->immediate_exit = 0;
			memset(e, 0, sizeof(*e));
			e->kind = ACCEL_EXIT_INTERRUPTED;
			return 0;
		}
		/* Seen on PVM: an AP woken from UNINITIALIZED returns EAGAIN; run again. */
		if (errno == EAGAIN)
			continue;
		int err = errno;
		log_error("vCPU %u: KVM_RUN: %s", v->id, strerror(err));
		errno = err;
		return -1;
	}
}

/* ---- --irqchip user ----------------------------------------------------------------------- */

static uint64_t host_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t kvm_now_ns(struct accel *a)
{
	(void)a;
	return host_now_ns(); /* the LAPIC timers run on host time */
}

/*
 * The LAPIC timers' thread: fire what is due (apic_bus, which kicks the vCPUs it wakes), then
 * sleep until the next deadline, or until a vCPU says a deadline may have moved (timer_look),
 * or at most KVM_TIMER_MAX_SLEEP_NS.  The machine's locks are taken without timer_lock held.
 */
static void *timer_thread(void *arg)
{
	struct kvm *k = arg;

	pthread_mutex_lock(&k->timer_lock);
	while (!k->timer_stop) {
		k->timer_look = false;
		pthread_mutex_unlock(&k->timer_lock);
		uint64_t now = host_now_ns();
		k->m.advance(k->m.ctx, now);
		uint64_t t = k->m.next_event(k->m.ctx);
		if (t == ACCEL_NO_EVENT || t > now + KVM_TIMER_MAX_SLEEP_NS)
			t = now + KVM_TIMER_MAX_SLEEP_NS;
		struct timespec until = { .tv_sec = (time_t)(t / 1000000000ull),
					  .tv_nsec = (long)(t % 1000000000ull) };
		pthread_mutex_lock(&k->timer_lock);
		while (!k->timer_stop && !k->timer_look && host_now_ns() < t)
			if (pthread_cond_timedwait(&k->timer_cond, &k->timer_lock, &until) == ETIMEDOUT)
				break;
	}
	pthread_mutex_unlock(&k->timer_lock);
	return NULL;
}

static void timer_look(struct kvm *k)
{
	if (!k->timer_started)
		return;
	pthread_mutex_lock(&k->timer_lock);
	k->timer_look = true;
	pthread_cond_signal(&k->timer_cond);
	pthread_mutex_unlock(&k->timer_lock);
}

static void timer_stop(struct kvm *k)
{
	if (!k->timer_started)
		return;
	pthread_mutex_lock(&k->timer_lock);
	k->timer_stop = true;
	pthread_cond_signal(&k->timer_cond);
	pthread_mutex_unlock(&k->timer_lock);
	pthread_join(k->timer, NULL);
	k->timer_started = false;
	pthread_cond_destroy(&k->timer_cond);
	pthread_mutex_destroy(&k->timer_lock);
}

static void kvm_timers_changed(struct accel *a)
{
	timer_look(kvm_of(a));
}

/* VM scope, before the vCPU threads: the machine, and the thread for its timers. */
static void kvm_set_machine(struct accel *a, const struct accel_machine *m)
{
	struct kvm *k = kvm_of(a);
	pthread_condattr_t ca;
	sigset_t all, old;

	k->m = *m;
	pthread_mutex_init(&k->timer_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&k->timer_cond, &ca);
	pthread_condattr_destroy(&ca);
	/* The timer thread takes no signal: SIGINT/SIGTERM and kicks are for other threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&k->timer, NULL, timer_thread, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		log_error("cannot start the LAPIC timer thread: %s", strerror(r));
		pthread_cond_destroy(&k->timer_cond);
		pthread_mutex_destroy(&k->timer_lock);
		return;
	}
	k->timer_started = true;
}

static int kvm_set_hooks(struct accel_vcpu *v, const struct accel_vcpu_hooks *h)
{
	v->hooks = *h;
	return 0;
}

/*
 * Whether an external interrupt can be injected now: KVM says so at every exit in
 * run->ready_for_interrupt_injection (no interrupt shadow, nothing queued) and run->if_flag
 * (api.rst 5, "struct kvm_run"; SDM Vol. 3A, 6.8.1 and Vol. 2B STI).  With --irqchip split
 * the kernel also requires LINT0 to take an ExtINT and no ExtINT already queued.  If not and
 * `request`, the next KVM_RUN returns with KVM_EXIT_IRQ_WINDOW_OPEN as soon as it opens.
 */
static bool kvm_interrupt_window(struct accel_vcpu *v, bool request)
{
	bool open = v->run->ready_for_interrupt_injection && v->run->if_flag;

	if (!open && request)
		v->run->request_interrupt_window = 1;
	return open;
}

/*
 * KVM_INTERRUPT (api.rst 4.16: without an in-kernel PIC; with --irqchip split it queues the
 * vector of an ExtINT, EEXIST while one is queued) or KVM_NMI (api.rst 4.70).
 */
static int kvm_interrupt(struct accel_vcpu *v, uint8_t vector, bool nmi)
{
	struct kvm_interrupt irq = { .irq = vector };

	if (nmi)
		return kvm_vcpu_ioctl(v, KVM_NMI, NULL, "KVM_NMI");
	return kvm_vcpu_ioctl(v, KVM_INTERRUPT, &irq, "KVM_INTERRUPT");
}

int kvm_get_msr(struct accel_vcpu *v, uint32_t index, uint64_t *value)
{
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e;
	} one = { .h.nmsrs = 1, .e.index = index };
	int r = ioctl(v->fd, KVM_GET_MSRS, &one);

	if (r != 1) {
		if (r >= 0)
			errno = EIO; /* KVM read none of them */
		return -1;
	}
	*value = one.e.data;
	return 0;
}

/* IA32_TSC (SDM Vol. 3B, 17.17) as the guest reads it now. */
static int kvm_guest_tsc(struct accel_vcpu *v, uint64_t *tsc)
{
	return kvm_get_msr(v, 0x10 /* IA32_TSC */, tsc);
}

/* Each vCPU has its own thread: nothing to hand over.  A halting vCPU may have armed a timer. */
static void kvm_idle(struct accel_vcpu *v)
{
	timer_look(v->kvm);
}

static const struct accel_ops kvm_ops = {
	.name = "kvm",
	.limits = kvm_limits,
	.create_vm = kvm_create_vm,
	.supported_cpuid = kvm_supported_cpuid,
	.create_vcpu = kvm_create_vcpu,
	.destroy = kvm_destroy,
	.irq_line = kvm_irq_line,
	.msi = kvm_msi,
	.msi_routes = kvm_msi_routes,
	.send_ipi = kvm_send_ipi,
	.thread_init = kvm_thread_init,
	.set_cpuid = kvm_set_cpuid,
	.get_regs = kvm_get_regs,
	.set_regs = kvm_set_regs,
	.get_sregs = kvm_get_sregs,
	.set_sregs = kvm_set_sregs,
	.run = kvm_run,
	.get_mp_state = kvm_get_mp_state,
	.set_mp_state = kvm_set_mp_state,
	.inject = kvm_inject,
	.inject_error = kvm_inject_error,
	.get_fpu = kvm_get_fpu,
	.set_fpu = kvm_set_fpu,
	.tsc_khz = kvm_tsc_khz,
	.get_events = kvm_get_events,
	.get_lapic = kvm_get_lapic,
	.translate = kvm_translate,
	.kick = kvm_kick,
	.destroy_vcpu = kvm_destroy_vcpu,
	.set_machine = kvm_set_machine,
	.now_ns = kvm_now_ns,
	.timers_changed = kvm_timers_changed,
	.set_hooks = kvm_set_hooks,
	.interrupt_window = kvm_interrupt_window,
	.interrupt = kvm_interrupt,
	.idle = kvm_idle,
	.guest_tsc = kvm_guest_tsc,
	.save_vcpu = kvm_save_vcpu,
	.load_vcpu = kvm_load_vcpu,
	.save_vm = kvm_save_vm,
	.load_vm = kvm_load_vm,
};

struct accel *accel_kvm_open(enum accel_irqchip irqchip, bool *missing, char *err,
			     size_t errlen)
{
	bool user_irqchip = irqchip == ACCEL_IRQCHIP_USER;
	struct kvm *k = calloc(1, sizeof(*k));

	*missing = false;
	if (!k) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->base.ops = &kvm_ops;
	/* KVM's APIC bus runs at 1 GHz: APIC_BUS_CYCLE_NS = 1 (arch/x86/kvm/lapic.h). */
	k->base.lapic_timer_hz = 1000000000ull;
	/* PVM, a KVM that runs inside a VM without VMX/SVM, emulates all guest kernel code. */
	k->base.emulates = access("/sys/module/kvm_pvm", F_OK) == 0;
	k->vm_fd = -1;
	k->user = user_irqchip;
	k->split = irqchip == ACCEL_IRQCHIP_SPLIT;
	/* --irqchip user: mpvmm keeps the MP state and APICs; xAPIC IDs 0-254 (SDM 10.6.2.1). */
	k->base.user_mp = user_irqchip;
	k->base.user_irqchip = irqchip != ACCEL_IRQCHIP_KERNEL;
	k->base.max_xapic_cpus = user_irqchip ? 255 : 0;
	k->base.parallel = true;
	k->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->sys_fd < 0) {
		int e = errno;
		*missing = true;
		snprintf(err, errlen, "cannot open /dev/kvm: %s (%s)", strerror(e),
			 e == ENOENT ? "this machine has no KVM; load kvm_intel or kvm_amd, or run "
				       "on a host with virtualization" :
			 e == EACCES ? "add yourself to the 'kvm' group or run as root" :
				       "check that KVM is available");
		free(k);
		return NULL;
	}
	int version = ioctl(k->sys_fd, KVM_GET_API_VERSION, 0);
	if (version < 0) {
		*missing = true;
		snprintf(err, errlen, "/dev/kvm is not a KVM device (KVM_GET_API_VERSION: %s)",
			 strerror(errno));
		kvm_destroy(&k->base);
		return NULL;
	}
	if (version != KVM_API_VERSION) {
		*missing = true;
		snprintf(err, errlen, "/dev/kvm speaks API version %d, mpvmm needs %d", version,
			 KVM_API_VERSION);
		kvm_destroy(&k->base);
		return NULL;
	}
	/* --irqchip user: the APIC's MSRs need exits (checked on /dev/kvm, before any VM). */
	k->msr_exits = user_irqchip && kvm_check_cap(k, KVM_CAP_X86_USER_SPACE_MSR) &&
		       kvm_check_cap(k, KVM_CAP_X86_MSR_FILTER);
	k->base.apic_msrs = k->msr_exits;
	k->run_size = ioctl(k->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->run_size <= 0 || !kvm_check_cap(k, KVM_CAP_IMMEDIATE_EXIT) ||
	    install_kick_handler() < 0) {
		snprintf(err, errlen, "KVM_GET_VCPU_MMAP_SIZE / KVM_CAP_IMMEDIATE_EXIT: %s",
			 strerror(errno));
		kvm_destroy(&k->base);
		return NULL;
	}
	return &k->base;
}
