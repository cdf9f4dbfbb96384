/*
 * bus.c - see bus.h.  A sorted array of ranges searched by bisection: a handful of devices,
 * looked up on every exit, never changed once the guest runs.
 */
#include "dev/bus.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct bus_range {
	uint64_t base, len;
	bus_handler fn;
	void *ctx;
	const char *device;
};

struct bus {
	const char *name;
	size_t n, cap;
	struct bus_range *r;
	_Atomic uint64_t unclaimed;
};

struct bus *bus_create(const char *name)
{
	struct bus *b = calloc(1, sizeof(*b));

	if (b)
		b->name = name;
	return b;
}

void bus_destroy(struct bus *b)
{
	if (!b)
		return;
	free(b->r);
	free(b);
}

static bool overlaps(const struct bus_range *r, uint64_t base, uint64_t len)
{
	return base < r->base + r->len && r->base < base + len;
}

int bus_register(struct bus *b, uint64_t base, uint64_t len, bus_handler fn, void *ctx,
		 const char *device)
{
	size_t pos = 0;

	for (size_t i = 0; i < b->n; i++) {
		if (overlaps(&b->r[i], base, len)) {
			log_error("%s bus: %s at 0x%llx overlaps %s", b->name, device,
				  (unsigned long long)base, b->r[i].device);
			return -1;
		}
		if (b->r[i].base < base)
			pos = i + 1;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8;
		struct bus_range *r = realloc(b->r, cap * sizeof(*r));
		if (!r)
			return -1;
		b->r = r;
		b->cap = cap;
	}
	memmove(&b->r[pos + 1], &b->r[pos], (b->n - pos) * sizeof(*b->r));
	b->r[pos] = (struct bus_range){ base, len, fn, ctx, device };
	b->n++;
	return 0;
}

static const struct bus_range *find(const struct bus *b, uint64_t addr)
{
	size_t lo = 0, hi = b->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &b->r[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_dispatch(struct bus *b, const struct bus_access *a)
{
	const struct bus_range *r = find(b, a->addr);

	if (r) {
		r->fn(r->ctx, a);
		return true;
	}
	atomic_fetch_add_explicit(&b->unclaimed, 1, memory_order_relaxed);
	if (!a->write)
		memset(a->data, 0xff, a->size); /* nothing drives the bus: all ones */
	return false;
}

uint64_t bus_unclaimed(const struct bus *b)
{
	return atomic_load_explicit(&((struct bus *)b)->unclaimed, memory_order_relaxed);
}

size_t bus_claims(const struct bus *b, struct bus_claim *out, size_t max)
{
	for (size_t i = 0; i < b->n && i < max; i++)
		out[i] = (struct bus_claim){ .base = b->r[i].base, .len = b->r[i].len,
					     .device = b->r[i].device };
	return b->n;
}
