/*
 * test_device_table.c - the device table (vm/devices.c) against what each device declares of
 * itself (dev/device.h): every row is created on buses of its own and registers exactly the
 * ports and MMIO it claims, names and snapshot sections are unique (and none is the
 * interrupt controllers', which the --irqchip modes save), a saved device has save and load,
 * and the whole table is created, saved into a snapshot, loaded back and destroyed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dev/chipset.h"
#include "dev/debug_exit.h"
#include "dev/device.h"
#include "dev/selftest_port.h"
#include "dev/serial.h"
#include "mpvmm/selftest_abi.h"
#include "mp/mp.h"
#include "snapshot/snapfile.h"
#include "vm/devices.h"

static void no_stop(void *vm, int status, const char *why)
{
	(void)vm;
	(void)status;
	(void)why;
}

static void no_irq(void *ctx, unsigned gsi, bool level)
{
	(void)ctx;
	(void)gsi;
	(void)level;
}

static int no_get(void *ctx, enum mp_state *out)
{
	(void)ctx;
	*out = MP_STATE_RUNNABLE;
	return 0;
}

static int no_set(void *ctx, enum mp_state s)
{
	(void)ctx;
	(void)s;
	return 0;
}

static const struct mp_backend backend = { "none", false, no_get, no_set };

struct rig {
	struct bus *pio, *mmio;
	struct mp *mp;
	struct irq_line irq;
	struct vm_control ctl;
	int devnull;
	struct device_env env;
};

static void rig_init(struct rig *r)
{
	struct mp_cpu cpu = { .apic_id = 0, .bsp = true };

	r->pio = bus_create("I/O port");
	r->mmio = bus_create("MMIO");
	r->mp = mp_create(1, &cpu, &backend, NULL, NULL, mp_now_ns());
	r->irq = (struct irq_line){ .set = no_irq };
	r->ctl = (struct vm_control){ .stop = no_stop };
	r->devnull = open("/dev/null", O_WRONLY);
	assert_non_null(r->pio);
	assert_non_null(r->mmio);
	assert_non_null(r->mp);
	assert_true(r->devnull >= 0);
	r->env = (struct device_env){
		.pio = r->pio, .mmio = r->mmio, .irq = &r->irq, .ctl = &r->ctl, .mp = r->mp,
		.console_fd = r->devnull, .ram_size = 256ull << 20, .ncpus = 1,
		.debug_exit_port = DEBUG_EXIT_DEFAULT_PORT, .builtin_guest = true,
	};
}

static void rig_free(struct rig *r)
{
	bus_destroy(r->pio);
	bus_destroy(r->mmio);
	mp_destroy(r->mp);
	close(r->devnull);
}

/* What `bus` holds is exactly the row's claims on it. */
static void assert_claims(const struct device_desc *d, struct bus *bus, enum device_bus which)
{
	struct bus_claim got[16];
	size_t n = bus_claims(bus, got, 16), want = 0;

	for (size_t i = 0; i < DEVICE_MAX_CLAIMS && d->claims[i].len; i++) {
		const struct device_claim *c = &d->claims[i];
		if (c->bus != which)
			continue;
		bool found = false;
		for (size_t j = 0; j < n && j < 16; j++)
			found |= got[j].base == c->base && got[j].len == c->len;
		if (!found)
			fail_msg("%s claims %#llx+%llu, which it did not register", d->name,
				 (unsigned long long)c->base, (unsigned long long)c->len);
		want++;
	}
	if (n != want)
		fail_msg("%s registered %zu ranges on the %s bus and claims %zu", d->name, n,
			 which == DEVICE_PIO ? "I/O port" : "MMIO", want);
}

static void test_each_row_claims_what_it_registers(void **state)
{
	size_t n;
	const struct device_desc *const *t = devices_table(&n);

	(void)state;
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		struct rig r;
		rig_init(&r);
		void *dev = t[i]->create(&r.env);
		if (!dev)
			fail_msg("%s: create failed", t[i]->name);
		assert_claims(t[i], r.pio, DEVICE_PIO);
		assert_claims(t[i], r.mmio, DEVICE_MMIO);
		t[i]->destroy(dev);
		rig_free(&r);
	}
}

static void test_rows_are_unique_and_whole(void **state)
{
	size_t n;
	const struct device_desc *const *t = devices_table(&n);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		assert_non_null(t[i]->name);
		assert_non_null(t[i]->create);
		assert_non_null(t[i]->destroy);
		bool saved = t[i]->snap_id != DEVICE_NOT_SAVED;
		assert_int_equal(saved, t[i]->save != NULL);
		assert_int_equal(saved, t[i]->load != NULL);
		assert_int_not_equal(t[i]->snap_id, (int)CHIPSET_SNAP_ID);
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(t[i]->name, t[j]->name);
			if (saved)
				assert_int_not_equal(t[i]->snap_id, t[j]->snap_id);
		}
	}
}

/* The whole table through a snapshot: every saved row's section is there, and loads. */
static void test_table_saves_and_loads(void **state)
{
	char dir[] = "/tmp/mpvmm-devtab-XXXXXX", path[64], err[256] = "";
	struct rig r;
	size_t n;
	const struct device_desc *const *t = devices_table(&n);

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/s.snap", dir);
	struct warn_limiter warn;
	rig_init(&r);
	warn_init(&warn);
	struct devices *d = devices_create(&r.env, &warn);
	assert_non_null(d);
	assert_non_null(devices_get(d, &serial_device));
	struct snap_writer *w = snap_writer_open(path, NULL, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(devices_save(d, w, err, sizeof(err)), 0);
	assert_int_equal(snap_writer_commit(w, err, sizeof(err)), 0);
	struct snap_reader *rd = snap_reader_open(path, NULL, err, sizeof(err));
	assert_non_null(rd);
	unsigned saved = 0;
	for (size_t i = 0; i < n; i++)
		saved += t[i]->snap_id != DEVICE_NOT_SAVED;
	assert_int_equal(snap_count(rd, SNAP_SEC_DEVICE), saved);
	assert_int_equal(devices_load(d, rd, err, sizeof(err)), 0);
	snap_reader_close(rd);
	devices_destroy(d);
	warn_destroy(&warn);
	rig_free(&r);
	unlink(path);
	rmdir(dir);
}

/* A kernel guest (not a built-in one) finds the self-test's ports unclaimed: writing there
 * cannot end the run as "self-test passed". */
static void test_selftest_ports_for_builtin_guests_only(void **state)
{
	struct rig r;
	struct warn_limiter warn;
	uint8_t zero[4] = { 0 };

	(void)state;
	rig_init(&r);
	warn_init(&warn);
	r.env.builtin_guest = false;
	struct devices *d = devices_create(&r.env, &warn);
	assert_non_null(d);
	assert_null(devices_get(d, &selftest_port_device));
	const struct bus_access a = { .addr = SELFTEST_PORT_RESULT, .size = 4, .write = true,
				      .data = zero };
	assert_false(bus_dispatch(r.pio, &a));
	devices_destroy(d);
	rig_free(&r);
	rig_init(&r); /* fresh buses: a bus keeps its claims */
	d = devices_create(&r.env, &warn);
	assert_non_null(devices_get(d, &selftest_port_device));
	assert_true(bus_dispatch(r.pio, &a));
	devices_destroy(d);
	warn_destroy(&warn);
	rig_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_row_claims_what_it_registers),
		cmocka_unit_test(test_rows_are_unique_and_whole),
		cmocka_unit_test(test_table_saves_and_loads),
		cmocka_unit_test(test_selftest_ports_for_builtin_guests_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
