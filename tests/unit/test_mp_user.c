/*
 * test_mp_user.c - the MP state machine mpvmm keeps itself, without a CPU: the SDM 8.4
 * transitions it allows and those it refuses, INIT-SIPI-SIPI for four vCPUs driven through
 * ICR writes with the trace checked event by event, INIT to the BSP, SIPI storms, the
 * missing-SIPI timeout, the single-thread scheduler queries, and vCPU threads blocked in
 * mp_user_wait_runnable being started, kicked, woken and stopped, and snapshots taken in
 * the middle of the MP protocol (restored, the protocol goes on; damaged, refused).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>

#include <cmocka.h>

#include "mp/apic_bus.h"
#include "mp/mp_user.h"
#include "snapshot/snapfile.h"

#define MAXCPU 8
#define PAGE LAPIC_DEFAULT_BASE

static _Atomic uint64_t clk;
static _Atomic unsigned nwarn;
static _Atomic unsigned kicks[MAXCPU];
static char last_warn[256];
static pthread_mutex_t warn_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t fake_now(void *ctx)
{
	(void)ctx;
	return atomic_load(&clk);
}

static void count_warn(void *ctx, const char *msg)
{
	(void)ctx;
	pthread_mutex_lock(&warn_lock);
	strncpy(last_warn, msg, sizeof(last_warn) - 1);
	pthread_mutex_unlock(&warn_lock);
	atomic_fetch_add(&nwarn, 1);
}

static void count_kick(void *ctx, uint32_t cpu)
{
	(void)ctx;
	atomic_fetch_add(&kicks[cpu], 1);
}

static int exec_direct(void *ctx, uint32_t cpu, void (*fn)(void *), void *arg)
{
	(void)ctx;
	(void)cpu;
	fn(arg);
	return 0;
}

struct machine {
	uint32_t n;
	struct mp_user *u;
	struct apic_bus *b;
	struct mp *mp;
};

#define SIPI_TIMEOUT_NS 200000000ull

static struct machine make(uint32_t n)
{
	struct mp_cpu cpus[MAXCPU];
	struct machine m = { .n = n };

	atomic_store(&clk, 0);
	atomic_store(&nwarn, 0);
	last_warn[0] = 0;
	for (int i = 0; i < MAXCPU; i++)
		atomic_store(&kicks[i], 0);
	struct mp_user_config uc = {
		.ncpus = n, .bsp = 0, .sipi_timeout_ns = SIPI_TIMEOUT_NS, .now_ns = fake_now,
		.warn = count_warn, .kick = count_kick,
	};
	m.u = mp_user_create(&uc);
	assert_non_null(m.u);
	/* APIC IDs with gaps (index i has ID 2i): the trace speaks of indices, not IDs. */
	for (uint32_t i = 0; i < n; i++)
		cpus[i] = (struct mp_cpu){ .apic_id = 2 * i, .bsp = i == 0,
					   .backend_ctx = mp_user_backend_ctx(m.u, i) };
	struct apic_bus_config bc = {
		.ncpus = n, .cpus = cpus, .now_ns = fake_now, .warn = count_warn, .mp = m.u,
	};
	m.b = apic_bus_create(&bc);
	assert_non_null(m.b);
	m.mp = mp_create(n, cpus, &mp_user_backend, exec_direct, NULL, mp_now_ns());
	assert_non_null(m.mp);
	mp_user_attach(m.u, m.mp);
	return m;
}

static void destroy(struct machine *m)
{
	apic_bus_destroy(m->b);
	mp_user_destroy(m->u);
	mp_destroy(m->mp);
}

static void icr(struct machine *m, uint32_t from, uint32_t dest_id, uint32_t lo)
{
	assert_int_equal(apic_bus_mmio_write(m->b, from, PAGE + LAPIC_ICR_HI, 4, dest_id << 24),
			 LAPIC_OK);
	assert_int_equal(apic_bus_mmio_write(m->b, from, PAGE + LAPIC_ICR_LO, 4, lo), LAPIC_OK);
}

/* ICR values as Linux and the SDM's example sequence (8.4.4.1) write them. */
#define INIT_ASSERT 0x0000c500u   /* INIT, level-triggered, assert   */
#define INIT_DEASSERT 0x00008500u /* INIT, level-triggered, de-assert */
#define SIPI(v) (0x00000600u | (v))

static size_t events(struct machine *m, uint32_t cpu, struct trace_event *ev, size_t max)
{
	return trace_copy(mp_trace(m->mp), cpu, ev, max);
}

static void expect_state(const struct trace_event *e, enum mp_state s)
{
	assert_int_equal(e->kind, TRACE_STATE);
	assert_int_equal(e->state, s);
	assert_int_equal(e->source, TRACE_EXACT);
}

static void expect_ipi(const struct trace_event *e, enum trace_kind k, uint32_t from, uint8_t v)
{
	assert_int_equal(e->kind, k);
	assert_int_equal(e->from, from);
	assert_int_equal(e->vector, v);
	assert_int_equal(e->source, TRACE_EXACT);
}

