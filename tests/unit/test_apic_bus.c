/*
 * test_apic_bus.c - IPI routing between modelled local APICs, driven by guest-style ICR
 * writes: physical, broadcast, logical flat and cluster destinations in xAPIC and x2APIC
 * form, shorthands, lowest priority, software- and hardware-disabled APICs, NMI and SMI,
 * wake-ups of halted vCPUs, relocated APIC pages and the warnings for guest mistakes;
 * snapshots of the whole bus (loaded all or nothing); and the platform's side: MSI-format
 * messages, the EOI broadcast of level-triggered vectors (made with the bus unlocked), the
 * 8259A's INTR on LINT0 (virtual wire on the BSP).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mp/apic_bus.h"
#include "snapshot/snapfile.h"

#define N 5
#define PAGE LAPIC_DEFAULT_BASE

static uint64_t clk;
static unsigned nwarn;
static char last_warn[256];
static unsigned kicks[N];
static int eois[8];
static unsigned neoi;
static struct apic_bus *eoi_bus; /* set: the EOI callback delivers again through it */

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return clk;
}

static void count_warn(void *ctx, const char *msg)
{
	(void)ctx;
	nwarn++;
	strncpy(last_warn, msg, sizeof(last_warn) - 1);
}

/* An I/O APIC would clear remote IRR and may send again: the bus must be unlocked here. */
static void record_eoi(void *ctx, uint8_t vector)
{
	(void)ctx;
	if (neoi < 8)
		eois[neoi] = vector;
	neoi++;
	if (eoi_bus && neoi == 1)
		apic_bus_msi(eoi_bus, 0xfee00000u, 0xc000u | vector); /* re-sent, level */
}

static void count_kick(void *ctx, uint32_t cpu)
{
	(void)ctx;
	kicks[cpu]++;
}

struct machine {
	struct mp_user *u;
	struct apic_bus *b;
};

static struct machine make(const uint32_t ids[N])
{
	struct mp_cpu cpus[N];
	struct machine m;

	for (int i = 0; i < N; i++)
		cpus[i] = (struct mp_cpu){ .apic_id = ids[i], .bsp = i == 0 };
	clk = 0;
	nwarn = 0;
	last_warn[0] = 0;
	memset(kicks, 0, sizeof(kicks));
	neoi = 0;
	eoi_bus = NULL;
	struct mp_user_config uc = {
		.ncpus = N, .bsp = 0, .now_ns = fake_now, .warn = count_warn, .kick = count_kick,
	};
	m.u = mp_user_create(&uc);
	assert_non_null(m.u);
	struct apic_bus_config bc = {
		.ncpus = N, .cpus = cpus, .x2apic = true, .now_ns = fake_now,
		.warn = count_warn, .mp = m.u, .eoi = record_eoi,
	};
	m.b = apic_bus_create(&bc);
	assert_non_null(m.b);
	return m;
}

static void destroy(struct machine *m)
{
	apic_bus_destroy(m->b);
	mp_user_destroy(m->u);
}

static void mmio(struct machine *m, uint32_t cpu, uint32_t off, uint32_t v)
{
	assert_int_equal(apic_bus_mmio_write(m->b, cpu, PAGE + off, 4, v), LAPIC_OK);
}

static void msr(struct machine *m, uint32_t cpu, uint32_t index, uint64_t v)
{
	assert_int_equal(apic_bus_msr_write(m->b, cpu, index, v), LAPIC_OK);
}

static void enable_all(struct machine *m)
{
	for (uint32_t i = 0; i < N; i++)
		mmio(m, i, LAPIC_SVR, 0x1ff);
}

static void all_x2apic(struct machine *m)
{
	for (uint32_t i = 0; i < N; i++) {
		msr(m, i, LAPIC_MSR_APIC_BASE, PAGE | LAPIC_BASE_EN | LAPIC_BASE_EXTD);
		msr(m, i, 0x80f, 0x1ff);
	}
}

static void icr(struct machine *m, uint32_t from, uint8_t dest, uint32_t lo)
{
	mmio(m, from, LAPIC_ICR_HI, (uint32_t)dest << 24);
	mmio(m, from, LAPIC_ICR_LO, lo);
}

