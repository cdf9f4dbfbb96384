/*
 * report.c - see report.h.
 */
#include "vm/report.h"

#include <stdlib.h>
#include <string.h>

#define EVENTS_MAX 256

static const char *source_mark(enum trace_source s)
{
	return s == TRACE_EXACT ? "" : s == TRACE_GUEST ? "*" : "~";
}

static void format_states(char *buf, size_t len, const struct trace_event *ev, size_t n)
{
	size_t used = 0;

	buf[0] = 0;
	for (size_t i = 0; i < n && used < len; i++) {
		if (ev[i].kind != TRACE_STATE)
			continue;
		int w = snprintf(buf + used, len - used, "%s%s%s@%.3f", used ? " > " : "",
				 mp_state_name(ev[i].state), source_mark(ev[i].source),
				 (double)ev[i].t_ns / 1e6);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static void format_sipi_latency(char *buf, size_t len, const struct trace_event *ev, size_t n)
{
	const struct trace_event *sipi = NULL, *exit = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!sipi && ev[i].kind == TRACE_SIPI)
			sipi = &ev[i];
		if (!exit && ev[i].kind == TRACE_FIRST_EXIT)
			exit = &ev[i];
	}
	if (sipi && exit && exit->t_ns >= sipi->t_ns)
		snprintf(buf, len, "%.3f", (double)(exit->t_ns - sipi->t_ns) / 1e6);
	else
		snprintf(buf, len, "-");
}

static void format_carried(char *buf, size_t len, const struct vcpu *v)
{
	size_t used = 0;

	buf[0] = 0;
	for (unsigned k = 0; k < INSN_KINDS && used < len; k++) {
		uint64_t c = atomic_load(&((struct vcpu *)v)->carried[k]);
		if (!c)
			continue;
		int w = snprintf(buf + used, len - used, "%s%s x%llu", used ? ", " : "  carried: ",
				 insn_kind_name(k), (unsigned long long)c);
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

void report_print(FILE *out, struct mp *mp, const struct vcpu *vcpus, uint32_t n)
{
	struct trace_event *ev = calloc(EVENTS_MAX, sizeof(*ev));
	char states[1024], sipi[32], carried[512];

	if (!ev)
		return;
	fprintf(out, "\nvCPU  APIC ID  BSP  SIPI->exit ms  MP states (ms since VM start; "
		"~ inferred, * reported by the guest)\n");
	for (uint32_t i = 0; i < n; i++) {
		const struct mp_cpu *c = mp_cpu(mp, i);
		size_t k = trace_copy(mp_trace(mp), i, ev, EVENTS_MAX);
		format_states(states, sizeof(states), ev, k);
		format_sipi_latency(sipi, sizeof(sipi), ev, k);
		format_carried(carried, sizeof(carried), &vcpus[i]);
		fprintf(out, "%4u  %7u  %-3s  %13s  %s%s\n", i, c->apic_id, c->bsp ? "yes" : "no",
			sipi, states, carried);
	}
	fprintf(out, "MP state backend: %s\n", mp_backend_name(mp));
	free(ev);
}

/* A "Name:   1234 kB" line of /proc/self/status, in bytes; 0 if absent. */
static uint64_t proc_status_kb(const char *name)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t len = strlen(name);
	uint64_t kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, name, len) && line[len] == ':') {
			kb = strtoull(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb * 1024;
}

void report_memory(FILE *out, uint64_t guest_resident)
{
	uint64_t peak = proc_status_kb("VmHWM");
	uint64_t vmm = peak > guest_resident ? peak - guest_resident : 0;

	/* In a jail (--jail) there is no /proc to ask. */
	if (!peak) {
		fprintf(out, "memory: guest RAM resident %.2f MiB (peak RSS unknown: cannot read "
			"/proc/self/status)\n", (double)guest_resident / 1048576);
		return;
	}
	fprintf(out, "memory: peak RSS %.2f MiB, guest RAM resident %.2f MiB, VMM %.2f MiB\n",
		(double)peak / 1048576, (double)guest_resident / 1048576, (double)vmm / 1048576);
}
