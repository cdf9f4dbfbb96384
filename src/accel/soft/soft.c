/*
 * soft.c - the software CPU: every vCPU is emulated by Unicorn 2.0.1 (Debian's libunicorn2,
 * opened on first use; headers from libunicorn-dev); with soft_run.c, soft_regs.c and
 * soft_state.c the only files that call Unicorn.  It has no local APIC and keeps no MP
 * state: the --irqchip user mode (irqchip/user.c: mp_user, apic_bus) does, and tells it
 * which vCPU can run (struct accel_machine).  The facts about Unicorn cited below were
 * measured on 2.0.1 with small probe guests; each is restated where it is used.
 *
 * One engine, one context per vCPU.  An engine costs ~7 ms, ~2.9 MiB of RSS and 1 GiB of
 * address space (255 engines: 730 MiB); a uc_context is 5,544 bytes and a restore + save
 * costs 0.12 us.  Locked instructions are not atomic across engines on different host
 * threads (1,000,000 `lock xadd` each from two threads lost ~4% of the increments), so only
 * one host thread may execute guest code at a time: the engine is a baton.  Each vCPU keeps
 * its own thread (the mailbox, MP-state reads on the vCPU's own thread, the pause gate all
 * stay as with KVM) and runs a slice only while it holds the turn.
 *
 * Turns.  The holder of the turn picks the next holder when its slice has ended, from the
 * machine's view of who can run: a vCPU with a latched start first (lowest index), then
 * round robin, or with a seed a pseudo-random choice; slice lengths are fixed, or with a
 * seed pseudo-random too.  Every guest-visible event happens inside a turn, so with a seed a
 * run is a function of the seed; the guest clock is then instructions retired (1 ns each).
 * When nobody can run, the clock jumps to the next timer.
 *
 * A slice ends when its instruction budget is spent, at HLT, at a guest exception, or at a
 * kick.  After an MMIO write (an IPI, an EOI) it goes on to the vCPU's next port I/O or HLT
 * (at most POST_MMIO_MAX more instructions) and ends there: what a guest reports about an
 * IPI it sent (the self-test's step ports) is seen before the IPI's target runs.  A PAUSE
 * ends a slice too, once PAUSE_SLICE_MIN instructions ran: the vCPU spins waiting for
 * another (an answer to its IPI, as in Linux's smp_call_function), which cannot come while it
 * holds the turn.
 *
 * What Unicorn 2.0.1 cannot do, and what is done instead:
 *  - paging walks the tables but then uses virtual = physical: identity-mapped guests only;
 *  - RDMSR/WRMSR cannot be hooked (IA32_APIC_BASE reads 0): no x2APIC, at most 255 vCPUs;
 *  - exceptions are not delivered through the guest's IDT: they end the run (a guest fault);
 *  - external interrupts are delivered by hand through the 64-bit IDT gate;
 *  - HLT cannot be hooked: uc_emu_start returns after it, recognised by 0xF4 at RIP - 1;
 *  - a 16-bit engine cannot reach long mode, so the engine is 64-bit and an AP's INIT is a
 *    stub that brings it down to real mode and far-jumps to the SIPI vector (load_start).
 */
#include "accel/soft/soft.h"
#include "accel/soft/soft_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/dlib.h"
#include "util/log.h"

/*
 * libunicorn, opened when the software CPU is chosen (dlib.h says why it is not linked: here
 * loading it would cost every KVM run ~5.5 MiB of resident memory, measured with --cpus 1).
 * The names are the library's own, minus the uc_ prefix.
 */
struct soft_unicorn unicorn;