/* cpu takes its highest deliverable interrupt and retires it: the vector, or -1. */
static int take_eoi(struct machine *m, uint32_t cpu)
{
	int v = apic_bus_take_interrupt(m->b, cpu);

	if (v < 0)
		return v;
	if (lapic_mode(apic_bus_lapic(m->b, cpu)) == LAPIC_MODE_X2APIC)
		msr(m, cpu, 0x80b, 0);
	else
		mmio(m, cpu, LAPIC_EOI, 0);
	return v;
}

/* Which vCPUs got `vector` (and nothing else): a bit per vCPU. */
static unsigned got(struct machine *m, uint8_t vector)
{
	unsigned mask = 0;

	for (uint32_t i = 0; i < N; i++) {
		int v = take_eoi(m, i);
		if (v < 0)
			continue;
		assert_int_equal(v, vector);
		mask |= 1u << i;
		assert_int_equal(take_eoi(m, i), -1);
	}
	return mask;
}

static const uint32_t small_ids[N] = { 0, 1, 2, 4, 0x21 };

static void test_physical_xapic(void **state)
{
	struct machine m = make(small_ids);

	(void)state;
	enable_all(&m);
	icr(&m, 0, 4, 0x40);
	assert_int_equal(got(&m, 0x40), 1u << 3);
	icr(&m, 2, 0x21, 0x41);
	assert_int_equal(got(&m, 0x41), 1u << 4);
	icr(&m, 1, 0xff, 0x42); /* physical broadcast, sender included */
	assert_int_equal(got(&m, 0x42), 0x1f);
	assert_int_equal(nwarn, 0);
	icr(&m, 0, 3, 0x43); /* no APIC ID 3 */
	assert_int_equal(got(&m, 0x43), 0);
	assert_int_equal(nwarn, 1);
	assert_non_null(strstr(last_warn, "physical destination 0x3"));
	destroy(&m);
}

static void test_logical_flat(void **state)
{
	struct machine m = make(small_ids);

	(void)state;
	enable_all(&m);
	for (uint32_t i = 0; i < N; i++)
		mmio(&m, i, LAPIC_LDR, 1u << (24 + i));
	icr(&m, 0, 0x06, LAPIC_ICR_LOGICAL | 0x50);
	assert_int_equal(got(&m, 0x50), 0x06);
	icr(&m, 0, 0x11, LAPIC_ICR_LOGICAL | 0x51);
	assert_int_equal(got(&m, 0x51), 0x11);
	icr(&m, 0, 0xff, LAPIC_ICR_LOGICAL | 0x52);
	assert_int_equal(got(&m, 0x52), 0x1f);
	icr(&m, 0, 0x00, LAPIC_ICR_LOGICAL | 0x53);
	assert_int_equal(got(&m, 0x53), 0);
	assert_int_equal(nwarn, 1);
	destroy(&m);
}

static void test_logical_cluster(void **state)
{
	struct machine m = make(small_ids);

	(void)state;
	enable_all(&m);
	/* Cluster i/2, member bit i%2: 0x01 0x02 0x11 0x12 0x21. */
	for (uint32_t i = 0; i < N; i++) {
		mmio(&m, i, LAPIC_DFR, 0x0fffffff);
		mmio(&m, i, LAPIC_LDR, (((i / 2) << 4) | (1u << (i % 2))) << 24);
	}
	icr(&m, 0, 0x13, LAPIC_ICR_LOGICAL | 0x60);
	assert_int_equal(got(&m, 0x60), 0x0c);
	icr(&m, 0, 0x21, LAPIC_ICR_LOGICAL | 0x61);
	assert_int_equal(got(&m, 0x61), 0x10);
	icr(&m, 0, 0x02, LAPIC_ICR_LOGICAL | 0x62);
	assert_int_equal(got(&m, 0x62), 0x02);
	icr(&m, 0, 0x22, LAPIC_ICR_LOGICAL | 0x63); /* cluster 2 has no member 1 */
	assert_int_equal(got(&m, 0x63), 0);
	assert_int_equal(nwarn, 1);
	destroy(&m);
}

