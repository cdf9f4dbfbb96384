/*
 * test_mptable.c - unit tests of the MP Spec 1.4 table builder and parser: checksums, entry
 * order and content, BSP placement, the OS-style search, and rejection of corrupted tables.
 *
 * Pure: "guest memory" is a zeroed 1 MiB buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "x86/mptable.h"

#define MEM_SIZE (1u << 20)
#define FP MPTABLE_ADDR
#define CFG (MPTABLE_ADDR + 16)
#define ENTRIES (CFG + 44)

struct machine {
	struct platform p;
	uint8_t *mem;
	long len;
};

static void build(struct machine *m, const char *spec, uint32_t boot, bool force_x2apic)
{
	struct topology t;
	char err[256] = "";

	if (topology_parse(spec, &t, err, sizeof(err)) ||
	    platform_init(&m->p, &t, boot, force_x2apic, err, sizeof(err)))
		fail_msg("%s: %s", spec, err);
	m->mem = calloc(1, MEM_SIZE);
	assert_non_null(m->mem);
	m->len = mptable_build(&m->p, m->mem, MEM_SIZE, MPTABLE_ADDR, MPTABLE_MAX, err,
			       sizeof(err));
	if (m->len < 0)
		fail_msg("%s: %s", spec, err);
}

static void destroy(struct machine *m)
{
	free(m->mem);
	platform_free(&m->p);
}

static uint32_t rd16(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8;
}

static uint32_t rd32(const uint8_t *b)
{
	return rd16(b) | rd16(b + 2) << 16;
}

static uint8_t sum(const uint8_t *b, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *b++;
	return s;
}

/* Recompute the configuration table's checksum after a test edited it. */
static void fix_table_checksum(uint8_t *mem, uint32_t cfg)
{
	mem[cfg + 7] = 0;
	mem[cfg + 7] = (uint8_t)-sum(mem + cfg, rd16(mem + cfg + 4));
}

static void fix_fp_checksum(uint8_t *mem, uint32_t fp)
{
	mem[fp + 10] = 0;
	mem[fp + 10] = (uint8_t)-sum(mem + fp, 16);
}

static void parse_ok(const uint8_t *mem, size_t size, struct mptable_info *mp)
{
	char err[256] = "";

	if (mptable_parse(mem, size, mp, err, sizeof(err)))
		fail_msg("parse: %s", err);
}

static void parse_fails(const uint8_t *mem, size_t size, const char *needle)
{
	struct mptable_info mp;
	char err[256] = "";

	assert_int_equal(mptable_parse(mem, size, &mp, err, sizeof(err)), -1);
	if (!strstr(err, needle))
		fail_msg("message \"%s\" lacks \"%s\"", err, needle);
}

static void assert_well_formed(const struct machine *m)
{
	const uint8_t *fp = m->mem + FP, *cfg = m->mem + CFG;
	uint32_t n = m->p.topo.cpus;

	assert_memory_equal(fp, "_MP_", 4);
	assert_int_equal(rd32(fp + 4), CFG);
	assert_int_equal(fp[8], 1);
	assert_int_equal(fp[9], 4);
	assert_int_equal(fp[11], 0);
	assert_int_equal(fp[12], 0);
	assert_int_equal(sum(fp, 16), 0);
	assert_memory_equal(cfg, "PCMP", 4);
	assert_int_equal(rd16(cfg + 4), 44 + 20 * n + 8 + 8 + 15 * 8 + 2 * 8);
	assert_int_equal(m->len, 16 + rd16(cfg + 4));
	assert_int_equal(cfg[6], 4);
	assert_memory_equal(cfg + 8, "MPVMM   ", 8);
	assert_memory_equal(cfg + 16, "MPVMM 0.1   ", 12);
	assert_int_equal(rd16(cfg + 34), n + 1 + 1 + 15 + 2);
	assert_int_equal(rd32(cfg + 36), 0xfee00000u);
	assert_int_equal(sum(cfg, rd16(cfg + 4)), 0);
}

static void assert_cpus_match(const struct machine *m, const struct mptable_info *mp)
{
	const struct platform *p = &m->p;
	size_t k = 0;

	assert_int_equal(mp->ncpus, p->topo.cpus);
	assert_int_equal(mp->cpus[k].apic_id, p->cpus[p->boot_cpu].apic_id);
	assert_true(mp->cpus[k].bsp);
	assert_true(mp->cpus[k].enabled);
	for (uint32_t i = 0; i < p->topo.cpus; i++) {
		if (i == p->boot_cpu)
			continue;
		k++;
		assert_int_equal(mp->cpus[k].apic_id, p->cpus[i].apic_id);
		assert_false(mp->cpus[k].bsp);
		assert_true(mp->cpus[k].enabled);
	}
}

