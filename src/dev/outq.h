/*
 * outq.h - a device's output to a host file descriptor that never makes the guest wait: the
 * bytes go into a bounded queue and a thread of the queue's own writes them out.  A reader
 * that does not read (a pipe nobody drains, a stopped terminal) fills the queue; what does
 * not fit is dropped and counted, never waited for, so a vCPU writing to COM1 cannot be
 * held up by the host, nor can a pause or a stop.
 *
 * It knows file descriptors, not devices: the UART (serial.c) owns one.
 */
#ifndef MPVMM_DEV_OUTQ_H
#define MPVMM_DEV_OUTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OUTQ_DEFAULT_CAP (256u << 10)

struct outq;

/* A queue of `cap` bytes to `fd`, its writer thread started; `what` names it in messages.
 * NULL when out of memory or the thread cannot start. */
struct outq *outq_create(int fd, size_t cap, const char *what);
/* Stop the writer after at most `timeout_ms` of draining; what is left is dropped. */
void outq_destroy(struct outq *q, int timeout_ms);

/* Queue n bytes (any thread); never waits.  Returns how many were queued: the rest of them
 * were dropped (counted, and said once on stderr). */
size_t outq_put(struct outq *q, const void *p, size_t n);
/* Wait until every byte queued so far is written, at most `timeout_ms`; false if some are
 * still queued then. */
bool outq_drain(struct outq *q, int timeout_ms);
/* Bytes dropped so far: the queue was full, or the descriptor refused them (EPIPE...). */
uint64_t outq_dropped(struct outq *q);

#endif
