/*
 * forbidden_call.c - a test's LD_PRELOAD library for mpvmm (tests/lib/sandbox.sh): when a
 * thread writes a chosen line, that thread first opens a file, which its system call list
 * does not allow.  Under --seccomp kill the process dies with SIGSYS; with the sandbox off
 * or only logging, the run goes on and passes.  The line: the self-test's verdict
 * ("selftest: PASS", which the console's output thread, mpvmm-conout, writes), or with
 * FORBIDDEN_ON_WARNING=1 in the environment a warning about a SIPI the guest sent in vain
 * (--selftest-mistakes on the software CPU), which the sending vCPU's thread writes.
 *
 * Nothing in mpvmm knows of it: the check is on the product as built.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t write(int fd, const void *buf, size_t n)
{
	static ssize_t (*real)(int, const void *, size_t);

	if (!real)
		real = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	const char *on_warning = getenv("FORBIDDEN_ON_WARNING");
	bool hit = on_warning && *on_warning == '1'
			   ? fd == STDERR_FILENO && memmem(buf, n, "ignored in state", 16)
			   : fd == STDOUT_FILENO && memmem(buf, n, "selftest: PASS", 14);

	if (hit) {
		int f = openat(AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
		if (f >= 0)
			close(f);
	}
	return real(fd, buf, n);
}
