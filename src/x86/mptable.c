/*
 * mptable.c - Intel MultiProcessor Specification 1.4 tables: the builder writes the floating
 * pointer and the base configuration table from the platform description; the parser finds
 * and checks them the way an OS does.
 *
 * Knows the platform description and a byte array standing for guest physical memory, nothing
 * of KVM or of where else the VMM puts things.  The parser trusts no byte it reads.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "x86/mptable.h"

/* ---- Layouts (MP Spec 1.4, chapter 4) ---- */

struct mpf_intel { /* 4.1, Table 4-1: MP floating pointer structure */
	char signature[4]; /* "_MP_" */
	uint32_t physptr;  /* MP configuration table address */
	uint8_t length;    /* in 16-byte paragraphs: 1 */
	uint8_t spec_rev;  /* 4 = version 1.4 */
	uint8_t checksum;
	uint8_t feature1;  /* 0: a configuration table is present (no default config) */
	uint8_t feature2;  /* bit 7 IMCRP: 0 = virtual wire mode, no IMCR */
	uint8_t feature3_5[3];
} __attribute__((packed));
_Static_assert(sizeof(struct mpf_intel) == 16, "MP Spec 1.4 Table 4-1");

struct mpc_table { /* 4.2, Table 4-2: configuration table header */
	char signature[4]; /* "PCMP" */
	uint16_t length;   /* base table, header included */
	uint8_t spec_rev;
	uint8_t checksum;
	char oem_id[8];
	char product_id[12];
	uint32_t oem_table_ptr;
	uint16_t oem_table_size;
	uint16_t entry_count;
	uint32_t lapic_addr;
	uint16_t ext_table_length;
	uint8_t ext_table_checksum;
	uint8_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_table) == 44, "MP Spec 1.4 Table 4-2");

enum mpc_entry_type { /* Table 4-3 */
	MP_PROCESSOR = 0,
	MP_BUS = 1,
	MP_IOAPIC = 2,
	MP_IOINTR = 3,
	MP_LINTR = 4,
};

struct mpc_cpu { /* 4.3.1, Table 4-4 */
	uint8_t type;
	uint8_t lapic_id;
	uint8_t lapic_version;
	uint8_t cpu_flags;
	uint32_t cpu_signature;
	uint32_t feature_flags;
	uint32_t reserved[2];
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_cpu) == 20, "MP Spec 1.4 Table 4-4");

struct mpc_bus { /* 4.3.2, Table 4-7 */
	uint8_t type;
	uint8_t bus_id;
	char bus_type[6];
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_bus) == 8, "MP Spec 1.4 Table 4-7");

struct mpc_ioapic { /* 4.3.3, Table 4-9 */
	uint8_t type;
	uint8_t ioapic_id;
	uint8_t ioapic_version;
	uint8_t flags;
	uint32_t addr;
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_ioapic) == 8, "MP Spec 1.4 Table 4-9");

struct mpc_intr { /* 4.3.4 / 4.3.5, Tables 4-10 and 4-12: I/O and local interrupt entries */
	uint8_t type;
	uint8_t int_type;
	uint16_t flags; /* polarity and trigger mode; 0 = conforms to the bus */
	uint8_t src_bus_id;
	uint8_t src_bus_irq;
	uint8_t dst_apic_id;
	uint8_t dst_intin; /* I/O APIC INTIN#, or local APIC LINTIN# */
} __attribute__((packed));
_Static_assert(sizeof(struct mpc_intr) == 8, "MP Spec 1.4 Tables 4-10, 4-12");

#define MPC_CPU_EN 0x01 /* Table 4-4 CPU FLAGS */
#define MPC_CPU_BP 0x02
#define MPC_IOAPIC_EN 0x01

enum mp_int_type { MP_INT = 0, MP_NMI = 1, MP_SMI = 2, MP_EXTINT = 3 }; /* Table 4-11 */

