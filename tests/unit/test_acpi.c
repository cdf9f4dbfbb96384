/*
 * test_acpi.c - unit tests of the ACPI builder and parser: RSDP, XSDT, FADT, MADT and DSDT
 * layout and checksums, processor entries (type 0 / type 9, BSP first), and rejection of
 * corrupted tables.
 *
 * Pure: "guest memory" is a zeroed 1 MiB buffer.
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

#define MEM_SIZE (1u << 20)

struct machine {
	struct platform p;
	uint8_t *mem;
	long len;
	uint32_t xsdt, fadt, madt, dsdt; /* read back from the pointers, not assumed */
};

static uint32_t rd16(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8;
}

static uint32_t rd32(const uint8_t *b)
{
	return rd16(b) | rd16(b + 2) << 16;
}

static uint64_t rd64(const uint8_t *b)
{
	return rd32(b) | (uint64_t)rd32(b + 4) << 32;
}

static void wr32(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t sum(const uint8_t *b, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *b++;
	return s;
}

static void fix_checksum(uint8_t *mem, uint32_t table)
{
	mem[table + 9] = 0;
	mem[table + 9] = (uint8_t)-sum(mem + table, rd32(mem + table + 4));
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
	m->len = acpi_build(&m->p, m->mem, MEM_SIZE, ACPI_ADDR, ACPI_MAX, err, sizeof(err));
	if (m->len <= 0)
		fail_msg("%s: %s", spec, err);
	m->xsdt = (uint32_t)rd64(m->mem + ACPI_ADDR + 24);
	m->fadt = (uint32_t)rd64(m->mem + m->xsdt + 36);
	m->madt = (uint32_t)rd64(m->mem + m->xsdt + 44);
	m->dsdt = (uint32_t)rd64(m->mem + m->fadt + 140);
}

static void destroy(struct machine *m)
{
	free(m->mem);
	platform_free(&m->p);
}

static void parse_ok(const uint8_t *mem, size_t size, struct madt_info *mi)
{
	char err[256] = "";

	if (acpi_parse(mem, size, mi, err, sizeof(err)))
		fail_msg("parse: %s", err);
}

static void parse_fails(const uint8_t *mem, size_t size, const char *needle)
{
	struct madt_info mi;
	char err[256] = "";

	assert_int_equal(acpi_parse(mem, size, &mi, err, sizeof(err)), -1);
	assert_null(mi.cpus);
	if (!strstr(err, needle))
		fail_msg("message \"%s\" lacks \"%s\"", err, needle);
}

static void assert_table(const struct machine *m, uint32_t a, const char *sig, uint32_t len,
			 uint8_t rev)
{
	const uint8_t *t = m->mem + a;

	assert_int_equal(a % 16, 0);
	assert_true(a >= ACPI_ADDR && a + rd32(t + 4) <= ACPI_ADDR + (uint32_t)m->len);
	assert_memory_equal(t, sig, 4);
	if (len)
		assert_int_equal(rd32(t + 4), len);
	assert_int_equal(t[8], rev);
	assert_memory_equal(t + 10, "MPVMM ", 6);
	assert_int_equal(sum(t, rd32(t + 4)), 0);
}

static void assert_rsdp(const struct machine *m)
{
	const uint8_t *r = m->mem + ACPI_ADDR;

	assert_memory_equal(r, "RSD PTR ", 8);
	assert_memory_equal(r + 9, "MPVMM ", 6);
	assert_int_equal(r[15], 2);
	assert_int_equal(rd32(r + 16), 0);
	assert_int_equal(rd32(r + 20), 36);
	assert_int_equal(sum(r, 20), 0);
	assert_int_equal(sum(r, 36), 0);
}

/* Decode the raw MADT and compare with the platform: order, types, UIDs, other entries. */
static void assert_madt_entries(const struct machine *m)
{
	const struct platform *p = &m->p;
	const uint8_t *t = m->mem + m->madt;
	uint32_t len = rd32(t + 4), off = 44, k = 0;
	uint32_t order[1024];
	int iso = 0, nmi = 0, x2nmi = 0, ioapic = 0;

	assert_int_equal(rd32(t + 36), 0xfee00000u);
	assert_int_equal(rd32(t + 40), 1);
	order[0] = p->boot_cpu;
	for (uint32_t i = 0, j = 1; i < p->topo.cpus; i++)
		if (i != p->boot_cpu)
			order[j++] = i;
	while (off < len) {
		const uint8_t *e = t + off;
		const struct cpu_desc *c = k < p->topo.cpus ? &p->cpus[order[k]] : NULL;

		switch (e[0]) {
		case 0:
			assert_non_null(c);
			assert_int_equal(e[1], 8);
			assert_true(c->apic_id < 255);
			assert_int_equal(e[2], c->acpi_uid);
			assert_int_equal(e[3], c->apic_id);
			assert_int_equal(rd32(e + 4), 1);
			k++;
			break;
		case 9:
			assert_non_null(c);
			assert_int_equal(e[1], 16);
			assert_true(c->apic_id >= 255);
			assert_int_equal(rd32(e + 4), c->apic_id);
			assert_int_equal(rd32(e + 8), 1);
			assert_int_equal(rd32(e + 12), c->acpi_uid);
			k++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], p->ioapic_id);
			assert_int_equal(rd32(e + 4), 0xfec00000u);
			assert_int_equal(rd32(e + 8), 0);
			ioapic++;
			break;
		case 2: {
			static const uint8_t irq0[10] = { 2, 10, 0, 0, 2, 0, 0, 0, 0, 0 };
			static const uint8_t irq9[10] = { 2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0 };

			assert_memory_equal(e, iso == 0 ? irq0 : irq9, 10);
			iso++;
			break;
		}
		case 4: {
			static const uint8_t all_lint1[6] = { 4, 6, 0xff, 0, 0, 1 };

			assert_memory_equal(e, all_lint1, 6);
			nmi++;
			break;
		}
		case 0xa: {
			static const uint8_t all_lint1[12] = { 0xa, 12, 0, 0, 0xff, 0xff, 0xff,
							       0xff, 1 };

			assert_memory_equal(e, all_lint1, 12);
			x2nmi++;
			break;
		}
		default:
			fail_msg("unexpected MADT entry type %u", e[0]);
		}
		/* Processors come before everything else. */
		if (e[0] != 0 && e[0] != 9)
			assert_int_equal(k, p->topo.cpus);
		off += e[1];
	}
	assert_int_equal(off, len);
	assert_int_equal(k, p->topo.cpus);
	assert_int_equal(ioapic, 1);
	assert_int_equal(iso, 2);
	assert_int_equal(nmi, 1);
	assert_int_equal(x2nmi, p->x2apic ? 1 : 0);
}

