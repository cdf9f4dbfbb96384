/*
 * test_e820.c - the guest memory map: guest_mem's regions minus the PC's EBDA, VGA hole and
 * BIOS area, for a small guest and one with RAM above 4 GiB; carve-out rules; initrd
 * placement (highest aligned fit) and the RAM above 1 MiB.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "boot/e820.h"
#include "boot/layout.h"

static void expect(const struct e820_entry *e, uint64_t addr, uint64_t size, uint32_t type)
{
	assert_int_equal(e->addr, addr);
	assert_int_equal(e->size, size);
	assert_int_equal(e->type, type);
}

static void test_pc_small(void **state)
{
	struct guest_mem m;
	struct e820_entry e[E820_MAX];
	char err[128];

	(void)state;
	assert_int_equal(guest_mem_init(&m, 64u << 20, err, sizeof(err)), 0);
	assert_int_equal(e820_build_pc(&m, e, E820_MAX, err, sizeof(err)), 4);
	expect(&e[0], 0, 0x9fc00, E820_RAM);
	expect(&e[1], 0x9fc00, 0x400, E820_RESERVED); /* EBDA */
	/* 0xa0000-0xdffff (VGA, option ROMs) is not listed at all */
	expect(&e[2], 0xe0000, 0x20000, E820_RESERVED); /* ACPI, MP table */
	expect(&e[3], 0x100000, (64u << 20) - 0x100000, E820_RAM);
	assert_int_equal(e820_upper_ram(e, 4), (64u << 20) - 0x100000);
	guest_mem_free(&m);
}

static void test_pc_above_4g(void **state)
{
	struct guest_mem m;
	struct e820_entry e[E820_MAX];
	char err[128];

	(void)state;
	assert_int_equal(guest_mem_init(&m, 4ull << 30, err, sizeof(err)), 0);
	assert_int_equal(e820_build_pc(&m, e, E820_MAX, err, sizeof(err)), 5);
	expect(&e[3], 0x100000, 0xc0000000ull - 0x100000, E820_RAM);
	expect(&e[4], 0x100000000ull, 1ull << 30, E820_RAM); /* the rest above the hole */
	/* mem_upper stops at the first hole. */
	assert_int_equal(e820_upper_ram(e, 5), 0xc0000000ull - 0x100000);
	guest_mem_free(&m);
}

static void test_carve_rules(void **state)
{
	struct guest_mem m;
	struct e820_entry e[8];
	char err[128] = "";
	const struct e820_carve unsorted[] = { { 0x2000, 0x1000, 2 }, { 0x1000, 0x1000, 2 } };
	const struct e820_carve overlap[] = { { 0x1000, 0x2000, 2 }, { 0x2000, 0x1000, 2 } };
	const struct e820_carve edges[] = { { 0, 0x1000, 2 }, { (1u << 20) - 0x1000, 0x2000, 3 } };

	(void)state;
	assert_int_equal(guest_mem_init(&m, 1u << 20, err, sizeof(err)), 0);
	assert_int_equal(e820_build(&m, unsorted, 2, e, 8, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "out of order"));
	assert_int_equal(e820_build(&m, overlap, 2, e, 8, err, sizeof(err)), -1);
	/* A carve-out at RAM's start, and one running past its end (clipped). */
	assert_int_equal(e820_build(&m, edges, 2, e, 8, err, sizeof(err)), 3);
	expect(&e[0], 0, 0x1000, 2);
	expect(&e[1], 0x1000, (1u << 20) - 0x2000, E820_RAM);
	expect(&e[2], (1u << 20) - 0x1000, 0x1000, 3);
	/* Too small an output table. */
	assert_int_equal(e820_build(&m, edges, 2, e, 2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "more than 2 entries"));
	guest_mem_free(&m);
}

static void test_place_high(void **state)
{
	const struct e820_entry e[] = {
		{ 0, 0x9fc00, E820_RAM }, { 0x9fc00, 0x400, E820_RESERVED },
		{ 0x100000, 0x3f00000, E820_RAM }, /* up to 64 MiB */
		{ 0x4000000, 0x100000, E820_RESERVED },
		{ 0x4100000, 0x100000, E820_RAM }, /* 1 MiB more */
	};
	uint64_t a;

	(void)state;
	/* Highest fit: in the last RAM entry, page aligned, ending by its end. */
	assert_int_equal(e820_place_high(e, 5, 5000, 0x100000, ~0ull, 0x1000, &a), 0);
	assert_int_equal(a, 0x4200000 - 0x2000);
	/* Too big for the last entry: the one below. */
	assert_int_equal(e820_place_high(e, 5, 0x200000, 0x100000, ~0ull, 0x1000, &a), 0);
	assert_int_equal(a, 0x4000000 - 0x200000);
	/* Under a ceiling. */
	assert_int_equal(e820_place_high(e, 5, 0x1000, 0x100000, 0x2000800, 0x1000, &a), 0);
	assert_int_equal(a, 0x1fff000);
	/* Above a floor that leaves no room; never in reserved memory. */
	assert_int_equal(e820_place_high(e, 5, 0x200000, 0x3f00000, ~0ull, 0x1000, &a), -1);
	assert_int_equal(e820_place_high(e, 5, 0x500, 0x9fc00, 0xa0000, 0x100, &a), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pc_small),
		cmocka_unit_test(test_pc_above_4g),
		cmocka_unit_test(test_carve_rules),
		cmocka_unit_test(test_place_high),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
