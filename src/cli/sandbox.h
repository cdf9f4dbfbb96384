/*
 * sandbox.h - the sandbox of a `run` or `restore` process (README "Sandbox"): with --jail,
 * what the VM needs from the host's filesystem opened first, then the jail (util/jail.h);
 * then, unless --seccomp off, the main thread's system call list (util/seccomp.h), before
 * the first VM is built.  Every other thread installs its own list where it starts.
 */
#ifndef MPVMM_CLI_SANDBOX_H
#define MPVMM_CLI_SANDBOX_H

#include "vm/vm.h"

/*
 * Sandbox this process, which must still be one thread.  `restoring` is the snapshot a
 * restore opened (its files are kept), or NULL.  Returns 0, or the exit status to end with
 * (the reason was logged in one line).
 */
int sandbox_process(const struct vm_config *cfg, const struct vm_restore_file *restoring);

#endif
