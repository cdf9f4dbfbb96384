/*
 * kvm_state.c - a KVM vCPU's and VM's whole state, saved for a snapshot and loaded back.
 *
 * The encoding is a list of records (u32 tag, then the raw KVM UAPI structure as a blob);
 * only this file reads it back, on the same host ABI.  It knows the KVM ioctls and nothing of
 * the snapshot file, the vCPU threads or the devices.
 *
 * Save order, one vCPU (on its own thread, the VM paused):
 *   0. KVM_RUN with immediate_exit = 1: completes an I/O or MMIO instruction whose exit was
 *      just served, so that RIP and registers are consistent (api.rst 4.10, KVM_RUN).
 *   1. KVM_GET_MP_STATE first: it makes KVM accept pending INIT/SIPI events, which can change
 *      CS:RIP and the LAPIC (api.rst 4.38: "may ... modify ... CS/RIP, LAPIC state");
 *      everything after it sees the state it leaves.
 *   2. regs, sregs, XSAVE (or the legacy FPU area), XCRs, debug registers, MSRs (the list
 *      KVM_GET_MSR_INDEX_LIST gives, those this vCPU can read), LAPIC, vCPU events (pending
 *      exception/interrupt/NMI, interrupt shadow, SIPI vector, latched INIT).
 * Load order (before the vCPU first runs, CPUID already set):
 *   sregs (EFER, CRs and IA32_APIC_BASE: mode and x2APIC before anything depends on them),
 *   regs, XSAVE/FPU, XCRs, MSRs with IA32_TSC first (the others, kvmclock among them, are
 *   relative to the guest's TSC) and without IA32_TSC_DEADLINE, then the LAPIC (the timer's
 *   LVT mode decides whether a deadline counts), IA32_TSC_DEADLINE, vCPU events (the SIPI
 *   vector a SIPI_RECEIVED state uses), MP state (last: it may latch INIT/SIPI events that
 *   everything above must already describe), debug registers.
 * VM: the in-kernel PIC pair and IOAPIC (KVM_GET/SET_IRQCHIP) and the PIT (KVM_GET/SET_PIT2)
 * when KVM keeps them (k->chipset; with the local APICs alone only those are KVM's, saved
 * per vCPU), and kvmclock (KVM_GET/SET_CLOCK).
 *
 * Without KVM's local APICs (!k->lapic) the LAPICs and MP state are mpvmm's (apic_bus,
 * mp_user: their own snapshot sections), so no LAPIC record and no KVM_SET_MP_STATE.  What
 * kvm_vcpu.c keeps then needs nothing more: an interrupt given with KVM_INTERRUPT but not yet
 * taken is in the vCPU events (interrupt.injected, .nr); run->if_flag and
 * run->ready_for_interrupt_injection are KVM's report of the last exit (a fresh vCPU's read 0,
 * so the first injection asks for an interrupt window and KVM exits at once when it is open);
 * run->request_interrupt_window is set again before each entry by `enter`.  The timers' thread
 * is told to look at the loaded deadlines by whoever loads the APICs.
 */
#include "accel/kvm/kvm_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

enum kvm_rec {
	REC_MP_STATE = 1,
	REC_REGS,
	REC_SREGS,
	REC_XSAVE,
	REC_FPU,
	REC_XCRS,
	REC_DEBUGREGS,
	REC_MSRS,     /* u32 count, then (u32 index, u64 value) pairs */
	REC_LAPIC,
	REC_EVENTS,
	REC_PIC_MASTER = 32,
	REC_PIC_SLAVE,
	REC_IOAPIC,
	REC_PIT,
	REC_CLOCK,
};

#define MSR_IA32_TSC 0x10u
#define MSR_IA32_TSC_DEADLINE 0x6e0u
#define MAX_SAVE_MSRS 1024u

static int fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, strerror(errno));
	return -1;
}

