/*
 * test_cpuid.c - unit tests of the per-vCPU CPUID rewrite: identity and topology fields of
 * leaves 0x0, 0x1, 0x4, 0xB, 0x1F, 0x80000008 and 0x8000001E, and the table look-ups.
 *
 * Pure: the 'supported' tables are made up here, as KVM_GET_SUPPORTED_CPUID might return them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "x86/cpuid.h"

#define SIG CPUID_FLAG_SIGNIFICANT_INDEX
#define HTT (1u << 28)

/* Leaf 1 EBX[15:0] (brand index, CLFLUSH size) and leaf 4 EAX[25:0] must survive the rewrite. */
#define L1_EBX_LOW 0x0800u
#define L4_EAX_LOW(type) ((type) | 0x00004100u)

static const struct cpuid_entry full_leaves[] = {
	{ 0x0, 0, 0, 0x1f, 0x756e6547, 0x6c65746e, 0x49656e69 },
	{ 0x1, 0, 0, 0x000906ea, 0xab000000u | L1_EBX_LOW, 0x80000000, 0x0000ffff },
	{ 0x4, 0, SIG, 0xfc000000u | L4_EAX_LOW(1), 1, 2, 3 },
	{ 0x4, 1, SIG, 0xfc000000u | L4_EAX_LOW(2), 1, 2, 3 },
	{ 0x4, 2, SIG, 0xfc000000u | L4_EAX_LOW(3), 1, 2, 3 },
	{ 0x4, 3, SIG, 0xfc000000u | L4_EAX_LOW(3), 1, 2, 3 },
	{ 0x4, 4, SIG, 0, 0, 0, 0 }, /* null cache type: end of enumeration */
	{ 0xb, 0, SIG, 7, 7, 7, 7 },
	{ 0xb, 1, SIG, 7, 7, 7, 7 },
	{ 0x1f, 0, SIG, 7, 7, 7, 7 },
	{ 0x1f, 1, SIG, 7, 7, 7, 7 },
	{ 0x80000000, 0, 0, 0x80000008, 0, 0, 0 },
	{ 0x80000008, 0, 0, 0x3030, 0, 0x0003f0ffu, 0 },
};

struct fixture {
	struct platform p;
	struct cpuid_table *supported;
	struct cpuid_table *out;
};

/* A table holding e[0..n), with room for `room` entries more (exactly: ASan sees overruns). */
static struct cpuid_table *alloc_table(const struct cpuid_entry *e, size_t n, size_t room)
{
	struct cpuid_table *t = calloc(1, sizeof(*t) + (n + room) * sizeof(t->e[0]));

	assert_non_null(t);
	memcpy(t->e, e, n * sizeof(e[0]));
	t->n = n;
	return t;
}

static struct cpuid_table *make_table(const struct cpuid_entry *e, size_t n)
{
	return alloc_table(e, n, 0);
}

/* Platform `spec`, the table `e`, and vCPU `index`'s CPUID in f->out. */
static void setup_vcpu(struct fixture *f, const char *spec, const struct cpuid_entry *e, size_t n,
		       uint32_t index)
{
	struct topology t;
	char err[256] = "";

	if (topology_parse(spec, &t, err, sizeof(err)) ||
	    platform_init(&f->p, &t, 0, false, err, sizeof(err)))
		fail_msg("%s: %s", spec, err);
	f->supported = make_table(e, n);
	f->out = alloc_table(e, 0, n + CPUID_EXTRA_ENTRIES);
	assert_int_equal(cpuid_for_vcpu(&f->p, index, f->supported, f->out), 0);
}

static void teardown_vcpu(struct fixture *f)
{
	free(f->supported);
	free(f->out);
	platform_free(&f->p);
}

static const struct cpuid_entry *must_find(const struct cpuid_table *t, uint32_t fn,
					   uint32_t idx)
{
	const struct cpuid_entry *e = cpuid_find(t, fn, idx);

	if (!e)
		fail_msg("leaf 0x%x.%u missing", fn, idx);
	return e;
}

static void assert_level(const struct cpuid_table *t, uint32_t fn, uint32_t idx, uint32_t eax,
			 uint32_t ebx, uint32_t ecx, uint32_t edx)
{
	const struct cpuid_entry *e = must_find(t, fn, idx);

	assert_int_equal(e->index, idx);
	assert_true(e->flags & SIG);
	assert_int_equal(e->eax, eax);
	assert_int_equal(e->ebx, ebx);
	assert_int_equal(e->ecx, ecx);
	assert_int_equal(e->edx, edx);
}

#define N_FULL (sizeof(full_leaves) / sizeof(full_leaves[0]))