static void check_size(const char *spec, uint32_t boot)
{
	struct machine m;
	struct mptable_info mp;

	build(&m, spec, boot, false);
	assert_well_formed(&m);
	parse_ok(m.mem, MEM_SIZE, &mp);
	assert_int_equal(mp.fp_addr, FP);
	assert_int_equal(mp.table_addr, CFG);
	assert_int_equal(mp.lapic_addr, 0xfee00000u);
	assert_int_equal(mp.nioapics, 1);
	assert_int_equal(mp.ioapic_id, m.p.ioapic_id);
	assert_int_equal(mp.ioapic_addr, 0xfec00000u);
	assert_int_equal(mp.nirqs, 15);
	assert_cpus_match(&m, &mp);
	destroy(&m);
}

static void test_sizes_with_mptable(void **state)
{
	check_size("1", 0);
	check_size("2", 1);
	check_size("255", 0);
}

static void test_ids_up_to_254(void **state)
{
	struct machine m;
	struct mptable_info mp;

	build(&m, "255", 0, false);
	parse_ok(m.mem, MEM_SIZE, &mp);
	for (uint32_t i = 0; i < 255; i++)
		assert_int_equal(mp.cpus[i].apic_id, i);
	destroy(&m);
}

static void check_no_mptable(const char *spec, bool force_x2apic)
{
	struct machine m;
	uint8_t *zero = calloc(1, MEM_SIZE);

	build(&m, spec, 0, force_x2apic);
	assert_int_equal(m.len, 0);
	assert_memory_equal(m.mem, zero, MEM_SIZE);
	parse_fails(m.mem, MEM_SIZE, "no MP floating pointer");
	free(zero);
	destroy(&m);
}

static void test_x2apic_platforms_have_none(void **state)
{
	check_no_mptable("256", false);
	check_no_mptable("1024", false);
	check_no_mptable("4", true);
}

static void test_bsp_first_and_flagged(void **state)
{
	check_size("8", 0);
	check_size("8", 3);
	check_size("8", 7);
	check_size("12,sockets=2,cores=3,threads=2", 11);
}

static void test_entry_contents(void **state)
{
	struct machine m;
	const uint8_t *e;

	build(&m, "2", 1, false);
	e = m.mem + ENTRIES;
	/* Processors: BSP (APIC ID 1) first with EN|BP, then APIC ID 0 with EN only. */
	for (int i = 0; i < 2; i++, e += 20) {
		assert_int_equal(e[0], 0);
		assert_int_equal(e[1], i == 0 ? 1 : 0);
		assert_int_equal(e[2], 0x14);
		assert_int_equal(e[3], i == 0 ? 3 : 1);
		assert_int_equal(rd32(e + 4), 0x600);
		assert_int_equal(rd32(e + 8), 0x201);
	}
	assert_int_equal(e[0], 1);
	assert_int_equal(e[1], 0);
	assert_memory_equal(e + 2, "ISA   ", 6);
	e += 8;
	assert_int_equal(e[0], 2);
	assert_int_equal(e[1], 2); /* max APIC ID 1, so the I/O APIC is 2 */
	assert_int_equal(e[2], 0x11);
	assert_int_equal(e[3], 1);
	assert_int_equal(rd32(e + 4), 0xfec00000u);
	e += 8;
	for (uint8_t irq = 0; irq < 16; irq++) {
		if (irq == 2)
			continue;
		assert_int_equal(e[0], 3);
		assert_int_equal(e[1], 0);
		assert_int_equal(rd16(e + 2), 0);
		assert_int_equal(e[4], 0);
		assert_int_equal(e[5], irq);
		assert_int_equal(e[6], 2);
		assert_int_equal(e[7], irq == 0 ? 2 : irq);
		e += 8;
	}
	static const uint8_t lint[2][8] = {
		{ 4, 3, 0, 0, 0, 0, 0xff, 0 }, /* ExtINT -> LINT0 of all */
		{ 4, 1, 0, 0, 0, 0, 0xff, 1 }, /* NMI -> LINT1 of all */
	};
	assert_memory_equal(e, lint, sizeof(lint));
	e += sizeof(lint);
	assert_int_equal(e - (m.mem + FP), m.len);
	destroy(&m);
}

