/*
 * routes.c - see routes.h.  One table maps method and path pattern to a handler; a path that
 * matches a pattern under another method is 405 with the methods it does allow.  Handlers
 * check what the client sent (ids, JSON fields, names) before calling the VM, and turn the
 * VM's answers into JSON with jansson.  Nothing a client sends can make a handler touch a
 * vCPU that does not exist.
 */
#include "api/routes.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mp/trace_export.h"

#define JSON_TYPE "application/json"
#define ERR_LEN 256

struct route_args {
	uint32_t id;        /* for patterns with {id} */
	const struct api_request *req;
};

typedef void (*route_fn)(const struct api_ops *ops, const struct route_args *a,
			 struct api_response *r);

struct route {
	const char *method;
	const char *pattern;
	route_fn fn;
};

/* ---- responses ---------------------------------------------------------------------- */

static void set_body(struct api_response *r, unsigned status, char *body, const char *type)
{
	free(r->body);
	r->status = status;
	r->body = body;
	r->len = body ? strlen(body) : 0;
	r->content_type = type;
	if (!body)
		r->status = 500;
}

/* Takes the reference to obj. */
static void reply_json(struct api_response *r, unsigned status, json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	char *body = s ? malloc(strlen(s) + 2) : NULL;

	if (body)
		strcat(strcpy(body, s), "\n");
	free(s);
	json_decref(obj);
	set_body(r, status, body, JSON_TYPE);
}

