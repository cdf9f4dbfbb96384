/*
 * acpi_parse.c - finds the ACPI tables in guest memory and checks them as an OS would
 * (ACPI 6.4): the RSDP in the BIOS area, the XSDT, the MADT's processors and I/O APIC, and
 * whether a FADT and a DSDT are there, every length and checksum verified on the way.
 *
 * Knows the table layouts (acpi_tables.h) and a byte array standing for guest physical
 * memory; it must not know how acpi.c built the tables, nor the platform description (what
 * it finds is compared with that by platform_check).  It trusts no byte it reads.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "x86/acpi.h"
#include "x86/acpi_tables.h"

static uint32_t rd16(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8;
}

static uint32_t rd32(const uint8_t *b)
{
	return rd16(b) | rd16(b + 2) << 16;
}

static uint64_t rd64(const uint8_t *b)
{
	return rd32(b) | (uint64_t)rd32(b + 4) << 32;
}

/* [addr, addr + len) lies within guest memory. */
static bool in_mem(size_t mem_size, uint64_t addr, uint64_t len)
{
	return addr <= mem_size && len <= mem_size - addr;
}

static int check_rsdp(const uint8_t *mem, size_t mem_size, uint32_t a, char *err, size_t errlen)
{
	const uint8_t *r = mem + a;
	uint32_t len = rd32(r + offsetof(struct acpi_rsdp, length));

	if (acpi_checksum(r, RSDP_V1_LEN)) {
		snprintf(err, errlen, "ACPI: RSDP at 0x%x: bad checksum", a);
		return -1;
	}
	if (r[offsetof(struct acpi_rsdp, revision)] < 2) {
		snprintf(err, errlen, "ACPI: RSDP at 0x%x: revision %u, no XSDT", a,
			 r[offsetof(struct acpi_rsdp, revision)]);
		return -1;
	}
	if (len < sizeof(struct acpi_rsdp) || !in_mem(mem_size, a, len)) {
		snprintf(err, errlen, "ACPI: RSDP at 0x%x: bad length %u", a, len);
		return -1;
	}
	if (acpi_checksum(r, len)) {
		snprintf(err, errlen, "ACPI: RSDP at 0x%x: bad extended checksum", a);
		return -1;
	}
	return 0;
}

/* 5.2.5.1: on a 16-byte boundary in the BIOS read-only area 0xE0000-0xFFFFF. */
static int find_rsdp(const uint8_t *mem, size_t mem_size, uint32_t *found, char *err,
		     size_t errlen)
{
	char why[160] = "";

	for (uint32_t a = 0xe0000; a < 0x100000; a += 16) {
		char reason[sizeof(why)];

		if (!in_mem(mem_size, a, RSDP_V1_LEN))
			break;
		if (memcmp(mem + a, "RSD PTR ", 8))
			continue;
		if (check_rsdp(mem, mem_size, a, reason, sizeof(reason)) == 0) {
			*found = a;
			return 0;
		}
		if (!why[0])
			memcpy(why, reason, sizeof(why));
	}
	if (why[0])
		snprintf(err, errlen, "%s", why);
	else
		snprintf(err, errlen, "ACPI: no RSDP (\"RSD PTR \") in 0xE0000-0xFFFFF");
	return -1;
}

/* A system description table at addr: header inside memory, signature, length, checksum. */
static int check_sdt(const uint8_t *mem, size_t mem_size, uint64_t addr, const char *sig,
		     char *err, size_t errlen)
{
	if (!in_mem(mem_size, addr, sizeof(struct acpi_header))) {
		snprintf(err, errlen, "ACPI: %s at 0x%llx lies beyond guest memory", sig,
			 (unsigned long long)addr);
		return -1;
	}
	const uint8_t *t = mem + addr;
	uint32_t len = rd32(t + offsetof(struct acpi_header, length));

	if (memcmp(t, sig, 4)) {
		snprintf(err, errlen, "ACPI: table at 0x%llx: signature \"%.4s\", expected \"%s\"",
			 (unsigned long long)addr, (const char *)t, sig);
		return -1;
	}
	if (len < sizeof(struct acpi_header) || !in_mem(mem_size, addr, len)) {
		snprintf(err, errlen, "ACPI: %s at 0x%llx: bad length %u", sig,
			 (unsigned long long)addr, len);
		return -1;
	}
	if (acpi_checksum(t, len)) {
		snprintf(err, errlen, "ACPI: %s at 0x%llx: bad checksum", sig,
			 (unsigned long long)addr);
		return -1;
	}
	return 0;
}

