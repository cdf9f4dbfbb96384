/*
 * gdb_server.c - see gdb_server.h.  The thread: accept a client, then read its packets
 * (gdb_packet.c frames them, gdb_cmds.c answers them) and carry out what they ask: run the
 * VM until a vCPU's debug stop or Ctrl-C, step one vCPU, detach, kill.  A vCPU's debug stop
 * arrives on that vCPU's thread (the stop hook): it is noted and the thread woken through a
 * pipe; the VM is then paused (every vCPU parked) before gdb hears of it.
 */
#include "gdb/gdb_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gdb/gdb_addr.h"
#include "gdb/gdb_session.h"
#include "util/log.h"
#include "util/seccomp.h"

#define POLL_MS 100 /* how often a running VM is checked for its end */

struct gdb_server {
	const struct gdb_target *t;
	struct gdb_addr addr;
	int listen_fd, client_fd;
	int wake[2];             /* a stop or the end: a byte written here */
	pthread_t thread;
	pthread_mutex_t lock;    /* what the stop hook writes: */
	bool stop_pending, quit;
	bool client;             /* a client is served: MP-event breaks are its stops      */
	bool stop_is_break;      /* the pending stop is an MP-event break: stop_what says it */
	char stop_what[160];
	uint32_t stop_cpu;
	struct accel_exit stop_exit;
	struct gdb_session s;
	struct gdb_rx rx;
	bool running;
	char reply[GDB_REPLY_MAX + 1];
	char frame[2 * GDB_REPLY_MAX + 8];
};

/* ---- the socket ----------------------------------------------------------------------- */

static int listen_on(struct gdb_server *g, char *err, size_t errlen)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(g->addr.port) };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int one = 1, fd = socket(g->addr.unix_socket ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (g->addr.unix_socket) {
		memcpy(un.sun_path, g->addr.path, sizeof(un.sun_path));
		if (bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0)
			goto fail;
	} else {
		inet_pton(AF_INET, g->addr.host, &in.sin_addr);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&in, sizeof(in)) < 0)
			goto fail;
	}
	if (listen(fd, 1) < 0)
		goto fail;
	g->listen_fd = fd;
	return 0;
fail:
	snprintf(err, errlen, "cannot listen there: %s", strerror(errno));
	close(fd);
	return -1;
}

