/*
 * test_platform_check.c - unit tests of the pre-boot consistency check: it passes on what the
 * generators build, and names the vCPU and the values when the MADT, the MP table or a
 * vCPU's CPUID disagrees with the platform description.
 *
 * Pure: "guest memory" is a zeroed 1 MiB buffer; the CPUID 'supported' table is made up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "x86/acpi.h"
#include "x86/mptable.h"
#include "x86/platform_check.h"

#define MEM_SIZE (1u << 20)

static const struct cpuid_entry supported_leaves[] = {
	{ 0x0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69 },
	{ 0x1, 0, 0, 0x000906ea, 0x00000800, 0, 0 },
	{ 0xb, 0, CPUID_FLAG_SIGNIFICANT_INDEX, 0, 0, 0, 0 },
	{ 0xb, 1, CPUID_FLAG_SIGNIFICANT_INDEX, 0, 0, 0, 0 },
};
#define N_SUPPORTED (sizeof(supported_leaves) / sizeof(supported_leaves[0]))

struct machine {
	struct platform p;
	uint8_t *mem;
	struct cpuid_table **cpuid;
	uint32_t madt; /* address of the MADT, read back from the XSDT */
};

static uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void fix_acpi_checksum(uint8_t *mem, uint32_t t)
{
	uint8_t s = 0;

	mem[t + 9] = 0;
	for (uint32_t i = 0; i < rd32(mem + t + 4); i++)
		s += mem[t + i];
	mem[t + 9] = (uint8_t)-s;
}

static void fix_mp_checksum(uint8_t *mem, uint32_t cfg)
{
	uint32_t len = mem[cfg + 4] | (uint32_t)mem[cfg + 5] << 8;
	uint8_t s = 0;

	mem[cfg + 7] = 0;
	for (uint32_t i = 0; i < len; i++)
		s += mem[cfg + i];
	mem[cfg + 7] = (uint8_t)-s;
}

static struct cpuid_table *vcpu_cpuid(const struct platform *p, uint32_t index)
{
	struct cpuid_table *sup = calloc(1, sizeof(*sup) + N_SUPPORTED * sizeof(sup->e[0]));
	struct cpuid_table *out = calloc(1, sizeof(*out) + (N_SUPPORTED + CPUID_EXTRA_ENTRIES) *
					 sizeof(out->e[0]));

	assert_non_null(sup);
	assert_non_null(out);
	memcpy(sup->e, supported_leaves, sizeof(supported_leaves));
	sup->n = N_SUPPORTED;
	assert_int_equal(cpuid_for_vcpu(p, index, sup, out), 0);
	free(sup);
	return out;
}

static void build(struct machine *m, const char *spec, uint32_t boot, bool force_x2apic)
{
	struct topology t;
	char err[256] = "";

	if (topology_parse(spec, &t, err, sizeof(err)) ||
	    platform_init(&m->p, &t, boot, force_x2apic, err, sizeof(err)))
		fail_msg("%s: %s", spec, err);
	m->mem = calloc(1, MEM_SIZE);
	assert_non_null(m->mem);
	if (mptable_build(&m->p, m->mem, MEM_SIZE, MPTABLE_ADDR, MPTABLE_MAX, err,
			  sizeof(err)) < 0 ||
	    acpi_build(&m->p, m->mem, MEM_SIZE, ACPI_ADDR, ACPI_MAX, err, sizeof(err)) < 0)
		fail_msg("%s: %s", spec, err);
	m->cpuid = calloc(t.cpus, sizeof(*m->cpuid));
	assert_non_null(m->cpuid);
	for (uint32_t i = 0; i < t.cpus; i++)
		m->cpuid[i] = vcpu_cpuid(&m->p, i);
	m->madt = rd32(m->mem + rd32(m->mem + ACPI_ADDR + 24) + 44);
}

static void destroy(struct machine *m)
{
	for (uint32_t i = 0; i < m->p.topo.cpus; i++)
		free(m->cpuid[i]);
	free(m->cpuid);
	free(m->mem);
	platform_free(&m->p);
}

static void check_ok(const struct machine *m)
{
	char err[256] = "";

	if (platform_check(&m->p, m->mem, MEM_SIZE, (const struct cpuid_table *const *)m->cpuid,
			   err, sizeof(err)))
		fail_msg("check failed: %s", err);
}

