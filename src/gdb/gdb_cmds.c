/*
 * gdb_cmds.c - the packets of gdb's remote protocol the stub answers (GDB manual, E.2
 * "Packets", E.4 "General Query Packets"), in all-stop mode: every vCPU is a thread
 * (thread id = vCPU index + 1).  Registers and memory of the selected vCPU (`Hg`), the
 * thread list with each vCPU's MP state (qThreadExtraInfo), breakpoints, and the requests to
 * run, step, detach or kill, which the server carries out (enum gdb_action).  Anything
 * else gets the empty reply ("not supported"); anything malformed `E..`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gdb/gdb_regs.h"
#include "gdb/gdb_session.h"
#include "mp/mp_state.h"

#define E_INVAL "E16"
#define E_FAULT "E14"
#define MEM_MAX ((GDB_REPLY_MAX - 1) / 2)

static uint32_t cpu_or_stop(const struct gdb_session *s, uint32_t cpu)
{
	return cpu < s->ncpus ? cpu : s->stop_cpu;
}

void gdb_stop_reply(const struct gdb_session *s, char *out, size_t outlen)
{
	snprintf(out, outlen, "T%02xthread:%x;%s", s->stop_sig, s->stop_cpu + 1, s->stop_extra);
}

/* A thread id: -1 (all), 0 (any), or a vCPU's index + 1 (hex). */
static int parse_tid(const char *p, const char *end, uint32_t *cpu, const struct gdb_session *s)
{
	uint64_t v;

	if (end - p == 2 && !strncmp(p, "-1", 2)) {
		*cpu = GDB_NO_CPU;
		return 0;
	}
	if (gdb_hex_u64(&p, end, &v) < 0 || p != end || v > s->ncpus)
		return -1;
	*cpu = v == 0 ? GDB_NO_CPU : (uint32_t)(v - 1);
	return 0;
}

/* "ADDR,LEN" then `stop` (':' or the end). */
static int parse_addr_len(const char **p, const char *end, uint64_t *addr, uint64_t *len)
{
	if (gdb_hex_u64(p, end, addr) < 0 || *p >= end || **p != ',')
		return -1;
	(*p)++;
	return gdb_hex_u64(p, end, len);
}

static int read_regs(struct gdb_session *s, uint32_t cpu, struct api_vcpu_regs *r)
{
	char err[200];

	return s->t->api->vcpu_regs(s->t->api->ctx, cpu, r, err, sizeof(err)) == API_OK ? 0 : -1;
}

static void cmd_g(struct gdb_session *s, char *out, size_t outlen)
{
	struct api_vcpu_regs r;
	uint8_t raw[GDB_REGS_BYTES];

	if (read_regs(s, cpu_or_stop(s, s->g_cpu), &r) < 0) {
		snprintf(out, outlen, E_FAULT);
		return;
	}
	gdb_regs_get(&r.regs, &r.sregs, raw);
	gdb_hex_encode(raw, sizeof(raw), out);
	out[2 * sizeof(raw)] = 0;
}

static void write_regs(struct gdb_session *s, uint32_t cpu, struct api_vcpu_regs *r, char *out,
		       size_t outlen)
{
	bool ok = s->t->set_regs(s->t->ctx, cpu, &r->regs, &r->sregs) == 0;

	snprintf(out, outlen, ok ? "OK" : E_FAULT);
}

static void cmd_G(struct gdb_session *s, const char *p, size_t n, char *out, size_t outlen)
{
	struct api_vcpu_regs r;
	uint8_t raw[GDB_REGS_BYTES];
	uint32_t cpu = cpu_or_stop(s, s->g_cpu);

	if (n != 2 * sizeof(raw) || gdb_hex_decode(p, n, raw) < 0) {
		snprintf(out, outlen, E_INVAL);
		return;
	}
	if (read_regs(s, cpu, &r) < 0) {
		snprintf(out, outlen, E_FAULT);
		return;
	}
	gdb_regs_set(&r.regs, &r.sregs, raw);
	write_regs(s, cpu, &r, out, outlen);
}