static void test_x2apic_destinations(void **state)
{
	static const uint32_t ids[N] = { 0, 1, 0x10, 0x11, 0x121 };
	struct machine m = make(ids);

	(void)state;
	all_x2apic(&m);
	msr(&m, 0, 0x830, (0x121ull << 32) | 0x70);
	assert_int_equal(got(&m, 0x70), 0x10);
	msr(&m, 0, 0x830, (0xffffffffull << 32) | 0x71);
	assert_int_equal(got(&m, 0x71), 0x1f);
	/* Logical: cluster in 31:16, member mask in 15:0 (SDM 10.12.10.2). */
	msr(&m, 4, 0x830, (0x10003ull << 32) | LAPIC_ICR_LOGICAL | 0x72);
	assert_int_equal(got(&m, 0x72), 0x0c);
	msr(&m, 4, 0x830, (0x00003ull << 32) | LAPIC_ICR_LOGICAL | 0x73);
	assert_int_equal(got(&m, 0x73), 0x03);
	msr(&m, 0, 0x830, (0x120002ull << 32) | LAPIC_ICR_LOGICAL | 0x74);
	assert_int_equal(got(&m, 0x74), 0x10);
	/* The self IPI register. */
	msr(&m, 3, 0x83f, 0x75);
	assert_int_equal(got(&m, 0x75), 0x08);
	assert_int_equal(nwarn, 0);
	msr(&m, 0, 0x830, (0x21ull << 32) | 0x76); /* ID 0x21 does not exist (0x121 does) */
	assert_int_equal(got(&m, 0x76), 0);
	assert_int_equal(nwarn, 1);
	/* A message for ID 0x121: bits 7:0 in address 19:12, 31:8 in 63:40 (the I/O APIC's
	 * extended destination ID); without the high bits it is ID 0x21, which nobody has. */
	apic_bus_msi(m.b, 0x00000100fee21000ull, 0x4077u);
	assert_int_equal(got(&m, 0x77), 0x10);
	apic_bus_msi(m.b, 0xfee21000u, 0x4078u);
	assert_int_equal(got(&m, 0x78), 0);
	destroy(&m);
}

static void test_shorthands(void **state)
{
	struct machine m = make(small_ids);

	(void)state;
	enable_all(&m);
	icr(&m, 2, 0x00, (LAPIC_SH_SELF << 18) | 0x80);
	assert_int_equal(got(&m, 0x80), 0x04);
	icr(&m, 2, 0x00, (LAPIC_SH_ALL << 18) | 0x81);
	assert_int_equal(got(&m, 0x81), 0x1f);
	icr(&m, 2, 0x00, (LAPIC_SH_OTHERS << 18) | 0x82);
	assert_int_equal(got(&m, 0x82), 0x1b);
	/* The destination field is ignored with a shorthand. */
	icr(&m, 2, 0x04, (LAPIC_SH_SELF << 18) | 0x83);
	assert_int_equal(got(&m, 0x83), 0x04);
	assert_int_equal(nwarn, 0);
	destroy(&m);
}

