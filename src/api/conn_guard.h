/*
 * conn_guard.h - what keeps API clients from holding the server hostage: every request
 * (headers and body) must arrive within a deadline; one process may hold only so many
 * connections (a newcomer past that is turned away at once); and when the slots run out a
 * newcomer takes one from the process holding the most: its connection that has waited
 * longest without a request being answered.  A connection is cut with shutdown(2) on its
 * socket; its owner (the HTTP library) then sees the end of the stream and closes it.
 *
 * It knows sockets and time, not HTTP: api.c tells it when a connection opens, when a
 * request is being answered (not to be cut) and when a connection closes.
 */
#ifndef MPVMM_API_CONN_GUARD_H
#define MPVMM_API_CONN_GUARD_H

#include <stdbool.h>
#include <stddef.h>

struct conn_guard;
struct conn_slot;

/*
 * A guard for `max_live` connections at once, at most `per_peer` of them from one process
 * (SO_PEERCRED), cutting any that does not deliver a request in `deadline_ms` (from its
 * opening, or from its last answer being queued).  Starts a thread that blocks every signal.
 * NULL with a reason in err.
 */
struct conn_guard *conn_guard_start(unsigned max_live, unsigned per_peer, unsigned deadline_ms,
				    char *err, size_t errlen);
/*
 * How many connections the HTTP library must let in for the guard to choose: the live ones,
 * those cut or turned away and not yet closed, and room for newcomers.
 */
unsigned conn_guard_slots(const struct conn_guard *g);
/* Stops the thread; every connection must have closed. */
void conn_guard_stop(struct conn_guard *g);

/*
 * Before a new connection is taken: true when a slot is free or was freed by cutting one
 * (see above); false when every slot is answering a request (refuse the newcomer).
 */
bool conn_guard_make_room(struct conn_guard *g);
/*
 * The connection on `fd` opened: its slot, or NULL when its process holds its share already
 * or no slot is free (shut it down).
 */
struct conn_slot *conn_guard_open(struct conn_guard *g, int fd);
/* Its request is being answered (not to be cut), or was: its deadline starts again. */
void conn_guard_answering(struct conn_guard *g, struct conn_slot *s, bool answering);
/* It is closing; called before its socket is closed (the fd is not touched after). */
void conn_guard_close(struct conn_guard *g, struct conn_slot *s);

#endif