static void test_initial_states_and_backend(void **state)
{
	struct machine m = make(3);
	struct trace_event ev[8];
	enum mp_state s;

	(void)state;
	assert_int_equal(mp_user_state(m.u, 0), MP_STATE_RUNNABLE);
	assert_int_equal(mp_user_state(m.u, 1), MP_STATE_UNINITIALIZED);
	assert_int_equal(mp_user_state(m.u, 3), MP_STATE_COUNT);
	assert_int_equal(events(&m, 0, ev, 8), 1);
	expect_state(&ev[0], MP_STATE_RUNNABLE);
	assert_int_equal(events(&m, 2, ev, 8), 1);
	expect_state(&ev[0], MP_STATE_UNINITIALIZED);
	/* Through the one MP-state interface. */
	assert_string_equal(mp_backend_name(m.mp), "user");
	assert_int_equal(mp_get(m.mp, 1, &s), 0);
	assert_int_equal(s, MP_STATE_UNINITIALIZED);
	assert_int_equal(mp_set(m.mp, 1, MP_STATE_INIT_RECEIVED), 0);
	assert_int_equal(mp_user_state(m.u, 1), MP_STATE_INIT_RECEIVED);
	assert_int_equal(mp_user_poll(m.u, 1), MP_USER_BLOCKED);
	assert_int_equal(mp_set(m.mp, 1, MP_STATE_SIPI_RECEIVED), 0);
	assert_int_equal(mp_user_poll(m.u, 1), MP_USER_START);
	assert_int_equal(mp_set(m.mp, 0, MP_STATE_HALTED), 0);
	assert_int_equal(atomic_load(&kicks[0]), 1); /* it was running: it must stop */
	assert_int_equal(events(&m, 1, ev, 8), 3);
	expect_state(&ev[2], MP_STATE_SIPI_RECEIVED);
	destroy(&m);
}

static void check_ap_trace(struct machine *m, uint32_t cpu, uint8_t vector)
{
	struct trace_event ev[16];

	assert_int_equal(events(m, cpu, ev, 16), 7);
	expect_state(&ev[0], MP_STATE_UNINITIALIZED);
	expect_ipi(&ev[1], TRACE_INIT, 0, 0);
	expect_state(&ev[2], MP_STATE_INIT_RECEIVED);
	expect_ipi(&ev[3], TRACE_SIPI, 0, vector);
	expect_state(&ev[4], MP_STATE_SIPI_RECEIVED);
	expect_ipi(&ev[5], TRACE_SIPI, 0, vector); /* the second SIPI: recorded, ignored */
	expect_state(&ev[6], MP_STATE_RUNNABLE);
	for (int i = 0; i < 7; i++) {
		assert_int_equal(ev[i].cpu, cpu);
		if (i)
			assert_true(ev[i].t_ns >= ev[i - 1].t_ns);
	}
}

static void take_and_check_sipi(struct machine *m, uint32_t cpu, uint8_t vector)
{
	struct x86_regs r;
	struct x86_sregs s;

	assert_int_equal(mp_user_poll(m->u, cpu), MP_USER_START);
	assert_int_equal(mp_user_take_sipi(m->u, cpu, &r, &s), MP_USER_START_SIPI);
	assert_int_equal(s.cs.selector, vector << 8);
	assert_int_equal(s.cs.base, (uint64_t)vector << 12);
	assert_int_equal(r.rip, 0);
	assert_int_equal(mp_user_state(m->u, cpu), MP_STATE_RUNNABLE);
	assert_int_equal(mp_user_poll(m->u, cpu), MP_USER_RUN);
	assert_int_equal(mp_user_take_sipi(m->u, cpu, &r, &s), MP_USER_START_NONE);
}

static void test_init_sipi_sipi_four_cpus(void **state)
{
	struct machine m = make(4);

	(void)state;
	assert_int_equal(apic_bus_mmio_write(m.b, 0, PAGE + LAPIC_SVR, 4, 0x1ff), LAPIC_OK);
	for (uint32_t ap = 1; ap < 4; ap++) {
		icr(&m, 0, 2 * ap, INIT_ASSERT);
		assert_int_equal(mp_user_state(m.u, ap), MP_STATE_INIT_RECEIVED);
		icr(&m, 0, 2 * ap, INIT_DEASSERT);
		assert_int_equal(mp_user_state(m.u, ap), MP_STATE_INIT_RECEIVED);
		icr(&m, 0, 2 * ap, SIPI(0x08));
		assert_int_equal(mp_user_state(m.u, ap), MP_STATE_SIPI_RECEIVED);
		icr(&m, 0, 2 * ap, SIPI(0x08));
		take_and_check_sipi(&m, ap, 0x08);
	}
	for (uint32_t ap = 1; ap < 4; ap++)
		check_ap_trace(&m, ap, 0x08);
	struct trace_event ev[4];
	assert_int_equal(events(&m, 0, ev, 4), 1); /* the BSP just ran */
	assert_int_equal(atomic_load(&nwarn), 0);
	destroy(&m);
}

