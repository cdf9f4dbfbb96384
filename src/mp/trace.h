/*
 * trace.h - a timestamped record, per vCPU, of MP-state changes and of the INIT / SIPI /
 * IPI traffic mpvmm sees.  Per vCPU, its first events (its bring-up) are kept for good and
 * the newest in a fixed-size ring: when the ring is full its oldest events are dropped and
 * counted, so a guest's IPI traffic never hides how the vCPU started.  Knows nothing of how
 * events are observed.
 *
 * Recording never takes a lock and never waits: events about a vCPU come from its own
 * thread and from the threads that send it IPIs, all at once.  Readers copy a consistent
 * snapshot at any time; an event still being written is simply not in it yet.
 */
#ifndef MPVMM_MP_TRACE_H
#define MPVMM_MP_TRACE_H

#include <stddef.h>
#include <stdint.h>

enum trace_kind {
	TRACE_STATE = 0,  /* the vCPU's MP state became `state`                 */
	TRACE_INIT,       /* INIT from `from`                                   */
	TRACE_SIPI,       /* STARTUP IPI from `from` with `vector`              */
	TRACE_IPI,        /* fixed IPI from `from` with `vector`                */
	TRACE_FIRST_EXIT, /* first exit from the accelerator to the VMM         */
	TRACE_BREAK,      /* a break fired (mp/mp_break.h): `state` holds its event
			   * (enum mp_break_event), `from` and `vector` the event's */
	TRACE_KINDS,
};

/* How mpvmm knows: it read or made the change itself, the guest said so, or it deduced it. */
enum trace_source {
	TRACE_EXACT = 0,
	TRACE_GUEST,
	TRACE_INFERRED,
	TRACE_SOURCES,
};

#define TRACE_NO_CPU UINT32_MAX

struct trace_event {
	uint64_t t_ns;  /* since VM start */
	uint32_t cpu;   /* the vCPU the event is about (the target of an IPI) */
	uint32_t from;  /* sender of an IPI, or TRACE_NO_CPU */
	uint8_t kind;   /* enum trace_kind   */
	uint8_t source; /* enum trace_source */
	uint8_t state;  /* enum mp_state, for TRACE_STATE */
	uint8_t vector;
};

struct trace;

/* Keeps each vCPU's `first` events (from creation or trace_clear) and its `last` newest. */
struct trace *trace_create(uint32_t ncpus, size_t first, size_t last);
void trace_destroy(struct trace *t);
uint32_t trace_ncpus(const struct trace *t);
/* Events kept per vCPU: the most trace_copy can return. */
size_t trace_capacity(const struct trace *t);
/* Any thread, lock-free; an event about a vCPU that does not exist is ignored. */
void trace_record(struct trace *t, const struct trace_event *ev);
/* Copy cpu's events, oldest first, into out (up to max); returns how many. */
size_t trace_copy(struct trace *t, uint32_t cpu, struct trace_event *out, size_t max);
/* Events lost for cpu since creation or the last trace_clear (overwritten or contended). */
uint64_t trace_dropped(struct trace *t, uint32_t cpu);
/* Forget every event recorded so far (those still being recorded are forgotten too). */
void trace_clear(struct trace *t);
const char *trace_kind_name(enum trace_kind k);
const char *trace_source_name(enum trace_source s);

#endif
