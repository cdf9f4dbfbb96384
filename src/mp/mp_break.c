/*
 * mp_break.c - see mp_break.h.  The armed set is read under a mutex only when an event of
 * an armed kind happens (`kinds`, one atomic word, says which), so an armed break that
 * never fires costs an IPI one atomic load.  The mutex is a leaf: nothing is called with it
 * held.
 */
#include "mp/mp_break.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const event_names[MP_BREAK_EVENTS] = {
	[MP_BREAK_INIT] = "init",
	[MP_BREAK_SIPI] = "sipi",
	[MP_BREAK_STARTUP] = "startup",
	[MP_BREAK_HALT] = "halt",
	[MP_BREAK_STATE] = "state",
};

struct mp_break {
	pthread_mutex_t lock;
	struct mp_break_set set;
	_Atomic unsigned kinds;   /* bit e: some spec of event e is armed */
	_Atomic unsigned queued;  /* hits in the queue (read without the lock) */
	struct mp_break_hit queue[MP_BREAK_QUEUE];
	unsigned head;            /* the oldest queued hit */
	uint64_t seq;             /* hits queued so far */
	uint64_t dropped;
	bool has_last;
	struct mp_break_hit last;
	void (*notify)(void *ctx);
	void *ctx;
};

const char *mp_break_event_name(enum mp_break_event e)
{
	return (unsigned)e < MP_BREAK_EVENTS ? event_names[e] : "?";
}

bool mp_break_event_needs_exact(enum mp_break_event e)
{
	return e != MP_BREAK_STATE;
}

static int find_event(const char *name, size_t len)
{
	for (unsigned i = 0; i < MP_BREAK_EVENTS; i++)
		if (strlen(event_names[i]) == len && !strncmp(name, event_names[i], len))
			return (int)i;
	return -1;
}

/* "N" below ncpus, decimal digits only. */
static int parse_cpu(const char *s, size_t len, uint32_t ncpus, uint32_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v >= ncpus)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* The same event for the same vCPU, or for all next to one: given twice. */
static bool repeated(const struct mp_break_set *s, const struct mp_break_spec *p)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->spec[i].event == p->event &&
		    (s->spec[i].cpu == p->cpu || s->spec[i].cpu == MP_BREAK_ANY_CPU ||
		     p->cpu == MP_BREAK_ANY_CPU))
			return true;
	return false;
}

static int parse_one(const char *item, size_t len, uint32_t ncpus, struct mp_break_spec *p,
		     char *err, size_t errlen)
{
	const char *colon = memchr(item, ':', len);
	size_t name_len = colon ? (size_t)(colon - item) : len;
	int e = find_event(item, name_len);

	if (e < 0) {
		snprintf(err, errlen, "--break-on: unknown event '%.*s' (init, sipi, startup, "
			 "halt or state)", (int)name_len, item);
		return -1;
	}
	p->event = (uint8_t)e;
	p->cpu = MP_BREAK_ANY_CPU;
	if (!colon)
		return 0;
	const char *num = colon + 1;
	size_t num_len = len - name_len - 1;
	if (parse_cpu(num, num_len, ncpus, &p->cpu) < 0) {
		snprintf(err, errlen, "--break-on %.*s: '%.*s' is no vCPU index of this VM "
			 "(0 to %u)", (int)len, item, (int)num_len, num, ncpus ? ncpus - 1 : 0);
		return -1;
	}
	return 0;
}

int mp_break_parse(const char *text, uint32_t ncpus, struct mp_break_set *out, char *err,
		   size_t errlen)
{
	out->n = 0;
	if (!text || !text[0])
		return 0;
	for (const char *s = text;;) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		struct mp_break_spec p;

		if (len == 0) {
			snprintf(err, errlen, "--break-on '%s': an empty event between commas", text);
			return -1;
		}
		if (parse_one(s, len, ncpus, &p, err, errlen) < 0)
			return -1;
		if (repeated(out, &p)) {
			snprintf(err, errlen, "--break-on: '%.*s' repeats an event already given",
				 (int)len, s);
			return -1;
		}
		if (out->n == MP_BREAK_MAX_SPECS) {
			snprintf(err, errlen, "--break-on: more than %d events", MP_BREAK_MAX_SPECS);
			return -1;
		}
		out->spec[out->n++] = p;
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

int mp_break_merge(struct mp_break_set *to, const struct mp_break_set *add)
{
	for (unsigned i = 0; i < add->n; i++) {
		if (repeated(to, &add->spec[i]))
			continue;
		if (to->n == MP_BREAK_MAX_SPECS)
			return -1;
		to->spec[to->n++] = add->spec[i];
	}
	return 0;
}

int mp_break_check(const struct mp_break_set *s, bool exact, const char *mode, char *err,
		   size_t errlen)
{
	for (unsigned i = 0; i < s->n && !exact; i++) {
		enum mp_break_event e = s->spec[i].event;
		if (!mp_break_event_needs_exact(e))
			continue;
		snprintf(err, errlen, "--break-on %s: with --irqchip %s the local APICs are KVM's "
			 "(INIT, SIPI and HLT never reach mpvmm); use --irqchip user",
			 mp_break_event_name(e), mode);
		return -1;
	}
	return 0;
}

bool mp_break_set_matches(const struct mp_break_set *s, enum mp_break_event e, uint32_t cpu)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->spec[i].event == e &&
		    (s->spec[i].cpu == MP_BREAK_ANY_CPU || s->spec[i].cpu == cpu))
			return true;
	return false;
}

