/*
 * soft_state.c - the software CPU's state saved for a snapshot and loaded back: each vCPU's
 * uc_context, the clock, the turn and the seeded generator.  It knows the engine and its
 * vCPUs (soft_internal.h), not the snapshot file or what else a snapshot holds.
 */
#include "accel/soft/soft_internal.h"

#include <errno.h>
#include <string.h>

/* ---- snapshots ------------------------------------------------------------------------------ */

/*
 * A vCPU is saved as its uc_context, byte for byte: Unicorn's copy of QEMU's CPUX86State up
 * to `retaddr` (uc.c, target/i386/unicorn.c in 2.0.1), which is what this file switches
 * between vCPUs anyway.  Registers read one by one (uc_reg_read) would lose what has no
 * register id: the hidden parts of the segment registers (base, limit, attributes loaded
 * from a descriptor that the guest may since have changed, as in every real-to-protected
 * mode trampoline), the FPU tag and status words, pending lazy flags (cc_op), hflags; a
 * context restores all of it exactly.  The cost: the bytes mean something only to the same
 * Unicorn, so a snapshot records uc_version() and uc_context_size() and a restore under
 * another one is refused.  The context's only host pointers are QEMU's hardware-breakpoint
 * handles (cpu_breakpoint[4]), used only while DR7 enables a breakpoint: a vCPU with one
 * enabled is refused on save and on load.  Like every snapshot section, the bytes are
 * protected by their CRC, and a file is not trusted for that: before a context is taken,
 * what a CPU could never hold is refused (context_sane: reserved RFLAGS, CR0 and CR4 bits,
 * paging without protection, a non-canonical RIP, descriptor tables over 64 KiB), so that
 * Unicorn is never handed a state its own instructions could not have made.
 *
 * A vCPU is paused either between slices (its context is current; the engine is not needed,
 * though it is free: the holder of the turn lets it go while parked, soft_parked) or, in step mode,
 * inside the exit of an OUT (on its own thread, within uc_emu_start).  Then the engine holds
 * its registers with RIP at the OUT (the code hook syncs it, as a linear address): the saved
 * RIP is the next instruction's, as if the OUT had completed, which it has for the guest
 * (the port was written).  A pause inside an IN, an OUTS or an MMIO access is refused: the
 * instruction's effects on registers are not complete.
 *
 * Soft's own guest-visible state goes with it: per VM the clock (instructions retired, which
 * the APIC timers run on), the turn (who holds it) and the seeded generator; per vCPU a
 * pending one-instruction slice (STI shadow) and, when paused inside an OUT, what is left
 * of its slice.  So a seeded run continues after a restore with the same choices and slice
 * lengths it would have made; what a restore cannot repeat is what was never a function of
 * the seed (a run without a seed, and host timing at the control API).
 * Load order: soft_load_vm (the clock) before the APIC models are loaded, since they place
 * their timers relative to it; soft_load_vcpu for every vCPU before its thread starts.
 */

#define SOFT_SNAP_VERSION 1u
#define DR7_ENABLES 0xffull /* L0-L3, G0-G3 (SDM Vol. 3B, 17.2.4) */
#define NO_TURN_SAVED UINT64_MAX
#define UC_CONTEXT_HEADER 16u /* uc_priv.h 2.0.1: size_t context_size; mode; arch */

#define snap_fail(err, errlen, ...) snap_refuse(err, errlen, "software CPU", __VA_ARGS__)

/* This library and context size, for the saved state to be read by the same. */
static void put_engine_id(struct soft *s, struct snap_enc *e)
{
	snap_enc_u32(e, SOFT_SNAP_VERSION);
	snap_enc_u32(e, unicorn.version(NULL, NULL));
	snap_enc_u64(e, s->ctx_size);
}

static int check_engine_id(struct soft *s, struct snap_dec *d, char *err, size_t errlen)
{
	uint32_t version = snap_dec_u32(d), uc = snap_dec_u32(d);
	uint64_t size = snap_dec_u64(d);

	if (d->bad)
		return snap_fail(err, errlen, "truncated");
	if (version != SOFT_SNAP_VERSION)
		return snap_fail(err, errlen, "version %u (this mpvmm reads %u)", version,
				 SOFT_SNAP_VERSION);
	if (uc != unicorn.version(NULL, NULL) || size != s->ctx_size)
		return snap_fail(err, errlen, "saved by Unicorn %#x with %llu-byte contexts; this "
				 "is Unicorn %#x with %zu-byte contexts", uc,
				 (unsigned long long)size, unicorn.version(NULL, NULL), s->ctx_size);
	return 0;
}

static bool breakpoints_enabled(uc_context *ctx)
{
	uint64_t dr7 = 0;

	unicorn.context_reg_read(ctx, UC_X86_REG_DR7, &dr7);
	return dr7 & DR7_ENABLES;
}

