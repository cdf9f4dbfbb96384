/*
 * test_api.c - the control API end to end: the real server on a real UNIX socket in a
 * temporary directory, over the real MP interface of a VM without a CPU (array_vm.c), driven
 * with libcurl and with raw sockets for what a well-behaved client never sends.  Every route,
 * every error path, limits (body size, connections), hostile clients (disconnecting mid-
 * request, garbage, slow senders), many clients at once, socket file handling, and the
 * `mpvmm ctl` client's output and exit statuses.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdatomic.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/api.h"
#include "array_vm.h"
#include "cli/ctl.h"

#define NCPUS 4

struct fixture {
	char dir[64];
	char path[128];
	struct array_vm *vm;
	struct api *api;
};

static struct fixture *fx; /* the current test's, for the functions below */

static int setup(void **state)
{
	char err[256];

	fx = calloc(1, sizeof(*fx));
	strcpy(fx->dir, "/tmp/mpvmm-api-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/api.sock", fx->dir);
	fx->vm = array_vm_create(NCPUS, 0);
	fx->api = api_start(fx->path, &fx->vm->ops, err, sizeof(err));
	if (!fx->api)
		fail_msg("api_start: %s", err);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	api_stop(fx->api);
	array_vm_destroy(fx->vm);
	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	fx = NULL;
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- HTTP with libcurl -------------------------------------------------------------- */

struct reply {
	CURLcode rc;
	long status;
	char *body;
	size_t len;
	char allow[128];
	char type[128];
};

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	char *b = realloc(r->body, r->len + size * n + 1);

	assert_non_null(b);
	memcpy(b + r->len, data, size * n);
	r->len += size * n;
	b[r->len] = 0;
	r->body = b;
	return size * n;
}

static void header_value(const char *line, size_t len, char *out, size_t max)
{
	const char *v = memchr(line, ':', len);
	size_t n = 0;

	for (v++; v < line + len && *v == ' '; v++)
		;
	while (v + n < line + len && v[n] != '\r' && v[n] != '\n' && n + 1 < max)
		n++;
	memcpy(out, v, n);
	out[n] = 0;
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;

	if (!strncasecmp(line, "Allow:", 6))
		header_value(line, size * n, r->allow, sizeof(r->allow));
	if (!strncasecmp(line, "Content-Type:", 13))
		header_value(line, size * n, r->type, sizeof(r->type));
	return size * n;
}

struct upload {
	size_t left;
};

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t len = size * n < u->left ? size * n : u->left;

	memset(buf, 'x', len);
	u->left -= len;
	return len;
}

/* A request; body of body_len bytes, or a chunked body of `chunked` bytes if body is NULL. */
static struct reply http_ex(const char *method, const char *path, const char *body,
			    size_t body_len, size_t chunked)
{
	struct reply r = { 0 };
	char url[256];
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = NULL;
	struct upload up = { chunked };

	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, fx->path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 20L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)body_len);
		/*
		 * A body the server refuses by its Content-Length is answered before it is
		 * read, and the connection closed: without "Expect: 100-continue" the client
		 * may still be sending and see a reset instead of the 413.  Real clients
		 * (curl itself, above 1 MiB) ask first; so does this one for oversized bodies.
		 */
		if (body_len > API_MAX_BODY) {
			hdr = curl_slist_append(hdr, "Expect: 100-continue");
			curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		}
	} else if (chunked) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, &up);
		hdr = curl_slist_append(hdr, "Transfer-Encoding: chunked");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	}
	r.rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdr);
	return r;
}

static struct reply http(const char *method, const char *path, const char *body)
{
	return http_ex(method, path, body, body ? strlen(body) : 0, 0);
}

/* A request that must succeed with `status` and a JSON body; returns the parsed body. */
static json_t *expect_json(const char *method, const char *path, const char *body, long status)
{
	struct reply r = http(method, path, body);
	json_error_t e;

	if (r.rc != CURLE_OK)
		fail_msg("%s %s: %s", method, path, curl_easy_strerror(r.rc));
	if (r.status != status)
		fail_msg("%s %s: HTTP %ld, want %ld: %s", method, path, r.status, status, r.body);
	assert_string_equal(r.type, "application/json");
	json_t *o = json_loads(r.body, 0, &e);
	if (!o)
		fail_msg("%s %s: not JSON (%s): %s", method, path, e.text, r.body);
	free(r.body);
	return o;
}

/* An error reply with `status` whose message contains `want`. */
static void expect_error(const char *method, const char *path, const char *body, long status,
			 const char *want)
{
	json_t *o = expect_json(method, path, body, status);
	const char *msg = json_string_value(json_object_get(o, "error"));

	if (!msg || !strstr(msg, want))
		fail_msg("%s %s: error '%s' lacks '%s'", method, path, msg ? msg : "(none)", want);
	json_decref(o);
}

