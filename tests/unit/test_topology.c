/*
 * test_topology.c - unit tests of the --cpus parser and of APIC ID packing.
 *
 * Pure: no KVM, no guest memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "x86/topology.h"

static struct topology parse_ok(const char *spec)
{
	struct topology t;
	char err[256] = "";

	if (topology_parse(spec, &t, err, sizeof(err)))
		fail_msg("\"%s\" rejected: %s", spec, err);
	return t;
}

/* Parse must fail, and its message must contain `needle`. */
static void parse_fails(const char *spec, const char *needle)
{
	struct topology t;
	char err[256] = "";

	assert_int_equal(topology_parse(spec, &t, err, sizeof(err)), -1);
	if (!strstr(err, needle))
		fail_msg("\"%s\": message \"%s\" lacks \"%s\"", spec, err, needle);
}

static void assert_shape(const struct topology *t, uint32_t cpus, uint32_t sockets,
			 uint32_t cores, uint32_t threads)
{
	assert_int_equal(t->cpus, cpus);
	assert_int_equal(t->sockets, sockets);
	assert_int_equal(t->cores, cores);
	assert_int_equal(t->threads, threads);
}

static void assert_ids(const struct topology *t, const uint32_t *ids, size_t n)
{
	assert_int_equal(t->cpus, n);
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(topology_apic_id(t, i), ids[i]);
	assert_int_equal(topology_max_apic_id(t), ids[n - 1]);
}

static void test_defaults_derive_like_qemu(void **state)
{
	struct topology t;

	t = parse_ok("5");
	assert_shape(&t, 5, 5, 1, 1);
	t = parse_ok("8,cores=4");
	assert_shape(&t, 8, 2, 4, 1);
	t = parse_ok("8,sockets=2");
	assert_shape(&t, 8, 2, 4, 1);
	t = parse_ok("8,threads=2");
	assert_shape(&t, 8, 4, 1, 2);
	t = parse_ok("8,sockets=2,threads=2");
	assert_shape(&t, 8, 2, 2, 2);
	t = parse_ok("12,cores=3,threads=2");
	assert_shape(&t, 12, 2, 3, 2);
	t = parse_ok("12,threads=2,cores=3,sockets=2");
	assert_shape(&t, 12, 2, 3, 2);
	t = parse_ok("1048576");
	assert_shape(&t, 1048576, 1048576, 1, 1);
}

static void test_field_widths(void **state)
{
	static const uint32_t counts[] = { 1, 2, 3, 4, 5, 8, 9, 255, 256 };
	static const unsigned bits[] = { 0, 1, 2, 2, 3, 3, 4, 8, 8 };

	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		struct topology t = { .cpus = counts[i] * counts[i], .sockets = 1,
				      .cores = counts[i], .threads = counts[i] };

		assert_int_equal(topology_thread_bits(&t), bits[i]);
		assert_int_equal(topology_core_bits(&t), bits[i]);
	}
}

static void test_ids_non_power_of_two_shape(void **state)
{
	static const uint32_t ids[] = { 0, 1, 2, 3, 4, 5, 8, 9, 10, 11, 12, 13 };
	struct topology t = parse_ok("12,sockets=2,cores=3,threads=2");

	assert_int_equal(topology_thread_bits(&t), 1);
	assert_int_equal(topology_core_bits(&t), 2);
	assert_ids(&t, ids, 12);
}

static void test_ids_single_socket_odd_cores(void **state)
{
	static const uint32_t ids[] = { 0, 1, 2, 3, 4, 5 };
	struct topology t = parse_ok("6,sockets=1,cores=3,threads=2");

	assert_ids(&t, ids, 6);
}

static void test_ids_odd_cores_no_smt(void **state)
{
	static const uint32_t ids[] = { 0, 1, 2, 4, 5, 6 };
	struct topology t = parse_ok("6,cores=3");

	assert_ids(&t, ids, 6);
}

static void test_ids_flat(void **state)
{
	static const uint32_t ids[] = { 0, 1, 2, 3, 4 };
	struct topology t = parse_ok("5");

	assert_ids(&t, ids, 5);
	t = parse_ok("1024");
	assert_int_equal(topology_apic_id(&t, 1000), 1000);
	assert_int_equal(topology_max_apic_id(&t), 1023);
}

