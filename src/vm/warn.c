/*
 * warn.c - see warn.h.  One lock for every source: a mistake is rare work, and the lines of
 * two sources must not interleave with each other's summaries.
 */
#include "vm/warn.h"

#include <stdio.h>
#include <string.h>

#include "mp/mp.h"
#include "util/log.h"

/* Lines a source may print in a window, its summaries included; the window. */
#define WARN_BURST 50u
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

/* A line within the source's budget: printed if it has any left, else counted. */
static void line(struct warn_source *s, const char *msg)
{
	if (s->shown < WARN_BURST) {
		s->shown++;
		log_warn("%s", msg);
	} else {
		s->dropped++;
	}
}

/* The repeats of the last line printed, as one line on its source's budget too (else they
 * are counted with the lines not shown). */
static void say_repeats(struct warn_limiter *w)
{
	struct warn_source *s = w->last_src;

	if (!w->repeats)
		return;
	if (s->shown < WARN_BURST) {
		s->shown++;
		log_warn("the warning above came %u more times", w->repeats);
	} else {
		s->dropped += w->repeats;
	}
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
		say_repeats(w);
		if (now - s->since >= WARN_WINDOW_NS)
			close_window(s, now);
		snprintf(w->last, sizeof(w->last), "%s", msg);
		w->last_src = s;
		line(s, msg);
	}
	pthread_mutex_unlock(&w->lock);
}

void warn_flush(struct warn_limiter *w)
{
	pthread_mutex_lock(&w->lock);
	if (w->last_src)
		say_repeats(w);
	for (unsigned i = 0; i < w->n; i++)
		close_window(&w->src[i], mp_now_ns());
	pthread_mutex_unlock(&w->lock);
}
