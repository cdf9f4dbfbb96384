/*
 * selftest_port.c - see selftest_port.h.  Runs on the thread of the vCPU doing the OUT;
 * reads another vCPU's MP state only through the MP interface, which carries the read
 * onto that vCPU's own thread.
 */
#include "dev/selftest_port.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util/log.h"
#include "mpvmm/selftest_abi.h"

/* An AP that reported in halts within a few instructions; allow for a loaded host. */
#define HALT_SETTLE_NS (2ull * 1000 * 1000 * 1000)
#define HALT_POLL_NS (200ull * 1000)

struct selftest_port {
	struct mp *mp;
	struct vm_control ctl;
	bool step_mode;
	bool hold;
	void (*warn)(void *ctx, const char *msg); /* the guest's mistakes, rate-limited */
	void *warn_ctx;
};

static void warnf(const struct selftest_port *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void warnf(const struct selftest_port *p, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->warn)
		p->warn(p->warn_ctx, msg);
	else
		log_warn("%s", msg);
}

const char *selftest_step_name(unsigned step)
{
	static const char *const names[] = {
		[SELFTEST_STEP_BEFORE_INIT] = "before-init",
		[SELFTEST_STEP_AFTER_INIT] = "after-init",
		[SELFTEST_STEP_AFTER_SIPI1] = "after-sipi1",
		[SELFTEST_STEP_AFTER_SIPI2] = "after-sipi2",
		[SELFTEST_STEP_AP_HALTED] = "ap-halted",
		[SELFTEST_STEP_SENDING] = "sending",
	};

	return step < sizeof(names) / sizeof(names[0]) && names[step] ? names[step] : "unknown";
}

static uint32_t value_of(const struct bus_access *a)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < a->size && i < 4; i++)
		v |= (uint32_t)a->data[i] << (8 * i);
	return v;
}

static void note_step(struct selftest_port *p, uint32_t from, uint32_t to, unsigned step)
{
	/* A backend that sees every IPI itself has recorded this one exactly already. */
	if (mp_exact(p->mp))
		return;
	switch (step) {
	case SELFTEST_STEP_AFTER_INIT:
		mp_note_ipi(p->mp, TRACE_INIT, from, to, 0, TRACE_GUEST);
		break;
	case SELFTEST_STEP_AFTER_SIPI1:
	case SELFTEST_STEP_AFTER_SIPI2:
		mp_note_ipi(p->mp, TRACE_SIPI, from, to, SELFTEST_SIPI_VECTOR, TRACE_GUEST);
		break;
	case SELFTEST_STEP_SENDING:
		/* Announced just before the ICR writes: the times are those of the sends. */
		mp_note_ipi(p->mp, TRACE_INIT, from, to, 0, TRACE_GUEST);
		mp_note_ipi(p->mp, TRACE_SIPI, from, to, SELFTEST_SIPI_VECTOR, TRACE_GUEST);
		mp_note_ipi(p->mp, TRACE_SIPI, from, to, SELFTEST_SIPI_VECTOR, TRACE_GUEST);
		break;
	default:
		break;
	}
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ull),
			       .tv_nsec = (long)(ns % 1000000000ull) };
	nanosleep(&ts, NULL);
}

/*
 * The guest announces "ap-halted" once the AP has reported; the AP's HLT follows a few
 * instructions later, and nothing tells the BSP when it has executed.  Wait (bounded) until
 * the state settles, and print what was seen if it never does.
 */
static int read_settled(struct selftest_port *p, uint32_t cpu, unsigned step, enum mp_state *s)
{
	uint64_t deadline = mp_now_ns() + HALT_SETTLE_NS;

	for (;;) {
		if (mp_get(p->mp, cpu, s) < 0)
			return -1;
		if (step != SELFTEST_STEP_AP_HALTED || *s == MP_STATE_HALTED ||
		    mp_now_ns() > deadline)
			return 0;
		sleep_ns(HALT_POLL_NS);
	}
}

