/*
 * test_soft_snapshot.c - the software CPU's snapshots, end to end on one accelerator: a
 * tiny 64-bit guest loops over an OUT and a store; its vCPU is saved between two slices and
 * from inside the OUT's exit (as step mode pauses it), loaded into a second accelerator
 * with a copy of the RAM, and both go on: registers, memory and the guest clock must stay
 * the same slice after slice, with a seed (so the slice lengths come from the restored
 * generator too).  Each accelerator is driven by a thread of its own, as the turn and its
 * engine belong to a host thread.  Skipped where Unicorn cannot be opened.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "accel/accel.h"
#include "accel/soft/soft.h"
#include "x86/guest_mem.h"
#include "snapshot/snapfile.h"
#include "skip_reason.h"

#define RAM (2u << 20)
#define CODE 0x1000u
#define STORE 0x3000u
#define SEED 42
#define SLICES 6

/*
 * 0x1000 mov eax, 1; add rbx, rax; out 0x80, al; inc rcx; mov [0x3000], rcx;
 *        jmp 0x1000
 */
static const uint8_t guest[] = {
	0xb8, 0x01, 0x00, 0x00, 0x00,
	0x48, 0x01, 0xc3,
	0xe6, 0x80,
	0x48, 0xff, 0xc1,
	0x48, 0x89, 0x0c, 0x25, 0x00, 0x30, 0x00, 0x00,
	0xeb, 0xe9,
};

struct snap {
	struct snap_enc vm, vcpu;
	uint8_t *ram;
};

/* One accelerator with one vCPU, and what its thread observed. */
struct box {
	struct accel *a;
	struct accel_vcpu *v;
	struct guest_mem mem;
	uint64_t outs;
	uint64_t save_at_out;   /* inside the OUT with this count: save into mid      */
	struct snap *mid;
	const struct snap *from; /* load this before running                           */
	struct snap *between;    /* after slice 1: save into this                      */
	struct x86_regs regs[SLICES];
	uint64_t clock[SLICES], stored[SLICES];
	char err[256];
	int failed;
};

static enum accel_runnable runnable(void *ctx, uint32_t index)
{
	(void)ctx;
	(void)index;
	return ACCEL_RUNNABLE;
}

static uint64_t next_event(void *ctx)
{
	(void)ctx;
	return ACCEL_NO_EVENT;
}

static void advance(void *ctx, uint64_t now)
{
	(void)ctx;
	(void)now;
}

static void save_into(struct box *b, struct snap *s)
{

	memset(s, 0, sizeof(*s));
	if (b->a->cpu->save_vcpu(b->v, &s->vcpu, b->err, sizeof(b->err)) < 0 ||
	    b->a->vm->save_vm(b->a, &s->vm, b->err, sizeof(b->err)) < 0)
		b->failed = 1;
	s->ram = malloc(RAM);
	if (s->ram)
		memcpy(s->ram, b->mem.host, RAM);
}

static void on_io(void *ctx, const struct accel_exit *e)
{
	struct box *b = ctx;

	if (e->kind != ACCEL_EXIT_IO || !e->io.out || e->io.port != 0x80)
		return;
	if (++b->outs == b->save_at_out && b->mid)
		save_into(b, b->mid);
}

static int load_from(struct box *b, const struct snap *s)
{
	struct snap_dec d;

	memcpy(b->mem.host, s->ram, RAM);
	snap_dec_init(&d, s->vm.buf, s->vm.len);
	if (b->a->vm->load_vm(b->a, &d, b->err, sizeof(b->err)) < 0)
		return -1;
	snap_dec_init(&d, s->vcpu.buf, s->vcpu.len);
	return b->a->cpu->load_vcpu(b->v, &d, b->err, sizeof(b->err));
}

