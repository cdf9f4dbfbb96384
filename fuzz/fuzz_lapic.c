/*
 * fuzz_lapic.c - the local APIC model (mp/lapic*.c) through its MMIO and MSR entry points,
 * on the APIC bus that routes what its ICR sends (mp/apic_bus.c) to 1-4 vCPUs with the MP
 * state machine behind it (mp/mp_user.c, recording in the MP trace, mp/mp.c): the way the
 * accelerators without an APIC of their own reach it, so that IPIs, INIT and SIPI land
 * somewhere real.  Also the CPU's side (taking interrupts and NMIs, HLT, starts), messages
 * from outside (MSI, the 8259A's INTR), timers on the harness's clock as irqchip/user.c
 * drives them, and snapshots: the MP trace, the state machine and the APICs, saved and
 * loaded in a restore's order (the input's language and the round trip are dev_fuzz.h's).
 * Checks: MMIO never raises #GP; an MSR access is OK, #GP or not the APIC's; a vector taken
 * is 16-255; once timers have fired at `now`, none is due at `now`; callbacks name real vCPUs.
 *
 *   config        byte 0: 1 + b % 4 vCPUs, the BSP (b >> 2) % n; byte 1: bit 0 x2APIC may be
 *                 enabled, bits 1-2 the TSC (none, 1 GHz, 2.5 GHz, 33.3 MHz), bits 3-4 the
 *                 APIC timer clock (1 GHz, 100 MHz, 25 MHz, 3 GHz), bit 5 MAXPHYADDR 36;
 *                 byte 2: APIC IDs 0, s, 2s, ... with s 1, 2, 4 or 16 by bits 0-1, from 256
 *                 on with bit 7 (x2APIC only)
 *   flags         the vCPU (flags % n) of every access and per-vCPU operation
 *   where         offset (where & 0x3f) * 16 (bit 6: (where & 0x3f) * 64 + 4) into the page
 *                 at the vCPU's APIC base (bit 7: at the default base); 1-8 bytes by arg
 *   model op 0    the CPU takes an NMI (a bit 0) or its highest interrupt
 *   model op 1    WRMSR msr(a) := b    (msr(a): 0x800 + a below 0x40, IA32_APIC_BASE to 0x7f,
 *   model op 2    RDMSR msr(a)          IA32_TSC_DEADLINE to 0x9f, 0x840-0x85f, 0x8c0-0x8ff)
 *   model op 3    by a % 4: an MSI (address 0xfee00000 | b's bits 19:0, data b >> 32), the
 *                 8259A's INTR := b & 1, HLT with IF = b & 1 then the start the vCPU may
 *                 take, an IPI delivered from outside as b describes it
 *
 * With clang and -fsanitize=fuzzer this is a libFuzzer target.  Built with FUZZ_REPLAY_MAIN,
 * a plain main replays the files and directories it is given (the seed corpus in
 * fuzz/corpus/lapic runs as a regression test with any compiler; dev_seeds.c made it).
 */
#include <stdlib.h>

#include "dev_fuzz.h"
#include "mp/apic_bus.h"
#include "mp/mp_user.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CPUS 4

struct machine {
	uint32_t n;
	struct mp_user *u;
	struct apic_bus *b;
	struct mp *mp;
};

static void warn(void *ctx, const char *msg)
{
	(void)ctx;
	dev_fuzz_message(msg);
}

static void kick(void *ctx, uint32_t cpu)
{
	const struct machine *m = ctx;

	if (cpu >= m->n)
		abort();
}

static void eoi(void *ctx, uint8_t vector)
{
	(void)ctx;
	if (vector < 16)
		abort(); /* 0-15 never reach the ISR */
}

static int exec_here(void *ctx, uint32_t cpu, void (*fn)(void *), void *arg)
{
	(void)ctx;
	(void)cpu;
	fn(arg);
	return 0;
}

static void destroy(void *p)
{
	struct machine *m = p;

	apic_bus_destroy(m->b);
	mp_destroy(m->mp);
	mp_user_destroy(m->u);
	free(m);
}

static void config_cpus(const uint8_t *c, struct mp_cpu *cpus, uint32_t n, bool x2apic)
{
	static const uint32_t strides[4] = { 1, 2, 4, 16 };
	uint32_t first = x2apic && (c[2] & 0x80) ? 256 : 0, bsp = (c[0] >> 2) % n;

	for (uint32_t i = 0; i < n; i++)
		cpus[i] = (struct mp_cpu){ .apic_id = first + i * strides[c[2] & 3],
					   .bsp = i == bsp };
}