static const char *str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_int_t num(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* ---- raw sockets -------------------------------------------------------------------- */

static int raw_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(a.sun_path, path);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void raw_send(int fd, const void *buf, size_t len)
{
	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Read until EOF or timeout; returns the bytes read (NUL-terminated in buf). */
static size_t raw_read(int fd, char *buf, size_t max, int timeout_ms)
{
	size_t n = 0;
	uint64_t end = now_ms() + (uint64_t)timeout_ms;

	while (n + 1 < max) {
		struct pollfd p = { fd, POLLIN, 0 };
		int left = (int)(end - now_ms());
		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		ssize_t k = recv(fd, buf + n, max - 1 - n, 0);
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	buf[n] = 0;
	return n;
}

/* ---- routes ------------------------------------------------------------------------- */

static void test_get_vm(void **state)
{
	json_t *o = expect_json("GET", "/vm", NULL, 200);

	assert_int_equal(num(o, "cpus"), NCPUS);
	assert_int_equal(num(o, "cores"), NCPUS);
	assert_int_equal(num(o, "boot_cpu"), 0);
	assert_int_equal(num(o, "memory"), 256 << 20);
	assert_string_equal(str(o, "state"), "running");
	assert_string_equal(str(o, "mp_backend"), "array");
	assert_true(num(o, "uptime_ns") > 0);
	json_decref(o);

	/* HEAD: the same status and type, no body. */
	struct reply r = http("HEAD", "/vm", NULL);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.len, 0);
	free(r.body);
}

static void test_get_vcpus(void **state)
{
	json_t *o = expect_json("GET", "/vcpus", NULL, 200);
	json_t *list = json_object_get(o, "vcpus");

	assert_int_equal(json_array_size(list), NCPUS);
	json_t *bsp = json_array_get(list, 0), *ap = json_array_get(list, 3);
	assert_true(json_is_true(json_object_get(bsp, "is_bsp")));
	assert_true(json_is_false(json_object_get(ap, "is_bsp")));
	assert_string_equal(str(bsp, "mp_state"), "RUNNABLE");
	assert_string_equal(str(ap, "mp_state"), "UNINITIALIZED");
	assert_int_equal(num(ap, "apic_id"), 4); /* 3-core packing: 0 1 2 4 */
	assert_string_equal(str(bsp, "rip"), "0xffffffff80000000");
	assert_true(json_is_null(json_object_get(ap, "rip")));
	assert_int_equal(num(json_object_get(ap, "exits"), "io"), 31);
	assert_int_equal(num(json_object_get(ap, "exits"), "hlt"), 0);
	assert_int_equal(num(json_object_get(ap, "carried"), "int3"), 3);
	assert_null(json_object_get(ap, "sipi_vector"));
	json_t *tis = json_object_get(ap, "time_in_state_ns");
	assert_true(json_is_integer(json_object_get(tis, "UNINITIALIZED")));
	assert_int_equal(num(tis, "RUNNABLE"), 0);
	json_decref(o);
}

static void test_get_vcpu(void **state)
{
	json_t *o = expect_json("GET", "/vcpus/2", NULL, 200);

	assert_int_equal(num(o, "id"), 2);
	assert_int_equal(num(o, "apic_id"), 2);
	assert_string_equal(str(o, "mp_state"), "UNINITIALIZED");
	json_decref(o);
	o = expect_json("GET", "/vcpus/2/", NULL, 200); /* a trailing slash is the same */
	assert_int_equal(num(o, "id"), 2);
	json_decref(o);
}

static void test_get_regs(void **state)
{
	json_t *o = expect_json("GET", "/vcpus/2/regs", NULL, 200);

	assert_int_equal(num(o, "id"), 2);
	assert_string_equal(str(o, "rip"), "0xffffffff80000002");
	assert_string_equal(str(o, "rflags"), "0x246");
	assert_string_equal(str(o, "cr3"), "0x3000");
	assert_string_equal(str(o, "rax"), "0x0");
	json_t *cs = json_object_get(o, "cs");
	assert_int_equal(num(cs, "selector"), 0x10);
	assert_true(json_is_true(json_object_get(cs, "long")));
	json_t *irq = json_object_get(json_object_get(o, "events"), "interrupt");
	assert_true(json_is_true(json_object_get(irq, "shadow")));
	json_decref(o);
	o = expect_json("GET", "/vcpus/0/regs", NULL, 200); /* no events known: null */
	assert_true(json_is_null(json_object_get(o, "events")));
	json_decref(o);
	json_decref(expect_json("GET", "/vcpus/4/regs", NULL, 404));
	json_decref(expect_json("POST", "/vcpus/1/regs", NULL, 405));
}

static void test_get_lapic(void **state)
{
	json_t *o = expect_json("GET", "/vcpus/1/lapic", NULL, 200);

	assert_int_equal(num(o, "id"), 1);
	assert_string_equal(str(o, "apic_id"), "0x1000000");
	assert_int_equal(num(o, "ppr"), 0xe0);
	json_t *irr = json_object_get(o, "irr"), *isr = json_object_get(o, "isr");
	assert_int_equal(json_array_size(irr), 1);
	assert_int_equal(json_integer_value(json_array_get(irr, 0)), 0xfb);
	assert_int_equal(json_array_size(isr), 1);
	assert_int_equal(json_integer_value(json_array_get(isr, 0)), 0xec);
	assert_int_equal(json_array_size(json_object_get(o, "tmr")), 0);
	assert_string_equal(str(json_object_get(o, "lvt"), "timer"), "0x400ec");
	assert_int_equal(num(json_object_get(o, "timer"), "initial"), 1000);
	json_decref(o);
	json_decref(expect_json("GET", "/vcpus/7/lapic", NULL, 404));
	json_decref(expect_json("DELETE", "/vcpus/1/lapic", NULL, 405));
}

static void test_put_mp_state(void **state)
{
	json_t *o = expect_json("PUT", "/vcpus/1/mp_state", "{\"state\": \"halted\"}", 200);

	assert_string_equal(str(o, "mp_state"), "HALTED");
	json_decref(o);
	assert_int_equal(array_vm_state(fx->vm, 1), MP_STATE_HALTED);
	o = expect_json("GET", "/vcpus/1", NULL, 200);
	assert_string_equal(str(o, "mp_state"), "HALTED");
	json_decref(o);

	expect_error("PUT", "/vcpus/1/mp_state", "{\"state\": \"NAPPING\"}", 400, "'NAPPING'");
	expect_error("PUT", "/vcpus/1/mp_state", "{\"state\": 3}", 400, "must be one of");
	expect_error("PUT", "/vcpus/1/mp_state", "{\"state\": \"RUNNABLE\"", 400, "invalid JSON");
	expect_error("PUT", "/vcpus/1/mp_state", "\"RUNNABLE\"", 400, "JSON object");
	expect_error("PUT", "/vcpus/1/mp_state", "{\"stat\": \"RUNNABLE\"}", 400, "unknown field");
	expect_error("PUT", "/vcpus/1/mp_state",
		     "{\"state\": \"RUNNABLE\", \"state\": \"HALTED\"}", 400, "invalid JSON");
	expect_error("PUT", "/vcpus/1/mp_state", NULL, 400, "needs a JSON object");
	expect_error("PUT", "/vcpus/1/mp_state", "{\"state\": \"\xff\xfe\"}", 400, "invalid JSON");
	/* The VM's own refusal comes through with its status and reason. */
	expect_error("PUT", "/vcpus/1/mp_state", "{\"state\": \"SIPI_RECEIVED\"}", 400,
		     "send a SIPI");
	assert_int_equal(array_vm_state(fx->vm, 1), MP_STATE_HALTED);
}

static void test_init_sipi(void **state)
{
	expect_error("POST", "/vcpus/3/sipi", "{\"vector\": 8}", 409, "not waiting for a SIPI");
	json_t *o = expect_json("POST", "/vcpus/3/init", NULL, 200);
	assert_string_equal(str(o, "sent"), "INIT");
	json_decref(o);
	assert_int_equal(array_vm_state(fx->vm, 3), MP_STATE_INIT_RECEIVED);

	expect_error("POST", "/vcpus/3/sipi", "{\"vector\": 256}", 400, "0 to 255");
	expect_error("POST", "/vcpus/3/sipi", "{\"vector\": -1}", 400, "0 to 255");
	expect_error("POST", "/vcpus/3/sipi", "{\"vector\": \"8\"}", 400, "0 to 255");
	expect_error("POST", "/vcpus/3/sipi", "{\"vector\": 8.0}", 400, "0 to 255");
	expect_error("POST", "/vcpus/3/sipi", "{}", 400, "0 to 255");
	expect_error("POST", "/vcpus/3/sipi", NULL, 400, "needs a JSON object");
	assert_int_equal(array_vm_state(fx->vm, 3), MP_STATE_INIT_RECEIVED);

	o = expect_json("POST", "/vcpus/3/sipi", "{\"vector\": 8}", 200);
	assert_int_equal(num(o, "vector"), 8);
	json_decref(o);
	o = expect_json("GET", "/vcpus/3", NULL, 200);
	assert_string_equal(str(o, "mp_state"), "RUNNABLE");
	assert_int_equal(num(o, "sipi_vector"), 8);
	json_t *tis = json_object_get(o, "time_in_state_ns");
	assert_true(num(tis, "INIT_RECEIVED") > 0);
	json_decref(o);
}

static void test_bad_ids(void **state)
{
	expect_error("GET", "/vcpus/4", NULL, 404, "no vCPU 4: this VM has 4");
	expect_error("GET", "/vcpus/4294967295", NULL, 404, "no vCPU");
	expect_error("GET", "/vcpus/4294967296", NULL, 400, "not a number");
	expect_error("GET", "/vcpus/99999999999999999999", NULL, 400, "not a number");
	expect_error("GET", "/vcpus/abc", NULL, 400, "not a number");
	expect_error("GET", "/vcpus/-1", NULL, 400, "not a number");
	expect_error("GET", "/vcpus/1x", NULL, 400, "not a number");
	expect_error("PUT", "/vcpus/7/mp_state", "{\"state\": \"HALTED\"}", 404, "no vCPU 7");
	expect_error("POST", "/vcpus/9/init", NULL, 404, "no vCPU 9");
	expect_error("GET", "/vcpus//", NULL, 404, "no such resource");
	expect_error("GET", "/", NULL, 404, "no such resource");
	expect_error("GET", "/vm/pause/extra", NULL, 404, "no such resource");
}

static void expect_405(const char *method, const char *path, const char *allow)
{
	struct reply r = http(method, path, NULL);

	assert_int_equal(r.status, 405);
	assert_string_equal(r.allow, allow);
	assert_non_null(strstr(r.body, "not allowed"));
	free(r.body);
}

static void test_methods(void **state)
{
	expect_405("DELETE", "/vm", "GET, HEAD");
	expect_405("GET", "/vm/pause", "POST");
	expect_405("PUT", "/vm/shutdown", "POST");
	expect_405("POST", "/vcpus", "GET, HEAD");
	expect_405("GET", "/vcpus/1/mp_state", "PUT");
	expect_405("PUT", "/vcpus/1/init", "POST");
	expect_405("PATCH", "/trace", "GET, HEAD, DELETE");
	expect_405("BREW", "/vcpus/0", "GET, HEAD");
}

static void test_pause_resume_shutdown(void **state)
{
	json_t *o = expect_json("POST", "/vm/pause", NULL, 200);
	assert_string_equal(str(o, "state"), "paused");
	json_decref(o);
	o = expect_json("GET", "/vm", NULL, 200);
	assert_string_equal(str(o, "state"), "paused");
	json_decref(o);
	expect_error("POST", "/vm/pause", NULL, 409, "the VM is paused, not running");
	o = expect_json("POST", "/vm/resume", NULL, 200);
	assert_string_equal(str(o, "state"), "running");
	json_decref(o);
	expect_error("POST", "/vm/resume", NULL, 409, "not paused");
	o = expect_json("POST", "/vm/shutdown", NULL, 200);
	assert_string_equal(str(o, "state"), "shutting-down");
	json_decref(o);
	expect_error("POST", "/vcpus/1/init", NULL, 409, "shutting down");
}

static void test_breakpoints(void **state)
{
	json_t *o = expect_json("GET", "/vm/breakpoints", NULL, 200);
	assert_string_equal(str(o, "armed"), "");
	assert_true(json_is_null(json_object_get(o, "last_break")));
	json_decref(o);
	o = expect_json("PUT", "/vm/breakpoints", "{\"events\": \"sipi:2,init\"}", 200);
	assert_string_equal(str(o, "armed"), "sipi:2,init");
	json_decref(o);
	expect_error("PUT", "/vm/breakpoints", "{\"events\": \"bogus\"}", 400,
		     "unknown event 'bogus'");
	expect_error("PUT", "/vm/breakpoints", "{\"events\": \"sipi:99\"}", 400,
		     "no vCPU index");
	expect_error("PUT", "/vm/breakpoints", "{\"events\": \"init,init\"}", 400, "repeats");
	expect_error("PUT", "/vm/breakpoints", "{\"events\": 3}", 400, "must be a string");
	expect_error("PUT", "/vm/breakpoints", "{\"event\": \"init\"}", 400, "unknown field");
	o = expect_json("GET", "/vm/breakpoints", NULL, 200);
	assert_string_equal(str(o, "armed"), "sipi:2,init"); /* a refused PUT changes nothing */
	json_decref(o);
	o = expect_json("DELETE", "/vm/breakpoints", NULL, 200);
	assert_string_equal(str(o, "armed"), "");
	json_decref(o);
	expect_error("POST", "/vm/breakpoints", NULL, 405, "");
}

static void test_trace_routes(void **state)
{
	json_decref(expect_json("POST", "/vcpus/2/init", NULL, 200));
	json_decref(expect_json("POST", "/vcpus/2/sipi", "{\"vector\": 16}", 200));

	json_t *o = expect_json("GET", "/trace", NULL, 200);
	json_t *ev = json_object_get(o, "traceEvents");
	size_t i, sipis = 0, states = 0;
	json_t *e;
	json_array_foreach(ev, i, e) {
		if (!strcmp(str(e, "ph"), "i") && !strcmp(str(e, "name"), "SIPI")) {
			sipis++;
			assert_int_equal(num(json_object_get(e, "args"), "vector"), 16);
		}
		states += !strcmp(str(e, "ph"), "X");
	}
	assert_int_equal(sipis, 1);
	assert_true(states >= NCPUS + 2);
	json_decref(o);
	json_decref(expect_json("GET", "/trace?format=chrome", NULL, 200));

	struct reply r = http("GET", "/trace?format=text", NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.type, "text/plain; charset=utf-8");
	assert_non_null(strstr(r.body, "vector 0x10 from vCPU 0"));
	free(r.body);
	r = http("GET", "/trace?format=svg", NULL);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.type, "image/svg+xml");
	assert_non_null(strstr(r.body, "</svg>"));
	free(r.body);
	expect_error("GET", "/trace?format=pdf", NULL, 400, "unknown trace format 'pdf'");

	o = expect_json("DELETE", "/trace", NULL, 200);
	assert_true(json_is_true(json_object_get(o, "cleared")));
	json_decref(o);
	r = http("GET", "/trace?format=text", NULL);
	assert_non_null(strstr(r.body, ", 0 events"));
	free(r.body);
}

/* ---- limits and hostile clients ----------------------------------------------------- */

static void test_body_too_large(void **state)
{
	size_t big = API_MAX_BODY + 1;
	char *body = malloc(big);

	memset(body, ' ', big);
	struct reply r = http_ex("PUT", "/vcpus/1/mp_state", body, big, 0);
	assert_int_equal(r.status, 413);
	assert_non_null(strstr(r.body, "too large"));
	free(r.body);
	/* Exactly at the cap is read (and is no JSON object). */
	r = http_ex("PUT", "/vcpus/1/mp_state", body, API_MAX_BODY, 0);
	assert_int_equal(r.status, 400);
	free(r.body);
	free(body);
	/* Without Content-Length (chunked): read up to the cap, then refused all the same. */
	r = http_ex("PUT", "/vcpus/1/mp_state", NULL, 0, 3 * API_MAX_BODY);
	assert_int_equal(r.status, 413);
	free(r.body);
	/* An endless chunked body is cut off: the connection is dropped, nothing else. */
	r = http_ex("PUT", "/vcpus/1/mp_state", NULL, 0, 64 * API_MAX_BODY);
	assert_true(r.rc != CURLE_OK || r.status == 413);
	free(r.body);
	json_decref(expect_json("GET", "/vm", NULL, 200));
}

static void test_disconnect_mid_request(void **state)
{
	static const char partial[] = "PUT /vcpus/1/mp_state HTTP/1.1\r\nHost: x\r\n"
				      "Content-Length: 100\r\n\r\n{\"state\": \"HAL";

	for (int i = 0; i < 20; i++) {
		int fd = raw_connect(fx->path);
		assert_true(fd >= 0);
		raw_send(fd, partial, i % 2 ? sizeof(partial) - 1 : 30); /* in the body or headers */
		close(fd);
	}
	/* A client that goes away before reading a large answer. */
	int fd = raw_connect(fx->path);
	raw_send(fd, "GET /trace?format=svg HTTP/1.1\r\nHost: x\r\n\r\n", 44);
	close(fd);
	assert_int_equal(array_vm_state(fx->vm, 1), MP_STATE_UNINITIALIZED);
	json_decref(expect_json("GET", "/vm", NULL, 200));
}

static void test_garbage(void **state)
{
	char buf[4096], junk[2048];

	srand(7);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(rand() & 0xff);
	int fd = raw_connect(fx->path);
	/* The server may close on the junk before the end of headers arrives: that send may
	 * fail (EPIPE, ECONNRESET), and either answer is right. */
	if (send(fd, junk, sizeof(junk), MSG_NOSIGNAL) == (ssize_t)sizeof(junk))
		(void)send(fd, "\r\n\r\n", 4, MSG_NOSIGNAL);
	raw_read(fd, buf, sizeof(buf), 3000); /* an error status or a closed connection */
	assert_true(buf[0] == 0 || !strncmp(buf, "HTTP/1.1 4", 10));
	close(fd);

	fd = raw_connect(fx->path);
	raw_send(fd, "GET /vm HTTP/1.1\r\nHost: x\r\nContent-Length: zzz\r\n\r\n", 50);
	raw_read(fd, buf, sizeof(buf), 3000);
	assert_true(buf[0] == 0 || !strncmp(buf, "HTTP/1.1 4", 10));
	close(fd);

	/* A request line of an absurd length. */
	char *line = malloc(200000);
	memset(line, 'a', 200000);
	memcpy(line, "GET /", 5);
	fd = raw_connect(fx->path);
	send(fd, line, 200000, MSG_NOSIGNAL);
	raw_read(fd, buf, sizeof(buf), 3000);
	assert_true(buf[0] == 0 || !strncmp(buf, "HTTP/1.1 4", 10));
	close(fd);
	free(line);

	/* Percent-encoded control bytes in the path are quoted back harmlessly. */
	expect_error("GET", "/vcpus/%01%ff", NULL, 400, "not a number");
	json_decref(expect_json("GET", "/vm", NULL, 200));
}

#define CLIENTS 16
#define REQUESTS 25

static void *client(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	uintptr_t bad = 0;

	for (int i = 0; i < REQUESTS; i++) {
		struct reply r = i % 3 == 0 ? http("GET", "/vcpus", NULL) :
				 i % 3 == 1 ? http("PUT", id % 2 ? "/vcpus/1/mp_state" :
						   "/vcpus/2/mp_state", "{\"state\": \"HALTED\"}") :
				 http("GET", "/trace?format=text", NULL);
		if (r.rc != CURLE_OK || r.status != 200)
			fprintf(stderr, "client %lu, request %d: curl code %d, HTTP status %ld, body %s\n",
				(unsigned long)id, i, (int)r.rc, (long)r.status, r.body ? r.body : "");
		bad += r.rc != CURLE_OK || r.status != 200;
		free(r.body);
	}
	return (void *)bad;
}

static void test_many_clients(void **state)
{
	pthread_t th[CLIENTS];

	for (uintptr_t i = 0; i < CLIENTS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, client, (void *)i), 0);
	for (int i = 0; i < CLIENTS; i++) {
		void *bad;
		pthread_join(th[i], &bad);
		assert_int_equal((uintptr_t)bad, 0);
	}
	assert_int_equal(array_vm_state(fx->vm, 1), MP_STATE_HALTED);
}