static void check_machine(const char *spec, uint32_t boot, bool force_x2apic)
{
	struct machine m;
	struct madt_info mi;
	size_t type9 = 0;

	build(&m, spec, boot, force_x2apic);
	assert_rsdp(&m);
	assert_table(&m, m.xsdt, "XSDT", 36 + 16, 1);
	assert_table(&m, m.fadt, "FACP", 276, 6);
	assert_table(&m, m.madt, "APIC", 0, 5);
	assert_table(&m, m.dsdt, "DSDT", 36 + 15, 2);
	assert_madt_entries(&m);

	parse_ok(m.mem, MEM_SIZE, &mi);
	assert_int_equal(mi.rsdp_addr, ACPI_ADDR);
	assert_int_equal(mi.madt_addr, m.madt);
	assert_int_equal(mi.lapic_addr, 0xfee00000u);
	assert_int_equal(mi.ncpus, m.p.topo.cpus);
	assert_int_equal(mi.cpus[0].apic_id, m.p.cpus[boot].apic_id);
	assert_int_equal(mi.cpus[0].acpi_uid, boot);
	for (size_t i = 0; i < mi.ncpus; i++) {
		assert_true(mi.cpus[i].enabled);
		assert_int_equal(mi.cpus[i].x2apic, mi.cpus[i].apic_id >= 255);
		type9 += mi.cpus[i].x2apic;
	}
	/* Every shape used here has dense IDs: one type-9 entry per ID from 255 up. */
	assert_int_equal(type9, m.p.max_apic_id >= 255 ? m.p.max_apic_id - 254 : 0);
	assert_int_equal(mi.nioapics, 1);
	assert_int_equal(mi.ioapic_id, m.p.ioapic_id);
	assert_int_equal(mi.ioapic_addr, 0xfec00000u);
	assert_true(mi.has_fadt);
	assert_true(mi.has_dsdt);
	madt_info_free(&mi);
	assert_null(mi.cpus);
	destroy(&m);
}

static void test_sizes(void **state)
{
	check_machine("1", 0, false);
	check_machine("2", 1, false);
	check_machine("255", 100, false);
	check_machine("256", 0, false);
	check_machine("1024", 1023, false);
	check_machine("4", 0, true);
}