/* p N / P N=VALUE */
static void cmd_p(struct gdb_session *s, const char *p, const char *end, bool set, char *out,
		  size_t outlen)
{
	struct api_vcpu_regs r;
	uint8_t raw[16];
	uint64_t n;
	uint32_t cpu = cpu_or_stop(s, s->g_cpu);

	if (gdb_hex_u64(&p, end, &n) < 0 || n >= GDB_NREGS || (set && (p >= end || *p != '='))) {
		snprintf(out, outlen, E_INVAL);
		return;
	}
	unsigned size = gdb_reg_size((unsigned)n);
	if (set && ((size_t)(end - p - 1) != 2 * size || gdb_hex_decode(p + 1, 2 * size, raw) < 0)) {
		snprintf(out, outlen, E_INVAL);
		return;
	}
	if (read_regs(s, cpu, &r) < 0) {
		snprintf(out, outlen, E_FAULT);
		return;
	}
	if (set) {
		gdb_reg_set(&r.regs, &r.sregs, (unsigned)n, raw);
		write_regs(s, cpu, &r, out, outlen);
		return;
	}
	gdb_reg_get(&r.regs, &r.sregs, (unsigned)n, raw);
	gdb_hex_encode(raw, size, out);
	out[2 * size] = 0;
}

static void cmd_m(struct gdb_session *s, const char *p, const char *end, char *out,
		  size_t outlen)
{
	uint64_t addr, len;
	uint8_t buf[MEM_MAX];

	if (parse_addr_len(&p, end, &addr, &len) < 0 || p != end) {
		snprintf(out, outlen, E_INVAL);
		return;
	}
	if (len > sizeof(buf))
		len = sizeof(buf); /* gdb asks again for the rest */
	if (gdb_mem_read(s, cpu_or_stop(s, s->g_cpu), addr, buf, len) < 0) {
		snprintf(out, outlen, E_FAULT);
		return;
	}
	gdb_hex_encode(buf, len, out);
	out[2 * len] = 0;
}

/* M ADDR,LEN:HEX and X ADDR,LEN:BINARY */
static void cmd_write(struct gdb_session *s, char *p, char *end, bool binary, char *out,
		      size_t outlen)
{
	uint64_t addr, len;
	uint8_t buf[GDB_PACKET_MAX];
	const char *q = p;

	if (parse_addr_len(&q, end, &addr, &len) < 0 || q >= end || *q != ':' ||
	    len > sizeof(buf)) {
		snprintf(out, outlen, E_INVAL);
		return;
	}
	char *data = (char *)q + 1;
	size_t n = (size_t)(end - data);
	if (binary) {
		long m = gdb_unescape(data, n);
		if (m < 0 || (uint64_t)m != len) {
			snprintf(out, outlen, E_INVAL);
			return;
		}
		memcpy(buf, data, len);
	} else if (n != 2 * len || gdb_hex_decode(data, n, buf) < 0) {
		snprintf(out, outlen, E_INVAL);
		return;
	}
	bool ok = !len || gdb_mem_write(s, cpu_or_stop(s, s->g_cpu), addr, buf, len) == 0;
	snprintf(out, outlen, ok ? "OK" : E_FAULT);
}

static void cmd_z(struct gdb_session *s, const char *p, const char *end, bool insert,
		  char *out, size_t outlen)
{
	uint64_t type, addr, kind;

	if (gdb_hex_u64(&p, end, &type) < 0 || type > GDB_BP_ACCESS || p >= end || *p++ != ',' ||
	    parse_addr_len(&p, end, &addr, &kind) < 0 || kind > 16) {
		snprintf(out, outlen, E_INVAL);
		return;
	}
	/* Conditions and commands after ';' are gdb's own business: ignored. */
	if (insert && gdb_bp_insert(s, (enum gdb_bp_type)type, addr, (uint8_t)kind, out,
				     outlen) < 0)
		return;
	if (!insert)
		gdb_bp_remove(s, (enum gdb_bp_type)type, addr, (uint8_t)kind);
	snprintf(out, outlen, "OK");
}

