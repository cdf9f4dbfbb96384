/*
 * kvm_irqchip.c - the machine's interrupt controllers as KVM keeps them, and what KVM hands
 * over for the ones mpvmm keeps.  Which is which the VM's creation says (struct
 * accel_vm_params, from the --irqchip mode); this file knows no mode by name.
 *
 *  - lapic and chipset: KVM_CREATE_IRQCHIP (PIC pair, I/O APIC, local APICs) and
 *    KVM_CREATE_PIT2, with QEMU's GSI routing; device lines go in with KVM_IRQ_LINE.
 *  - lapic alone: KVM_CAP_SPLIT_IRQCHIP (api.rst 7.x).  The PIC, I/O APIC and PIT are
 *    mpvmm's (dev/chipset.h): their messages go in with KVM_SIGNAL_MSI, and the I/O APIC's
 *    pins are mirrored as the MSI routes KVM reserves for them, so that it reports the EOI
 *    of level-triggered vectors (KVM_EXIT_IOAPIC_EOI).  The kernel's PIT needs its PIC:
 *    KVM_CREATE_PIT2 fails with ENOENT then (seen on PVM).
 *  - neither: mpvmm's local APICs take the APIC's MSRs through MSR exits
 *    (KVM_CAP_X86_USER_SPACE_MSR, api.rst 7.21; KVM_X86_SET_MSR_FILTER).
 */
#include "accel/kvm/kvm_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

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
	return kvm_ioctl(k->vm_fd, KVM_SET_GSI_ROUTING, &t, err, errlen) < 0 ? -1 : 0;
}

/*
 * The local APIC's MSRs to mpvmm.  IA32_APIC_BASE and IA32_TSC_DEADLINE through a filter
 * (KVM keeps the first even without an APIC and ignores the second); the x2APIC MSRs cannot
 * be filtered, but KVM without an APIC rejects them, and the "invalid" reason makes that an
 * exit too (api.rst 7.21).  Any other MSR KVM rejects then comes out as well; mpvmm answers
 * #GP(0), as KVM would have.
 */
static int apic_msr_exits(struct kvm *k, char *err, size_t errlen)
{
	static uint8_t deny[1]; /* one MSR per range, its bit clear: denied, so it exits */
	static const uint32_t denied[] = { 0x1b /* IA32_APIC_BASE */, 0x6e0 /* TSC_DEADLINE */ };
	struct kvm_msr_filter f = { .flags = KVM_MSR_FILTER_DEFAULT_ALLOW };

	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++)
		f.ranges[i] = (struct kvm_msr_filter_range){
			.flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, .nmsrs = 1,
			.base = denied[i], .bitmap = deny,
		};
	if (kvm_enable_cap(k, KVM_CAP_X86_USER_SPACE_MSR,
			   KVM_MSR_EXIT_REASON_INVAL | KVM_MSR_EXIT_REASON_FILTER, err, errlen) < 0)
		return -1;
	return kvm_ioctl(k->vm_fd, KVM_X86_SET_MSR_FILTER, &f, err, errlen) < 0 ? -1 : 0;
}

int kvm_create_irqchip(struct kvm *k, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = 0 };

	if (!k->lapic)
		return k->apic_msr_exits ? apic_msr_exits(k, err, errlen) : 0;
	if (!kvm_check_cap(k, KVM_CAP_IRQCHIP) || !kvm_check_cap(k, KVM_CAP_MP_STATE)) {
		snprintf(err, errlen, "this KVM lacks KVM_CAP_IRQCHIP or KVM_CAP_MP_STATE");
		return -1;
	}
	if (!k->chipset) {
		/* Local APICs only; the first routes kept for mpvmm's I/O APIC. */
		if (!kvm_check_cap(k, KVM_CAP_SPLIT_IRQCHIP)) {
			snprintf(err, errlen, "--irqchip split: this KVM lacks KVM_CAP_SPLIT_IRQCHIP");
			return -1;
		}
		return kvm_enable_cap(k, KVM_CAP_SPLIT_IRQCHIP, KVM_SPLIT_IOAPIC_PINS, err, errlen);
	}
	if (kvm_ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, NULL, err, errlen) < 0 ||
	    kernel_routes(k, err, errlen) < 0 ||
	    kvm_ioctl(k->vm_fd, KVM_CREATE_PIT2, &pit, err, errlen) < 0)
		return -1;
	return 0;
}

