/*
 * gdb_addr.c - see gdb_addr.h.
 */
#include "gdb/gdb_addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define USAGE "use tcp:[HOST:]PORT or unix:PATH"

static int parse_port(const char *p, uint16_t *port)
{
	char *end;

	if (!isdigit((unsigned char)*p))
		return -1;
	errno = 0;
	unsigned long v = strtoul(p, &end, 10);
	if (errno || *end || v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

static int parse_tcp(const char *s, const char *arg, struct gdb_addr *a, char *err,
		     size_t errlen)
{
	const char *colon = strrchr(s, ':');
	const char *port = colon ? colon + 1 : s;
	size_t hostlen = colon ? (size_t)(colon - s) : 0;
	struct in_addr in;

	snprintf(a->host, sizeof(a->host), "127.0.0.1");
	if (colon) {
		if (hostlen == 0 || hostlen >= sizeof(a->host)) {
			snprintf(err, errlen, "--gdb %s: HOST must be an IPv4 address", arg);
			return -1;
		}
		memcpy(a->host, s, hostlen);
		a->host[hostlen] = 0;
		if (inet_pton(AF_INET, a->host, &in) != 1) {
			snprintf(err, errlen, "--gdb %s: '%s' is not an IPv4 address", arg, a->host);
			return -1;
		}
	}
	if (parse_port(port, &a->port) < 0) {
		snprintf(err, errlen, "--gdb %s: '%s' is not a port (1..65535)", arg, port);
		return -1;
	}
	return 0;
}

int gdb_addr_parse(const char *s, struct gdb_addr *a, char *err, size_t errlen)
{
	memset(a, 0, sizeof(*a));
	if (!strncmp(s, "tcp:", 4))
		return parse_tcp(s + 4, s, a, err, errlen);
	if (!strncmp(s, "unix:", 5)) {
		size_t n = strlen(s + 5);
		if (n == 0 || n >= sizeof(a->path)) {
			snprintf(err, errlen, "--gdb %s: PATH must have 1 to %zu characters", s,
				 sizeof(a->path) - 1);
			return -1;
		}
		a->unix_socket = true;
		memcpy(a->path, s + 5, n + 1);
		return 0;
	}
	snprintf(err, errlen, "--gdb '%s': " USAGE, s);
	return -1;
}