static void test_slow_client_does_not_stall(void **state)
{
	int slow[4];

	/* Clients that start a request and then say nothing more. */
	for (int i = 0; i < 4; i++) {
		slow[i] = raw_connect(fx->path);
		raw_send(slow[i], "GET /vm HTTP/1.1\r\nHo", 20);
	}
	uint64_t t0 = now_ms();
	json_decref(expect_json("GET", "/vcpus", NULL, 200));
	assert_true(now_ms() - t0 < 2000);
	for (int i = 0; i < 4; i++)
		close(slow[i]);
}

struct slow_arg {
	long status;
};

static void *slow_request(void *arg)
{
	struct slow_arg *a = arg;
	struct reply r = http("GET", "/vcpus/1", NULL);

	a->status = r.status;
	free(r.body);
	return NULL;
}

static void test_slow_vm_does_not_stall(void **state)
{
	struct slow_arg a = { 0 };
	pthread_t th;

	/* A request waiting on a vCPU holds up its own connection only. */
	fx->vm->delay_ms = 1500;
	assert_int_equal(pthread_create(&th, NULL, slow_request, &a), 0);
	usleep(200 * 1000);
	uint64_t t0 = now_ms();
	json_decref(expect_json("GET", "/vm", NULL, 200));
	assert_true(now_ms() - t0 < 1000);
	pthread_join(th, NULL);
	assert_int_equal(a.status, 200);
	fx->vm->delay_ms = 0;
}