static void test_lowest_priority(void **state)
{
	static const uint8_t tpr[N] = { 0x20, 0x10, 0x10, 0x30, 0x40 };
	struct machine m = make(small_ids);

	(void)state;
	enable_all(&m);
	for (uint32_t i = 0; i < N; i++)
		mmio(&m, i, LAPIC_TPR, tpr[i]);
	/* cpu1 and cpu2 tie at 0x10: the lower APIC ID, cpu1, wins. */
	icr(&m, 0, 0xff, (LAPIC_DM_LOWEST << 8) | 0x90);
	assert_int_equal(apic_bus_pending(m.b, 1), 0x90);
	assert_int_equal(apic_bus_pending(m.b, 2), -1);
	assert_int_equal(apic_bus_take_interrupt(m.b, 1), 0x90);
	/* cpu1 now has 0x90 in service: its arbitration priority is 0x90, cpu2 wins. */
	icr(&m, 0, 0xff, (LAPIC_DM_LOWEST << 8) | 0x91);
	assert_int_equal(apic_bus_pending(m.b, 2), 0x91);
	assert_int_equal(apic_bus_pending(m.b, 1), -1);
	assert_int_equal(apic_bus_take_interrupt(m.b, 2), 0x91);
	/* Among a logical set only: cpu3 (0x30) and cpu4 (0x40) -> cpu3. */
	for (uint32_t i = 0; i < N; i++)
		mmio(&m, i, LAPIC_LDR, 1u << (24 + i));
	icr(&m, 0, 0x18, LAPIC_ICR_LOGICAL | (LAPIC_DM_LOWEST << 8) | 0x92);
	assert_int_equal(got(&m, 0x92), 0x08);
	assert_int_equal(nwarn, 0);
	destroy(&m);
}

static void test_disabled_apics(void **state)
{
	struct machine m = make(small_ids);

	(void)state;
	/* cpu0 software-disabled sends: delivered (SDM 10.4.7.2), with a warning. */
	mmio(&m, 1, LAPIC_SVR, 0x1ff);
	icr(&m, 0, 1, 0xa0);
	assert_int_equal(got(&m, 0xa0), 0x02);
	assert_int_equal(nwarn, 1);
	assert_non_null(strstr(last_warn, "software-disabled"));
	/* A software-disabled target drops fixed interrupts, with a warning... */
	icr(&m, 1, 2, 0xa1);
	assert_int_equal(got(&m, 0xa1), 0);
	assert_int_equal(nwarn, 2);
	/* ...but takes NMI (cpu0 runs) and INIT. */
	icr(&m, 1, 0, LAPIC_DM_NMI << 8);
	assert_true(apic_bus_take_nmi(m.b, 0));
	assert_false(apic_bus_take_nmi(m.b, 0));
	icr(&m, 1, 2, 0x4500);
	assert_int_equal(mp_user_state(m.u, 2), MP_STATE_INIT_RECEIVED);
	/* An NMI to a vCPU waiting for INIT or SIPI is dropped, with a warning. */
	unsigned w = nwarn;
	icr(&m, 1, 2, LAPIC_DM_NMI << 8);
	assert_false(apic_bus_take_nmi(m.b, 2));
	assert_int_equal(nwarn, w + 1);
	/* A hardware-disabled APIC is off the bus: no INIT, no interrupt. */
	msr(&m, 3, LAPIC_MSR_APIC_BASE, PAGE);
	icr(&m, 1, 4, 0x4500);
	assert_int_equal(mp_user_state(m.u, 3), MP_STATE_UNINITIALIZED);
	assert_int_equal(nwarn, w + 2);
	uint32_t v;
	assert_int_equal(apic_bus_mmio_read(m.b, 3, PAGE + LAPIC_ID, 4, &v), LAPIC_UNCLAIMED);
	/* SMI is not modelled: a warning, nothing delivered. */
	icr(&m, 1, 0, LAPIC_DM_SMI << 8);
	assert_int_equal(nwarn, w + 3);
	assert_non_null(strstr(last_warn, "SMI"));
	destroy(&m);
}

/*
 * An INIT that overtakes an access: cpu 1 wrote ICR_HI, and its ICR_LO write was made but is
 * served after an INIT from cpu 0 reset its APIC (ICR_HI 0).  Served, it would send to APIC
 * ID 0, the BSP (seen with the chaos guest: the BSP INITed to the reset vector).  It is
 * squashed until cpu 1 enters the guest again; reads give 0 meanwhile.
 */
