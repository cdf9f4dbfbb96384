/*
 * conn_guard.c - see conn_guard.h.  One mutex guards the slots; the thread wakes every
 * CHECK_MS to cut late connections.  A slot's fd is only shut down under that mutex, and
 * conn_guard_close takes it before the fd is closed, so a cut never reaches a descriptor
 * that has been closed and reused.
 */
#include "api/conn_guard.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include "util/crash.h"

#define CHECK_MS 100u

struct conn_slot {
	bool used;
	bool answering;
	bool cut;            /* shut down, waiting for its owner to close it */
	int fd;
	pid_t peer;          /* the client process (SO_PEERCRED), 0 if unknown */
	uint64_t since_ns;   /* opened, or last answered: its deadline runs from here */
};

struct conn_guard {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool stopping;
	unsigned max_live, per_peer, nslots;
	uint64_t deadline_ns;
	struct conn_slot slots[];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void cut(struct conn_slot *s)
{
	shutdown(s->fd, SHUT_RDWR);
	s->cut = true;
}

/* Cut every connection past its deadline.  Under the lock. */
static void cut_late(struct conn_guard *g, uint64_t now)
{
	for (unsigned i = 0; i < g->nslots; i++) {
		struct conn_slot *s = &g->slots[i];
		if (s->used && !s->cut && !s->answering && now - s->since_ns > g->deadline_ns) {
			cut(s);
		}
	}
}

static void *guard_main(void *arg)
{
	struct conn_guard *g = arg;

	pthread_mutex_lock(&g->lock);
	while (!g->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)CHECK_MS * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&g->wake, &g->lock, &until);
		cut_late(g, now_ns());
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

struct conn_guard *conn_guard_start(unsigned max_live, unsigned per_peer, unsigned deadline_ms,
				    char *err, size_t errlen)
{
	struct conn_guard *g = calloc(1, sizeof(*g) + 2 * max_live * sizeof(g->slots[0]));
	sigset_t all, old;

	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->max_live = max_live;
	g->per_peer = per_peer;
	g->nslots = 2 * max_live;
	g->deadline_ns = (uint64_t)deadline_ms * 1000000u;
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->wake, NULL);
	sigfillset(&all);
	crash_signals_remove(&all); /* a crash there is reported */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int e = pthread_create(&g->thread, NULL, guard_main, g);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		snprintf(err, errlen, "cannot start the connection guard thread: %s", strerror(e));
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g);
		return NULL;
	}
	return g;
}

void conn_guard_stop(struct conn_guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stopping = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

unsigned conn_guard_slots(const struct conn_guard *g)
{
	return 4 * g->max_live;
}

/*
 * Connections whose client has hung up (POLLRDHUP) but which the HTTP library has not closed
 * yet (its thread for them not yet scheduled, on a busy host) stop counting: marked cut.  A
 * client making one request per connection in quick succession is not turned away for
 * connections it already closed.  Of process `peer`, or of all with 0.  Under the lock.
 */
static void forget_hung_up(struct conn_guard *g, pid_t peer)
{
	for (unsigned i = 0; i < g->nslots; i++) {
		struct conn_slot *s = &g->slots[i];
		if (!s->used || s->cut || s->answering || (peer && s->peer != peer))
			continue;
		struct pollfd p = { .fd = s->fd, .events = POLLRDHUP };
		if (poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			s->cut = true; /* its owner closes it; nothing to shut down */
	}
}

/* How many live connections process `peer` holds.  Under the lock. */
static unsigned held_by(const struct conn_guard *g, pid_t peer)
{
	unsigned n = 0;

	for (unsigned i = 0; i < g->nslots; i++) {
		const struct conn_slot *o = &g->slots[i];
		n += o->used && !o->cut && o->peer == peer;
	}
	return n;
}

/*
 * The connection to cut for a newcomer: not being answered, of the process that holds the
 * most connections (a flood cuts its own), the one waiting longest among those.  Under the
 * lock; NULL when every connection is being answered.
 */
static struct conn_slot *victim(const struct conn_guard *g)
{
	const struct conn_slot *best = NULL;
	unsigned best_held = 0;

	for (unsigned i = 0; i < g->nslots; i++) {
		const struct conn_slot *s = &g->slots[i];
		if (!s->used || s->cut || s->answering)
			continue;
		unsigned held = held_by(g, s->peer);
		if (!best || held > best_held || (held == best_held && s->since_ns < best->since_ns)) {
			best = s;
			best_held = held;
		}
	}
	return (struct conn_slot *)best;
}

/* How many live connections there are.  Under the lock. */
static unsigned live_count(const struct conn_guard *g)
{
	unsigned n = 0;

	for (unsigned i = 0; i < g->nslots; i++)
		n += g->slots[i].used && !g->slots[i].cut;
	return n;
}

bool conn_guard_make_room(struct conn_guard *g)
{
	bool room = true;

	pthread_mutex_lock(&g->lock);
	if (live_count(g) >= g->max_live)
		forget_hung_up(g, 0);
	if (live_count(g) >= g->max_live) {
		struct conn_slot *s = victim(g);
		if (s)
			cut(s);
		room = s != NULL;
	}
	pthread_mutex_unlock(&g->lock);
	return room;
}

/* The process at the other end of a UNIX socket, 0 if it cannot be told. */
static pid_t peer_of(int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 ? cred.pid : 0;
}

struct conn_slot *conn_guard_open(struct conn_guard *g, int fd)
{
	struct conn_slot *free_slot = NULL;
	pid_t peer = peer_of(fd);

	pthread_mutex_lock(&g->lock);
	bool over_share = peer && held_by(g, peer) >= g->per_peer;
	if (over_share) {
		forget_hung_up(g, peer);
		over_share = held_by(g, peer) >= g->per_peer;
	}

	for (unsigned i = 0; i < g->nslots && !over_share && !free_slot; i++)
		if (!g->slots[i].used)
			free_slot = &g->slots[i];
	if (free_slot)
		*free_slot = (struct conn_slot){ .used = true, .fd = fd, .peer = peer,
						 .since_ns = now_ns() };
	pthread_mutex_unlock(&g->lock);
	return free_slot;
}

void conn_guard_answering(struct conn_guard *g, struct conn_slot *s, bool answering)
{
	pthread_mutex_lock(&g->lock);
	s->answering = answering;
	s->since_ns = now_ns();
	pthread_mutex_unlock(&g->lock);
}

void conn_guard_close(struct conn_guard *g, struct conn_slot *s)
{
	pthread_mutex_lock(&g->lock);
	*s = (struct conn_slot){ .fd = -1 };
	pthread_mutex_unlock(&g->lock);
}
