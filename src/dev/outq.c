/*
 * outq.c - see outq.h.  A ring buffer under a mutex, and a writer thread that takes at most
 * PIPE_BUF bytes at a time and writes them only once poll(2) says the descriptor takes them:
 * a pipe with room for PIPE_BUF bytes takes such a write whole without blocking (pipe(7)),
 * so the writer looks at its stop flag at least every OUTQ_POLL_MS whatever the reader does.
 */
#include "dev/outq.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/crash.h"
#include "util/log.h"
#include "util/seccomp.h"

#define OUTQ_POLL_MS 100
#define OUTQ_CHUNK PIPE_BUF

struct outq {
	int fd;
	const char *what;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t more;    /* bytes were queued, or stop               */
	pthread_cond_t written; /* bytes were written (or dropped)          */
	uint8_t *ring;
	size_t cap, head, len;  /* the queued bytes: ring[head .. head + len) mod cap */
	uint64_t queued;        /* bytes ever queued: what outq_drain waits for */
	uint64_t done;          /* bytes ever written or dropped after queueing */
	bool stop, dead;        /* dead: the descriptor refused a write for good */
	_Atomic uint64_t dropped;
	_Atomic bool said;
};

static void drop(struct outq *q, uint64_t n)
{
	if (!n)
		return;
	atomic_fetch_add(&q->dropped, n);
	if (!atomic_exchange(&q->said, true))
		log_warn("%s is not being read fast enough: dropping output (counted in GET /vm)",
			 q->what);
}

/* Take up to OUTQ_CHUNK contiguous queued bytes; the lock is held. */
static size_t take_chunk(struct outq *q, uint8_t *buf)
{
	size_t n = q->len < OUTQ_CHUNK ? q->len : OUTQ_CHUNK;
	size_t first = q->cap - q->head < n ? q->cap - q->head : n;

	memcpy(buf, q->ring + q->head, first);
	memcpy(buf + first, q->ring, n - first);
	return n;
}

/* The first n queued bytes are gone (written, or dropped); the lock is held. */
static void consume(struct outq *q, size_t n)
{
	q->head = (q->head + n) % q->cap;
	q->len -= n;
	q->done += n;
	pthread_cond_broadcast(&q->written);
}

/* Write a chunk without blocking for long: how many bytes went out, -1 when the descriptor
 * is gone for good, 0 when it took nothing yet. */
static ssize_t write_chunk(struct outq *q, const uint8_t *buf, size_t n)
{
	struct pollfd p = { .fd = q->fd, .events = POLLOUT };
	int r = poll(&p, 1, OUTQ_POLL_MS);

	if (r < 0 && errno == EINTR)
		return 0;
	if (r <= 0 || !(p.revents & (POLLOUT | POLLERR | POLLHUP | POLLNVAL)))
		return 0;
	ssize_t w = write(q->fd, buf, n);
	if (w < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	return w <= 0 ? -1 : w;
}

static void *writer(void *arg)
{
	struct outq *q = arg;
	uint8_t buf[OUTQ_CHUNK];

	(void)pthread_setname_np(pthread_self(), "mpvmm-conout"); /* a name only helps logs */
	sandbox_thread(SANDBOX_CONSOLE);
	pthread_mutex_lock(&q->lock);
	for (;;) {
		while (!q->len && !q->stop)
			pthread_cond_wait(&q->more, &q->lock);
		if (q->stop)
			break; /* outq_destroy drained what it could wait for */
		size_t n = take_chunk(q, buf);
		pthread_mutex_unlock(&q->lock);
		ssize_t w = write_chunk(q, buf, n);
		pthread_mutex_lock(&q->lock);
		if (w > 0) {
			consume(q, (size_t)w);
		} else if (w < 0) {
			/* The descriptor is gone for good (EPIPE, EBADF...): the rest is dropped,
			 * and so is all that comes. */
			size_t rest = q->len;
			q->dead = true;
			consume(q, rest);
			pthread_mutex_unlock(&q->lock);
			drop(q, rest);
			pthread_mutex_lock(&q->lock);
		}
	}
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

struct outq *outq_create(int fd, size_t cap, const char *what)
{
	struct outq *q = calloc(1, sizeof(*q));
	sigset_t all, old;

	if (!q || !(q->ring = malloc(cap))) {
		free(q);
		return NULL;
	}
	q->fd = fd;
	q->cap = cap;
	q->what = what;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->more, NULL);
	pthread_cond_init(&q->written, NULL);
	/* The writer takes no signal: SIGPIPE from a reader gone becomes EPIPE. */
	sigfillset(&all);
	crash_signals_remove(&all); /* a crash there is reported */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&q->thread, NULL, writer, q);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		pthread_cond_destroy(&q->written);
		pthread_cond_destroy(&q->more);
		pthread_mutex_destroy(&q->lock);
		free(q->ring);
		free(q);
		return NULL;
	}
	return q;
}

size_t outq_put(struct outq *q, const void *p, size_t n)
{
	const uint8_t *b = p;

	pthread_mutex_lock(&q->lock);
	size_t room = q->dead ? 0 : q->cap - q->len;
	size_t take = n < room ? n : room;
	size_t at = (q->head + q->len) % q->cap;
	size_t first = q->cap - at < take ? q->cap - at : take;
	memcpy(q->ring + at, b, first);
	memcpy(q->ring, b + first, take - first);
	q->len += take;
	q->queued += take;
	if (take)
		pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->lock);
	drop(q, n - take);
	return take;
}

static struct timespec deadline_in(int ms)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

bool outq_drain(struct outq *q, int timeout_ms)
{
	struct timespec until = deadline_in(timeout_ms);

	pthread_mutex_lock(&q->lock);
	uint64_t want = q->queued;
	while (q->done < want)
		if (pthread_cond_timedwait(&q->written, &q->lock, &until) == ETIMEDOUT)
			break;
	bool all = q->done >= want;
	pthread_mutex_unlock(&q->lock);
	return all;
}

uint64_t outq_dropped(struct outq *q)
{
	return atomic_load(&q->dropped);
}

void outq_destroy(struct outq *q, int timeout_ms)
{
	if (!q)
		return;
	outq_drain(q, timeout_ms);
	pthread_mutex_lock(&q->lock);
	q->stop = true;
	pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->lock);
	pthread_join(q->thread, NULL);
	drop(q, q->len); /* the reader never took them */
	pthread_cond_destroy(&q->written);
	pthread_cond_destroy(&q->more);
	pthread_mutex_destroy(&q->lock);
	free(q->ring);
	free(q);
}
