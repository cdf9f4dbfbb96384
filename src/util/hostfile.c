/*
 * hostfile.c - see hostfile.h.  A short table, filled by the main thread before any other
 * thread exists and only read afterwards.
 */
#include "util/hostfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* /dev/kvm, a kernel and its initrd, or a snapshot and its memory file. */
#define HOSTFILE_MAX 8

static struct kept {
	char *path;
	int flags;
	int fd;
} kept[HOSTFILE_MAX];
static size_t nkept;

static struct kept *find(const char *path, int flags)
{
	for (size_t i = 0; i < nkept; i++)
		if (!strcmp(kept[i].path, path) &&
		    (kept[i].flags & O_ACCMODE) == (flags & O_ACCMODE))
			return &kept[i];
	return NULL;
}

int hostfile_keep(const char *path, int flags)
{
	if (find(path, flags))
		return 0;
	if (nkept == HOSTFILE_MAX) {
		errno = EMFILE;
		return -1;
	}
	char *copy = strdup(path);
	if (!copy)
		return -1;
	int fd = open(path, flags | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(copy);
		errno = e;
		return -1;
	}
	kept[nkept++] = (struct kept){ .path = copy, .flags = flags, .fd = fd };
	return 0;
}

int hostfile_open(const char *path, int flags)
{
	const struct kept *k = find(path, flags);

	if (!k)
		return open(path, flags);
	int fd = fcntl(k->fd, (flags & O_CLOEXEC) ? F_DUPFD_CLOEXEC : F_DUPFD, 0);
	if (fd < 0)
		return -1;
	/* A device has no offset to rewind (ESPIPE): nothing to do there. */
	if (lseek(fd, 0, SEEK_SET) < 0 && errno != ESPIPE) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

size_t hostfile_fds(int *fds, size_t max)
{
	size_t n = nkept < max ? nkept : max;

	for (size_t i = 0; i < n; i++)
		fds[i] = kept[i].fd;
	return n;
}
