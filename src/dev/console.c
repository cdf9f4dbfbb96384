/*
 * console.c - see console.h.  One reader thread polls the input and a wake-up pipe; the
 * UART writes to that pipe (through its receive notification) when the guest has made room
 * after a short serial_receive, and console_destroy writes to it to stop the thread.  The
 * saved terminal state is process-wide, because the terminal is: one raw console at a time.
 */
#include "dev/console.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "util/crash.h"
#include "util/log.h"
#include "util/seccomp.h"

#define PENDING_MAX 4096 /* input read but not yet taken by the UART */
#define READ_CHUNK  512

struct console {
	struct serial *serial;
	struct vm_control ctl;
	int in_fd;
	bool raw;     /* in_fd is a terminal in raw mode: escapes on, keep reading */
	bool eof;     /* input ended or failed, or the user quit: read no more */
	int wake[2];  /* [0] polled by the reader; [1] written to wake it */
	_Atomic bool stop;
	pthread_t thread;
	struct console_escape esc;
	size_t plen;
	uint8_t pending[PENDING_MAX];
};

/* ---- escapes ---- */

size_t console_unescape(struct console_escape *e, const uint8_t *in, size_t n, uint8_t *out,
			size_t *used, enum console_event *ev)
{
	size_t i, o = 0;

	*ev = CONSOLE_NONE;
	for (i = 0; i < n && *ev == CONSOLE_NONE; i++) {
		if (!e->pending) {
			if (in[i] == CONSOLE_ESCAPE)
				e->pending = true;
			else
				out[o++] = in[i];
			continue;
		}
		e->pending = false;
		switch (in[i]) {
		case 'x': case 'X': *ev = CONSOLE_QUIT; break;
		case 'h': case 'H': case '?': *ev = CONSOLE_HELP; break;
		case CONSOLE_ESCAPE: out[o++] = CONSOLE_ESCAPE; break;
		default: break; /* unknown command: dropped, as QEMU does */
		}
	}
	*used = i;
	return o;
}

/* ---- the terminal ---- */

static struct termios saved_tio;
static volatile sig_atomic_t saved_fd = -1; /* >= 0: a terminal is raw and must be restored */

static void restore_terminal(void)
{
	int fd = saved_fd;

	if (fd >= 0) {
		tcsetattr(fd, TCSANOW, &saved_tio);
		saved_fd = -1;
	}
}

/* Async-signal-safe: tcsetattr is, and the default action follows (SA_RESETHAND). */
static void restore_on_signal(int sig)
{
	int fd = saved_fd;

	if (fd >= 0)
		tcsetattr(fd, TCSANOW, &saved_tio);
	raise(sig);
}

static void install_restorers(void)
{
	static const int fatal[] = { SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL };
	static bool done;
	struct sigaction sa;

	if (done)
		return;
	done = true;
	atexit(restore_terminal);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = restore_on_signal;
	sa.sa_flags = SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
}

/*
 * A background process that touches its controlling terminal is stopped (SIGTTIN/SIGTTOU):
 * leave such a terminal alone.  tcgetpgrp fails on a terminal that is not ours: usable.
 */
static bool in_foreground(int fd)
{
	pid_t pg = tcgetpgrp(fd);

	return pg < 0 || pg == getpgrp();
}

static bool make_raw(int fd)
{
	struct termios tio;

	if (saved_fd >= 0 || tcgetattr(fd, &tio) < 0)
		return false;
	saved_tio = tio;
	tio.c_iflag &= (tcflag_t)~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL |
				   IXON);
	tio.c_lflag &= (tcflag_t)~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	/* OPOST stays: the guest's "\n" and the VMM's messages still return the carriage. */
	install_restorers();
	saved_fd = fd;
	if (tcsetattr(fd, TCSANOW, &tio) < 0) {
		saved_fd = -1;
		return false;
	}
	return true;
}

/* ---- the reader ---- */

static void wake_up(void *ctx)
{
	struct console *c = ctx;
	ssize_t n = write(c->wake[1], "w", 1);

	(void)n; /* the pipe being full means a wake-up is already pending */
}

static void drain_wake(struct console *c)
{
	char buf[64];

	while (read(c->wake[0], buf, sizeof(buf)) > 0)
		;
}

static void push_pending(struct console *c)
{
	size_t n = serial_receive(c->serial, c->pending, c->plen);

	memmove(c->pending, c->pending + n, c->plen - n);
	c->plen -= n;
}