static void put_rec(struct snap_enc *e, uint32_t tag, const void *p, size_t n)
{
	snap_enc_u32(e, tag);
	snap_enc_blob(e, p, n);
}

/* ---- which MSRs a vCPU saves ------------------------------------------------------------ */

/* KVM_GET_MSR_INDEX_LIST, once per VM (api.rst 4.3: the MSRs "supported by the hypervisor"). */
static int msr_list(struct kvm *k, char *err, size_t errlen)
{
	if (k->save_msrs)
		return 0;
	struct kvm_msr_list probe = { .nmsrs = 0 };
	if (kvm_ioctl(k->sys_fd, KVM_GET_MSR_INDEX_LIST, &probe, err, errlen) < 0 &&
	    errno != E2BIG)
		return -1;
	uint32_t n = probe.nmsrs < MAX_SAVE_MSRS ? probe.nmsrs : MAX_SAVE_MSRS;
	struct kvm_msr_list *l = calloc(1, sizeof(*l) + n * sizeof(uint32_t));
	if (!l)
		return fail(err, errlen, "MSR list");
	l->nmsrs = n;
	if (kvm_ioctl(k->sys_fd, KVM_GET_MSR_INDEX_LIST, l, err, errlen) < 0) {
		free(l);
		return -1;
	}
	k->save_msrs = malloc((l->nmsrs + 1) * sizeof(uint32_t));
	if (!k->save_msrs) {
		free(l);
		return fail(err, errlen, "MSR list");
	}
	memcpy(k->save_msrs, l->indices, l->nmsrs * sizeof(uint32_t));
	k->nsave_msrs = l->nmsrs;
	free(l);
	return 0;
}

/*
 * KVM_GET_MSRS stops at the first MSR it cannot read and returns how many it did: skip that
 * one and go on, so a vCPU saves every MSR of the list it has (e.g. not the x2APIC range).
 */
static int save_msrs(struct accel_vcpu *v, struct snap_enc *e, char *err, size_t errlen)
{
	struct kvm *k = v->kvm;

	if (msr_list(k, err, errlen) < 0)
		return -1;
	struct kvm_msrs *m = calloc(1, sizeof(*m) + k->nsave_msrs * sizeof(struct kvm_msr_entry));
	struct snap_enc body = { 0 };
	uint32_t saved = 0;
	if (!m)
		return fail(err, errlen, "MSRs");
	for (uint32_t next = 0; next < k->nsave_msrs;) {
		m->nmsrs = k->nsave_msrs - next;
		for (uint32_t i = 0; i < m->nmsrs; i++)
			m->entries[i] = (struct kvm_msr_entry){ .index = k->save_msrs[next + i] };
		int got = kvm_ioctl(v->fd, KVM_GET_MSRS, m, err, errlen);
		if (got < 0) {
			free(m);
			snap_enc_free(&body);
			return -1;
		}
		for (int i = 0; i < got; i++) {
			snap_enc_u32(&body, m->entries[i].index);
			snap_enc_u64(&body, m->entries[i].data);
			saved++;
		}
		next += (uint32_t)got + 1; /* the one at `got` could not be read */
	}
	free(m);
	struct snap_enc rec = { 0 };
	snap_enc_u32(&rec, saved);
	snap_enc_bytes(&rec, body.buf, body.len);
	put_rec(e, REC_MSRS, rec.buf, rec.len);
	int oom = body.oom || rec.oom;
	snap_enc_free(&body);
	snap_enc_free(&rec);
	if (oom) {
		errno = ENOMEM;
		return fail(err, errlen, "MSRs");
	}
	return 0;
}

/* ---- one vCPU ------------------------------------------------------------------------- */

struct get_step {
	uint32_t tag;
	unsigned long req;
	const char *name;
	size_t size;
	long cap; /* 0: always */
};

