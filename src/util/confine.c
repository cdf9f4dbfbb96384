/*
 * confine.c - see confine.h.
 */
#include "util/confine.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* `real` is `dir` itself or a path below it. */
static int below(const char *dir, const char *real)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return 1;
	return !strncmp(real, dir, n) && (real[n] == '\0' || real[n] == '/');
}

enum confine_result confine_check(const char *dir, const char *path, char *why, size_t whylen)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char parent[PATH_MAX], real[PATH_MAX];

	if (!slash || (size_t)(slash - path) >= sizeof(parent)) {
		snprintf(why, whylen, "%s: not an absolute path", path);
		return CONFINE_UNRESOLVED;
	}
	if (!strcmp(base, "..") || !strcmp(base, ".")) {
		snprintf(why, whylen, "%s: names a directory, not a file", path);
		return CONFINE_UNRESOLVED;
	}
	if (slash == path) {
		strcpy(parent, "/");
	} else {
		memcpy(parent, path, (size_t)(slash - path));
		parent[slash - path] = '\0';
	}
	if (!realpath(parent, real)) {
		snprintf(why, whylen, "%s: its directory %s: %s", path, parent, strerror(errno));
		return CONFINE_UNRESOLVED;
	}
	if (!below(dir, real)) {
		snprintf(why, whylen, "%s is outside %s (its directory is %s)", path, dir, real);
		return CONFINE_OUTSIDE;
	}
	return CONFINE_INSIDE;
}
