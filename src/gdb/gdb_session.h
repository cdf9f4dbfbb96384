/*
 * gdb_session.h - one gdb client's session, shared by the files of gdb/ that serve it:
 * gdb_server.c (the socket, the thread, running and stopping the VM), gdb_cmds.c (the
 * packets), gdb_bp.c (breakpoints and watchpoints), gdb_mem.c (guest memory by linear
 * address) and gdb_monitor.c (`monitor` commands).  Nothing outside gdb/ includes it.
 */
#ifndef MPVMM_GDB_SESSION_H
#define MPVMM_GDB_SESSION_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gdb/gdb_packet.h"
#include "gdb/gdb_target.h"

#define GDB_MAX_BPS 64
#define GDB_REPLY_MAX GDB_PACKET_MAX

enum gdb_bp_type { GDB_BP_SW = 0, GDB_BP_HW, GDB_BP_WRITE, GDB_BP_READ, GDB_BP_ACCESS };

struct gdb_bp {
	enum gdb_bp_type type;
	uint64_t addr;
	uint8_t len;
	bool slot;         /* kept by address by the accelerator (else an INT3 in memory) */
	uint64_t gpa;      /* the INT3's physical address ... */
	uint8_t saved;     /* ... and the byte it replaced */
};

/* What the packet handlers ask the server to do after their reply. */
enum gdb_action { GDB_REPLY = 0, GDB_CONTINUE, GDB_STEP, GDB_DETACH, GDB_KILL };

struct gdb_session {
	const struct gdb_target *t;
	uint32_t ncpus;
	uint32_t g_cpu, c_cpu;  /* H g / H c: 0-based vCPU; GDB_NO_CPU: any              */
	uint32_t step_cpu;      /* the vCPU GDB_STEP steps                               */
	bool noack;
	struct gdb_bp bps[GDB_MAX_BPS];
	uint32_t nbps;
	/* The last stop: which vCPU, the signal, the stop reason's extra "watch:ADDR;"... */
	uint32_t stop_cpu;
	int stop_sig;
	char stop_extra[64];
};

/* gdb_cmds.c: one packet; the reply (NUL-terminated, may be empty) in out. */
enum gdb_action gdb_handle(struct gdb_session *s, char *pkt, size_t len, char *out,
			   size_t outlen);
/* The stop reply for the last stop. */
void gdb_stop_reply(const struct gdb_session *s, char *out, size_t outlen);

/* gdb_mem.c: guest memory at a linear address through vCPU cpu's paging.  0 or -1. */
int gdb_mem_read(struct gdb_session *s, uint32_t cpu, uint64_t addr, uint8_t *buf,
		 size_t len);
int gdb_mem_write(struct gdb_session *s, uint32_t cpu, uint64_t addr, const uint8_t *buf,
		  size_t len);
int gdb_mem_linear_to_phys(struct gdb_session *s, uint32_t cpu, uint64_t addr,
			   uint64_t *gpa);

/* gdb_bp.c: Z and z packets (0, or -1 with the error reply written), and what a run needs. */
int gdb_bp_insert(struct gdb_session *s, enum gdb_bp_type type, uint64_t addr, uint8_t len,
		  char *out, size_t outlen);
int gdb_bp_remove(struct gdb_session *s, enum gdb_bp_type type, uint64_t addr, uint8_t len);
void gdb_bp_remove_all(struct gdb_session *s);
void gdb_bp_debug(const struct gdb_session *s, struct accel_debug *d);
/* The stop's extra text for a debug exit at pc (swbreak, hwbreak, watch:ADDR). */
void gdb_bp_describe(const struct gdb_session *s, const struct accel_exit *e, char *out,
		     size_t outlen);

/* gdb_monitor.c: `monitor CMD` (qRcmd), CMD decoded; the reply (hex text, OK or E..). */
void gdb_monitor(struct gdb_session *s, const char *cmd, char *out, size_t outlen);

#endif