/* Minimum length of the MADT entries we decode; other types only need their 2-byte header. */
static uint32_t madt_entry_min(uint8_t type)
{
	switch (type) {
	case MADT_LAPIC:
		return sizeof(struct madt_lapic);
	case MADT_IOAPIC:
		return sizeof(struct madt_ioapic);
	case MADT_X2APIC:
		return sizeof(struct madt_x2apic);
	default:
		return 2;
	}
}

/* Validate every entry's bounds and count the processors. */
static int madt_walk_check(const uint8_t *t, uint32_t len, size_t *ncpus, char *err,
			   size_t errlen)
{
	size_t n = 0;

	for (uint32_t off = sizeof(struct acpi_madt); off < len;) {
		if (len - off < 2) {
			snprintf(err, errlen, "ACPI: MADT: entry header at offset %u runs past "
				 "the table length %u", off, len);
			return -1;
		}
		uint8_t type = t[off], elen = t[off + 1];

		if (elen < madt_entry_min(type)) {
			snprintf(err, errlen, "ACPI: MADT: entry of type %u at offset %u has "
				 "length %u (at least %u expected)", type, off, elen,
				 madt_entry_min(type));
			return -1;
		}
		if (elen > len - off) {
			snprintf(err, errlen, "ACPI: MADT: entry of type %u at offset %u runs "
				 "past the table length %u", type, off, len);
			return -1;
		}
		if (type == MADT_LAPIC || type == MADT_X2APIC)
			n++;
		off += elen;
	}
	*ncpus = n;
	return 0;
}

static void madt_decode_entry(const uint8_t *e, struct madt_info *out)
{
	switch (e[0]) {
	case MADT_LAPIC:
		out->cpus[out->ncpus++] = (struct madt_cpu){
			.apic_id = e[offsetof(struct madt_lapic, apic_id)],
			.acpi_uid = e[offsetof(struct madt_lapic, uid)],
			.enabled = rd32(e + offsetof(struct madt_lapic, flags)) & MADT_ENABLED,
		};
		break;
	case MADT_X2APIC:
		out->cpus[out->ncpus++] = (struct madt_cpu){
			.apic_id = rd32(e + offsetof(struct madt_x2apic, x2apic_id)),
			.acpi_uid = rd32(e + offsetof(struct madt_x2apic, uid)),
			.enabled = rd32(e + offsetof(struct madt_x2apic, flags)) & MADT_ENABLED,
			.x2apic = true,
		};
		break;
	case MADT_IOAPIC:
		if (out->nioapics++ == 0) {
			out->ioapic_id = e[offsetof(struct madt_ioapic, ioapic_id)];
			out->ioapic_addr = rd32(e + offsetof(struct madt_ioapic, addr));
		}
		break;
	}
}

static int madt_decode(const uint8_t *mem, size_t mem_size, uint64_t a, struct madt_info *out,
		       char *err, size_t errlen)
{
	if (check_sdt(mem, mem_size, a, "APIC", err, errlen))
		return -1;

	const uint8_t *t = mem + a;
	uint32_t len = rd32(t + offsetof(struct acpi_header, length));
	size_t ncpus;

	if (len < sizeof(struct acpi_madt)) {
		snprintf(err, errlen, "ACPI: MADT: length %u is shorter than its 44-byte header",
			 len);
		return -1;
	}
	if (madt_walk_check(t, len, &ncpus, err, errlen))
		return -1;
	out->madt_addr = (uint32_t)a;
	out->lapic_addr = rd32(t + offsetof(struct acpi_madt, lapic_addr));
	out->cpus = calloc(ncpus ? ncpus : 1, sizeof(*out->cpus));
	if (!out->cpus) {
		snprintf(err, errlen, "ACPI: MADT: out of memory for %zu processors", ncpus);
		return -1;
	}
	for (uint32_t off = sizeof(struct acpi_madt); off < len; off += t[off + 1])
		madt_decode_entry(t + off, out);
	return 0;
}