void api_error(struct api_response *r, unsigned status, const char *fmt, ...)
{
	char msg[ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A client's bytes may be quoted in msg: keep it printable ASCII (so valid UTF-8). */
	for (char *c = msg; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	reply_json(r, status, json_pack("{s:s}", "error", msg));
}

void api_response_free(struct api_response *r)
{
	free(r->body);
	r->body = NULL;
}

static void reply_status(struct api_response *r, enum api_status st, const char *err)
{
	unsigned code = st == API_BAD_REQUEST || st == API_FORBIDDEN || st == API_NOT_FOUND ||
			st == API_CONFLICT ? st : 500;

	api_error(r, code, "%s", err[0] ? err : "the VM could not do it");
}

/* ---- arguments ---------------------------------------------------------------------- */

static int parse_id(const char *seg, size_t len, uint32_t *out)
{
	uint64_t v = 0;

	if (len == 0 || len > 10)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (seg[i] < '0' || seg[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(seg[i] - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* Is `key` one of the space-separated names in `known`? */
static bool known_field(const char *known, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = known; *p;) {
		size_t len = strcspn(p, " ");
		if (len == n && !strncmp(p, key, n))
			return true;
		p += len + (p[len] == ' ');
	}
	return false;
}

/* The JSON object body, with only the fields in `known` (space-separated); NULL after 400. */
static json_t *body_object(const struct route_args *a, const char *known,
			   struct api_response *r)
{
	const struct api_request *q = a->req;
	json_error_t e;

	if (!q->body || q->body_len == 0) {
		api_error(r, 400, "this request needs a JSON object body");
		return NULL;
	}
	json_t *o = json_loadb(q->body, q->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
	if (!o) {
		api_error(r, 400, "invalid JSON at line %d, column %d: %s", e.line, e.column, e.text);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		api_error(r, 400, "the body must be a JSON object");
		return NULL;
	}
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v) {
		if (!known_field(known, key)) {
			api_error(r, 400, "unknown field '%.40s' (expected '%s')", key, known);
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/* ---- JSON of the VM ----------------------------------------------------------------- */

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *vm_json(const struct api_ops *ops, const struct api_vm_info *vi)
{
	struct mp *mp = ops->mp ? ops->mp(ops->ctx) : NULL;

	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:I,s:o,s:I}",
			 "cpus", (json_int_t)vi->cpus, "sockets", (json_int_t)vi->sockets,
			 "cores", (json_int_t)vi->cores, "threads", (json_int_t)vi->threads,
			 "boot_cpu", (json_int_t)vi->boot_cpu, "memory", (json_int_t)vi->memory,
			 "irqchip", str_or_null(vi->irqchip), "accel", str_or_null(vi->accel),
			 "guest", str_or_null(vi->guest), "state", str_or_null(vi->state),
			 "uptime_ns", (json_int_t)vi->uptime_ns,
			 "mp_backend", str_or_null(mp ? mp_backend_name(mp) : NULL),
			 "console_dropped", (json_int_t)vi->console_dropped);
}

static json_t *counts_json(const struct api_count *c, unsigned n)
{
	json_t *o = json_object();

	for (unsigned k = 0; o && k < n && k < API_MAX_COUNTS; k++)
		json_object_set_new(o, c[k].name, json_integer((json_int_t)c[k].n));
	return o;
}

static json_t *time_in_state_json(const struct api_ops *ops, uint32_t id, uint64_t now)
{
	struct mp *mp = ops->mp ? ops->mp(ops->ctx) : NULL;
	uint64_t t[MP_STATE_COUNT];
	struct api_count c[MP_STATE_COUNT];

	if (!mp || trace_time_in_state(mp, id, now, t) < 0)
		return json_null();
	for (unsigned k = 0; k < MP_STATE_COUNT; k++)
		c[k] = (struct api_count){ mp_state_name((enum mp_state)k), t[k] };
	return counts_json(c, MP_STATE_COUNT);
}

static json_t *vcpu_json(const struct api_ops *ops, const struct api_vcpu_info *v, uint64_t now)
{
	char rip[24];
	json_t *o;

	snprintf(rip, sizeof(rip), "0x%016" PRIx64, v->rip);
	o = json_pack("{s:I,s:I,s:b,s:o,s:o,s:o,s:o,s:o}", "id", (json_int_t)v->id,
		      "apic_id", (json_int_t)v->apic_id, "is_bsp", v->is_bsp, "mp_state",
		      v->mp_state_known ? json_string(mp_state_name(v->mp_state)) : json_null(),
		      "rip", v->rip_known ? json_string(rip) : json_null(), "exits",
		      counts_json(v->exits, v->nexits), "carried",
		      counts_json(v->carried, v->ncarried), "time_in_state_ns",
		      time_in_state_json(ops, v->id, now));
	if (o && v->sipi_vector_known)
		json_object_set_new(o, "sipi_vector", json_integer(v->sipi_vector));
	return o;
}

static uint64_t uptime(const struct api_ops *ops)
{
	struct api_vm_info vi = { 0 };

	ops->vm_info(ops->ctx, &vi);
	return vi.uptime_ns;
}

/* The vCPU's JSON, or NULL after replying with the VM's error. */
static json_t *vcpu_get(const struct api_ops *ops, uint32_t id, uint64_t now,
			struct api_response *r)
{
	struct api_vcpu_info v = { 0 };
	char err[ERR_LEN] = "";

	enum api_status st = ops->vcpu_info(ops->ctx, id, &v, err, sizeof(err));
	if (st != API_OK) {
		reply_status(r, st, err);
		return NULL;
	}
	v.id = id;
	return vcpu_json(ops, &v, now);
}

/* ---- handlers ----------------------------------------------------------------------- */

static json_t *break_json(const struct api_break *b)
{
	return json_pack("{s:I,s:s,s:I,s:I,s:o,s:o,s:o,s:b}", "seq", (json_int_t)b->seq,
			 "event", b->event, "vcpu", (json_int_t)b->vcpu,
			 "apic_id", (json_int_t)b->apic_id,
			 "from", b->from_vcpu ? json_integer(b->from) : json_null(),
			 "vector", b->vector >= 0 ? json_integer(b->vector) : json_null(),
			 "state", str_or_null(b->state), "exact", b->exact);
}

/* {"armed": "init,sipi:2", "last_break": {...} or null}, or NULL after an error reply. */
static json_t *breaks_json(const struct api_ops *ops, struct api_response *r)
{
	struct api_breaks b;
	char err[ERR_LEN] = "";

	if (!ops->get_breaks) {
		api_error(r, 500, "this VM has no breaks");
		return NULL;
	}
	enum api_status st = ops->get_breaks(ops->ctx, &b, err, sizeof(err));
	if (st != API_OK) {
		reply_status(r, st, err);
		return NULL;
	}
	b.armed[sizeof(b.armed) - 1] = '\0';
	return json_pack("{s:s,s:o}", "armed", b.armed, "last_break",
			 b.has_last ? break_json(&b.last) : json_null());
}

static void get_vm(const struct api_ops *ops, const struct route_args *a, struct api_response *r)
{
	struct api_vm_info vi = { 0 };
	struct api_breaks b;
	char err[ERR_LEN];

	ops->vm_info(ops->ctx, &vi);
	json_t *o = vm_json(ops, &vi);
	/* Why it is paused, if a break paused it: the last break. */
	if (o && ops->get_breaks && ops->get_breaks(ops->ctx, &b, err, sizeof(err)) == API_OK)
		json_object_set_new(o, "last_break", b.has_last ? break_json(&b.last) : json_null());
	reply_json(r, 200, o);
}

static void get_breakpoints(const struct api_ops *ops, const struct route_args *a,
			    struct api_response *r)
{
	json_t *o = breaks_json(ops, r);

	if (o)
		reply_json(r, 200, o);
}

static void set_breakpoints(const struct api_ops *ops, const char *spec, struct api_response *r)
{
	char err[ERR_LEN] = "";

	if (!ops->set_breaks) {
		api_error(r, 500, "this VM has no breaks");
		return;
	}
	enum api_status st = ops->set_breaks(ops->ctx, spec, err, sizeof(err));
	if (st != API_OK) {
		reply_status(r, st, err);
		return;
	}
	get_breakpoints(ops, NULL, r);
}

/* {"events": "init,sipi:2"}: what --break-on takes; "" disarms. */
static void put_breakpoints(const struct api_ops *ops, const struct route_args *a,
			    struct api_response *r)
{
	json_t *o = body_object(a, "events", r);

	if (!o)
		return;
	json_t *ev = json_object_get(o, "events");
	if (!json_is_string(ev)) {
		api_error(r, 400, "'events' must be a string such as \"init,sipi:2\"");
	} else if (json_string_length(ev) >= API_BREAKS_TEXT ||
		   strlen(json_string_value(ev)) != json_string_length(ev)) {
		api_error(r, 400, "'events' is too long or holds a NUL");
	} else {
		set_breakpoints(ops, json_string_value(ev), r);
	}
	json_decref(o);
}

static void delete_breakpoints(const struct api_ops *ops, const struct route_args *a,
			       struct api_response *r)
{
	set_breakpoints(ops, "", r);
}

static void vm_action(const struct api_ops *ops, enum api_status (*fn)(void *, char *, size_t),
		      struct api_response *r)
{
	char err[ERR_LEN] = "";
	struct api_vm_info vi = { 0 };

	if (!fn) {
		api_error(r, 500, "this VM cannot do that");
		return;
	}
	enum api_status st = fn(ops->ctx, err, sizeof(err));
	if (st != API_OK) {
		reply_status(r, st, err);
		return;
	}
	ops->vm_info(ops->ctx, &vi);
	reply_json(r, 200, json_pack("{s:o}", "state", str_or_null(vi.state)));
}

static void post_pause(const struct api_ops *ops, const struct route_args *a,
		       struct api_response *r)
{
	vm_action(ops, ops->pause, r);
}

static void post_resume(const struct api_ops *ops, const struct route_args *a,
			struct api_response *r)
{
	vm_action(ops, ops->resume, r);
}

static void post_shutdown(const struct api_ops *ops, const struct route_args *a,
			  struct api_response *r)
{
	vm_action(ops, ops->shutdown, r);
}

/*
 * {"path": FILE, "memory_file": FILE (optional), "resume": true (default)}.  The files are
 * absolute paths: a relative one would land in mpvmm's working directory, not the client's.
 */
static void post_snapshot(const struct api_ops *ops, const struct route_args *a,
			  struct api_response *r)
{
	json_t *o = body_object(a, "path memory_file resume", r);
	char err[ERR_LEN] = "";

	if (!o)
		return;
	json_t *path = json_object_get(o, "path"), *mem = json_object_get(o, "memory_file");
	json_t *resume = json_object_get(o, "resume");
	if (!json_is_string(path) || !json_string_length(path) ||
	    (mem && !json_is_string(mem)) || (resume && !json_is_boolean(resume))) {
		api_error(r, 400, "'path' must be a file name, 'memory_file' a file name and "
			  "'resume' true or false");
	} else if (json_string_value(path)[0] != '/' || (mem && json_string_value(mem)[0] != '/')) {
		api_error(r, 400, "'%s' must be an absolute path (mpvmm's working directory is "
			  "not the client's)", json_string_value(path)[0] != '/' ? "path" :
			  "memory_file");
	} else if (!ops->snapshot) {
		api_error(r, 500, "this VM cannot do that");
	} else {
		bool res = !resume || json_is_true(resume);
		enum api_status st = ops->snapshot(ops->ctx, json_string_value(path),
						   mem ? json_string_value(mem) : NULL, res, err,
						   sizeof(err));
		if (st != API_OK)
			reply_status(r, st, err);
		else
			reply_json(r, 200, json_pack("{s:s,s:b}", "path", json_string_value(path),
						     "resumed", res));
	}
	json_decref(o);
}

static void get_vcpus(const struct api_ops *ops, const struct route_args *a,
		      struct api_response *r)
{
	uint32_t n = ops->ncpus(ops->ctx);
	uint64_t now = uptime(ops);
	json_t *list = json_array();

	for (uint32_t i = 0; list && i < n; i++) {
		json_t *v = vcpu_get(ops, i, now, r);
		if (!v) {
			json_decref(list);
			return;
		}
		json_array_append_new(list, v);
	}
	reply_json(r, 200, list ? json_pack("{s:o}", "vcpus", list) : NULL);
}

static void get_vcpu(const struct api_ops *ops, const struct route_args *a,
		     struct api_response *r)
{
	json_t *v = vcpu_get(ops, a->id, uptime(ops), r);

	if (v)
		reply_json(r, 200, v);
}

static void put_mp_state(const struct api_ops *ops, const struct route_args *a,
			 struct api_response *r)
{
	json_t *o = body_object(a, "state", r);
	char err[ERR_LEN] = "";
	enum mp_state s;

	if (!o)
		return;
	const char *name = json_string_value(json_object_get(o, "state"));
	if (!name || mp_state_parse(name, &s) < 0) {
		api_error(r, 400, "'state' must be one of UNINITIALIZED, INIT_RECEIVED, "
			  "SIPI_RECEIVED, RUNNABLE, HALTED%s%.40s%s", name ? " (not '" : "",
			  name ? name : "", name ? "')" : "");
	} else {
		enum api_status st = ops->set_mp_state(ops->ctx, a->id, s, err, sizeof(err));
		if (st != API_OK)
			reply_status(r, st, err);
		else
			reply_json(r, 200, json_pack("{s:I,s:s}", "id", (json_int_t)a->id,
						     "mp_state", mp_state_name(s)));
	}
	json_decref(o);
}

static void post_init(const struct api_ops *ops, const struct route_args *a,
		      struct api_response *r)
{
	char err[ERR_LEN] = "";
	enum api_status st = ops->send_init(ops->ctx, a->id, err, sizeof(err));

	if (st != API_OK)
		reply_status(r, st, err);
	else
		reply_json(r, 200, json_pack("{s:I,s:s}", "id", (json_int_t)a->id, "sent", "INIT"));
}

static void post_sipi(const struct api_ops *ops, const struct route_args *a,
		      struct api_response *r)
{
	json_t *o = body_object(a, "vector", r);
	char err[ERR_LEN] = "";

	if (!o)
		return;
	json_t *v = json_object_get(o, "vector");
	json_int_t vec = json_is_integer(v) ? json_integer_value(v) : -1;
	if (vec < 0 || vec > 255) {
		api_error(r, 400, "'vector' must be an integer from 0 to 255 (the AP starts at "
			  "vector << 12)");
	} else {
		enum api_status st = ops->send_sipi(ops->ctx, a->id, (uint8_t)vec, err,
						    sizeof(err));
		if (st != API_OK)
			reply_status(r, st, err);
		else
			reply_json(r, 200, json_pack("{s:I,s:s,s:I}", "id", (json_int_t)a->id,
						     "sent", "SIPI", "vector", vec));
	}
	json_decref(o);
}

static json_t *hex(uint64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "0x%" PRIx64, v);
	return json_string(s);
}

static json_t *segment_json(const struct x86_segment *g)
{
	return json_pack("{s:I,s:o,s:o,s:I,s:b}", "selector", (json_int_t)g->selector, "base",
			 hex(g->base), "limit", hex(g->limit), "dpl", (json_int_t)g->dpl,
			 "long", g->l);
}

static json_t *events_json(const struct api_events *e)
{
	return json_pack("{s:{s:b,s:I,s:b},s:{s:b,s:b,s:b},s:{s:b,s:I}}",
			 "interrupt", "injected", e->irq_injected, "vector",
			 (json_int_t)e->irq_vector, "shadow", e->irq_shadow,
			 "nmi", "injected", e->nmi_injected, "pending", e->nmi_pending,
			 "masked", e->nmi_masked,
			 "exception", "injected", e->exc_injected, "vector",
			 (json_int_t)e->exc_vector);
}

static void get_regs(const struct api_ops *ops, const struct route_args *a,
		     struct api_response *r)
{
	static const char *const names[] = {
		"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10",
		"r11", "r12", "r13", "r14", "r15", "rip", "rflags",
	};
	struct api_vcpu_regs v;
	char err[ERR_LEN] = "";
	enum api_status st = ops->vcpu_regs ? ops->vcpu_regs(ops->ctx, a->id, &v, err, sizeof(err))
					    : API_FAILED;

	if (st != API_OK) {
		reply_status(r, st, err);
		return;
	}
	const uint64_t *gpr = &v.regs.rax; /* struct x86_regs: 18 uint64_t in this order */
	const struct x86_sregs *s = &v.sregs;
	json_t *o = json_pack("{s:I}", "id", (json_int_t)a->id);
	for (unsigned i = 0; o && i < sizeof(names) / sizeof(names[0]); i++)
		json_object_set_new(o, names[i], hex(gpr[i]));
	json_t *sr = json_pack("{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}",
			       "cr0", hex(s->cr0), "cr2", hex(s->cr2), "cr3", hex(s->cr3),
			       "cr4", hex(s->cr4), "cr8", hex(s->cr8), "efer", hex(s->efer),
			       "apic_base", hex(s->apic_base), "cs", segment_json(&s->cs),
			       "ss", segment_json(&s->ss), "ds", segment_json(&s->ds),
			       "es", segment_json(&s->es), "fs", segment_json(&s->fs),
			       "gs", segment_json(&s->gs), "tr", segment_json(&s->tr),
			       "gdt", json_pack("{s:o,s:I}", "base", hex(s->gdt.base), "limit",
						(json_int_t)s->gdt.limit),
			       "idt", json_pack("{s:o,s:I}", "base", hex(s->idt.base), "limit",
						(json_int_t)s->idt.limit));
	if (o && sr)
		json_object_update(o, sr);
	json_decref(sr);
	if (o)
		json_object_set_new(o, "events", v.events_known ? events_json(&v.events) :
								    json_null());
	reply_json(r, 200, o);
}

/* The vectors whose bits are set in a 256-bit APIC register (eight 32-bit words, 16 apart). */
static json_t *vectors_json(const uint32_t *reg, unsigned first)
{
	json_t *list = json_array();

	for (unsigned v = 0; list && v < 256; v++)
		if (reg[first + v / 32] & (1u << (v % 32)))
			json_array_append_new(list, json_integer(v));
	return list;
}

static void get_lapic(const struct api_ops *ops, const struct route_args *a,
		      struct api_response *r)
{
	struct api_lapic l;
	char err[ERR_LEN] = "";
	enum api_status st = ops->vcpu_lapic ? ops->vcpu_lapic(ops->ctx, a->id, &l, err,
							       sizeof(err)) : API_FAILED;

	if (st != API_OK) {
		reply_status(r, st, err);
		return;
	}
	const uint32_t *g = l.reg; /* g[offset / 16] */
	reply_json(r, 200, json_pack(
		"{s:I,s:o,s:o,s:I,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,"
		"s:{s:o,s:o,s:o,s:o,s:o,s:o},s:{s:I,s:I,s:o}}",
		"id", (json_int_t)a->id, "apic_id", hex(g[0x02]), "version", hex(g[0x03]),
		"tpr", (json_int_t)g[0x08], "apr", (json_int_t)g[0x09], "ppr", (json_int_t)g[0x0a],
		"ldr", hex(g[0x0d]), "dfr", hex(g[0x0e]), "svr", hex(g[0x0f]), "esr", hex(g[0x28]),
		"icr", hex((uint64_t)g[0x31] << 32 | g[0x30]),
		"isr", vectors_json(g, 0x10), "tmr", vectors_json(g, 0x18),
		"irr", vectors_json(g, 0x20),
		"lvt", "timer", hex(g[0x32]), "thermal", hex(g[0x33]), "perf", hex(g[0x34]),
		"lint0", hex(g[0x35]), "lint1", hex(g[0x36]), "error", hex(g[0x37]),
		"timer", "initial", (json_int_t)g[0x38], "current", (json_int_t)g[0x39],
		"divide", hex(g[0x3e])));
}

static struct mp *need_mp(const struct api_ops *ops, struct api_response *r)
{
	struct mp *mp = ops->mp ? ops->mp(ops->ctx) : NULL;

	if (!mp)
		api_error(r, 500, "this VM has no MP trace");
	return mp;
}

static void get_trace(const struct api_ops *ops, const struct route_args *a,
		      struct api_response *r)
{
	const char *name = a->req->format ? a->req->format : "chrome";
	enum trace_format f;
	size_t len;

	if (trace_format_parse(name, &f) < 0) {
		api_error(r, 400, "unknown trace format '%.40s' (chrome, text or svg)", name);
		return;
	}
	struct mp *mp = need_mp(ops, r);
	if (!mp)
		return;
	char *s = trace_export_string(mp, f, uptime(ops), &len);
	if (!s) {
		api_error(r, 500, "cannot export the trace: out of memory");
		return;
	}
	set_body(r, 200, s, trace_format_mime(f));
	r->len = len;
}

static void delete_trace(const struct api_ops *ops, const struct route_args *a,
			 struct api_response *r)
{
	struct mp *mp = need_mp(ops, r);

	if (!mp)
		return;
	trace_clear(mp_trace(mp));
	reply_json(r, 200, json_pack("{s:b}", "cleared", 1));
}

static const struct route routes[] = {
	{ "GET", "/vm", get_vm },
	{ "POST", "/vm/pause", post_pause },
	{ "POST", "/vm/resume", post_resume },
	{ "POST", "/vm/snapshot", post_snapshot },
	{ "POST", "/vm/shutdown", post_shutdown },
	{ "GET", "/vm/breakpoints", get_breakpoints },
	{ "PUT", "/vm/breakpoints", put_breakpoints },
	{ "DELETE", "/vm/breakpoints", delete_breakpoints },
	{ "GET", "/vcpus", get_vcpus },
	{ "GET", "/vcpus/{id}", get_vcpu },
	{ "GET", "/vcpus/{id}/regs", get_regs },
	{ "GET", "/vcpus/{id}/lapic", get_lapic },
	{ "PUT", "/vcpus/{id}/mp_state", put_mp_state },
	{ "POST", "/vcpus/{id}/init", post_init },
	{ "POST", "/vcpus/{id}/sipi", post_sipi },
	{ "GET", "/trace", get_trace },
	{ "DELETE", "/trace", delete_trace },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* ---- matching ----------------------------------------------------------------------- */

struct match {
	const char *id;  /* the {id} segment, if any */
	size_t id_len;
};

/* Does path match pattern, segment by segment?  One trailing slash is ignored. */
static bool path_match(const char *pattern, const char *path, struct match *m)
{
	const char *p = pattern, *q = path;

	m->id = NULL;
	while (*p) {
		if (*q != '/' || *p != '/')
			return false;
		p++, q++;
		size_t pl = strcspn(p, "/"), ql = strcspn(q, "/");
		if (pl == 4 && !strncmp(p, "{id}", 4)) {
			if (ql == 0)
				return false;
			m->id = q;
			m->id_len = ql;
		} else if (pl != ql || strncmp(p, q, pl)) {
			return false;
		}
		p += pl, q += ql;
	}
	return !*q || !strcmp(q, "/");
}

/* The Allow header for a set of method bits (GET 1, POST 2, PUT 4, DELETE 8). */
static const char *allow_for(unsigned mask)
{
	static const char *const allow[16] = {
		"", "GET, HEAD", "POST", "GET, HEAD, POST", "PUT", "GET, HEAD, PUT", "POST, PUT",
		"GET, HEAD, POST, PUT", "DELETE", "GET, HEAD, DELETE", "POST, DELETE",
		"GET, HEAD, POST, DELETE", "PUT, DELETE", "GET, HEAD, PUT, DELETE",
		"POST, PUT, DELETE", "GET, HEAD, POST, PUT, DELETE",
	};

	return allow[mask & 15];
}

static unsigned method_bit(const char *method)
{
	static const char *const m[] = { "GET", "POST", "PUT", "DELETE" };

	for (unsigned i = 0; i < 4; i++)
		if (!strcmp(method, m[i]))
			return 1u << i;
	return 0;
}

static void dispatch(const struct api_ops *ops, const struct route *rt, const struct match *m,
		     const struct api_request *req, struct api_response *r)
{
	struct route_args a = { .req = req };

	if (m->id) {
		uint32_t n = ops->ncpus(ops->ctx);
		if (parse_id(m->id, m->id_len, &a.id) < 0) {
			api_error(r, 400, "vCPU id '%.*s' is not a number", (int)(m->id_len > 20 ? 20 :
				  m->id_len), m->id);
			return;
		}
		if (a.id >= n) {
			api_error(r, 404, "no vCPU %u: this VM has %u (ids 0-%u)", a.id, n,
				  n ? n - 1 : 0);
			return;
		}
	}
	rt->fn(ops, &a, r);
}

void api_route(const struct api_ops *ops, const struct api_request *req, struct api_response *r)
{
	/* HEAD is GET without the body, which the HTTP layer leaves out. */
	const char *method = req->method && !strcmp(req->method, "HEAD") ? "GET" : req->method;
	unsigned allowed = 0;
	struct match m;

	*r = (struct api_response){ .status = 500, .content_type = JSON_TYPE };
	if (!method || !req->path) {
		api_error(r, 400, "no method or path");
		return;
	}
	for (size_t i = 0; i < NROUTES; i++) {
		if (!path_match(routes[i].pattern, req->path, &m))
			continue;
		if (!strcmp(routes[i].method, method)) {
			dispatch(ops, &routes[i], &m, req, r);
			return;
		}
		allowed |= method_bit(routes[i].method);
	}
	if (!allowed) {
		api_error(r, 404, "no such resource: %.80s", req->path);
		return;
	}
	api_error(r, 405, "%.20s is not allowed on %.80s", method, req->path);
	r->allow = allow_for(allowed);
}
