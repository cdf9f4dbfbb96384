/*
 * seccomp.c - see seccomp.h.  The allow-lists, one per kind of thread, built from groups of
 * system calls that say why each call is there, and their installation with libseccomp.
 *
 * How the lists were found: every mode (KVM with --irqchip kernel, split and user, --accel
 * soft, snapshots and restores, --trace/--timeline, --kernel with its console, --on-reboot
 * restart, the control API) run under strace -f and under --seccomp log (whose misses the
 * kernel logs as audit records, `dmesg | grep type=1326`).  A new call in any thread must be
 * added here, to the group it belongs to, with its reason.
 *
 * Arguments are checked where that is cheap and says something: ioctl() only with the KVM
 * requests a thread makes (seccomp sees the request number, not the file, so "KVM requests"
 * is the limit, not "this vCPU's file"); no executable mappings outside the main thread;
 * threads created only as threads (clone with CLONE_THREAD: no fork, no new namespaces);
 * signals only to this process's own threads.  Pointers (paths, structures) cannot be
 * checked by seccomp and are not.
 */
#include "util/seccomp.h"

#include <errno.h>
#include <linux/kvm.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util/log.h"

/* One allowed call: all of its conditions on the arguments must hold. */
struct allow {
	int nr;                    /* SCMP_SYS(name) */
	unsigned nargs;            /* conditions in arg[] */
	struct scmp_arg_cmp arg[1];
	bool own_pid;              /* argument 0 must be this process's id (set when installed) */
	int fail_with;             /* not 0: the call fails with this errno instead of running */
};

#define ALLOW(name) { .nr = SCMP_SYS(name) }
/* Argument `i` equal to `v` in its low 32 bits: every argument compared so is an int (or the
 * kernel reads it as one: ioctl's request), and the upper half of its register is not
 * defined (the x86-64 psABI), so a full compare could refuse a call the kernel would run. */
#define ALLOW_EQ(name, i, v) ALLOW_MASKED(name, i, 0xffffffffu, (v))
/* Argument `i` with the bits of `mask` equal to `v`. */
#define ALLOW_MASKED(name, i, mask, v) \
	{ .nr = SCMP_SYS(name), .nargs = 1, .arg = { { (i), SCMP_CMP_MASKED_EQ, (mask), (v) } } }
/* ioctl(fd, req, ...): argument 1 is the request. */
#define IOCTL(req) ALLOW_EQ(ioctl, 1, (req))

struct group {
	const struct allow *calls;
	size_t n;
};
#define GROUP(a) { (a), sizeof(a) / sizeof((a)[0]) }

/* ---- the groups ------------------------------------------------------------------------ */

/* Every thread: what glibc's threads and mpvmm's log lines need wherever they run. */
static const struct allow thread_runtime[] = {
	ALLOW(futex),           /* mutexes, condition variables, pthread_join */
	ALLOW(exit),            /* the thread returns (pthread's exit) */
	ALLOW(exit_group),      /* exit() from any thread ends the process: never an escalation */
	ALLOW(rt_sigprocmask),  /* glibc blocks signals around pthread_kill and at a thread's end */
	ALLOW(rt_sigreturn),    /* back from a handler: the vCPU kick (SIGUSR1), the console's
				 * terminal restorer on a fatal signal */
	ALLOW(getpid),          /* pthread_kill and raise name the process... */
	ALLOW(gettid),          /* ...and the thread */
	{ .nr = SCMP_SYS(tgkill), .nargs = 1, .own_pid = true, /* kicks (SIGUSR1), raise: */
	  .arg = { { 0, SCMP_CMP_MASKED_EQ, 0xffffffffu, 0 } } }, /* this process's threads */
	ALLOW(write),           /* util/log.c's lines on stderr; the UART's output on stdout and the
				 * console's wake-up pipe (from vCPU threads) */
	ALLOW(clock_gettime),   /* where the vDSO falls back to the system call */
	ALLOW(clock_nanosleep), /* nanosleep() (glibc 2.36 calls this): mp_user's and the
				 * self-test port's short waits, api_stop's usleep */
	ALLOW(nanosleep),
	ALLOW(sched_yield),
	ALLOW(restart_syscall), /* the kernel goes on with a wait a stop interrupted (SIGSTOP and
				 * SIGCONT, a debugger attaching): poll, nanosleep, futex */
	IOCTL(TCSETS),          /* the console's restorer gives the terminal back on whichever
				 * thread a fatal signal hits (dev/console.c) */
};

