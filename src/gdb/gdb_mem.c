/*
 * gdb_mem.c - guest memory at gdb's addresses, which are linear: through the selected
 * vCPU's own paging (x86/pagewalk.c over the tables in guest RAM), whatever the
 * accelerator; page by page, since neighbouring pages need not be neighbours in RAM.
 */
#include <string.h>

#include "gdb/gdb_session.h"
#include "x86/pagewalk.h"

static int phys_read(void *ctx, uint64_t gpa, unsigned size, uint64_t *val)
{
	const struct gdb_target *t = ctx;
	const uint8_t *p = t->phys(t->ctx, gpa, size);

	if (!p)
		return -1;
	*val = 0;
	memcpy(val, p, size); /* x86 host: little-endian */
	return 0;
}

int gdb_mem_linear_to_phys(struct gdb_session *s, uint32_t cpu, uint64_t addr, uint64_t *gpa)
{
	struct api_vcpu_regs r;
	char err[200];

	if (cpu >= s->ncpus || s->t->api->vcpu_regs(s->t->api->ctx, cpu, &r, err, sizeof(err)))
		return -1;
	const struct x86_paging p = { .cr0 = r.sregs.cr0, .cr3 = r.sregs.cr3,
				      .cr4 = r.sregs.cr4, .efer = r.sregs.efer };
	return x86_pagewalk(&p, addr, phys_read, (void *)s->t, gpa);
}

/* Each page's part of [addr, addr + len): its host pointer, or -1. */
static int each_page(struct gdb_session *s, uint32_t cpu, uint64_t addr, uint8_t *buf,
		     size_t len, bool write)
{
	while (len) {
		size_t chunk = 4096 - (addr & 4095);
		uint64_t gpa;
		if (chunk > len)
			chunk = len;
		if (gdb_mem_linear_to_phys(s, cpu, addr, &gpa) < 0)
			return -1;
		uint8_t *p = s->t->phys(s->t->ctx, gpa, chunk);
		if (!p)
			return -1;
		if (write)
			memcpy(p, buf, chunk);
		else
			memcpy(buf, p, chunk);
		addr += chunk;
		buf += chunk;
		len -= chunk;
	}
	return 0;
}

int gdb_mem_read(struct gdb_session *s, uint32_t cpu, uint64_t addr, uint8_t *buf, size_t len)
{
	return each_page(s, cpu, addr, buf, len, false);
}

int gdb_mem_write(struct gdb_session *s, uint32_t cpu, uint64_t addr, const uint8_t *buf,
		  size_t len)
{
	return each_page(s, cpu, addr, (uint8_t *)buf, len, true);
}
