/*
 * gdb_server.h - the gdb remote stub (--gdb): a socket (TCP, default host 127.0.0.1, or a
 * UNIX socket) served by a thread of its own, one client at a time, all-stop.  It debugs
 * the VM through struct gdb_target only.
 *
 * A client that connects stops the VM (a VM already paused, as with --paused, stays so).  A
 * client that goes away while connected (a closed socket, an error, or `D`) takes its
 * breakpoints with it and the VM runs on; `k` stops mpvmm (status 0).
 */
#ifndef MPVMM_GDB_SERVER_H
#define MPVMM_GDB_SERVER_H

#include <stddef.h>

#include "gdb/gdb_target.h"

struct gdb_server;

/* Bind and listen on `addr` (--gdb's syntax) now; serve from a thread.  NULL with a reason
 * in err (a bad address, a port in use).  `t` must outlive the server. */
struct gdb_server *gdb_start(const char *addr, const struct gdb_target *t, char *err,
			     size_t errlen);
/* Tell a client the VM has ended (W/X), close everything, remove a UNIX socket's file. */
void gdb_stop(struct gdb_server *g);

#endif