/* Every thread but the main one: malloc's memory, never executable. */
static const struct allow memory_not_exec[] = {
	ALLOW_MASKED(mmap, 2, PROT_EXEC, 0),     /* malloc's arenas, thread stacks */
	ALLOW_MASKED(mprotect, 2, PROT_EXEC, 0), /* an arena grows, a stack's guard page */
	ALLOW(munmap),
	ALLOW(mremap),                           /* realloc of a large block */
	ALLOW(brk),                              /* the main arena */
	ALLOW_EQ(madvise, 2, MADV_DONTNEED),     /* glibc frees an ended thread's stack, malloc
						  * trims an arena */
	ALLOW(sched_getaffinity),                /* malloc sizes its arena count (glibc 2.35+) */
};

/* vCPU threads: run the vCPU and everything an exit asks of its own vCPU (registers for the
 * instructions mpvmm carries, the MP state, injections), and its snapshot (vm/snapshot.c
 * saves each vCPU on its own thread: KVM wants vCPU ioctls from there). */
static const struct allow kvm_vcpu_requests[] = {
	IOCTL(KVM_RUN),
	IOCTL(KVM_GET_REGS), IOCTL(KVM_SET_REGS),
	IOCTL(KVM_GET_SREGS), IOCTL(KVM_SET_SREGS),
	IOCTL(KVM_GET_FPU), IOCTL(KVM_SET_FPU),
	IOCTL(KVM_GET_XSAVE), IOCTL(KVM_SET_XSAVE),
	IOCTL(KVM_GET_XCRS), IOCTL(KVM_SET_XCRS),
	IOCTL(KVM_GET_MSRS), IOCTL(KVM_SET_MSRS),
	IOCTL(KVM_GET_LAPIC), IOCTL(KVM_SET_LAPIC),
	IOCTL(KVM_GET_VCPU_EVENTS), IOCTL(KVM_SET_VCPU_EVENTS),
	IOCTL(KVM_GET_DEBUGREGS), IOCTL(KVM_SET_DEBUGREGS),
	IOCTL(KVM_SET_GUEST_DEBUG),   /* --gdb: breakpoints and steps, on each vCPU's thread */
	IOCTL(KVM_GET_MP_STATE), IOCTL(KVM_SET_MP_STATE),
	IOCTL(KVM_GET_TSC_KHZ),
	IOCTL(KVM_TRANSLATE),         /* guest memory of a carried instruction */
	IOCTL(KVM_INTERRUPT),         /* split mode: the BSP's ExtINT */
	IOCTL(KVM_NMI),
	IOCTL(KVM_CHECK_EXTENSION),   /* a vCPU's snapshot asks what the VM can save */
	IOCTL(KVM_GET_MSR_INDEX_LIST),
	IOCTL(KVM_SET_GSI_ROUTING),   /* split mode: the guest reprograms an I/O APIC pin */
};

/* Interrupts raised where mpvmm keeps the devices: a device's IRQ on a vCPU's exit, the
 * console's input, the PIT on the timer thread, INIT/SIPI from the API. */
static const struct allow kvm_irq_requests[] = {
	IOCTL(KVM_IRQ_LINE),   /* --irqchip kernel: a pin of KVM's PIC and I/O APIC */
	IOCTL(KVM_SIGNAL_MSI), /* split: the I/O APIC's messages; INIT/SIPI from outside */
};

/* Threads that start threads (the main one, and libmicrohttpd's listening thread, one per
 * connection).  glibc 2.34+ tries clone3 first, whose flags sit behind a pointer seccomp
 * cannot read: it fails with ENOSYS, and glibc falls back to clone, whose flags can be read. */
