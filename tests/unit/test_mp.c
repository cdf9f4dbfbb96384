/*
 * test_mp.c - the MP-state interface without a CPU: names, recording of real changes only,
 * the transitions inferred for a backend that cannot see them, first exits, the trace ring,
 * and failures of the vCPU-thread marshalling.  The backend here is a plain array of
 * states, the part KVM plays in the VMM.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mp/mp.h"

struct array_cpu {
	enum mp_state state;
	int fail_errno;
};

static int array_get(void *ctx, enum mp_state *out)
{
	struct array_cpu *c = ctx;

	if (c->fail_errno) {
		errno = c->fail_errno;
		return -1;
	}
	*out = c->state;
	return 0;
}

static int array_set(void *ctx, enum mp_state s)
{
	struct array_cpu *c = ctx;

	c->state = s;
	return 0;
}

static const struct mp_backend array_backend = { "array", false, array_get, array_set };
static const struct mp_backend exact_backend = { "exact", true, array_get, array_set };

static int exec_calls;
static int exec_fail;

static int exec_direct(void *ctx, uint32_t cpu, void (*fn)(void *), void *arg)
{
	(void)ctx;
	(void)cpu;
	exec_calls++;
	if (exec_fail) {
		errno = ESRCH;
		return -1;
	}
	fn(arg);
	return 0;
}

#define NCPUS 4
static struct array_cpu cpus[NCPUS];

static struct mp *make(const struct mp_backend *be)
{
	struct mp_cpu desc[NCPUS];

	/* APIC IDs with gaps, as a 3-core topology packs them. */
	static const uint32_t ids[NCPUS] = { 0, 1, 2, 4 };
	for (int i = 0; i < NCPUS; i++) {
		cpus[i] = (struct array_cpu){ i == 0 ? MP_STATE_RUNNABLE : MP_STATE_UNINITIALIZED, 0 };
		desc[i] = (struct mp_cpu){ .apic_id = ids[i], .bsp = i == 0, .backend_ctx = &cpus[i] };
	}
	exec_calls = 0;
	exec_fail = 0;
	struct mp *mp = mp_create(NCPUS, desc, be, exec_direct, NULL, mp_now_ns());
	assert_non_null(mp);
	return mp;
}

static size_t events(struct mp *mp, uint32_t cpu, struct trace_event *ev)
{
	return trace_copy(mp_trace(mp), cpu, ev, 64);
}

static void test_names(void **state)
{
	enum mp_state s;

	(void)state;
	assert_string_equal(mp_state_name(MP_STATE_INIT_RECEIVED), "INIT_RECEIVED");
	assert_string_equal(mp_state_name(MP_STATE_COUNT), "UNKNOWN");
	for (int i = 0; i < MP_STATE_COUNT; i++) {
		assert_int_equal(mp_state_parse(mp_state_name((enum mp_state)i), &s), 0);
		assert_int_equal(s, i);
	}
	assert_int_equal(mp_state_parse("halted", &s), 0);
	assert_int_equal(s, MP_STATE_HALTED);
	assert_int_equal(mp_state_parse("HALT", &s), -1);
	assert_int_equal(mp_state_parse(NULL, &s), -1);
}

static void test_get_records_changes_only(void **state)
{
	struct mp *mp = make(&array_backend);
	struct trace_event ev[64];
	enum mp_state s;

	(void)state;
	assert_int_equal(mp_get(mp, 1, &s), 0);
	assert_int_equal(s, MP_STATE_UNINITIALIZED);
	assert_int_equal(mp_get(mp, 1, &s), 0);
	assert_int_equal(exec_calls, 2);
	assert_int_equal(events(mp, 1, ev), 1); /* the second read saw no change */
	cpus[1].state = MP_STATE_HALTED;
	assert_int_equal(mp_get(mp, 1, &s), 0);
	size_t n = events(mp, 1, ev);
	assert_int_equal(n, 2);
	assert_int_equal(ev[1].kind, TRACE_STATE);
	assert_int_equal(ev[1].state, MP_STATE_HALTED);
	assert_int_equal(ev[1].source, TRACE_EXACT);
	assert_true(ev[1].t_ns >= ev[0].t_ns);
	assert_int_equal(events(mp, 2, ev), 0);
	mp_destroy(mp);
}

static void test_set(void **state)
{
	struct mp *mp = make(&array_backend);
	struct trace_event ev[64];

	(void)state;
	assert_int_equal(mp_set(mp, 2, MP_STATE_INIT_RECEIVED), 0);
	assert_int_equal(cpus[2].state, MP_STATE_INIT_RECEIVED);
	assert_int_equal(events(mp, 2, ev), 1);
	assert_int_equal(ev[0].state, MP_STATE_INIT_RECEIVED);
	assert_int_equal(mp_set(mp, NCPUS, MP_STATE_RUNNABLE), -1);
	assert_int_equal(errno, EINVAL);
	mp_destroy(mp);
}

