/*
 * sandbox.c - see sandbox.h.  The order is the point: a jail hides the host's files, so
 * everything a VM opens from them is opened before (the accelerator's device or library,
 * the kernel and initrd, libmicrohttpd; a snapshot, by the caller), and kept for the VMs
 * built later (--on-reboot restart); what mpvmm writes later (the API's socket, snapshots,
 * --trace and --timeline at exit) is written inside the jail.  The jail is entered while the
 * process is one thread (namespaces and the root are each thread's own), and the main
 * thread's list is installed last, as the jail needs calls no list allows.
 */
#include "cli/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "api/api.h"
#include "util/hostfile.h"
#include "util/jail.h"
#include "util/log.h"
#include "util/seccomp.h"
#include "vm/accels.h"

#define ERRLEN 512
/* Kept host files (util/hostfile.c) and a snapshot's two. */
#define KEEP_MAX 16

/* What the VM will open from the host, opened now.  0, or an exit status (logged). */
static int keep_host_files(const struct vm_config *cfg, const struct vm_restore_file *restoring)
{
	const char *accel = cfg->accel ? cfg->accel :
			    restoring ? vm_restore_file_accel(restoring) : NULL;
	const char *files[] = { cfg->kernel, cfg->initrd };
	char err[ERRLEN];
	int status;

	if (vm_accel_prepare(accel, &status) < 0)
		return status;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (files[i] && hostfile_keep(files[i], O_RDONLY) < 0) {
			log_error("%s %s: %s", i == 0 ? "--kernel" : "--initrd", files[i],
				  strerror(errno));
			return VM_STATUS_USAGE;
		}
	}
	if (cfg->api_socket && api_prepare(err, sizeof(err)) < 0) {
		log_error("--api: %s", err);
		return SANDBOX_FAILED_STATUS;
	}
	return 0;
}

static int enter_jail(const struct vm_config *cfg, const struct vm_restore_file *restoring)
{
	int keep[KEEP_MAX];
	size_t n = hostfile_fds(keep, KEEP_MAX);
	char err[ERRLEN];

	if (restoring)
		n += vm_restore_file_fds(restoring, keep + n, KEEP_MAX - n);
	const struct jail j = { .dir = cfg->jail_dir, .uid = cfg->uid, .gid = cfg->gid,
				.keep_fds = keep, .nkeep = n };
	if (jail_enter(&j, err, sizeof(err)) < 0) {
		log_error("--jail %s: %s", cfg->jail_dir, err);
		return SANDBOX_FAILED_STATUS;
	}
	log_info("jail: root %s, uid %u, gid %u", cfg->jail_dir, cfg->uid, cfg->gid);
	return 0;
}

int sandbox_process(const struct vm_config *cfg, const struct vm_restore_file *restoring)
{
	char err[ERRLEN];
	int status;

	sandbox_configure(cfg->seccomp);
	/* glibc reads the time zone (/etc/localtime) the first time any thread converts a time
	 * (gmtime_r: the RTC's registers on a vCPU thread, libmicrohttpd's Date headers): read
	 * it now, before a jail hides the file and before threads whose lists open no file. */
	tzset();
	if (cfg->jail_dir) {
		status = keep_host_files(cfg, restoring);
		if (status == 0)
			status = enter_jail(cfg, restoring);
		if (status)
			return status;
	}
	if (sandbox_install(SANDBOX_MAIN, err, sizeof(err)) < 0) {
		log_error("--seccomp %s: cannot confine the main thread: %s",
			  sandbox_action_name(cfg->seccomp), err);
		return SANDBOX_FAILED_STATUS;
	}
	return 0;
}
