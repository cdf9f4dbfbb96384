/*
 * soft_internal.h - the software CPU's own types, shared by the files of accel/soft/ and
 * nothing else: soft.c (Unicorn, the VM, the vCPUs, CPUID), soft_run.c (the turn, the hooks
 * and the slices), soft_regs.c (registers, starts, interrupts) and soft_state.c
 * (snapshots).  soft.c says what the software CPU is and what Unicorn 2.0.1 cannot do.
 */
#ifndef MPVMM_SOFT_INTERNAL_H
#define MPVMM_SOFT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unicorn/unicorn.h>

#include "accel/accel.h"

/*
 * libunicorn, opened when the software CPU is chosen (soft.c, util/dlib.h).  The names are
 * the library's own, minus the uc_ prefix.
 */
struct soft_unicorn {
	__typeof__(uc_open) *open;
	__typeof__(uc_close) *close;
	__typeof__(uc_reg_read) *reg_read;
	__typeof__(uc_reg_write) *reg_write;
	__typeof__(uc_emu_start) *emu_start;
	__typeof__(uc_emu_stop) *emu_stop;
	__typeof__(uc_hook_add) *hook_add;
	__typeof__(uc_hook_del) *hook_del;
	__typeof__(uc_mem_map_ptr) *mem_map_ptr;
	__typeof__(uc_mmio_map) *mmio_map;
	__typeof__(uc_context_alloc) *context_alloc;
	__typeof__(uc_context_save) *context_save;
	__typeof__(uc_context_restore) *context_restore;
	__typeof__(uc_context_free) *context_free;
	__typeof__(uc_context_size) *context_size;
	__typeof__(uc_context_reg_read) *context_reg_read;
	__typeof__(uc_context_reg_write) *context_reg_write;
	__typeof__(uc_version) *version;
	__typeof__(uc_strerror) *strerror;
	__typeof__(uc_ctl) *ctl;
};
extern struct soft_unicorn unicorn;

#define UNICORN_SONAME "libunicorn.so.2" /* Debian 12's libunicorn2 */

/* A private 64 KiB in the MMIO hole, mapped in the engine only: INIT stubs, GDT, page tables. */
#define PRIV_BASE 0xfeff0000ull
#define PRIV_SIZE 0x10000ull
#define PRIV_GDT 0x0000u
#define PRIV_PML4 0x1000u
#define PRIV_PDPT 0x2000u
#define PRIV_PD 0x3000u
#define PRIV_STUBS 0x4000u
#define STUB_SIZE 0x80u
#define SOFT_MAX_VCPUS ((PRIV_SIZE - PRIV_STUBS) / STUB_SIZE) /* 384: xAPIC caps it at 255 */
#define HOLE_END 0x100000000ull

/* Private GDT selectors (Intel SDM Vol. 3A, 3.4.5). */
#define SEL_CODE64 0x08
#define SEL_CODE32 0x10
#define SEL_CODE16 0x18
#define SEL_DATA16 0x20

#define SLICE_DEFAULT 20000u  /* instructions; ~0.1 ms, against a ~10 us thread hand-over */
#define SLICE_SEEDED_MIN 200u
#define SLICE_SEEDED_SPAN 40000u
#define POST_MMIO_MAX 1000000u
#define PAUSE_SLICE_MIN 200u  /* a spinning vCPU gives its turn up after this many */
#define NO_TURN (-1L)
#define IDLE_JUMPS_MAX 64u

#define RFLAGS_TF (1ull << 8)
#define RFLAGS_NT (1ull << 14)
#define RFLAGS_RF (1ull << 16)
#define MSR_EFER 0xc0000080u
#define OPCODE_HLT 0xf4
#define OPCODE_STI 0xfb

struct soft {
	struct accel base;
	uc_engine *uc;
	uc_context *pristine;        /* the engine as opened: 64-bit mode, paging off      */
	struct guest_mem *mem;
	uint8_t *priv;               /* host memory behind PRIV_BASE                        */
	pthread_mutex_t engine;      /* held for a whole turn, and by register accesses     */
	pthread_mutex_t lock;        /* turn, and the waiters' condition variables          */
	long turn;                   /* index of the vCPU whose turn it is, or NO_TURN      */
	struct accel_vcpu **vcpus;
	uint32_t nvcpus;
	struct accel_vcpu *loaded;   /* whose context the engine holds                      */
	struct accel_machine m;
	bool seeded;
	uint64_t rng;                /* xorshift64*; used by the turn holder only           */
	_Atomic uint64_t now;        /* guest clock: instructions retired, as ns            */
	size_t ctx_size;             /* uc_context_size: a vCPU's saved context, in bytes    */
	bool turn_restored;          /* a snapshot gave `turn` to a vCPU: it takes the engine
				      * on its first run or idle (claim_restored_turn)      */
	struct mmio_region { struct soft *s; uint64_t base; } hole[2];
	uc_hook watch_hooks[ACCEL_DEBUG_BPS]; /* a debugger's watchpoints (soft_debug.c)  */
	uint32_t nwatch_hooks;
};

