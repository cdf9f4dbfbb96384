/*
 * api.c - see api.h.  The HTTP side of the control API: the UNIX socket, libmicrohttpd, and
 * the limits that keep a client from costing the VM anything.  What a request means is
 * routes.c's business.
 *
 * Threads: one libmicrohttpd thread accepts, and each connection gets a thread of its own
 * (at most API_MAX_CONNECTIONS live), so a client that sends slowly, or a request waiting for
 * a vCPU, never holds up another; conn_guard.c cuts a request that does not arrive within
 * API_REQUEST_DEADLINE_MS, turns a process away past its share of the connections and,
 * when the slots run out, cuts one of the process holding the most, so that clients cannot
 * keep the others out.  Those threads block every signal: SIGINT/SIGTERM belong to the main
 * program's signal thread and SIGUSR1 to the vCPUs.  They, and the guard's thread, run
 * under the API's system call list (util/seccomp.h), inherited from the short-lived thread
 * that starts them: libmicrohttpd runs no code of ours when its threads start.
 */
#include "api/api.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "api/conn_guard.h"
#include "api/routes.h"
#include "util/dlib.h"
#include "util/seccomp.h"
#include "util/crash.h"

/*
 * libmicrohttpd, opened when the first server starts (dlib.h says why it is not linked).
 * The names are the library's own, minus the MHD_ prefix.
 */
static struct {
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
	__typeof__(MHD_lookup_connection_value) *lookup_connection_value;
	__typeof__(MHD_get_connection_info) *get_connection_info;
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_get_daemon_info) *get_daemon_info;
	__typeof__(MHD_quiesce_daemon) *quiesce_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
} mhd;

static const struct dlib_sym mhd_syms[] = {
	{ "MHD_create_response_from_buffer", (void **)&mhd.create_response_from_buffer },
	{ "MHD_add_response_header", (void **)&mhd.add_response_header },
	{ "MHD_queue_response", (void **)&mhd.queue_response },
	{ "MHD_destroy_response", (void **)&mhd.destroy_response },
	{ "MHD_lookup_connection_value", (void **)&mhd.lookup_connection_value },
	{ "MHD_get_connection_info", (void **)&mhd.get_connection_info },
	{ "MHD_start_daemon", (void **)&mhd.start_daemon },
	{ "MHD_get_daemon_info", (void **)&mhd.get_daemon_info },
	{ "MHD_quiesce_daemon", (void **)&mhd.quiesce_daemon },
	{ "MHD_stop_daemon", (void **)&mhd.stop_daemon },
};

/* libmicrohttpd12 is Debian 12's package of the 0.9.x ABI. */
#define MHD_SONAME "libmicrohttpd.so.12"

/* A body sent without Content-Length is read and thrown away past the cap, up to this. */
#define API_MAX_DISCARD (16u * API_MAX_BODY)
/*
 * Clients waiting to be accepted: a flood of connections must not leave a newcomer's
 * connect() failing for want of room in the queue (the kernel caps it at somaxconn).
 */
#define API_LISTEN_BACKLOG 4096
/* How long api_stop waits for connections under way before closing them. */
#define API_STOP_GRACE_MS 1000u

struct api {
	struct MHD_Daemon *mhd;
	struct conn_guard *guard;
	const struct api_ops *ops;
	char *path;
	dev_t dev; /* the socket file we made, so that api_stop removes only that one */
	ino_t ino;
};

/* One request's state across libmicrohttpd's calls. */
struct request {
	char *body;
	size_t len;
	size_t discarded;
	bool too_large;
};

/* ---- the socket --------------------------------------------------------------------- */

/* Is someone accepting connections on the socket at `a`?  1 yes, 0 no, -1 cannot tell. */
static int socket_live(const struct sockaddr_un *a)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -1;
	int r = connect(fd, (const struct sockaddr *)a, sizeof(*a));
	int e = errno;
	close(fd);
	if (r == 0 || e == EAGAIN) /* EAGAIN: a listener with a full backlog */
		return 1;
	if (e == ECONNREFUSED)
		return 0;
	errno = e;
	return -1;
}

/* The path is taken: remove it if it is a socket nobody listens on. */
static int remove_stale(const struct sockaddr_un *a, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(a->sun_path, &st) < 0) {
		if (errno == ENOENT)
			return 0; /* gone meanwhile */
		snprintf(err, errlen, "%s: %s", a->sun_path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; not replacing it",
			 a->sun_path);
		return -1;
	}
	switch (socket_live(a)) {
	case 1:
		snprintf(err, errlen, "%s: another process is serving this socket", a->sun_path);
		return -1;
	case 0:
		if (unlink(a->sun_path) == 0 || errno == ENOENT)
			return 0;
		/* fall through */
	default:
		snprintf(err, errlen, "%s: cannot replace the old socket: %s", a->sun_path,
			 strerror(errno));
		return -1;
	}
}