static struct apic_bus *make_bus(struct machine *m, const uint8_t *c, const struct mp_cpu *cpus)
{
	static const uint64_t tsc[4] = { 0, 1000000000, 2500000000, 33333333 };
	static const uint64_t bus[4] = { 0, 100000000, 25000000, 3000000000 };
	const struct apic_bus_config cfg = {
		.ncpus = m->n, .cpus = cpus, .x2apic = c[1] & 1,
		.phys_bits = c[1] & 0x20 ? 36 : 0, .bus_hz = bus[(c[1] >> 3) & 3],
		.tsc_hz = tsc[(c[1] >> 1) & 3], .now_ns = dev_fuzz_now, .warn = warn,
		.mp = m->u, .eoi = eoi,
	};

	return apic_bus_create(&cfg);
}

static void *create(const uint8_t c[DEV_FUZZ_CONFIG_MAX])
{
	struct machine *m = calloc(1, sizeof(*m));
	struct mp_cpu cpus[MAX_CPUS];

	if (!m)
		abort();
	m->n = 1 + c[0] % MAX_CPUS;
	config_cpus(c, cpus, m->n, c[1] & 1);
	uint32_t bsp = (c[0] >> 2) % m->n;
	const struct mp_user_config uc = {
		.ncpus = m->n, .bsp = bsp, .sipi_timeout_ns = 1000000, .now_ns = dev_fuzz_now,
		.warn = warn, .kick = kick, .kick_ctx = m,
	};
	if (!(m->u = mp_user_create(&uc)))
		abort();
	for (uint32_t i = 0; i < m->n; i++)
		cpus[i].backend_ctx = mp_user_backend_ctx(m->u, i);
	m->mp = mp_create(m->n, cpus, &mp_user_backend, exec_here, NULL, 0);
	if (!m->mp || !(m->b = make_bus(m, c, cpus)))
		abort();
	mp_set_clock(m->mp, dev_fuzz_now, NULL);
	mp_user_attach(m->u, m->mp);
	return m;
}

/* Each part as a blob, in a restore's order: the trace, the state machine, the APICs. */
static int save(void *p, struct snap_enc *e)
{
	struct machine *m = p;
	struct snap_enc part[3] = { { 0 } };
	int r = mp_save(m->mp, &part[0]) | mp_user_save(m->u, &part[1]) |
		apic_bus_save(m->b, &part[2]);

	for (int i = 0; i < 3; i++) {
		snap_enc_blob(e, part[i].buf, part[i].len);
		snap_enc_free(&part[i]);
	}
	return r < 0 || e->oom ? -1 : 0;
}

static int load_part(struct snap_dec *d, struct snap_dec *part, char *err, size_t errlen)
{
	size_t n;
	const void *p = snap_dec_blob(d, &n);

	if (!p)
		return snap_refuse(err, errlen, "MP", "truncated");
	snap_dec_init(part, p, n);
	return 0;
}

static int load(void *p, struct snap_dec *d, char *err, size_t errlen)
{
	struct machine *m = p;
	struct snap_dec part;

	if (load_part(d, &part, err, errlen) < 0 || mp_load(m->mp, &part, err, errlen) < 0 ||
	    load_part(d, &part, err, errlen) < 0 || mp_user_load(m->u, &part, err, errlen) < 0 ||
	    load_part(d, &part, err, errlen) < 0 || apic_bus_load(m->b, &part, err, errlen) < 0)
		return -1;
	return snap_dec_done(d) ? 0 : snap_refuse(err, errlen, "MP", "bytes left over");
}

static uint64_t page_of(struct machine *m, uint32_t cpu, uint8_t where)
{
	if (where & 0x80)
		return LAPIC_DEFAULT_BASE;
	return lapic_base(apic_bus_lapic(m->b, cpu));
}

/* As irqchip/user.c hands an MMIO exit over: the value is the first four bytes. */
static void guest_access(void *p, const struct dev_access *a)
{
	struct machine *m = p;
	uint32_t cpu = a->flags % m->n, v = 0;
	uint32_t off = a->where & 0x40 ? (a->where & 0x3fu) * 64 + 4 : (a->where & 0x3fu) * 16;
	uint64_t gpa = page_of(m, cpu, a->where) + off;
	int r;

	/* Half the accesses come from a new entry into the guest, half from one an INIT may
	 * have overtaken (apic_bus.h: squashed until the vCPU enters again). */
	if ((a->flags / m->n) & 1)
		apic_bus_entered(m->b, cpu);
	if (a->write) {
		for (unsigned i = 0; i < a->size && i < 4; i++)
			v |= (uint32_t)a->data[i] << (8 * i);
		r = apic_bus_mmio_write(m->b, cpu, gpa, a->size, v);
	} else {
		r = apic_bus_mmio_read(m->b, cpu, gpa, a->size, &v);
		for (unsigned i = 0; i < a->size; i++)
			a->data[i] = i < 4 ? (uint8_t)(v >> (8 * i)) : 0xff;
	}
	if (r != LAPIC_OK && r != LAPIC_UNCLAIMED)
		abort();
}