static void test_bsp_first(void **state)
{
	check_machine("8", 0, false);
	check_machine("8", 4, false);
	check_machine("8", 7, false);
	check_machine("12,sockets=2,cores=3,threads=2", 6, false);
	check_machine("512,sockets=2,cores=128,threads=2", 300, false);
}

static void test_ids_around_255(void **state)
{
	struct machine m;
	struct madt_info mi;

	build(&m, "256", 0, false);
	parse_ok(m.mem, MEM_SIZE, &mi);
	assert_int_equal(mi.cpus[254].apic_id, 254);
	assert_false(mi.cpus[254].x2apic);
	assert_int_equal(mi.cpus[255].apic_id, 255);
	assert_int_equal(mi.cpus[255].acpi_uid, 255);
	assert_true(mi.cpus[255].x2apic);
	madt_info_free(&mi);
	destroy(&m);
}

static void test_gas(const uint8_t *g, uint8_t space, uint8_t width, uint8_t access, uint64_t a)
{
	assert_int_equal(g[0], space);
	assert_int_equal(g[1], width);
	assert_int_equal(g[2], 0);
	assert_int_equal(g[3], access);
	assert_int_equal(rd64(g + 4), a);
}

static void test_fadt_fields(void **state)
{
	struct machine m;
	const uint8_t *f;

	build(&m, "2", 0, false);
	f = m.mem + m.fadt;
	assert_int_equal(rd32(f + 36), 0);         /* FIRMWARE_CTRL */
	assert_int_equal(rd32(f + 40), m.dsdt);    /* DSDT */
	assert_int_equal(rd16(f + 46), 9);         /* SCI_INT */
	assert_int_equal(rd32(f + 48), 0);         /* SMI_CMD */
	assert_int_equal(rd32(f + 56), 0x600);     /* PM1a_EVT_BLK */
	assert_int_equal(rd32(f + 64), 0x604);     /* PM1a_CNT_BLK */
	assert_int_equal(rd32(f + 76), 0);         /* PM_TMR_BLK */
	assert_int_equal(f[88], 4);                /* PM1_EVT_LEN */
	assert_int_equal(f[89], 2);                /* PM1_CNT_LEN */
	assert_int_equal(f[91], 0);                /* PM_TMR_LEN */
	assert_int_equal(rd16(f + 109), 3);        /* IAPC_BOOT_ARCH: LEGACY_DEVICES | 8042 */
	assert_int_equal(rd32(f + 112), 0x435);    /* WBINVD|PROC_C1|PWR_BUTTON|SLP_BUTTON|RESET */
	test_gas(f + 116, 1, 8, 1, 0x64);          /* RESET_REG */
	assert_int_equal(f[128], 0xfe);            /* RESET_VALUE */
	assert_int_equal(f[131], 4);               /* minor version */
	assert_int_equal(rd64(f + 140), m.dsdt);   /* X_DSDT */
	test_gas(f + 148, 1, 32, 2, 0x600);        /* X_PM1a_EVT_BLK */
	test_gas(f + 160, 0, 0, 0, 0);             /* X_PM1b_EVT_BLK */
	test_gas(f + 172, 1, 16, 2, 0x604);        /* X_PM1a_CNT_BLK */
	test_gas(f + 208, 0, 0, 0, 0);             /* X_PM_TMR_BLK */
	/* The header exports what the device model needs. */
	assert_int_equal(ACPI_PM1A_EVT_PORT, 0x600);
	assert_int_equal(ACPI_PM1A_CNT_PORT, 0x604);
	assert_int_equal(ACPI_SCI_IRQ, 9);
	destroy(&m);
}

static void test_dsdt_defines_s5(void **state)
{
	static const uint8_t aml[] = {
		0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00,
		0x00,
	};
	struct machine m;

	build(&m, "1", 0, false);
	assert_int_equal(rd32(m.mem + m.dsdt + 4), 36 + sizeof(aml));
	assert_memory_equal(m.mem + m.dsdt + 36, aml, sizeof(aml));
	assert_int_equal(ACPI_S5_SLP_TYP, aml[10]);
	destroy(&m);
}

static void test_does_not_fit(void **state)
{
	struct machine m;
	char err[256];
	uint8_t *zero = calloc(1, MEM_SIZE);

	build(&m, "4", 0, false);
	memset(m.mem, 0, MEM_SIZE);
	assert_int_equal(acpi_build(&m.p, m.mem, MEM_SIZE, ACPI_ADDR, 256, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "only 256 available"));
	assert_int_equal(acpi_build(&m.p, m.mem, MEM_SIZE, MEM_SIZE - 256, ACPI_MAX, err,
				    sizeof(err)), -1);
	assert_non_null(strstr(err, "beyond guest memory"));
	assert_int_equal(acpi_build(&m.p, m.mem, MEM_SIZE, ACPI_ADDR + 8, ACPI_MAX, err,
				    sizeof(err)), -1);
	assert_non_null(strstr(err, "aligned"));
	assert_memory_equal(m.mem, zero, MEM_SIZE);
	free(zero);
	destroy(&m);
}

