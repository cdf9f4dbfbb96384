/*
 * dlib.h - load a shared library and some of its functions when a feature is first used.
 *
 * libmicrohttpd and libcurl bring TLS stacks (gnutls, OpenSSL, Kerberos...) whose loading
 * alone costs a process several MiB of resident memory.  A VM that serves no API and a ctl
 * client that is not run should not pay for them, so the API server and the ctl client open
 * their library on first use (dlopen) instead of linking it.  Their headers are still used
 * at build time, so the function types are checked by the compiler.
 */
#ifndef MPVMM_DLIB_H
#define MPVMM_DLIB_H

#include <stddef.h>

struct dlib_sym {
	const char *name;
	void **fn; /* where to store the address (a function pointer, through a cast) */
};

/*
 * dlopen(soname) (once per process; later calls return at once) and resolve every symbol.
 * Returns 0, or -1 with a reason naming the library and the missing symbol in err.
 */
int dlib_load(const char *soname, const struct dlib_sym *syms, size_t n, char *err,
	      size_t errlen);

#endif