/* "vCPU 3 (APIC 6, BSP) HALTED" */
static void thread_name(struct gdb_session *s, uint32_t cpu, char *buf, size_t len)
{
	struct api_vcpu_info info;
	char err[200];

	if (s->t->api->vcpu_info(s->t->api->ctx, cpu, &info, err, sizeof(err)) != API_OK) {
		snprintf(buf, len, "vCPU %u", cpu);
		return;
	}
	snprintf(buf, len, "vCPU %u (APIC %u%s) %s", cpu, info.apic_id, info.is_bsp ? ", BSP" : "",
		 info.mp_state_known ? mp_state_name(info.mp_state) : "?");
}

static void hex_text(const char *text, char *out, size_t outlen)
{
	size_t n = strlen(text);

	if (2 * n + 1 > outlen)
		n = (outlen - 1) / 2;
	gdb_hex_encode(text, n, out);
	out[2 * n] = 0;
}

static void cmd_xfer(const char *p, const char *end, char *out, size_t outlen)
{
	static const char prefix[] = "features:read:target.xml:";
	uint64_t off, len;
	size_t total = strlen(gdb_target_xml);

	if (strncmp(p, prefix, sizeof(prefix) - 1)) {
		out[0] = 0;
		return;
	}
	p += sizeof(prefix) - 1;
	if (parse_addr_len(&p, end, &off, &len) < 0 || off > total) {
		snprintf(out, outlen, E_INVAL);
		return;
	}
	if (len > outlen - 2)
		len = outlen - 2;
	size_t n = total - off < len ? total - off : len;
	out[0] = off + n >= total ? 'l' : 'm';
	memcpy(out + 1, gdb_target_xml + off, n);
	out[1 + n] = 0;
}

static void cmd_query(struct gdb_session *s, char *p, char *end, char *out, size_t outlen)
{
	char name[96];

	out[0] = 0;
	if (!strncmp(p, "qSupported", 10)) {
		snprintf(out, outlen, "PacketSize=%x;qXfer:features:read+;swbreak+;hwbreak+;"
			 "vContSupported+;QStartNoAckMode+", GDB_PACKET_MAX);
	} else if (!strcmp(p, "qfThreadInfo")) {
		size_t n = (size_t)snprintf(out, outlen, "m");
		for (uint32_t i = 0; i < s->ncpus && n + 12 < outlen; i++)
			n += (size_t)snprintf(out + n, outlen - n, "%s%x", i ? "," : "", i + 1);
	} else if (!strcmp(p, "qsThreadInfo")) {
		snprintf(out, outlen, "l");
	} else if (!strcmp(p, "qC")) {
		snprintf(out, outlen, "QC%x", cpu_or_stop(s, s->g_cpu) + 1);
	} else if (!strcmp(p, "qAttached")) {
		snprintf(out, outlen, "1");
	} else if (!strncmp(p, "qThreadExtraInfo,", 17)) {
		uint32_t cpu;
		if (parse_tid(p + 17, end, &cpu, s) < 0 || cpu >= s->ncpus) {
			snprintf(out, outlen, E_INVAL);
			return;
		}
		thread_name(s, cpu, name, sizeof(name));
		hex_text(name, out, outlen);
	} else if (!strncmp(p, "qXfer:", 6)) {
		cmd_xfer(p + 6, end, out, outlen);
	} else if (!strncmp(p, "qRcmd,", 6)) {
		size_t n = (size_t)(end - p - 6);
		char cmd[256];
		if (n % 2 || n / 2 >= sizeof(cmd) || gdb_hex_decode(p + 6, n, cmd) < 0) {
			snprintf(out, outlen, E_INVAL);
			return;
		}
		cmd[n / 2] = 0;
		gdb_monitor(s, cmd, out, outlen);
	}
}