#define STEP(tag, req, type, cap) { tag, req, #req, sizeof(type), cap }
static const struct get_step vcpu_steps[] = {
	STEP(REC_MP_STATE, KVM_GET_MP_STATE, struct kvm_mp_state, 0),
	STEP(REC_REGS, KVM_GET_REGS, struct kvm_regs, 0),
	STEP(REC_SREGS, KVM_GET_SREGS, struct kvm_sregs, 0),
	STEP(REC_XSAVE, KVM_GET_XSAVE, struct kvm_xsave, KVM_CAP_XSAVE),
	STEP(REC_XCRS, KVM_GET_XCRS, struct kvm_xcrs, KVM_CAP_XCRS),
	STEP(REC_DEBUGREGS, KVM_GET_DEBUGREGS, struct kvm_debugregs, KVM_CAP_DEBUGREGS),
};
#undef STEP

static int save_step(struct accel_vcpu *v, const struct get_step *s, struct snap_enc *e,
		     char *err, size_t errlen)
{
	uint8_t buf[sizeof(struct kvm_xsave)] __attribute__((aligned(16)));

	memset(buf, 0, s->size);
	if (kvm_ioctl_named(v->fd, s->req, s->name, buf, err, errlen) < 0)
		return -1;
	put_rec(e, s->tag, buf, s->size);
	return 0;
}

int kvm_save_vcpu(struct accel_vcpu *v, struct snap_enc *e, char *err, size_t errlen)
{
	struct kvm *k = v->kvm;

	if (kvm_complete_pending_exit(v, false, err, errlen) < 0) /* step 0 */
		return -1;
	for (size_t i = 0; i < sizeof(vcpu_steps) / sizeof(vcpu_steps[0]); i++) {
		const struct get_step *s = &vcpu_steps[i];
		if (s->cap && !kvm_check_cap(k, s->cap)) {
			if (s->tag == REC_XSAVE) {
				struct kvm_fpu f;
				if (kvm_ioctl(v->fd, KVM_GET_FPU, &f, err, errlen) < 0)
					return -1;
				put_rec(e, REC_FPU, &f, sizeof(f));
			}
			continue;
		}
		if (save_step(v, s, e, err, errlen) < 0)
			return -1;
	}
	if (save_msrs(v, e, err, errlen) < 0)
		return -1;
	if (k->lapic) {
		struct kvm_lapic_state l;
		if (kvm_ioctl(v->fd, KVM_GET_LAPIC, &l, err, errlen) < 0)
			return -1;
		put_rec(e, REC_LAPIC, &l, sizeof(l));
	}
	struct kvm_vcpu_events ev;
	memset(&ev, 0, sizeof(ev));
	if (kvm_ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev, err, errlen) < 0)
		return -1;
	put_rec(e, REC_EVENTS, &ev, sizeof(ev));
	if (e->oom) {
		errno = ENOMEM;
		return fail(err, errlen, "vCPU state");
	}
	return 0;
}

/* The records of one vCPU, found by tag (pointers into the snapshot). */
struct vcpu_recs {
	const void *p[REC_EVENTS + 1];
	size_t n[REC_EVENTS + 1];
};

static int parse_recs(struct snap_dec *d, const void **p, size_t *n, uint32_t lo, uint32_t hi,
		      char *err, size_t errlen)
{
	while (d->off < d->len && !d->bad) {
		uint32_t tag = snap_dec_u32(d);
		size_t len;
		const void *blob = snap_dec_blob(d, &len);
		if (d->bad)
			break;
		if (tag < lo || tag > hi || p[tag - lo]) {
			snprintf(err, errlen, "KVM state: unknown or repeated record %u", tag);
			return -1;
		}
		p[tag - lo] = blob;
		n[tag - lo] = len;
	}
	if (!snap_dec_done(d)) {
		snprintf(err, errlen, "KVM state: truncated record");
		return -1;
	}
	return 0;
}