/* FADT and DSDT are recorded as present only if their checksums hold. */
static void note_fadt(const uint8_t *mem, size_t mem_size, uint64_t a, struct madt_info *out)
{
	char ignored[8];

	if (check_sdt(mem, mem_size, a, "FACP", ignored, sizeof(ignored)))
		return;

	const uint8_t *f = mem + a;
	uint32_t len = rd32(f + offsetof(struct acpi_header, length));
	uint64_t dsdt = 0;

	out->has_fadt = true;
	if (len >= offsetof(struct acpi_fadt, x_dsdt) + 8)
		dsdt = rd64(f + offsetof(struct acpi_fadt, x_dsdt));
	if (!dsdt && len >= offsetof(struct acpi_fadt, dsdt) + 4)
		dsdt = rd32(f + offsetof(struct acpi_fadt, dsdt));
	out->has_dsdt = dsdt && check_sdt(mem, mem_size, dsdt, "DSDT", ignored,
					  sizeof(ignored)) == 0;
}

/* Find the MADT and FADT among the XSDT's entries. */
static int walk_xsdt(const uint8_t *mem, size_t mem_size, uint64_t xsdt, uint64_t *madt,
		     uint64_t *fadt, char *err, size_t errlen)
{
	const uint8_t *x = mem + xsdt;
	uint32_t len = rd32(x + offsetof(struct acpi_header, length));
	uint32_t n = (len - (uint32_t)sizeof(struct acpi_header)) / 8;

	if ((len - sizeof(struct acpi_header)) % 8) {
		snprintf(err, errlen, "ACPI: XSDT length %u is not a whole number of entries", len);
		return -1;
	}
	*madt = *fadt = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t a = rd64(x + sizeof(struct acpi_header) + 8 * i);
		uint64_t *slot;

		if (!in_mem(mem_size, a, sizeof(struct acpi_header))) {
			snprintf(err, errlen, "ACPI: XSDT entry %u points to 0x%llx, beyond guest "
				 "memory", i, (unsigned long long)a);
			return -1;
		}
		if (!memcmp(mem + a, "APIC", 4))
			slot = madt;
		else if (!memcmp(mem + a, "FACP", 4))
			slot = fadt;
		else
			continue;
		if (*slot) {
			snprintf(err, errlen, "ACPI: XSDT lists two \"%.4s\" tables",
				 (const char *)mem + a);
			return -1;
		}
		*slot = a;
	}
	if (!*madt) {
		snprintf(err, errlen, "ACPI: XSDT lists no MADT (\"APIC\")");
		return -1;
	}
	return 0;
}

int acpi_parse(const uint8_t *mem, size_t mem_size, struct madt_info *out, char *err,
	       size_t errlen)
{
	uint32_t rsdp;
	uint64_t xsdt, madt, fadt;

	memset(out, 0, sizeof(*out));
	if (find_rsdp(mem, mem_size, &rsdp, err, errlen))
		return -1;
	out->rsdp_addr = rsdp;
	xsdt = rd64(mem + rsdp + offsetof(struct acpi_rsdp, xsdt_address));
	if (check_sdt(mem, mem_size, xsdt, "XSDT", err, errlen) ||
	    walk_xsdt(mem, mem_size, xsdt, &madt, &fadt, err, errlen) ||
	    madt_decode(mem, mem_size, madt, out, err, errlen))
		return -1;
	if (fadt)
		note_fadt(mem, mem_size, fadt, out);
	return 0;
}

void madt_info_free(struct madt_info *m)
{
	free(m->cpus);
	m->cpus = NULL;
	m->ncpus = 0;
}