static int bind_path(int fd, const struct sockaddr_un *a, char *err, size_t errlen)
{
	if (bind(fd, (const struct sockaddr *)a, sizeof(*a)) == 0)
		return 0;
	if (errno == EADDRINUSE) {
		if (remove_stale(a, err, errlen) < 0)
			return -1;
		if (bind(fd, (const struct sockaddr *)a, sizeof(*a)) == 0)
			return 0;
	}
	snprintf(err, errlen, "%s: bind: %s", a->sun_path, strerror(errno));
	return -1;
}

/*
 * A listening socket at path, only for its owner.  The mode is set between bind and listen:
 * before listen nobody can connect, so no client ever sees the wider mode of the umask.
 */
static int open_socket(struct api *api, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct stat st;

	if (strlen(api->path) >= sizeof(a.sun_path)) {
		snprintf(err, errlen, "socket path too long (at most %zu bytes): %s",
			 sizeof(a.sun_path) - 1, api->path);
		return -1;
	}
	memcpy(a.sun_path, api->path, strlen(api->path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind_path(fd, &a, err, errlen) < 0) {
		close(fd);
		return -1;
	}
	if (chmod(api->path, 0600) < 0 || stat(api->path, &st) < 0 || listen(fd, API_LISTEN_BACKLOG) < 0) {
		snprintf(err, errlen, "%s: %s", api->path, strerror(errno));
		unlink(api->path);
		close(fd);
		return -1;
	}
	api->dev = st.st_dev;
	api->ino = st.st_ino;
	return fd;
}

/* ---- requests ----------------------------------------------------------------------- */

static enum MHD_Result send_response(struct MHD_Connection *c, struct api_response *r)
{
	struct MHD_Response *resp =
		mhd.create_response_from_buffer(r->len, r->body, MHD_RESPMEM_MUST_FREE);

	if (!resp) {
		api_response_free(r);
		return MHD_NO;
	}
	r->body = NULL; /* libmicrohttpd frees it */
	mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	mhd.add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (r->allow)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	enum MHD_Result ret = mhd.queue_response(c, r->status, resp);
	mhd.destroy_response(resp);
	return ret;
}

static enum MHD_Result send_too_large(struct MHD_Connection *c)
{
	struct api_response r = { 0 };

	api_error(&r, 413, "request body too large (at most %u bytes)", API_MAX_BODY);
	return send_response(c, &r);
}

/* Content-Length beyond the cap?  (Garbage is left to libmicrohttpd, which refuses it.) */
static bool declared_too_large(struct MHD_Connection *c)
{
	const char *cl = mhd.lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;

	if (!cl)
		return false;
	errno = 0;
	unsigned long long n = strtoull(cl, &end, 10);
	return end != cl && (errno == ERANGE || n > API_MAX_BODY);
}

/* Keep a chunk of the body, or count it as thrown away once past the cap. */
static int take_chunk(struct request *rq, const char *data, size_t len)
{
	if (!rq->too_large && rq->len + len <= API_MAX_BODY) {
		char *b = realloc(rq->body, rq->len + len);
		if (!b)
			return -1;
		memcpy(b + rq->len, data, len);
		rq->body = b;
		rq->len += len;
		return 0;
	}
	rq->too_large = true;
	rq->discarded += len;
	return rq->discarded > API_MAX_DISCARD ? -1 : 0;
}

static struct conn_slot *connection_slot(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *i =
		mhd.get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return i ? i->socket_context : NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct api *api = cls;
	struct request *rq = *con_cls;

	if (!rq) {
		rq = calloc(1, sizeof(*rq));
		if (!rq)
			return MHD_NO;
		*con_cls = rq;
		if (declared_too_large(c))
			return send_too_large(c);
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (take_chunk(rq, upload_data, *upload_data_size) < 0)
			return MHD_NO; /* out of memory, or an endless body: drop the connection */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rq->too_large)
		return send_too_large(c);

	struct api_request req = {
		.method = method, .path = url, .body = rq->body, .body_len = rq->len,
		.format = mhd.lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format"),
	};
	struct api_response resp;
	struct conn_slot *slot = connection_slot(c);
	if (slot)
		conn_guard_answering(api->guard, slot, true);
	api_route(api->ops, &req, &resp);
	enum MHD_Result ret = send_response(c, &resp);
	/* The answer must now be taken within the deadline, as the next request sent. */
	if (slot)
		conn_guard_answering(api->guard, slot, false);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request *rq = *con_cls;

	if (rq) {
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

/* A new client: let it in if the guard has (or makes) room. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct api *api = cls;

	(void)addr;
	(void)addrlen;
	return conn_guard_make_room(api->guard) ? MHD_YES : MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct api *api = cls;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *i =
			mhd.get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		*socket_context = i ? conn_guard_open(api->guard, i->connect_fd) : NULL;
		if (!*socket_context && i)
			shutdown(i->connect_fd, SHUT_RDWR); /* no slot: it ends at once */
	} else if (*socket_context) {
		conn_guard_close(api->guard, *socket_context);
		*socket_context = NULL;
	}
}

/* ---- server ------------------------------------------------------------------------- */

/* The server's start, on a thread of its own (start_mhd says why). */
struct mhd_start {
	struct api *api;
	int fd;
	struct MHD_Daemon *mhd;
	char err[200];
};

static void *start_confined(void *arg)
{
	struct mhd_start *st = arg;
	struct api *api = st->api;

	(void)pthread_setname_np(pthread_self(), "mpvmm-api"); /* a name only helps logs */
	sandbox_thread(SANDBOX_API);
	api->guard = conn_guard_start(API_MAX_CONNECTIONS, API_MAX_CONNECTIONS_PER_PROCESS,
				      API_REQUEST_DEADLINE_MS, st->err, sizeof(st->err));
	if (!api->guard)
		return NULL;
	st->mhd = mhd.start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL |
			MHD_USE_ITC,
		0, on_accept, api, on_request, api,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)st->fd,
		MHD_OPTION_CONNECTION_LIMIT, conn_guard_slots(api->guard),
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, api,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)API_CONNECTION_TIMEOUT_S,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
		MHD_OPTION_END);
	if (!st->mhd) {
		snprintf(st->err, sizeof(st->err), "cannot start the HTTP server");
		conn_guard_stop(api->guard);
		api->guard = NULL;
	}
	return NULL;
}

