/*
 * gdb_monitor.c - `monitor` commands (qRcmd): the MP-state table, physical memory, and
 * INIT, SIPI and MP state as the control API does them (through its operations: the same
 * code, the same checks).  The reply is the text, hex-encoded, as qRcmd wants it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gdb/gdb_session.h"
#include "mp/mp_state.h"

#define MON_TEXT_MAX ((GDB_REPLY_MAX - 1) / 2)
#define PHYS_MAX 256

static void reply_text(const char *text, char *out, size_t outlen)
{
	size_t n = strlen(text);

	if (n == 0) {
		snprintf(out, outlen, "OK");
		return;
	}
	if (2 * n + 1 > outlen)
		n = (outlen - 1) / 2;
	gdb_hex_encode(text, n, out);
	out[2 * n] = 0;
}

static void mon_mp(struct gdb_session *s, char *text, size_t len)
{
	size_t n = (size_t)snprintf(text, len, "vCPU  APIC  BSP  MP state\n");

	for (uint32_t i = 0; i < s->ncpus && n < len; i++) {
		struct api_vcpu_info v;
		char err[200];
		if (s->t->api->vcpu_info(s->t->api->ctx, i, &v, err, sizeof(err)) != API_OK) {
			n += (size_t)snprintf(text + n, len - n, "%4u  ?: %s\n", i, err);
			continue;
		}
		n += (size_t)snprintf(text + n, len - n, "%4u  %4u  %-3s  %s\n", i, v.apic_id,
				      v.is_bsp ? "yes" : "", v.mp_state_known ?
				      mp_state_name(v.mp_state) : "?");
	}
}

static int number(const char *w, uint64_t max, uint64_t *v)
{
	char *end;

	if (!w || !*w)
		return -1;
	*v = strtoull(w, &end, 0);
	return *end || *v > max ? -1 : 0;
}

static void mon_phys(struct gdb_session *s, const char *a, const char *l, char *text,
		     size_t len)
{
	uint64_t addr, count;

	if (number(a, UINT64_MAX, &addr) < 0 || number(l, PHYS_MAX, &count) < 0) {
		snprintf(text, len, "usage: monitor phys ADDR LEN (LEN at most %u)\n", PHYS_MAX);
		return;
	}
	const uint8_t *p = s->t->phys(s->t->ctx, addr, count);
	if (!p) {
		snprintf(text, len, "0x%llx+%llu is not guest RAM\n", (unsigned long long)addr,
			 (unsigned long long)count);
		return;
	}
	size_t n = 0;
	for (uint64_t i = 0; i < count && n + 80 < len; i++) {
		if (i % 16 == 0)
			n += (size_t)snprintf(text + n, len - n, "%s0x%08llx:", i ? "\n" : "",
					      (unsigned long long)(addr + i));
		n += (size_t)snprintf(text + n, len - n, " %02x", p[i]);
	}
	snprintf(text + n, len - n, "\n");
}

static bool state_named(const char *w, enum mp_state *st)
{
	return w && mp_state_parse(w, st) == 0;
}

/* init N, sipi N VECTOR, mp-state N STATE: the control API's own operations. */
static void mon_act(struct gdb_session *s, char *const w[4], char *text, size_t len)
{
	const struct api_ops *api = s->t->api;
	uint64_t cpu, vector = 0;
	enum mp_state st = MP_STATE_RUNNABLE;
	char err[200] = "";
	enum api_status r;

	bool sipi = !strcmp(w[0], "sipi"), mps = !strcmp(w[0], "mp-state");
	if (number(w[1], s->ncpus - 1, &cpu) < 0 || (sipi && number(w[2], 255, &vector) < 0) ||
	    (mps && !state_named(w[2], &st))) {
		snprintf(text, len, "usage: monitor init N | sipi N VECTOR | mp-state N STATE "
			 "(N below %u)\n", s->ncpus);
		return;
	}
	if (sipi)
		r = api->send_sipi(api->ctx, (uint32_t)cpu, (uint8_t)vector, err, sizeof(err));
	else if (mps)
		r = api->set_mp_state(api->ctx, (uint32_t)cpu, st, err, sizeof(err));
	else
		r = api->send_init(api->ctx, (uint32_t)cpu, err, sizeof(err));
	snprintf(text, len, r == API_OK ? "done\n" : "refused: %s\n", err);
}

/*
 * `monitor break-on [EVENTS | none]`: breaks on MP events as --break-on and PUT
 * /vm/breakpoints arm them (the same refusals); without EVENTS, what is armed and the last
 * break.  A break stops gdb's `continue` like a breakpoint (the stub's break hook).
 */
static void mon_break_on(struct gdb_session *s, const char *spec, char *text, size_t len)
{
	const struct api_ops *api = s->t->api;
	struct api_breaks b;
	char err[256] = "";

	if (!api->get_breaks || !api->set_breaks) {
		snprintf(text, len, "refused: this VM has no breaks on MP events\n");
		return;
	}
	if (spec && api->set_breaks(api->ctx, strcmp(spec, "none") ? spec : "", err,
				    sizeof(err)) != API_OK) {
		snprintf(text, len, "refused: %s\n", err);
		return;
	}
	if (api->get_breaks(api->ctx, &b, err, sizeof(err)) != API_OK) {
		snprintf(text, len, "refused: %s\n", err);
		return;
	}
	int n = snprintf(text, len, "armed: %s\n", b.armed[0] ? b.armed : "none");
	if (b.has_last && n > 0 && (size_t)n < len)
		snprintf(text + n, len - (size_t)n, "last: #%llu %s on vCPU %u\n",
			 (unsigned long long)b.last.seq, b.last.event, b.last.vcpu);
}

void gdb_monitor(struct gdb_session *s, const char *cmd, char *out, size_t outlen)
{
	char text[MON_TEXT_MAX + 1] = "", copy[256];
	char *w[4] = { NULL, NULL, NULL, NULL }, *save = NULL;

	snprintf(copy, sizeof(copy), "%s", cmd);
	w[0] = strtok_r(copy, " \t", &save);
	for (int i = 1; i < 4 && w[i - 1]; i++)
		w[i] = strtok_r(NULL, " \t", &save);
	if (!w[0] || !strcmp(w[0], "help")) {
		snprintf(text, sizeof(text), "monitor mp | phys ADDR LEN | init N | sipi N VECTOR "
			 "| mp-state N STATE | break-on [EVENTS | none]\n");
	} else if (!strcmp(w[0], "mp")) {
		mon_mp(s, text, sizeof(text));
	} else if (!strcmp(w[0], "phys")) {
		mon_phys(s, w[1], w[2], text, sizeof(text));
	} else if (!strcmp(w[0], "init") || !strcmp(w[0], "sipi") || !strcmp(w[0], "mp-state")) {
		mon_act(s, w, text, sizeof(text));
	} else if (!strcmp(w[0], "break-on")) {
		mon_break_on(s, w[1], text, sizeof(text));
	} else {
		snprintf(text, sizeof(text), "unknown monitor command '%s' (monitor help)\n", w[0]);
	}
	reply_text(text, out, outlen);
}