static void *shutdown_request(void *arg)
{
	struct reply *r = arg;

	*r = http("POST", "/vm/shutdown", NULL);
	return NULL;
}

/*
 * The VM stops the server as soon as it is asked to shut down, as mpvmm does: the client
 * that asked still gets its answer.
 */
static void test_shutdown_answer_survives_stop(void **state)
{
	for (int round = 0; round < 20; round++) {
		struct reply r = { 0 };
		pthread_t th;
		char err[256];

		fx->vm->shutdowns = 0;
		assert_int_equal(pthread_create(&th, NULL, shutdown_request, &r), 0);
		while (!atomic_load(&fx->vm->shutdowns))
			usleep(100);
		api_stop(fx->api);
		fx->api = NULL;
		pthread_join(th, NULL);
		if (r.rc != CURLE_OK || r.status != 200)
			fail_msg("round %d: %s, HTTP %ld", round, curl_easy_strerror(r.rc), r.status);
		assert_non_null(strstr(r.body, "shutting-down"));
		free(r.body);
		fx->api = api_start(fx->path, &fx->vm->ops, err, sizeof(err));
		assert_non_null(fx->api);
	}
}

static void test_connection_limit(void **state)
{
	int fds[API_MAX_CONNECTIONS + 8];
	char buf[64];
	int refused = 0;

	for (int i = 0; i < API_MAX_CONNECTIONS + 8; i++)
		fds[i] = raw_connect(fx->path);
	/* The connections beyond the limit are closed at once, without an answer. */
	for (int i = API_MAX_CONNECTIONS; i < API_MAX_CONNECTIONS + 8; i++) {
		if (fds[i] < 0 || raw_read(fds[i], buf, sizeof(buf), 2000) == 0)
			refused++;
	}
	assert_true(refused >= 1);
	for (int i = 0; i < API_MAX_CONNECTIONS + 8; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* And once they are gone, everyone is served again. */
	for (int tries = 0; tries < 50; tries++) {
		struct reply r = http("GET", "/vm", NULL);
		long st = r.status;
		free(r.body);
		if (st == 200)
			return;
		usleep(100 * 1000);
	}
	fail_msg("the server did not recover from the connection flood");
}

/* ---- the socket file ---------------------------------------------------------------- */

static void test_socket_file(void **state)
{
	struct stat st;
	char err[256];

	assert_int_equal(lstat(fx->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	/* A live socket is not taken over. */
	struct api *second = api_start(fx->path, &fx->vm->ops, err, sizeof(err));
	assert_null(second);
	assert_non_null(strstr(err, "another process is serving"));
	json_decref(expect_json("GET", "/vm", NULL, 200)); /* and the first still serves */

	/* api_stop removes its socket file. */
	api_stop(fx->api);
	fx->api = NULL;
	assert_int_equal(lstat(fx->path, &st), -1);
	assert_int_equal(errno, ENOENT);
}

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

/* Starting and stopping leaves no descriptor and no thread behind. */
static void test_restart_leaks_nothing(void **state)
{
	char err[256];

	api_stop(fx->api);
	fx->api = NULL;
	int before = count_fds();
	for (int i = 0; i < 5; i++) {
		fx->api = api_start(fx->path, &fx->vm->ops, err, sizeof(err));
		assert_non_null(fx->api);
		json_decref(expect_json("GET", "/vm", NULL, 200));
		api_stop(fx->api);
		fx->api = NULL;
	}
	assert_int_equal(count_fds(), before);
}

static void test_stale_socket_replaced(void **state)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char err[256];

	api_stop(fx->api);
	fx->api = NULL;
	/* What a crashed VM leaves behind: a socket file nobody listens on. */
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(a.sun_path, fx->path);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	fx->api = api_start(fx->path, &fx->vm->ops, err, sizeof(err));
	if (!fx->api)
		fail_msg("stale socket not replaced: %s", err);
	json_decref(expect_json("GET", "/vm", NULL, 200));
}

static void test_not_a_socket(void **state)
{
	char err[256], file[160], buf[16] = "";

	/* A regular file is never removed. */
	snprintf(file, sizeof(file), "%s/precious", fx->dir);
	FILE *f = fopen(file, "w");
	fputs("keep me", f);
	fclose(f);
	assert_null(api_start(file, &fx->vm->ops, err, sizeof(err)));
	assert_non_null(strstr(err, "not a socket"));
	f = fopen(file, "r");
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "keep me");
	unlink(file);

	/* Nor a directory; a missing directory or a long path is a clear error. */
	assert_null(api_start(fx->dir, &fx->vm->ops, err, sizeof(err)));
	assert_non_null(strstr(err, "not a socket"));
	assert_null(api_start("/nonexistent-dir/api.sock", &fx->vm->ops, err, sizeof(err)));
	assert_non_null(strstr(err, "bind"));
	char longp[200];
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = 0;
	assert_null(api_start(longp, &fx->vm->ops, err, sizeof(err)));
	assert_non_null(strstr(err, "too long"));
}

/* ---- mpvmm ctl ---------------------------------------------------------------------- */

static char ctl_err[4096]; /* what the last ctl() printed on stderr */

/* Point descriptor `target` at a new temporary file; returns the saved original. */
static int capture(int target, const char *name, int *fd)
{
	char tmp[160];

	snprintf(tmp, sizeof(tmp), "%s/%s", fx->dir, name);
	*fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC, 0600);
	unlink(tmp);
	int saved = dup(target);
	dup2(*fd, target);
	return saved;
}

