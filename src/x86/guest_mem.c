/*
 * guest_mem.c - see guest_mem.h.
 */
#include "x86/guest_mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int guest_mem_init(struct guest_mem *m, uint64_t size, char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "cannot map %llu MiB of guest memory: %s",
			 (unsigned long long)(size >> 20), strerror(errno));
		return -1;
	}
	/* Transparent huge pages cut EPT/NPT walk costs; a refusal changes nothing else. */
	(void)madvise(p, size, MADV_HUGEPAGE);
	m->host = p;
	m->size = size;

	uint64_t low = size < GUEST_MEM_HOLE_START ? size : GUEST_MEM_HOLE_START;
	m->regions[m->nregions++] = (struct guest_region){ 0, low, m->host };
	if (size > low)
		m->regions[m->nregions++] = (struct guest_region){ GUEST_MEM_HIGH_START, size - low,
								   m->host + low };
	return 0;
}

void guest_mem_free(struct guest_mem *m)
{
	if (m->host)
		munmap(m->host, m->size);
	memset(m, 0, sizeof(*m));
}

void *guest_mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < m->nregions; i++) {
		const struct guest_region *r = &m->regions[i];
		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

uint64_t guest_mem_low_size(const struct guest_mem *m)
{
	return m->nregions ? m->regions[0].size : 0;
}

uint64_t guest_mem_resident(const struct guest_mem *m)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pages = (size_t)((m->size + (uint64_t)page - 1) / (uint64_t)page);
	unsigned char *vec = malloc(pages);
	uint64_t resident = 0;

	if (!vec || mincore(m->host, m->size, vec) < 0) {
		free(vec);
		return 0;
	}
	for (size_t i = 0; i < pages; i++)
		resident += vec[i] & 1;
	free(vec);
	return resident * (uint64_t)page;
}
