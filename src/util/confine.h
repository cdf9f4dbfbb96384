/*
 * confine.h - whether a file path stays inside a directory, as the kernel will resolve it:
 * the file's directory with every symbolic link and ".." followed.  For paths that come
 * from outside (an API client's snapshot path); it knows nothing of what the file is for.
 */
#ifndef MPVMM_UTIL_CONFINE_H
#define MPVMM_UTIL_CONFINE_H

#include <stddef.h>

enum confine_result {
	CONFINE_INSIDE,
	CONFINE_OUTSIDE,     /* resolves outside the directory */
	CONFINE_UNRESOLVED,  /* its directory does not resolve (missing, not a directory...) */
};

/*
 * Where `path` (absolute) lands against `dir` (absolute and already resolved: realpath).
 * The last component is not followed: a file is created beside it and renamed over it,
 * which replaces a symbolic link rather than writing through it.  A reason goes to why.
 */
enum confine_result confine_check(const char *dir, const char *path, char *why, size_t whylen);

#endif