static void test_init_sipi_sipi_broadcast(void **state)
{
	struct machine m = make(4);
	const uint32_t others = LAPIC_SH_OTHERS << 18;

	(void)state;
	/* As firmware does it: all excluding self, from a still software-disabled APIC. */
	icr(&m, 0, 0, others | INIT_ASSERT);
	icr(&m, 0, 0, others | INIT_DEASSERT);
	icr(&m, 0, 0, others | SIPI(0x9f));
	icr(&m, 0, 0, others | SIPI(0x9f));
	assert_int_equal(mp_user_state(m.u, 0), MP_STATE_RUNNABLE);
	for (uint32_t ap = 1; ap < 4; ap++)
		take_and_check_sipi(&m, ap, 0x9f);
	for (uint32_t ap = 1; ap < 4; ap++)
		check_ap_trace(&m, ap, 0x9f);
	/* Four sends from a software-disabled APIC: delivered, each with a warning. */
	assert_int_equal(atomic_load(&nwarn), 4);
	assert_non_null(strstr(last_warn, "software-disabled"));
	destroy(&m);
}

static void test_forbidden_sipis(void **state)
{
	struct machine m = make(3);
	struct trace_event ev[8];

	(void)state;
	/* SIPI in UNINITIALIZED: ignored, with a warning; recorded, no state change. */
	mp_user_sipi(m.u, 1, 0, 0x10);
	assert_int_equal(mp_user_state(m.u, 1), MP_STATE_UNINITIALIZED);
	assert_int_equal(atomic_load(&nwarn), 1);
	assert_non_null(strstr(last_warn, "UNINITIALIZED"));
	assert_int_equal(events(&m, 1, ev, 8), 2);
	expect_ipi(&ev[1], TRACE_SIPI, 0, 0x10);
	/* SIPI in RUNNABLE: the BSP (and an AP beyond the expected second SIPI). */
	assert_false(mp_user_sipi(m.u, 0, 1, 0x10));
	assert_int_equal(atomic_load(&nwarn), 2);
	mp_user_init(m.u, 2, 0);
	assert_true(mp_user_sipi(m.u, 2, 0, 0x20));
	assert_false(mp_user_sipi(m.u, 2, 0, 0x30)); /* second: silent */
	assert_int_equal(atomic_load(&nwarn), 2);
	assert_false(mp_user_sipi(m.u, 2, 0, 0x30)); /* third, still SIPI_RECEIVED: warned */
	assert_int_equal(atomic_load(&nwarn), 3);
	struct x86_regs r;
	struct x86_sregs s;
	assert_int_equal(mp_user_take_sipi(m.u, 2, &r, &s), MP_USER_START_SIPI);
	assert_int_equal(s.cs.base, 0x20000); /* the first vector stays latched */
	assert_false(mp_user_sipi(m.u, 2, 0, 0x30));
	assert_int_equal(atomic_load(&nwarn), 4);
	assert_non_null(strstr(last_warn, "RUNNABLE"));
	/* SIPI does not wake HLT: only INIT_RECEIVED takes one. */
	assert_int_equal(mp_user_halt(m.u, 2, true), MP_STATE_HALTED);
	assert_false(mp_user_sipi(m.u, 2, 0, 0x30));
	assert_int_equal(mp_user_state(m.u, 2), MP_STATE_HALTED);
	assert_int_equal(atomic_load(&nwarn), 5);
	destroy(&m);
}

