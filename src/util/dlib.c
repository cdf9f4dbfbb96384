/*
 * dlib.c - see dlib.h.
 */
#include "util/dlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static pthread_mutex_t dlib_lock = PTHREAD_MUTEX_INITIALIZER;

int dlib_load(const char *soname, const struct dlib_sym *syms, size_t n, char *err,
	      size_t errlen)
{
	int r = 0;

	pthread_mutex_lock(&dlib_lock);
	if (n && *syms[n - 1].fn) /* resolved before: the last symbol is set last */
		goto out;
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(err, errlen, "cannot load %s: %s", soname, dlerror());
		r = -1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		void *f = dlsym(h, syms[i].name);
		if (!f) {
			snprintf(err, errlen, "%s has no %s", soname, syms[i].name);
			r = -1;
			goto out; /* the handle stays open: harmless, and symbols may be set */
		}
		*syms[i].fn = f;
	}
out:
	pthread_mutex_unlock(&dlib_lock);
	return r;
}
