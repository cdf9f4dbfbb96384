/*
 * crash.h - a report when mpvmm itself crashes (SIGSEGV, SIGBUS, SIGILL, SIGFPE): one line
 * with the signal and the faulting address, then the crashing thread's stack (glibc's
 * backtrace, module offsets that `addr2line -e mpvmm` turns into lines), on stderr; then
 * the default action (the exit status and a core, where the host keeps one, are as
 * without it).  Not in sanitized builds: their runtimes report crashes themselves; not
 * while a terminal is the guest's console either (dev/console.c puts the terminal back on
 * these signals with a handler of its own, which replaces this one).
 */
#ifndef MPVMM_CRASH_H
#define MPVMM_CRASH_H

#include <signal.h>

/* Once, early, while the process is one thread and no system call list is in force. */
void crash_report_install(void);
/*
 * Take the fault signals out of `set`: a thread that blocks every other signal must not
 * block these, or a crash there is a silent kill (the kernel forces the default action
 * on a blocked fault signal, and no report is written).
 */
void crash_signals_remove(sigset_t *set);

#endif
