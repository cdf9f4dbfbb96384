/*
 * test_devices.c - the port-I/O bus and the devices on it, driven with bus accesses as the
 * vCPU loop makes them: dispatch and "all ones" for unclaimed ports, the UART's transmit
 * path into a real pipe, the debug-exit status, and the self-test ports (verdict -> exit
 * status, steps -> MP trace).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dev/bus.h"
#include "dev/debug_exit.h"
#include "dev/selftest_port.h"
#include "dev/serial.h"
#include "mpvmm/selftest_abi.h"

struct stop_record {
	int calls;
	int status;
	char why[128];
};

static void record_stop(void *vm, int status, const char *why)
{
	struct stop_record *r = vm;

	r->calls++;
	r->status = status;
	strncpy(r->why, why, sizeof(r->why) - 1);
}

static void io(struct bus *b, uint16_t port, bool write, uint32_t size, uint32_t value,
	       uint32_t *read_back)
{
	uint8_t data[4];

	memcpy(data, &value, sizeof(data));
	struct bus_access a = { .cpu = 0, .addr = port, .size = size, .write = write,
				.data = data };
	bus_dispatch(b, &a);
	if (read_back) {
		*read_back = 0;
		memcpy(read_back, data, size);
	}
}

static int hits;
static void count_hit(void *ctx, const struct bus_access *a)
{
	(void)ctx;
	(void)a;
	hits++;
}

static void test_bus(void **state)
{
	struct bus *b = bus_create("test");
	uint32_t v;

	(void)state;
	assert_int_equal(bus_register(b, 0x100, 8, count_hit, NULL, "a"), 0);
	assert_int_equal(bus_register(b, 0x10, 4, count_hit, NULL, "b"), 0);
	assert_int_equal(bus_register(b, 0x104, 8, count_hit, NULL, "overlap"), -1);
	assert_int_equal(bus_register(b, 0xc, 5, count_hit, NULL, "overlap"), -1);
	hits = 0;
	io(b, 0x107, true, 1, 0, NULL);
	io(b, 0x13, false, 1, 0, &v);
	assert_int_equal(hits, 2);
	io(b, 0x108, false, 2, 0, &v); /* just past "a": nobody drives the bus */
	assert_int_equal(v, 0xffff);
	io(b, 0x14, true, 4, 0x1234, NULL);
	assert_int_equal(hits, 2);
	assert_int_equal(bus_unclaimed(b), 2);
	bus_destroy(b);
}

static void test_serial(void **state)
{
	int fds[2];
	struct bus *b = bus_create("pio");
	char out[64] = "";
	uint32_t v;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	struct serial *s = serial_create(b, SERIAL_COM1_BASE, fds[1]);
	assert_non_null(s);
	io(b, SERIAL_COM1_BASE + 5, false, 1, 0, &v);
	assert_int_equal(v & 0x60, 0x60); /* THR empty, transmitter empty */
	const char *msg = "hi\n";
	for (const char *p = msg; *p; p++)
		io(b, SERIAL_COM1_BASE, true, 1, (uint8_t)*p, NULL);
	assert_int_equal(read(fds[0], out, sizeof(out)), 3);
	assert_memory_equal(out, "hi\n", 3);
	/* With DLAB set, offset 0 is the divisor latch, not the transmitter. */
	io(b, SERIAL_COM1_BASE + 3, true, 1, 0x80, NULL);
	io(b, SERIAL_COM1_BASE, true, 1, 0x01, NULL);
	io(b, SERIAL_COM1_BASE, false, 1, 0, &v);
	assert_int_equal(v, 0x01);
	io(b, SERIAL_COM1_BASE + 3, true, 1, 0x03, NULL);
	io(b, SERIAL_COM1_BASE, true, 1, 'x', NULL); /* no newline: buffered ... */
	serial_flush(s);                              /* ... until flushed */
	assert_int_equal(read(fds[0], out, sizeof(out)), 1);
	assert_int_equal(out[0], 'x');
	serial_destroy(s);
	bus_destroy(b);
	close(fds[0]);
	close(fds[1]);
}

static void test_debug_exit(void **state)
{
	struct stop_record r = { 0 };
	struct vm_control ctl = { .stop = record_stop, .vm = &r };
	struct bus *b = bus_create("pio");

	(void)state;
	assert_int_equal(debug_exit_status(0), 1);
	assert_int_equal(debug_exit_status(0x10), 0x21);
	assert_int_equal(debug_exit_status(0x1ff), 0xff);
	struct debug_exit *d = debug_exit_create(b, 0xf4, &ctl);
	assert_non_null(d);
	io(b, 0xf4, true, 1, 3, NULL);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, 7);
	debug_exit_destroy(d);
	bus_destroy(b);
}

