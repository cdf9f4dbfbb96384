/*
 * warn.h - the lines mpvmm prints about a guest's mistakes (a SIPI to a running AP, a write
 * to a reserved register...), each source of them with a budget of its own: the same line
 * again right after it is only counted, and a source prints at most a burst of lines a
 * second, the summaries ("came N more times") included, within a burst all sources share;
 * what is over is counted and said once a second per source.
 * A guest making mistakes in a loop cannot flood the log, nor can one device's flood hide
 * another's line.  It knows the log, not who makes the mistakes.
 */
#ifndef MPVMM_VM_WARN_H
#define MPVMM_VM_WARN_H

#include <pthread.h>
#include <stdint.h>

#define WARN_MAX_SOURCES 16

struct warn_limiter;

struct warn_source {
	struct warn_limiter *w;            /* whose lock guards this                    */
	const char *name;                  /* what makes these mistakes (static)        */
	uint64_t since;                    /* the current window's start               */
	unsigned shown, dropped;
};

struct warn_limiter {
	pthread_mutex_t lock;
	struct warn_source src[WARN_MAX_SOURCES];
	unsigned n;
	uint64_t since;                    /* the total's window: its start ...         */
	unsigned shown;                    /* ... and the lines all sources printed     */
	char last[256];                    /* the last line printed ...                */
	struct warn_source *last_src;      /* ... by this source                       */
	unsigned repeats;                  /* and how many times it came again since   */
};

void warn_init(struct warn_limiter *w);
void warn_destroy(struct warn_limiter *w);
/* The source called `name` (static storage), made on first use; past WARN_MAX_SOURCES the
 * last one is shared. */
struct warn_source *warn_source(struct warn_limiter *w, const char *name);
/* A guest mistake from any thread (the models call it under their locks): ctx is a source. */
void warn_guest(void *ctx, const char *msg);
/* Say what every source held back (at the end of the run). */
void warn_flush(struct warn_limiter *w);

#endif
