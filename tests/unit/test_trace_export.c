/*
 * test_trace_export.c - the MP trace ring under concurrent writers and readers, clearing,
 * and the exports: Chrome Trace Event JSON (parsed back with jansson: tracks, state slices,
 * instants, flow arrows, sources), the text form, the SVG timeline (parsed with expat: well
 * formed, one lane per vCPU, arrows only when they fit) and the time spent in each state.
 */
#include <expat.h>
#include <jansson.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "array_vm.h"
#include "mp/trace_export.h"

/* ---- the ring ----------------------------------------------------------------------- */

#define WRITERS 4
#define PER_WRITER 20000

struct writer_arg {
	struct trace *t;
	uint32_t id;
};

/* Every field of an event derives from (writer, i), so a torn copy is visible. */
static struct trace_event make_event(uint32_t w, uint32_t i)
{
	return (struct trace_event){ .t_ns = (uint64_t)w << 32 | i, .cpu = 1, .from = w * 1000 + i,
				     .kind = TRACE_IPI, .source = (uint8_t)(w % 3),
				     .state = (uint8_t)(i % 5), .vector = (uint8_t)i };
}

static bool consistent(const struct trace_event *e)
{
	uint32_t w = (uint32_t)(e->t_ns >> 32), i = (uint32_t)e->t_ns;
	struct trace_event want = make_event(w, i);

	return w < WRITERS && e->cpu == want.cpu && e->from == want.from && e->kind == want.kind &&
	       e->source == want.source && e->state == want.state && e->vector == want.vector;
}

static _Atomic unsigned writers_done;

static void *writer(void *arg)
{
	struct writer_arg *a = arg;

	for (uint32_t i = 0; i < PER_WRITER; i++) {
		struct trace_event e = make_event(a->id, i);
		trace_record(a->t, &e);
	}
	atomic_fetch_add(&writers_done, 1);
	return NULL;
}

static void test_ring_concurrent(void **state)
{
	struct trace *t = trace_create(2, 0, 64);
	struct writer_arg args[WRITERS];
	pthread_t th[WRITERS];
	struct trace_event ev[64];

	(void)state;
	atomic_store(&writers_done, 0);
	for (uint32_t w = 0; w < WRITERS; w++) {
		args[w] = (struct writer_arg){ t, w };
		assert_int_equal(pthread_create(&th[w], NULL, writer, &args[w]), 0);
	}
	/* Read while they write (from their first event to the end): every copy is whole. */
	while (trace_copy(t, 1, ev, 64) == 0 && atomic_load(&writers_done) < WRITERS)
		sched_yield();
	do {
		size_t n = trace_copy(t, 1, ev, 64);
		assert_true(n <= 64);
		for (size_t i = 0; i < n; i++)
			assert_true(consistent(&ev[i]));
	} while (atomic_load(&writers_done) < WRITERS);
	for (int w = 0; w < WRITERS; w++)
		pthread_join(th[w], NULL);
	size_t n = trace_copy(t, 1, ev, 64);
	assert_true(n > 0 && n <= 64);
	for (size_t i = 0; i < n; i++)
		assert_true(consistent(&ev[i]));
	/* All but the last ring-full were lost, and counted (contention may lose a few more). */
	uint64_t dropped = trace_dropped(t, 1);
	assert_true(dropped >= WRITERS * PER_WRITER - 2 * 64);
	assert_true(dropped <= WRITERS * PER_WRITER - n);
	assert_int_equal(trace_copy(t, 0, ev, 64), 0);

	/* One writer again: exactly the last 64, oldest first. */
	for (uint32_t i = 0; i < 100; i++)
		trace_record(t, &(struct trace_event){ .t_ns = i, .cpu = 1 });
	assert_int_equal(trace_copy(t, 1, ev, 64), 64);
	for (uint32_t i = 0; i < 64; i++)
		assert_int_equal(ev[i].t_ns, 36 + i);
	trace_destroy(t);
}