#define MP_SPEC_REV 4            /* 1.4 */
#define MP_LAPIC_VERSION 0x14    /* integrated local APIC, as KVM's reports (SDM Vol. 3A 10.4.8) */
/* CPU signature and feature flags are CPUID.1 EAX and EDX (Table 4-4, 4-5, 4-6): family 6,
 * with FPU (EDX bit 0) and APIC (EDX bit 9) as the SDM Vol. 2A Table 3-11 numbers them. */
#define MP_CPU_SIGNATURE 0x600u
#define MP_CPU_FEATURES ((1u << 0) | (1u << 9))
#define MP_ALL_LAPICS 0xff       /* destination "all local APICs" (4.3.5) */
#define ISA_BUS_ID 0
#define ISA_IRQS 16
#define ISA_CASCADE_IRQ 2        /* the slave 8259: no device raises it */

/* ---- Builder ---- */

static uint8_t checksum(const uint8_t *b, size_t len)
{
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum += b[i];
	return (uint8_t)-sum;
}

static size_t io_interrupt_count(void)
{
	return ISA_IRQS - 1; /* all ISA IRQs but the cascade */
}

static size_t entry_count(const struct platform *p)
{
	return p->topo.cpus + 1 /* bus */ + 1 /* I/O APIC */ + io_interrupt_count() + 2 /* LINTs */;
}

static size_t config_table_size(const struct platform *p)
{
	return sizeof(struct mpc_table) + p->topo.cpus * sizeof(struct mpc_cpu) +
	       sizeof(struct mpc_bus) + sizeof(struct mpc_ioapic) +
	       (io_interrupt_count() + 2) * sizeof(struct mpc_intr);
}

static uint8_t *put(uint8_t *cur, const void *entry, size_t size)
{
	memcpy(cur, entry, size);
	return cur + size;
}

static uint8_t *put_cpu(uint8_t *cur, const struct cpu_desc *c)
{
	struct mpc_cpu e = {
		.type = MP_PROCESSOR,
		.lapic_id = (uint8_t)c->apic_id,
		.lapic_version = MP_LAPIC_VERSION,
		.cpu_flags = MPC_CPU_EN | (c->bsp ? MPC_CPU_BP : 0),
		.cpu_signature = MP_CPU_SIGNATURE,
		.feature_flags = MP_CPU_FEATURES,
	};

	return put(cur, &e, sizeof(e));
}

/* In firmware-table order: the BSP first (platform_table_cpu). */
static uint8_t *put_cpus(uint8_t *cur, const struct platform *p)
{
	for (uint32_t pos = 0; pos < p->topo.cpus; pos++)
		cur = put_cpu(cur, &p->cpus[platform_table_cpu(p, pos)]);
	return cur;
}

static uint8_t *put_intr(uint8_t *cur, uint8_t type, uint8_t int_type, uint8_t irq,
			 uint8_t dst, uint8_t intin)
{
	struct mpc_intr e = {
		.type = type, .int_type = int_type, .flags = 0, .src_bus_id = ISA_BUS_ID,
		.src_bus_irq = irq, .dst_apic_id = dst, .dst_intin = intin,
	};

	return put(cur, &e, sizeof(e));
}

/* ISA IRQ n on INTIN n, but the timer (IRQ 0) on INTIN 2 as PC firmware wires it; the
 * cascade IRQ 2 has no entry.  The MADT says the same with an interrupt source override. */
static uint8_t *put_io_interrupts(uint8_t *cur, const struct platform *p)
{
	for (uint8_t irq = 0; irq < ISA_IRQS; irq++) {
		if (irq == ISA_CASCADE_IRQ)
			continue;
		cur = put_intr(cur, MP_IOINTR, MP_INT, irq, p->ioapic_id, irq == 0 ? 2 : irq);
	}
	return cur;
}