static void test_inference(void **state)
{
	struct mp *mp = make(&array_backend);
	struct trace_event ev[64];
	enum mp_state s;

	(void)state;
	assert_int_equal(mp_get(mp, 3, &s), 0); /* UNINITIALIZED, exact */
	mp_note_ipi(mp, TRACE_INIT, 0, 3, 0, TRACE_GUEST);
	mp_note_ipi(mp, TRACE_SIPI, 0, 3, 8, TRACE_GUEST);
	mp_note_ipi(mp, TRACE_SIPI, 0, 3, 8, TRACE_GUEST); /* second SIPI: no new state */
	size_t n = events(mp, 3, ev);
	assert_int_equal(n, 6);
	assert_int_equal(ev[1].kind, TRACE_INIT);
	assert_int_equal(ev[1].from, 0);
	assert_int_equal(ev[2].kind, TRACE_STATE);
	assert_int_equal(ev[2].state, MP_STATE_INIT_RECEIVED);
	assert_int_equal(ev[2].source, TRACE_INFERRED);
	assert_int_equal(ev[3].kind, TRACE_SIPI);
	assert_int_equal(ev[3].vector, 8);
	assert_int_equal(ev[4].state, MP_STATE_RUNNABLE);
	assert_int_equal(ev[4].source, TRACE_INFERRED);
	assert_int_equal(ev[5].kind, TRACE_SIPI);

	/* A SIPI to a vCPU not known to be waiting for one implies nothing. */
	mp_note_ipi(mp, TRACE_SIPI, 0, 2, 8, TRACE_GUEST);
	assert_int_equal(events(mp, 2, ev), 1);
	/* Nothing is inferred for the BSP. */
	mp_note_ipi(mp, TRACE_INIT, 1, 0, 0, TRACE_GUEST);
	assert_int_equal(events(mp, 0, ev), 1);
	/* Out-of-range targets are ignored. */
	mp_note_ipi(mp, TRACE_INIT, 0, NCPUS, 0, TRACE_GUEST);
	mp_destroy(mp);
}

static void test_no_inference_for_exact_backend(void **state)
{
	struct mp *mp = make(&exact_backend);
	struct trace_event ev[64];

	(void)state;
	mp_note_ipi(mp, TRACE_INIT, 0, 1, 0, TRACE_EXACT);
	assert_int_equal(events(mp, 1, ev), 1);
	assert_int_equal(ev[0].kind, TRACE_INIT);
	mp_destroy(mp);
}

static void test_first_exit(void **state)
{
	struct mp *mp = make(&array_backend);
	struct trace_event ev[64];

	(void)state;
	mp_note_first_exit(mp, 1);
	mp_note_first_exit(mp, 1);
	size_t n = events(mp, 1, ev);
	assert_int_equal(n, 2);
	assert_int_equal(ev[0].kind, TRACE_FIRST_EXIT);
	assert_int_equal(ev[1].state, MP_STATE_RUNNABLE);
	mp_destroy(mp);
}

static void test_lookup(void **state)
{
	struct mp *mp = make(&array_backend);

	(void)state;
	assert_int_equal(mp_cpu_by_apic_id(mp, 0), 0);
	assert_int_equal(mp_cpu_by_apic_id(mp, 2), 2);
	assert_int_equal(mp_cpu_by_apic_id(mp, 4), 3);
	assert_int_equal(mp_cpu_by_apic_id(mp, 3), -1);
	assert_int_equal(mp_cpu_by_apic_id(mp, 5), -1);
	assert_true(mp_cpu(mp, 0)->bsp);
	assert_null(mp_cpu(mp, NCPUS));
	assert_int_equal(mp_ncpus(mp), NCPUS);
	mp_destroy(mp);
}

static void test_failures(void **state)
{
	struct mp *mp = make(&array_backend);
	struct trace_event ev[64];
	enum mp_state s = MP_STATE_COUNT;

	(void)state;
	exec_fail = 1;
	assert_int_equal(mp_get(mp, 1, &s), -1);
	assert_int_equal(errno, ESRCH);
	assert_int_equal(s, MP_STATE_COUNT);
	exec_fail = 0;
	cpus[1].fail_errno = EIO;
	assert_int_equal(mp_get(mp, 1, &s), -1);
	assert_int_equal(errno, EIO);
	assert_int_equal(events(mp, 1, ev), 0);
	mp_destroy(mp);
}

static void test_ring_overflow(void **state)
{
	struct trace *t = trace_create(2, 0, 4);
	struct trace_event ev[8];

	(void)state;
	assert_non_null(t);
	for (uint64_t i = 0; i < 6; i++)
		trace_record(t, &(struct trace_event){ .t_ns = i, .cpu = 1 });
	assert_int_equal(trace_copy(t, 1, ev, 8), 4);
	assert_int_equal(ev[0].t_ns, 2); /* the two oldest were dropped */
	assert_int_equal(ev[3].t_ns, 5);
	assert_int_equal(trace_dropped(t, 1), 2);
	assert_int_equal(trace_dropped(t, 0), 0);
	assert_int_equal(trace_copy(t, 1, ev, 2), 2);
	assert_int_equal(ev[0].t_ns, 2);
	trace_record(t, &(struct trace_event){ .cpu = 7 }); /* no such vCPU: ignored */
	assert_int_equal(trace_copy(t, 7, ev, 8), 0);
	trace_destroy(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_get_records_changes_only),
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_inference),
		cmocka_unit_test(test_no_inference_for_exact_backend),
		cmocka_unit_test(test_first_exit),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_ring_overflow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
