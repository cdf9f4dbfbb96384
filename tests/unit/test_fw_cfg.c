/*
 * test_fw_cfg.c - the fw_cfg legacy I/O interface as a guest driver reads it (QEMU
 * docs/specs/fw_cfg.rst): the "QEMU" signature, the interface ID without DMA, RAM size and
 * CPU counts, the file directory parsed entry by entry and each file read by the selector it
 * names, reads past the end and of unknown selectors, and a hostile guest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev/bus.h"
#include "bus_io.h"
#include "dev/fw_cfg.h"

static void select_key(struct bus *b, uint16_t key)
{
	io(b, FW_CFG_PORT_SEL, true, 2, key);
}

static void read_bytes(struct bus *b, uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (uint8_t)io(b, FW_CFG_PORT_DATA, false, 1, 0);
}

static uint64_t read_le(struct bus *b, uint16_t key, unsigned bytes)
{
	uint8_t buf[8];
	uint64_t v = 0;

	select_key(b, key);
	read_bytes(b, buf, bytes);
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)buf[i] << (8 * i);
	return v;
}

static uint32_t be(const uint8_t *p, unsigned bytes)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static void test_legacy_items(void **state)
{
	struct bus *b = bus_create("pio");
	struct fw_cfg *fw = fw_cfg_create(b, 0x123456789ull << 12, 6, 8);
	uint8_t sig[6];

	(void)state;
	assert_non_null(fw);
	select_key(b, FW_CFG_SIGNATURE);
	read_bytes(b, sig, sizeof(sig));
	assert_memory_equal(sig, "QEMU\0\0", 6); /* past the end: 0 */
	assert_int_equal(read_le(b, FW_CFG_ID, 4), 1); /* traditional only: bit 1 (DMA) clear */
	assert_int_equal(read_le(b, FW_CFG_RAM_SIZE, 8), 0x123456789ull << 12);
	assert_int_equal(read_le(b, FW_CFG_NB_CPUS, 2), 6);
	assert_int_equal(read_le(b, FW_CFG_MAX_CPUS, 2), 8);
	/* Selecting again rewinds. */
	select_key(b, FW_CFG_SIGNATURE);
	assert_int_equal(io(b, FW_CFG_PORT_DATA, false, 1, 0), 'Q');
	/* Unknown selectors, including the write and architecture bits, read 0. */
	assert_int_equal(read_le(b, 0x02, 8), 0);
	assert_int_equal(read_le(b, 0x8000, 8), 0);
	assert_int_equal(read_le(b, 0x4000 | FW_CFG_SIGNATURE, 4), 0);
	assert_int_equal(read_le(b, FW_CFG_FILE_FIRST, 4), 0);
	/* The data port ignores writes; the DMA ports do not exist. */
	select_key(b, FW_CFG_NB_CPUS);
	io(b, FW_CFG_PORT_DATA, true, 1, 0x99);
	assert_int_equal(io(b, FW_CFG_PORT_DATA, false, 1, 0), 6);
	assert_int_equal(io(b, 0x514, false, 4, 0), 0xffffffffu);
	fw_cfg_destroy(fw);
	bus_destroy(b);
}