static void release(int target, int saved, int fd, char *out, size_t max)
{
	dup2(saved, target);
	close(saved);
	ssize_t n = pread(fd, out, max - 1, 0);
	out[n > 0 ? n : 0] = 0;
	close(fd);
}

/* Run `mpvmm ctl ARGS...`; its stdout into out, its stderr into ctl_err. */
static int ctl(char *out, size_t max, ...)
{
	char *argv[16];
	int argc = 0, ofd, efd;
	va_list ap;

	va_start(ap, max);
	for (char *a; (a = va_arg(ap, char *)) && argc < 15;)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	fflush(stdout);
	int so = capture(1, "ctl.out", &ofd), se = capture(2, "ctl.err", &efd);
	int st = ctl_main(argc, argv);
	fflush(stdout);
	release(1, so, ofd, out, max);
	release(2, se, efd, ctl_err, sizeof(ctl_err));
	return st;
}

/* One line on stderr, naming the reason. */
static void expect_ctl_err(const char *want)
{
	if (!strstr(ctl_err, want) || strchr(ctl_err, '\n') != ctl_err + strlen(ctl_err) - 1)
		fail_msg("ctl stderr '%s' is not one line with '%s'", ctl_err, want);
}

static void test_ctl(void **state)
{
	char out[65536], file[160];
	char *p = fx->path;

	assert_int_equal(ctl(out, sizeof(out), p, "vm", NULL), 0);
	assert_non_null(strstr(out, "running"));
	assert_non_null(strstr(out, "4 (1 sockets x 4 cores x 1 threads)"));
	assert_int_equal(ctl(out, sizeof(out), p, "vcpus", NULL), 0);
	assert_non_null(strstr(out, "vCPU  APIC ID"));
	assert_non_null(strstr(out, "UNINITIALIZED"));
	assert_int_equal(ctl(out, sizeof(out), p, "init", "3", NULL), 0);
	assert_string_equal(out, "INIT sent to vCPU 3\n");
	assert_int_equal(ctl(out, sizeof(out), p, "sipi", "3", "0x08", NULL), 0);
	assert_string_equal(out, "SIPI vector 0x08 sent to vCPU 3\n");
	assert_int_equal(ctl(out, sizeof(out), p, "vcpu", "3", NULL), 0);
	assert_non_null(strstr(out, "MP state      RUNNABLE"));
	assert_non_null(strstr(out, "SIPI vector   0x08"));
	assert_int_equal(ctl(out, sizeof(out), p, "set-state", "2", "halted", NULL), 0);
	assert_int_equal(array_vm_state(fx->vm, 2), MP_STATE_HALTED);
	assert_int_equal(ctl(out, sizeof(out), p, "--json", "vcpu", "2", NULL), 0);
	json_t *o = json_loads(out, 0, NULL);
	assert_string_equal(str(o, "mp_state"), "HALTED");
	json_decref(o);
	assert_int_equal(ctl(out, sizeof(out), p, "regs", "1", NULL), 0);
	assert_non_null(strstr(out, "rip       0xffffffff80000001"));
	assert_non_null(strstr(out, "cs   0x0010 base 0x0"));
	assert_non_null(strstr(out, "interrupt none (shadow)"));
	assert_int_equal(ctl(out, sizeof(out), p, "lapic", "1", NULL), 0);
	assert_non_null(strstr(out, "PPR 0xe0"));
	assert_non_null(strstr(out, "IRR   0xfb\n"));
	assert_non_null(strstr(out, "ISR   0xec\n"));
	assert_non_null(strstr(out, "TMR   none\n"));
	assert_int_equal(ctl(out, sizeof(out), p, "lapic", "8", NULL), CTL_EXIT_API_ERROR);
	assert_int_equal(ctl(out, sizeof(out), p, "pause", NULL), 0);
	assert_string_equal(out, "VM paused\n");
	assert_int_equal(ctl(out, sizeof(out), p, "resume", NULL), 0);

	snprintf(file, sizeof(file), "%s/trace.json", fx->dir);
	assert_int_equal(ctl(out, sizeof(out), p, "trace", "-o", file, NULL), 0);
	json_error_t e;
	o = json_load_file(file, 0, &e);
	assert_non_null(o);
	assert_true(json_array_size(json_object_get(o, "traceEvents")) > 0);
	json_decref(o);
	unlink(file);
	assert_int_equal(ctl(out, sizeof(out), p, "trace", "--format", "text", NULL), 0);
	assert_non_null(strstr(out, "# mpvmm MP trace"));
	assert_int_equal(ctl(out, sizeof(out), p, "trace-clear", NULL), 0);

	/* The VM refuses: 1.  Usage: 2.  Nobody there: 3. */
	assert_int_equal(ctl(out, sizeof(out), p, "vcpu", "9", NULL), CTL_EXIT_API_ERROR);
	expect_ctl_err("no vCPU 9: this VM has 4 (ids 0-3) (HTTP 404)");
	assert_string_equal(out, "");
	assert_int_equal(ctl(out, sizeof(out), p, "sipi", "1", "8", NULL), CTL_EXIT_API_ERROR);
	expect_ctl_err("not waiting for a SIPI (HTTP 409)");
	assert_int_equal(ctl(out, sizeof(out), p, "bogus", NULL), CTL_EXIT_USAGE);
	expect_ctl_err("unknown command 'bogus'");
	assert_int_equal(ctl(out, sizeof(out), p, NULL), CTL_EXIT_USAGE);
	assert_int_equal(ctl(out, sizeof(out), NULL), CTL_EXIT_USAGE);
	assert_int_equal(ctl(out, sizeof(out), p, "vcpu", NULL), CTL_EXIT_USAGE);
	assert_int_equal(ctl(out, sizeof(out), p, "vcpu", "x", NULL), CTL_EXIT_USAGE);
	assert_int_equal(ctl(out, sizeof(out), p, "set-state", "1", "NAP", NULL), CTL_EXIT_USAGE);
	expect_ctl_err("unknown MP state 'NAP'");
	assert_int_equal(ctl(out, sizeof(out), p, "sipi", "1", "256", NULL), CTL_EXIT_USAGE);
	assert_int_equal(ctl(out, sizeof(out), p, "trace", "--format", "pdf", NULL),
			 CTL_EXIT_USAGE);
	assert_int_equal(ctl(out, sizeof(out), p, "vm", "-o", "x", NULL), CTL_EXIT_USAGE);
	assert_int_equal(ctl(out, sizeof(out), p, "--frob", "vm", NULL), CTL_EXIT_USAGE);
	assert_int_equal(ctl(out, sizeof(out), "/nonexistent/api.sock", "vm", NULL),
			 CTL_EXIT_CONNECT);
	expect_ctl_err("cannot talk to the VM at /nonexistent/api.sock");
	assert_int_equal(ctl(out, sizeof(out), "--help", NULL), 0);
	assert_non_null(strstr(out, "set-state ID STATE"));
	assert_int_equal(ctl(out, sizeof(out), p, "shutdown", NULL), 0);
	assert_string_equal(out, "VM shutting-down\n");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_get_vm),
		T(test_get_vcpus),
		T(test_get_vcpu),
		T(test_get_regs),
		T(test_get_lapic),
		T(test_put_mp_state),
		T(test_init_sipi),
		T(test_bad_ids),
		T(test_methods),
		T(test_pause_resume_shutdown),
		T(test_breakpoints),
		T(test_trace_routes),
		T(test_body_too_large),
		T(test_disconnect_mid_request),
		T(test_garbage),
		T(test_many_clients),
		T(test_slow_client_does_not_stall),
		T(test_slow_vm_does_not_stall),
		T(test_shutdown_answer_survives_stop),
		T(test_connection_limit),
		T(test_socket_file),
		T(test_restart_leaks_nothing),
		T(test_stale_socket_replaced),
		T(test_not_a_socket),
		T(test_ctl),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
