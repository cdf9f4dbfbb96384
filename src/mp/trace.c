/*
 * trace.c - see trace.h.  A multi-producer ring per vCPU without locks, behind the vCPU's
 * first events, which stay.
 *
 * Positions count a vCPU's events from its creation.  Those from the last trace_clear
 * (`base`) on, up to `first` of them, go to slots of their own that nothing overwrites; the
 * later ones to the ring, slot position % last.
 *
 * A writer reserves a position with one atomic increment of the ring's `head`, claims the
 * slot position % size by moving the slot's sequence number to "being written" (odd), stores
 * the event and publishes it (even).  Sequence numbers name the position they hold, so a
 * reader knows whether a slot still holds the event it looks for: it reads the sequence, the
 * event, and the sequence again, and keeps the copy only if both name that position.
 *
 * A writer never waits: if a writer a whole ring behind is still storing into its slot (the
 * ring wrapped during a few stores), or already a newer event sits there, its event is dropped
 * and counted, like the oldest events a full ring overwrites.
 *
 * The event is stored as three atomic words (release stores, acquire loads), so a reader
 * that sees any word of a newer write also sees that write's "being written" sequence.
 */
#include "mp/trace.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

struct trace_slot {
	_Atomic uint64_t seq; /* 0 empty; 2p+1 position p being written; 2p+2 position p stored */
	_Atomic uint64_t w[3];
};

/* Padded to a cache line each: rings of different vCPUs are written by different threads. */
struct trace_ring {
	_Atomic uint64_t head;    /* positions ever reserved                           */
	_Atomic uint64_t base;    /* positions below this were cleared                 */
	_Atomic uint64_t dropped;
	char pad[64 - 3 * sizeof(uint64_t)];
};

struct trace {
	uint32_t ncpus;
	size_t first, last;       /* events kept from the start, and the newest in a ring  */
	struct trace_slot *slots; /* per vCPU `first` then `last` slots, one allocation:
				   * pages never written cost nothing */
	struct trace_ring rings[];
};

struct trace *trace_create(uint32_t ncpus, size_t first, size_t last)
{
	size_t per_cpu = first + last;

	if (last == 0 || per_cpu < last)
		return NULL;
	struct trace *t = calloc(1, sizeof(*t) + (size_t)ncpus * sizeof(struct trace_ring));

	if (!t)
		return NULL;
	t->ncpus = ncpus;
	t->first = first;
	t->last = last;
	/* calloc's zeroes are the atomics' initial values (empty slots, empty rings). */
	t->slots = calloc((size_t)ncpus * per_cpu, sizeof(struct trace_slot));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	return t;
}

void trace_destroy(struct trace *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t);
}

uint32_t trace_ncpus(const struct trace *t)
{
	return t ? t->ncpus : 0;
}

size_t trace_capacity(const struct trace *t)
{
	return t ? t->first + t->last : 0;
}

/* The slot for cpu's event at position pos, `base` being the ring's base. */
static struct trace_slot *slot_of(struct trace *t, uint32_t cpu, uint64_t pos, uint64_t base)
{
	struct trace_slot *s = &t->slots[(size_t)cpu * (t->first + t->last)];

	if (pos >= base && pos - base < t->first)
		return &s[pos - base];
	return &s[t->first + pos % t->last];
}

static void pack(const struct trace_event *ev, uint64_t w[3])
{
	w[0] = ev->t_ns;
	w[1] = (uint64_t)ev->cpu | (uint64_t)ev->from << 32;
	w[2] = (uint64_t)ev->kind | (uint64_t)ev->source << 8 | (uint64_t)ev->state << 16 |
	       (uint64_t)ev->vector << 24;
}

static void unpack(const uint64_t w[3], struct trace_event *ev)
{
	*ev = (struct trace_event){
		.t_ns = w[0],
		.cpu = (uint32_t)w[1],
		.from = (uint32_t)(w[1] >> 32),
		.kind = (uint8_t)w[2],
		.source = (uint8_t)(w[2] >> 8),
		.state = (uint8_t)(w[2] >> 16),
		.vector = (uint8_t)(w[2] >> 24),
	};
}