int kvm_irq_line(struct accel *a, unsigned gsi, bool level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };
	char why[128];

	if (kvm_ioctl(kvm_of(a)->vm_fd, KVM_IRQ_LINE, &irq, why, sizeof(why)) < 0) {
		int e = errno;
		log_error("%s (GSI %u, level %d)", why, gsi, level);
		errno = e;
		return -1;
	}
	return 0;
}

/*
 * KVM_SIGNAL_MSI (api.rst 4.71): with KVM_CAP_X2APIC_API, address_hi holds ID bits 31:8.
 * A message no local APIC takes fails with EPERM; what the guest made that way is the
 * caller's to say (rate-limited), so nothing is logged here.
 */
int kvm_msi(struct accel *a, const struct accel_msi *m)
{
	struct kvm_msi msi = { .address_lo = (uint32_t)m->address,
			       .address_hi = (uint32_t)(m->address >> 32), .data = m->data };
	char why[128];

	return kvm_ioctl(kvm_of(a)->vm_fd, KVM_SIGNAL_MSI, &msi, why, sizeof(why)) < 0 ? -1 : 0;
}

/*
 * Without the in-kernel I/O APIC: its pins as the MSI routes KVM reserved for them (GSI
 * 0..n-1).  KVM scans them for level-triggered vectors aimed at each local APIC and reports
 * their EOI with KVM_EXIT_IOAPIC_EOI (api.rst 7.x, KVM_CAP_SPLIT_IRQCHIP; 4.52).
 */
int kvm_msi_routes(struct accel *a, const struct accel_msi *m, unsigned n)
{
	struct kvm *k = kvm_of(a);
	struct {
		struct kvm_irq_routing r;
		struct kvm_irq_routing_entry e[KVM_SPLIT_IOAPIC_PINS];
	} t;
	char why[128];

	if (!k->lapic || k->chipset || n > KVM_SPLIT_IOAPIC_PINS) {
		errno = ENOTSUP;
		return -1;
	}
	memset(&t, 0, sizeof(t));
	t.r.nr = n;
	for (unsigned i = 0; i < n; i++) {
		t.e[i].gsi = i;
		t.e[i].type = KVM_IRQ_ROUTING_MSI;
		t.e[i].u.msi.address_lo = (uint32_t)m[i].address;
		t.e[i].u.msi.address_hi = (uint32_t)(m[i].address >> 32);
		t.e[i].u.msi.data = m[i].data;
	}
	if (kvm_ioctl(k->vm_fd, KVM_SET_GSI_ROUTING, &t, why, sizeof(why)) < 0) {
		int e = errno;
		log_error("%s (%u I/O APIC routes)", why, n);
		errno = e;
		return -1;
	}
	return 0;
}

/* KVM_GET_LAPIC: the APIC page's first KiB as the in-kernel APIC keeps it (x2APIC mode too,
 * with KVM_CAP_X2APIC_API's 32-bit IDs left as they are). */
int kvm_get_lapic(struct accel_vcpu *v, struct accel_lapic *l)
{
	struct kvm_lapic_state st;

	if (kvm_vcpu_ioctl(v, KVM_GET_LAPIC, &st) < 0)
		return -1;
	for (unsigned i = 0; i < ACCEL_LAPIC_REGS; i++)
		memcpy(&l->reg[i], st.regs + i * 16, sizeof(l->reg[i]));
	return 0;
}