static void test_init_transitions(void **state)
{
	struct machine m = make(3);
	struct trace_event ev[16];
	struct x86_regs r;
	struct x86_sregs s;

	(void)state;
	assert_int_equal(apic_bus_mmio_write(m.b, 1, PAGE + LAPIC_SVR, 4, 0x1ff), LAPIC_OK);
	/* INIT to a halted AP: back to INIT_RECEIVED. */
	icr(&m, 0, 2, INIT_ASSERT);
	icr(&m, 0, 2, SIPI(0x01));
	assert_int_equal(mp_user_take_sipi(m.u, 1, &r, &s), MP_USER_START_SIPI);
	assert_int_equal(mp_user_halt(m.u, 1, false), MP_STATE_HALTED);
	icr(&m, 0, 2, INIT_ASSERT);
	assert_int_equal(mp_user_state(m.u, 1), MP_STATE_INIT_RECEIVED);
	/* ...and its APIC was reset: software-disabled again, ID kept (as its next entry into
	 * the guest reads it: until then apic_bus squashes its accesses). */
	uint32_t v;
	apic_bus_entered(m.b, 1);
	assert_int_equal(apic_bus_mmio_read(m.b, 1, PAGE + LAPIC_SVR, 4, &v), LAPIC_OK);
	assert_int_equal(v, 0xff);
	assert_int_equal(apic_bus_mmio_read(m.b, 1, PAGE + LAPIC_ID, 4, &v), LAPIC_OK);
	assert_int_equal(v, 2u << 24);
	/* INIT de-assert changes nothing and is not an INIT. */
	size_t before = events(&m, 1, ev, 16);
	icr(&m, 0, 2, INIT_DEASSERT);
	assert_int_equal(events(&m, 1, ev, 16), before);
	assert_int_equal(mp_user_state(m.u, 1), MP_STATE_INIT_RECEIVED);
	/* An INIT to a RUNNABLE AP kicks it out of the guest. */
	icr(&m, 0, 2, SIPI(0x02));
	mp_user_take_sipi(m.u, 1, &r, &s);
	unsigned k = atomic_load(&kicks[1]);
	icr(&m, 0, 2, INIT_ASSERT);
	assert_int_equal(atomic_load(&kicks[1]), k + 1);
	assert_int_equal(mp_user_poll(m.u, 1), MP_USER_BLOCKED);

	/* INIT to the BSP (8.4.2): BSP flag kept, restart at the reset vector, no SIPI wait.
	 * (Sent by cpu 1 as if it had run again: an access of the INITed cpu is squashed.) */
	k = atomic_load(&kicks[0]);
	apic_bus_entered(m.b, 1);
	icr(&m, 1, 0, INIT_ASSERT);
	assert_int_equal(atomic_load(&kicks[0]), k + 1);
	assert_int_equal(mp_user_state(m.u, 0), MP_STATE_RUNNABLE);
	assert_int_equal(mp_user_poll(m.u, 0), MP_USER_START);
	assert_int_equal(mp_user_take_sipi(m.u, 0, &r, &s), MP_USER_START_RESET);
	assert_int_equal(s.cs.selector, 0xf000);
	assert_int_equal(s.cs.base, 0xffff0000);
	assert_int_equal(r.rip, 0xfff0);
	apic_bus_entered(m.b, 0);
	uint64_t base;
	assert_int_equal(apic_bus_msr_read(m.b, 0, LAPIC_MSR_APIC_BASE, &base), LAPIC_OK);
	assert_int_equal(base, PAGE | LAPIC_BASE_EN | LAPIC_BASE_BSP);
	size_t n = events(&m, 0, ev, 16);
	assert_int_equal(n, 2);
	expect_ipi(&ev[1], TRACE_INIT, 1, 0);
	/* The BSP is not waiting for a SIPI: one is ignored. */
	assert_int_equal(apic_bus_mmio_write(m.b, 1, PAGE + LAPIC_SVR, 4, 0x1ff), LAPIC_OK);
	unsigned w = atomic_load(&nwarn);
	icr(&m, 1, 0, SIPI(0x03));
	assert_int_equal(atomic_load(&nwarn), w + 1);
	assert_non_null(strstr(last_warn, "cpu 0: SIPI vector 0x3 from cpu 1 ignored"));
	assert_int_equal(mp_user_poll(m.u, 0), MP_USER_RUN);
	destroy(&m);
}

static void test_sipi_and_init_storms(void **state)
{
	struct machine m = make(2);

	(void)state;
	mp_user_init(m.u, 1, 0);
	for (int i = 0; i < 10000; i++)
		mp_user_sipi(m.u, 1, 0, (uint8_t)i);
	assert_int_equal(mp_user_state(m.u, 1), MP_STATE_SIPI_RECEIVED);
	assert_int_equal(atomic_load(&nwarn), 9998); /* all but the latched and the second */
	assert_true(trace_dropped(mp_trace(m.mp), 1) > 0);
	struct x86_regs r;
	struct x86_sregs s;
	assert_int_equal(mp_user_take_sipi(m.u, 1, &r, &s), MP_USER_START_SIPI);
	assert_int_equal(s.cs.base, 0);
	/* INITs from everyone, at every state, in any order: always INIT_RECEIVED. */
	for (int i = 0; i < 1000; i++) {
		icr(&m, (uint32_t)i & 1, 2, INIT_ASSERT);
		if (i % 3 == 0)
			mp_user_halt(m.u, 1, i & 1);
		assert_int_equal(mp_user_state(m.u, 1), MP_STATE_INIT_RECEIVED);
	}
	destroy(&m);
}