static void send_all(struct gdb_server *g, const char *buf, size_t len)
{
	while (len && g->client_fd >= 0) {
		ssize_t n = send(g->client_fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the read side will see the end */
		buf += n;
		len -= (size_t)n;
	}
}

static void send_packet(struct gdb_server *g, const char *data)
{
	size_t n = gdb_frame(data, strlen(data), g->frame, sizeof(g->frame));

	send_all(g, g->frame, n);
}

/* ---- stops ---------------------------------------------------------------------------- */

/* On a vCPU's thread: the first stop of a run is the one gdb hears of. */
static void stop_hook(void *ctx, uint32_t cpu, const struct accel_exit *e)
{
	struct gdb_server *g = ctx;
	char b = 's';

	pthread_mutex_lock(&g->lock);
	if (!g->stop_pending) {
		g->stop_pending = true;
		g->stop_cpu = cpu;
		g->stop_exit = *e;
		if (write(g->wake[1], &b, 1) < 0) {
			/* the pipe is full: a wake-up is pending anyway */
		}
	}
	pthread_mutex_unlock(&g->lock);
}

/*
 * On a vCPU's thread, the VM paused for a break on an MP event: with a client, a stop like a
 * debug stop (gdb sees which vCPU, and the break's line); without one the VM stays paused,
 * for the API or a client that connects.
 */
static void break_hook(void *ctx, uint32_t cpu, const char *what)
{
	struct gdb_server *g = ctx;
	char b = 'b';

	pthread_mutex_lock(&g->lock);
	if (g->client && !g->stop_pending) {
		g->stop_pending = true;
		g->stop_is_break = true;
		g->stop_cpu = cpu;
		snprintf(g->stop_what, sizeof(g->stop_what), "%s", what);
		if (write(g->wake[1], &b, 1) < 0) {
			/* the pipe is full: a wake-up is pending anyway */
		}
	}
	pthread_mutex_unlock(&g->lock);
}

/* gdb prints an O packet's text as the target's output (before the stop reply). */
static void send_console(struct gdb_server *g, const char *text)
{
	char pkt[2 + 2 * 200 + 1] = "O";
	size_t n = 1;

	for (const char *c = text; *c && n + 2 < sizeof(pkt); c++)
		n += (size_t)snprintf(pkt + n, sizeof(pkt) - n, "%02x", (unsigned char)*c);
	send_packet(g, pkt);
}

static void drain_wake(struct gdb_server *g)
{
	char buf[64];

	while (read(g->wake[0], buf, sizeof(buf)) > 0)
		;
}

static void pause_vm(struct gdb_server *g)
{
	char err[200];

	if (g->t->api->pause(g->t->api->ctx, err, sizeof(err)) != API_OK)
		log_warn("gdb: pause: %s", err);
}

/* The VM stopped for gdb (a debug stop, or Ctrl-C: sig 2): pause it all, tell gdb. */
static void report_stop(struct gdb_server *g, int sig)
{
	pause_vm(g);
	pthread_mutex_lock(&g->lock);
	bool debug = g->stop_pending, brk = g->stop_is_break;
	struct accel_exit e = g->stop_exit;
	uint32_t cpu = g->stop_cpu;
	char what[sizeof(g->stop_what) + 32];
	snprintf(what, sizeof(what), "mpvmm: break: %s\n", g->stop_what);
	pthread_mutex_unlock(&g->lock);
	drain_wake(g);
	g->running = false;
	g->s.stop_extra[0] = 0;
	if (debug && brk) {
		send_console(g, what);
		g->s.stop_cpu = cpu;
		g->s.stop_sig = 5; /* SIGTRAP, no breakpoint of gdb's: the line says why */
	} else if (debug) {
		g->s.stop_cpu = cpu;
		g->s.stop_sig = 5; /* SIGTRAP */
		gdb_bp_describe(&g->s, &e, g->s.stop_extra, sizeof(g->s.stop_extra));
	} else {
		g->s.stop_sig = sig;
	}
	g->s.g_cpu = g->s.c_cpu = g->s.stop_cpu;
	gdb_stop_reply(&g->s, g->reply, sizeof(g->reply));
	send_packet(g, g->reply);
}

/* Breakpoints (and a step of `step`) on every vCPU, then run. */
static bool run(struct gdb_server *g, uint32_t step)
{
	struct accel_debug d;
	char err[256];

	gdb_bp_debug(&g->s, &d);
	if (g->t->set_debug(g->t->ctx, &d, step, err, sizeof(err)) < 0) {
		log_warn("gdb: %s", err);
		if (step != GDB_NO_CPU || d.nbp || d.sw_int3)
			return false;
	}
	pthread_mutex_lock(&g->lock);
	g->stop_pending = g->stop_is_break = false;
	pthread_mutex_unlock(&g->lock);
	drain_wake(g);
	g->running = true;
	if (step != GDB_NO_CPU)
		return g->t->step(g->t->ctx, step) == 0;
	return g->t->api->resume(g->t->api->ctx, err, sizeof(err)) == API_OK;
}

/* The client leaves: its breakpoints go, the VM runs on. */
static void release_vm(struct gdb_server *g)
{
	struct accel_debug none;
	char err[256];

	memset(&none, 0, sizeof(none));
	gdb_bp_remove_all(&g->s);
	g->t->set_debug(g->t->ctx, &none, GDB_NO_CPU, err, sizeof(err));
	g->t->api->resume(g->t->api->ctx, err, sizeof(err));
	g->running = false;
}

/* A debug stop that came after the client left (it was on its way): the VM runs on. */
static void resume_orphan_stop(struct gdb_server *g)
{
	char err[200];

	drain_wake(g);
	pthread_mutex_lock(&g->lock);
	bool stopped = g->stop_pending && !g->stop_is_break; /* a break waits for the API */
	g->stop_pending = g->stop_is_break = false;
	pthread_mutex_unlock(&g->lock);
	if (stopped)
		g->t->api->resume(g->t->api->ctx, err, sizeof(err));
}

/* ---- a client ------------------------------------------------------------------------- */

static void session_start(struct gdb_server *g)
{
	g->s = (struct gdb_session){ .t = g->t, .ncpus = g->t->api->ncpus(g->t->api->ctx),
				     .g_cpu = GDB_NO_CPU, .c_cpu = GDB_NO_CPU, .stop_sig = 5 };
	gdb_rx_init(&g->rx);
	g->running = false;
	pause_vm(g);
	pthread_mutex_lock(&g->lock);
	g->client = true;
	pthread_mutex_unlock(&g->lock);
}

static void session_end(struct gdb_server *g)
{
	pthread_mutex_lock(&g->lock);
	g->client = false;
	pthread_mutex_unlock(&g->lock);
}

/* One packet: answer it, then do what it asks.  False: the client is done. */
static bool on_packet(struct gdb_server *g)
{
	enum gdb_action a = gdb_handle(&g->s, g->rx.buf, g->rx.len, g->reply, sizeof(g->reply));

	if (!g->s.noack || !strcmp(g->rx.buf, "QStartNoAckMode"))
		send_all(g, "+", 1);
	switch (a) {
	case GDB_REPLY:
		send_packet(g, g->reply);
		return true;
	case GDB_CONTINUE:
	case GDB_STEP:
		if (!run(g, a == GDB_STEP ? g->s.step_cpu : GDB_NO_CPU))
			send_packet(g, "E01");
		return true;
	case GDB_DETACH:
		send_packet(g, g->reply);
		release_vm(g);
		log_info("gdb: client detached; the VM runs on");
		return false;
	case GDB_KILL:
		gdb_bp_remove_all(&g->s);
		g->t->kill(g->t->ctx);
		return false;
	}
	return true;
}

static bool on_bytes(struct gdb_server *g, const uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (gdb_rx_byte(&g->rx, buf[i])) {
		case GDB_RX_PACKET:
			if (!on_packet(g))
				return false;
			break;
		case GDB_RX_BAD:
			send_all(g, "-", 1);
			break;
		case GDB_RX_INTERRUPT:
			if (g->running)
				report_stop(g, 2); /* SIGINT */
			break;
		default:
			break;
		}
	}
	return true;
}

