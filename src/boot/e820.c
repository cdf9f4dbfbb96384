/*
 * e820.c - see e820.h.  The PC's low-memory map (EBDA below 640 KiB, VGA and option ROMs at
 * 0xa0000-0xdffff, system BIOS area at 0xe0000-0xfffff) is the one every PC BIOS reports.
 */
#include "boot/e820.h"

#include <stdio.h>

#include "boot/layout.h"
#include "x86/acpi.h"
#include "x86/mptable.h"

/* The firmware tables vm.c writes must lie inside the area the map reserves. */
_Static_assert(ACPI_ADDR >= LAYOUT_BIOS && ACPI_ADDR + ACPI_MAX <= LAYOUT_IMAGE_MIN,
	       "ACPI tables outside the reserved BIOS area");
_Static_assert(MPTABLE_ADDR >= LAYOUT_BIOS && MPTABLE_ADDR + MPTABLE_MAX <= LAYOUT_IMAGE_MIN,
	       "MP table outside the reserved BIOS area");

static const struct e820_carve pc_carve[] = {
	{ LAYOUT_EBDA, LAYOUT_VGA_HOLE - LAYOUT_EBDA, E820_RESERVED },
	{ LAYOUT_VGA_HOLE, LAYOUT_BIOS - LAYOUT_VGA_HOLE, E820_HOLE },
	{ LAYOUT_BIOS, LAYOUT_IMAGE_MIN - LAYOUT_BIOS, E820_RESERVED },
};

struct e820_out {
	struct e820_entry *e;
	size_t n, max;
};

static int emit(struct e820_out *o, uint64_t addr, uint64_t end, uint32_t type)
{
	if (end <= addr || type == E820_HOLE)
		return 0;
	if (o->n == o->max)
		return -1;
	o->e[o->n++] = (struct e820_entry){ addr, end - addr, type };
	return 0;
}

static int check_carve(const struct e820_carve *c, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (c[i].addr + c[i].size < c[i].addr ||
		    (i > 0 && c[i].addr < c[i - 1].addr + c[i - 1].size)) {
			snprintf(err, errlen, "e820: reserved range %zu at 0x%llx overlaps or is "
				 "out of order", i, (unsigned long long)c[i].addr);
			return -1;
		}
	}
	return 0;
}

/* One RAM region: RAM up to each carve-out, the carve-out itself, RAM after the last. */
static int region(struct e820_out *o, const struct guest_region *r, const struct e820_carve *c,
		  size_t ncarve)
{
	uint64_t pos = r->gpa, end = r->gpa + r->size;

	for (size_t i = 0; i < ncarve; i++) {
		uint64_t lo = c[i].addr > pos ? c[i].addr : pos;
		uint64_t hi = c[i].addr + c[i].size < end ? c[i].addr + c[i].size : end;
		if (lo >= hi)
			continue;
		if (emit(o, pos, lo, E820_RAM) < 0 || emit(o, lo, hi, c[i].type) < 0)
			return -1;
		pos = hi;
	}
	return emit(o, pos, end, E820_RAM);
}

int e820_build(const struct guest_mem *m, const struct e820_carve *carve, size_t ncarve,
	       struct e820_entry *out, size_t max, char *err, size_t errlen)
{
	struct e820_out o = { out, 0, max };

	if (check_carve(carve, ncarve, err, errlen) < 0)
		return -1;
	for (unsigned i = 0; i < m->nregions; i++) {
		if (region(&o, &m->regions[i], carve, ncarve) < 0) {
			snprintf(err, errlen, "e820: the memory map needs more than %zu entries",
				 max);
			return -1;
		}
	}
	return (int)o.n;
}

int e820_build_pc(const struct guest_mem *m, struct e820_entry *out, size_t max, char *err,
		  size_t errlen)
{
	return e820_build(m, pc_carve, sizeof(pc_carve) / sizeof(pc_carve[0]), out, max, err,
			  errlen);
}

uint64_t e820_upper_ram(const struct e820_entry *e, size_t n)
{
	uint64_t pos = LAYOUT_IMAGE_MIN;

	for (size_t i = 0; i < n; i++) {
		if (e[i].type != E820_RAM || e[i].addr + e[i].size <= pos)
			continue;
		if (e[i].addr > pos)
			break;
		pos = e[i].addr + e[i].size;
	}
	return pos - LAYOUT_IMAGE_MIN;
}

int e820_place_high(const struct e820_entry *e, size_t n, uint64_t size, uint64_t floor,
		    uint64_t ceiling, uint64_t align, uint64_t *addr)
{
	for (size_t i = n; i-- > 0;) {
		uint64_t lo = e[i].addr > floor ? e[i].addr : floor;
		uint64_t hi = e[i].addr + e[i].size < ceiling ? e[i].addr + e[i].size : ceiling;
		if (e[i].type != E820_RAM || hi < lo || hi - lo < size)
			continue;
		uint64_t a = (hi - size) & ~(align - 1);
		if (a >= lo) {
			*addr = a;
			return 0;
		}
	}
	return -1;
}