static void test_sipi_timeout(void **state)
{
	struct machine m = make(3);

	(void)state;
	atomic_store(&clk, 1000);
	mp_user_init(m.u, 1, 0);
	mp_user_init(m.u, 2, 0);
	mp_user_sipi(m.u, 2, 0, 0x08);
	assert_int_equal(mp_user_tick(m.u, 1000 + SIPI_TIMEOUT_NS - 1), 0);
	assert_int_equal(atomic_load(&nwarn), 0);
	assert_int_equal(mp_user_tick(m.u, 1000 + SIPI_TIMEOUT_NS), 1);
	assert_int_equal(atomic_load(&nwarn), 1);
	assert_non_null(strstr(last_warn, "cpu 1: INIT received 200 ms ago"));
	assert_int_equal(mp_user_tick(m.u, 1000 + 5 * SIPI_TIMEOUT_NS), 0); /* once per INIT */
	/* A new INIT restarts the clock. */
	atomic_store(&clk, 10 * SIPI_TIMEOUT_NS);
	mp_user_init(m.u, 1, 0);
	assert_int_equal(mp_user_tick(m.u, 10 * SIPI_TIMEOUT_NS + 1), 0);
	assert_int_equal(mp_user_tick(m.u, 11 * SIPI_TIMEOUT_NS), 1);
	destroy(&m);
}

static void test_halt_and_pending(void **state)
{
	struct machine m = make(2);

	(void)state;
	/* HLT outside RUNNABLE changes nothing; an out-of-range vCPU is refused. */
	assert_int_equal(mp_user_halt(m.u, 1, true), MP_STATE_UNINITIALIZED);
	assert_int_equal(mp_user_halt(m.u, 7, true), MP_STATE_COUNT);
	/* An NMI waiting: HLT does not halt even with IF = 0. */
	mp_user_set_pending(m.u, 0, false, true);
	assert_int_equal(mp_user_halt(m.u, 0, false), MP_STATE_RUNNABLE);
	mp_user_set_pending(m.u, 0, true, false);
	assert_int_equal(mp_user_halt(m.u, 0, false), MP_STATE_HALTED);
	mp_user_set_pending(m.u, 0, false, true);
	assert_int_equal(mp_user_state(m.u, 0), MP_STATE_RUNNABLE);
	/* NMI only for a vCPU that runs or halts. */
	assert_true(mp_user_nmi_allowed(m.u, 0));
	assert_false(mp_user_nmi_allowed(m.u, 1));
	mp_user_init(m.u, 1, 0);
	assert_false(mp_user_nmi_allowed(m.u, 1));
	destroy(&m);
}

static void test_single_thread_scheduling(void **state)
{
	struct machine m = make(4);
	struct x86_regs r;
	struct x86_sregs s;

	(void)state;
	assert_int_equal(mp_user_next_runnable(m.u, 0), 0);
	assert_int_equal(mp_user_next_runnable(m.u, 3), 0);
	mp_user_init(m.u, 2, 0);
	mp_user_sipi(m.u, 2, 0, 0x08);
	assert_int_equal(mp_user_next_runnable(m.u, 0), 2);
	assert_int_equal(mp_user_next_runnable(m.u, 2), 0);
	assert_int_equal(mp_user_poll(m.u, 2), MP_USER_START);
	mp_user_take_sipi(m.u, 2, &r, &s);
	assert_int_equal(mp_user_halt(m.u, 0, true), MP_STATE_HALTED);
	assert_int_equal(mp_user_next_runnable(m.u, 2), 2);
	assert_int_equal(mp_user_halt(m.u, 2, true), MP_STATE_HALTED);
	assert_int_equal(mp_user_next_runnable(m.u, 2), -1); /* all idle: advance time */
	assert_int_equal(mp_user_poll(m.u, 0), MP_USER_BLOCKED);
	mp_user_set_pending(m.u, 0, true, false);
	assert_int_equal(mp_user_next_runnable(m.u, 2), 0);
	mp_user_kick(m.u, 0);
	assert_int_equal(mp_user_poll(m.u, 0), MP_USER_KICKED);
	assert_int_equal(mp_user_poll(m.u, 0), MP_USER_RUN);
	mp_user_stop(m.u);
	assert_int_equal(mp_user_poll(m.u, 0), MP_USER_STOPPED);
	assert_int_equal(mp_user_poll(m.u, 9), MP_USER_STOPPED);
	destroy(&m);
}

