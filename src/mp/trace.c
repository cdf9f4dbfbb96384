/*
 * trace.c - see trace.h.  One ring and one mutex per vCPU: events about a vCPU come mostly
 * from its own thread, so the lock is almost never contended.
 */
#include "mp/trace.h"

#include <pthread.h>
#include <stdlib.h>

struct trace_ring {
	pthread_mutex_t lock;
	uint64_t head;    /* events ever recorded */
	uint64_t dropped;
	struct trace_event *ev;
};

struct trace {
	uint32_t ncpus;
	size_t per_cpu;
	struct trace_event *events; /* all rings, one allocation: pages never written cost nothing */
	struct trace_ring rings[];
};

struct trace *trace_create(uint32_t ncpus, size_t per_cpu)
{
	struct trace *t = calloc(1, sizeof(*t) + ncpus * sizeof(struct trace_ring));

	if (!t)
		return NULL;
	t->ncpus = ncpus;
	t->per_cpu = per_cpu;
	t->events = calloc((size_t)ncpus * per_cpu, sizeof(struct trace_event));
	if (!t->events) {
		free(t);
		return NULL;
	}
	for (uint32_t i = 0; i < ncpus; i++) {
		t->rings[i].ev = t->events + (size_t)i * per_cpu;
		pthread_mutex_init(&t->rings[i].lock, NULL);
	}
	return t;
}

void trace_destroy(struct trace *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->ncpus; i++)
		pthread_mutex_destroy(&t->rings[i].lock);
	free(t->events);
	free(t);
}

void trace_record(struct trace *t, const struct trace_event *ev)
{
	if (!t || ev->cpu >= t->ncpus)
		return;
	struct trace_ring *r = &t->rings[ev->cpu];

	pthread_mutex_lock(&r->lock);
	if (r->head >= t->per_cpu)
		r->dropped++;
	r->ev[r->head % t->per_cpu] = *ev;
	r->head++;
	pthread_mutex_unlock(&r->lock);
}

size_t trace_copy(struct trace *t, uint32_t cpu, struct trace_event *out, size_t max)
{
	if (!t || cpu >= t->ncpus)
		return 0;
	struct trace_ring *r = &t->rings[cpu];
	size_t n = 0;

	pthread_mutex_lock(&r->lock);
	uint64_t first = r->head > t->per_cpu ? r->head - t->per_cpu : 0;
	for (uint64_t i = first; i < r->head && n < max; i++)
		out[n++] = r->ev[i % t->per_cpu];
	pthread_mutex_unlock(&r->lock);
	return n;
}

uint64_t trace_dropped(struct trace *t, uint32_t cpu)
{
	if (!t || cpu >= t->ncpus)
		return 0;
	pthread_mutex_lock(&t->rings[cpu].lock);
	uint64_t d = t->rings[cpu].dropped;
	pthread_mutex_unlock(&t->rings[cpu].lock);
	return d;
}

const char *trace_kind_name(enum trace_kind k)
{
	static const char *const names[] = { "state", "INIT", "SIPI", "IPI", "first-exit" };

	return (unsigned)k < sizeof(names) / sizeof(names[0]) ? names[k] : "?";
}

const char *trace_source_name(enum trace_source s)
{
	static const char *const names[] = { "exact", "guest", "inferred" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}