/* Copy record `tag` into `out` (exactly `size` bytes), or fail naming it. */
static int take(const struct vcpu_recs *r, uint32_t tag, void *out, size_t size,
		const char *what, char *err, size_t errlen)
{
	if (!r->p[tag] || r->n[tag] != size) {
		snprintf(err, errlen, "KVM state: %s %s", what,
			 r->p[tag] ? "has the wrong size (another KVM version?)" : "is missing");
		return -1;
	}
	memcpy(out, r->p[tag], size);
	return 0;
}

/* A vCPU ioctl that sets state; req's own name in the error. */
#define set(v, req, arg, err, errlen) \
	(kvm_ioctl((v)->fd, req, arg, err, errlen) < 0 ? -1 : 0)

/*
 * KVM_SET_MSRS stops at the first MSR it refuses.  Some it refuses in one configuration
 * only (e.g. MSR_KVM_ASYNC_PF_INT without an in-kernel LAPIC) though they read back fine:
 * a refused MSR that already holds the saved value is no difference, and is passed over.
 */
static int set_msrs_from(struct accel_vcpu *v, struct kvm_msrs *m, char *err, size_t errlen)
{
	uint32_t total = m->nmsrs, done = 0;

	while (done < total) {
		struct kvm_msr_entry *rest = &m->entries[done];
		memmove(m->entries, rest, (total - done) * sizeof(*rest));
		total -= done;
		done = 0;
		m->nmsrs = total;
		int got = kvm_ioctl(v->fd, KVM_SET_MSRS, m, err, errlen);
		if (got < 0)
			return -1;
		if ((uint32_t)got >= total)
			return 0;
		uint64_t now;
		const struct kvm_msr_entry *bad = &m->entries[got];
		if (kvm_get_msr(v, bad->index, &now) < 0 || now != bad->data) {
			snprintf(err, errlen, "KVM_SET_MSRS: this KVM refuses MSR %#x = %#llx",
				 bad->index, (unsigned long long)bad->data);
			return -1;
		}
		done = (uint32_t)got + 1;
	}
	return 0;
}

/* KVM_SET_MSRS, either only IA32_TSC_DEADLINE or everything but it (IA32_TSC first). */
static int load_msrs(struct accel_vcpu *v, const struct vcpu_recs *r, bool deadline,
		     char *err, size_t errlen)
{
	struct snap_dec d;

	if (!r->p[REC_MSRS]) {
		snprintf(err, errlen, "KVM state: MSRs are missing");
		return -1;
	}
	snap_dec_init(&d, r->p[REC_MSRS], r->n[REC_MSRS]);
	uint32_t count = snap_dec_u32(&d);
	if (d.bad || count > MAX_SAVE_MSRS || count * 12ull != d.len - d.off) {
		snprintf(err, errlen, "KVM state: MSR record is inconsistent");
		return -1;
	}
	struct kvm_msrs *m = calloc(1, sizeof(*m) + count * sizeof(struct kvm_msr_entry));
	if (!m)
		return fail(err, errlen, "MSRs");
	for (uint32_t i = 0; i < count; i++) {
		uint32_t index = snap_dec_u32(&d);
		uint64_t value = snap_dec_u64(&d);
		if ((index == MSR_IA32_TSC_DEADLINE) != deadline)
			continue;
		struct kvm_msr_entry ent = { .index = index, .data = value };
		if (index == MSR_IA32_TSC && m->nmsrs > 0) {
			m->entries[m->nmsrs] = m->entries[0];
			m->entries[0] = ent;
		} else {
			m->entries[m->nmsrs] = ent;
		}
		m->nmsrs++;
	}
	int r0 = set_msrs_from(v, m, err, errlen);
	free(m);
	return r0;
}