static void test_rejects_bad_rsdp(void **state)
{
	struct machine m;
	uint8_t *r;

	build(&m, "4", 0, false);
	r = m.mem + ACPI_ADDR;
	r[12] ^= 1; /* OEMID: both checksums break */
	parse_fails(m.mem, MEM_SIZE, "RSDP at 0xe0000: bad checksum");
	r[12] ^= 1;
	r[33] ^= 1; /* reserved: only the extended checksum covers it */
	parse_fails(m.mem, MEM_SIZE, "bad extended checksum");
	r[33] ^= 1;
	r[15] = 0; /* revision 0, both checksums repaired */
	r[8] += 2;
	r[32] -= 2;
	parse_fails(m.mem, MEM_SIZE, "revision 0");
	r[15] = 2;
	r[8] -= 2;
	r[32] += 2;
	r[0] = 'X';
	parse_fails(m.mem, MEM_SIZE, "no RSDP");
	destroy(&m);
}

static void test_rejects_bad_xsdt(void **state)
{
	struct machine m;
	char want[128];

	build(&m, "4", 0, false);
	m.mem[m.xsdt + 20] ^= 1;
	parse_fails(m.mem, MEM_SIZE, "XSDT at 0xe0030: bad checksum");
	m.mem[m.xsdt + 20] ^= 1;
	/* An entry pointing past memory. */
	wr32(m.mem + m.xsdt + 40, 1);
	fix_checksum(m.mem, m.xsdt);
	snprintf(want, sizeof(want), "XSDT entry 0 points to 0x1%08x, beyond guest memory", m.fadt);
	parse_fails(m.mem, MEM_SIZE, want);
	wr32(m.mem + m.xsdt + 40, 0);
	/* A length that is not 36 + 8n, and one past memory. */
	m.mem[m.xsdt + 4] = 36 + 12;
	fix_checksum(m.mem, m.xsdt);
	parse_fails(m.mem, MEM_SIZE, "not a whole number of entries");
	m.mem[m.xsdt + 4] = 36 + 8; /* drop the MADT */
	fix_checksum(m.mem, m.xsdt);
	parse_fails(m.mem, MEM_SIZE, "XSDT lists no MADT");
	wr32(m.mem + m.xsdt + 4, 0x00100000);
	parse_fails(m.mem, MEM_SIZE, "XSDT at 0xe0030: bad length");
	destroy(&m);
}

static void test_rejects_bad_madt(void **state)
{
	struct machine m;
	uint8_t *good = malloc(MEM_SIZE);
	uint32_t t, len;
	char want[128];

	build(&m, "4", 0, false);
	t = m.madt;
	len = rd32(m.mem + t + 4);
	memcpy(good, m.mem, MEM_SIZE);

	m.mem[t + 44 + 3] ^= 0x10; /* an APIC ID */
	snprintf(want, sizeof(want), "APIC at 0x%x: bad checksum", t);
	parse_fails(m.mem, MEM_SIZE, want);

	memcpy(m.mem, good, MEM_SIZE);
	m.mem[t + 44 + 8 + 1] = 1; /* entry length below 2 */
	fix_checksum(m.mem, t);
	parse_fails(m.mem, MEM_SIZE, "type 0 at offset 52 has length 1");

	memcpy(m.mem, good, MEM_SIZE);
	m.mem[t + 44 + 8 + 1] = 6; /* a local APIC entry needs 8 */
	fix_checksum(m.mem, t);
	parse_fails(m.mem, MEM_SIZE, "has length 6 (at least 8 expected)");

	memcpy(m.mem, good, MEM_SIZE);
	m.mem[t + len - 6 + 1] = 7; /* the last entry (NMI) runs past the table */
	fix_checksum(m.mem, t);
	parse_fails(m.mem, MEM_SIZE, "type 4 at offset");

	memcpy(m.mem, good, MEM_SIZE);
	wr32(m.mem + t + 4, len - 3); /* the table ends inside the NMI entry */
	fix_checksum(m.mem, t);
	parse_fails(m.mem, MEM_SIZE, "runs past the table length");

	memcpy(m.mem, good, MEM_SIZE);
	wr32(m.mem + t + 4, len - 5); /* one byte left: not even an entry header */
	fix_checksum(m.mem, t);
	parse_fails(m.mem, MEM_SIZE, "entry header at offset");

	memcpy(m.mem, good, MEM_SIZE);
	wr32(m.mem + t + 4, 40); /* shorter than the MADT header */
	fix_checksum(m.mem, t);
	parse_fails(m.mem, MEM_SIZE, "shorter than its 44-byte header");

	memcpy(m.mem, good, MEM_SIZE);
	m.mem[t] = 'X';
	fix_checksum(m.mem, t);
	parse_fails(m.mem, MEM_SIZE, "XSDT lists no MADT");
	free(good);
	destroy(&m);
}

