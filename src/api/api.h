/*
 * api.h - the control API: HTTP with JSON bodies on a UNIX socket, to look at a running VM
 * (its vCPUs, their MP states, the MP trace) and to act on it (MP state, INIT, SIPI, pause,
 * resume, shutdown).  `curl --unix-socket PATH http://localhost/vm` works.
 *
 * The server knows nothing of the VM's insides: the VM hands it a table of operations
 * (struct api_ops) and the server calls them from its own threads, one per connection, so a
 * slow or hostile client never stalls another client or a vCPU.  Every operation may block
 * briefly (reading a vCPU's state runs on that vCPU's thread) and must be safe to call from
 * any thread at any time between api_start and api_stop.
 *
 * Routes:
 *   GET    /vm                       the VM: topology, memory, state, uptime
 *   POST   /vm/pause | /vm/resume | /vm/shutdown
 *   GET    /vcpus                    every vCPU (as GET /vcpus/{id})
 *   GET    /vcpus/{id}               one vCPU: APIC ID, BSP, MP state, RIP, exits, time in state
 *   GET    /vcpus/{id}/regs          its registers (general, control, segments) and events
 *   GET    /vcpus/{id}/lapic         its local APIC: IRR, ISR, TMR, TPR, PPR, ICR, LVTs, timer
 *   PUT    /vcpus/{id}/mp_state      {"state": "RUNNABLE"}
 *   POST   /vcpus/{id}/init
 *   POST   /vcpus/{id}/sipi          {"vector": 8}
 *   POST   /vm/snapshot              {"path": ABSOLUTE, "memory_file": ABSOLUTE, "resume": true}
 *   GET    /vm/breakpoints           what is armed ("init,sipi:2") and the last break
 *   PUT    /vm/breakpoints           {"events": "init,sipi:2"} (as --break-on; "" disarms)
 *   DELETE /vm/breakpoints           disarm every break
 *   GET    /trace[?format=chrome|text|svg]
 *   DELETE /trace
 * Errors are {"error": "one line"} with 400, 403, 404, 405 (and Allow), 409, 413 or 500.
 */
#ifndef MPVMM_API_H
#define MPVMM_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mp/mp.h"
#include "x86/regs.h"

/* What an operation answers; the numbers are the HTTP statuses they become. */
enum api_status {
	API_OK = 0,
	API_BAD_REQUEST = 400, /* the request makes no sense (e.g. a state the backend refuses) */
	API_FORBIDDEN = 403,   /* not allowed here: e.g. a snapshot outside --snapshot-dir */
	API_NOT_FOUND = 404,
	API_CONFLICT = 409,    /* not now: e.g. the VM is shutting down, or must be paused first */
	API_FAILED = 500,
};

struct api_vm_info {
	uint32_t cpus, sockets, cores, threads, boot_cpu;
	uint64_t memory;       /* bytes */
	const char *irqchip;   /* e.g. "in-kernel"; static strings, or NULL if unknown */
	const char *accel;     /* e.g. "kvm" */
	const char *guest;     /* the built-in guest's name, or the --kernel file */
	const char *state;     /* "running" | "paused" | "shutting-down" */
	uint64_t uptime_ns;    /* since VM start: the time base of the MP trace */
	uint64_t console_dropped; /* guest console bytes the host did not take in time */
};

/* A break on an MP event that fired (mp/mp_break.h), in the API's own terms. */
struct api_break {
	uint64_t seq;          /* 1 for the VM's first break, then 2, 3...            */
	const char *event;     /* "init" | "sipi" | "startup" | "halt" | "state" (static) */
	uint32_t vcpu, apic_id;
	bool from_vcpu;        /* init, sipi: sent by vCPU `from` (else from outside)   */
	uint32_t from;
	int vector;            /* sipi, startup: the SIPI's vector; else -1             */
	const char *state;     /* halt, state: the new MP state (static); else NULL     */
	bool exact;            /* seen by mpvmm itself (else inferred)                  */
};

#define API_BREAKS_TEXT 1024
struct api_breaks {
	char armed[API_BREAKS_TEXT]; /* as --break-on takes it; "" when none */
	bool has_last;
	struct api_break last;
};

/* One named count (an exit kind, a carried instruction); the names are the VM's, static. */
struct api_count {
	const char *name;
	uint64_t n;
};
#define API_MAX_COUNTS 32

struct api_vcpu_info {
	uint32_t id, apic_id;
	bool is_bsp;
	bool mp_state_known;
	enum mp_state mp_state;
	bool rip_known;
	uint64_t rip;
	bool sipi_vector_known;  /* the vector of the last SIPI it received */
	uint8_t sipi_vector;
	struct api_count exits[API_MAX_COUNTS];   /* exits by kind                          */
	unsigned nexits;
	struct api_count carried[API_MAX_COUNTS]; /* instructions the VMM performed, by kind */
	unsigned ncarried;
};