static void write_config_table(const struct platform *p, uint8_t *cfg, size_t len)
{
	struct mpc_table h = {
		.signature = { 'P', 'C', 'M', 'P' },
		.length = (uint16_t)len,
		.spec_rev = MP_SPEC_REV,
		.entry_count = (uint16_t)entry_count(p),
		.lapic_addr = PLATFORM_LAPIC_ADDR,
	};
	struct mpc_bus bus = { .type = MP_BUS, .bus_id = ISA_BUS_ID,
			       .bus_type = { 'I', 'S', 'A', ' ', ' ', ' ' } };
	struct mpc_ioapic ioapic = { .type = MP_IOAPIC, .ioapic_id = p->ioapic_id,
				     .ioapic_version = p->ioapic_version,
				     .flags = MPC_IOAPIC_EN, .addr = PLATFORM_IOAPIC_ADDR };
	uint8_t *cur = cfg + sizeof(h);

	memcpy(h.oem_id, "MPVMM   ", sizeof(h.oem_id));
	memcpy(h.product_id, "MPVMM 0.1   ", sizeof(h.product_id));
	/* Entries sorted by type, as 4.3 requires. */
	cur = put_cpus(cur, p);
	cur = put(cur, &bus, sizeof(bus));
	cur = put(cur, &ioapic, sizeof(ioapic));
	cur = put_io_interrupts(cur, p);
	/* Virtual wire mode: the 8259 reaches the CPUs through LINT0, NMI through LINT1
	 * (3.6.2.2). */
	cur = put_intr(cur, MP_LINTR, MP_EXTINT, 0, MP_ALL_LAPICS, 0);
	cur = put_intr(cur, MP_LINTR, MP_NMI, 0, MP_ALL_LAPICS, 1);
	memcpy(cfg, &h, sizeof(h));
	cfg[offsetof(struct mpc_table, checksum)] = checksum(cfg, (size_t)(cur - cfg));
}

static void write_floating_pointer(uint8_t *fp, uint32_t table_addr)
{
	struct mpf_intel f = {
		.signature = { '_', 'M', 'P', '_' },
		.physptr = table_addr,
		.length = 1,
		.spec_rev = MP_SPEC_REV,
	};

	f.checksum = checksum((const uint8_t *)&f, sizeof(f));
	memcpy(fp, &f, sizeof(f));
}

long mptable_build(const struct platform *p, uint8_t *mem, size_t mem_size, uint32_t addr,
		   size_t max, char *err, size_t errlen)
{
	if (!platform_has_mptable(p))
		return 0;

	size_t table_len = config_table_size(p);
	size_t len = sizeof(struct mpf_intel) + table_len;

	if (addr % 16) {
		snprintf(err, errlen, "MP table: floating pointer at 0x%x is not 16-byte aligned",
			 addr);
		return -1;
	}
	if (len > max || table_len > UINT16_MAX) {
		snprintf(err, errlen, "MP table: needs %zu bytes, only %zu available at 0x%x", len,
			 max, addr);
		return -1;
	}
	if (addr > mem_size || len > mem_size - addr) {
		snprintf(err, errlen, "MP table: 0x%x + %zu bytes lies beyond guest memory (%zu "
			 "bytes)", addr, len, mem_size);
		return -1;
	}
	write_floating_pointer(mem + addr, addr + (uint32_t)sizeof(struct mpf_intel));
	write_config_table(p, mem + addr + sizeof(struct mpf_intel), table_len);
	return (long)len;
}

/* ---- Parser ---- */

static uint32_t rd16(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8;
}

static uint32_t rd32(const uint8_t *b)
{
	return rd16(b) | rd16(b + 2) << 16;
}

/* [addr, addr + len) lies within guest memory. */
static bool in_mem(size_t mem_size, uint64_t addr, uint64_t len)
{
	return addr <= mem_size && len <= mem_size - addr;
}

static uint32_t bda_word(const uint8_t *mem, size_t mem_size, uint32_t addr)
{
	return in_mem(mem_size, addr, 2) ? rd16(mem + addr) : 0;
}