/* Architecturally defined bits (Intel SDM Vol. 3A 2.3 for RFLAGS, 2.5 for CR0 and CR4). */
#define RFLAGS_DEFINED 0x3f7fd5ull  /* CF..ID without the reserved bits 1, 3, 5 and 15 */
#define RFLAGS_FIXED1 0x2ull        /* bit 1 always reads 1 */
#define CR0_DEFINED 0xe005003full   /* PE MP EM TS ET NE, WP, AM, NW CD PG */
#define CR0_PE 0x1ull
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR0_PG (1ull << 31)
#define CR4_DEFINED 0x1ff7fffull    /* VME..LA57 VMXE SMXE, FSGSBASE..PKS (bit 15 reserved) */

static bool canonical(uint64_t a)
{
	uint64_t top = a >> 47;

	return top == 0 || top == 0x1ffff;
}

/*
 * Refuse, with the register named, a context no x86 CPU could be in: Unicorn takes a
 * context as it is, and its translator assumes what the architecture guarantees.
 */
static int context_sane(uc_context *ctx, unsigned index, char *err, size_t errlen)
{
	uint64_t rflags = 0, rip = 0, cr0 = 0, cr4 = 0;
	uc_x86_mmr gdtr = { 0 }, idtr = { 0 };

	if (unicorn.context_reg_read(ctx, UC_X86_REG_RFLAGS, &rflags) != UC_ERR_OK ||
	    unicorn.context_reg_read(ctx, UC_X86_REG_RIP, &rip) != UC_ERR_OK ||
	    unicorn.context_reg_read(ctx, UC_X86_REG_CR0, &cr0) != UC_ERR_OK ||
	    unicorn.context_reg_read(ctx, UC_X86_REG_CR4, &cr4) != UC_ERR_OK ||
	    unicorn.context_reg_read(ctx, UC_X86_REG_GDTR, &gdtr) != UC_ERR_OK ||
	    unicorn.context_reg_read(ctx, UC_X86_REG_IDTR, &idtr) != UC_ERR_OK)
		return snap_fail(err, errlen, "vCPU %u: the context cannot be read", index);
	if ((rflags & ~RFLAGS_DEFINED) != RFLAGS_FIXED1)
		return snap_fail(err, errlen, "vCPU %u: RFLAGS %#llx has reserved bits wrong", index,
				 (unsigned long long)rflags);
	if ((cr0 & ~CR0_DEFINED) || ((cr0 & CR0_PG) && !(cr0 & CR0_PE)) ||
	    ((cr0 & CR0_NW) && !(cr0 & CR0_CD)))
		return snap_fail(err, errlen, "vCPU %u: CR0 %#llx is not a valid value", index,
				 (unsigned long long)cr0);
	if (cr4 & ~CR4_DEFINED)
		return snap_fail(err, errlen, "vCPU %u: CR4 %#llx has reserved bits set", index,
				 (unsigned long long)cr4);
	if (!canonical(rip))
		return snap_fail(err, errlen, "vCPU %u: RIP %#llx is not canonical", index,
				 (unsigned long long)rip);
	if (gdtr.limit > 0xffff || idtr.limit > 0xffff)
		return snap_fail(err, errlen, "vCPU %u: GDTR/IDTR limit over 64 KiB", index);
	return 0;
}

/* The OUT executing is OUT imm8 (E6/E7 ib) or OUT DX (EE/EF), not OUTS (6E/6F). */
static bool plain_out(struct accel_vcpu *v)
{
	const uint8_t *p = v->insn_size ? soft_phys(v->s, v->insn_addr, v->insn_size) : NULL;

	if (!p)
		return false;
	uint8_t last = p[v->insn_size - 1];
	uint8_t before = v->insn_size > 1 ? p[v->insn_size - 2] : 0;
	return before == 0xe6 || before == 0xe7 || last == 0xee || last == 0xef;
}

/*
 * Paused inside an exit of its own slice (on this thread, the engine held): the engine's
 * state, with RIP past the OUT, in a new context; what is left of the slice.
 */
static uc_context *mid_exit_context(struct accel_vcpu *v, bool *resume, uint64_t *left,
				    char *err, size_t errlen)
{
	struct soft *s = v->s;
	uc_context *ctx = NULL;

	if (v->in_exit != IN_OUT || !plain_out(v)) {
		snap_fail(err, errlen, "vCPU %u is paused inside an IN, OUTS or MMIO access, "
			  "which cannot be completed for a snapshot", v->index);
		return NULL;
	}
	uc_err r = unicorn.context_alloc(s->uc, &ctx);
	if (r == UC_ERR_OK)
		r = unicorn.context_save(s->uc, ctx);
	uint64_t next = v->insn_addr + v->insn_size - soft_cs_base(s);
	if (r == UC_ERR_OK)
		r = unicorn.context_reg_write(ctx, UC_X86_REG_RIP, &next);
	if (r != UC_ERR_OK) {
		snap_fail(err, errlen, "vCPU %u: %s", v->index, unicorn.strerror(r));
		if (ctx)
			unicorn.context_free(ctx);
		return NULL;
	}
	/* After an MMIO write the slice ends at this OUT (on_out): nothing is left of it. */
	*resume = !v->mmio_written;
	*left = *resume && v->budget > v->executed ? v->budget - v->executed : 0;
	return ctx;
}