static const struct dlib_sym unicorn_syms[] = {
	{ "uc_open", (void **)&unicorn.open },
	{ "uc_close", (void **)&unicorn.close },
	{ "uc_reg_read", (void **)&unicorn.reg_read },
	{ "uc_reg_write", (void **)&unicorn.reg_write },
	{ "uc_emu_start", (void **)&unicorn.emu_start },
	{ "uc_emu_stop", (void **)&unicorn.emu_stop },
	{ "uc_hook_add", (void **)&unicorn.hook_add },
	{ "uc_hook_del", (void **)&unicorn.hook_del },
	{ "uc_mem_map_ptr", (void **)&unicorn.mem_map_ptr },
	{ "uc_mmio_map", (void **)&unicorn.mmio_map },
	{ "uc_context_alloc", (void **)&unicorn.context_alloc },
	{ "uc_context_save", (void **)&unicorn.context_save },
	{ "uc_context_restore", (void **)&unicorn.context_restore },
	{ "uc_context_free", (void **)&unicorn.context_free },
	{ "uc_context_size", (void **)&unicorn.context_size },
	{ "uc_context_reg_read", (void **)&unicorn.context_reg_read },
	{ "uc_context_reg_write", (void **)&unicorn.context_reg_write },
	{ "uc_version", (void **)&unicorn.version },
	{ "uc_strerror", (void **)&unicorn.strerror },
	{ "uc_ctl", (void **)&unicorn.ctl },
};

#define UNICORN_SONAME "libunicorn.so.2" /* Debian 12's libunicorn2 */

/* ---- memory ------------------------------------------------------------------------------ */

void *soft_phys(struct soft *s, uint64_t gpa, size_t len)
{
	if (gpa >= PRIV_BASE && gpa + len <= PRIV_BASE + PRIV_SIZE)
		return s->priv + (gpa - PRIV_BASE);
	return guest_mem_ptr(s->mem, gpa, len);
}

uint64_t soft_reg(struct soft *s, int id)
{
	uint64_t v = 0;

	unicorn.reg_read(s->uc, id, &v);
	return v;
}

void soft_set_reg(struct soft *s, int id, uint64_t v)
{
	unicorn.reg_write(s->uc, id, &v);
}

uint64_t soft_msr(struct soft *s, uint32_t id)
{
	uc_x86_msr m = { .rid = id };

	unicorn.reg_read(s->uc, UC_X86_REG_MSR, &m);
	return m.value;
}

/* ---- CPUID -------------------------------------------------------------------------------- */

/*
 * What the software CPU offers, in place of KVM_GET_SUPPORTED_CPUID: a plain family-6 x86-64
 * (features as QEMU's qemu64 model, which Unicorn emulates).  No x2APIC (CPUID.1:ECX bit 21):
 * its MSRs cannot be trapped.  Leaves 0x40000000-1 are mpvmm's: a signature, and (filled per
 * vCPU by the VM) IA32_APIC_BASE, which the guest cannot read with RDMSR here.
 */
static const struct cpuid_entry soft_cpuid[] = {
	{ .function = 0x0, .eax = 0xb, .ebx = 0x756e6547, .edx = 0x49656e69, .ecx = 0x6c65746e },
	{ .function = 0x1, .eax = 0x000306a9, .ebx = 0x00000800,
	  .ecx = (1u << 0) | (1u << 13) | (1u << 31), .edx = 0x078bfbfd },
	{ .function = 0x40000000, .eax = 0x40000001,           /* "mpvmmsoftcpu" */
	  .ebx = 0x6d76706d, .ecx = 0x666f736d, .edx = 0x75706374 },
	{ .function = 0x40000001 },
	{ .function = 0x80000000, .eax = 0x80000008 },
	{ .function = 0x80000001, .ecx = 1u << 0, .edx = (1u << 11) | (1u << 20) | (1u << 29) },
	{ .function = 0x80000008, .eax = 0x3028 },
};

struct cpuid_table *soft_supported_cpuid(struct accel *a, char *err, size_t errlen)
{
	size_t n = sizeof(soft_cpuid) / sizeof(soft_cpuid[0]);
	struct cpuid_table *t = calloc(1, sizeof(*t) + (n + CPUID_EXTRA_ENTRIES) *
					     sizeof(struct cpuid_entry));

	(void)a;
	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	memcpy(t->e, soft_cpuid, sizeof(soft_cpuid));
	t->n = n;
	return t;
}

