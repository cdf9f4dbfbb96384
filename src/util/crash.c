/*
 * crash.c - see crash.h.  The handler runs on the crashing thread with nothing known to be
 * sane: it only formats into a buffer of its own, writes (write(2), which every thread's
 * system call list has: log.c writes to stderr), and walks the stack with backtrace(),
 * whose unwinder is loaded here first (its first call may allocate and open libgcc_s).
 * SA_RESETHAND puts the default action back as the handler starts, so the process dies of
 * the signal as without a handler: raised again (blocked until the handler returns), or the
 * faulting instruction run again.
 */
#include "util/crash.h"

#include <execinfo.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define CRASH_FRAMES 48

static void put(const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(STDERR_FILENO, s, n);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* Async-signal-safe hexadecimal. */
static void put_hex(uintptr_t v)
{
	char buf[2 + 2 * sizeof(v) + 1];
	char *p = buf + sizeof(buf) - 1;

	*p = 0;
	do {
		*--p = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v);
	*--p = 'x';
	*--p = '0';
	put(p);
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGSEGV: return "SIGSEGV";
	case SIGBUS: return "SIGBUS";
	case SIGILL: return "SIGILL";
	case SIGFPE: return "SIGFPE";
	default: return "a fatal signal";
	}
}

static void on_crash(int sig, siginfo_t *si, void *uc)
{
	void *frames[CRASH_FRAMES];

	(void)uc;
	put("mpvmm: crashed: ");
	put(signal_name(sig));
	put(" at address ");
	put_hex((uintptr_t)si->si_addr);
	put("; the crashing thread's stack (addr2line -f -e mpvmm OFFSET):\n");
	int n = backtrace(frames, CRASH_FRAMES);
	backtrace_symbols_fd(frames, n, STDERR_FILENO);
	raise(sig); /* a signal sent by kill(2) does not come back by itself: pending until
		     * the handler returns, then the default action */
}

static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE };

void crash_signals_remove(sigset_t *set)
{
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigdelset(set, fatal[i]);
}

void crash_report_install(void)
{
#ifdef MPVMM_SANITIZED
	(void)on_crash; /* the sanitizer's runtime reports crashes itself */
#else
	void *warm[1];
	struct sigaction sa;

	backtrace(warm, 1); /* loads the unwinder now, not in the handler */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_crash;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
#endif
}
