/*
 * test_mp_break.c - breaks on MP events without a VM: the --break-on parser (events, vCPU
 * indexes, repeats, formatting back), what a mode with KVM's local APICs refuses, matching,
 * and the queue of hits with the last break; and, through the MP interface over an array
 * backend, that IPIs, observations and starts reach it and a fired break is in the trace.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mp/mp.h"
#include "mp/mp_break.h"

static void parses(const char *text, uint32_t ncpus, const char *back)
{
	struct mp_break_set s;
	char err[256] = "", out[256];

	assert_int_equal(mp_break_parse(text, ncpus, &s, err, sizeof(err)), 0);
	mp_break_format(&s, out, sizeof(out));
	assert_string_equal(out, back);
}

static void refused(const char *text, uint32_t ncpus, const char *words)
{
	struct mp_break_set s;
	char err[256] = "";

	assert_int_equal(mp_break_parse(text, ncpus, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, words));
	assert_null(strchr(err, '\n'));
}

static void test_parse(void **state)
{
	(void)state;
	parses("", 4, "");
	parses("init", 4, "init");
	parses("init,sipi,startup,halt,state", 4, "init,sipi,startup,halt,state");
	parses("startup:2", 4, "startup:2");
	parses("sipi:1,sipi:3,init:0", 4, "sipi:1,sipi:3,init:0");
	refused("bogus", 4, "unknown event 'bogus'");
	refused("init,Sipi", 4, "unknown event 'Sipi'");
	refused("sipi:4", 4, "'4' is no vCPU index");
	refused("sipi:", 4, "no vCPU index");
	refused("sipi:-1", 4, "no vCPU index");
	refused("sipi:1x", 4, "no vCPU index");
	refused("sipi:99999999999", 4, "no vCPU index");
	refused("init,,sipi", 4, "empty event");
	refused("init,", 4, "empty event");
	refused("init,init", 4, "repeats");
	refused("sipi:1,sipi:1", 4, "repeats");
	refused("sipi,sipi:1", 4, "repeats");
	refused("sipi:1,sipi", 4, "repeats");
}

static void test_check(void **state)
{
	struct mp_break_set s;
	char err[256] = "";

	(void)state;
	assert_int_equal(mp_break_parse("state,halt", 4, &s, err, sizeof(err)), 0);
	assert_int_equal(mp_break_check(&s, true, "user", err, sizeof(err)), 0);
	assert_int_equal(mp_break_check(&s, false, "kernel", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--break-on halt: with --irqchip kernel"));
	assert_non_null(strstr(err, "use --irqchip user"));
	assert_int_equal(mp_break_parse("state", 4, &s, err, sizeof(err)), 0);
	assert_int_equal(mp_break_check(&s, false, "split", err, sizeof(err)), 0);
	for (unsigned e = MP_BREAK_INIT; e <= MP_BREAK_STARTUP; e++)
		assert_true(mp_break_event_needs_exact((enum mp_break_event)e));
}

static void test_match_and_merge(void **state)
{
	struct mp_break_set s, step;
	char err[256] = "", out[256];

	(void)state;
	assert_int_equal(mp_break_parse("startup:2,init", 4, &s, err, sizeof(err)), 0);
	assert_true(mp_break_set_matches(&s, MP_BREAK_STARTUP, 2));
	assert_false(mp_break_set_matches(&s, MP_BREAK_STARTUP, 1));
	assert_true(mp_break_set_matches(&s, MP_BREAK_INIT, 3));
	assert_false(mp_break_set_matches(&s, MP_BREAK_SIPI, 2));
	assert_int_equal(mp_break_parse("init,sipi,startup", 4, &step, err, sizeof(err)), 0);
	assert_int_equal(mp_break_merge(&s, &step), 0);
	mp_break_format(&s, out, sizeof(out));
	assert_string_equal(out, "startup:2,init,sipi");
}

static int notified;

static void count_notify(void *ctx)
{
	(void)ctx;
	notified++;
}

static void test_queue(void **state)
{
	struct mp_break *b = mp_break_create(count_notify, NULL);
	struct mp_break_set s;
	struct mp_break_hit h;
	char err[256] = "", line[160];

	(void)state;
	notified = 0;
	assert_non_null(b);
	assert_false(mp_break_hit(b, MP_BREAK_SIPI, 1, 0, 8, -1, true, NULL));
	assert_int_equal(mp_break_parse("sipi", 4, &s, err, sizeof(err)), 0);
	mp_break_arm(b, &s);
	assert_false(mp_break_hit(b, MP_BREAK_INIT, 1, 0, -1, -1, true, NULL));
	assert_false(mp_break_last(b, &h));
	for (uint32_t cpu = 1; cpu < 4; cpu++)
		assert_true(mp_break_hit(b, MP_BREAK_SIPI, cpu, 0, 8, -1, true, NULL));
	assert_int_equal(notified, 3);
	assert_true(mp_break_pending(b));
	for (uint32_t cpu = 1; cpu < 4; cpu++) {
		assert_true(mp_break_take(b, &h));
		assert_int_equal(h.cpu, cpu);
		assert_int_equal(h.seq, cpu);
		assert_int_equal(h.vector, 8);
	}
	assert_false(mp_break_pending(b));
	assert_false(mp_break_take(b, &h));
	assert_true(mp_break_last(b, &h));
	assert_int_equal(h.cpu, 3);
	mp_break_describe(&h, 3, NULL, line, sizeof(line));
	assert_string_equal(line, "sipi on vCPU 3 (APIC 3) from vCPU 0, vector 0x08");
	h.from = MP_BREAK_OUTSIDE;
	h.event = MP_BREAK_INIT;
	h.vector = -1;
	mp_break_describe(&h, 6, NULL, line, sizeof(line));
	assert_string_equal(line, "init on vCPU 3 (APIC 6) from outside");
	/* Full: the hits beyond are dropped and counted, never a wait. */
	for (unsigned i = 0; i < MP_BREAK_QUEUE + 5; i++)
		mp_break_hit(b, MP_BREAK_SIPI, 1, 0, 8, -1, true, NULL);
	assert_int_equal(mp_break_dropped(b), 5);
	mp_break_arm(b, &(struct mp_break_set){ 0 });
	assert_false(mp_break_hit(b, MP_BREAK_SIPI, 1, 0, 8, -1, true, NULL));
	mp_break_destroy(b);
}