int soft_set_cpuid(struct accel_vcpu *v, const struct cpuid_table *t)
{
	size_t size = sizeof(*t) + t->n * sizeof(t->e[0]);
	struct cpuid_table *copy = malloc(size);

	if (!copy)
		return -1;
	memcpy(copy, t, size);
	free(v->cpuid);
	v->cpuid = copy;
	return 0;
}

/* ---- VM and vCPUs -------------------------------------------------------------------------- */

/* As many vCPUs as INIT stubs fit the private page; its APIC IDs are the mode's business
 * (without MSR exits mpvmm's local APICs are xAPIC only: irqchip/user.c). */
static int soft_limits(struct accel *a, uint32_t *max_vcpus, uint32_t *max_vcpu_id)
{
	(void)a;
	*max_vcpus = SOFT_MAX_VCPUS;
	*max_vcpu_id = UINT32_MAX;
	return 0;
}

int soft_engine_fail(char *err, size_t errlen, const char *what, uc_err e)
{
	snprintf(err, errlen, "%s: %s", what, unicorn.strerror(e));
	return -1;
}

/* Identity page tables for the stub's page (paging must be on to leave long mode). */
static void build_private(struct soft *s)
{
	static const uint64_t gdt[] = {
		0, 0x00af9b000000ffffull, 0x00cf9b000000ffffull,
		0xfe009bff0000ffffull, 0xfe0093ff0000ffffull, /* 16-bit, base PRIV_BASE */
	};
	uint64_t e;

	memcpy(s->priv + PRIV_GDT, gdt, sizeof(gdt));
	e = PRIV_BASE + PRIV_PDPT + 3;
	memcpy(s->priv + PRIV_PML4, &e, 8);
	e = PRIV_BASE + PRIV_PD + 3;
	memcpy(s->priv + PRIV_PDPT + 8 * (PRIV_BASE >> 30), &e, 8);
	e = (PRIV_BASE & ~0x1fffffull) | 0x83; /* 2 MiB page, present, writable */
	memcpy(s->priv + PRIV_PD + 8 * ((PRIV_BASE >> 21) & 511), &e, 8);
}

/* RAM as the guest has it; the rest of the 3-4 GiB hole is MMIO (the LAPIC page included). */
static int map_memory(struct soft *s, struct guest_mem *m, char *err, size_t errlen)
{
	uint64_t low_end = 0;
	uc_err r;

	for (unsigned i = 0; i < m->nregions; i++) {
		r = unicorn.mem_map_ptr(s->uc, m->regions[i].gpa, m->regions[i].size, UC_PROT_ALL,
				   m->regions[i].hva);
		if (r != UC_ERR_OK)
			return soft_engine_fail(err, errlen, "uc_mem_map_ptr(guest RAM)", r);
		if (m->regions[i].gpa < PRIV_BASE)
			low_end = m->regions[i].gpa + m->regions[i].size;
	}
	r = unicorn.mem_map_ptr(s->uc, PRIV_BASE, PRIV_SIZE, UC_PROT_ALL, s->priv);
	if (r != UC_ERR_OK)
		return soft_engine_fail(err, errlen, "uc_mem_map_ptr(private page)", r);
	s->hole[0] = (struct mmio_region){ s, low_end };
	s->hole[1] = (struct mmio_region){ s, PRIV_BASE + PRIV_SIZE };
	r = unicorn.mmio_map(s->uc, low_end, PRIV_BASE - low_end, soft_mmio_read, &s->hole[0],
			soft_mmio_write, &s->hole[0]);
	if (r == UC_ERR_OK)
		r = unicorn.mmio_map(s->uc, PRIV_BASE + PRIV_SIZE, HOLE_END - PRIV_BASE - PRIV_SIZE,
				soft_mmio_read, &s->hole[1], soft_mmio_write, &s->hole[1]);
	return r == UC_ERR_OK ? 0 : soft_engine_fail(err, errlen, "uc_mmio_map(MMIO hole)", r);
}

