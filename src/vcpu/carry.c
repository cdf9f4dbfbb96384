/*
 * carry.c - see carry.h.  Some KVMs (PVM, or KVM emulating for lack of unrestricted guest)
 * cannot emulate some instructions: mpvmm performs the ones x86/emulate.c knows on the
 * vCPU's registers and memory (reached through the engine's translation) and delivers what
 * they raise, exactly as the CPU would have; any other is reported by its bytes and name.
 * It knows the CPU engine and guest memory, not the vCPU thread or the VM.
 */
#include "vcpu/carry.h"

#include <cpuid.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "x86/emulate.h"

/* Copy up to n instruction bytes at the guest's CS:RIP, one page at a time. */
static size_t fetch_insn(const struct vcpu_carry *x, uint64_t linear, uint8_t *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		uint64_t gpa;
		if (x->cpu->translate(x->av, linear + got, &gpa) < 0)
			break;
		size_t in_page = 4096 - ((linear + got) & 4095);
		size_t chunk = n - got < in_page ? n - got : in_page;
		const uint8_t *src = guest_mem_ptr(x->mem, gpa, chunk);
		if (!src)
			break;
		memcpy(buf + got, src, chunk);
		got += chunk;
	}
	return got;
}

/* KVM's emulation-failure exit: data[0] flags, then insn_size and 15 bytes (api.rst). */
#define EMULATION_FLAG_INSN_BYTES 1ull

static size_t insn_bytes(const struct vcpu_carry *x, const struct accel_exit *e,
			 const struct x86_regs *r, const struct x86_sregs *s, uint8_t *buf)
{
	if (e->internal.ndata >= 3 && (e->internal.data[0] & EMULATION_FLAG_INSN_BYTES)) {
		uint8_t raw[16];
		memcpy(raw, &e->internal.data[1], sizeof(raw));
		size_t n = raw[0] <= INSN_MAX_LEN ? raw[0] : INSN_MAX_LEN;
		if (n) {
			memcpy(buf, raw + 1, n);
			return n;
		}
	}
	return fetch_insn(x, s->cs.base + r->rip, buf, INSN_MAX_LEN);
}

/*
 * Guest memory for the emulator (x86/emulate.h): a linear range of at most 16 bytes, through
 * the vCPU's paging, as up to two host pieces (it may cross one page boundary).  Every page
 * is translated before any byte is touched, so a fault leaves memory unchanged.
 */
static int map_linear(const struct vcpu_carry *x, uint64_t linear, size_t n, uint8_t *host[2],
		      size_t len[2], uint64_t *fault)
{
	size_t first = 4096 - (linear & 4095);

	len[0] = n < first ? n : first;
	len[1] = n - len[0];
	for (int i = 0; i < 2 && len[i]; i++) {
		uint64_t lin = linear + (i ? len[0] : 0), gpa;
		if (x->cpu->translate(x->av, lin, &gpa) < 0) {
			*fault = lin;
			return EMU_MEM_FAULT;
		}
		host[i] = guest_mem_ptr(x->mem, gpa, len[i]);
		if (!host[i])
			return EMU_MEM_UNSUPPORTED; /* MMIO: not carried */
	}
	return EMU_MEM_OK;
}

static int emu_read(void *ctx, uint64_t linear, void *buf, size_t n, uint64_t *fault)
{
	uint8_t *host[2] = { NULL, NULL };
	size_t len[2];
	int r = map_linear(ctx, linear, n, host, len, fault);

	if (r == EMU_MEM_OK) {
		memcpy(buf, host[0], len[0]);
		if (len[1])
			memcpy((uint8_t *)buf + len[0], host[1], len[1]);
	}
	return r;
}

static int emu_write(void *ctx, uint64_t linear, const void *buf, size_t n, uint64_t *fault)
{
	uint8_t *host[2] = { NULL, NULL };
	size_t len[2];
	int r = map_linear(ctx, linear, n, host, len, fault);

	if (r == EMU_MEM_OK) {
		memcpy(host[0], buf, len[0]);
		if (len[1])
			memcpy(host[1], (const uint8_t *)buf + len[0], len[1]);
	}
	return r;
}

/*
 * CMPXCHG16B is performed, not hidden: CPUID.CX16 can be cleared on some hosts (PVM honours
 * it) but not all, and guests may require it.  An aligned 16-byte operand never crosses a
 * page, so it is one host location, and a host LOCK CMPXCHG16B there is atomic against every
 * other vCPU's locked access to the same RAM, whether the CPU or KVM's emulator does it.
 */
static int emu_cmpxchg16(void *ctx, uint64_t linear, uint64_t old[2], const uint64_t new_[2],
			 bool *swapped, uint64_t *fault)
{
	uint8_t *host[2] = { NULL, NULL };
	size_t len[2];
	int r = map_linear(ctx, linear, 16, host, len, fault);

	if (r == EMU_MEM_OK && (len[1] || ((uintptr_t)host[0] & 15)))
		return EMU_MEM_UNSUPPORTED; /* the emulator checked alignment: cannot happen */
	if (r == EMU_MEM_OK)
		emu_host_cmpxchg16(host[0], old, new_, swapped);
	return r;
}

#define FEATURES_KNOWN (1u << 31)