static void test_ring_clear(void **state)
{
	struct trace *t = trace_create(1, 0, 4);
	struct trace_event ev[8];

	(void)state;
	for (uint32_t i = 0; i < 6; i++)
		trace_record(t, &(struct trace_event){ .t_ns = i });
	assert_int_equal(trace_dropped(t, 0), 2);
	trace_clear(t);
	assert_int_equal(trace_copy(t, 0, ev, 8), 0);
	assert_int_equal(trace_dropped(t, 0), 0);
	trace_record(t, &(struct trace_event){ .t_ns = 100 });
	trace_record(t, &(struct trace_event){ .t_ns = 101 });
	assert_int_equal(trace_copy(t, 0, ev, 8), 2);
	assert_int_equal(ev[0].t_ns, 100);
	assert_int_equal(ev[1].t_ns, 101);
	/* Overwriting cleared events loses nothing that was still wanted. */
	for (uint32_t i = 0; i < 2; i++)
		trace_record(t, &(struct trace_event){ .t_ns = 102 + i });
	assert_int_equal(trace_dropped(t, 0), 0);
	trace_record(t, &(struct trace_event){ .t_ns = 104 });
	assert_int_equal(trace_dropped(t, 0), 1);
	assert_int_equal(trace_copy(t, 0, ev, 8), 4);
	assert_int_equal(ev[0].t_ns, 101);
	assert_int_equal(trace_capacity(t), 4);
	assert_int_equal(trace_ncpus(t), 1);
	assert_null(trace_create(1, 0, 0));
	assert_null(trace_create(1, 4, 0));
	trace_destroy(t);
}

/* The first events stay however many come after them; the ring keeps the newest; a clear
 * makes the next events the first ones again. */
static void test_first_events_kept(void **state)
{
	struct trace *t = trace_create(1, 3, 4);
	struct trace_event ev[16];

	(void)state;
	assert_int_equal(trace_capacity(t), 7);
	for (uint32_t i = 0; i < 5; i++)
		trace_record(t, &(struct trace_event){ .t_ns = i });
	assert_int_equal(trace_copy(t, 0, ev, 16), 5);
	for (uint32_t i = 0; i < 5; i++)
		assert_int_equal(ev[i].t_ns, i);
	for (uint32_t i = 5; i < 100; i++)
		trace_record(t, &(struct trace_event){ .t_ns = i });
	assert_int_equal(trace_copy(t, 0, ev, 16), 7);
	static const uint64_t want[7] = { 0, 1, 2, 96, 97, 98, 99 };
	for (uint32_t i = 0; i < 7; i++)
		assert_int_equal(ev[i].t_ns, want[i]);
	assert_int_equal(trace_dropped(t, 0), 100 - 7);
	/* A short copy takes the oldest. */
	assert_int_equal(trace_copy(t, 0, ev, 4), 4);
	assert_int_equal(ev[3].t_ns, 96);
	trace_clear(t);
	for (uint32_t i = 0; i < 9; i++)
		trace_record(t, &(struct trace_event){ .t_ns = 200 + i });
	assert_int_equal(trace_copy(t, 0, ev, 16), 7);
	static const uint64_t again[7] = { 200, 201, 202, 205, 206, 207, 208 };
	for (uint32_t i = 0; i < 7; i++)
		assert_int_equal(ev[i].t_ns, again[i]);
	assert_int_equal(trace_dropped(t, 0), 2);
	trace_destroy(t);
}

/* ---- a scripted bring-up ------------------------------------------------------------ */

/*
 * A trace with known times: BSP 0 RUNNABLE from 1000; AP 1 UNINITIALIZED at 1000, INIT from
 * 0 at 2000 (INIT_RECEIVED), SIPI vector 8 at 5000 (RUNNABLE), HALTED at 9000.
 */
static struct mp *scripted(uint32_t n)
{
	struct mp_cpu *desc = calloc(n, sizeof(*desc));
	static int dummy;

