/*
 * warn.h - the lines mpvmm prints about a guest's mistakes (a SIPI to a running AP, an IPI no
 * APIC takes...): each once, the same line again only counted, and at most a burst of them
 * a second, so that a guest making mistakes in a loop cannot flood the log.  It knows the
 * log, not who makes the mistakes.
 */
#ifndef MPVMM_VM_WARN_H
#define MPVMM_VM_WARN_H

#include <pthread.h>
#include <stdint.h>

struct warn_limiter {
	pthread_mutex_t lock;
	uint64_t since;                    /* the current window's start */
	unsigned shown, dropped, repeats;
	char last[256];
};

void warn_init(struct warn_limiter *w);
void warn_destroy(struct warn_limiter *w);
/* A guest mistake, from any thread (the models call it under their locks); ctx: the limiter. */
void warn_guest(void *ctx, const char *msg);
/* Say what was held back (at the end of the run). */
void warn_flush(struct warn_limiter *w);

#endif