static void test_smt_shape_vcpu7(void **state)
{
	struct fixture f;

	/* vCPU 7 of 2 sockets * 3 cores * 2 threads: APIC ID 9, 1 thread bit, 2 core bits. */
	setup_vcpu(&f, "12,sockets=2,cores=3,threads=2", full_leaves, N_FULL, 7);
	assert_int_equal(must_find(f.out, 0, 0)->eax, 0x1f);

	const struct cpuid_entry *l1 = must_find(f.out, 1, 0);

	assert_int_equal(l1->ebx, 9u << 24 | 8u << 16 | L1_EBX_LOW);
	assert_int_equal(l1->edx, 0x0000ffffu | HTT);
	assert_int_equal(l1->eax, 0x000906ea);
	for (uint32_t i = 0; i < 4; i++)
		assert_int_equal(must_find(f.out, 4, i)->eax >> 26, 3);
	assert_int_equal(must_find(f.out, 4, 0)->eax & 0x03ffffff, L4_EAX_LOW(1));
	assert_int_equal(must_find(f.out, 4, 4)->eax, 0);

	for (uint32_t leaf = 0xb; leaf <= 0x1f; leaf += 0x1f - 0xb) {
		assert_level(f.out, leaf, 0, 1, 2, 1u << 8 | 0, 9);
		assert_level(f.out, leaf, 1, 3, 6, 2u << 8 | 1, 9);
		assert_level(f.out, leaf, 2, 0, 0, 2, 9);
	}
	/* Sub-leaf 2 of 0xB and of 0x1F were added. */
	assert_int_equal(f.out->n, N_FULL + 2);
	/* NC = 6 - 1, ApicIdSize = 3; ECX[17:16] (perf TSC size) kept. */
	assert_int_equal(must_find(f.out, 0x80000008, 0)->ecx, 0x00030000u | 3u << 12 | 5);
	assert_int_equal(cpuid_apic_id(f.out), 9);
	teardown_vcpu(&f);
}

static void test_single_cpu_clears_htt(void **state)
{
	struct cpuid_entry e[N_FULL];
	struct fixture f;

	memcpy(e, full_leaves, sizeof(e));
	e[1].edx |= HTT;
	setup_vcpu(&f, "1", e, N_FULL, 0);

	const struct cpuid_entry *l1 = must_find(f.out, 1, 0);

	assert_int_equal(l1->ebx, 0u << 24 | 1u << 16 | L1_EBX_LOW);
	assert_false(l1->edx & HTT);
	assert_int_equal(must_find(f.out, 4, 2)->eax >> 26, 0);
	assert_level(f.out, 0xb, 0, 0, 1, 1u << 8, 0);
	assert_level(f.out, 0xb, 1, 0, 1, 2u << 8 | 1, 0);
	assert_int_equal(must_find(f.out, 0x80000008, 0)->ecx & 0xf0ff, 0);
	teardown_vcpu(&f);
}

static void test_flat_many_sockets(void **state)
{
	struct fixture f;

	/* "8": 8 sockets of one core: no HTT, no core or thread bits, APIC ID = index. */
	setup_vcpu(&f, "8", full_leaves, N_FULL, 5);
	assert_int_equal(must_find(f.out, 1, 0)->ebx >> 16, 5u << 8 | 1);
	assert_level(f.out, 0xb, 0, 0, 1, 1u << 8, 5);
	assert_level(f.out, 0xb, 1, 0, 1, 2u << 8 | 1, 5);
	teardown_vcpu(&f);
}

static void test_x2apic_ids(void **state)
{
	struct fixture f;

	/* 1024 vCPUs as 4 sockets of 256 cores: 8 core bits; vCPU 1000 = socket 3, core 232. */
	setup_vcpu(&f, "1024,sockets=4", full_leaves, N_FULL, 1000);
	assert_int_equal(must_find(f.out, 1, 0)->ebx >> 24, 1000 & 0xff);
	/* 1 << 8 addressable IDs does not fit the 8-bit field: it saturates. */
	assert_int_equal((must_find(f.out, 1, 0)->ebx >> 16) & 0xff, 255);
	assert_int_equal(must_find(f.out, 4, 0)->eax >> 26, 63);
	assert_level(f.out, 0xb, 0, 0, 1, 1u << 8, 1000);
	assert_level(f.out, 0xb, 1, 8, 256, 2u << 8 | 1, 1000);
	assert_level(f.out, 0xb, 2, 0, 0, 2, 1000);
	assert_int_equal(must_find(f.out, 0x80000008, 0)->ecx, 0x00030000u | 8u << 12 | 255);
	assert_int_equal(cpuid_apic_id(f.out), 1000);
	teardown_vcpu(&f);
}

static void test_missing_ext_topology_is_added(void **state)
{
	static const struct cpuid_entry old[] = {
		{ 0x0, 0, 0, 0x7, 0, 0, 0 },
		{ 0x1, 0, 0, 0x600, 0, 0, 0 },
		{ 0x80000000, 0, 0, 0x80000001, 0, 0, 0 },
	};
	struct fixture f;

	setup_vcpu(&f, "8,sockets=1,cores=4,threads=2", old, 3, 3);
	assert_int_equal(must_find(f.out, 0, 0)->eax, 0xb);
	assert_int_equal(f.out->n, 3 + 3);
	assert_level(f.out, 0xb, 0, 1, 2, 1u << 8, 3);
	assert_level(f.out, 0xb, 1, 3, 8, 2u << 8 | 1, 3);
	assert_level(f.out, 0xb, 2, 0, 0, 2, 3);
	/* Max basic leaf below 0x1F: no 0x1F added; no 0x80000008 invented. */
	assert_null(cpuid_find(f.out, 0x1f, 0));
	assert_null(cpuid_find(f.out, 0x80000008, 0));
	assert_int_equal(must_find(f.out, 1, 0)->ebx, 3u << 24 | 8u << 16);
	assert_true(must_find(f.out, 1, 0)->edx & HTT);
	/* The input is untouched. */
	assert_int_equal(f.supported->n, 3);
	assert_int_equal(f.supported->e[0].eax, 0x7);
	teardown_vcpu(&f);
}