/* The caller has checked that the 16 bytes at `a` lie in memory. */
static int check_floating_pointer(const uint8_t *mem, uint32_t a, char *err, size_t errlen)
{
	const uint8_t *f = mem + a;
	uint8_t sum = (uint8_t)-checksum(f, sizeof(struct mpf_intel));

	if (f[offsetof(struct mpf_intel, length)] != 1) {
		snprintf(err, errlen, "MP floating pointer at 0x%x: length %u paragraphs, not 1", a,
			 f[offsetof(struct mpf_intel, length)]);
		return -1;
	}
	if (sum) {
		snprintf(err, errlen, "MP floating pointer at 0x%x: bad checksum (bytes sum to "
			 "0x%02x)", a, sum);
		return -1;
	}
	if (f[offsetof(struct mpf_intel, feature1)]) {
		snprintf(err, errlen, "MP floating pointer at 0x%x: default configuration %u, no "
			 "configuration table", a, f[offsetof(struct mpf_intel, feature1)]);
		return -1;
	}
	if (!rd32(f + offsetof(struct mpf_intel, physptr))) {
		snprintf(err, errlen, "MP floating pointer at 0x%x: null configuration table "
			 "pointer", a);
		return -1;
	}
	return 0;
}

struct fp_search {
	const uint8_t *mem;
	size_t mem_size;
	char why[160]; /* why the first "_MP_" candidate was rejected, if one was */
};

/* Scan [start, start + len) on 16-byte boundaries for a valid floating pointer. */
static int scan_region(struct fp_search *s, uint32_t start, uint32_t len, uint32_t *found)
{
	for (uint64_t a = (start + 15ull) & ~15ull; a + 16 <= (uint64_t)start + len; a += 16) {
		char why[sizeof(s->why)];

		if (!in_mem(s->mem_size, a, 16))
			break;
		if (memcmp(s->mem + a, "_MP_", 4))
			continue;
		if (!check_floating_pointer(s->mem, (uint32_t)a, why, sizeof(why))) {
			*found = (uint32_t)a;
			return 0;
		}
		if (!s->why[0])
			memcpy(s->why, why, sizeof(why));
	}
	return -1;
}

/* MP Spec 1.4, chapter 4: the EBDA's first KiB, base memory's last KiB, then the BIOS ROM. */
static int find_floating_pointer(const uint8_t *mem, size_t mem_size, uint32_t *found, char *err,
				 size_t errlen)
{
	struct fp_search s = { .mem = mem, .mem_size = mem_size, .why = "" };
	uint32_t ebda = bda_word(mem, mem_size, 0x40e) << 4;   /* BDA 40:0E, a segment */
	uint32_t base_kib = bda_word(mem, mem_size, 0x413);    /* BDA 40:13, in KiB    */

	if (ebda && scan_region(&s, ebda, 1024, found) == 0)
		return 0;
	if (base_kib && scan_region(&s, base_kib * 1024 - 1024, 1024, found) == 0)
		return 0;
	if (scan_region(&s, 0xf0000, 0x10000, found) == 0)
		return 0;
	if (s.why[0])
		snprintf(err, errlen, "%s", s.why);
	else
		snprintf(err, errlen, "no MP floating pointer (\"_MP_\") in the EBDA, the last "
			 "KiB of base memory or 0xF0000-0xFFFFF");
	return -1;
}

static int check_table_header(const uint8_t *mem, size_t mem_size, uint32_t a, char *err,
			      size_t errlen)
{
	if (!in_mem(mem_size, a, sizeof(struct mpc_table))) {
		snprintf(err, errlen, "MP configuration table at 0x%x lies beyond guest memory", a);
		return -1;
	}

	const uint8_t *t = mem + a;
	uint32_t len = rd16(t + offsetof(struct mpc_table, length));

	if (memcmp(t, "PCMP", 4)) {
		snprintf(err, errlen, "MP configuration table at 0x%x: signature is not \"PCMP\"",
			 a);
		return -1;
	}
	if (len < sizeof(struct mpc_table) || !in_mem(mem_size, a, len)) {
		snprintf(err, errlen, "MP configuration table at 0x%x: base table length %u is "
			 "shorter than its header or runs past guest memory", a, len);
		return -1;
	}
	uint8_t sum = (uint8_t)-checksum(t, len);

	if (sum) {
		snprintf(err, errlen, "MP configuration table at 0x%x: bad checksum (bytes sum to "
			 "0x%02x)", a, sum);
		return -1;
	}
	return 0;
}