/*
 * Claim slot s for position pos; false if another writer is there or was there later.
 * *prev is the sequence number the slot had (0, or 2q+2 for the event q it held).
 */
static bool claim(struct trace_slot *s, uint64_t pos, uint64_t *prev)
{
	uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);

	if ((seq & 1) || seq >= 2 * pos + 1)
		return false;
	*prev = seq;
	return atomic_compare_exchange_strong_explicit(&s->seq, &seq, 2 * pos + 1,
						       memory_order_acq_rel, memory_order_acquire);
}

void trace_record(struct trace *t, const struct trace_event *ev)
{
	if (!t || ev->cpu >= t->ncpus)
		return;
	struct trace_ring *r = &t->rings[ev->cpu];
	uint64_t pos = atomic_fetch_add_explicit(&r->head, 1, memory_order_relaxed);
	uint64_t base = atomic_load_explicit(&r->base, memory_order_acquire);
	struct trace_slot *s = slot_of(t, ev->cpu, pos, base);
	uint64_t prev = 0, w[3];

	if (!claim(s, pos, &prev)) {
		atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
		return;
	}
	/* Overwriting the ring's oldest event is a loss, unless it had been cleared. */
	if (prev && prev / 2 - 1 >= base)
		atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
	pack(ev, w);
	for (int i = 0; i < 3; i++)
		atomic_store_explicit(&s->w[i], w[i], memory_order_release);
	atomic_store_explicit(&s->seq, 2 * pos + 2, memory_order_release);
}

/* Copy the event at position pos if the slot holds it, whole. */
static bool read_slot(struct trace_slot *s, uint64_t pos, struct trace_event *out)
{
	uint64_t want = 2 * pos + 2, w[3];

	if (atomic_load_explicit(&s->seq, memory_order_acquire) != want)
		return false;
	for (int i = 0; i < 3; i++)
		w[i] = atomic_load_explicit(&s->w[i], memory_order_acquire);
	if (atomic_load_explicit(&s->seq, memory_order_acquire) != want)
		return false;
	unpack(w, out);
	return true;
}

size_t trace_copy(struct trace *t, uint32_t cpu, struct trace_event *out, size_t max)
{
	if (!t || cpu >= t->ncpus)
		return 0;
	struct trace_ring *r = &t->rings[cpu];
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint64_t base = atomic_load_explicit(&r->base, memory_order_acquire);
	if (base > head) /* cleared between the two loads: nothing to copy */
		base = head;
	uint64_t kept_end = head - base < t->first ? head : base + t->first;
	uint64_t ring_start = head > t->last ? head - t->last : 0;
	size_t n = 0;

	if (ring_start < kept_end)
		ring_start = kept_end;
	for (uint64_t pos = base; pos < kept_end && n < max; pos++)
		n += read_slot(slot_of(t, cpu, pos, base), pos, &out[n]);
	for (uint64_t pos = ring_start; pos < head && n < max; pos++)
		n += read_slot(slot_of(t, cpu, pos, base), pos, &out[n]);
	return n;
}

uint64_t trace_dropped(struct trace *t, uint32_t cpu)
{
	if (!t || cpu >= t->ncpus)
		return 0;
	return atomic_load_explicit(&t->rings[cpu].dropped, memory_order_relaxed);
}

void trace_clear(struct trace *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->ncpus; i++) {
		struct trace_ring *r = &t->rings[i];
		atomic_store_explicit(&r->base, atomic_load(&r->head), memory_order_release);
		atomic_store_explicit(&r->dropped, 0, memory_order_relaxed);
	}
}

const char *trace_kind_name(enum trace_kind k)
{
	static const char *const names[TRACE_KINDS] = { "state", "INIT", "SIPI", "IPI",
							"first-exit", "break" };

	return (unsigned)k < TRACE_KINDS ? names[k] : "?";
}

const char *trace_source_name(enum trace_source s)
{
	static const char *const names[TRACE_SOURCES] = { "exact", "guest", "inferred" };

	return (unsigned)s < TRACE_SOURCES ? names[s] : "?";
}