/* A two-vCPU MP interface whose backend is an array, for the self-test port. */
static enum mp_state states[2] = { MP_STATE_RUNNABLE, MP_STATE_UNINITIALIZED };
static int reads;

static int array_get(void *ctx, enum mp_state *out)
{
	reads++;
	*out = *(enum mp_state *)ctx;
	return 0;
}

static int array_set(void *ctx, enum mp_state s)
{
	*(enum mp_state *)ctx = s;
	return 0;
}

static const struct mp_backend backend = { "array", false, array_get, array_set };

static int exec_direct(void *ctx, uint32_t cpu, void (*fn)(void *), void *arg)
{
	(void)ctx;
	(void)cpu;
	fn(arg);
	return 0;
}

static struct mp *two_cpus(void)
{
	struct mp_cpu cpus[2] = {
		{ .apic_id = 0, .bsp = true, .backend_ctx = &states[0] },
		{ .apic_id = 6, .bsp = false, .backend_ctx = &states[1] },
	};
	return mp_create(2, cpus, &backend, exec_direct, NULL, mp_now_ns());
}

static void test_selftest_verdict(void **state)
{
	struct stop_record r = { 0 };
	struct vm_control ctl = { .stop = record_stop, .vm = &r };
	struct bus *b = bus_create("pio");
	struct mp *mp = two_cpus();

	(void)state;
	struct selftest_port *p = selftest_port_create(b, mp, &ctl, false, false);
	assert_non_null(p);
	io(b, SELFTEST_PORT_RESULT, true, 4, 0, NULL);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, 0);
	io(b, SELFTEST_PORT_RESULT, true, 4, 6, NULL);
	assert_int_equal(r.calls, 2);
	assert_int_equal(r.status, 1);
	assert_non_null(strstr(r.why, "failed"));
	selftest_port_destroy(p);
	mp_destroy(mp);
	bus_destroy(b);
}

static void test_selftest_steps(void **state)
{
	struct stop_record r = { 0 };
	struct vm_control ctl = { .stop = record_stop, .vm = &r };
	struct bus *b = bus_create("pio");
	struct mp *mp = two_cpus();
	struct trace_event ev[16];

	(void)state;
	struct selftest_port *p = selftest_port_create(b, mp, &ctl, true, false);
	reads = 0;
	io(b, SELFTEST_PORT_STEP, true, 4, SELFTEST_STEP_VALUE(SELFTEST_STEP_BEFORE_INIT, 6), NULL);
	assert_int_equal(reads, 1); /* step mode reads the target's state */
	states[1] = MP_STATE_INIT_RECEIVED;
	io(b, SELFTEST_PORT_STEP, true, 4, SELFTEST_STEP_VALUE(SELFTEST_STEP_AFTER_INIT, 6), NULL);
	io(b, SELFTEST_PORT_STEP, true, 4, SELFTEST_STEP_VALUE(SELFTEST_STEP_AFTER_SIPI1, 6), NULL);
	size_t n = trace_copy(mp_trace(mp), 1, ev, 16);
	int inits = 0, sipis = 0;
	for (size_t i = 0; i < n; i++) {
		inits += ev[i].kind == TRACE_INIT;
		sipis += ev[i].kind == TRACE_SIPI && ev[i].vector == SELFTEST_SIPI_VECTOR;
	}
	assert_int_equal(inits, 1);
	assert_int_equal(sipis, 1);
	/* A step naming an APIC ID nobody has is refused without touching any vCPU. */
	reads = 0;
	io(b, SELFTEST_PORT_STEP, true, 4, SELFTEST_STEP_VALUE(SELFTEST_STEP_BEFORE_INIT, 5), NULL);
	assert_int_equal(reads, 0);
	assert_int_equal(r.calls, 0);
	assert_string_equal(selftest_step_name(SELFTEST_STEP_AP_HALTED), "ap-halted");
	assert_string_equal(selftest_step_name(99), "unknown");
	selftest_port_destroy(p);
	mp_destroy(mp);
	bus_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bus),
		cmocka_unit_test(test_serial),
		cmocka_unit_test(test_debug_exit),
		cmocka_unit_test(test_selftest_verdict),
		cmocka_unit_test(test_selftest_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