/* True if the VM ended (gdb was told). */
static bool vm_ended(struct gdb_server *g)
{
	int status;
	char buf[16];

	if (!g->t->ended(g->t->ctx, &status))
		return false;
	snprintf(buf, sizeof(buf), "W%02x", status & 0xff);
	send_packet(g, buf);
	return true;
}

static void serve_client(struct gdb_server *g)
{
	uint8_t buf[4096];

	session_start(g);
	for (;;) {
		struct pollfd p[2] = { { .fd = g->client_fd, .events = POLLIN },
				       { .fd = g->wake[0], .events = POLLIN } };
		int r = poll(p, 2, POLL_MS);
		if (r < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&g->lock);
		bool quit = g->quit, stopped = g->stop_pending;
		pthread_mutex_unlock(&g->lock);
		if (quit) {
			vm_ended(g);
			return;
		}
		if (g->running && vm_ended(g))
			return;
		if (g->running && stopped) {
			report_stop(g, 5);
			continue;
		}
		if (r <= 0 || !(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t n = recv(g->client_fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			release_vm(g);
			log_info("gdb: client gone; its breakpoints removed, the VM runs on");
			return;
		}
		if (!on_bytes(g, buf, (size_t)n))
			return;
	}
}

static void *server_main(void *arg)
{
	struct gdb_server *g = arg;

	(void)pthread_setname_np(pthread_self(), "mpvmm-gdb"); /* a name only helps logs */
	sandbox_thread(SANDBOX_GDB);
	g->t->set_stop_hook(g->t->ctx, stop_hook, g);
	g->t->set_break_hook(g->t->ctx, break_hook, g);
	for (;;) {
		struct pollfd p[2] = { { .fd = g->listen_fd, .events = POLLIN },
				       { .fd = g->wake[0], .events = POLLIN } };
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		pthread_mutex_lock(&g->lock);
		bool quit = g->quit;
		pthread_mutex_unlock(&g->lock);
		if (quit)
			break;
		if (p[1].revents)
			resume_orphan_stop(g);
		if (!(p[0].revents & POLLIN))
			continue;
		g->client_fd = accept4(g->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (g->client_fd < 0)
			continue;
		int one = 1;
		setsockopt(g->client_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		log_info("gdb: client connected; the VM is paused");
		serve_client(g);
		session_end(g);
		close(g->client_fd);
		g->client_fd = -1;
	}
	g->t->set_stop_hook(g->t->ctx, NULL, NULL);
	g->t->set_break_hook(g->t->ctx, NULL, NULL);
	return NULL;
}

struct gdb_server *gdb_start(const char *addr, const struct gdb_target *t, char *err,
			     size_t errlen)
{
	struct gdb_server *g = calloc(1, sizeof(*g));

	if (!g) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	g->t = t;
	g->listen_fd = g->client_fd = g->wake[0] = g->wake[1] = -1;
	pthread_mutex_init(&g->lock, NULL);
	if (gdb_addr_parse(addr, &g->addr, err, errlen) < 0 || listen_on(g, err, errlen) < 0)
		goto fail;
	if (pipe2(g->wake, O_CLOEXEC | O_NONBLOCK) < 0 ||
	    pthread_create(&g->thread, NULL, server_main, g) != 0) {
		snprintf(err, errlen, "cannot start the gdb server's thread: %s", strerror(errno));
		goto fail;
	}
	return g;
fail:
	if (g->listen_fd >= 0)
		close(g->listen_fd);
	if (g->wake[0] >= 0) {
		close(g->wake[0]);
		close(g->wake[1]);
	}
	pthread_mutex_destroy(&g->lock);
	free(g);
	return NULL;
}

void gdb_stop(struct gdb_server *g)
{
	char b = 'q';

	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->quit = true;
	pthread_mutex_unlock(&g->lock);
	if (write(g->wake[1], &b, 1) < 0) {
		/* full: the thread is woken anyway */
	}
	pthread_join(g->thread, NULL);
	close(g->listen_fd);
	close(g->wake[0]);
	close(g->wake[1]);
	if (g->addr.unix_socket)
		unlink(g->addr.path);
	pthread_mutex_destroy(&g->lock);
	free(g);
}