static void cmd_H(struct gdb_session *s, const char *p, const char *end, char *out,
		  size_t outlen)
{
	uint32_t cpu;

	if (p >= end || (*p != 'g' && *p != 'c') || parse_tid(p + 1, end, &cpu, s) < 0) {
		snprintf(out, outlen, E_INVAL);
		return;
	}
	*(*p == 'g' ? &s->g_cpu : &s->c_cpu) = cpu;
	snprintf(out, outlen, "OK");
}

/*
 * vCont;ACTION[:TID]...: a step anywhere in it steps that thread alone (all-stop: the others
 * stay stopped); else a continue runs all.
 */
static enum gdb_action cmd_vcont(struct gdb_session *s, const char *p, const char *end,
				 char *out, size_t outlen)
{
	if (*p == '?') {
		snprintf(out, outlen, "vCont;c;C;s;S");
		return GDB_REPLY;
	}
	bool any = false;
	while (p < end && *p == ';') {
		char action = p[1];
		const char *colon = p + 2, *next = memchr(p + 1, ';', (size_t)(end - p - 1));
		uint32_t cpu = GDB_NO_CPU;
		if (!next)
			next = end;
		if (action == 'C' || action == 'S') /* a signal: none is delivered to a vCPU */
			while (colon < next && *colon != ':')
				colon++;
		if (colon < next && *colon == ':' && parse_tid(colon + 1, next, &cpu, s) < 0)
			goto bad;
		if (action == 's' || action == 'S') {
			s->step_cpu = cpu_or_stop(s, cpu < s->ncpus ? cpu : s->c_cpu);
			return GDB_STEP;
		}
		if (action != 'c' && action != 'C')
			goto bad;
		any = true;
		p = next;
	}
	if (any)
		return GDB_CONTINUE;
bad:
	snprintf(out, outlen, E_INVAL);
	return GDB_REPLY;
}

enum gdb_action gdb_handle(struct gdb_session *s, char *pkt, size_t len, char *out,
			   size_t outlen)
{
	char *end = pkt + len;

	out[0] = 0;
	if (!len)
		return GDB_REPLY;
	switch (pkt[0]) {
	case '?':
		gdb_stop_reply(s, out, outlen);
		break;
	case 'g':
		cmd_g(s, out, outlen);
		break;
	case 'G':
		cmd_G(s, pkt + 1, len - 1, out, outlen);
		break;
	case 'p':
	case 'P':
		cmd_p(s, pkt + 1, end, pkt[0] == 'P', out, outlen);
		break;
	case 'm':
		cmd_m(s, pkt + 1, end, out, outlen);
		break;
	case 'M':
	case 'X':
		cmd_write(s, pkt + 1, end, pkt[0] == 'X', out, outlen);
		break;
	case 'Z':
	case 'z':
		cmd_z(s, pkt + 1, end, pkt[0] == 'Z', out, outlen);
		break;
	case 'H':
		cmd_H(s, pkt + 1, end, out, outlen);
		break;
	case 'T': {
		uint32_t cpu;
		bool ok = parse_tid(pkt + 1, end, &cpu, s) == 0 && cpu < s->ncpus;
		snprintf(out, outlen, ok ? "OK" : "E01");
		break;
	}
	case 'q':
		cmd_query(s, pkt, end, out, outlen);
		break;
	case 'Q':
		if (!strcmp(pkt, "QStartNoAckMode")) {
			s->noack = true;
			snprintf(out, outlen, "OK");
		}
		break;
	case 'c':
	case 'C':
		return GDB_CONTINUE; /* an address to resume at is not supported: ignored */
	case 's':
	case 'S':
		s->step_cpu = cpu_or_stop(s, s->c_cpu);
		return GDB_STEP;
	case 'v':
		if (!strncmp(pkt, "vCont", 5) && len > 5)
			return cmd_vcont(s, pkt + 5, end, out, outlen);
		break; /* vMustReplyEmpty and the others: not supported */
	case 'D':
		snprintf(out, outlen, "OK");
		return GDB_DETACH;
	case 'k':
		return GDB_KILL;
	default:
		break;
	}
	return GDB_REPLY;
}
