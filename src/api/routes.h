/*
 * routes.h - the control API's request handling, apart from HTTP transport: a request (method,
 * decoded path, the `format` query argument, body) becomes a response (status, body, headers)
 * through a table of routes and the VM's api_ops.  The server (api.c) feeds it from
 * libmicrohttpd; the fuzzer feeds it directly.  Knows nothing of sockets or threads.
 */
#ifndef MPVMM_API_ROUTES_H
#define MPVMM_API_ROUTES_H

#include <stddef.h>

#include "api/api.h"

struct api_request {
	const char *method;
	const char *path;   /* decoded, without the query */
	const char *format; /* ?format=..., or NULL */
	const char *body;   /* body_len bytes, not NUL-terminated; NULL if none */
	size_t body_len;
};

struct api_response {
	unsigned status;          /* HTTP status */
	char *body;               /* malloc'd */
	size_t len;
	const char *content_type; /* static */
	const char *allow;        /* static; for 405 */
};

/* Always fills resp (a 500 with an empty body if even that cannot be allocated). */
void api_route(const struct api_ops *ops, const struct api_request *req,
	       struct api_response *resp);
/* An {"error": ...} response. */
void api_error(struct api_response *resp, unsigned status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void api_response_free(struct api_response *resp);

#endif