struct accel_vcpu {
	struct soft *s;
	uint32_t index, id;
	uc_context *ctx;
	struct cpuid_table *cpuid;
	struct accel_vcpu_hooks hooks;
	pthread_cond_t cond;
	_Atomic bool kicked;
	bool waiting;                /* in take_turn (under s->lock)                        */
	bool parked_holding;         /* let the engine go at the pause gate (soft_parked)   */
	/* The current slice (the holder's thread only). */
	uint64_t budget, executed;
	uint64_t counted;            /* of `executed`, already added to the clock           */
	bool mmio_written, io_stop, stopped;
	uint64_t stop_addr;
	uint64_t insn_addr;          /* the instruction executing (linear) and its length   */
	uint32_t insn_size;
	enum { IN_NO_EXIT, IN_OUT, IN_OTHER_EXIT } in_exit; /* which hook is delivering    */
	int exc_vector;
	bool want_window;
	/* A snapshot taken inside an OUT of a slice that goes on: the rest of it, first. */
	bool resume_slice;
	uint64_t resume_left;
	/* What a debugger asked (soft_debug.c); a stop for it, its cause and address. */
	struct accel_debug dbg;
	bool dbg_on, dbg_hit, dbg_resume;
	bool dbg_watch;              /* a watched access: stop before the next instruction  */
	uint64_t dbg_watch_addr;
	enum accel_debug_cause dbg_cause;
	uint64_t dbg_pc;
	long dbg_lent;               /* a step borrowed the turn from this holder, or NO_TURN */
	/* A real-mode start prepared by set_sregs, completed by set_regs (load_start). */
	bool start_armed;
	uint16_t start_cs;
};

/* The engine is held by this thread (its turn, or a register access). */
extern __thread bool soft_holds_engine;
/* The vCPU executing guest code on this thread, for the clock and the hooks. */
extern __thread struct accel_vcpu *soft_running;

static inline struct soft *to_soft(struct accel *a)
{
	return (struct soft *)a;
}

/* soft.c: guest memory as the engine sees it, the loaded vCPU's registers. */
void *soft_phys(struct soft *s, uint64_t gpa, size_t len);
uint64_t soft_reg(struct soft *s, int id);
void soft_set_reg(struct soft *s, int id, uint64_t v);
uint64_t soft_msr(struct soft *s, uint32_t id);
int soft_engine_fail(char *err, size_t errlen, const char *what, uc_err e);
struct cpuid_table *soft_supported_cpuid(struct accel *a, char *err, size_t errlen);
int soft_set_cpuid(struct accel_vcpu *v, const struct cpuid_table *t);

/* soft_run.c: the engine, the turn, the hooks, a vCPU's slices. */
void soft_engine_lock(struct soft *s, bool *took);
void soft_engine_unlock(struct soft *s, bool took);
void soft_ctx_load(struct accel_vcpu *v);
void soft_ctx_save(struct accel_vcpu *v);
int soft_add_hooks(struct soft *s, char *err, size_t errlen);
uint64_t soft_mmio_read(uc_engine *uc, uint64_t offset, unsigned size, void *ud);
void soft_mmio_write(uc_engine *uc, uint64_t offset, unsigned size, uint64_t value, void *ud);
int soft_run(struct accel_vcpu *v, struct accel_exit *e);
void soft_idle(struct accel_vcpu *v);
void soft_kick(struct accel_vcpu *v);
void soft_parked(struct accel_vcpu *v, bool parked);

/* soft_debug.c: breakpoints and steps, checked in the code hook. */
int soft_set_debug(struct accel_vcpu *v, const struct accel_debug *d, char *err, size_t errlen);
bool soft_debug_check(struct accel_vcpu *v, uint64_t addr);
bool soft_debug_borrow(struct accel_vcpu *v);
void soft_debug_return(struct accel_vcpu *v);

/* soft_regs.c: registers, a SIPI's start, interrupts through the IDT. */
uint64_t soft_cs_base(struct soft *s);
int soft_get_regs(struct accel_vcpu *v, struct x86_regs *r);
int soft_set_regs(struct accel_vcpu *v, const struct x86_regs *r);
int soft_get_sregs(struct accel_vcpu *v, struct x86_sregs *s);
int soft_set_sregs(struct accel_vcpu *v, const struct x86_sregs *s);
bool soft_interrupt_window(struct accel_vcpu *v, bool request);
int soft_interrupt(struct accel_vcpu *v, uint8_t vector, bool nmi);

/* soft_state.c: snapshots. */
int soft_save_vcpu(struct accel_vcpu *v, struct snap_enc *e, char *err, size_t errlen);
int soft_load_vcpu(struct accel_vcpu *v, struct snap_dec *d, char *err, size_t errlen);
int soft_save_vm(struct accel *a, struct snap_enc *e, char *err, size_t errlen);
int soft_load_vm(struct accel *a, struct snap_dec *d, char *err, size_t errlen);

#endif
