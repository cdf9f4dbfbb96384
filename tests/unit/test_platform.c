/*
 * test_platform.c - unit tests of the platform description: APIC IDs, ACPI UIDs, BSP,
 * x2APIC mode and the I/O APIC ID derived from a topology and --boot-cpu.
 *
 * Pure: no KVM, no guest memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "x86/platform.h"

static void init_ok(struct platform *p, const char *spec, uint32_t boot, bool force_x2apic)
{
	struct topology t;
	char err[256] = "";

	if (topology_parse(spec, &t, err, sizeof(err)) ||
	    platform_init(p, &t, boot, force_x2apic, err, sizeof(err)))
		fail_msg("%s boot %u: %s", spec, boot, err);
}

static void test_small_machine(void **state)
{
	struct platform p;

	init_ok(&p, "4", 2, false);
	assert_int_equal(p.topo.cpus, 4);
	assert_int_equal(p.boot_cpu, 2);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(p.cpus[i].index, i);
		assert_int_equal(p.cpus[i].apic_id, i);
		assert_int_equal(p.cpus[i].acpi_uid, i);
		assert_int_equal(p.cpus[i].socket, i);
		assert_int_equal(p.cpus[i].core, 0);
		assert_int_equal(p.cpus[i].thread, 0);
		assert_int_equal(p.cpus[i].bsp, i == 2);
	}
	assert_int_equal(p.max_apic_id, 3);
	assert_false(p.x2apic);
	assert_true(platform_has_mptable(&p));
	assert_int_equal(p.ioapic_id, 4);
	platform_free(&p);
	assert_null(p.cpus);
}

static void test_shape_fields(void **state)
{
	struct platform p;

	init_ok(&p, "12,sockets=2,cores=3,threads=2", 7, false);
	/* vCPU 7: thread 1 of core 0 of socket 1 -> 1 << 3 | 0 << 1 | 1 = 9. */
	assert_int_equal(p.cpus[7].socket, 1);
	assert_int_equal(p.cpus[7].core, 0);
	assert_int_equal(p.cpus[7].thread, 1);
	assert_int_equal(p.cpus[7].apic_id, 9);
	assert_int_equal(p.cpus[7].acpi_uid, 7);
	assert_true(p.cpus[7].bsp);
	assert_int_equal(p.cpus[5].socket, 0);
	assert_int_equal(p.cpus[5].core, 2);
	assert_int_equal(p.cpus[5].thread, 1);
	assert_int_equal(p.cpus[5].apic_id, 5);
	assert_int_equal(p.max_apic_id, 13);
	assert_int_equal(p.ioapic_id, 14);
	platform_free(&p);
}

static void test_xapic_limit(void **state)
{
	struct platform p;

	init_ok(&p, "254", 0, false);
	assert_int_equal(p.max_apic_id, 253);
	assert_false(p.x2apic);
	assert_int_equal(p.ioapic_id, 254);
	platform_free(&p);

	init_ok(&p, "255", 254, false);
	assert_int_equal(p.max_apic_id, 254);
	assert_false(p.x2apic);
	assert_true(platform_has_mptable(&p));
	assert_int_equal(p.ioapic_id, 0); /* 255 is the broadcast ID: nothing unique is left */
	platform_free(&p);

	init_ok(&p, "256", 255, false);
	assert_int_equal(p.max_apic_id, 255);
	assert_true(p.x2apic);
	assert_false(platform_has_mptable(&p));
	assert_int_equal(p.ioapic_id, 0);
	assert_true(p.cpus[255].bsp);
	platform_free(&p);
}

static void test_sparse_ids_cross_xapic_limit(void **state)
{
	struct platform p;

	/* 3 threads per core take 2 ID bits: 64 cores end at 63 << 2 | 2 = 254 (still xAPIC),
	 * 65 cores at 64 << 2 | 2 = 258 (x2APIC) with only 195 vCPUs. */
	init_ok(&p, "192,sockets=1,cores=64,threads=3", 0, false);
	assert_int_equal(p.max_apic_id, 254);
	assert_false(p.x2apic);
	platform_free(&p);
	init_ok(&p, "195,sockets=1,cores=65,threads=3", 0, false);
	assert_int_equal(p.max_apic_id, 64 << 2 | 2);
	assert_true(p.x2apic);
	platform_free(&p);
}

static void test_forced_x2apic(void **state)
{
	struct platform p;

	init_ok(&p, "4", 0, true);
	assert_true(p.x2apic);
	assert_false(platform_has_mptable(&p));
	assert_int_equal(p.ioapic_id, 4);
	platform_free(&p);
}

static void test_boot_cpu_out_of_range(void **state)
{
	struct topology t;
	struct platform p;
	char err[256];

	assert_int_equal(topology_parse("4", &t, err, sizeof(err)), 0);
	assert_int_equal(platform_init(&p, &t, 4, false, err, sizeof(err)), -1);
	assert_string_equal(err, "--boot-cpu 4 is out of range (4 vCPUs: 0..3)");
	assert_null(p.cpus);
	assert_int_equal(platform_init(&p, &t, 3, false, err, sizeof(err)), 0);
	platform_free(&p);
}

static void test_inconsistent_topology(void **state)
{
	struct topology t = { .cpus = 4, .sockets = 1, .cores = 2, .threads = 1 };
	struct topology zero = { .cpus = 0, .sockets = 0, .cores = 1, .threads = 1 };
	struct platform p;
	char err[256];

	assert_int_equal(platform_init(&p, &t, 0, false, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "4 vCPUs != 1 sockets * 2 cores * 1 threads"));
	assert_int_equal(platform_init(&p, &zero, 0, false, err, sizeof(err)), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_machine),
		cmocka_unit_test(test_shape_fields),
		cmocka_unit_test(test_xapic_limit),
		cmocka_unit_test(test_sparse_ids_cross_xapic_limit),
		cmocka_unit_test(test_forced_x2apic),
		cmocka_unit_test(test_boot_cpu_out_of_range),
		cmocka_unit_test(test_inconsistent_topology),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
