/*
 * ctl.c - see ctl.h.  One table of commands; each builds a request, and prints the answer
 * as a table (or the raw JSON with --json).  Arguments are checked here first, so a typo
 * is a usage error before anything is sent.
 */
#include "cli/ctl.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/config.h"
#include "util/log.h"
#include "mp/mp.h"
#include "util/dlib.h"
#include "cli/ctl_print.h"

/*
 * libcurl, opened when the client runs (dlib.h says why it is not linked).  The names are
 * the library's own, minus the curl_ prefix.
 */
static struct {
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_perform) *easy_perform;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_global_cleanup) *global_cleanup;
} curl;

static const struct dlib_sym curl_syms[] = {
	{ "curl_easy_init", (void **)&curl.easy_init },
	{ "curl_easy_setopt", (void **)&curl.easy_setopt },
	{ "curl_easy_perform", (void **)&curl.easy_perform },
	{ "curl_easy_getinfo", (void **)&curl.easy_getinfo },
	{ "curl_easy_cleanup", (void **)&curl.easy_cleanup },
	{ "curl_easy_strerror", (void **)&curl.easy_strerror },
	{ "curl_slist_append", (void **)&curl.slist_append },
	{ "curl_slist_free_all", (void **)&curl.slist_free_all },
	{ "curl_global_init", (void **)&curl.global_init },
	{ "curl_global_cleanup", (void **)&curl.global_cleanup },
};

/* libcurl4 (OpenSSL or GnuTLS flavour): the soname of Debian 12's libcurl. */
#define CURL_SONAME "libcurl.so.4"

#define CTL_MAX_REPLY (512u << 20) /* a trace of thousands of vCPUs stays far below */

struct ctl {
	const char *socket;
	bool json;
	const char *format; /* trace --format */
	const char *output; /* trace -o       */
	const char *memory_file; /* snapshot --memory-file */
	bool no_resume;          /* snapshot --no-resume   */
	bool clear;              /* break-on --clear       */
};

struct reply {
	long status;
	char *body;
	size_t len;
};

struct command {
	const char *name;
	int nargs;
	const char *usage;
	int (*run)(const struct ctl *c, char **args);
};

/* ---- HTTP --------------------------------------------------------------------------- */

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t len = size * n;

	if (r->len + len > CTL_MAX_REPLY)
		return 0;
	char *b = realloc(r->body, r->len + len + 1);
	if (!b)
		return 0;
	memcpy(b + r->len, data, len);
	r->len += len;
	b[r->len] = 0;
	r->body = b;
	return len;
}

static CURL *make_handle(const struct ctl *c, const char *method, const char *path,
			 const char *body, struct reply *r, char *errbuf)
{
	CURL *h = curl.easy_init();
	char url[256];

	if (!h)
		return NULL;
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl.easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, c->socket);
	curl.easy_setopt(h, CURLOPT_URL, url);
	curl.easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl.easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl.easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl.easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl.easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl.easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl.easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (body || strcmp(method, "GET")) {
		curl.easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
		curl.easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0));
	}
	return h;
}

/* The server's one-line reason from an error reply. */
static void print_error(const struct reply *r)
{
	json_t *o = r->body ? json_loads(r->body, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(o, "error"));

	log_error("%s (HTTP %ld)", msg ? msg : "the VM answered with an error", r->status);
	json_decref(o);
}

/* Send a request; 0 with a 2xx reply in *r, else an exit status (the reason printed). */
static int request(const struct ctl *c, const char *method, const char *path, const char *body,
		   struct reply *r)
{
	struct curl_slist *hdr = curl.slist_append(NULL, "Content-Type: application/json");
	char errbuf[CURL_ERROR_SIZE] = "";

	*r = (struct reply){ 0 };
	CURL *h = make_handle(c, method, path, body, r, errbuf);
	if (!h || !hdr) {
		curl.slist_free_all(hdr);
		log_error("out of memory");
		return CTL_EXIT_CONNECT;
	}
	curl.easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	CURLcode rc = curl.easy_perform(h);
	curl.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	curl.easy_cleanup(h);
	curl.slist_free_all(hdr);
	if (rc != CURLE_OK) {
		log_error("cannot talk to the VM at %s: %s", c->socket,
			  errbuf[0] ? errbuf : curl.easy_strerror(rc));
		return CTL_EXIT_CONNECT;
	}
	if (r->status < 200 || r->status > 299) {
		print_error(r);
		return CTL_EXIT_API_ERROR;
	}
	return 0;
}