static void test_init_overtakes_access(void **state)
{
	struct machine m = make(small_ids);
	uint32_t v;

	(void)state;
	enable_all(&m);
	mmio(&m, 1, LAPIC_ICR_HI, 2u << 24);
	icr(&m, 0, 1, 0x4500); /* INIT to APIC ID 1 */
	assert_int_equal(mp_user_state(m.u, 1), MP_STATE_INIT_RECEIVED);
	mmio(&m, 1, LAPIC_ICR_LO, 0xa0);
	assert_int_equal(got(&m, 0xa0), 0);
	assert_int_equal(apic_bus_mmio_read(m.b, 1, PAGE + LAPIC_ID, 4, &v), LAPIC_OK);
	assert_int_equal(v, 0);
	/* Entered again (its SIPI's start): its accesses act; the INIT left ICR_HI 0. */
	apic_bus_entered(m.b, 1);
	assert_int_equal(apic_bus_mmio_read(m.b, 1, PAGE + LAPIC_ID, 4, &v), LAPIC_OK);
	assert_int_equal(v, 1u << 24);
	mmio(&m, 1, LAPIC_ICR_LO, 0xa1);
	assert_int_equal(got(&m, 0xa1), 0x01);
	/* Only the INITed vCPU's accesses wait: cpu 2 was never reset. */
	icr(&m, 2, 0, 0xa2);
	assert_int_equal(got(&m, 0xa2), 0x01);
	destroy(&m);
}

static void test_halt_wakeups(void **state)
{
	struct machine m = make(small_ids);

	(void)state;
	enable_all(&m);
	/* A running vCPU is kicked once when an interrupt becomes deliverable. */
	icr(&m, 1, 0, 0xb0);
	assert_int_equal(kicks[0], 1);
	icr(&m, 1, 0, 0xb1);
	assert_int_equal(kicks[0], 1);
	/* Pending and IF = 1: HLT does not halt. */
	assert_int_equal(mp_user_halt(m.u, 0, true), MP_STATE_RUNNABLE);
	assert_int_equal(take_eoi(&m, 0), 0xb1);
	assert_int_equal(take_eoi(&m, 0), 0xb0);
	/* HLT with IF = 1, woken by a fixed IPI. */
	assert_int_equal(mp_user_halt(m.u, 0, true), MP_STATE_HALTED);
	icr(&m, 1, 0, 0xb2);
	assert_int_equal(mp_user_state(m.u, 0), MP_STATE_RUNNABLE);
	assert_int_equal(got(&m, 0xb2), 1);
	/* Masked by the TPR: not deliverable, no wake-up. */
	mmio(&m, 0, LAPIC_TPR, 0xc0);
	assert_int_equal(mp_user_halt(m.u, 0, true), MP_STATE_HALTED);
	icr(&m, 1, 0, 0xb3);
	assert_int_equal(mp_user_state(m.u, 0), MP_STATE_HALTED);
	mmio(&m, 0, LAPIC_TPR, 0);
	assert_int_equal(mp_user_state(m.u, 0), MP_STATE_RUNNABLE);
	assert_int_equal(got(&m, 0xb3), 1);
	/* HLT with IF = 0: an interrupt does not wake it, an NMI does. */
	assert_int_equal(mp_user_halt(m.u, 0, false), MP_STATE_HALTED);
	icr(&m, 1, 0, 0xb4);
	assert_int_equal(mp_user_state(m.u, 0), MP_STATE_HALTED);
	icr(&m, 1, 0, LAPIC_DM_NMI << 8);
	assert_int_equal(mp_user_state(m.u, 0), MP_STATE_RUNNABLE);
	assert_true(apic_bus_take_nmi(m.b, 0));
	assert_int_equal(got(&m, 0xb4), 1);
	/* The APIC timer wakes a halted vCPU. */
	mmio(&m, 0, LAPIC_LVT_TIMER, 0xb5);
	mmio(&m, 0, LAPIC_TIMER_DIVIDE, 0xb);
	clk = 100;
	mmio(&m, 0, LAPIC_TIMER_INITIAL, 1000);
	assert_int_equal(apic_bus_timer_next(m.b, 0), 1100);
	assert_int_equal(apic_bus_next_deadline(m.b), 1100);
	assert_int_equal(mp_user_halt(m.u, 0, true), MP_STATE_HALTED);
	assert_int_equal(apic_bus_fire_timers(m.b, 1099), 0);
	assert_int_equal(mp_user_state(m.u, 0), MP_STATE_HALTED);
	assert_int_equal(apic_bus_fire_timers(m.b, 1100), 1);
	assert_int_equal(mp_user_state(m.u, 0), MP_STATE_RUNNABLE);
	assert_int_equal(apic_bus_next_deadline(m.b), LAPIC_TIMER_NONE);
	assert_int_equal(got(&m, 0xb5), 1);
	assert_int_equal(nwarn, 0);
	destroy(&m);
}

