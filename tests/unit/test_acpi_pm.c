/*
 * test_acpi_pm.c - the PM1a registers behind the FADT: SCI_EN reads 1, S5 powers off with
 * status 0 whatever the access width, other sleep types are ignored, PM1_STS is
 * write-1-to-clear and drives the SCI with PM1_EN, and a hostile guest on every port, width
 * and value never stops the VM except through S5.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev/acpi_pm.h"
#include "dev/bus.h"
#include "bus_io.h"
#include "util/log.h"
#include "x86/acpi.h"

struct record {
	int stops, status;
	char why[128];
	bool sci;
	int sci_calls;
};

static void rec_stop(void *vm, int status, const char *why)
{
	struct record *r = vm;

	r->stops++;
	r->status = status;
	strncpy(r->why, why, sizeof(r->why) - 1);
}

static void rec_irq(void *ctx, unsigned gsi, bool level)
{
	struct record *r = ctx;

	assert_int_equal(gsi, ACPI_SCI_IRQ);
	assert_true(level != r->sci);
	r->sci = level;
	r->sci_calls++;
}

#define SLP(typ) (ACPI_PM1_CNT_SLP_EN | (typ) << ACPI_PM1_CNT_SLP_TYP_SHIFT)

struct pm_test {
	struct record r;
	struct vm_control ctl;
	struct irq_line irq;
	struct bus *b;
	struct acpi_pm *pm;
};

static void setup(struct pm_test *t)
{
	memset(t, 0, sizeof(*t));
	t->ctl = (struct vm_control){ .stop = rec_stop, .vm = &t->r };
	t->irq = (struct irq_line){ .set = rec_irq, .ctx = &t->r };
	t->b = bus_create("pio");
	t->pm = acpi_pm_create(t->b, &t->ctl, &t->irq);
	assert_non_null(t->pm);
}

static void teardown(struct pm_test *t)
{
	acpi_pm_destroy(t->pm);
	bus_destroy(t->b);
}

static void test_s5(void **state)
{
	struct pm_test t;

	(void)state;
	setup(&t);
	assert_int_equal(io(t.b, ACPI_PM1A_CNT_PORT, false, 2, 0) & ACPI_PM1_CNT_SCI_EN, 1);
	io(t.b, ACPI_PM1A_CNT_PORT, true, 2, ACPI_S5_SLP_TYP << ACPI_PM1_CNT_SLP_TYP_SHIFT);
	assert_int_equal(t.r.stops, 0); /* SLP_TYP alone does nothing */
	assert_int_equal(io(t.b, ACPI_PM1A_CNT_PORT, false, 2, 0),
			 ACPI_S5_SLP_TYP << ACPI_PM1_CNT_SLP_TYP_SHIFT | 1); /* SLP_EN reads 0 */
	io(t.b, ACPI_PM1A_CNT_PORT, true, 2, SLP(ACPI_S5_SLP_TYP) | ACPI_PM1_CNT_SCI_EN);
	assert_int_equal(t.r.stops, 1);
	assert_int_equal(t.r.status, 0);
	assert_string_equal(t.r.why, "guest powered off (ACPI S5)");
	/* The high byte alone carries SLP_TYP and SLP_EN: same effect. */
	io(t.b, ACPI_PM1A_CNT_PORT + 1, true, 1, SLP(ACPI_S5_SLP_TYP) >> 8);
	assert_int_equal(t.r.stops, 2);
	teardown(&t);
}

static void test_other_sleep_states(void **state)
{
	struct pm_test t;

	(void)state;
	setup(&t);
	log_set_quiet(1);
	for (unsigned typ = 0; typ < 8; typ++) {
		if (typ != ACPI_S5_SLP_TYP)
			io(t.b, ACPI_PM1A_CNT_PORT, true, 2, SLP(typ));
	}
	assert_int_equal(t.r.stops, 0);
	teardown(&t);
}

static void test_status_and_sci(void **state)
{
	struct pm_test t;

	(void)state;
	setup(&t);
	acpi_pm_event(t.pm, ACPI_PM1_PWRBTN);
	assert_false(t.r.sci); /* not enabled */
	assert_int_equal(io(t.b, ACPI_PM1A_EVT_PORT, false, 2, 0), ACPI_PM1_PWRBTN);
	io(t.b, ACPI_PM1A_EVT_PORT + 2, true, 2, ACPI_PM1_PWRBTN); /* PM1_EN */
	assert_true(t.r.sci);
	assert_int_equal(io(t.b, ACPI_PM1A_EVT_PORT, false, 4, 0),
			 ACPI_PM1_PWRBTN | ACPI_PM1_PWRBTN << 16);
	io(t.b, ACPI_PM1A_EVT_PORT, true, 2, 0); /* writing 0 clears nothing */
	assert_true(t.r.sci);
	acpi_pm_event(t.pm, ACPI_PM1_RTC);
	io(t.b, ACPI_PM1A_EVT_PORT, true, 2, ACPI_PM1_PWRBTN); /* write 1 to clear */
	assert_false(t.r.sci);
	assert_int_equal(io(t.b, ACPI_PM1A_EVT_PORT, false, 2, 0), ACPI_PM1_RTC);
	io(t.b, ACPI_PM1A_EVT_PORT + 1, true, 1, ACPI_PM1_RTC >> 8);
	assert_int_equal(io(t.b, ACPI_PM1A_EVT_PORT, false, 2, 0), 0);
	assert_int_equal(t.r.sci_calls, 2);
	teardown(&t);
}

static void test_hostile_sweep(void **state)
{
	struct pm_test t;
	static const uint32_t widths[] = { 1, 2, 4 };
	unsigned seed = 5;
	int s5 = 0;

	(void)state;
	setup(&t);
	log_set_quiet(1);
	for (int i = 0; i < 200000; i++) {
		uint16_t port = (uint16_t)(0x5fe + rand_r(&seed) % 10);
		uint32_t size = widths[rand_r(&seed) % 3];
		uint32_t v = (uint32_t)rand_r(&seed) * 2654435761u;
		bool write = rand_r(&seed) & 1;
		/* Count the S5 requests: accesses starting at 0x600-0x605 reach the device. */
		bool ours = port >= ACPI_PM1A_EVT_PORT && port < ACPI_PM1A_CNT_PORT + 2;
		for (uint32_t l = 0; write && ours && l < size; l++) {
			uint8_t byte = (uint8_t)(v >> (8 * l));
			if (port + l == ACPI_PM1A_CNT_PORT + 1 && (byte & 0x20) &&
			    ((byte >> 2) & 7) == ACPI_S5_SLP_TYP) {
				s5++;
				break;
			}
		}
		uint32_t got = io(t.b, port, write, size, v);
		if (!write && port == ACPI_PM1A_CNT_PORT)
			assert_int_equal(got & (ACPI_PM1_CNT_SCI_EN | ACPI_PM1_CNT_SLP_EN),
					 ACPI_PM1_CNT_SCI_EN);
	}
	assert_int_equal(t.r.stops, s5);
	assert_false(t.r.sci); /* nothing raised a PM1 event */
	teardown(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_s5),
		cmocka_unit_test(test_other_sleep_states),
		cmocka_unit_test(test_status_and_sci),
		cmocka_unit_test(test_hostile_sweep),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
