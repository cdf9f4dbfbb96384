/*
 * test_pagewalk.c - unit tests of the page-table walker (x86/pagewalk.c) the gdb stub
 * translates with: no paging, 32-bit paging (4 KiB and 4 MiB pages), PAE (4 KiB, 2 MiB),
 * 4-level (4 KiB, 2 MiB, 1 GiB) and 5-level paging, and entries that are not present.
 *
 * Pure: the tables live in a byte array.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "x86/pagewalk.h"
#include "x86/regs.h"

#define MEM (1u << 20)
static uint8_t mem[MEM];

static int rd(void *ctx, uint64_t gpa, unsigned size, uint64_t *val)
{
	(void)ctx;
	if (gpa >= MEM || size > MEM - gpa)
		return -1;
	*val = 0;
	memcpy(val, mem + gpa, size);
	return 0;
}

static void put32(uint64_t at, uint32_t v) { memcpy(mem + at, &v, 4); }
static void put64(uint64_t at, uint64_t v) { memcpy(mem + at, &v, 8); }

static uint64_t walk_ok(const struct x86_paging *p, uint64_t lin)
{
	uint64_t gpa = 0;

	if (x86_pagewalk(p, lin, rd, NULL, &gpa) < 0)
		fail_msg("0x%llx did not translate", (unsigned long long)lin);
	return gpa;
}

static void walk_fails(const struct x86_paging *p, uint64_t lin)
{
	uint64_t gpa;

	assert_int_equal(x86_pagewalk(p, lin, rd, NULL, &gpa), -1);
}

static void test_no_paging(void **state)
{
	const struct x86_paging real = { 0 };
	const struct x86_paging prot = { .cr0 = X86_CR0_PE };

	(void)state;
	assert_int_equal(walk_ok(&real, 0x8000), 0x8000);
	assert_int_equal(walk_ok(&prot, 0xfee00300), 0xfee00300);
	assert_int_equal(walk_ok(&prot, 0x100000123ull), 0x123); /* 32-bit linear */
}

static void test_32bit(void **state)
{
	const struct x86_paging p = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = 0x1000,
				      .cr4 = 1u << 4 /* PSE */ };

	(void)state;
	memset(mem, 0, MEM);
	put32(0x1000 + (0xc0000000u >> 22) * 4, 0x2000 | 1);     /* PDE -> PT at 0x2000 */
	put32(0x2000 + ((0xc0001000u >> 12) & 0x3ff) * 4, 0x5000 | 1);
	put32(0x1000 + (0x00400000u >> 22) * 4, 0x00800000u | 0x81); /* 4 MiB page */
	assert_int_equal(walk_ok(&p, 0xc0001234u), 0x5234);
	assert_int_equal(walk_ok(&p, 0x00412345u), 0x00812345u);
	walk_fails(&p, 0xc0002000u); /* PTE not present */
	walk_fails(&p, 0x80000000u); /* PDE not present */
}

static void test_pae(void **state)
{
	const struct x86_paging p = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = 0x1020,
				      .cr4 = X86_CR4_PAE };

	(void)state;
	memset(mem, 0, MEM);
	put64(0x1020 + 3 * 8, 0x3000 | 1);                          /* PDPTE 3 -> PD */
	put64(0x3000 + ((0xc0200000u >> 21) & 0x1ff) * 8, 0x4000 | 3); /* PDE -> PT */
	put64(0x4000 + ((0xc0201000u >> 12) & 0x1ff) * 8, 0x7000 | 3);
	put64(0x3000 + ((0xc0400000u >> 21) & 0x1ff) * 8, 0x00600000u | 0x83); /* 2 MiB */
	assert_int_equal(walk_ok(&p, 0xc0201abcu), 0x7abc);
	assert_int_equal(walk_ok(&p, 0xc0412345u), 0x00612345u);
	walk_fails(&p, 0x00001000u); /* PDPTE 0 not present */
}

static void test_4level(void **state)
{
	const struct x86_paging p = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = 0x1000,
				      .cr4 = X86_CR4_PAE, .efer = X86_EFER_LME | X86_EFER_LMA };
	const uint64_t high = 0xffffffff80001000ull;

	(void)state;
	memset(mem, 0, MEM);
	put64(0x1000 + 0 * 8, 0x2000 | 3);             /* PML4[0] -> PDPT 0x2000 */
	put64(0x2000 + 0 * 8, 0x83);                   /* 1 GiB page at 0 */
	put64(0x2000 + 1 * 8, 0x3000 | 3);             /* PDPT[1] -> PD 0x3000 */
	put64(0x3000 + 0 * 8, 0x00200000u | 0x83);     /* 2 MiB page */
	put64(0x1000 + 511 * 8, 0x4000 | 3);           /* PML4[511] -> PDPT 0x4000 */
	put64(0x4000 + 510 * 8, 0x5000 | 3);           /* -> PD */
	put64(0x5000 + 0 * 8, 0x6000 | 3);             /* -> PT */
	put64(0x6000 + 1 * 8, 0x9000 | 3 | (1ull << 63)); /* NX bit is not an address bit */
	assert_int_equal(walk_ok(&p, 0x12345678), 0x12345678);
	assert_int_equal(walk_ok(&p, 0x40012345), 0x00212345);
	assert_int_equal(walk_ok(&p, high + 0x10), 0x9010);
	walk_fails(&p, 0x8000000000ull); /* PML4[1] not present */
}

static void test_5level(void **state)
{
	const struct x86_paging p = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = 0x1000,
				      .cr4 = X86_CR4_PAE | (1u << 12),
				      .efer = X86_EFER_LME | X86_EFER_LMA };

	(void)state;
	memset(mem, 0, MEM);
	put64(0x1000, 0x2000 | 3); /* PML5[0] -> PML4 */
	put64(0x2000, 0x3000 | 3); /* PML4[0] -> PDPT */
	put64(0x3000, 0x83);       /* 1 GiB page */
	assert_int_equal(walk_ok(&p, 0x8000), 0x8000);
}

static void test_table_outside_memory(void **state)
{
	const struct x86_paging p = { .cr0 = X86_CR0_PE | X86_CR0_PG, .cr3 = 0x7ffff000ull,
				      .cr4 = X86_CR4_PAE, .efer = X86_EFER_LMA };

	(void)state;
	walk_fails(&p, 0x1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_paging),
		cmocka_unit_test(test_32bit),
		cmocka_unit_test(test_pae),
		cmocka_unit_test(test_4level),
		cmocka_unit_test(test_5level),
		cmocka_unit_test(test_table_outside_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