static void test_start_state_table_9_1(void **state)
{
	struct x86_regs r;
	struct x86_sregs s;

	(void)state;
	memset(&r, 0xa5, sizeof(r));
	memset(&s, 0xa5, sizeof(s));
	mp_user_start_state(MP_USER_START_SIPI, 0x9f, 0x806c1, &r, &s);
	assert_int_equal(r.rip, 0);
	assert_int_equal(r.rflags, 2);
	assert_int_equal(r.rdx, 0x806c1);
	assert_int_equal(r.rax, 0);
	assert_int_equal(r.rsp, 0);
	assert_int_equal(s.cs.selector, 0x9f00);
	assert_int_equal(s.cs.base, 0x9f000);
	assert_int_equal(s.cs.limit, 0xffff);
	assert_int_equal(s.cs.type, 0xb);
	assert_int_equal(s.cs.present, 1);
	assert_int_equal(s.cs.s, 1);
	assert_int_equal(s.cs.db, 0);
	assert_int_equal(s.cs.l, 0);
	const struct x86_segment *data[] = { &s.ds, &s.es, &s.fs, &s.gs, &s.ss };
	for (int i = 0; i < 5; i++) {
		assert_int_equal(data[i]->selector, 0);
		assert_int_equal(data[i]->base, 0);
		assert_int_equal(data[i]->limit, 0xffff);
		assert_int_equal(data[i]->type, 3);
		assert_int_equal(data[i]->present, 1);
	}
	assert_int_equal(s.ldt.type, 2);
	assert_int_equal(s.tr.type, 0xb);
	assert_int_equal(s.gdt.base, 0);
	assert_int_equal(s.gdt.limit, 0xffff);
	assert_int_equal(s.idt.limit, 0xffff);
	assert_int_equal(s.cr0, 0x60000010);
	assert_int_equal(s.cr3, 0);
	assert_int_equal(s.cr4, 0);
	assert_int_equal(s.efer, 0);
	mp_user_start_state(MP_USER_START_RESET, 0x9f, 0x600, &r, &s);
	assert_int_equal(r.rip, 0xfff0);
	assert_int_equal(s.cs.selector, 0xf000);
	assert_int_equal(s.cs.base, 0xffff0000);
}

/* ---- threads: one per AP, as the KVM backend without an in-kernel irqchip runs them ---- */

#define NTHREAD 8

struct ap_thread {
	struct machine *m;
	uint32_t cpu;
	pthread_t tid;
	_Atomic int kicked, started, interrupts;
	_Atomic uint16_t cs;
};

static void *ap_loop(void *arg)
{
	struct ap_thread *t = arg;
	struct x86_regs r;
	struct x86_sregs s;

	for (;;) {
		switch (mp_user_wait_runnable(t->m->u, t->cpu, NULL)) {
		case MP_USER_STOPPED:
			return NULL;
		case MP_USER_KICKED:
			atomic_fetch_add(&t->kicked, 1);
			break;
		case MP_USER_START:
			if (mp_user_take_sipi(t->m->u, t->cpu, &r, &s) == MP_USER_START_SIPI) {
				atomic_store(&t->cs, s.cs.selector);
				apic_bus_entered(t->m->b, t->cpu); /* as irqchip/user.c enters */
				/* The guest enables its APIC, then halts with IF = 1. */
				apic_bus_mmio_write(t->m->b, t->cpu, PAGE + LAPIC_SVR, 4, 0x1ff);
				atomic_fetch_add(&t->started, 1);
			}
			break;
		case MP_USER_RUN: {
			int v = apic_bus_take_interrupt(t->m->b, t->cpu);
			if (v >= 0) {
				apic_bus_mmio_write(t->m->b, t->cpu, PAGE + LAPIC_EOI, 4, 0);
				atomic_fetch_add(&t->interrupts, 1);
			}
			mp_user_halt(t->m->u, t->cpu, true);
			break;
		}
		default:
			break;
		}
	}
}

/* Wait (bounded) until every AP thread's counter reaches `want`. */
static void wait_all(struct ap_thread *t, size_t field, int want)
{
	for (int tries = 0; tries < 5000; tries++) {
		int ok = 1;
		for (uint32_t i = 1; i < NTHREAD; i++)
			ok &= atomic_load((_Atomic int *)((char *)&t[i] + field)) >= want;
		if (ok)
			return;
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	fail_msg("AP threads did not get there in 5 s");
}

static void test_threads_wait_kick_start_stop(void **state)
{
	struct machine m = make(NTHREAD);
	struct ap_thread t[NTHREAD];

	(void)state;
	memset(t, 0, sizeof(t));
	for (uint32_t i = 1; i < NTHREAD; i++) {
		t[i].m = &m;
		t[i].cpu = i;
		assert_int_equal(pthread_create(&t[i].tid, NULL, ap_loop, &t[i]), 0);
	}
	/* Blocked in UNINITIALIZED: a kick wakes each waiter once. */
	for (uint32_t i = 1; i < NTHREAD; i++)
		mp_user_kick(m.u, i);
	wait_all(t, offsetof(struct ap_thread, kicked), 1);
	/* INIT-SIPI-SIPI from the BSP to all others: every thread starts at 0x10:0. */
	const uint32_t others = LAPIC_SH_OTHERS << 18;
	assert_int_equal(apic_bus_mmio_write(m.b, 0, PAGE + LAPIC_SVR, 4, 0x1ff), LAPIC_OK);
	icr(&m, 0, 0, others | INIT_ASSERT);
	icr(&m, 0, 0, others | SIPI(0x10));
	icr(&m, 0, 0, others | SIPI(0x10));
	wait_all(t, offsetof(struct ap_thread, started), 1);
	for (uint32_t i = 1; i < NTHREAD; i++)
		assert_int_equal(atomic_load(&t[i].cs), 0x1000);
	/* Fixed IPIs to everyone wake the halted threads; repeat to race HLT with delivery. */
	for (int round = 1; round <= 20; round++) {
		icr(&m, 0, 0, others | 0x40);
		wait_all(t, offsetof(struct ap_thread, interrupts), round);
	}
	mp_user_stop(m.u);
	for (uint32_t i = 1; i < NTHREAD; i++)
		assert_int_equal(pthread_join(t[i].tid, NULL), 0);
	for (uint32_t i = 1; i < NTHREAD; i++)
		assert_int_equal(atomic_load(&t[i].started), 1);
	assert_int_equal(atomic_load(&nwarn), 0);
	destroy(&m);
}

static void test_wait_timeout(void **state)
{
	struct machine m = make(2);
	struct timespec abs;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &abs);
	abs.tv_nsec += 20000000;
	if (abs.tv_nsec >= 1000000000) {
		abs.tv_sec++;
		abs.tv_nsec -= 1000000000;
	}
	assert_int_equal(mp_user_wait_runnable(m.u, 1, &abs), MP_USER_TIMEOUT);
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	assert_true(now.tv_sec > abs.tv_sec ||
		    (now.tv_sec == abs.tv_sec && now.tv_nsec >= abs.tv_nsec));
	/* A runnable vCPU does not wait at all. */
	assert_int_equal(mp_user_wait_runnable(m.u, 0, &abs), MP_USER_RUN);
	destroy(&m);
}


