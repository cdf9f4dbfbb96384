/*
 * seccomp.h - the system calls each kind of mpvmm thread may make: one seccomp allow-list
 * per kind of thread, installed by the thread itself where it starts (seccomp(2),
 * Documentation/userspace-api/seccomp_filter.rst).  A call outside its thread's list ends the
 * process with SIGSYS (--seccomp kill, the default), or is only logged (--seccomp log).
 *
 * The lists name system calls and ioctl requests; they know nothing of the VM, its devices
 * or the accelerators' code, only what those ask of the kernel on each thread.
 */
#ifndef MPVMM_SECCOMP_H
#define MPVMM_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>

enum sandbox_action {
	SANDBOX_OFF,  /* install nothing (the default until sandbox_configure says otherwise) */
	SANDBOX_KILL, /* a call outside the list kills the process (SIGSYS) */
	SANDBOX_LOG,  /* it is allowed, and logged by the kernel (SECCOMP_RET_LOG) */
};

enum sandbox_thread_kind {
	SANDBOX_MAIN,    /* builds and tears down VMs, starts every other thread */
	SANDBOX_VCPU,    /* runs guest code (KVM_RUN, or Unicorn's JIT) and its exits */
	SANDBOX_API,     /* the control API's server (libmicrohttpd's threads) */
	SANDBOX_CONSOLE, /* reads the terminal into the UART */
	SANDBOX_TIMER,   /* fires the timers mpvmm keeps beside KVM */
	SANDBOX_SIGNAL,  /* takes SIGINT/SIGTERM */
	SANDBOX_GDB,     /* the gdb stub's server (--gdb) */
	SANDBOX_KINDS,
};

/* The exit status of a process whose thread could not be confined (the VMM error status). */
#define SANDBOX_FAILED_STATUS 5

/* What sandbox_thread does from now on, for the whole process: once, before any thread. */
void sandbox_configure(enum sandbox_action action);
enum sandbox_action sandbox_configured(void);

/* "kill", "log", "off" and back; parse returns false for any other word. */
const char *sandbox_action_name(enum sandbox_action action);
bool sandbox_action_parse(const char *word, enum sandbox_action *action);

/*
 * Confine the calling thread to the list of `kind` (and set no_new_privs, which seccomp(2)
 * asks of an unprivileged caller).  Threads it starts later inherit the filter, and every
 * filter in force is run (the strictest answer wins), so the main thread's list holds every
 * other list too.  A no-op when the action is SANDBOX_OFF.  Returns 0, or -1 with a reason
 * in err.
 */
int sandbox_install(enum sandbox_thread_kind kind, char *err, size_t errlen);

/*
 * sandbox_install, for a thread that must not go on unconfined: a failure is logged in one
 * line and the process exits with SANDBOX_FAILED_STATUS.
 */
void sandbox_thread(enum sandbox_thread_kind kind);

#endif
