/*
 * log.c - see log.h.  Each message is formatted into one buffer and written with a single
 * write(2), so lines from different vCPU threads never interleave.
 */
#include "util/log.h"

#include <stdio.h>
#include <unistd.h>

static int quiet;

void log_set_quiet(int q)
{
	quiet = q;
}

static void log_emit(const char *level, const char *fmt, va_list ap)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf), "mpvmm: %s", level);

	if (n < 0)
		return;
	int m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(buf) - 2)
		len = sizeof(buf) - 2;
	buf[len++] = '\n';
	ssize_t ignored = write(STDERR_FILENO, buf, len);
	(void)ignored; /* nowhere left to report a failing stderr */
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	log_emit("", fmt, ap);
	va_end(ap);
}

void log_print(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("", fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("warning: ", fmt, ap);
	va_end(ap);
}

void log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit("error: ", fmt, ap);
	va_end(ap);
}
