/*
 * hostfile.h - files of the host a VM needs (/dev/kvm, --kernel, --initrd, a snapshot and
 * its memory file), opened once before the process enters its jail (util/jail.h), where
 * their paths no longer lead anywhere, and handed out again by path afterwards: the VM
 * built after a guest reset (--on-reboot restart) opens them as the first one did.
 *
 * It knows paths and descriptors, not what the files are.
 */
#ifndef MPVMM_HOSTFILE_H
#define MPVMM_HOSTFILE_H

#include <stddef.h>

/*
 * Open `path` now (flags as open(2); O_CLOEXEC is added) and keep it for hostfile_open.
 * Returns 0, or -1 with errno (ENOENT for a file that is not there).
 */
int hostfile_keep(const char *path, int flags);

/*
 * open(path, flags): a new descriptor of the kept file if `path` was kept with the same
 * access mode (its offset rewound: the descriptors share it), else open(2) itself.
 */
int hostfile_open(const char *path, int flags);

/* The kept descriptors, for the jail, which closes every other one: how many, up to max. */
size_t hostfile_fds(int *fds, size_t max);

#endif