static void on_step(struct selftest_port *p, const struct bus_access *a)
{
	unsigned step = SELFTEST_STEP_OF(value_of(a));
	uint32_t apic_id = SELFTEST_APIC_ID_OF(value_of(a));
	long cpu = mp_cpu_by_apic_id(p->mp, apic_id);
	enum mp_state s;

	if (cpu < 0) {
		warnf(p, "self-test: step %s for APIC ID %u, which no vCPU has",
		      selftest_step_name(step), apic_id);
		return;
	}
	note_step(p, a->cpu, (uint32_t)cpu, step);
	if (!p->step_mode)
		return;
	if (read_settled(p, (uint32_t)cpu, step, &s) < 0) {
		log_error("self-test step: cannot read vCPU %ld's MP state", cpu);
		return;
	}
	log_print("step: cpu=%ld apic=%u %s %s", cpu, apic_id, selftest_step_name(step),
		  mp_state_name(s));
	char why[96];
	snprintf(why, sizeof(why), "step %s of vCPU %ld", selftest_step_name(step), cpu);
	vm_control_hold(&p->ctl, a->cpu, why);
}

static void on_result(struct selftest_port *p, uint32_t code)
{
	char why[64];

	if (code == 0 && p->hold) {
		log_info("self-test passed; the VM keeps running (--selftest-hold)");
		return;
	}
	if (code == 0) {
		vm_control_stop(&p->ctl, 0, "self-test passed");
		return;
	}
	snprintf(why, sizeof(why), "self-test failed (code %u)", code);
	vm_control_stop(&p->ctl, 1, why);
}

static void selftest_io(void *ctx, const struct bus_access *a)
{
	struct selftest_port *p = ctx;
	uint32_t port = (uint32_t)a->addr;

	if (!a->write) {
		for (uint32_t i = 0; i < a->size; i++)
			a->data[i] = 0xff;
		return;
	}
	switch (port) {
	case SELFTEST_PORT_STEP:
		on_step(p, a);
		break;
	case SELFTEST_PORT_AP:
		if (value_of(a) != SELFTEST_AP_OK)
			warnf(p, "self-test: vCPU %u reported error %u", a->cpu, value_of(a));
		break;
	case SELFTEST_PORT_RESULT:
		on_result(p, value_of(a));
		break;
	default:
		break;
	}
}

struct selftest_port *selftest_port_create(struct bus *pio, struct mp *mp,
					   const struct vm_control *ctl, bool step_mode, bool hold)
{
	struct selftest_port *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->mp = mp;
	p->ctl = *ctl;
	p->step_mode = step_mode;
	p->hold = hold;
	/* Claim the whole 16-byte block so stray accesses do not fall through to "all ones". */
	if (bus_register(pio, SELFTEST_PORT_STEP, 16, selftest_io, p, "selftest") < 0) {
		free(p);
		return NULL;
	}
	return p;
}

void selftest_port_destroy(struct selftest_port *p)
{
	free(p);
}

/* ---- the device table's row (dev/device.h) ---- */

DEVICE_UNTYPED_DESTROY(selftest_port)

static void *device_create(const struct device_env *env)
{
	struct selftest_port *p = selftest_port_create(env->pio, env->mp, env->ctl, env->step,
						       env->hold);

	if (p) {
		p->warn = env->warn;
		p->warn_ctx = env->warn_ctx;
	}
	return p;
}

/* The built-in test guests report through these ports; another guest (--kernel) must not
 * be able to end the run as "self-test passed": there the ports are unclaimed. */
static bool builtin_guest(const struct device_env *env)
{
	return env->builtin_guest;
}

const struct device_desc selftest_port_device = {
	.name = "self-test ports",
	.snap_id = DEVICE_NOT_SAVED,
	.wanted = builtin_guest,
	.claims = { { DEVICE_PIO, SELFTEST_PORT_STEP, 16 } },
	.create = device_create,
	.destroy = selftest_port_untyped_destroy,
};