/*
 * libmicrohttpd's threads start under the system call filter of the thread that starts the
 * server (seccomp(2): a filter is inherited across clone), and run no code of ours at their
 * start: a thread confined to the API's list starts the server, and ends.  Threads inherit
 * the signal mask of their creator: it and libmicrohttpd's threads take no signal.
 */
static struct MHD_Daemon *start_mhd(struct api *api, int fd, char *err, size_t errlen)
{
	struct mhd_start st = { .api = api, .fd = fd };
	sigset_t all, old;
	pthread_t t;

	sigfillset(&all);
	crash_signals_remove(&all); /* a crash there is reported */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int r = pthread_create(&t, NULL, start_confined, &st);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r) {
		snprintf(err, errlen, "%s: cannot start the server's thread: %s", api->path,
			 strerror(r));
		return NULL;
	}
	pthread_join(t, NULL);
	if (!st.mhd)
		snprintf(err, errlen, "%s: %s", api->path, st.err);
	return st.mhd;
}

static void remove_socket_file(const struct api *api)
{
	struct stat st;

	if (lstat(api->path, &st) == 0 && st.st_dev == api->dev && st.st_ino == api->ino)
		unlink(api->path);
}

int api_prepare(char *err, size_t errlen)
{
	/* jansson seeds its hash function from /dev/urandom when it makes its first object
	 * (json_object_seed): now, while the file is there. */
	json_object_seed(0);
	return dlib_load(MHD_SONAME, mhd_syms, sizeof(mhd_syms) / sizeof(mhd_syms[0]), err,
			 errlen);
}

struct api *api_start(const char *socket_path, const struct api_ops *ops, char *err,
		      size_t errlen)
{
	if (dlib_load(MHD_SONAME, mhd_syms, sizeof(mhd_syms) / sizeof(mhd_syms[0]), err,
		      errlen) < 0)
		return NULL;
	struct api *api = calloc(1, sizeof(*api));

	if (!api || !(api->path = strdup(socket_path))) {
		snprintf(err, errlen, "out of memory");
		free(api);
		return NULL;
	}
	api->ops = ops;
	int fd = open_socket(api, err, errlen);
	if (fd < 0) {
		free(api->path);
		free(api);
		return NULL;
	}
	api->mhd = start_mhd(api, fd, err, errlen);
	if (!api->mhd) {
		close(fd);
		remove_socket_file(api);
		free(api->path);
		free(api);
		return NULL;
	}
	return api;
}

static unsigned connections(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *i = mhd.get_daemon_info(d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);

	return i ? i->num_connections : 0;
}

void api_stop(struct api *api)
{
	if (!api)
		return;
	/*
	 * Take no more connections, and give those under way a moment to finish: the client
	 * that asked for the shutdown, which stops the server, is still being answered.
	 */
	MHD_socket fd = mhd.quiesce_daemon(api->mhd);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	for (unsigned ms = 0; ms < API_STOP_GRACE_MS && connections(api->mhd); ms += 5)
		usleep(5000);
	mhd.stop_daemon(api->mhd); /* closes what is left, joins every thread */
	conn_guard_stop(api->guard);
	remove_socket_file(api);
	free(api->path);
	free(api);
}
