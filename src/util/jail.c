/*
 * jail.c - see jail.h.  The order matters: descriptors first (an inherited directory would
 * be a way back out), then the namespaces, the root, and last the user (the steps before
 * need root's capabilities; after the user changes, they are gone).
 */
#include "util/jail.h"

#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int failed(char *err, size_t errlen, const char *step, const char *dir)
{
	snprintf(err, errlen, "%s%s%s: %s", step, dir ? " " : "", dir ? dir : "", strerror(errno));
	return -1;
}

static int compare_fds(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* close_range(2) over every gap between the descriptors kept (0, 1, 2 and the caller's). */
static int close_others(const struct jail *j, char *err, size_t errlen)
{
	size_t n = j->nkeep + 3;
	int *keep = malloc(n * sizeof(*keep));

	if (!keep) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	keep[0] = 0, keep[1] = 1, keep[2] = 2;
	if (j->nkeep)
		memcpy(keep + 3, j->keep_fds, j->nkeep * sizeof(*keep));
	qsort(keep, n, sizeof(*keep), compare_fds);
	unsigned next = 0;
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++) {
		if ((unsigned)keep[i] > next)
			r = close_range(next, (unsigned)keep[i] - 1, 0);
		if ((unsigned)keep[i] >= next)
			next = (unsigned)keep[i] + 1;
	}
	if (r == 0)
		r = close_range(next, ~0u, 0);
	free(keep);
	return r == 0 ? 0 : failed(err, errlen, "close_range", NULL);
}

/* New mount, network and IPC namespaces (unshare(2); CAP_SYS_ADMIN).  No PID namespace: it
 * applies to children only, and threads cannot be created across it (clone(2): EINVAL for
 * CLONE_THREAD), so it would take a fork and a parent waiting outside. */
static int new_namespaces(char *err, size_t errlen)
{
	if (unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC) == 0)
		return 0;
	failed(err, errlen, "unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC)", NULL);
	if (errno == EPERM)
		snprintf(err + strlen(err), errlen - strlen(err), " (--jail needs root)");
	return -1;
}

/* DIR becomes "/" (pivot_root(2), its example and NOTES); the old root is detached. */
static int change_root(const char *dir, char *err, size_t errlen)
{
	struct stat st;

	if (stat(dir, &st) < 0)
		return failed(err, errlen, "stat", dir);
	/* Nothing mounted or unmounted from here on reaches the host (mount_namespaces(7)). */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return failed(err, errlen, errno == EINVAL ? "mount(/, MS_REC | MS_PRIVATE) (/ is "
			      "not a mount point here, as in a chroot: a jail needs pivot_root(2), "
			      "which cannot work then)" : "mount(/, MS_REC | MS_PRIVATE)", NULL);
	/* pivot_root wants the new root to be a mount point: DIR bound onto itself. */
	if (mount(dir, dir, NULL, MS_BIND | MS_REC, NULL) < 0)
		return failed(err, errlen, "bind mount of", dir);
	if (chdir(dir) < 0)
		return failed(err, errlen, "chdir", dir);
	/* pivot_root(".", "."): the old root ends up on top of the new one, and is detached. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return failed(err, errlen, "pivot_root into", dir);
	if (umount2(".", MNT_DETACH) < 0)
		return failed(err, errlen, "umount2 of the old root", NULL);
	if (chdir("/") < 0)
		return failed(err, errlen, "chdir /", NULL);
	/* No set-user-ID file, device node or program inside DIR does anything for mpvmm, which
	 * executes nothing and has its device open already. */
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		return failed(err, errlen, "remount of the new root nosuid,nodev,noexec", NULL);
	return 0;
}

/* Groups first, the user last: setresuid gives up the right to change groups.  A user id
 * change from 0 to others clears every capability (capabilities(7), "Effect of user ID
 * changes on capabilities"). */
static int drop_user(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (setgroups(0, NULL) < 0)
		return failed(err, errlen, "setgroups(0)", NULL);
	if (setresgid(gid, gid, gid) < 0)
		return failed(err, errlen, "setresgid", NULL);
	if (setresuid(uid, uid, uid) < 0)
		return failed(err, errlen, "setresuid", NULL);
	/* No execve could give privileges back (set-user-ID, file capabilities). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return failed(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS)", NULL);
	return 0;
}

int jail_enter(const struct jail *j, char *err, size_t errlen)
{
	if (close_others(j, err, errlen) < 0 || new_namespaces(err, errlen) < 0 ||
	    change_root(j->dir, err, errlen) < 0 || drop_user(j->uid, j->gid, err, errlen) < 0)
		return -1;
	return 0;
}
