/*
 * dev_fuzz.c - see dev_fuzz.h: the operation interpreter, the snapshot round trip, and the
 * log functions the models call (util/log.h), which here only format the message and check
 * that it is one line: printing every guest mistake would slow the fuzzer to a crawl.
 */
#include "dev_fuzz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define CLOCK_MAX ((uint64_t)INT64_MAX) /* a host's ns clock does not get further */

static uint64_t clock_ns;
static bool tainted; /* a changed snapshot was accepted during this input */

struct reader {
	const uint8_t *p;
	size_t n, off;
};

/* The model in use and how to make fresh copies of it. */
struct run {
	const struct fuzz_dev *dev;
	uint8_t config[DEV_FUZZ_CONFIG_MAX];
	void *m;
};

bool dev_fuzz_trusted(void)
{
	return !tainted;
}

bool dev_fuzz_strict(void)
{
	static int strict = -1;

	if (strict < 0) {
		const char *v = getenv("MPVMM_FUZZ_STRICT");
		strict = v && !strcmp(v, "1");
	}
	return strict;
}

uint64_t dev_fuzz_now(void *ctx)
{
	(void)ctx;
	return clock_ns;
}

/* ---- messages -------------------------------------------------------------------------- */

void dev_fuzz_message(const char *msg)
{
	if (!msg || strchr(msg, '\n'))
		abort(); /* every message of the VMM is one line */
}

static void stop(void *vm, int status, const char *why)
{
	(void)vm;
	if (status < 0 || status > 255)
		abort();
	dev_fuzz_message(why);
}

static void reset(void *vm, const char *why)
{
	(void)vm;
	dev_fuzz_message(why);
}

static void hold(void *vm, uint32_t cpu, const char *why)
{
	(void)vm;
	(void)cpu;
	dev_fuzz_message(why);
}

const struct vm_control dev_fuzz_control = { .stop = stop, .reset = reset, .hold = hold };

static void quiet(const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	dev_fuzz_message(buf);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	quiet(fmt, ap);
	va_end(ap);
}

void log_print(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	quiet(fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	quiet(fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	quiet(fmt, ap);
	va_end(ap);
}

void log_set_quiet(int q)
{
	(void)q;
}

/* ---- reading the input ------------------------------------------------------------------ */

static uint8_t rd8(struct reader *r)
{
	return r->off < r->n ? r->p[r->off++] : 0;
}

/* A little-endian field of `bytes` bytes (zeros past the end of the input). */
static uint64_t rd(struct reader *r, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)rd8(r) << (8 * i);
	return v;
}

/* ---- accesses --------------------------------------------------------------------------- */

unsigned dev_fuzz_pio_size(uint8_t flags, unsigned arg)
{
	static const unsigned sizes[3] = { 1, 2, 4 };

	(void)flags;
	return sizes[arg % 3];
}

unsigned dev_fuzz_mmio_size(uint8_t flags, unsigned arg)
{
	(void)flags;
	return arg % 8 + 1;
}

void dev_fuzz_dispatch(struct bus *b, uint64_t addr, const struct dev_access *a)
{
	const struct bus_access ba = {
		.cpu = 0, .addr = addr, .size = a->size, .write = a->write, .data = a->data,
	};

	bus_dispatch(b, &ba);
}

/* The data buffer is exactly the access's size: ASan sees any byte written past it. */
static void access_op(struct run *run, uint8_t op, bool write, struct reader *r)
{
	struct dev_access a = {
		.where = rd8(r), .flags = op >> 6, .arg = (op >> 3) & 7, .write = write,
	};
	uint32_t v = write ? (uint32_t)rd(r, 4) : 0;

	a.size = run->dev->size ? run->dev->size(a.flags, a.arg)
				: dev_fuzz_pio_size(a.flags, a.arg);
	a.data = malloc(a.size);
	if (!a.data)
		abort();
	for (unsigned i = 0; i < a.size; i++)
		a.data[i] = write ? (uint8_t)(v >> (8 * (i % 4))) : 0xa5;
	run->dev->access(run->m, &a);
	free(a.data);
}

static void time_op(struct run *run, uint8_t op, struct reader *r)
{
	uint64_t delta = rd(r, 2) << (4 * ((op >> 3) & 7));

	clock_ns = delta > CLOCK_MAX - clock_ns ? CLOCK_MAX : clock_ns + delta;
	if (run->dev->tick)
		run->dev->tick(run->m, clock_ns);
}

/* ---- snapshots -------------------------------------------------------------------------- */

struct snap_enc dev_fuzz_save(const struct fuzz_dev *dev, void *m)
{
	struct snap_enc e = { 0 };

	if (dev->save(m, &e) < 0 || e.oom)
		abort(); /* a few hundred bytes: out of memory only if something is badly wrong */
	return e;
}

static bool same(const struct snap_enc *a, const struct snap_enc *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->buf, b->buf, a->len) == 0);
}

static void *fresh(const struct run *run)
{
	void *m = run->dev->create(run->config);

	if (!m)
		abort();
	return m;
}

/* An exact-size copy: ASan then sees a decoder reading past the bytes it was given. */
static uint8_t *copy_of(const uint8_t *p, size_t n)
{
	uint8_t *b = malloc(n ? n : 1);

	if (!b)
		abort();
	if (n)
		memcpy(b, p, n);
	return b;
}