static void test_does_not_fit(void **state)
{
	struct machine m;
	char err[256];
	uint8_t *zero = calloc(1, MEM_SIZE);

	build(&m, "4", 0, false);
	memset(m.mem, 0, MEM_SIZE);
	assert_int_equal(mptable_build(&m.p, m.mem, MEM_SIZE, FP, 100, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "only 100 available"));
	assert_int_equal(mptable_build(&m.p, m.mem, MEM_SIZE, MEM_SIZE - 64, 4096, err,
				       sizeof(err)), -1);
	assert_non_null(strstr(err, "beyond guest memory"));
	assert_int_equal(mptable_build(&m.p, m.mem, MEM_SIZE, FP + 4, 4096, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "aligned"));
	assert_memory_equal(m.mem, zero, MEM_SIZE);
	free(zero);
	destroy(&m);
}

static void test_found_in_ebda_and_base_memory(void **state)
{
	struct machine m;
	struct mptable_info mp;
	char err[256];

	build(&m, "4", 2, false);
	memset(m.mem, 0, MEM_SIZE);
	/* EBDA at segment 0x9fc0: the first KiB at 0x9fc00. */
	m.mem[0x40e] = 0xc0;
	m.mem[0x40f] = 0x9f;
	assert_true(mptable_build(&m.p, m.mem, MEM_SIZE, 0x9fc00, 1024, err, sizeof(err)) > 0);
	parse_ok(m.mem, MEM_SIZE, &mp);
	assert_int_equal(mp.fp_addr, 0x9fc00);
	assert_int_equal(mp.cpus[0].apic_id, 2);

	/* No EBDA; 512 KiB of base memory: its last KiB starts at 0x7fc00. */
	memset(m.mem, 0, MEM_SIZE);
	m.mem[0x413] = 0x00;
	m.mem[0x414] = 0x02;
	assert_true(mptable_build(&m.p, m.mem, MEM_SIZE, 0x7fc00 + 0x3f0, 1024, err,
				  sizeof(err)) > 0);
	parse_ok(m.mem, MEM_SIZE, &mp);
	assert_int_equal(mp.fp_addr, 0x7fff0);
	assert_int_equal(mp.table_addr, 0x80000);

	/* The same table outside every searched area is not found. */
	m.mem[0x414] = 0x01;
	parse_fails(m.mem, MEM_SIZE, "no MP floating pointer");
	destroy(&m);
}

static void test_rejects_bad_checksums(void **state)
{
	struct machine m;

	build(&m, "4", 0, false);
	m.mem[ENTRIES + 1] ^= 0x40;
	parse_fails(m.mem, MEM_SIZE, "configuration table at 0xf0010: bad checksum");
	m.mem[ENTRIES + 1] ^= 0x40;
	m.mem[FP + 15] ^= 1;
	parse_fails(m.mem, MEM_SIZE, "floating pointer at 0xf0000: bad checksum");
	destroy(&m);
}