static int soft_create_vm(struct accel *a, const struct accel_vm_params *p, char *err,
			  size_t errlen)
{
	struct soft *s = to_soft(a);
	uc_err r = unicorn.open(UC_ARCH_X86, UC_MODE_64, &s->uc);

	if (r != UC_ERR_OK)
		return soft_engine_fail(err, errlen, "uc_open(x86, 64-bit)", r);
	if (p->x2apic) {
		snprintf(err, errlen, "the software CPU has no x2APIC mode");
		return -1;
	}
	if (p->lapic) {
		snprintf(err, errlen, "the software CPU keeps no interrupt controller of its own "
			 "(--irqchip user)");
		return -1;
	}
	s->mem = p->mem;
	s->priv = calloc(1, PRIV_SIZE);
	if (!s->priv) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	build_private(s);
	if (map_memory(s, p->mem, err, errlen) < 0 || soft_add_hooks(s, err, errlen) < 0)
		return -1;
	s->ctx_size = unicorn.context_size(s->uc);
	r = unicorn.context_alloc(s->uc, &s->pristine);
	if (r == UC_ERR_OK)
		r = unicorn.context_save(s->uc, s->pristine);
	return r == UC_ERR_OK ? 0 : soft_engine_fail(err, errlen, "uc_context_save", r);
}

static int soft_create_vcpu(struct accel *a, uint32_t id, struct accel_vcpu **out, char *err,
			    size_t errlen)
{
	struct soft *s = to_soft(a);
	struct accel_vcpu **grown = realloc(s->vcpus, (s->nvcpus + 1) * sizeof(*grown));
	struct accel_vcpu *v = calloc(1, sizeof(*v));

	if (grown)
		s->vcpus = grown;
	if (!grown || !v || s->nvcpus >= SOFT_MAX_VCPUS) {
		free(v);
		snprintf(err, errlen, "cannot create software vCPU %u", id);
		return -1;
	}
	v->s = s;
	v->index = s->nvcpus;
	v->id = id;
	atomic_init(&v->kicked, false);
	pthread_cond_init(&v->cond, NULL);
	uc_err r = unicorn.context_alloc(s->uc, &v->ctx);
	if (r == UC_ERR_OK) /* every vCPU starts as the engine was opened */
		r = unicorn.context_save(s->uc, v->ctx);
	if (r != UC_ERR_OK) {
		pthread_cond_destroy(&v->cond);
		free(v);
		return soft_engine_fail(err, errlen, "uc_context_alloc", r);
	}
	s->vcpus[s->nvcpus++] = v;
	*out = v;
	return 0;
}

static void soft_destroy_vcpu(struct accel_vcpu *v)
{
	if (!v)
		return;
	if (v->s->loaded == v)
		v->s->loaded = NULL;
	v->s->vcpus[v->index] = NULL;
	unicorn.context_free(v->ctx);
	pthread_cond_destroy(&v->cond);
	free(v->cpuid);
	free(v);
}

static void soft_destroy(struct accel *a)
{
	struct soft *s = to_soft(a);

	if (!s)
		return;
	if (s->pristine)
		unicorn.context_free(s->pristine);
	if (s->uc)
		unicorn.close(s->uc);
	free(s->priv);
	free(s->vcpus);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->engine);
	free(s);
}

static int soft_thread_init(struct accel_vcpu *v)
{
	(void)v;
	return 0;
}

static int soft_set_hooks(struct accel_vcpu *v, const struct accel_vcpu_hooks *h)
{
	v->hooks = *h;
	return 0;
}

static void soft_set_machine(struct accel *a, const struct accel_machine *m)
{
	/* Timers fire on the vCPUs' turns: at teardown (NULL) their threads have ended. */
	if (m)
		to_soft(a)->m = *m;
}

static uint64_t soft_now_ns(struct accel *a)
{
	const struct accel_vcpu *r = soft_running;

	return atomic_load(&to_soft(a)->now) + (r ? r->executed - r->counted : 0);
}

static int soft_inject(struct accel_vcpu *v, uint8_t vector, bool soft_int)
{
	(void)soft_int;
	log_error("vCPU %u: exception %u cannot be delivered by the software CPU", v->index,
		  vector);
	errno = ENOTSUP;
	return -1;
}