static const struct allow thread_creation[] = {
	ALLOW_MASKED(clone, 0, CLONE_THREAD, CLONE_THREAD), /* a thread, never a process */
	{ .nr = SCMP_SYS(clone3), .fail_with = ENOSYS },
	ALLOW(set_robust_list),  /* the new thread's first calls, under its creator's filter */
	ALLOW(rseq),
	ALLOW_EQ(prctl, 0, PR_SET_NAME), /* libmicrohttpd names its threads */
};

/* The control API's server: libmicrohttpd's threads on the socket main() made. */
static const struct allow api_server[] = {
	ALLOW(poll),        /* the listening thread and each connection's */
	ALLOW(accept4),
	ALLOW(recvfrom),
	ALLOW(read),        /* its inter-thread eventfd; /proc/self/maps for a snapshot */
	ALLOW(sendmsg),
	ALLOW(sendto),
	ALLOW(writev),
	ALLOW(shutdown),
	ALLOW(close),
	ALLOW(fcntl),
	ALLOW(getsockopt),
	ALLOW(getsockname),
	ALLOW(setsockopt),
	ALLOW(eventfd2),    /* MHD_start_daemon's inter-thread channel */
	ALLOW(sysinfo),     /* qsort (trace exports) sizes its buffer by the RAM */
};

/* Snapshots written from an API thread (snapshot/snapfile_write.c): temporary files beside
 * the final paths, fsync, rename, fsync of the directory; the snapshot id is random. */
static const struct allow snapshot_files[] = {
	ALLOW(openat),      /* seccomp cannot see the path: the jail (--jail) limits it */
	ALLOW(newfstatat),
	ALLOW(fstat),
	ALLOW(lseek),
	ALLOW(pread64),     /* /proc/self/pagemap: pages never touched are not read */
	ALLOW(pwrite64),
	ALLOW(ftruncate),
	ALLOW(fsync),
	ALLOW(fdatasync),
	ALLOW(rename),
	ALLOW(unlink),      /* a failed save removes its temporary file */
	ALLOW(getrandom),
	ALLOW(mincore),     /* which guest pages are resident (GET /vm's memory) */
	ALLOW(readlink),    /* --snapshot-dir: realpath resolves the path's directory */
	ALLOW(readlinkat),
	ALLOW(faccessat),   /* ... and glibc's realpath checks what a ".." leaves */
	ALLOW(faccessat2),
};

/* The VM-wide state a snapshot saves from the API thread (kvm_state.c), and CPUID. */
static const struct allow kvm_vm_state_requests[] = {
	IOCTL(KVM_CHECK_EXTENSION),
	IOCTL(KVM_GET_SUPPORTED_CPUID),
	IOCTL(KVM_GET_CLOCK),
	IOCTL(KVM_GET_IRQCHIP),
	IOCTL(KVM_GET_PIT2),
};

/* The console's reader: the terminal (or a pipe) and the UART's wake-up pipe; its writer
 * (dev/outq.c): the guest's output to standard output. */
static const struct allow console_io[] = {
	ALLOW(poll),
	ALLOW(read),
	ALLOW(write),
};

/* The gdb stub (gdb/gdb_server.c): one client at a time on the socket main() bound, a
 * wake-up pipe from the vCPUs' debug stops; it reads and writes guest RAM in place, and
 * asks vCPUs for their registers and breakpoints through their mailboxes (futex). */
static const struct allow gdb_server[] = {
	ALLOW(poll),        /* the listening socket or the client, and the wake-up pipe */
	ALLOW(accept4),
	ALLOW(setsockopt),  /* TCP_NODELAY on the client */
	ALLOW(recvfrom),    /* recv */
	ALLOW(sendto),      /* send */
	ALLOW(read),        /* the wake-up pipe, drained */
	ALLOW(close),       /* the client, when it leaves */
};

/* The signal thread: SIGINT/SIGTERM taken with sigwait. */
static const struct allow signal_wait[] = {
	ALLOW(rt_sigtimedwait),
};

/*
 * The main thread's own calls, besides every other list (see sandbox_install): it builds
 * and tears down VMs (again for --on-reboot restart), loads guests, restores snapshots,
 * writes the trace files at exit, and sets up the API's socket and the console's terminal.
 */
