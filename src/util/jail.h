/*
 * jail.h - the process's jail (--jail DIR --uid U --gid G): new mount, network and IPC
 * namespaces, DIR as the root, the user and group U and G with no supplementary groups and
 * no capabilities, no_new_privs, and no descriptor but stdin, stdout, stderr and those the
 * caller keeps.  Entered once, by a process that is still one thread: namespaces and the
 * root directory belong to each thread (a thread created earlier would stay outside).
 *
 * It knows system calls, not what mpvmm keeps open or why (util/hostfile.h does).
 */
#ifndef MPVMM_JAIL_H
#define MPVMM_JAIL_H

#include <stddef.h>
#include <sys/types.h>

struct jail {
	const char *dir;
	uid_t uid;
	gid_t gid;
	const int *keep_fds; /* besides 0, 1 and 2 */
	size_t nkeep;
};

/* Enter it.  Returns 0, or -1 with the step that failed and its errno in err. */
int jail_enter(const struct jail *j, char *err, size_t errlen);

#endif
