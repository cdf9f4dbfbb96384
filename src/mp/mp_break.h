/*
 * mp_break.h - breaks on MP events: which events are armed (`--break-on`, PUT
 * /vm/breakpoints), whether an event matches, and the record of the breaks that fired.
 *
 * Events (SDM Vol. 3A 8.4, 10.6):
 *   init     a vCPU receives an INIT (delivery mode 101b through an ICR, or from outside)
 *   sipi     a vCPU receives a STARTUP IPI (delivery mode 110b), latched or not
 *   startup  an AP is about to run the first instruction of the start its SIPI latched
 *   halt     a vCPU enters HALTED (it executed HLT and nothing wakes it at once)
 *   state    any change of a vCPU's MP state mpvmm observes
 * `EVENT:N` restricts an event to vCPU index N.
 *
 * This module decides; it does not pause.  A hit that matches is queued here and the
 * owner's `notify` is called (with the caller's locks held: it must only kick); the VM takes
 * queued hits one at a time on a vCPU's thread (mp_break_take) and pauses there.  It knows
 * neither the VM, nor threads other than its own mutex, nor the trace.
 */
#ifndef MPVMM_MP_BREAK_H
#define MPVMM_MP_BREAK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mp_break_event {
	MP_BREAK_INIT = 0,
	MP_BREAK_SIPI,
	MP_BREAK_STARTUP,
	MP_BREAK_HALT,
	MP_BREAK_STATE,
	MP_BREAK_EVENTS,
};

#define MP_BREAK_ANY_CPU UINT32_MAX
#define MP_BREAK_MAX_SPECS 64
/* Hits waiting for their turn to pause the VM (a broadcast SIPI hits every AP at once). */
#define MP_BREAK_QUEUE 256
/* A sender that is no vCPU (the control API, a device). */
#define MP_BREAK_OUTSIDE UINT32_MAX

struct mp_break_spec {
	uint8_t event; /* enum mp_break_event */
	uint32_t cpu;  /* a vCPU index, or MP_BREAK_ANY_CPU */
};

struct mp_break_set {
	unsigned n;
	struct mp_break_spec spec[MP_BREAK_MAX_SPECS];
};

/* What fired. */
struct mp_break_hit {
	uint64_t seq;     /* 1 for the first break of the VM's life, then 2, 3...      */
	uint8_t event;    /* enum mp_break_event                                        */
	uint32_t cpu;     /* the vCPU the event is about                                */
	uint32_t from;    /* init, sipi: the sender's vCPU index, or MP_BREAK_OUTSIDE    */
	int vector;       /* sipi, startup: the SIPI's vector; else -1                   */
	int state;        /* state, halt: the new MP state (enum mp_state); else -1      */
	bool exact;       /* mpvmm saw it itself (false: inferred or reported by the guest) */
};

const char *mp_break_event_name(enum mp_break_event e);
/* Needs an exact view of INIT/SIPI (mpvmm's local APICs): init, sipi, startup, halt. */
bool mp_break_event_needs_exact(enum mp_break_event e);

/*
 * "EVENT[:VCPU][,...]" → *out.  An empty text is the empty set.  Returns 0, or -1 with one
 * line in err: an unknown event, a vCPU index not below ncpus, a spec given twice (also an
 * event for one vCPU next to the same event for all).
 */
int mp_break_parse(const char *text, uint32_t ncpus, struct mp_break_set *out, char *err,
		   size_t errlen);
/* Add what `add` has and `to` lacks (--step's events to --break-on's). Returns 0 or -1. */
int mp_break_merge(struct mp_break_set *to, const struct mp_break_set *add);
/* Refuse what an MP backend that is not exact cannot observe: 0, or -1 with one line. */
int mp_break_check(const struct mp_break_set *s, bool exact, const char *mode, char *err,
		   size_t errlen);
/* Whether event e on vCPU cpu matches one of the set's specs. */
bool mp_break_set_matches(const struct mp_break_set *s, enum mp_break_event e, uint32_t cpu);
/* "init,sipi:2" (the empty string for the empty set), truncated to len. */
void mp_break_format(const struct mp_break_set *s, char *buf, size_t len);
/* "sipi on vCPU 2 (APIC 2) from vCPU 0, vector 0x08" */
void mp_break_describe(const struct mp_break_hit *h, uint32_t apic_id, const char *state_name,
		       char *buf, size_t len);

struct mp_break;

/* notify(ctx): a hit was queued; called with the hitter's locks held, so only kick. */
struct mp_break *mp_break_create(void (*notify)(void *ctx), void *ctx);
void mp_break_destroy(struct mp_break *b);
/* Arm s instead of what was armed; hits still queued are forgotten. */
void mp_break_arm(struct mp_break *b, const struct mp_break_set *s);
void mp_break_armed(struct mp_break *b, struct mp_break_set *out);
/*
 * An event happened (any thread; may hold the APIC bus's and mp_user's locks).  If it
 * matches, it is queued, *out (if not NULL) filled, notify called; returns whether.
 * Cheap when nothing of its kind is armed: one atomic load.
 */
bool mp_break_hit(struct mp_break *b, enum mp_break_event e, uint32_t cpu, uint32_t from,
		  int vector, int state, bool exact, struct mp_break_hit *out);
bool mp_break_pending(struct mp_break *b);
/* Take the oldest queued hit (it becomes the last break).  Returns false if none. */
bool mp_break_take(struct mp_break *b, struct mp_break_hit *out);
/* The last break taken, if any. */
bool mp_break_last(struct mp_break *b, struct mp_break_hit *out);
/* Hits dropped because the queue was full (the VM says how many at its next break). */
uint64_t mp_break_dropped(struct mp_break *b);

#endif
