/*
 * main.c - the mpvmm command: `mpvmm [run] [options]`, `mpvmm restore SNAPSHOT`.  Parses the command line into a
 * vm_config, sandboxes the process (a jail, each thread's system call list), turns
 * SIGINT/SIGTERM into an orderly stop (with the MP-state table), and returns the VM's exit
 * status.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "api/api.h"
#include "cli/config.h"
#include "cli/step_prompt.h"
#include "cli/ctl.h"
#include "cli/explore.h"
#include "cli/sandbox.h"
#include "gdb/gdb_server.h"
#include "util/crash.h"
#include "util/log.h"
#include "util/seccomp.h"
#include "vm/vm.h"

#define MPVMM_VERSION "0.1.0"

struct signal_thread {
	pthread_t thread;
	sigset_t set;
	struct vm *vm;
	_Atomic int taken; /* the SIGINT or SIGTERM taken while this VM was served, or 0 */
};

/* signal_thread_end's signal: the only SIGINT or SIGTERM this process sends itself (its
 * si_code is SI_TKILL or SI_USER, depending on the kernel: only the sender is certain). */
static bool is_end_signal(const siginfo_t *si)
{
	return si->si_pid == getpid();
}

static void *signal_main(void *arg)
{
	struct signal_thread *st = arg;
	siginfo_t si;

	(void)pthread_setname_np(pthread_self(), "mpvmm-signals"); /* a name only helps logs */
	sandbox_thread(SANDBOX_SIGNAL);
	for (;;) {
		int sig = sigwaitinfo(&st->set, &si);
		if (sig < 0 && errno == EINTR)
			continue;
		if (sig < 0 || is_end_signal(&si))
			break;
		atomic_store(&st->taken, sig);
		vm_stop(st->vm, VM_STATUS_INTERRUPTED,
			sig == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
	}
	return NULL;
}

/*
 * End the signal thread with a signal it waits for, sent to it alone: pthread_cancel would
 * load libgcc_s (for the unwinding) at the first cancellation, which a jail no longer has.
 * A SIGINT or SIGTERM sent to the process meanwhile stays pending for the next VM's thread.
 */
static void signal_thread_end(struct signal_thread *st)
{
	int r = pthread_kill(st->thread, SIGTERM);

	if (r) /* it cannot have ended by itself: waiting for it would never end */
		log_error("cannot end the signal thread: %s", strerror(r));
	else
		pthread_join(st->thread, NULL);
}

/*
 * Block the signals every thread created from now on inherits: SIGINT/SIGTERM are taken by
 * one thread with sigwaitinfo, and SIGUSR1 (vCPU kicks) only by vCPU threads, which unblock it.
 */
static void block_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigset_t all = *set;
	sigaddset(&all, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
}

/* The control API on cfg->api_socket, if asked for: its server, or NULL (*failed if it could
 * not start, logged).  `ops` must outlive the server. */
static struct api *start_api(struct vm *vm, const struct vm_config *cfg, struct api_ops *ops,
			     bool *failed)
{
	char err[512];
	struct api *api;

	*failed = false;
	if (!cfg->api_socket)
		return NULL;
	vm_api_ops(vm, ops);
	api = api_start(cfg->api_socket, ops, err, sizeof(err));
	if (!api) {
		log_error("--api %s: %s", cfg->api_socket, err);
		*failed = true;
		return NULL;
	}
	log_info("control API on %s", cfg->api_socket);
	return api;
}

/* --gdb: the stub on its socket (NULL without --gdb, or with *failed set: logged). */
static struct gdb_server *start_gdb(struct vm *vm, const struct vm_config *cfg,
				    struct api_ops *ops, struct gdb_target *t, bool *failed)
{
	char err[512];
	struct gdb_server *g;

	*failed = false;
	if (!cfg->gdb)
		return NULL;
	vm_api_ops(vm, ops);
	if (vm_gdb_target(vm, t, ops) < 0) {
		log_error("--gdb: cannot hear of the VM's breaks: %s", strerror(errno));
		*failed = true;
		return NULL;
	}
	g = gdb_start(cfg->gdb, t, err, sizeof(err));
	if (!g) {
		log_error("--gdb %s: %s", cfg->gdb, err);
		*failed = true;
		return NULL;
	}
	log_info("gdb stub on %s (target remote ...)", cfg->gdb);
	return g;
}

/* A built VM from its API to teardown; returns its exit status (or VM_STATUS_RESTART). */
static int serve(struct vm *vm, const struct vm_config *cfg, const sigset_t *signals)
{
	struct signal_thread st = { .set = *signals, .taken = 0 };
	struct api_ops ops;
	bool failed;
	int status;
	struct api *api = start_api(vm, cfg, &ops, &failed);
	struct api_ops gdb_ops;
	struct gdb_target target;
	struct gdb_server *gdb = NULL;

	if (!failed)
		gdb = start_gdb(vm, cfg, &gdb_ops, &target, &failed);
	if (failed) {
		api_stop(api);
		vm_destroy(vm);
		return VM_STATUS_USAGE;
	}
	st.vm = vm;
	if (pthread_create(&st.thread, NULL, signal_main, &st) != 0) {
		log_error("cannot start the signal thread");
		gdb_stop(gdb);
		api_stop(api);
		vm_destroy(vm);
		return VM_STATUS_VMM_ERROR;
	}
	struct step_prompt *prompt = cfg->step ? step_prompt_start(vm) : NULL;
	status = vm_run(vm);
	step_prompt_end(prompt);
	gdb_stop(gdb);
	if (!cfg->quiet)
		vm_report(vm);
	if (vm_write_trace_files(vm) < 0 && status == 0)
		status = VM_STATUS_VMM_ERROR;
	signal_thread_end(&st);
	/* A SIGINT or SIGTERM taken once the VM was stopping for a guest reset had nothing left
	 * to stop: it ends the restarts instead. */
	int taken = atomic_load(&st.taken);
	if (status == VM_STATUS_RESTART && taken) {
		log_info("not restarting: %s", taken == SIGINT ? "interrupted (SIGINT)" :
			 "terminated (SIGTERM)");
		status = VM_STATUS_INTERRUPTED;
	}
	api_stop(api);
	vm_destroy(vm);
	return status;
}

/* One VM from creation to teardown; returns its exit status (or VM_STATUS_RESTART). */
static int run_once(const struct vm_config *cfg, const sigset_t *signals)
{
	int status;
	struct vm *vm = vm_create(cfg, &status);

	if (!vm)
		return status;
	if (vm_load(vm) < 0) {
		vm_destroy(vm);
		/* A kernel, initrd or command line that cannot be loaded is bad input. */
		return cfg->kernel ? VM_STATUS_USAGE : VM_STATUS_VMM_ERROR;
	}
	return serve(vm, cfg, signals);
}

/* `mpvmm restore SNAPSHOT [options]`: a VM from a snapshot, run on as `run` would. */
static int cmd_restore(int argc, char *const argv[])
{
	struct config_restore rc;
	char err[512];
	int status;

	switch (config_parse_restore(argc, argv, &rc, err, sizeof(err))) {
	case CONFIG_HELP:
	case CONFIG_VERSION:
		config_restore_usage(stdout);
		return 0;
	case CONFIG_ERROR:
		log_error("%s", err);
		return VM_STATUS_USAGE;
	case CONFIG_OK:
		break;
	}
	log_set_quiet(rc.local.quiet);
	sigset_t signals;
	block_signals(&signals);
	/* Opened before the sandbox: a jail would hide the file. */
	struct vm_restore_file *f = vm_restore_open(rc.snapshot, rc.memory_file, &status);
	if (!f)
		return status;
	status = sandbox_process(&rc.local, f);
	if (status)
		return status;
	struct vm *vm = vm_restore(f, &rc.local, &status);
	if (!vm)
		return status;
	status = serve(vm, &rc.local, &signals);
	if (status == VM_STATUS_RESTART) {
		log_info("a restored VM ends at a guest reset (it has no boot to restart)");
		status = 0;
	}
	return status;
}

static int cmd_run(int argc, char *const argv[])
{
	struct vm_config cfg;
	char err[512];
	int status;

	config_defaults(&cfg);
	switch (config_parse_run(argc, argv, &cfg, err, sizeof(err))) {
	case CONFIG_HELP:
		config_usage(stdout);
		return 0;
	case CONFIG_VERSION:
		printf("mpvmm %s\n", MPVMM_VERSION);
		return 0;
	case CONFIG_ERROR:
		log_error("%s", err);
		return VM_STATUS_USAGE;
	case CONFIG_OK:
		break;
	}
	log_set_quiet(cfg.quiet);

	sigset_t signals;
	block_signals(&signals);
	status = sandbox_process(&cfg, NULL);
	if (status)
		return status;
	do {
		status = run_once(&cfg, &signals);
		if (status == VM_STATUS_RESTART)
			log_info("restarting the VM (--on-reboot restart)");
	} while (status == VM_STATUS_RESTART);
	return status;
}

int main(int argc, char *argv[])
{
	crash_report_install();
	if (argc >= 2 && !strcmp(argv[1], "explore"))
		return explore_main(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "ctl"))
		return ctl_main(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "restore"))
		return cmd_restore(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return cmd_run(argc - 2, argv + 2);
	if (argc >= 2 && (!strcmp(argv[1], "help")))
		return cmd_run(1, (char *[]){ (char *)"--help", NULL });
	if (argc >= 2 && argv[1][0] != '-') {
		log_error("unknown command '%s' (commands: run, restore, ctl, explore; see mpvmm --help)", argv[1]);
		return VM_STATUS_USAGE;
	}
	/* No command: `mpvmm [options]` is `mpvmm run [options]`. */
	return cmd_run(argc - 1, argv + 1);
}