/* ---- snapshots ------------------------------------------------------------------------ */

#define MS 1000000ull

/*
 * Four vCPUs mid-protocol: the BSP halted with IF = 1, cpu 1 in INIT_RECEIVED for 150 ms,
 * cpu 2 with a SIPI latched (vector 0x9a), cpu 3 never started.
 */
static struct machine mid_protocol(void)
{
	struct machine m = make(4);

	assert_int_equal(apic_bus_mmio_write(m.b, 0, PAGE + LAPIC_SVR, 4, 0x1ff), LAPIC_OK);
	atomic_store(&clk, 1 * MS);
	icr(&m, 0, 2, INIT_ASSERT);
	icr(&m, 0, 4, INIT_ASSERT);
	icr(&m, 0, 4, SIPI(0x9a));
	assert_int_equal(mp_user_halt(m.u, 0, true), MP_STATE_HALTED);
	atomic_store(&clk, 151 * MS);
	return m;
}

static void save_both(struct machine *m, struct snap_enc *bus, struct snap_enc *mp)
{
	*bus = (struct snap_enc){ 0 };
	*mp = (struct snap_enc){ 0 };
	assert_int_equal(apic_bus_save(m->b, bus), 0);
	assert_int_equal(mp_user_save(m->u, mp), 0);
}

static int machine_load(struct machine *m, const uint8_t *p, size_t n, char *err, size_t errlen)
{
	struct snap_dec d;

	snap_dec_init(&d, p, n);
	return mp_user_load(m->u, &d, err, errlen);
}