	for (uint32_t i = 0; i < n; i++)
		desc[i] = (struct mp_cpu){ .apic_id = i, .bsp = i == 0, .backend_ctx = &dummy };
	static const struct mp_backend be = { "scripted", true, NULL, NULL };
	struct mp *mp = mp_create(n, desc, &be, NULL, NULL, 0);
	free(desc);
	struct trace *t = mp_trace(mp);
	for (uint32_t i = 0; i < n; i++) {
		trace_record(t, &(struct trace_event){ .t_ns = 1000, .cpu = i, .from = TRACE_NO_CPU,
			     .kind = TRACE_STATE, .state = i ? MP_STATE_UNINITIALIZED : MP_STATE_RUNNABLE });
		if (!i)
			continue;
		trace_record(t, &(struct trace_event){ .t_ns = 2000, .cpu = i, .from = 0,
			     .kind = TRACE_INIT, .source = TRACE_GUEST });
		trace_record(t, &(struct trace_event){ .t_ns = 2000, .cpu = i, .from = TRACE_NO_CPU,
			     .kind = TRACE_STATE, .source = TRACE_INFERRED,
			     .state = MP_STATE_INIT_RECEIVED });
		/* Recorded out of order, as two threads may: the exports sort by time. */
		trace_record(t, &(struct trace_event){ .t_ns = 5000, .cpu = i, .from = TRACE_NO_CPU,
			     .kind = TRACE_STATE, .source = TRACE_INFERRED, .state = MP_STATE_RUNNABLE });
		trace_record(t, &(struct trace_event){ .t_ns = 5000, .cpu = i, .from = 0,
			     .kind = TRACE_SIPI, .source = TRACE_GUEST, .vector = 8 });
		trace_record(t, &(struct trace_event){ .t_ns = 9000, .cpu = i, .from = TRACE_NO_CPU,
			     .kind = TRACE_STATE, .state = MP_STATE_HALTED });
	}
	return mp;
}

static void test_time_in_state(void **state)
{
	struct mp *mp = scripted(2);
	uint64_t t[MP_STATE_COUNT];

	(void)state;
	assert_int_equal(trace_time_in_state(mp, 1, 10000, t), 0);
	assert_int_equal(t[MP_STATE_UNINITIALIZED], 1000);
	assert_int_equal(t[MP_STATE_INIT_RECEIVED], 3000);
	assert_int_equal(t[MP_STATE_SIPI_RECEIVED], 0);
	assert_int_equal(t[MP_STATE_RUNNABLE], 4000);
	assert_int_equal(t[MP_STATE_HALTED], 1000);
	assert_int_equal(trace_time_in_state(mp, 0, 10000, t), 0);
	assert_int_equal(t[MP_STATE_RUNNABLE], 9000);
	/* end 0: up to the vCPU's last event. */
	assert_int_equal(trace_time_in_state(mp, 1, 0, t), 0);
	assert_int_equal(t[MP_STATE_HALTED], 0);
	assert_int_equal(t[MP_STATE_RUNNABLE], 4000);
	assert_int_equal(trace_time_in_state(mp, 2, 0, t), -1);
	mp_destroy(mp);
}

/* ---- Chrome JSON -------------------------------------------------------------------- */

static json_t *find_event(json_t *events, const char *ph, const char *name, json_int_t tid,
			  size_t nth)
{
	size_t i;
	json_t *e;

	json_array_foreach(events, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "ph")), ph) ||
		    (name && strcmp(json_string_value(json_object_get(e, "name")), name)) ||
		    json_integer_value(json_object_get(e, "tid")) != tid)
			continue;
		if (nth-- == 0)
			return e;
	}
	return NULL;
}

