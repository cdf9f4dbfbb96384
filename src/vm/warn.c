/*
 * warn.c - see warn.h.
 */
#include "vm/warn.h"

#include <stdio.h>
#include <string.h>

#include "mp/mp.h"
#include "util/log.h"

/* A repeated line is counted, not printed; at most this many lines a second. */
#define WARN_BURST 50u
#define WARN_WINDOW_NS 1000000000ull

void warn_init(struct warn_limiter *w)
{
	*w = (struct warn_limiter){ 0 };
	pthread_mutex_init(&w->lock, NULL);
}

void warn_destroy(struct warn_limiter *w)
{
	pthread_mutex_destroy(&w->lock);
}

/* Say how many warnings were held back: repeats of the last line, lines over the burst. */
static void flush_locked(struct warn_limiter *w)
{
	if (w->repeats)
		log_warn("the warning above came %u more times", w->repeats);
	if (w->dropped)
		log_warn("%u more warnings about the guest in the last second were not shown",
			 w->dropped);
	w->repeats = w->dropped = 0;
}

void warn_flush(struct warn_limiter *w)
{
	pthread_mutex_lock(&w->lock);
	flush_locked(w);
	pthread_mutex_unlock(&w->lock);
}

/*
 * One line each, but the same line again is only counted (a SIPI storm), and a guest making
 * many different ones gets WARN_BURST lines a second and a count.
 */
void warn_guest(void *ctx, const char *msg)
{
	struct warn_limiter *w = ctx;
	uint64_t now = mp_now_ns();

	pthread_mutex_lock(&w->lock);
	if (!strcmp(msg, w->last)) {
		w->repeats++;
		pthread_mutex_unlock(&w->lock);
		return;
	}
	if (now - w->since >= WARN_WINDOW_NS) {
		flush_locked(w);
		w->since = now;
		w->shown = 0;
	} else if (w->repeats) {
		log_warn("the warning above came %u more times", w->repeats);
		w->repeats = 0;
	}
	snprintf(w->last, sizeof(w->last), "%s", msg);
	if (w->shown < WARN_BURST) {
		w->shown++;
		log_warn("%s", msg);
	} else {
		w->dropped++;
	}
	pthread_mutex_unlock(&w->lock);
}