static void test_relocated_page_and_external(void **state)
{
	struct machine m = make(small_ids);
	uint32_t v;

	(void)state;
	/* An interrupt message from outside the APICs (an IOAPIC or MSI). */
	enable_all(&m);
	struct lapic_ipi ipi = { .dest = 2, .vector = 0xc0, .mode = LAPIC_DM_FIXED,
				 .assert = true };
	apic_bus_deliver(m.b, APIC_BUS_EXTERNAL, &ipi);
	assert_int_equal(got(&m, 0xc0), 0x04);
	ipi.shorthand = LAPIC_SH_SELF; /* no sender: no one */
	apic_bus_deliver(m.b, APIC_BUS_EXTERNAL, &ipi);
	assert_int_equal(got(&m, 0xc0), 0);
	/* Each APIC has its own base (IA32_APIC_BASE). */
	msr(&m, 1, LAPIC_MSR_APIC_BASE, 0xfed00000 | LAPIC_BASE_EN);
	assert_int_equal(apic_bus_mmio_read(m.b, 1, PAGE + LAPIC_ID, 4, &v), LAPIC_UNCLAIMED);
	assert_int_equal(apic_bus_mmio_read(m.b, 1, 0xfed00000 + LAPIC_ID, 4, &v), LAPIC_OK);
	assert_int_equal(v, 1u << 24);
	assert_int_equal(apic_bus_mmio_read(m.b, 0, PAGE + LAPIC_ID, 4, &v), LAPIC_OK);
	assert_int_equal(v, 0);
	assert_int_equal(apic_bus_mmio_read(m.b, 0, PAGE + 0x1000, 4, &v), LAPIC_UNCLAIMED);
	assert_int_equal(apic_bus_msr_write(m.b, 0, 0x10, 0), LAPIC_UNCLAIMED);
	assert_int_equal(apic_bus_mmio_read(m.b, N, PAGE, 4, &v), LAPIC_UNCLAIMED);
	/* The relocated page still works: cpu1 reads its TPR there. */
	assert_int_equal(apic_bus_mmio_write(m.b, 1, 0xfed00000 + LAPIC_TPR, 4, 0x20), LAPIC_OK);
	assert_int_equal(apic_bus_mmio_read(m.b, 1, 0xfed00000 + LAPIC_TPR, 4, &v), LAPIC_OK);
	assert_int_equal(v, 0x20);
	destroy(&m);
}


/* ---- snapshots ------------------------------------------------------------------------ */

static int bus_load(struct machine *m, const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct snap_dec d;

	snap_dec_init(&d, p, n);
	return apic_bus_load(m->b, &d, err, errlen);
}