static void test_rejects_bad_structure(void **state)
{
	struct machine m;
	uint8_t *good = malloc(MEM_SIZE);
	uint32_t len;

	build(&m, "4", 0, false);
	memcpy(good, m.mem, MEM_SIZE);
	len = rd16(m.mem + CFG + 4);

	/* Base table length cut inside the last entry. */
	m.mem[CFG + 4] = (uint8_t)(len - 4);
	fix_table_checksum(m.mem, CFG);
	parse_fails(m.mem, MEM_SIZE, "is truncated by the base table length");

	/* Entry count larger than the entries the length holds. */
	memcpy(m.mem, good, MEM_SIZE);
	m.mem[CFG + 34]++;
	fix_table_checksum(m.mem, CFG);
	parse_fails(m.mem, MEM_SIZE, "past the base table length");

	/* Entry count smaller: bytes left over. */
	memcpy(m.mem, good, MEM_SIZE);
	m.mem[CFG + 34]--;
	fix_table_checksum(m.mem, CFG);
	parse_fails(m.mem, MEM_SIZE, "entries end at offset");

	/* Length shorter than the header. */
	memcpy(m.mem, good, MEM_SIZE);
	m.mem[CFG + 4] = 40;
	m.mem[CFG + 5] = 0;
	parse_fails(m.mem, MEM_SIZE, "shorter than its header");

	/* Unknown entry type. */
	memcpy(m.mem, good, MEM_SIZE);
	m.mem[ENTRIES + 4 * 20] = 9; /* the bus entry */
	fix_table_checksum(m.mem, CFG);
	parse_fails(m.mem, MEM_SIZE, "entry 4 has unknown type 9");

	/* No "PCMP". */
	memcpy(m.mem, good, MEM_SIZE);
	m.mem[CFG] = 'X';
	fix_table_checksum(m.mem, CFG);
	parse_fails(m.mem, MEM_SIZE, "signature is not \"PCMP\"");

	/* Pointer to a table beyond memory, or to nothing. */
	memcpy(m.mem, good, MEM_SIZE);
	m.mem[FP + 6] = 0x20; /* 0x002f0010 */
	fix_fp_checksum(m.mem, FP);
	parse_fails(m.mem, MEM_SIZE, "lies beyond guest memory");
	memset(m.mem + FP + 4, 0, 4);
	fix_fp_checksum(m.mem, FP);
	parse_fails(m.mem, MEM_SIZE, "null configuration table pointer");

	/* A default configuration, and a wrong floating pointer length. */
	memcpy(m.mem, good, MEM_SIZE);
	m.mem[FP + 11] = 5;
	fix_fp_checksum(m.mem, FP);
	parse_fails(m.mem, MEM_SIZE, "default configuration 5");
	memcpy(m.mem, good, MEM_SIZE);
	m.mem[FP + 8] = 2;
	fix_fp_checksum(m.mem, FP);
	parse_fails(m.mem, MEM_SIZE, "length 2 paragraphs");

	/* No "_MP_". */
	memcpy(m.mem, good, MEM_SIZE);
	m.mem[FP + 1] = 'X';
	parse_fails(m.mem, MEM_SIZE, "no MP floating pointer");
	free(good);
	destroy(&m);
}

static void test_table_cut_by_memory_end(void **state)
{
	struct machine m;
	uint8_t *small;
	size_t size;

	build(&m, "16", 0, false);
	/* Memory that ends inside the configuration table; exactly sized for ASan. */
	size = CFG + 100;
	small = malloc(size);
	memcpy(small, m.mem, size);
	parse_fails(small, size, "runs past guest memory");
	free(small);
	/* Memory that ends inside the floating pointer. */
	size = FP + 8;
	small = malloc(size);
	memcpy(small, m.mem, size);
	parse_fails(small, size, "no MP floating pointer");
	free(small);
	/* Memory too small even for the BIOS data area. */
	small = malloc(16);
	memset(small, 0, 16);
	parse_fails(small, 16, "no MP floating pointer");
	free(small);
	destroy(&m);
}

/* Hostile bytes: random edits with checksums repaired must never read out of bounds. */
static void test_hostile_bytes(void **state)
{
	struct machine m;
	struct mptable_info mp;
	uint8_t *mem = malloc(MEM_SIZE);
	char err[256];
	unsigned seed = 12345;
	int accepted = 0;

	build(&m, "6", 0, false);
	for (int round = 0; round < 3000; round++) {
		memcpy(mem, m.mem, MEM_SIZE);
		for (int k = 0; k < 1 + round % 4; k++) {
			seed = seed * 1103515245 + 12345;
			uint32_t off = (seed >> 8) % (uint32_t)m.len;

			seed = seed * 1103515245 + 12345;
			mem[FP + off] = (uint8_t)(seed >> 16);
		}
		fix_fp_checksum(mem, FP);
		if (rd32(mem + FP + 4) == CFG && CFG + rd16(mem + CFG + 4) <= MEM_SIZE)
			fix_table_checksum(mem, CFG);
		if (mptable_parse(mem, MEM_SIZE, &mp, err, sizeof(err)) == 0) {
			accepted++;
			assert_true(mp.ncpus <= 256);
		} else {
			assert_true(strlen(err) > 0);
		}
	}
	/* Some edits (in reserved fields, IRQ numbers) leave a valid table. */
	assert_true(accepted > 0);
	free(mem);
	destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes_with_mptable),
		cmocka_unit_test(test_ids_up_to_254),
		cmocka_unit_test(test_x2apic_platforms_have_none),
		cmocka_unit_test(test_bsp_first_and_flagged),
		cmocka_unit_test(test_entry_contents),
		cmocka_unit_test(test_does_not_fit),
		cmocka_unit_test(test_found_in_ebda_and_base_memory),
		cmocka_unit_test(test_rejects_bad_checksums),
		cmocka_unit_test(test_rejects_bad_structure),
		cmocka_unit_test(test_table_cut_by_memory_end),
		cmocka_unit_test(test_hostile_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
