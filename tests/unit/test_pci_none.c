/*
 * test_pci_none.c - configuration mechanism #1 with no devices: the checks Linux's
 * arch/x86/pci/direct.c makes (type 1 found by dword read-back, type 2 not found by byte
 * read-back), all ones from every bus/device/function, the reset control register at 0xCF9,
 * and a hostile guest on every port, width and value.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev/bus.h"
#include "bus_io.h"
#include "dev/pci_none.h"

struct record {
	int stops, resets;
};

static void rec_stop(void *vm, int status, const char *why)
{
	(void)status;
	(void)why;
	((struct record *)vm)->stops++;
}

static void rec_reset(void *vm, const char *why)
{
	(void)why;
	((struct record *)vm)->resets++;
}

static void test_probe(void **state)
{
	struct record r = { 0, 0 };
	struct vm_control ctl = { .stop = rec_stop, .reset = rec_reset, .vm = &r };
	struct bus *b = bus_create("pio");
	struct pci_none *p = pci_none_create(b, &ctl);

	(void)state;
	assert_non_null(p);
	/* pci_check_type1 */
	io(b, 0xcfb, true, 1, 0x01);
	uint32_t saved = io(b, 0xcf8, false, 4, 0);
	io(b, 0xcf8, true, 4, 0x80000000u);
	assert_int_equal(io(b, 0xcf8, false, 4, 0), 0x80000000u);
	io(b, 0xcf8, true, 4, saved);
	/* pci_check_type2 must fail: byte reads of 0xCF8 and 0xCFA are not 0 */
	io(b, 0xcfb, true, 1, 0x00);
	io(b, 0xcf8, true, 1, 0x00);
	io(b, 0xcfa, true, 1, 0x00);
	assert_int_equal(io(b, 0xcf8, false, 1, 0), 0xff);
	assert_int_equal(io(b, 0xcfa, false, 1, 0), 0xff);
	/* Reserved bits 30:24 and 1:0 read as 0. */
	io(b, 0xcf8, true, 4, 0xffffffffu);
	assert_int_equal(pci_none_address(p), 0x80fffffcu);
	/* No function anywhere: vendor ID reads all ones at every width and offset. */
	for (uint32_t bus = 0; bus < 256; bus += 51) {
		for (uint32_t devfn = 0; devfn < 256; devfn++) {
			io(b, 0xcf8, true, 4, 0x80000000u | bus << 16 | devfn << 8);
			assert_int_equal(io(b, 0xcfc, false, 4, 0), 0xffffffffu);
		}
	}
	io(b, 0xcfc, true, 4, 0x12345678);
	assert_int_equal(io(b, 0xcfc, false, 4, 0), 0xffffffffu);
	assert_int_equal(io(b, 0xcfe, false, 2, 0), 0xffff);
	assert_int_equal(io(b, 0xcff, false, 1, 0), 0xff);
	assert_int_equal(r.stops + r.resets, 0);
	pci_none_destroy(p);
	bus_destroy(b);
}

static void test_reset_control(void **state)
{
	struct record r = { 0, 0 };
	struct vm_control ctl = { .stop = rec_stop, .reset = rec_reset, .vm = &r };
	struct bus *b = bus_create("pio");
	struct pci_none *p = pci_none_create(b, &ctl);

	(void)state;
	io(b, 0xcf9, true, 1, 0x02); /* choose hard reset: nothing yet */
	assert_int_equal(r.resets, 0);
	assert_int_equal(io(b, 0xcf9, false, 1, 0), 0x02);
	io(b, 0xcf9, true, 1, 0x06); /* RST_CPU: Linux's reboot=pci */
	assert_int_equal(r.resets, 1);
	assert_int_equal(r.stops, 0);
	pci_none_destroy(p);
	bus_destroy(b);
}

static void test_hostile_sweep(void **state)
{
	struct record r = { 0, 0 };
	struct vm_control ctl = { .stop = rec_stop, .reset = rec_reset, .vm = &r };
	struct bus *b = bus_create("pio");
	struct pci_none *p = pci_none_create(b, &ctl);
	static const uint32_t widths[] = { 1, 2, 4 };
	unsigned seed = 99;

	(void)state;
	for (int i = 0; i < 200000; i++) {
		uint16_t port = (uint16_t)(0xcf6 + rand_r(&seed) % 12);
		uint32_t size = widths[rand_r(&seed) % 3];
		bool write = rand_r(&seed) & 1;
		uint32_t v = io(b, port, write, size, (uint32_t)rand_r(&seed) * 2654435761u);
		if (!write && port >= 0xcfc && port <= 0xcff)
			assert_int_equal(v, size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1);
		if (!write && port == 0xcf8 && size == 4)
			assert_int_equal(v & ~0x80fffffcu, 0);
	}
	assert_int_equal(r.stops, 0); /* resets, perhaps; never a stop */
	io(b, 0xcf8, true, 4, 0x80001000u);
	assert_int_equal(io(b, 0xcf8, false, 4, 0), 0x80001000u);
	pci_none_destroy(p);
	bus_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_probe),
		cmocka_unit_test(test_reset_control),
		cmocka_unit_test(test_hostile_sweep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