static void test_bad_fadt_and_dsdt_are_reported(void **state)
{
	struct machine m;
	struct madt_info mi;

	build(&m, "2", 0, false);
	m.mem[m.dsdt + 40] ^= 1;
	parse_ok(m.mem, MEM_SIZE, &mi);
	assert_true(mi.has_fadt);
	assert_false(mi.has_dsdt);
	madt_info_free(&mi);
	m.mem[m.fadt + 50] ^= 1;
	parse_ok(m.mem, MEM_SIZE, &mi);
	assert_false(mi.has_fadt);
	assert_false(mi.has_dsdt);
	assert_int_equal(mi.ncpus, 2);
	madt_info_free(&mi);
	destroy(&m);
}

static void test_memory_cut_short(void **state)
{
	struct machine m;
	uint8_t *small;
	size_t size;
	char want[128];

	build(&m, "16", 0, false);
	/* Memory ending inside the MADT; exactly sized so ASan sees any overrun. */
	size = m.madt + 60;
	small = malloc(size);
	memcpy(small, m.mem, size);
	snprintf(want, sizeof(want), "APIC at 0x%x: bad length", m.madt);
	parse_fails(small, size, want);
	free(small);
	/* Memory ending inside the RSDP's extended part. */
	size = ACPI_ADDR + 30;
	small = malloc(size);
	memcpy(small, m.mem, size);
	parse_fails(small, size, "bad length 36");
	free(small);
	size = 100;
	small = calloc(1, size);
	parse_fails(small, size, "no RSDP");
	free(small);
	destroy(&m);
}

/* Hostile bytes: random edits with checksums repaired must never read out of bounds. */
static void test_hostile_bytes(void **state)
{
	struct machine m;
	struct madt_info mi;
	uint8_t *mem = malloc(MEM_SIZE);
	char err[256];
	unsigned seed = 777;
	int accepted = 0;

	build(&m, "300", 0, false);
	for (int round = 0; round < 3000; round++) {
		memcpy(mem, m.mem, MEM_SIZE);
		for (int k = 0; k < 1 + round % 4; k++) {
			seed = seed * 1103515245 + 12345;
			uint32_t off = (seed >> 8) % (uint32_t)m.len;

			seed = seed * 1103515245 + 12345;
			mem[ACPI_ADDR + off] = (uint8_t)(seed >> 16);
		}
		mem[ACPI_ADDR + 8] = 0;
		mem[ACPI_ADDR + 8] = (uint8_t)-sum(mem + ACPI_ADDR, 20);
		mem[ACPI_ADDR + 32] = 0;
		mem[ACPI_ADDR + 32] = (uint8_t)-sum(mem + ACPI_ADDR, 36);
		if (rd32(mem + m.xsdt + 4) < 0x1000)
			fix_checksum(mem, m.xsdt);
		if (rd32(mem + m.madt + 4) < 0x4000)
			fix_checksum(mem, m.madt);
		if (acpi_parse(mem, MEM_SIZE, &mi, err, sizeof(err)) == 0) {
			accepted++;
			madt_info_free(&mi);
		} else {
			assert_true(strlen(err) > 0);
			assert_null(mi.cpus);
		}
	}
	assert_true(accepted > 0);
	free(mem);
	destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_bsp_first),
		cmocka_unit_test(test_ids_around_255),
		cmocka_unit_test(test_fadt_fields),
		cmocka_unit_test(test_dsdt_defines_s5),
		cmocka_unit_test(test_does_not_fit),
		cmocka_unit_test(test_rejects_bad_rsdp),
		cmocka_unit_test(test_rejects_bad_xsdt),
		cmocka_unit_test(test_rejects_bad_madt),
		cmocka_unit_test(test_bad_fadt_and_dsdt_are_reported),
		cmocka_unit_test(test_memory_cut_short),
		cmocka_unit_test(test_hostile_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