static const struct allow main_own[] = {
	ALLOW(mmap),          /* any protection: dlopen maps libraries executable (Unicorn when
			       * --accel soft builds its first VM), and Unicorn's JIT buffer */
	ALLOW(mprotect),
	ALLOW(madvise),
	ALLOW(mincore),       /* the memory line of the report at exit */
	ALLOW_MASKED(ioctl, 1, 0xff00, KVMIO << 8), /* any KVM request (_IOC type, bits 8-15):
						     * VMs and vCPUs are created here */
	IOCTL(TCGETS),        /* isatty(), tcgetattr(): the console and the UART */
	IOCTL(TCSETS),        /* tcsetattr(TCSANOW): the console's raw mode, and back at exit */
	IOCTL(TIOCGPGRP),     /* tcgetpgrp() against getpgrp(): a background process leaves */
	ALLOW(getpgrp),       /* the terminal alone (dev/console.c) */
	ALLOW(open),
	ALLOW(read),
	ALLOW(close),
	ALLOW(access),        /* whether KVM emulates guest code (/sys/module/kvm_pvm) */
	ALLOW(readlink),
	ALLOW(lstat),
	ALLOW(stat),
	ALLOW(statx),
	ALLOW(fcntl),         /* descriptor flags; F_DUPFD_CLOEXEC: a host file kept from
			       * before the jail handed out again (util/hostfile.c) */
	ALLOW(pipe2),         /* the console's and the gdb stub's wake-up pipes */
	ALLOW(rt_sigaction),  /* the kick's handler (KVM), the console's terminal restorers */
	ALLOW(socket),        /* the API's socket: made, bound, given to libmicrohttpd... */
	ALLOW(connect),       /* ...after checking that a stale one has no listener */
	ALLOW(bind),
	ALLOW(listen),
	ALLOW(chmod),
	ALLOW(prlimit64),
	ALLOW(uname),
	/* Every other thread starts under this list and installs its own (seccomp_load sets
	 * no_new_privs again, then loads). */
	ALLOW_EQ(prctl, 0, PR_SET_NO_NEW_PRIVS),
	ALLOW_EQ(seccomp, 0, SECCOMP_SET_MODE_FILTER),
};

/* Groups most kinds share (macros, not objects: an initializer must be a constant). */
#define RUNTIME GROUP(thread_runtime)
#define MEMORY GROUP(memory_not_exec)
#define IRQ GROUP(kvm_irq_requests)

/* Each kind's list: its groups.  The main thread's is every group of every kind and its own
 * (sandbox_install), because every other thread starts under its filter. */
#define MAX_GROUPS 8
static const struct group lists[SANDBOX_KINDS][MAX_GROUPS] = {
	[SANDBOX_MAIN] = { GROUP(main_own) },
	[SANDBOX_VCPU] = { RUNTIME, MEMORY, IRQ, GROUP(kvm_vcpu_requests) },
	[SANDBOX_API] = { RUNTIME, MEMORY, IRQ, GROUP(thread_creation), GROUP(api_server),
			  GROUP(snapshot_files), GROUP(kvm_vm_state_requests) },
	[SANDBOX_CONSOLE] = { RUNTIME, MEMORY, IRQ, GROUP(console_io) },
	[SANDBOX_TIMER] = { RUNTIME, MEMORY, IRQ },
	[SANDBOX_SIGNAL] = { RUNTIME, MEMORY, GROUP(signal_wait) },
	[SANDBOX_GDB] = { RUNTIME, MEMORY, IRQ, GROUP(gdb_server) },
};

static const char *const kind_names[SANDBOX_KINDS] = {
	[SANDBOX_MAIN] = "main", [SANDBOX_VCPU] = "vCPU", [SANDBOX_API] = "API",
	[SANDBOX_CONSOLE] = "console", [SANDBOX_TIMER] = "timer", [SANDBOX_SIGNAL] = "signal",
	[SANDBOX_GDB] = "gdb",
};

/* ---- the action ------------------------------------------------------------------------ */

static enum sandbox_action configured = SANDBOX_OFF;