/* Events pending or being delivered on a vCPU (Intel SDM Vol. 3C, 27.6). */
struct api_events {
	bool irq_injected;
	uint8_t irq_vector;
	bool irq_shadow;
	bool nmi_injected, nmi_pending, nmi_masked;
	bool exc_injected;
	uint8_t exc_vector;
};

/* A local APIC: the 32-bit register at each 16-byte offset 0x000-0x3f0 of its xAPIC page
 * (Intel SDM Vol. 3A, table 10-1), reg[offset / 16]. */
#define API_LAPIC_REGS 64
struct api_lapic {
	uint32_t reg[API_LAPIC_REGS];
};

struct api_vcpu_regs {
	struct x86_regs regs;
	struct x86_sregs sregs;
	bool events_known;       /* the accelerator reports events */
	struct api_events events;
};

/* Implemented by the VM; `err` (errlen bytes) gets a one-line reason when not API_OK. */
struct api_ops {
	void *ctx;
	void (*vm_info)(void *ctx, struct api_vm_info *out);
	uint32_t (*ncpus)(void *ctx);
	/* id < ncpus is checked by the server before any of these is called. */
	enum api_status (*vcpu_info)(void *ctx, uint32_t id, struct api_vcpu_info *out, char *err,
				     size_t errlen);
	/* Read on the vCPU's thread between two runs: a snapshot, not a pause. */
	enum api_status (*vcpu_regs)(void *ctx, uint32_t id, struct api_vcpu_regs *out, char *err,
				     size_t errlen);
	enum api_status (*vcpu_lapic)(void *ctx, uint32_t id, struct api_lapic *out, char *err,
				      size_t errlen);
	enum api_status (*set_mp_state)(void *ctx, uint32_t id, enum mp_state s, char *err,
					size_t errlen);
	enum api_status (*send_init)(void *ctx, uint32_t id, char *err, size_t errlen);
	enum api_status (*send_sipi)(void *ctx, uint32_t id, uint8_t vector, char *err,
				     size_t errlen);
	enum api_status (*pause)(void *ctx, char *err, size_t errlen);
	enum api_status (*resume)(void *ctx, char *err, size_t errlen);
	/*
	 * Save the VM to `path` (RAM to `memory_path` unless NULL), atomically; it runs on
	 * afterwards if `resume` and it was running.  The paths are absolute (the server
	 * refuses others); the VM may refuse some (API_FORBIDDEN).  Optional (NULL: 500).
	 */
	enum api_status (*snapshot)(void *ctx, const char *path, const char *memory_path,
				    bool resume, char *err, size_t errlen);
	/* Breaks on MP events.  Optional (NULL: 500).  set: "EVENT[:VCPU][,...]" as --break-on
	 * takes it, "" disarms; a spec the VM refuses is API_BAD_REQUEST with its line. */
	enum api_status (*get_breaks)(void *ctx, struct api_breaks *out, char *err,
				      size_t errlen);
	enum api_status (*set_breaks)(void *ctx, const char *spec, char *err, size_t errlen);
	/* Asks the VM to stop; returns at once (the server answers before the VM is gone). */
	enum api_status (*shutdown)(void *ctx, char *err, size_t errlen);
	/* The MP interface, for the trace and the time in each state. */
	struct mp *(*mp)(void *ctx);
};

/* Limits on what a client may cost. */
#define API_MAX_BODY (64u * 1024)      /* request bodies beyond this: 413 */
#define API_MAX_CONNECTIONS 64         /* more at once: one of the process holding the
					* most is cut to make room (api/conn_guard.h), or,
					* all being answered, the newcomer refused */
#define API_MAX_CONNECTIONS_PER_PROCESS 32 /* a process's connections past this: refused */
#define API_CONNECTION_TIMEOUT_S 10    /* an idle connection is closed   */
#define API_REQUEST_DEADLINE_MS 5000   /* a request's headers and body must all arrive in
					* this time (and an answer be taken): else cut  */

struct api;

/*
 * Before a jail: load what the server needs from the host's filesystem (libmicrohttpd, opened
 * on first use; jansson's hash seed).  Returns 0, or -1 with a reason in err.
 */
int api_prepare(char *err, size_t errlen);

/*
 * Create the socket at socket_path (mode 0600) and serve it from threads of the server's
 * own.  A socket file left by a process that is gone is replaced; a socket someone listens
 * on, or any other file, is an error.  `ops` must outlive the server.  NULL with a reason in
 * err on failure.
 */
struct api *api_start(const char *socket_path, const struct api_ops *ops, char *err,
		      size_t errlen);
/* Stop serving (waits for requests in progress), close and remove the socket file. */
void api_stop(struct api *api);

#endif