static void test_snapshot_round_trip(void **state)
{
	struct machine m = make(small_ids), n;
	struct snap_enc e = { 0 };
	char err[256] = "";

	(void)state;
	enable_all(&m);
	icr(&m, 0, 2, 0x45);                                  /* pending at cpu 2 */
	msr(&m, 4, LAPIC_MSR_APIC_BASE, PAGE | LAPIC_BASE_EN | LAPIC_BASE_EXTD); /* x2APIC */
	mmio(&m, 1, LAPIC_LDR, 0x02000000);                    /* logical flat: bit 1 */
	mmio(&m, 3, LAPIC_LVT_TIMER, 0x66);
	clk = 50;
	mmio(&m, 3, LAPIC_TIMER_INITIAL, 1000);                /* divide by 2: due at 2050 */
	clk = 70;
	assert_int_equal(apic_bus_save(m.b, &e), 0);
	n = make(small_ids);
	clk = 70;
	if (bus_load(&n, e.buf, e.len, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	for (struct machine *x = &m;; x = &n) {
		assert_int_equal(lapic_mode(apic_bus_lapic(x->b, 4)), LAPIC_MODE_X2APIC);
		assert_int_equal(apic_bus_timer_next(x->b, 3), 2050);
		assert_int_equal(apic_bus_next_deadline(x->b), 2050);
		assert_int_equal(apic_bus_pending(x->b, 2), 0x45);
		assert_int_equal(got(x, 0x45), 1u << 2);
		/* Logical destination 0x02 reaches cpu 1 only, as the LDR says. */
		mmio(x, 0, LAPIC_ICR_HI, 0x02000000);
		mmio(x, 0, LAPIC_ICR_LO, LAPIC_ICR_LOGICAL | 0x46);
		assert_int_equal(got(x, 0x46), 1u << 1);
		assert_int_equal(apic_bus_fire_timers(x->b, 2050), 1);
		assert_int_equal(got(x, 0x66), 1u << 3);
		if (x == &n)
			break;
	}
	destroy(&n);
	destroy(&m);
	snap_enc_free(&e);
}

/* All or nothing: a damaged record anywhere leaves every APIC of the bus as it was. */
static void test_snapshot_refused(void **state)
{
	struct machine m = make(small_ids), n = make(small_ids);
	struct snap_enc e = { 0 };
	char err[256];

	(void)state;
	enable_all(&m);
	icr(&m, 0, 0, 0x45); /* pending at cpu 0, the first record */
	assert_int_equal(apic_bus_save(m.b, &e), 0);
	for (size_t len = 0; len < e.len; len++) {
		err[0] = 0;
		assert_int_equal(bus_load(&n, e.buf, len, err, sizeof(err)), -1);
		if (!strstr(err, "truncated"))
			fail_msg("at %zu: %s", len, err);
		assert_int_equal(apic_bus_pending(n.b, 0), -1);
	}
	uint8_t *copy = malloc(e.len + 1);
	assert_non_null(copy);
	memcpy(copy, e.buf, e.len);
	copy[e.len] = 0;
	assert_int_equal(bus_load(&n, copy, e.len + 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many"));
	/* Another machine's size (the count at offset 4), a foreign APIC ID in the last record. */
	copy[4] ^= 1;
	assert_int_equal(bus_load(&n, copy, e.len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "APICs"));
	copy[4] ^= 1;
	struct machine o = make((const uint32_t[N]){ 0, 1, 2, 4, 0x22 });
	assert_int_equal(bus_load(&o, copy, e.len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cpu 4"));
	assert_int_equal(apic_bus_pending(o.b, 0), -1);
	destroy(&o);
	assert_int_equal(apic_bus_pending(n.b, 0), -1);
	assert_int_equal(bus_load(&n, copy, e.len, err, sizeof(err)), 0);
	assert_int_equal(apic_bus_pending(n.b, 0), 0x45);
	free(copy);
	destroy(&n);
	destroy(&m);
	snap_enc_free(&e);
}

static void test_msi_and_eoi_broadcast(void **state)
{
	struct machine m = make(small_ids);

	(void)state;
	enable_all(&m);
	/* Physical destination 1, fixed, edge: IRR, no TMR, no broadcast on EOI. */
	apic_bus_msi(m.b, 0xfee01000u, 0x4031u);
	assert_int_equal(got(&m, 0x31), 0x02);
	assert_int_equal(neoi, 0);
	/* Level-triggered, logical flat destination 0x06 (LDRs set below). */
	mmio(&m, 1, LAPIC_LDR, 0x02000000u);
	mmio(&m, 2, LAPIC_LDR, 0x04000000u);
	apic_bus_msi(m.b, 0xfee06004u, 0xc041u);
	int v = apic_bus_take_interrupt(m.b, 2);
	assert_int_equal(v, 0x41);
	assert_true(lapic_pending(apic_bus_lapic(m.b, 1)) == 0x41);
	/* cpu 2's EOI of a level-triggered vector goes out once, with the vector; the
	 * callback delivers again (to cpu 0) without deadlocking. */
	eoi_bus = m.b;
	mmio(&m, 2, LAPIC_EOI, 0);
	assert_int_equal(neoi, 1);
	assert_int_equal(eois[0], 0x41);
	assert_int_equal(lapic_pending(apic_bus_lapic(m.b, 0)), 0x41);
	eoi_bus = NULL;
	/* NMI and INIT by message; ExtINT is refused with a warning. */
	apic_bus_msi(m.b, 0xfee00000u, 0x4400u);
	assert_true(apic_bus_take_nmi(m.b, 0));
	apic_bus_msi(m.b, 0xfee04000u, 0x4700u);
	assert_int_equal(nwarn, 1);
	assert_non_null(strstr(last_warn, "ExtINT"));
	destroy(&m);
}

static void test_extint_lint0(void **state)
{
	struct machine m = make(small_ids);

	(void)state;
	/* Virtual wire on the BSP after RESET: LINT0 ExtINT, unmasked; the APs' masked. */
	uint32_t lint0 = 0;
	apic_bus_mmio_read(m.b, 0, PAGE + LAPIC_LVT_LINT0, 4, &lint0);
	assert_int_equal(lint0, 0x700);
	apic_bus_mmio_read(m.b, 1, PAGE + LAPIC_LVT_LINT0, 4, &lint0);
	assert_int_equal(lint0, LAPIC_LVT_MASKED);
	assert_false(apic_bus_extint(m.b, 0));
	/* INTR high: the BSP (halted with IF = 1) wakes; the APs do not take it. */
	assert_int_equal(mp_user_halt(m.u, 0, true), MP_STATE_HALTED);
	apic_bus_set_extint(m.b, true);
	assert_int_equal(mp_user_state(m.u, 0), MP_STATE_RUNNABLE);
	assert_true(apic_bus_extint(m.b, 0));
	assert_false(apic_bus_extint(m.b, 1));
	/* LINT0 masked by the guest: no longer. */
	mmio(&m, 0, LAPIC_SVR, 0x1ff);
	mmio(&m, 0, LAPIC_LVT_LINT0, 0x700 | LAPIC_LVT_MASKED);
	assert_false(apic_bus_extint(m.b, 0));
	/* An AP in virtual wire mode takes it; a hardware-disabled APIC passes INTR through. */
	mmio(&m, 1, LAPIC_SVR, 0x1ff);
	mmio(&m, 1, LAPIC_LVT_LINT0, 0x700);
	assert_true(apic_bus_extint(m.b, 1));
	msr(&m, 2, LAPIC_MSR_APIC_BASE, PAGE);
	assert_true(apic_bus_extint(m.b, 2));
	apic_bus_set_extint(m.b, false);
	assert_false(apic_bus_extint(m.b, 1));
	assert_false(apic_bus_extint(m.b, 2));
	assert_false(apic_bus_extint(m.b, N));
	/* INIT puts the BSP's LINT0 back in virtual wire mode (as KVM does). */
	icr(&m, 1, 0, LAPIC_DM_INIT << 8 | LAPIC_ICR_ASSERT);
	apic_bus_entered(m.b, 0); /* restarted: its accesses are served again */
	apic_bus_mmio_read(m.b, 0, PAGE + LAPIC_LVT_LINT0, 4, &lint0);
	assert_int_equal(lint0, 0x700);
	destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_physical_xapic),
		cmocka_unit_test(test_logical_flat),
		cmocka_unit_test(test_logical_cluster),
		cmocka_unit_test(test_x2apic_destinations),
		cmocka_unit_test(test_shorthands),
		cmocka_unit_test(test_lowest_priority),
		cmocka_unit_test(test_disabled_apics),
		cmocka_unit_test(test_init_overtakes_access),
		cmocka_unit_test(test_halt_wakeups),
		cmocka_unit_test(test_relocated_page_and_external),
		cmocka_unit_test(test_snapshot_round_trip),
		cmocka_unit_test(test_snapshot_refused),
		cmocka_unit_test(test_msi_and_eoi_broadcast),
		cmocka_unit_test(test_extint_lint0),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
