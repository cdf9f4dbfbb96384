/*
 * sandbox.c - see sandbox.h.  What must happen before any list is installed happens here
 * first, and the main thread's list is installed before the first VM is built: every other
 * thread starts under it.
 */
#include "cli/sandbox.h"

#include <time.h>

#include "util/log.h"
#include "util/seccomp.h"

#define ERRLEN 512

int sandbox_process(const struct vm_config *cfg)
{
	char err[ERRLEN];

	sandbox_configure(cfg->seccomp);
	/* glibc reads the time zone (/etc/localtime) the first time any thread converts a time
	 * (gmtime_r: the RTC's registers on a vCPU thread, libmicrohttpd's Date headers): read
	 * it now, before threads whose lists open no file. */
	tzset();
	if (sandbox_install(SANDBOX_MAIN, err, sizeof(err)) < 0) {
		log_error("--seccomp %s: cannot confine the main thread: %s",
			  sandbox_action_name(cfg->seccomp), err);
		return SANDBOX_FAILED_STATUS;
	}
	return 0;
}