/* Input beyond what the buffer holds is dropped: the guest is not reading its UART. */
static void append(struct console *c, const uint8_t *buf, size_t n)
{
	size_t room = PENDING_MAX - c->plen;

	if (n > room)
		n = room;
	memcpy(c->pending + c->plen, buf, n);
	c->plen += n;
}

static void escape_event(struct console *c, enum console_event ev)
{
	if (ev == CONSOLE_QUIT) {
		c->eof = true;
		vm_control_stop(&c->ctl, 0, "quit from the console (Ctrl-A x)");
	} else if (ev == CONSOLE_HELP) {
		log_print("console: Ctrl-A x quit, Ctrl-A Ctrl-A send Ctrl-A, Ctrl-A h help");
	}
}

static void take_input(struct console *c, const uint8_t *buf, size_t n)
{
	uint8_t out[READ_CHUNK];

	if (!c->raw) {
		append(c, buf, n);
		return;
	}
	while (n && !c->eof) {
		enum console_event ev;
		size_t used, o = console_unescape(&c->esc, buf, n, out, &used, &ev);
		append(c, out, o);
		escape_event(c, ev);
		buf += used;
		n -= used;
	}
}

static void read_input(struct console *c)
{
	uint8_t buf[READ_CHUNK];
	ssize_t n = read(c->in_fd, buf, sizeof(buf));

	if (n > 0)
		take_input(c, buf, (size_t)n);
	else if (n == 0 || (errno != EINTR && errno != EAGAIN))
		c->eof = true; /* end of file, hang-up, or no input at all: stop reading */
}

/*
 * A pipe or file is read only when everything before it was taken (nothing is lost); a
 * terminal is always read, so that Ctrl-A x works even when the guest ignores its UART.
 */
static bool want_input(const struct console *c)
{
	return !c->eof && (c->raw || c->plen == 0);
}

static void *reader_main(void *arg)
{
	struct console *c = arg;

	(void)pthread_setname_np(pthread_self(), "mpvmm-console"); /* a name only helps logs */
	sandbox_thread(SANDBOX_CONSOLE);
	while (!atomic_load(&c->stop)) {
		if (c->plen)
			push_pending(c);
		struct pollfd p[2] = { { .fd = c->wake[0], .events = POLLIN },
				       { .fd = c->in_fd, .events = POLLIN } };
		bool input = want_input(c);
		if (poll(p, input ? 2 : 1, -1) < 0 && errno != EINTR)
			break;
		if (p[0].revents)
			drain_wake(c);
		if (input && p[1].revents)
			read_input(c);
	}
	return NULL;
}

/* ---- lifecycle ---- */

bool console_is_raw(const struct console *c)
{
	return c->raw;
}

static int start_reader(struct console *c)
{
	sigset_t all, old;
	int rc;

	/* The reader takes no signals: they belong to the VM's signal thread and vCPUs. */
	sigfillset(&all);
	crash_signals_remove(&all); /* a crash there is reported */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&c->thread, NULL, reader_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc == 0 ? 0 : -1;
}

static void release(struct console *c)
{
	serial_set_rx_notify(c->serial, NULL, NULL);
	if (c->raw)
		restore_terminal();
	close(c->wake[0]);
	close(c->wake[1]);
	free(c);
}

struct console *console_create(struct serial *s, int in_fd, const struct vm_control *ctl)
{
	struct console *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->serial = s;
	c->ctl = *ctl;
	c->in_fd = in_fd;
	if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		free(c);
		return NULL;
	}
	if (isatty(in_fd)) {
		if (in_foreground(in_fd))
			c->raw = make_raw(in_fd);
		else
			c->eof = true; /* reading would stop the whole process (SIGTTIN) */
	}
	serial_set_rx_notify(s, wake_up, c);
	if (start_reader(c) < 0) {
		release(c);
		return NULL;
	}
	if (c->raw)
		log_info("console: raw terminal; Ctrl-A x quits, Ctrl-A h for help");
	return c;
}

void console_destroy(struct console *c)
{
	if (!c)
		return;
	/* No more wake-ups from the UART once this returns: it holds the UART's lock. */
	serial_set_rx_notify(c->serial, NULL, NULL);
	atomic_store(&c->stop, true);
	wake_up(c);
	pthread_join(c->thread, NULL);
	release(c);
}