/*
 * The CPUID features that decide what a carried instruction does.  Instructions reach mpvmm
 * only where the host's KVM cannot emulate them (PVM), and there leaf 1 ECX (POPCNT) and
 * leaf 7 (SMAP, BMI1) are the host's whatever mpvmm's table says: the host's CPUID is what
 * the guest sees.
 */
static uint32_t carried_features(void)
{
	static _Atomic uint32_t known; /* features | FEATURES_KNOWN: CPUID is slow in a VM */
	unsigned a, b, c, d;
	uint32_t f = atomic_load_explicit(&known, memory_order_relaxed);

	if (f & FEATURES_KNOWN)
		return f & ~FEATURES_KNOWN;
	f = 0;
	if (__get_cpuid_count(1, 0, &a, &b, &c, &d)) {
		f |= (c & (1u << 23) ? EMU_FEAT_POPCNT : 0) | (c & (1u << 13) ? EMU_FEAT_CX16 : 0);
		f |= d & (1u << 25) ? EMU_FEAT_SSE : 0;
	}
	if (__get_cpuid_count(7, 0, &a, &b, &c, &d))
		f |= (b & (1u << 3) ? EMU_FEAT_BMI1 : 0) | (b & (1u << 20) ? EMU_FEAT_SMAP : 0);
	if (__get_cpuid_count(0x80000001u, 0, &a, &b, &c, &d))
		f |= c & (1u << 5) ? EMU_FEAT_LZCNT : 0;
	atomic_store_explicit(&known, f | FEATURES_KNOWN, memory_order_relaxed);
	return f;
}

/* Code size from CR0.PE, CS.L (with EFER.LMA) and CS.D (SDM Vol. 3A, 5.2.1). */
static enum insn_mode code_mode(const struct x86_sregs *s)
{
	if (!(s->cr0 & X86_CR0_PE))
		return INSN_MODE_16;
	if (s->cs.l && (s->efer & X86_EFER_LMA))
		return INSN_MODE_64;
	return s->cs.db ? INSN_MODE_32 : INSN_MODE_16;
}

static void report_uncarried(const struct vcpu_carry *x, uint64_t rip, const uint8_t *bytes,
			     size_t n, const struct insn *in)
{
	char hex[3 * INSN_MAX_LEN + 1] = "unreadable", name[96] = "undecodable";

	if (in)
		n = in->len; /* the instruction, not what follows it */
	for (size_t i = 0, at = 0; i < n; i++)
		at += (size_t)snprintf(hex + at, sizeof(hex) - at, i ? " %02x" : "%02x", bytes[i]);
	if (in)
		insn_format(in, name, sizeof(name));
	log_error("vCPU %u: the host's KVM cannot emulate the instruction at rip=%llx "
		  "(bytes %s: %s) and mpvmm does not carry it", x->index, (unsigned long long)rip,
		  hex, name);
}

/* Put back what the emulator changed, then the event it raised (if any). */
static int write_back(const struct vcpu_carry *x, const struct emu_cpu *c,
		      const struct emu_event *ev)
{
	const struct accel_cpu_ops *ops = x->cpu;

	if (ops->set_regs(x->av, &c->regs) < 0)
		return -1;
	if (c->sregs_dirty && ops->set_sregs(x->av, &c->sregs) < 0)
		return -1;
	if (c->fpu_dirty && ops->set_fpu(x->av, &c->fpu) < 0)
		return -1;
	if (!ev->pending)
		return 0;
	if (ev->has_error_code)
		return ops->inject_error(x->av, ev->vector, ev->error_code);
	return ops->inject(x->av, ev->vector, ev->soft_int);
}

/*
 * Some KVMs (PVM, or KVM emulating for lack of unrestricted guest) cannot emulate some
 * instructions.  mpvmm performs the ones x86/emulate.c knows on the vCPU's registers and
 * memory and delivers what they raise, exactly as the CPU would have; any other is reported
 * (bytes and name) and ends the run.
 */
int vcpu_carry(const struct vcpu_carry *x, const struct accel_exit *e)
{
	const struct accel_cpu_ops *ops = x->cpu;
	struct emu_cpu c = { .mxcsr_mask = X86_MXCSR_DEFAULT_MASK };
	const struct emu_mem mem = { .ctx = (void *)x, .read = emu_read, .write = emu_write,
				     .cmpxchg16 = emu_cmpxchg16 };
	uint8_t bytes[INSN_MAX_LEN];
	struct insn in;
	struct emu_event ev;

	if (e->internal.suberror != ACCEL_INTERNAL_EMULATION)
		return -1;
	if (ops->get_regs(x->av, &c.regs) < 0 || ops->get_sregs(x->av, &c.sregs) < 0)
		return -1;
	size_t n = insn_bytes(x, e, &c.regs, &c.sregs, bytes);
	bool decoded = insn_decode_mode(bytes, n, code_mode(&c.sregs), &in) == 0;
	c.features = carried_features();
	if (!decoded || in.kind >= INSN_KINDS ||
	    (emu_needs_fpu(&in) && ops->get_fpu(x->av, &c.fpu) < 0) ||
	    emulate(&in, &c, &mem, &ev) != EMU_DONE) {
		report_uncarried(x, c.regs.rip, bytes, n, decoded ? &in : NULL);
		return -1;
	}
	if (write_back(x, &c, &ev) < 0)
		return -1;
	return (int)in.kind;
}