static void check_fails(const struct machine *m, const char *want)
{
	char err[256] = "";

	assert_int_equal(platform_check(&m->p, m->mem, MEM_SIZE,
					(const struct cpuid_table *const *)m->cpuid, err,
					sizeof(err)), -1);
	assert_string_equal(err, want);
}

static void pass_for(const char *spec, uint32_t boot, bool force_x2apic)
{
	struct machine m;
	char err[256];

	build(&m, spec, boot, force_x2apic);
	check_ok(&m);
	/* Without CPUID tables only the firmware tables are compared. */
	assert_int_equal(platform_check(&m.p, m.mem, MEM_SIZE, NULL, err, sizeof(err)), 0);
	destroy(&m);
}

static void test_good_tables_pass(void **state)
{
	pass_for("1", 0, false);
	pass_for("4", 2, false);
	pass_for("12,sockets=2,cores=3,threads=2", 11, false);
	pass_for("255", 254, false);
	pass_for("256", 255, false);
	pass_for("1024", 500, false);
	pass_for("4", 3, true);
}

static void test_madt_apic_ids_swapped(void **state)
{
	struct machine m;
	uint8_t *e;

	build(&m, "4", 0, false);
	/* Entries for vCPUs 1 and 2 (type 0, 8 bytes each, after the BSP's) swap APIC IDs. */
	e = m.mem + m.madt + 44;
	e[8 + 3] = 2;
	e[16 + 3] = 1;
	fix_acpi_checksum(m.mem, m.madt);
	check_fails(&m, "vCPU 2: MADT gives APIC ID 2 the ACPI UID 1, expected 2");
	destroy(&m);
}

static void test_madt_unknown_and_duplicate_ids(void **state)
{
	struct machine m;
	uint8_t *e;

	build(&m, "4", 0, false);
	e = m.mem + m.madt + 44;
	e[24 + 3] = 7;
	fix_acpi_checksum(m.mem, m.madt);
	check_fails(&m, "MADT lists APIC ID 7, which no vCPU has");
	e[24 + 3] = 2;
	fix_acpi_checksum(m.mem, m.madt);
	check_fails(&m, "vCPU 2: MADT lists its APIC ID 2 twice");
	destroy(&m);
}

static void test_madt_bsp_not_first(void **state)
{
	struct machine m;
	uint8_t tmp[8], *e;

	build(&m, "4", 1, false);
	e = m.mem + m.madt + 44;
	memcpy(tmp, e, 8);
	memcpy(e, e + 8, 8);
	memcpy(e + 8, tmp, 8);
	fix_acpi_checksum(m.mem, m.madt);
	check_fails(&m, "MADT's first processor has APIC ID 0, but the BSP (vCPU 1) has APIC ID 1");
	destroy(&m);
}

static void test_madt_wrong_entry_type(void **state)
{
	struct machine m;
	uint8_t *lapic, *x2apic;

	build(&m, "300", 0, false);
	/* vCPUs 44 and 255 trade entries: APIC ID 255 in a type-0 entry, 44 in a type-9 one. */
	lapic = m.mem + m.madt + 44 + 44 * 8;
	x2apic = m.mem + m.madt + 44 + 255 * 8;
	assert_int_equal(lapic[0], 0);
	assert_int_equal(x2apic[0], 9);
	lapic[2] = 255;
	lapic[3] = 255;
	x2apic[4] = 44;
	x2apic[5] = 0;
	x2apic[12] = 44;
	fix_acpi_checksum(m.mem, m.madt);
	/* The type-0 entry comes first in the MADT, so it is the one reported. */
	check_fails(&m, "vCPU 255: MADT describes APIC ID 255 with a type-0 entry, "
		    "expected type 9");
	destroy(&m);
}

static void test_madt_count_mismatch(void **state)
{
	struct machine m;
	struct platform bigger;
	struct topology t = { .cpus = 5, .sockets = 5, .cores = 1, .threads = 1 };
	char err[256];

	build(&m, "4", 0, false);
	assert_int_equal(platform_init(&bigger, &t, 0, false, err, sizeof(err)), 0);
	assert_int_equal(platform_check(&bigger, m.mem, MEM_SIZE, NULL, err, sizeof(err)), -1);
	assert_string_equal(err, "MADT lists 4 processors, the platform has 5");
	platform_free(&bigger);
	destroy(&m);
}

