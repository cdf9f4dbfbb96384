/*
 * ctl_print.c - how `mpvmm ctl` shows the control API's JSON answers as tables: the VM, its
 * vCPUs, one vCPU's counters and times, its registers and its local APIC.  It knows the
 * API's JSON (api/routes.c writes it), not how it is fetched.
 */
#include "cli/ctl_print.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

json_int_t int_of(json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

const char *str_of(json_t *o, const char *key, const char *none)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : none;
}

static json_int_t sum_of(json_t *counters)
{
	const char *k;
	json_t *v;
	json_int_t sum = 0;

	json_object_foreach(counters, k, v)
		sum += json_integer_value(v);
	return sum;
}

/* "io 12, hlt 3" for the non-zero counters, or "none". */
static void print_counters(const char *label, json_t *counters, double scale, const char *unit)
{
	const char *k;
	json_t *v;
	bool any = false;

	printf("  %-14s", label);
	json_object_foreach(counters, k, v) {
		if (!json_integer_value(v))
			continue;
		printf("%s%s %.*f%s", any ? ", " : "", k, scale == 1 ? 0 : 3,
		       (double)json_integer_value(v) / scale, unit);
		any = true;
	}
	printf("%s\n", any ? "" : "none");
}

void print_vcpu_row(json_t *v)
{
	char sipi[8] = "-";
	json_t *sv = json_object_get(v, "sipi_vector");

	if (sv)
		snprintf(sipi, sizeof(sipi), "0x%02x", (unsigned)json_integer_value(sv));
	printf("%4" JSON_INTEGER_FORMAT "  %7" JSON_INTEGER_FORMAT "  %-3s  %-13s  %4s  %-18s  %"
	       JSON_INTEGER_FORMAT "\n", int_of(v, "id"), int_of(v, "apic_id"),
	       json_is_true(json_object_get(v, "is_bsp")) ? "yes" : "no",
	       str_of(v, "mp_state", "?"), sipi, str_of(v, "rip", "-"),
	       sum_of(json_object_get(v, "exits")));
}

void print_vcpu(json_t *v)
{
	json_t *sv = json_object_get(v, "sipi_vector");

	printf("vCPU %" JSON_INTEGER_FORMAT "\n", int_of(v, "id"));
	printf("  %-14s%" JSON_INTEGER_FORMAT "\n", "APIC ID", int_of(v, "apic_id"));
	printf("  %-14s%s\n", "BSP", json_is_true(json_object_get(v, "is_bsp")) ? "yes" : "no");
	printf("  %-14s%s\n", "MP state", str_of(v, "mp_state", "unknown"));
	if (sv)
		printf("  %-14s0x%02x\n", "SIPI vector", (unsigned)json_integer_value(sv));
	printf("  %-14s%s\n", "RIP", str_of(v, "rip", "unknown"));
	print_counters("exits", json_object_get(v, "exits"), 1, "");
	print_counters("carried", json_object_get(v, "carried"), 1, "");
	print_counters("time in state", json_object_get(v, "time_in_state_ns"), 1e6, " ms");
}

void print_vm(json_t *o)
{
	printf("%-10s%s\n", "state", str_of(o, "state", "?"));
	printf("%-10s%" JSON_INTEGER_FORMAT " (%" JSON_INTEGER_FORMAT " sockets x %"
	       JSON_INTEGER_FORMAT " cores x %" JSON_INTEGER_FORMAT " threads), boot CPU %"
	       JSON_INTEGER_FORMAT "\n", "vCPUs", int_of(o, "cpus"), int_of(o, "sockets"),
	       int_of(o, "cores"), int_of(o, "threads"), int_of(o, "boot_cpu"));
	printf("%-10s%.0f MiB\n", "memory", (double)int_of(o, "memory") / 1048576);
	printf("%-10s%s, irqchip %s, MP state backend %s\n", "accel", str_of(o, "accel", "?"),
	       str_of(o, "irqchip", "?"), str_of(o, "mp_backend", "?"));
	printf("%-10s%s\n", "guest", str_of(o, "guest", "?"));
	printf("%-10s%.3f s\n", "uptime", (double)int_of(o, "uptime_ns") / 1e9);
	if (int_of(o, "console_dropped"))
		printf("%-10s%" JSON_INTEGER_FORMAT " bytes of guest output dropped (the host did "
		       "not read them)\n", "console", int_of(o, "console_dropped"));
	json_t *b = json_object_get(o, "last_break");
	if (json_is_object(b))
		print_break("break", b);
}