static int load_fpu(struct accel_vcpu *v, const struct vcpu_recs *r, char *err, size_t errlen)
{
	if (r->p[REC_XSAVE]) {
		struct kvm_xsave x;
		if (!kvm_check_cap(v->kvm, KVM_CAP_XSAVE)) {
			snprintf(err, errlen, "the snapshot has XSAVE state; this KVM has no "
				 "KVM_CAP_XSAVE");
			return -1;
		}
		if (take(r, REC_XSAVE, &x, sizeof(x), "XSAVE area", err, errlen) < 0)
			return -1;
		return set(v, KVM_SET_XSAVE, &x, err, errlen);
	}
	struct kvm_fpu f;
	if (take(r, REC_FPU, &f, sizeof(f), "FPU state", err, errlen) < 0)
		return -1;
	return set(v, KVM_SET_FPU, &f, err, errlen);
}

static int load_optional(struct accel_vcpu *v, const struct vcpu_recs *r, uint32_t tag,
			 unsigned long req, size_t size, const char *what, char *err,
			 size_t errlen)
{
	uint8_t buf[sizeof(struct kvm_xcrs) > sizeof(struct kvm_debugregs) ?
		    sizeof(struct kvm_xcrs) : sizeof(struct kvm_debugregs)];

	if (!r->p[tag])
		return 0;
	if (take(r, tag, buf, size, what, err, errlen) < 0)
		return -1;
	return kvm_ioctl_named(v->fd, req, what, buf, err, errlen) < 0 ? -1 : 0;
}

static int load_events_and_mp(struct accel_vcpu *v, const struct vcpu_recs *r, char *err,
			      size_t errlen)
{
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;

	if (take(r, REC_EVENTS, &ev, sizeof(ev), "vCPU events", err, errlen) < 0 ||
	    take(r, REC_MP_STATE, &mp, sizeof(mp), "MP state", err, errlen) < 0)
		return -1;
	/* GET reports what it filled; SET applies only what the flags say (api.rst 4.31). */
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	ev.flags &= ~(uint32_t)KVM_VCPUEVENT_VALID_PAYLOAD;
	if (set(v, KVM_SET_VCPU_EVENTS, &ev, err, errlen) < 0)
		return -1;
	/* Without its local APICs KVM keeps no MP state (mpvmm's mp_user does). */
	if (!v->kvm->lapic)
		return 0;
	return set(v, KVM_SET_MP_STATE, &mp, err, errlen);
}

int kvm_load_vcpu(struct accel_vcpu *v, struct snap_dec *d, char *err, size_t errlen)
{
	struct vcpu_recs r;
	struct kvm_sregs s;
	struct kvm_regs g;
	struct kvm_lapic_state l;

	memset(&r, 0, sizeof(r));
	if (parse_recs(d, r.p + REC_MP_STATE, r.n + REC_MP_STATE, REC_MP_STATE, REC_EVENTS, err,
		       errlen) < 0 ||
	    take(&r, REC_SREGS, &s, sizeof(s), "segment registers", err, errlen) < 0 ||
	    take(&r, REC_REGS, &g, sizeof(g), "registers", err, errlen) < 0)
		return -1;
	if (set(v, KVM_SET_SREGS, &s, err, errlen) < 0 ||
	    set(v, KVM_SET_REGS, &g, err, errlen) < 0 ||
	    load_fpu(v, &r, err, errlen) < 0 ||
	    load_optional(v, &r, REC_XCRS, KVM_SET_XCRS, sizeof(struct kvm_xcrs), "KVM_SET_XCRS",
			  err, errlen) < 0 ||
	    load_msrs(v, &r, false, err, errlen) < 0)
		return -1;
	if (v->kvm->lapic) {
		if (take(&r, REC_LAPIC, &l, sizeof(l), "local APIC", err, errlen) < 0 ||
		    set(v, KVM_SET_LAPIC, &l, err, errlen) < 0)
			return -1;
	}
	if (load_msrs(v, &r, true, err, errlen) < 0 || load_events_and_mp(v, &r, err, errlen) < 0)
		return -1;
	return load_optional(v, &r, REC_DEBUGREGS, KVM_SET_DEBUGREGS,
			     sizeof(struct kvm_debugregs), "KVM_SET_DEBUGREGS", err, errlen);
}