static size_t entry_size(uint8_t type)
{
	switch (type) {
	case MP_PROCESSOR:
		return sizeof(struct mpc_cpu);
	case MP_BUS:
	case MP_IOAPIC:
	case MP_IOINTR:
	case MP_LINTR:
		return 8;
	default:
		return 0;
	}
}

static int decode_entry(const uint8_t *e, struct mptable_info *out, char *err, size_t errlen)
{
	switch (e[0]) {
	case MP_PROCESSOR:
		if (out->ncpus == sizeof(out->cpus) / sizeof(out->cpus[0])) {
			snprintf(err, errlen, "MP table: more than 256 processor entries");
			return -1;
		}
		out->cpus[out->ncpus++] = (struct mptable_cpu){
			.apic_id = e[offsetof(struct mpc_cpu, lapic_id)],
			.enabled = e[offsetof(struct mpc_cpu, cpu_flags)] & MPC_CPU_EN,
			.bsp = e[offsetof(struct mpc_cpu, cpu_flags)] & MPC_CPU_BP,
		};
		break;
	case MP_IOAPIC:
		if (out->nioapics++ == 0) {
			out->ioapic_id = e[offsetof(struct mpc_ioapic, ioapic_id)];
			out->ioapic_addr = rd32(e + offsetof(struct mpc_ioapic, addr));
		}
		break;
	case MP_IOINTR:
		out->nirqs++;
		break;
	}
	return 0;
}

static int decode_entries(const uint8_t *t, uint32_t a, struct mptable_info *out, char *err,
			  size_t errlen)
{
	uint32_t len = rd16(t + offsetof(struct mpc_table, length));
	uint32_t count = rd16(t + offsetof(struct mpc_table, entry_count));
	uint32_t off = sizeof(struct mpc_table);

	for (uint32_t i = 0; i < count; i++) {
		if (off >= len) {
			snprintf(err, errlen, "MP table at 0x%x: entry %u of %u starts at offset "
				 "%u, past the base table length %u", a, i, count, off, len);
			return -1;
		}
		size_t size = entry_size(t[off]);

		if (!size) {
			snprintf(err, errlen, "MP table at 0x%x: entry %u has unknown type %u", a,
				 i, t[off]);
			return -1;
		}
		if (off + size > len) {
			snprintf(err, errlen, "MP table at 0x%x: entry %u (type %u) is truncated "
				 "by the base table length %u", a, i, t[off], len);
			return -1;
		}
		if (decode_entry(t + off, out, err, errlen))
			return -1;
		off += (uint32_t)size;
	}
	if (off != len) {
		snprintf(err, errlen, "MP table at 0x%x: %u entries end at offset %u but the base "
			 "table length is %u", a, count, off, len);
		return -1;
	}
	return 0;
}

int mptable_parse(const uint8_t *mem, size_t mem_size, struct mptable_info *out, char *err,
		  size_t errlen)
{
	uint32_t fp;

	memset(out, 0, sizeof(*out));
	if (find_floating_pointer(mem, mem_size, &fp, err, errlen))
		return -1;

	uint32_t a = rd32(mem + fp + offsetof(struct mpf_intel, physptr));

	if (check_table_header(mem, mem_size, a, err, errlen))
		return -1;
	out->fp_addr = fp;
	out->table_addr = a;
	out->lapic_addr = rd32(mem + a + offsetof(struct mpc_table, lapic_addr));
	return decode_entries(mem + a, a, out, err, errlen);
}