/* "sipi on vCPU 2 (APIC 2) from vCPU 0, vector 0x08 (#3)", as the break's line says it. */
void print_break(const char *label, json_t *b)
{
	json_t *from = json_object_get(b, "from"), *vec = json_object_get(b, "vector");
	const char *state = str_of(b, "state", NULL);
	const char *event = str_of(b, "event", "?");
	bool ipi = !strcmp(event, "init") || !strcmp(event, "sipi");

	printf("%-10s%s on vCPU %" JSON_INTEGER_FORMAT " (APIC %" JSON_INTEGER_FORMAT ")", label,
	       event, int_of(b, "vcpu"), int_of(b, "apic_id"));
	if (ipi && json_is_integer(from))
		printf(" from vCPU %" JSON_INTEGER_FORMAT, json_integer_value(from));
	else if (ipi)
		printf(" from outside");
	if (json_is_integer(vec))
		printf(", vector 0x%02x", (unsigned)json_integer_value(vec));
	if (state)
		printf(": %s%s", state, json_is_true(json_object_get(b, "exact")) ? "" :
		       " (inferred)");
	printf(" (#%" JSON_INTEGER_FORMAT ")\n", int_of(b, "seq"));
}

static void print_segment(const char *name, json_t *g)
{
	printf("  %-4s 0x%04x base %-18s limit %-10s dpl %" JSON_INTEGER_FORMAT
	       "%s\n", name, (unsigned)int_of(g, "selector"), str_of(g, "base", "?"),
	       str_of(g, "limit", "?"), int_of(g, "dpl"),
	       json_is_true(json_object_get(g, "long")) ? " 64-bit" : "");
}

void print_regs(json_t *o)
{
	static const char *const gpr[] = {
		"rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10",
		"r11", "r12", "r13", "r14", "r15", "rip", "rflags", "cr0", "cr2", "cr3", "cr4",
		"cr8", "efer", "apic_base",
	};
	static const char *const segs[] = { "cs", "ss", "ds", "es", "fs", "gs", "tr" };
	json_t *ev = json_object_get(o, "events");

	printf("vCPU %" JSON_INTEGER_FORMAT "\n", int_of(o, "id"));
	for (size_t i = 0; i < sizeof(gpr) / sizeof(gpr[0]); i++)
		printf("  %-9s %-18s%s", gpr[i], str_of(o, gpr[i], "?"),
		       i % 3 == 2 || i + 1 == sizeof(gpr) / sizeof(gpr[0]) ? "\n" : "");
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]); i++)
		print_segment(segs[i], json_object_get(o, segs[i]));
	if (json_is_object(ev)) {
		json_t *irq = json_object_get(ev, "interrupt"), *nmi = json_object_get(ev, "nmi");
		json_t *exc = json_object_get(ev, "exception");
		printf("  events: interrupt %s%s, NMI%s%s%s, exception %s\n",
		       json_is_true(json_object_get(irq, "injected")) ? "injected" : "none",
		       json_is_true(json_object_get(irq, "shadow")) ? " (shadow)" : "",
		       json_is_true(json_object_get(nmi, "injected")) ? " injected" : "",
		       json_is_true(json_object_get(nmi, "pending")) ? " pending" : "",
		       json_is_true(json_object_get(nmi, "masked")) ? " masked" : " unmasked",
		       json_is_true(json_object_get(exc, "injected")) ? "injected" : "none");
	}
}

static void print_vectors(const char *name, json_t *list)
{
	size_t i;
	json_t *v;

	printf("  %-5s", name);
	json_array_foreach(list, i, v)
		printf(" 0x%02x", (unsigned)json_integer_value(v));
	printf("%s\n", json_array_size(list) ? "" : " none");
}

void print_lapic(json_t *o)
{
	json_t *lvt = json_object_get(o, "lvt"), *t = json_object_get(o, "timer");

	printf("vCPU %" JSON_INTEGER_FORMAT " local APIC (ID register %s, SVR %s, ESR %s)\n",
	       int_of(o, "id"), str_of(o, "apic_id", "?"), str_of(o, "svr", "?"),
	       str_of(o, "esr", "?"));
	printf("  TPR 0x%02x  APR 0x%02x  PPR 0x%02x  ICR %s\n", (unsigned)int_of(o, "tpr"),
	       (unsigned)int_of(o, "apr"), (unsigned)int_of(o, "ppr"), str_of(o, "icr", "?"));
	print_vectors("IRR", json_object_get(o, "irr"));
	print_vectors("ISR", json_object_get(o, "isr"));
	print_vectors("TMR", json_object_get(o, "tmr"));
	printf("  LVT   timer %s  LINT0 %s  LINT1 %s  error %s\n", str_of(lvt, "timer", "?"),
	       str_of(lvt, "lint0", "?"), str_of(lvt, "lint1", "?"), str_of(lvt, "error", "?"));
	printf("  timer initial %" JSON_INTEGER_FORMAT "  current %" JSON_INTEGER_FORMAT
	       "  divide %s\n", int_of(t, "initial"), int_of(t, "current"),
	       str_of(t, "divide", "?"));
}