static int soft_inject_error(struct accel_vcpu *v, uint8_t vector, uint32_t error_code)
{
	(void)error_code;
	return soft_inject(v, vector, false);
}

static int soft_get_fpu(struct accel_vcpu *v, struct x86_fpu *f)
{
	(void)v;
	memset(f, 0, sizeof(*f));
	errno = ENOTSUP; /* nothing is carried: Unicorn executes every instruction itself */
	return -1;
}

static int soft_set_fpu(struct accel_vcpu *v, const struct x86_fpu *f)
{
	(void)v;
	(void)f;
	errno = ENOTSUP;
	return -1;
}

/* Unicorn 2.0.1 uses virtual = physical after its page walk. */
static int soft_translate(struct accel_vcpu *v, uint64_t gva, uint64_t *gpa)
{
	(void)v;
	*gpa = gva;
	return 0;
}

static const struct accel_vm_ops soft_vm_ops = {
	.limits = soft_limits,
	.create_vm = soft_create_vm,
	.supported_cpuid = soft_supported_cpuid,
	.create_vcpu = soft_create_vcpu,
	.destroy = soft_destroy,
	.now_ns = soft_now_ns,
	.set_machine = soft_set_machine,
	.save_vm = soft_save_vm,
	.load_vm = soft_load_vm,
};

static const struct accel_cpu_ops soft_cpu_ops = {
	.thread_init = soft_thread_init,
	.destroy_vcpu = soft_destroy_vcpu,
	.kick = soft_kick,
	.run = soft_run,
	.set_cpuid = soft_set_cpuid,
	.get_regs = soft_get_regs,
	.set_regs = soft_set_regs,
	.get_sregs = soft_get_sregs,
	.set_sregs = soft_set_sregs,
	.get_fpu = soft_get_fpu,
	.set_fpu = soft_set_fpu,
	.translate = soft_translate,
	.inject = soft_inject,
	.inject_error = soft_inject_error,
	.set_hooks = soft_set_hooks,
	.interrupt_window = soft_interrupt_window,
	.interrupt = soft_interrupt,
	.idle = soft_idle,
	.parked = soft_parked,
	.set_debug = soft_set_debug,
	.save_vcpu = soft_save_vcpu,
	.load_vcpu = soft_load_vcpu,
};

int accel_soft_prepare(char *err, size_t errlen)
{
	char why[256];

	if (dlib_load(UNICORN_SONAME, unicorn_syms, sizeof(unicorn_syms) / sizeof(unicorn_syms[0]),
		      why, sizeof(why)) < 0) {
		snprintf(err, errlen, "the software CPU needs Unicorn 2 (Debian: libunicorn2): %s",
			 why);
		return -1;
	}
	return 0;
}

struct accel *accel_soft_open(bool seeded, uint64_t seed, char *err, size_t errlen)
{
	struct soft *s;

	if (accel_soft_prepare(err, errlen) < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base.vm = &soft_vm_ops;
	s->base.cpu = &soft_cpu_ops;
	/* No local APIC, PIC, I/O APIC or PIT of its own (mpvmm's), and RDMSR cannot be
	 * trapped: IA32_APIC_BASE reads 0. */
	s->base.caps = (struct accel_caps){
		.name = "soft", .what = "the software CPU",
		.lapic_timer_hz = 1000000000ull, /* the guest clock: 1 ns per instruction */
		.identity_only = true,
		.debug_exec_bps = ACCEL_DEBUG_BPS, /* checked in the code hook (soft_debug.c) */
		.debug_watch = true,               /* memory hooks while there are watchpoints */
	};
	s->turn = NO_TURN;
	s->seeded = seeded;
	s->rng = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull; /* never 0 for xorshift */
	if (!s->rng)
		s->rng = 1;
	atomic_init(&s->now, 0);
	pthread_mutex_init(&s->engine, NULL);
	pthread_mutex_init(&s->lock, NULL);
	return &s->base;
}