/* irqchip/user.c's timer work: fire what is due, warn about late SIPIs. */
static void tick(void *p, uint64_t now)
{
	struct machine *m = p;

	if (apic_bus_next_deadline(m->b) <= now)
		apic_bus_fire_timers(m->b, now);
	mp_user_tick(m->u, now);
	if (apic_bus_next_deadline(m->b) <= now)
		abort();
}

static uint32_t msr_of(uint8_t a)
{
	if (a < 0x40)
		return LAPIC_MSR_X2APIC_FIRST + a;
	if (a < 0x80)
		return LAPIC_MSR_APIC_BASE;
	if (a < 0xa0)
		return LAPIC_MSR_TSC_DEADLINE;
	if (a < 0xc0)
		return 0x840u + (a - 0xa0u);
	return 0x8c0u + (a & 0x3fu);
}

static void take(struct machine *m, uint32_t cpu, bool nmi)
{
	if (nmi) {
		apic_bus_take_nmi(m->b, cpu);
		return;
	}
	if (apic_bus_extint(m->b, cpu) || apic_bus_pending(m->b, cpu) < 0)
		return; /* an ExtINT is the 8259A's to answer: there is none here */
	int v = apic_bus_take_interrupt(m->b, cpu);
	if (v != -1 && (v < 16 || v > 255))
		abort();
}

static void msr(struct machine *m, uint32_t cpu, bool write, uint8_t a, uint64_t b)
{
	uint64_t v = b;

	apic_bus_entered(m->b, cpu); /* an MSR exit from a new entry into the guest */
	int r = write ? apic_bus_msr_write(m->b, cpu, msr_of(a), b)
		      : apic_bus_msr_read(m->b, cpu, msr_of(a), &v);

	if (r != LAPIC_OK && r != LAPIC_GP && r != LAPIC_UNCLAIMED)
		abort();
}

/* An IPI as an I/O APIC or another bus master could send it: any field b holds. */
static void deliver(struct machine *m, uint64_t b)
{
	const struct lapic_ipi ipi = {
		.dest = (uint32_t)(b >> 32), .vector = (uint8_t)b, .mode = (b >> 8) & 7,
		.shorthand = (b >> 11) & 3, .logical = b & (1u << 13), .assert = b & (1u << 14),
		.level = b & (1u << 15), .x2apic = b & (1u << 16),
	};

	apic_bus_deliver(m->b, APIC_BUS_EXTERNAL, &ipi);
}

static void outside(struct machine *m, uint32_t cpu, uint8_t a, uint64_t b)
{
	struct x86_regs regs;
	struct x86_sregs sregs;

	switch (a % 4) {
	case 0:
		apic_bus_msi(m->b, LAPIC_DEFAULT_BASE | (b & 0xfffffu), (uint32_t)(b >> 32));
		break;
	case 1:
		apic_bus_set_extint(m->b, b & 1);
		break;
	case 2:
		mp_user_halt(m->u, cpu, b & 1);
		mp_user_take_sipi(m->u, cpu, &regs, &sregs);
		break;
	default:
		deliver(m, b);
		break;
	}
}

static void op(void *p, unsigned which, uint8_t flags, uint8_t a, uint64_t b)
{
	struct machine *m = p;
	uint32_t cpu = flags % m->n;

	switch (which) {
	case 0: take(m, cpu, a & 1); break;
	case 1: msr(m, cpu, true, a, b); break;
	case 2: msr(m, cpu, false, a, b); break;
	default: outside(m, cpu, a, b); break;
	}
}

static const struct fuzz_dev dev = {
	.name = "lapic", .config = 3, .create = create, .destroy = destroy, .save = save,
	.load = load, .size = dev_fuzz_mmio_size, .access = guest_access, .tick = tick,
	.op = op,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	dev_fuzz_run(&dev, data, size);
	return 0;
}

#ifdef FUZZ_REPLAY_MAIN
#include "replay.h"

int main(int argc, char **argv)
{
	return fuzz_replay_main(argc, argv, "fuzz_lapic");
}
#endif