/* ---- through the MP interface ---- */

static enum mp_state states[4];

static int array_get(void *ctx, enum mp_state *out)
{
	*out = *(enum mp_state *)ctx;
	return 0;
}

static int array_set(void *ctx, enum mp_state s)
{
	*(enum mp_state *)ctx = s;
	return 0;
}

static int run_here(void *ctx, uint32_t cpu, void (*fn)(void *), void *arg)
{
	(void)ctx;
	(void)cpu;
	fn(arg);
	return 0;
}

static void test_through_mp(void **state)
{
	const struct mp_backend be = { "array", true, array_get, array_set };
	struct mp_cpu cpus[4];
	struct mp_break_set s;
	struct mp_break_hit h;
	struct trace_event ev[32];
	char err[256];

	(void)state;
	for (uint32_t i = 0; i < 4; i++)
		cpus[i] = (struct mp_cpu){ .apic_id = i, .bsp = i == 0, .backend_ctx = &states[i] };
	struct mp *mp = mp_create(4, cpus, &be, run_here, NULL, 0);
	struct mp_break *b = mp_break_create(NULL, NULL);
	assert_non_null(mp);
	assert_non_null(b);
	mp_set_break(mp, b);
	assert_int_equal(mp_break_parse("init:2,startup,halt:1", 4, &s, err, sizeof(err)), 0);
	mp_break_arm(b, &s);

	mp_note_ipi(mp, TRACE_INIT, 0, 1, 0, TRACE_EXACT);   /* init, not vCPU 2's */
	assert_false(mp_break_pending(b));
	mp_note_ipi(mp, TRACE_INIT, 0, 2, 0, TRACE_EXACT);
	assert_true(mp_break_take(b, &h));
	assert_int_equal(h.event, MP_BREAK_INIT);
	assert_int_equal(h.from, 0);
	assert_true(mp_note_startup(mp, 3, 0x08));
	assert_true(mp_break_take(b, &h));
	assert_int_equal(h.event, MP_BREAK_STARTUP);
	assert_int_equal(h.vector, 8);
	mp_observe(mp, 2, MP_STATE_HALTED, TRACE_EXACT);    /* halt, not vCPU 1's */
	assert_false(mp_break_pending(b));
	mp_observe(mp, 1, MP_STATE_HALTED, TRACE_INFERRED); /* not seen: no halt break */
	assert_false(mp_break_pending(b));
	mp_observe(mp, 1, MP_STATE_RUNNABLE, TRACE_EXACT);
	mp_observe(mp, 1, MP_STATE_HALTED, TRACE_EXACT);
	assert_true(mp_break_take(b, &h));
	assert_int_equal(h.event, MP_BREAK_HALT);
	assert_int_equal(h.state, MP_STATE_HALTED);

	size_t n = trace_copy(mp_trace(mp), 2, ev, 32);
	assert_int_equal(n, 3); /* INIT, its break, HALTED */
	assert_int_equal(ev[1].kind, TRACE_BREAK);
	assert_int_equal(ev[1].state, MP_BREAK_INIT);
	assert_int_equal(ev[1].from, 0);
	assert_string_equal(trace_kind_name(TRACE_BREAK), "break");
	mp_destroy(mp);
	mp_break_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_match_and_merge),
		cmocka_unit_test(test_queue),
		cmocka_unit_test(test_through_mp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