static double num(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

static void test_chrome(void **state)
{
	struct mp *mp = scripted(3);
	json_error_t err;
	size_t len;

	(void)state;
	char *s = trace_export_string(mp, TRACE_FORMAT_CHROME, 12000, &len);
	assert_non_null(s);
	assert_int_equal(strlen(s), len);
	json_t *root = json_loads(s, 0, &err);
	if (!root)
		fail_msg("chrome JSON does not parse: %s (line %d)", err.text, err.line);
	json_t *ev = json_object_get(root, "traceEvents");
	assert_true(json_is_array(ev));

	/* One named track per vCPU. */
	json_t *name = find_event(ev, "M", "thread_name", 2, 0);
	assert_non_null(name);
	assert_string_equal(json_string_value(json_object_get(json_object_get(name, "args"),
							      "name")), "vCPU 2 (APIC ID 2)");
	assert_non_null(strstr(json_string_value(json_object_get(json_object_get(
		find_event(ev, "M", "thread_name", 0, 0), "args"), "name")), "BSP"));

	/* States as complete events from one change to the next, in microseconds. */
	json_t *init_rcv = find_event(ev, "X", "INIT_RECEIVED", 1, 0);
	assert_non_null(init_rcv);
	assert_true(num(init_rcv, "ts") == 2.0 && num(init_rcv, "dur") == 3.0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(init_rcv, "args"),
							      "source")), "inferred");
	json_t *halted = find_event(ev, "X", "HALTED", 2, 0);
	assert_true(num(halted, "ts") == 9.0 && num(halted, "dur") == 3.0); /* until end_ns */
	assert_null(find_event(ev, "X", "HALTED", 0, 0));

	/* INIT and SIPI: instants on the target with their source, flows from the sender. */
	json_t *sipi = find_event(ev, "i", "SIPI", 1, 0);
	assert_non_null(sipi);
	json_t *args = json_object_get(sipi, "args");
	assert_int_equal(json_integer_value(json_object_get(args, "vector")), 8);
	assert_int_equal(json_integer_value(json_object_get(args, "from")), 0);
	assert_string_equal(json_string_value(json_object_get(args, "source")), "guest");
	json_t *start = find_event(ev, "s", "INIT", 0, 1); /* the second INIT: to vCPU 2 */
	assert_non_null(start);
	json_int_t id = json_integer_value(json_object_get(start, "id"));
	json_t *finish = find_event(ev, "f", "INIT", 2, 0);
	assert_non_null(finish);
	assert_int_equal(json_integer_value(json_object_get(finish, "id")), id);
	assert_true(num(finish, "ts") == 2.0);
	assert_null(find_event(ev, "f", NULL, 0, 0)); /* nothing was sent to the BSP */
	json_decref(root);
	free(s);
	mp_destroy(mp);
}

/* ---- text --------------------------------------------------------------------------- */

static void test_text(void **state)
{
	struct mp *mp = scripted(2);
	char *s = trace_export_string(mp, TRACE_FORMAT_TEXT, 10000, NULL);

	(void)state;
	assert_non_null(s);
	assert_non_null(strstr(s, "2 vCPUs"));
	assert_non_null(strstr(s, "vector 0x08 from vCPU 0"));
	/* Sorted by time across vCPUs: vCPU 1's INIT comes after both first states. */
	char *init = strstr(s, "INIT  ");
	assert_non_null(init);
	assert_non_null(strstr(s, "RUNNABLE"));
	assert_true(strstr(s, "UNINITIALIZED") < init);
	/* The time-in-state table: vCPU 1 spent 0.003 ms in INIT_RECEIVED. */
	assert_non_null(strstr(s, "time in each MP state"));
	assert_non_null(strstr(s, "0.003000"));
	free(s);
	mp_destroy(mp);
}

/* ---- SVG ---------------------------------------------------------------------------- */

struct svg_check {
	unsigned lanes_labelled; /* <text> starting "vCPU " */
	unsigned state_rects;    /* <rect> with a <title> child naming a vCPU */
	unsigned arrows;         /* <line class="init|sipi"> inside the plot */
	bool in_text;
	bool in_title;
	char text[64];
	size_t text_len;
	bool root_svg;
	unsigned depth;
};

static const char *attr(const char **a, const char *name)
{
	for (; a[0]; a += 2)
		if (!strcmp(a[0], name))
			return a[1];
	return NULL;
}

static void XMLCALL on_start(void *ud, const char *el, const char **a)
{
	struct svg_check *c = ud;
	const char *cls = attr(a, "class");

	if (c->depth++ == 0)
		c->root_svg = !strcmp(el, "svg");
	if (!strcmp(el, "text") || !strcmp(el, "title")) {
		c->in_text = true;
		c->text_len = 0;
	}
	if (!strcmp(el, "rect") && attr(a, "fill") && !attr(a, "class") && attr(a, "y") &&
	    atof(attr(a, "y")) >= 70)
		c->state_rects++;
	if (!strcmp(el, "line") && cls && (!strcmp(cls, "init") || !strcmp(cls, "sipi")) &&
	    attr(a, "y1") && atof(attr(a, "y1")) >= 70)
		c->arrows++;
}

static void XMLCALL on_end(void *ud, const char *el)
{
	struct svg_check *c = ud;

	c->depth--;
	if (!strcmp(el, "text")) {
		c->text[c->text_len] = 0;
		if (!strncmp(c->text, "vCPU ", 5))
			c->lanes_labelled++;
	}
	c->in_text = false;
}