static void test_ids_three_threads(void **state)
{
	/* 3 threads need 2 bits: thread 3 of each core is a hole. */
	static const uint32_t ids[] = { 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14 };
	struct topology t = parse_ok("12,sockets=2,cores=2,threads=3");

	assert_ids(&t, ids, 12);
}

static void test_rejects_bad_numbers(void **state)
{
	parse_fails("0", "at least 1");
	parse_fails("", "must be a number");
	parse_fails("abc", "must be a number");
	parse_fails("-4", "must be a number");
	parse_fails("4x", "unexpected \"x\"");
	parse_fails("4 ", "unexpected");
	parse_fails("4,sockets=0", "sockets must be at least 1");
	parse_fails("4,sockets=-1", "sockets must be a number");
	parse_fails("4,cores=", "cores must be a number");
	parse_fails("4,threads=2x", "unexpected \"x\"");
	parse_fails("99999999999999999999999", "too large");
	parse_fails("1048577", "too large");
	parse_fails("4,cores=4294967297", "too large");
}

static void test_rejects_bad_keys(void **state)
{
	parse_fails("4,foo=2", "unknown key \"foo\"");
	parse_fails("4,dies=1", "unknown key \"dies\"");
	parse_fails("4,sockets=2,sockets=2", "sockets given twice");
	parse_fails("4,", "expected key=value");
	parse_fails("4,sockets", "expected key=value");
	parse_fails("4,sockets,cores=2", "expected key=value, not \"sockets\"");
}

static void test_rejects_inconsistent_shapes(void **state)
{
	char err[256];
	struct topology t;

	assert_int_equal(topology_parse("12,sockets=2,cores=2", &t, err, sizeof(err)), -1);
	assert_string_equal(err, "--cpus 12,sockets=2,cores=2: sockets*cores*threads = 4, not 12");
	parse_fails("12,sockets=2,cores=3,threads=3", "= 18, not 12");
	parse_fails("12,sockets=5", "cannot be split evenly");
	parse_fails("12,cores=5", "cannot be split evenly");
	parse_fails("12,threads=5", "cannot be split evenly");
	parse_fails("4,sockets=8", "cannot be split evenly");
}

static void test_error_leaves_output_alone(void **state)
{
	struct topology t = { .cpus = 77 };
	char err[64];

	assert_int_equal(topology_parse("12,sockets=5", &t, err, sizeof(err)), -1);
	assert_int_equal(t.cpus, 77);
	/* A short buffer truncates the message but stays terminated. */
	assert_int_equal(strlen(err), sizeof(err) - 1);
}

/* Counts from a file: a product that wraps around 32 bits to cpus is not a topology. */
static void test_consistent_without_overflow(void **state)
{
	(void)state;
	struct topology ok = { .cpus = 8, .sockets = 2, .cores = 2, .threads = 2 };
	assert_true(topology_consistent(&ok));
	/* 2 * (2^31 + 1) = 2^32 + 2: 2 in 32 bits; its core field would be 32 bits wide. */
	struct topology wraps = { .cpus = 2, .sockets = 2, .cores = 0x80000001u, .threads = 1 };
	assert_false(topology_consistent(&wraps));
	struct topology wraps3 = { .cpus = 4, .sockets = 0x10000, .cores = 0x10000, .threads = 1 };
	wraps3.cpus = 0; /* 2^32 wraps to 0 */
	assert_false(topology_consistent(&wraps3));
	struct topology zero = { .cpus = 4, .sockets = 0, .cores = 2, .threads = 2 };
	assert_false(topology_consistent(&zero));
	struct topology off = { .cpus = 6, .sockets = 2, .cores = 2, .threads = 2 };
	assert_false(topology_consistent(&off));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_derive_like_qemu),
		cmocka_unit_test(test_field_widths),
		cmocka_unit_test(test_ids_non_power_of_two_shape),
		cmocka_unit_test(test_ids_single_socket_odd_cores),
		cmocka_unit_test(test_ids_odd_cores_no_smt),
		cmocka_unit_test(test_ids_flat),
		cmocka_unit_test(test_ids_three_threads),
		cmocka_unit_test(test_rejects_bad_numbers),
		cmocka_unit_test(test_rejects_bad_keys),
		cmocka_unit_test(test_rejects_inconsistent_shapes),
		cmocka_unit_test(test_error_leaves_output_alone),
		cmocka_unit_test(test_consistent_without_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