/* Request and parse a JSON reply; with --json print it as it came and return NULL. */
static int request_json(const struct ctl *c, const char *method, const char *path,
			const char *body, json_t **out)
{
	struct reply r;
	int st = request(c, method, path, body, &r);

	*out = NULL;
	if (st == 0 && c->json) {
		fwrite(r.body, 1, r.len, stdout);
	} else if (st == 0) {
		*out = json_loadb(r.body ? r.body : "", r.len, 0, NULL);
		if (!*out) {
			log_error("the VM's answer is not JSON");
			st = CTL_EXIT_API_ERROR;
		}
	}
	free(r.body);
	return st;
}

/* ---- arguments ---------------------------------------------------------------------- */

static int parse_id(const char *s, uint32_t *id)
{
	uint64_t v;

	if (!s[0] || s[strspn(s, "0123456789")] || config_parse_uint(s, UINT32_MAX, &v) < 0) {
		log_error("vCPU id '%s' is not a number", s);
		return -1;
	}
	*id = (uint32_t)v;
	return 0;
}

/* ---- commands ----------------------------------------------------------------------- */

static int cmd_vcpus(const struct ctl *c, char **args)
{
	json_t *o;
	int st = request_json(c, "GET", "/vcpus", NULL, &o);
	size_t i;
	json_t *v;

	if (st || !o)
		return st;
	printf("vCPU  APIC ID  BSP  MP state       SIPI  RIP                 exits\n");
	json_array_foreach(json_object_get(o, "vcpus"), i, v)
		print_vcpu_row(v);
	json_decref(o);
	return 0;
}

static int cmd_vcpu(const struct ctl *c, char **args)
{
	char path[64];
	uint32_t id;
	json_t *o;

	if (parse_id(args[0], &id) < 0)
		return CTL_EXIT_USAGE;
	snprintf(path, sizeof(path), "/vcpus/%u", id);
	int st = request_json(c, "GET", path, NULL, &o);
	if (st || !o)
		return st;
	print_vcpu(o);
	json_decref(o);
	return 0;
}

/* GET /vcpus/ID/what, printed by `print`. */
static int vcpu_view(const struct ctl *c, const char *id_arg, const char *what,
		     void (*print)(json_t *))
{
	char path[64];
	uint32_t id;
	json_t *o;

	if (parse_id(id_arg, &id) < 0)
		return CTL_EXIT_USAGE;
	snprintf(path, sizeof(path), "/vcpus/%u/%s", id, what);
	int st = request_json(c, "GET", path, NULL, &o);
	if (st || !o)
		return st;
	print(o);
	json_decref(o);
	return 0;
}

static int cmd_regs(const struct ctl *c, char **args)
{
	return vcpu_view(c, args[0], "regs", print_regs);
}

static int cmd_lapic(const struct ctl *c, char **args)
{
	return vcpu_view(c, args[0], "lapic", print_lapic);
}

static int cmd_vm(const struct ctl *c, char **args)
{
	json_t *o;
	int st = request_json(c, "GET", "/vm", NULL, &o);

	if (st || !o)
		return st;
	print_vm(o);
	json_decref(o);
	return 0;
}

static int vm_action(const struct ctl *c, const char *path)
{
	json_t *o;
	int st = request_json(c, "POST", path, NULL, &o);

	if (st || !o)
		return st;
	printf("VM %s\n", str_of(o, "state", "?"));
	json_decref(o);
	return 0;
}

static int cmd_pause(const struct ctl *c, char **args)
{
	return vm_action(c, "/vm/pause");
}

static int cmd_resume(const struct ctl *c, char **args)
{
	return vm_action(c, "/vm/resume");
}

/* GET, PUT or DELETE /vm/breakpoints: what is armed and the last break. */
static int breakpoints(const struct ctl *c, const char *method, const char *body)
{
	json_t *o;
	int st = request_json(c, method, "/vm/breakpoints", body, &o);

	if (st || !o)
		return st;
	const char *armed = str_of(o, "armed", "");
	printf("%-10s%s\n", "armed", armed[0] ? armed : "(none)");
	json_t *b = json_object_get(o, "last_break");
	if (json_is_object(b))
		print_break("last", b);
	json_decref(o);
	return 0;
}

/* break-on: list; break-on EVENTS: arm them (instead of what was); break-on --clear. */
static int cmd_break_on(const struct ctl *c, char **args)
{
	if (c->clear && args[0]) {
		log_error("break-on: EVENTS or --clear, not both");
		return CTL_EXIT_USAGE;
	}
	if (c->clear)
		return breakpoints(c, "DELETE", NULL);
	if (!args[0])
		return breakpoints(c, "GET", NULL);
	json_t *req = json_pack("{s:s}", "events", args[0]);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body) {
		log_error("out of memory");
		return CTL_EXIT_USAGE;
	}
	int st = breakpoints(c, "PUT", body);
	free(body);
	return st;
}

static int cmd_shutdown(const struct ctl *c, char **args)
{
	return vm_action(c, "/vm/shutdown");
}