/* ---- the VM ------------------------------------------------------------------------------ */

/* A VM ioctl; req's own name in the error. */
#define vm_get(k, req, arg, err, errlen) \
	(kvm_ioctl((k)->vm_fd, req, arg, err, errlen) < 0 ? -1 : 0)

int kvm_save_vm(struct accel *a, struct snap_enc *e, char *err, size_t errlen)
{
	struct kvm *k = kvm_of(a);
	struct kvm_clock_data clock;

	/* Unless KVM keeps them, the PIC, I/O APIC and PIT are mpvmm's (dev/chipset.h). */
	if (k->chipset) {
		static const uint32_t tags[] = { REC_PIC_MASTER, REC_PIC_SLAVE, REC_IOAPIC };
		for (uint32_t chip = 0; chip < 3; chip++) {
			struct kvm_irqchip c = { .chip_id = chip };
			if (vm_get(k, KVM_GET_IRQCHIP, &c, err, errlen) < 0)
				return -1;
			put_rec(e, tags[chip], &c, sizeof(c));
		}
		struct kvm_pit_state2 pit;
		if (vm_get(k, KVM_GET_PIT2, &pit, err, errlen) < 0)
			return -1;
		put_rec(e, REC_PIT, &pit, sizeof(pit));
	}
	memset(&clock, 0, sizeof(clock));
	if (kvm_check_cap(k, KVM_CAP_ADJUST_CLOCK)) {
		if (vm_get(k, KVM_GET_CLOCK, &clock, err, errlen) < 0)
			return -1;
		put_rec(e, REC_CLOCK, &clock, sizeof(clock));
	}
	if (e->oom) {
		errno = ENOMEM;
		return fail(err, errlen, "VM state");
	}
	return 0;
}

int kvm_load_vm(struct accel *a, struct snap_dec *d, char *err, size_t errlen)
{
	struct kvm *k = kvm_of(a);
	const void *p[REC_CLOCK - REC_PIC_MASTER + 1] = { 0 };
	size_t n[REC_CLOCK - REC_PIC_MASTER + 1] = { 0 };

	if (parse_recs(d, p, n, REC_PIC_MASTER, REC_CLOCK, err, errlen) < 0)
		return -1;
	if (k->chipset) {
		for (uint32_t chip = 0; chip < 3; chip++) {
			struct kvm_irqchip c;
			if (!p[chip] || n[chip] != sizeof(c)) {
				snprintf(err, errlen, "KVM state: irqchip %u missing or wrong size",
					 chip);
				return -1;
			}
			memcpy(&c, p[chip], sizeof(c));
			c.chip_id = chip;
			if (vm_get(k, KVM_SET_IRQCHIP, &c, err, errlen) < 0)
				return -1;
		}
		struct kvm_pit_state2 pit;
		uint32_t i = REC_PIT - REC_PIC_MASTER;
		if (!p[i] || n[i] != sizeof(pit)) {
			snprintf(err, errlen, "KVM state: PIT missing or wrong size");
			return -1;
		}
		memcpy(&pit, p[i], sizeof(pit));
		if (vm_get(k, KVM_SET_PIT2, &pit, err, errlen) < 0)
			return -1;
	}
	uint32_t c = REC_CLOCK - REC_PIC_MASTER;
	if (p[c] && n[c] == sizeof(struct kvm_clock_data) &&
	    kvm_check_cap(k, KVM_CAP_ADJUST_CLOCK)) {
		struct kvm_clock_data clock;
		memcpy(&clock, p[c], sizeof(clock));
		/* Only the value: the host's realtime and TSC at save mean nothing here. */
		clock.flags = 0;
		if (vm_get(k, KVM_SET_CLOCK, &clock, err, errlen) < 0)
			return -1;
	}
	return 0;
}
