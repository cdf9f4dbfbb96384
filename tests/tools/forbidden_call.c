/*
 * forbidden_call.c - a test's LD_PRELOAD library for mpvmm (tests/lib/sandbox.sh): when a
 * thread writes the self-test's verdict ("selftest: PASS", which the console's output
 * thread, mpvmm-conout, writes to standard output), that thread first opens a file, which
 * its system call list does not allow.  Under --seccomp kill the process dies with SIGSYS;
 * with the sandbox off or only logging, the run goes on and passes.
 *
 * Nothing in mpvmm knows of it: the check is on the product as built.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

ssize_t write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);

	if (!real)
		real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	if (fd == STDOUT_FILENO && memmem(buf, n, "selftest: PASS", 14)) {
		int f = openat(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
		if (f >= 0)
			close(f);
	}
	return real(fd, buf, n);
}