/* POST or PUT to /vcpus/ID/what with body; prints `done` (a printf format taking the id). */
static int vcpu_action(const struct ctl *c, const char *method, uint32_t id, const char *what,
		       const char *body, const char *done)
{
	char path[64];
	json_t *o;

	snprintf(path, sizeof(path), "/vcpus/%u/%s", id, what);
	int st = request_json(c, method, path, body, &o);
	if (st || !o)
		return st;
	printf(done, id);
	putchar('\n');
	json_decref(o);
	return 0;
}

static int cmd_set_state(const struct ctl *c, char **args)
{
	char body[64], done[64];
	enum mp_state s;
	uint32_t id;

	if (parse_id(args[0], &id) < 0)
		return CTL_EXIT_USAGE;
	if (mp_state_parse(args[1], &s) < 0) {
		log_error("unknown MP state '%s' (UNINITIALIZED, INIT_RECEIVED, SIPI_RECEIVED, "
			  "RUNNABLE, HALTED)", args[1]);
		return CTL_EXIT_USAGE;
	}
	snprintf(body, sizeof(body), "{\"state\": \"%s\"}", mp_state_name(s));
	snprintf(done, sizeof(done), "vCPU %%u: %s", mp_state_name(s));
	return vcpu_action(c, "PUT", id, "mp_state", body, done);
}

static int cmd_init(const struct ctl *c, char **args)
{
	uint32_t id;

	if (parse_id(args[0], &id) < 0)
		return CTL_EXIT_USAGE;
	return vcpu_action(c, "POST", id, "init", NULL, "INIT sent to vCPU %u");
}

static int cmd_sipi(const struct ctl *c, char **args)
{
	char body[32], done[64];
	uint64_t vec;
	uint32_t id;

	if (parse_id(args[0], &id) < 0)
		return CTL_EXIT_USAGE;
	if (config_parse_uint(args[1], 255, &vec) < 0) {
		log_error("SIPI vector '%s' must be 0-255 (decimal or 0x hex)", args[1]);
		return CTL_EXIT_USAGE;
	}
	snprintf(body, sizeof(body), "{\"vector\": %u}", (unsigned)vec);
	snprintf(done, sizeof(done), "SIPI vector 0x%02x sent to vCPU %%u", (unsigned)vec);
	return vcpu_action(c, "POST", id, "sipi", body, done);
}