void sandbox_configure(enum sandbox_action action)
{
	configured = action;
}

enum sandbox_action sandbox_configured(void)
{
	return configured;
}

static const char *const action_names[] = {
	[SANDBOX_OFF] = "off", [SANDBOX_KILL] = "kill", [SANDBOX_LOG] = "log",
};

const char *sandbox_action_name(enum sandbox_action action)
{
	return (unsigned)action < sizeof(action_names) / sizeof(action_names[0])
		       ? action_names[action] : "?";
}

bool sandbox_action_parse(const char *word, enum sandbox_action *action)
{
	for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
		if (word && !strcmp(word, action_names[i])) {
			*action = (enum sandbox_action)i;
			return true;
		}
	}
	return false;
}

/* ---- installing ------------------------------------------------------------------------ */

static int add_group(scmp_filter_ctx ctx, const struct group *g, const char **what)
{
	const scmp_datum_t pid = (scmp_datum_t)getpid();

	for (size_t i = 0; i < g->n; i++) {
		struct allow a = g->calls[i];
		if (a.own_pid)
			a.arg[0].datum_b = pid;
		uint32_t action = a.fail_with ? SCMP_ACT_ERRNO((uint32_t)a.fail_with)
					      : SCMP_ACT_ALLOW;
		int r = seccomp_rule_add_exact_array(ctx, action, a.nr, a.nargs, a.arg);
		/* The main thread's list repeats calls of the others: the same rule twice is one. */
		if (r < 0 && r != -EEXIST) {
			*what = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, a.nr);
			errno = -r;
			return -1;
		}
	}
	return 0;
}

static int add_list(scmp_filter_ctx ctx, enum sandbox_thread_kind kind, const char **what)
{
	for (size_t i = 0; i < MAX_GROUPS && lists[kind][i].calls; i++)
		if (add_group(ctx, &lists[kind][i], what) < 0)
			return -1;
	return 0;
}

static scmp_filter_ctx build(enum sandbox_thread_kind kind, enum sandbox_action action,
			     char *err, size_t errlen)
{
	/* KILL_PROCESS, not KILL_THREAD: a VM missing one thread would hang, not fail. */
	uint32_t deny = action == SANDBOX_LOG ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
	scmp_filter_ctx ctx = seccomp_init(deny);
	const char *what = NULL;

	if (!ctx) {
		snprintf(err, errlen, "seccomp_init: out of memory");
		return NULL;
	}
	/* A call through another ABI (int 0x80, x32) is none of the lists' calls. */
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, deny);
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (r < 0) {
		snprintf(err, errlen, "seccomp_attr_set: %s", strerror(-r));
		seccomp_release(ctx);
		return NULL;
	}
	for (int k = 0; k < SANDBOX_KINDS; k++) {
		if (k != (int)kind && kind != SANDBOX_MAIN)
			continue;
		if (add_list(ctx, (enum sandbox_thread_kind)k, &what) < 0) {
			snprintf(err, errlen, "cannot allow %s: %s", what ? what : "a call",
				 strerror(errno));
			seccomp_release(ctx);
			return NULL;
		}
	}
	return ctx;
}

int sandbox_install(enum sandbox_thread_kind kind, char *err, size_t errlen)
{
	enum sandbox_action action = configured;

	if (action == SANDBOX_OFF)
		return 0;
	scmp_filter_ctx ctx = build(kind, action, err, errlen);
	if (!ctx)
		return -1;
	/* seccomp_load sets no_new_privs first (SCMP_FLTATR_CTL_NNP), as seccomp(2) requires of
	 * a caller without CAP_SYS_ADMIN. */
	int r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0) {
		snprintf(err, errlen, "seccomp_load: %s", strerror(-r));
		return -1;
	}
	return 0;
}

void sandbox_thread(enum sandbox_thread_kind kind)
{
	char err[256];

	if (sandbox_install(kind, err, sizeof(err)) == 0)
		return;
	log_error("--seccomp %s: cannot confine the %s thread: %s", sandbox_action_name(configured),
		  kind_names[kind], err);
	exit(SANDBOX_FAILED_STATUS);
}