/* A fresh model loaded from the bytes, or NULL if it refused them (with one line). */
static void *load_fresh(const struct run *run, const uint8_t *p, size_t n)
{
	void *m = fresh(run);
	uint8_t *b = copy_of(p, n);
	struct snap_dec d;
	char err[256] = "";

	snap_dec_init(&d, b, n);
	int r = run->dev->load(m, &d, err, sizeof(err));
	free(b);
	if (r == 0)
		return m;
	if (!err[0] || strchr(err, '\n'))
		abort();
	run->dev->destroy(m);
	return NULL;
}

/* Whether the round trip of m's state is asserted: a state the guest made, with no known
 * defect showing (or strict). */
static bool asserted(const struct run *run, void *m)
{
	return !tainted && (!run->dev->known || !run->dev->known(m) || dev_fuzz_strict());
}

/*
 * The bytes load into a fresh model, which saves them back unchanged (when `check`; else
 * only crashes count, and a refusal gives NULL).
 */
static void *round_trip(const struct run *run, const struct snap_enc *saved, bool check)
{
	void *m = load_fresh(run, saved->buf, saved->len);

	if (!m) {
		if (check)
			abort(); /* the model refused its own save */
		return NULL;
	}
	struct snap_enc again = dev_fuzz_save(run->dev, m);
	if (check && !same(saved, &again))
		abort(); /* a restored model saves something else */
	snap_enc_free(&again);
	return m;
}

static void destroy_any(const struct run *run, void *m)
{
	if (m)
		run->dev->destroy(m);
}

/* The saved bytes changed as the op says (wrapping offsets); their length in *len. */
static uint8_t *mutate(const struct snap_enc *s, unsigned mode, size_t off, uint8_t byte,
		       size_t *len)
{
	size_t n = s->len, at = n ? off % (n + (mode == DEV_SNAP_INSERT)) : 0;
	uint8_t *b;

	if (mode == DEV_SNAP_INSERT) {
		b = malloc(n + 1);
		if (!b)
			abort();
		memcpy(b, s->buf, at);
		b[at] = byte;
		memcpy(b + at + 1, s->buf + at, n - at);
		*len = n + 1;
		return b;
	}
	*len = mode == DEV_SNAP_CUT ? at : n;
	b = copy_of(s->buf, *len);
	if (mode == DEV_SNAP_XOR && n)
		b[at] ^= byte ? byte : 0x01;
	return b;
}

static void replace(struct run *run, void *m)
{
	run->dev->destroy(run->m);
	run->m = m;
}

/* Changed bytes: refused (one line), or accepted, and the run goes on with that state. */
static void load_mutated(struct run *run, const struct snap_enc *saved, unsigned mode,
			 size_t off, uint8_t byte)
{
	size_t n;
	uint8_t *b = mutate(saved, mode, off, byte, &n);
	void *m = load_fresh(run, b, n);

	free(b);
	if (!m)
		return;
	tainted = true;
	struct snap_enc e = dev_fuzz_save(run->dev, m);
	destroy_any(run, round_trip(run, &e, false));
	snap_enc_free(&e);
	replace(run, m);
}

static void snap_op(struct run *run, uint8_t op, struct reader *r)
{
	size_t off = (size_t)rd(r, 2);
	uint8_t byte = rd8(r);
	unsigned mode = (op >> 3) & 3;
	struct snap_enc saved = dev_fuzz_save(run->dev, run->m);
	void *copy = round_trip(run, &saved, asserted(run, run->m));

	if (mode == DEV_SNAP_COPY && copy) {
		replace(run, copy);
	} else {
		destroy_any(run, copy);
		if (mode != DEV_SNAP_COPY)
			load_mutated(run, &saved, mode, off, byte);
	}
	snap_enc_free(&saved);
}

/* ---- the run ---------------------------------------------------------------------------- */

static void model_op(struct run *run, uint8_t op, struct reader *r)
{
	uint8_t a = rd8(r);
	uint64_t b = rd(r, 8);

	if (run->dev->op)
		run->dev->op(run->m, (op & 7) - DEV_OP_MODEL, (uint8_t)(op >> 6), a, b);
}

static void one_op(struct run *run, struct reader *r)
{
	uint8_t op = rd8(r);

	switch (op & 7) {
	case DEV_OP_WRITE: access_op(run, op, true, r); break;
	case DEV_OP_READ: access_op(run, op, false, r); break;
	case DEV_OP_TIME: time_op(run, op, r); break;
	case DEV_OP_SNAP: snap_op(run, op, r); break;
	default: model_op(run, op, r); break;
	}
}

void dev_fuzz_run(const struct fuzz_dev *dev, const uint8_t *data, size_t size)
{
	struct run run = { .dev = dev };
	struct reader r = { data, size, 0 };

	clock_ns = 0;
	tainted = false;
	for (size_t i = 0; i < dev->config && i < DEV_FUZZ_CONFIG_MAX; i++)
		run.config[i] = rd8(&r);
	run.m = fresh(&run);
	for (unsigned n = 0; r.off < r.n && n < DEV_FUZZ_MAX_OPS; n++)
		one_op(&run, &r);
	/* The final state must round-trip too. */
	struct snap_enc saved = dev_fuzz_save(dev, run.m);
	destroy_any(&run, round_trip(&run, &saved, asserted(&run, run.m)));
	snap_enc_free(&saved);
	dev->destroy(run.m);
}