/* The VM resolves a path in its own working directory; make ours absolute first. */
static char *absolute(const char *path)
{
	char cwd[4096];

	if (path[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		return strdup(path);
	size_t n = strlen(cwd) + strlen(path) + 2;
	char *out = malloc(n);
	if (out)
		snprintf(out, n, "%s/%s", cwd, path);
	return out;
}

static int cmd_snapshot(const struct ctl *c, char **args)
{
	char *path = absolute(args[0]);
	char *mem = c->memory_file ? absolute(c->memory_file) : NULL;
	json_t *req = path ? json_pack("{s:s,s:b}", "path", path, "resume", !c->no_resume) : NULL;
	char *body = NULL;
	json_t *o = NULL;
	int st = CTL_EXIT_USAGE;

	if (req && mem)
		json_object_set_new(req, "memory_file", json_string(mem));
	body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	if (body)
		st = request_json(c, "POST", "/vm/snapshot", body, &o);
	else
		log_error("out of memory");
	if (!st && o)
		printf("snapshot written to %s%s\n", path,
		       c->no_resume ? " (the VM stays paused)" : "");
	json_decref(o);
	json_decref(req);
	free(body);
	free(path);
	free(mem);
	return st;
}

static int write_output(const char *file, const struct reply *r)
{
	FILE *out = file ? fopen(file, "w") : stdout;

	if (!out) {
		log_error("cannot write %s: %m", file);
		return CTL_EXIT_API_ERROR;
	}
	bool ok = fwrite(r->body ? r->body : "", 1, r->len, out) == r->len;
	ok = (file ? fclose(out) : fflush(out)) == 0 && ok;
	if (!ok)
		log_error("cannot write %s: %m", file ? file : "the trace");
	return ok ? 0 : CTL_EXIT_API_ERROR;
}

static int cmd_trace(const struct ctl *c, char **args)
{
	const char *f = c->format ? c->format : "chrome";
	char path[64];
	struct reply r;

	if (strcmp(f, "chrome") && strcmp(f, "text") && strcmp(f, "svg")) {
		log_error("unknown trace format '%s' (chrome, text or svg)", f);
		return CTL_EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "/trace?format=%s", f);
	int st = request(c, "GET", path, NULL, &r);
	if (st == 0)
		st = write_output(c->output, &r);
	free(r.body);
	return st;
}

static int cmd_trace_clear(const struct ctl *c, char **args)
{
	json_t *o;
	int st = request_json(c, "DELETE", "/trace", NULL, &o);

	if (st || !o)
		return st;
	printf("trace cleared\n");
	json_decref(o);
	return 0;
}

static const struct command commands[] = {
	{ "vcpus", 0, "", cmd_vcpus },
	{ "vcpu", 1, "ID", cmd_vcpu },
	{ "regs", 1, "ID", cmd_regs },
	{ "lapic", 1, "ID", cmd_lapic },
	{ "vm", 0, "", cmd_vm },
	{ "pause", 0, "", cmd_pause },
	{ "resume", 0, "", cmd_resume },
	{ "shutdown", 0, "", cmd_shutdown },
	{ "set-state", 2, "ID STATE", cmd_set_state },
	{ "init", 1, "ID", cmd_init },
	{ "sipi", 2, "ID VECTOR", cmd_sipi },
	{ "trace", 0, "[--format chrome|text|svg] [-o FILE]", cmd_trace },
	{ "trace-clear", 0, "", cmd_trace_clear },
	/* nargs -1: none or one */
	{ "break-on", -1, "[EVENT[:VCPU][,...] | --clear]", cmd_break_on },
	{ "snapshot", 1, "FILE [--memory-file FILE] [--no-resume]", cmd_snapshot },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
	fprintf(out, "usage: mpvmm ctl SOCKET [--json] COMMAND [ARGS]\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(out, "  %s %s\n", commands[i].name, commands[i].usage);
	fprintf(out, "STATE: UNINITIALIZED, INIT_RECEIVED, SIPI_RECEIVED, RUNNABLE, HALTED\n"
		"exit status: 0 done, 1 the VM refused, 2 usage error, 3 cannot reach the VM\n");
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Split argv into options and words; returns how many words, or -1 (reason printed). */
static int parse_args(int argc, char **argv, struct ctl *c, char **words)
{
	int n = 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--json")) {
			c->json = true;
		} else if (!strcmp(a, "--no-resume")) {
			c->no_resume = true;
		} else if (!strcmp(a, "--clear")) {
			c->clear = true;
		} else if (!strcmp(a, "--memory-file")) {
			if (i + 1 >= argc) {
				log_error("%s needs a value", a);
				return -1;
			}
			c->memory_file = argv[++i];
		} else if (!strcmp(a, "--format") || !strcmp(a, "-o")) {
			if (i + 1 >= argc) {
				log_error("%s needs a value", a);
				return -1;
			}
			*(!strcmp(a, "-o") ? &c->output : &c->format) = argv[++i];
		} else if (a[0] == '-' && a[1] && strspn(a + 1, "0123456789") != strlen(a + 1)) {
			log_error("unknown option '%s' (see mpvmm ctl --help)", a);
			return -1;
		} else {
			words[n++] = argv[i];
		}
	}
	return n;
}

static int run(struct ctl *c, int argc, char **argv)
{
	char **words = calloc((size_t)argc + 1, sizeof(*words));
	int n = words ? parse_args(argc, argv, c, words) : -1;
	int st = CTL_EXIT_USAGE;
	char errbuf[256];

	if (n == 0)
		log_error("no command (see mpvmm ctl --help)");
	if (n <= 0)
		goto out;
	const struct command *cmd = find_command(words[0]);
	if (!cmd) {
		log_error("unknown command '%s' (see mpvmm ctl --help)", words[0]);
	} else if (cmd->nargs >= 0 ? n - 1 != cmd->nargs : n - 1 > 1) {
		log_error("usage: mpvmm ctl SOCKET %s %s", cmd->name, cmd->usage);
	} else if ((c->format || c->output) && cmd->run != cmd_trace) {
		log_error("--format and -o belong to the trace command");
	} else if ((c->memory_file || c->no_resume) && cmd->run != cmd_snapshot) {
		log_error("--memory-file and --no-resume belong to the snapshot command");
	} else if (c->clear && cmd->run != cmd_break_on) {
		log_error("--clear belongs to the break-on command");
	} else if (dlib_load(CURL_SONAME, curl_syms, sizeof(curl_syms) / sizeof(curl_syms[0]),
			     errbuf, sizeof(errbuf)) < 0) {
		log_error("%s", errbuf);
		st = CTL_EXIT_CONNECT;
	} else {
		curl.global_init(CURL_GLOBAL_DEFAULT);
		st = cmd->run(c, words + 1);
		curl.global_cleanup();
	}
out:
	free(words);
	return st;
}

int ctl_main(int argc, char **argv)
{
	struct ctl c = { 0 };

	if (argc >= 1 && (!strcmp(argv[0], "--help") || !strcmp(argv[0], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 1 || argv[0][0] == '-') {
		log_error("usage: mpvmm ctl SOCKET [--json] COMMAND [ARGS] (see mpvmm ctl --help)");
		return CTL_EXIT_USAGE;
	}
	c.socket = argv[0];
	return run(&c, argc - 1, argv + 1);
}