static int setup(struct box *b)
{
	struct accel_vm_params p = { .mem = &b->mem };
	struct accel_machine m = { .runnable = runnable, .next_event = next_event,
				   .advance = advance, .ctx = b };
	struct accel_vcpu_hooks h = { .exit = on_io, .ctx = b };

	b->a = accel_soft_open(true, SEED, b->err, sizeof(b->err));
	if (!b->a)
		return 1; /* no Unicorn here */
	if (guest_mem_init(&b->mem, RAM, b->err, sizeof(b->err)) < 0 ||
	    b->a->vm->create_vm(b->a, &p, b->err, sizeof(b->err)) < 0 ||
	    b->a->vm->create_vcpu(b->a, 0, &b->v, b->err, sizeof(b->err)) < 0)
		return -1;
	b->a->vm->set_machine(b->a, &m);
	b->a->cpu->set_hooks(b->v, &h);
	memcpy(b->mem.host + CODE, guest, sizeof(guest));
	struct x86_regs r = { .rip = CODE, .rsp = 0x8000, .rflags = X86_RFLAGS_RESERVED1 };
	return b->a->cpu->set_regs(b->v, &r);
}

/* The accelerator's thread: load (or start), run SLICES slices, record after each. */
static void *drive(void *arg)
{
	struct box *b = arg;
	struct accel_exit e;

	if (b->from && load_from(b, b->from) < 0) {
		b->failed = 1;
		return NULL;
	}
	for (int i = 0; i < SLICES && !b->failed; i++) {
		if (b->a->cpu->run(b->v, &e) < 0 || e.kind != ACCEL_EXIT_INTERRUPTED) {
			snprintf(b->err, sizeof(b->err), "slice %d: run failed or exit %d", i,
				 (int)e.kind);
			b->failed = 1;
			break;
		}
		b->a->cpu->get_regs(b->v, &b->regs[i]);
		b->clock[i] = b->a->vm->now_ns(b->a);
		memcpy(&b->stored[i], b->mem.host + STORE, 8);
		if (i == 1 && b->between)
			save_into(b, b->between);
	}
	b->a->cpu->idle(b->v); /* give the engine back, for destroy */
	return NULL;
}

static void run_box(struct box *b)
{
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, drive, b), 0);
	pthread_join(t, NULL);
	if (b->failed)
		fail_msg("%s", b->err);
}

static void close_box(struct box *b)
{
	if (b->a) {
		b->a->cpu->destroy_vcpu(b->v);
		b->a->vm->destroy(b->a);
	}
	guest_mem_free(&b->mem);
}

static void free_snap(struct snap *s)
{
	snap_enc_free(&s->vm);
	snap_enc_free(&s->vcpu);
	free(s->ram);
}

/* Slice i of `b` after the load is slice i + skip of the original `a`. */
static void expect_same(const struct box *a, const struct box *b, int skip)
{
	for (int i = 0; i + skip < SLICES; i++) {
		assert_memory_equal(&a->regs[i + skip], &b->regs[i], sizeof(struct x86_regs));
		assert_int_equal(a->clock[i + skip], b->clock[i]);
		assert_int_equal(a->stored[i + skip], b->stored[i]);
	}
}

static void test_soft_round_trips(void **state)
{
	static struct box a, between, mid;
	struct snap s_between, s_mid;

	(void)state;
	int r = setup(&a);
	if (r > 0)
		skip_because("%s", a.err);
	assert_int_equal(r, 0);
	a.between = &s_between;
	a.mid = &s_mid;
	a.save_at_out = 3000; /* 18,000 instructions in: within the first slices */
	run_box(&a);
	assert_true(a.outs > a.save_at_out);
	assert_true(a.regs[SLICES - 1].rbx > 0 && a.regs[SLICES - 1].rip >= CODE);

	/* Saved after slice 1: the restored run's slices are slices 2, 3, ... of the original. */
	assert_int_equal(setup(&between), 0);
	between.from = &s_between;
	run_box(&between);
	expect_same(&a, &between, 2);

	/*
	 * Saved inside an OUT: the restored vCPU finishes that slice first (so its slice 0
	 * ends where the original's did), with RIP past the OUT and the same clock.
	 */
	assert_int_equal(setup(&mid), 0);
	mid.from = &s_mid;
	run_box(&mid);
	int k = 0;
	while (k < SLICES && a.clock[k] < mid.clock[0])
		k++;
	assert_true(k < SLICES);
	expect_same(&a, &mid, k);

	close_box(&mid);
	close_box(&between);
	close_box(&a);
	free_snap(&s_between);
	free_snap(&s_mid);
}