int soft_save_vcpu(struct accel_vcpu *v, struct snap_enc *e, char *err, size_t errlen)
{
	uc_context *mid = NULL, *ctx = v->ctx;
	bool resume = false;
	uint64_t left = 0;

	if (soft_running == v) {
		mid = mid_exit_context(v, &resume, &left, err, errlen);
		if (!mid)
			return -1;
		ctx = mid;
	}
	int r = 0;
	if (breakpoints_enabled(ctx)) {
		r = snap_fail(err, errlen, "vCPU %u has hardware breakpoints enabled (DR7), which "
			      "the software CPU cannot save", v->index);
	} else {
		put_engine_id(v->s, e);
		snap_enc_blob(e, ctx, v->s->ctx_size);
		snap_enc_u8(e, (uint8_t)(v->want_window | resume << 1));
		snap_enc_u64(e, left);
		if (e->oom)
			r = snap_fail(err, errlen, "out of memory");
	}
	if (mid)
		unicorn.context_free(mid);
	return r;
}

/* Copy a saved context into v's, if it is one for this engine and safe to load. */
static int take_context(struct accel_vcpu *v, const void *p, size_t n, char *err,
			size_t errlen)
{
	struct soft *s = v->s;
	uc_context *tmp = NULL;

	if (n != s->ctx_size || memcmp(p, v->ctx, UC_CONTEXT_HEADER) != 0)
		return snap_fail(err, errlen, "vCPU %u: the context is not one of this engine's",
				 v->index);
	uc_err r = unicorn.context_alloc(s->uc, &tmp);
	if (r != UC_ERR_OK)
		return snap_fail(err, errlen, "uc_context_alloc: %s", unicorn.strerror(r));
	memcpy(tmp, p, n);
	int bad = breakpoints_enabled(tmp) ?
		  snap_fail(err, errlen, "vCPU %u: hardware breakpoints are enabled (DR7)",
			    v->index) :
		  context_sane(tmp, v->index, err, errlen);
	if (!bad)
		memcpy(v->ctx, tmp, n);
	unicorn.context_free(tmp);
	return bad;
}

int soft_load_vcpu(struct accel_vcpu *v, struct snap_dec *d, char *err, size_t errlen)
{
	struct soft *s = v->s;
	size_t n = 0;
	bool took;

	if (check_engine_id(s, d, err, errlen) < 0)
		return -1;
	const void *p = snap_dec_blob(d, &n);
	uint8_t flags = snap_dec_u8(d);
	uint64_t left = snap_dec_u64(d);
	if (!p || !snap_dec_done(d) || (flags >> 2))
		return snap_fail(err, errlen, "vCPU %u: truncated or malformed", v->index);
	soft_engine_lock(s, &took);
	int r = take_context(v, p, n, err, errlen);
	if (r == 0) {
		if (s->loaded == v)
			s->loaded = NULL; /* the engine holds what v was: load the new context */
		v->want_window = flags & 1;
		v->resume_slice = flags & 2;
		v->resume_left = left;
		v->start_armed = false;
	}
	soft_engine_unlock(s, took);
	return r;
}

int soft_save_vm(struct accel *a, struct snap_enc *e, char *err, size_t errlen)
{
	struct soft *s = to_soft(a);

	put_engine_id(s, e);
	pthread_mutex_lock(&s->lock);
	long turn = s->turn;
	pthread_mutex_unlock(&s->lock);
	snap_enc_u32(e, s->nvcpus);
	snap_enc_u8(e, s->seeded);
	snap_enc_u64(e, atomic_load(&s->now));
	snap_enc_u64(e, s->rng);
	snap_enc_u64(e, turn == NO_TURN ? NO_TURN_SAVED : (uint64_t)turn);
	return e->oom ? snap_fail(err, errlen, "out of memory") : 0;
}

int soft_load_vm(struct accel *a, struct snap_dec *d, char *err, size_t errlen)
{
	struct soft *s = to_soft(a);

	if (check_engine_id(s, d, err, errlen) < 0)
		return -1;
	uint32_t n = snap_dec_u32(d);
	uint8_t seeded = snap_dec_u8(d);
	uint64_t now = snap_dec_u64(d), rng = snap_dec_u64(d), turn = snap_dec_u64(d);
	if (!snap_dec_done(d))
		return snap_fail(err, errlen, "truncated or malformed");
	if (n != s->nvcpus || seeded > 1 || (turn != NO_TURN_SAVED && turn >= n))
		return snap_fail(err, errlen, "%u vCPUs (this machine has %u), turn %lld", n,
				 s->nvcpus, turn == NO_TURN_SAVED ? -1ll : (long long)turn);
	if (seeded != s->seeded)
		return snap_fail(err, errlen, "the snapshot was taken %s --seed and this run is %s "
				 "one", seeded ? "with" : "without", s->seeded ? "with" : "without");
	if (seeded && !rng)
		return snap_fail(err, errlen, "the seeded generator's state is 0");
	atomic_store(&s->now, now);
	if (seeded)
		s->rng = rng;
	pthread_mutex_lock(&s->lock);
	s->turn = turn == NO_TURN_SAVED ? NO_TURN : (long)turn;
	s->turn_restored = s->turn != NO_TURN;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