void mp_break_format(const struct mp_break_set *s, char *buf, size_t len)
{
	size_t at = 0;

	if (len)
		buf[0] = '\0';
	for (unsigned i = 0; i < s->n && at < len; i++) {
		const struct mp_break_spec *p = &s->spec[i];
		int w = p->cpu == MP_BREAK_ANY_CPU ?
			snprintf(buf + at, len - at, "%s%s", i ? "," : "",
				 mp_break_event_name(p->event)) :
			snprintf(buf + at, len - at, "%s%s:%u", i ? "," : "",
				 mp_break_event_name(p->event), p->cpu);
		if (w < 0)
			return;
		at += (size_t)w;
	}
}

void mp_break_describe(const struct mp_break_hit *h, uint32_t apic_id, const char *state_name,
		       char *buf, size_t len)
{
	char from[40] = "", vector[24] = "", state[40] = "";

	if (h->event == MP_BREAK_INIT || h->event == MP_BREAK_SIPI) {
		if (h->from == MP_BREAK_OUTSIDE)
			snprintf(from, sizeof(from), " from outside");
		else
			snprintf(from, sizeof(from), " from vCPU %u", h->from);
	}
	if (h->vector >= 0)
		snprintf(vector, sizeof(vector), ", vector 0x%02x", (unsigned)h->vector);
	if (h->state >= 0)
		snprintf(state, sizeof(state), ": %s%s", state_name ? state_name : "?",
			 h->exact ? "" : " (inferred)");
	snprintf(buf, len, "%s on vCPU %u (APIC %u)%s%s%s", mp_break_event_name(h->event), h->cpu,
		 apic_id, from, vector, state);
}

/* ---- the armed set and the queue ------------------------------------------------------- */

struct mp_break *mp_break_create(void (*notify)(void *ctx), void *ctx)
{
	struct mp_break *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	if (pthread_mutex_init(&b->lock, NULL)) {
		free(b);
		return NULL;
	}
	atomic_init(&b->kinds, 0);
	atomic_init(&b->queued, 0);
	b->notify = notify;
	b->ctx = ctx;
	return b;
}

void mp_break_destroy(struct mp_break *b)
{
	if (!b)
		return;
	pthread_mutex_destroy(&b->lock);
	free(b);
}

void mp_break_arm(struct mp_break *b, const struct mp_break_set *s)
{
	unsigned kinds = 0;

	for (unsigned i = 0; i < s->n; i++)
		kinds |= 1u << s->spec[i].event;
	pthread_mutex_lock(&b->lock);
	b->set = *s;
	atomic_store(&b->kinds, kinds);
	atomic_store(&b->queued, 0); /* hits of the old set do not pause the VM any more */
	pthread_mutex_unlock(&b->lock);
}

void mp_break_armed(struct mp_break *b, struct mp_break_set *out)
{
	pthread_mutex_lock(&b->lock);
	*out = b->set;
	pthread_mutex_unlock(&b->lock);
}

bool mp_break_hit(struct mp_break *b, enum mp_break_event e, uint32_t cpu, uint32_t from,
		  int vector, int state, bool exact, struct mp_break_hit *out)
{
	if (!b || !(atomic_load_explicit(&b->kinds, memory_order_relaxed) & (1u << e)))
		return false;
	pthread_mutex_lock(&b->lock);
	bool match = mp_break_set_matches(&b->set, e, cpu);
	if (match) {
		struct mp_break_hit h = { .seq = ++b->seq, .event = (uint8_t)e, .cpu = cpu,
					  .from = from, .vector = vector, .state = state,
					  .exact = exact };
		unsigned n = atomic_load(&b->queued);
		if (n < MP_BREAK_QUEUE) {
			b->queue[(b->head + n) % MP_BREAK_QUEUE] = h;
			atomic_store(&b->queued, n + 1);
		} else {
			b->dropped++;
		}
		if (out)
			*out = h;
	}
	pthread_mutex_unlock(&b->lock);
	if (match && b->notify)
		b->notify(b->ctx);
	return match;
}

bool mp_break_pending(struct mp_break *b)
{
	return b && atomic_load(&b->queued) != 0;
}

bool mp_break_take(struct mp_break *b, struct mp_break_hit *out)
{
	pthread_mutex_lock(&b->lock);
	unsigned n = atomic_load(&b->queued);
	if (n) {
		*out = b->queue[b->head];
		b->head = (b->head + 1) % MP_BREAK_QUEUE;
		atomic_store(&b->queued, n - 1);
		b->last = *out;
		b->has_last = true;
	}
	pthread_mutex_unlock(&b->lock);
	return n != 0;
}

bool mp_break_last(struct mp_break *b, struct mp_break_hit *out)
{
	pthread_mutex_lock(&b->lock);
	bool has = b->has_last;
	if (has)
		*out = b->last;
	pthread_mutex_unlock(&b->lock);
	return has;
}

uint64_t mp_break_dropped(struct mp_break *b)
{
	pthread_mutex_lock(&b->lock);
	uint64_t d = b->dropped;
	pthread_mutex_unlock(&b->lock);
	return d;
}