static void test_mp_bp_flag_dropped(void **state)
{
	struct machine m;
	uint32_t cfg = MPTABLE_ADDR + 16;

	build(&m, "4", 2, false);
	/* The first processor entry is the BSP's; clear its BP flag (CPU FLAGS bit 1). */
	assert_int_equal(m.mem[cfg + 44 + 3], 3);
	m.mem[cfg + 44 + 3] = 1;
	fix_mp_checksum(m.mem, cfg);
	check_fails(&m, "vCPU 2 is the BSP but its MP table entry (APIC ID 2) lacks the BP flag");
	/* A second BP flag, on vCPU 0's entry. */
	m.mem[cfg + 44 + 3] = 3;
	m.mem[cfg + 44 + 20 + 3] = 3;
	fix_mp_checksum(m.mem, cfg);
	check_fails(&m, "vCPU 0: MP table entry (APIC ID 0) has the BP flag, but the BSP is "
		    "vCPU 2");
	destroy(&m);
}

static void test_mp_ioapic_disagrees(void **state)
{
	struct machine m;
	uint32_t cfg = MPTABLE_ADDR + 16;
	uint32_t ioapic = cfg + 44 + 4 * 20 + 8;

	build(&m, "4", 0, false);
	assert_int_equal(m.mem[ioapic], 2);
	m.mem[ioapic + 1] = 9;
	fix_mp_checksum(m.mem, cfg);
	check_fails(&m, "MP table: 1 I/O APIC(s), ID 9 at 0xfec00000; the MADT says ID 4 at "
		    "0xfec00000");
	destroy(&m);
}

static void test_mp_presence(void **state)
{
	struct machine m, small;
	char err[256];

	build(&m, "4", 0, false);
	m.mem[MPTABLE_ADDR] = 0;
	check_fails(&m, "MP table expected: no MP floating pointer (\"_MP_\") in the EBDA, the "
		    "last KiB of base memory or 0xF0000-0xFFFFF");
	destroy(&m);

	/* An x2APIC platform with an MP table (of another machine) in its memory. */
	build(&m, "256", 0, false);
	build(&small, "4", 0, false);
	assert_true(mptable_build(&small.p, m.mem, MEM_SIZE, MPTABLE_ADDR, MPTABLE_MAX, err,
				  sizeof(err)) > 0);
	check_fails(&m, "MP table at 0xf0000, but the platform uses x2APIC and must have none");
	destroy(&small);
	destroy(&m);
}

static void test_no_acpi(void **state)
{
	struct machine m;

	build(&m, "2", 0, false);
	m.mem[ACPI_ADDR] = 0;
	check_fails(&m, "MADT expected: ACPI: no RSDP (\"RSD PTR \") in 0xE0000-0xFFFFF");
	destroy(&m);
}

static void test_cpuid_wrong_apic_id(void **state)
{
	struct machine m;
	struct cpuid_table *t;

	build(&m, "4", 0, false);
	/* vCPU 3 given vCPU 2's CPUID. */
	t = m.cpuid[3];
	m.cpuid[3] = vcpu_cpuid(&m.p, 2);
	check_fails(&m, "vCPU 3: MADT has APIC ID 3 but CPUID leaf 0xB says 2");
	free(m.cpuid[3]);
	m.cpuid[3] = t;
	check_ok(&m);
	/* Leaf 0xB right, leaf 1 wrong. */
	for (size_t i = 0; i < t->n; i++)
		if (t->e[i].function == 1)
			t->e[i].ebx = (t->e[i].ebx & 0x00ffffff) | 5u << 24;
	check_fails(&m, "vCPU 3: MADT has APIC ID 3 but CPUID leaf 1 EBX[31:24] says 5");
	destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_tables_pass),
		cmocka_unit_test(test_madt_apic_ids_swapped),
		cmocka_unit_test(test_madt_unknown_and_duplicate_ids),
		cmocka_unit_test(test_madt_bsp_not_first),
		cmocka_unit_test(test_madt_wrong_entry_type),
		cmocka_unit_test(test_madt_count_mismatch),
		cmocka_unit_test(test_mp_bp_flag_dropped),
		cmocka_unit_test(test_mp_ioapic_disagrees),
		cmocka_unit_test(test_mp_presence),
		cmocka_unit_test(test_no_acpi),
		cmocka_unit_test(test_cpuid_wrong_apic_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