static void XMLCALL on_chars(void *ud, const char *s, int len)
{
	struct svg_check *c = ud;

	for (int i = 0; c->in_text && i < len && c->text_len + 1 < sizeof(c->text); i++)
		c->text[c->text_len++] = s[i];
}

static struct svg_check parse_svg(const char *s)
{
	struct svg_check c = { 0 };
	XML_Parser p = XML_ParserCreate("UTF-8");

	XML_SetUserData(p, &c);
	XML_SetElementHandler(p, on_start, on_end);
	XML_SetCharacterDataHandler(p, on_chars);
	if (XML_Parse(p, s, (int)strlen(s), 1) != XML_STATUS_OK)
		fail_msg("SVG is not well-formed XML: %s at line %lu",
			 XML_ErrorString(XML_GetErrorCode(p)), XML_GetCurrentLineNumber(p));
	XML_ParserFree(p);
	return c;
}

static void test_svg_small(void **state)
{
	struct mp *mp = scripted(4);

	(void)state;
	/* An INIT from outside the vCPUs (the control API) has an arrow too. */
	trace_record(mp_trace(mp), &(struct trace_event){ .t_ns = 9500, .cpu = 3,
		     .from = TRACE_NO_CPU, .kind = TRACE_INIT });
	char *s = trace_export_string(mp, TRACE_FORMAT_SVG, 10000, NULL);
	assert_non_null(s);
	struct svg_check c = parse_svg(s);
	assert_true(c.root_svg);
	assert_int_equal(c.lanes_labelled, 4);          /* one labelled lane per vCPU */
	assert_int_equal(c.state_rects, 1 + 3 * 4);     /* BSP: 1 state; APs: 4 each */
	assert_int_equal(c.arrows, 3 * 2 + 1);          /* INIT and SIPI to each AP, + outside */
	assert_non_null(strstr(s, "INIT from outside to vCPU 3"));
	assert_non_null(strstr(s, "INIT_RECEIVED"));    /* the legend */
	assert_null(strstr(s, "not drawn"));
	free(s);
	mp_destroy(mp);
}

static void test_svg_many(void **state)
{
	struct mp *mp = scripted(255);
	char *s = trace_export_string(mp, TRACE_FORMAT_SVG, 10000, NULL);

	(void)state;
	assert_non_null(s);
	struct svg_check c = parse_svg(s);
	/* Every vCPU keeps its states; arrows give way; labels are thinned out. */
	assert_int_equal(c.state_rects, 1 + 254 * 4);
	assert_int_equal(c.arrows, 0);
	assert_non_null(strstr(s, "508 INIT/SIPI arrows not drawn"));
	assert_true(c.lanes_labelled >= 255 / 5 && c.lanes_labelled < 255);
	free(s);
	mp_destroy(mp);
}

static void test_formats(void **state)
{
	enum trace_format f;

	(void)state;
	assert_int_equal(trace_format_parse("text", &f), 0);
	assert_int_equal(f, TRACE_FORMAT_TEXT);
	assert_int_equal(trace_format_parse("svg", &f), 0);
	assert_int_equal(trace_format_parse("Chrome", &f), -1);
	assert_int_equal(trace_format_parse(NULL, &f), -1);
	assert_string_equal(trace_format_mime(TRACE_FORMAT_CHROME), "application/json");
	assert_string_equal(trace_format_name(TRACE_FORMAT_SVG), "svg");
}

/* An empty trace still gives valid documents. */
static void test_empty(void **state)
{
	struct array_vm *vm = array_vm_create(2, 0);

	(void)state;
	trace_clear(mp_trace(vm->mp));
	char *s = trace_export_string(vm->mp, TRACE_FORMAT_CHROME, 0, NULL);
	json_t *root = json_loads(s, 0, NULL);
	assert_non_null(root);
	json_decref(root);
	free(s);
	s = trace_export_string(vm->mp, TRACE_FORMAT_SVG, 0, NULL);
	assert_int_equal(parse_svg(s).lanes_labelled, 2);
	free(s);
	array_vm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_concurrent),
		cmocka_unit_test(test_ring_clear),
		cmocka_unit_test(test_first_events_kept),
		cmocka_unit_test(test_time_in_state),
		cmocka_unit_test(test_chrome),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_svg_small),
		cmocka_unit_test(test_svg_many),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
