/*
 * gdb_bp.c - breakpoints and watchpoints (Z/z packets).  A breakpoint is kept by address by
 * the accelerator where it has a slot free (struct accel_debug.bp: the software CPU's code
 * hook, KVM's debug registers), so that it survives the guest writing code over it (the
 * self-test copies its AP trampoline to 0x8000 after boot); a software breakpoint without a
 * slot is an INT3 written in guest memory, its byte kept, put back on removal only if the
 * guest has not overwritten the INT3 meanwhile.  Hardware breakpoints and watchpoints need
 * a slot: where the accelerator has none, `E..` and one log line saying why.
 */
#include <stdio.h>
#include <string.h>

#include "gdb/gdb_session.h"
#include "util/log.h"

static uint32_t slots_used(const struct gdb_session *s)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < s->nbps; i++)
		n += s->bps[i].slot;
	return n;
}

static int refuse(char *out, size_t outlen, const char *what, const char *why)
{
	log_warn("gdb: %s refused: %s", what, why);
	snprintf(out, outlen, "E01");
	return -1;
}

static int insert_int3(struct gdb_session *s, struct gdb_bp *b, char *out, size_t outlen)
{
	uint32_t cpu = s->g_cpu < s->ncpus ? s->g_cpu : s->stop_cpu;
	uint8_t *p;

	if (gdb_mem_linear_to_phys(s, cpu, b->addr, &b->gpa) < 0 ||
	    !(p = s->t->phys(s->t->ctx, b->gpa, 1))) {
		snprintf(out, outlen, "E14"); /* EFAULT: not mapped */
		return -1;
	}
	b->saved = *p;
	*p = 0xcc;
	return 0;
}

int gdb_bp_insert(struct gdb_session *s, enum gdb_bp_type type, uint64_t addr, uint8_t len,
		  char *out, size_t outlen)
{
	const struct gdb_target *t = s->t;
	bool watch = type >= GDB_BP_WRITE;
	bool free_slot = slots_used(s) < (watch ? (t->watch ? ACCEL_DEBUG_BPS : 0) : t->exec_bps);

	for (uint32_t i = 0; i < s->nbps; i++)
		if (s->bps[i].type == type && s->bps[i].addr == addr && s->bps[i].len == len)
			return 0; /* already there */
	if (s->nbps == GDB_MAX_BPS)
		return refuse(out, outlen, "breakpoint", "too many breakpoints");
	if (watch && !t->watch)
		return refuse(out, outlen, "watchpoint", t->why_not);
	if (type == GDB_BP_HW && !t->exec_bps)
		return refuse(out, outlen, "hardware breakpoint", t->why_not);
	if (type != GDB_BP_SW && !free_slot)
		return refuse(out, outlen, "breakpoint", "every debug register is in use");
	if (watch && (len == 0 || len > 8 || (len & (len - 1)) || (addr & (len - 1))))
		return refuse(out, outlen, "watchpoint", "length must be 1, 2, 4 or 8, aligned");
	struct gdb_bp *b = &s->bps[s->nbps];
	*b = (struct gdb_bp){ .type = type, .addr = addr, .len = len, .slot = free_slot };
	if (!b->slot && insert_int3(s, b, out, outlen) < 0)
		return -1;
	s->nbps++;
	return 0;
}

static void remove_at(struct gdb_session *s, uint32_t i)
{
	struct gdb_bp *b = &s->bps[i];

	if (!b->slot) {
		uint8_t *p = s->t->phys(s->t->ctx, b->gpa, 1);
		if (p && *p == 0xcc) /* else the guest wrote there since: keep its byte */
			*p = b->saved;
	}
	s->bps[i] = s->bps[--s->nbps];
}

int gdb_bp_remove(struct gdb_session *s, enum gdb_bp_type type, uint64_t addr, uint8_t len)
{
	for (uint32_t i = 0; i < s->nbps; i++) {
		if (s->bps[i].type == type && s->bps[i].addr == addr &&
		    (type < GDB_BP_WRITE || s->bps[i].len == len)) {
			remove_at(s, i);
			return 0;
		}
	}
	return 0; /* gdb removes what the stub refused too */
}

void gdb_bp_remove_all(struct gdb_session *s)
{
	while (s->nbps)
		remove_at(s, s->nbps - 1);
}

void gdb_bp_debug(const struct gdb_session *s, struct accel_debug *d)
{
	static const enum accel_bp_kind kinds[] = {
		[GDB_BP_SW] = ACCEL_BP_EXEC, [GDB_BP_HW] = ACCEL_BP_EXEC,
		[GDB_BP_WRITE] = ACCEL_BP_WRITE, [GDB_BP_READ] = ACCEL_BP_ACCESS,
		[GDB_BP_ACCESS] = ACCEL_BP_ACCESS,
	};

	memset(d, 0, sizeof(*d));
	for (uint32_t i = 0; i < s->nbps; i++) {
		const struct gdb_bp *b = &s->bps[i];
		if (!b->slot) {
			d->sw_int3 = true;
		} else if (d->nbp < ACCEL_DEBUG_BPS) {
			d->bp[d->nbp].kind = kinds[b->type];
			d->bp[d->nbp].addr = b->addr;
			d->bp[d->nbp].len = b->type >= GDB_BP_WRITE ? b->len : 1;
			d->nbp++;
		}
	}
}

void gdb_bp_describe(const struct gdb_session *s, const struct accel_exit *e, char *out,
		     size_t outlen)
{
	static const char *const watch_names[] = {
		[GDB_BP_WRITE] = "watch", [GDB_BP_READ] = "rwatch", [GDB_BP_ACCESS] = "awatch",
	};

	out[0] = 0;
	if (e->debug.cause == ACCEL_DEBUG_WATCH) {
		const char *name = "watch";
		for (uint32_t i = 0; i < s->nbps; i++)
			if (s->bps[i].type >= GDB_BP_WRITE && s->bps[i].addr == e->debug.addr)
				name = watch_names[s->bps[i].type];
		snprintf(out, outlen, "%s:%llx;", name, (unsigned long long)e->debug.addr);
		return;
	}
	for (uint32_t i = 0; i < s->nbps; i++) {
		if (s->bps[i].type <= GDB_BP_HW && s->bps[i].addr == e->debug.pc) {
			snprintf(out, outlen, "%s:;", s->bps[i].type == GDB_BP_SW ? "swbreak"
										   : "hwbreak");
			return;
		}
	}
}
