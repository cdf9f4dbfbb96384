/*
 * warn.c - see warn.h.  One lock for every source: a mistake is rare work, and the lines of
 * two sources must not interleave with each other's summaries.
 */
#include "vm/warn.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mp/mp.h"
#include "util/log.h"

/*
 * Lines a source may print in a window, its summaries included; lines all sources together
 * may print (so that a guest making mistakes through every device at once is bounded too,
 * while one flooding source leaves the others room); the window.
 */
#define WARN_BURST 50u
#define WARN_TOTAL_BURST 100u
#define WARN_WINDOW_NS 1000000000ull

void warn_init(struct warn_limiter *w)
{
	*w = (struct warn_limiter){ .n = 0 };
	pthread_mutex_init(&w->lock, NULL);
}

void warn_destroy(struct warn_limiter *w)
{
	pthread_mutex_destroy(&w->lock);
}

struct warn_source *warn_source(struct warn_limiter *w, const char *name)
{
	struct warn_source *s = NULL;

	pthread_mutex_lock(&w->lock);
	for (unsigned i = 0; i < w->n && !s; i++)
		if (!strcmp(w->src[i].name, name))
			s = &w->src[i];
	if (!s && w->n < WARN_MAX_SOURCES) {
		s = &w->src[w->n++];
		*s = (struct warn_source){ .w = w, .name = name };
	}
	if (!s)
		s = &w->src[WARN_MAX_SOURCES - 1];
	pthread_mutex_unlock(&w->lock);
	return s;
}

/* Room in the source's budget and in the total; the total's window moves on here. */
static bool room(struct warn_source *s, uint64_t now)
{
	struct warn_limiter *w = s->w;

	if (now - w->since >= WARN_WINDOW_NS) {
		w->since = now;
		w->shown = 0;
	}
	return s->shown < WARN_BURST && w->shown < WARN_TOTAL_BURST;
}

/* A line within the budgets: printed if there is room (true), else counted. */
static bool line(struct warn_source *s, const char *msg, uint64_t now)
{
	if (!room(s, now)) {
		s->dropped++;
		return false;
	}
	s->shown++;
	s->w->shown++;
	log_warn("%s", msg);
	return true;
}

/* The repeats of the last line printed, as one line on the budgets too (else they are
 * counted with the lines not shown). */
static void say_repeats(struct warn_limiter *w, uint64_t now)
{
	struct warn_source *s = w->last_src;
	char msg[64];

	if (!s || !w->repeats)
		return;
	snprintf(msg, sizeof(msg), "the warning above came %u more times", w->repeats);
	if (!line(s, msg, now))
		s->dropped += w->repeats - 1; /* line() counted one */
	w->repeats = 0;
}

/* The end of a source's window: what it held back, one line (at most one a second). */
static void close_window(struct warn_source *s, uint64_t now)
{
	if (s->dropped)
		log_warn("%u more warnings about the guest (%s) in the last second were not shown",
			 s->dropped, s->name);
	s->dropped = 0;
	s->shown = 0;
	s->since = now;
}

void warn_guest(void *ctx, const char *msg)
{
	struct warn_source *s = ctx;
	struct warn_limiter *w = s->w;
	uint64_t now = mp_now_ns();

	pthread_mutex_lock(&w->lock);
	if (w->last_src && !strcmp(msg, w->last)) {
		w->repeats++;
	} else {
		say_repeats(w, now);
		if (now - s->since >= WARN_WINDOW_NS)
			close_window(s, now);
		/* Only a line printed is "the warning above" for the repeats that follow. */
		if (line(s, msg, now)) {
			snprintf(w->last, sizeof(w->last), "%s", msg);
			w->last_src = s;
		} else {
			w->last_src = NULL;
		}
	}
	pthread_mutex_unlock(&w->lock);
}

void warn_flush(struct warn_limiter *w)
{
	pthread_mutex_lock(&w->lock);
	say_repeats(w, mp_now_ns());
	for (unsigned i = 0; i < w->n; i++)
		close_window(&w->src[i], mp_now_ns());
	pthread_mutex_unlock(&w->lock);
}