/* A damaged or foreign vCPU record is refused, naming what is wrong. */
static void test_soft_refused(void **state)
{
	static struct box a, b;
	struct snap s;
	struct snap_dec d;
	char err[256];

	(void)state;
	int r = setup(&a);
	if (r > 0)
		skip_because("%s", a.err);
	assert_int_equal(r, 0);
	a.between = &s;
	run_box(&a);
	assert_int_equal(setup(&b), 0);
	for (size_t len = 0; len < s.vcpu.len; len += 97) {
		snap_dec_init(&d, s.vcpu.buf, len);
		assert_int_equal(b.a->cpu->load_vcpu(b.v, &d, err, sizeof(err)), -1);
	}
	for (size_t len = 0; len < s.vm.len; len++) {
		snap_dec_init(&d, s.vm.buf, len);
		assert_int_equal(b.a->vm->load_vm(b.a, &d, err, sizeof(err)), -1);
	}
	/* Another Unicorn (the version at offset 4) and another version of the record. */
	uint8_t *c = malloc(s.vcpu.len);
	assert_non_null(c);
	memcpy(c, s.vcpu.buf, s.vcpu.len);
	c[4] ^= 1;
	snap_dec_init(&d, c, s.vcpu.len);
	assert_int_equal(b.a->cpu->load_vcpu(b.v, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "Unicorn"));
	memcpy(c, s.vcpu.buf, s.vcpu.len);
	c[0] ^= 2;
	snap_dec_init(&d, c, s.vcpu.len);
	assert_int_equal(b.a->cpu->load_vcpu(b.v, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "version"));
	free(c);
	close_box(&b);
	close_box(&a);
	free_snap(&s);
}

/*
 * The record's context: after the engine id (u32 version, u32 Unicorn, u64 size) and the
 * blob's u32 length, Unicorn 2.0.1's uc_context: a 16-byte header, then QEMU's CPUX86State,
 * which opens with regs[16], eip, eflags (target/i386/cpu.h).
 */
#define CTX_AT (16 + 4)
#define CTX_RIP (CTX_AT + 16 + 16 * 8)
#define CTX_RFLAGS (CTX_RIP + 8)

static void expect_context_refused(struct box *b, const struct snap *s, size_t off,
				   uint64_t value, const char *why)
{
	uint8_t *c = malloc(s->vcpu.len);
	struct snap_dec d;
	char err[256] = "";

	assert_non_null(c);
	memcpy(c, s->vcpu.buf, s->vcpu.len);
	memcpy(c + off, &value, sizeof(value));
	snap_dec_init(&d, c, s->vcpu.len);
	assert_int_equal(b->a->cpu->load_vcpu(b->v, &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, why));
	free(c);
}

/* A context no CPU could be in (the file's CRC being right) is refused, naming the register. */
static void test_soft_insane_context(void **state)
{
	static struct box a, b;
	struct snap s;
	uint64_t rip, rflags;
	struct x86_regs regs;

	(void)state;
	int r = setup(&a);
	if (r > 0)
		skip_because("%s", a.err);
	assert_int_equal(r, 0);
	a.between = &s;
	run_box(&a);
	assert_int_equal(setup(&b), 0);
	/* The offsets are where this test believes: the saved RIP and RFLAGS are there. */
	memcpy(&rip, s.vcpu.buf + CTX_RIP, 8);
	memcpy(&rflags, s.vcpu.buf + CTX_RFLAGS, 8);
	assert_true(rip >= CODE && rip < CODE + sizeof(guest));
	assert_true((rflags & 0x2) && rflags < (1u << 22));
	expect_context_refused(&b, &s, CTX_RFLAGS, rflags | 0x8, "RFLAGS");
	expect_context_refused(&b, &s, CTX_RFLAGS, rflags & ~0x2ull, "RFLAGS");
	expect_context_refused(&b, &s, CTX_RIP, 0x0000800000000000ull, "not canonical");
	/* The intact record still loads, and the vCPU has the saved registers. */
	struct snap_dec d;
	char err[256] = "";
	snap_dec_init(&d, s.vcpu.buf, s.vcpu.len);
	assert_int_equal(b.a->cpu->load_vcpu(b.v, &d, err, sizeof(err)), 0);
	assert_int_equal(b.a->cpu->get_regs(b.v, &regs), 0);
	assert_int_equal(regs.rip, rip);
	close_box(&b);
	close_box(&a);
	free_snap(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_soft_round_trips),
		cmocka_unit_test(test_soft_refused),
		cmocka_unit_test(test_soft_insane_context),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