static void test_file_dir(void **state)
{
	struct bus *b = bus_create("pio");
	struct fw_cfg *fw = fw_cfg_create(b, 1ull << 30, 1, 1);
	static const char e820[] = "some e820 table";
	uint8_t big[1000];
	char longname[FW_CFG_MAX_FILE_PATH + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13);
	assert_int_equal(fw_cfg_add_file(fw, "etc/e820", e820, sizeof(e820)), 0x20);
	assert_int_equal(fw_cfg_add_file(fw, "opt/org.mpvmm/big", big, sizeof(big)), 0x21);
	assert_int_equal(fw_cfg_add_file(fw, "etc/empty", NULL, 0), 0x22);
	assert_int_equal(fw_cfg_add_file(fw, "etc/e820", e820, 1), -1); /* duplicate */
	assert_int_equal(fw_cfg_add_file(fw, "", e820, 1), -1);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(fw_cfg_add_file(fw, longname, e820, 1), -1); /* 56 chars: no NUL */
	longname[FW_CFG_MAX_FILE_PATH - 1] = 0;
	assert_int_equal(fw_cfg_add_file(fw, longname, e820, 1), 0x23); /* 55 chars fits */

	/* Parse the directory as a guest does: be32 count, then 64-byte entries. */
	uint8_t hdr[4], ent[64];
	select_key(b, FW_CFG_FILE_DIR);
	read_bytes(b, hdr, 4);
	assert_int_equal(be(hdr, 4), 4);
	const char *names[] = { "etc/e820", "opt/org.mpvmm/big", "etc/empty", longname };
	const uint32_t sizes[] = { sizeof(e820), sizeof(big), 0, 1 };
	uint16_t sel[4];
	for (int i = 0; i < 4; i++) {
		read_bytes(b, ent, sizeof(ent));
		assert_int_equal(be(ent, 4), sizes[i]);
		sel[i] = (uint16_t)be(ent + 4, 2);
		assert_int_equal(be(ent + 6, 2), 0);
		assert_string_equal((const char *)ent + 8, names[i]);
	}
	assert_int_equal(io(b, FW_CFG_PORT_DATA, false, 1, 0), 0); /* past the directory */

	uint8_t got[sizeof(big) + 4];
	select_key(b, sel[1]);
	read_bytes(b, got, sizeof(got));
	assert_memory_equal(got, big, sizeof(big));
	assert_int_equal(got[sizeof(big)] | got[sizeof(big) + 3], 0);
	select_key(b, sel[0]);
	read_bytes(b, got, sizeof(e820));
	assert_memory_equal(got, e820, sizeof(e820));
	/* The data port is one byte wide: a word read takes one byte, 0x512 reads 0. */
	select_key(b, sel[1]);
	assert_int_equal(io(b, FW_CFG_PORT_DATA, false, 2, 0), big[0]);
	assert_int_equal(io(b, FW_CFG_PORT_DATA, false, 1, 0), big[1]);
	/* A word read of the selector port gives 0 for the write-only selector, then data. */
	assert_int_equal(io(b, FW_CFG_PORT_SEL, false, 2, 0), big[2] << 8);
	fw_cfg_destroy(fw);
	bus_destroy(b);
}

static void test_full(void **state)
{
	struct bus *b = bus_create("pio");
	struct fw_cfg *fw = fw_cfg_create(b, 1, 1, 1);
	char name[32];

	(void)state;
	for (int i = 0; i < FW_CFG_FILE_MAX; i++) {
		snprintf(name, sizeof(name), "etc/f%d", i);
		assert_int_equal(fw_cfg_add_file(fw, name, name, strlen(name)), 0x20 + i);
	}
	assert_int_equal(fw_cfg_add_file(fw, "etc/one-too-many", name, 1), -1);
	assert_int_equal(read_le(b, FW_CFG_FILE_DIR, 4), (uint64_t)FW_CFG_FILE_MAX << 24);
	fw_cfg_destroy(fw);
	bus_destroy(b);
}

static void test_hostile_sweep(void **state)
{
	struct bus *b = bus_create("pio");
	struct fw_cfg *fw = fw_cfg_create(b, 4096, 2, 2);
	static const uint32_t widths[] = { 1, 2, 4 };
	unsigned seed = 3;
	uint8_t sig[4];

	(void)state;
	fw_cfg_add_file(fw, "etc/x", "x", 1);
	for (int i = 0; i < 200000; i++) {
		uint16_t port = (uint16_t)(0x50e + rand_r(&seed) % 6);
		uint32_t size = widths[rand_r(&seed) % 3];
		uint32_t v = (uint32_t)rand_r(&seed);
		v = rand_r(&seed) % 4 ? v % 0x30 : v; /* mostly selectors that exist */
		io(b, port, rand_r(&seed) & 1, size, v);
	}
	select_key(b, FW_CFG_SIGNATURE);
	read_bytes(b, sig, 4);
	assert_memory_equal(sig, "QEMU", 4);
	fw_cfg_destroy(fw);
	bus_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_legacy_items),
		cmocka_unit_test(test_file_dir),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_hostile_sweep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