static void test_leaf_1f_only_when_supported(void **state)
{
	struct cpuid_entry e[N_FULL];
	struct fixture f;

	memcpy(e, full_leaves, sizeof(e));
	e[0].eax = 0x1e;
	setup_vcpu(&f, "4,threads=2", e, N_FULL, 1);
	assert_int_equal(must_find(f.out, 0x1f, 0)->eax, 7); /* left as it was */
	assert_null(cpuid_find(f.out, 0x1f, 2));
	assert_level(f.out, 0xb, 0, 1, 2, 1u << 8, 1);
	teardown_vcpu(&f);
}

static void test_amd_extended_apic_leaf(void **state)
{
	static const struct cpuid_entry amd[] = {
		{ 0x0, 0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65 },
		{ 0x1, 0, 0, 0x00a00f11, 0, 0, 0 },
		{ 0x80000000, 0, 0, 0x8000001e, 0, 0, 0 },
		{ 0x80000008, 0, 0, 0, 0, 0, 0 },
		{ 0x8000001e, 0, 0, 0xffffffff, 0xffffffff, 0xffffffff, 0 },
	};
	struct fixture f;

	/* vCPU 7 of 2*3*2: APIC ID 9 = socket 1 | core 0 | thread 1. */
	setup_vcpu(&f, "12,sockets=2,cores=3,threads=2", amd, 5, 7);

	const struct cpuid_entry *e = must_find(f.out, 0x8000001e, 0);

	assert_int_equal(e->eax, 9);
	assert_int_equal(e->ebx, 1u << 8 | (9 >> 1));
	assert_int_equal(e->ecx, 1);
	assert_int_equal(must_find(f.out, 0x80000008, 0)->ecx, 3u << 12 | 5);
	teardown_vcpu(&f);
}

static void test_find_honours_significant_index(void **state)
{
	struct cpuid_table *t = make_table(full_leaves, N_FULL);

	assert_int_equal(must_find(t, 4, 2)->eax & 0x1f, 3);
	assert_int_equal(must_find(t, 4, 1)->eax & 0x1f, 2);
	assert_null(cpuid_find(t, 4, 9));
	/* Leaf 1's index is not significant: any index finds it. */
	assert_ptr_equal(cpuid_find(t, 1, 5), &t->e[1]);
	assert_null(cpuid_find(t, 0x40000000, 0));
	free(t);
}

static void test_apic_id_sources(void **state)
{
	static const struct cpuid_entry only_leaf1[] = {
		{ 0x1, 0, 0, 0, 0x2a000000, 0, 0 },
	};
	static const struct cpuid_entry with_b[] = {
		{ 0x1, 0, 0, 0, 0x2a000000, 0, 0 },
		{ 0xb, 0, SIG, 0, 0, 0, 0x12a },
	};
	struct cpuid_table *t1 = make_table(only_leaf1, 1);
	struct cpuid_table *t2 = make_table(with_b, 2);
	struct cpuid_table *t0 = alloc_table(with_b, 0, 1);

	assert_int_equal(cpuid_apic_id(t1), 0x2a);
	assert_int_equal(cpuid_apic_id(t2), 0x12a);
	assert_int_equal(cpuid_apic_id(t0), UINT32_MAX);
	free(t0);
	free(t1);
	free(t2);
}

static void test_rejects_bad_input(void **state)
{
	static const struct cpuid_entry no_leaf1[] = { { 0x0, 0, 0, 0xd, 0, 0, 0 } };
	struct fixture f;
	struct cpuid_table *bad = make_table(no_leaf1, 1);

	setup_vcpu(&f, "4", full_leaves, N_FULL, 0);
	assert_int_equal(cpuid_for_vcpu(&f.p, 4, f.supported, f.out), -1);
	assert_int_equal(cpuid_for_vcpu(&f.p, 3, bad, f.out), -1);
	free(bad);
	teardown_vcpu(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_smt_shape_vcpu7),
		cmocka_unit_test(test_single_cpu_clears_htt),
		cmocka_unit_test(test_flat_many_sockets),
		cmocka_unit_test(test_x2apic_ids),
		cmocka_unit_test(test_missing_ext_topology_is_added),
		cmocka_unit_test(test_leaf_1f_only_when_supported),
		cmocka_unit_test(test_amd_extended_apic_leaf),
		cmocka_unit_test(test_find_honours_significant_index),
		cmocka_unit_test(test_apic_id_sources),
		cmocka_unit_test(test_rejects_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