static void test_snapshot_mid_protocol(void **state)
{
	struct snap_enc bus, mp;
	struct trace_event ev[8];
	struct x86_regs r;
	struct x86_sregs s;
	char err[256] = "";
	struct snap_dec d;

	(void)state;
	struct machine m = mid_protocol();
	save_both(&m, &bus, &mp);
	struct machine n = make(4);
	atomic_store(&clk, 151 * MS);
	snap_dec_init(&d, bus.buf, bus.len);
	assert_int_equal(apic_bus_load(n.b, &d, err, sizeof(err)), 0);
	if (machine_load(&n, mp.buf, mp.len, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	static const enum mp_state want[4] = { MP_STATE_HALTED, MP_STATE_INIT_RECEIVED,
					       MP_STATE_SIPI_RECEIVED, MP_STATE_UNINITIALIZED };
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(mp_user_state(n.u, i), want[i]);
		/* The trace of the new machine goes on from the loaded states. */
		size_t k = events(&n, i, ev, 8);
		assert_true(k >= 1);
		expect_state(&ev[k - 1], want[i]);
	}
	/* The INIT came 150 ms ago: the 200 ms warning comes 50 ms later, not 200. */
	assert_int_equal(mp_user_tick(n.u, 200 * MS), 0);
	assert_int_equal(mp_user_tick(n.u, 202 * MS), 1);
	/* The latched start survives; the INIT_RECEIVED AP takes a SIPI. */
	assert_int_equal(mp_user_poll(n.u, 2), MP_USER_START);
	assert_int_equal(mp_user_take_sipi(n.u, 2, &r, &s), MP_USER_START_SIPI);
	assert_int_equal(s.cs.selector, 0x9a00);
	icr(&n, 0, 2, SIPI(0x10));
	assert_int_equal(mp_user_state(n.u, 1), MP_STATE_SIPI_RECEIVED);
	assert_int_equal(mp_user_take_sipi(n.u, 1, &r, &s), MP_USER_START_SIPI);
	assert_int_equal(s.cs.selector, 0x1000);
	assert_int_equal(mp_user_state(n.u, 1), MP_STATE_RUNNABLE);
	/* A second SIPI (8.4.4.1) is the expected one: no warning for cpu 1. */
	unsigned w = atomic_load(&nwarn);
	icr(&n, 0, 2, SIPI(0x10));
	assert_int_equal(atomic_load(&nwarn), w);
	/* The BSP halted with IF = 1: a fixed IPI wakes it. */
	assert_int_equal(apic_bus_mmio_write(n.b, 1, PAGE + LAPIC_SVR, 4, 0x1ff), LAPIC_OK);
	icr(&n, 1, 0, 0x40);
	assert_int_equal(mp_user_state(n.u, 0), MP_STATE_RUNNABLE);
	assert_int_equal(apic_bus_take_interrupt(n.b, 0), 0x40);
	assert_int_equal(mp_user_state(n.u, 3), MP_STATE_UNINITIALIZED);
	destroy(&n);
	destroy(&m);
	snap_enc_free(&bus);
	snap_enc_free(&mp);
}

/* Offsets: a 12-byte header, then 16 bytes a vCPU (state, start, vector, SIPIs, flags...). */
#define CPU_REC(i) (12 + 16 * (i))

static void test_snapshot_refused(void **state)
{
	struct snap_enc bus, mp;
	char err[256];

	(void)state;
	struct machine m = mid_protocol();
	save_both(&m, &bus, &mp);
	struct machine n = make(4);
	for (size_t len = 0; len < mp.len; len++) {
		err[0] = 0;
		assert_int_equal(machine_load(&n, mp.buf, len, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "truncated"));
	}
	assert_int_equal(mp_user_state(n.u, 1), MP_STATE_UNINITIALIZED);
	assert_int_equal(mp_user_state(n.u, 0), MP_STATE_RUNNABLE);
	uint8_t *c = malloc(mp.len + 1);
	assert_non_null(c);
	static const struct { size_t off; uint8_t x; const char *what; } cases[] = {
		{ 0, 0x02, "version" },
		{ 4, 0x01, "vCPUs" },                 /* the count */
		{ 8, 0x01, "BSP" },
		{ CPU_REC(1), 0x08, "out of range" }, /* state 9 */
		{ CPU_REC(1) + 1, 0x01, "latched" },  /* INIT_RECEIVED with a SIPI start */
		{ CPU_REC(2) + 1, 0x01, "latched" },  /* SIPI_RECEIVED with no start */
		{ CPU_REC(3) + 1, 0x02, "reset start" },
		{ CPU_REC(1) + 7, 0x80, "flags" },
		{ CPU_REC(3) + 7, 0x02, "held" },
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		memcpy(c, mp.buf, mp.len);
		c[cases[k].off] ^= cases[k].x;
		err[0] = 0;
		assert_int_equal(machine_load(&n, c, mp.len, err, sizeof(err)), -1);
		if (!strstr(err, cases[k].what))
			fail_msg("case %zu: \"%s\" does not name %s", k, err, cases[k].what);
	}
	memcpy(c, mp.buf, mp.len);
	c[mp.len] = 0;
	assert_int_equal(machine_load(&n, c, mp.len + 1, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many"));
	/* Each bit flipped: loaded or refused; a refusal leaves every state as it was. */
	for (size_t i = 0; i < mp.len; i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			struct machine t = make(4);
			memcpy(c, mp.buf, mp.len);
			c[i] ^= (uint8_t)(1u << bit);
			if (machine_load(&t, c, mp.len, err, sizeof(err)) < 0) {
				assert_int_equal(mp_user_state(t.u, 0), MP_STATE_RUNNABLE);
				for (uint32_t j = 1; j < 4; j++)
					assert_int_equal(mp_user_state(t.u, j),
							 MP_STATE_UNINITIALIZED);
			}
			destroy(&t);
		}
	}
	/* Another machine size. */
	struct machine o = make(3);
	assert_int_equal(machine_load(&o, mp.buf, mp.len, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "saved with 4 vCPUs"));
	destroy(&o);
	free(c);
	destroy(&n);
	destroy(&m);
	snap_enc_free(&bus);
	snap_enc_free(&mp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_initial_states_and_backend),
		cmocka_unit_test(test_init_sipi_sipi_four_cpus),
		cmocka_unit_test(test_init_sipi_sipi_broadcast),
		cmocka_unit_test(test_forbidden_sipis),
		cmocka_unit_test(test_init_transitions),
		cmocka_unit_test(test_sipi_and_init_storms),
		cmocka_unit_test(test_sipi_timeout),
		cmocka_unit_test(test_halt_and_pending),
		cmocka_unit_test(test_single_thread_scheduling),
		cmocka_unit_test(test_start_state_table_9_1),
		cmocka_unit_test(test_threads_wait_kick_start_stop),
		cmocka_unit_test(test_wait_timeout),
		cmocka_unit_test(test_snapshot_mid_protocol),
		cmocka_unit_test(test_snapshot_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
