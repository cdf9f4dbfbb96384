/*
 * gdb_addr.h - the address --gdb names: `tcp:[HOST:]PORT` (HOST a numeric IPv4 address,
 * default 127.0.0.1) or `unix:PATH`.  Parsing only: no sockets (cli/config.c checks the
 * syntax with it, gdb_server.c binds what it gives).
 */
#ifndef MPVMM_GDB_ADDR_H
#define MPVMM_GDB_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GDB_ADDR_PATH_MAX 108 /* sun_path */

struct gdb_addr {
	bool unix_socket;
	char host[16];                 /* dotted IPv4 */
	uint16_t port;
	char path[GDB_ADDR_PATH_MAX];
};

/* 0, or -1 with a one-line reason in err. */
int gdb_addr_parse(const char *s, struct gdb_addr *a, char *err, size_t errlen);

#endif
