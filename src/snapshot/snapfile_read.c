/*
 * snapfile_read.c - reading a snapshot (format: snapfile.c): map it read-only, check every
 * byte of it (header, each section's bounds and CRC, padding, the extent table, every
 * extent's page data) before the caller sees any of it, then hand out section payloads and
 * put the saved RAM in place, mapped from the file so that it loads lazily.
 *
 * Any input, however damaged or crafted, ends in one line naming what is wrong: nothing here
 * reads outside the bytes it was given.  It knows files and the layout, nothing of what a
 * section means.
 */
#include "snapshot/snapfile.h"
#include "snapshot/snapfile_layout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Extents shorter than this are copied by snap_load_memory, and so are those past the first
 * SNAP_MAP_MAX mappings: each mapping is one of the process's limited VMAs. */
#define SNAP_MAP_MIN (16 * SNAP_PAGE)
#define SNAP_MAP_MAX 4096u

/* A file's bytes: mapped (fd >= 0) or the caller's buffer (fd < 0). */
struct bytes {
	const uint8_t *p;
	size_t len;
	int fd;
};

struct section_ref {
	uint32_t type, instance;
	uint64_t off, len; /* the payload */
};

struct saved_region {
	uint64_t gpa, size;
};

struct stored_extent {
	uint64_t gpa, len, off;
	uint32_t crc;
};

struct snap_reader {
	struct bytes main, mem; /* mem: the memory file, or unused (fd < 0, p NULL) */
	bool separate;          /* the page data is in mem */
	char memname[SNAP_NAME_MAX + 1];
	uint8_t id[SNAP_ID_LEN];
	struct section_ref *secs;
	uint32_t nsecs;
	bool have_memory;
	struct saved_region *regions;
	uint32_t nregions;
	struct stored_extent *ext;
	uint32_t next;
	uint64_t mem_bytes;
};

/* Where messages go and what they start with (the file's path, or nothing for a buffer). */
struct complaint {
	char *err;
	size_t errlen;
	const char *file;
};

__attribute__((format(printf, 2, 3)))
static int bad(const struct complaint *c, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->file)
		snprintf(c->err, c->errlen, "%s: %s", c->file, msg);
	else
		snprintf(c->err, c->errlen, "%s", msg);
	return -1;
}

static int truncated(const struct complaint *c, uint64_t off, size_t len, const char *what)
{
	return bad(c, "truncated at offset %llu (file is %zu bytes): %s", (unsigned long long)off,
		   len, what);
}

/* "vcpu #3", "type 42 #0" */
static const char *section_label(char *buf, size_t n, uint32_t type, uint32_t instance)
{
	const char *name = snap_section_name(type);

	if (name)
		snprintf(buf, n, "%s #%u", name, instance);
	else
		snprintf(buf, n, "type %u #%u", type, instance);
	return buf;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && !memcmp(p, p + 1, n - 1));
}

static bool name_usable(const uint8_t *p, uint32_t n)
{
	if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (p[i] == '/' || p[i] < 0x20 || p[i] == 0x7f) /* control bytes: not in one line */
			return false;
	return true;
}

/* Magic, version, size and CRC, then what the header says.  Sections start at *start. */
static int check_header(struct snap_reader *r, const struct complaint *c, uint32_t *count,
			uint64_t *start)
{
	const uint8_t *p = r->main.p;
	size_t len = r->main.len;

	if (memcmp(p, SNAP_MAGIC, len < 8 ? len : 8))
		return bad(c, "not an mpvmm snapshot (bad magic)");
	if (len < SNAP_HDR_MIN)
		return truncated(c, 0, len, "the header needs 56 bytes");
	uint32_t version = snap_le32(p + SNAP_HDR_VERSION);
	if (version != SNAP_FORMAT_VERSION)
		return bad(c, "snapshot format version %u; this mpvmm reads version %u", version,
			   SNAP_FORMAT_VERSION);
	uint32_t size = snap_le32(p + SNAP_HDR_SIZE);
	if (size < SNAP_HDR_MIN || size > SNAP_HDR_MAX || size % 8)
		return bad(c, "header is damaged (size %u)", size);
	if (size > len)
		return truncated(c, 0, len, "the header is longer");
	if (snap_crc32c(0, p, size - 4) != snap_le32(p + size - 4))
		return bad(c, "header is damaged (CRC mismatch)");

	uint32_t flags = snap_le32(p + SNAP_HDR_FLAGS);
	uint32_t namelen = snap_le32(p + SNAP_HDR_NAMELEN);
	if (flags & ~SNAP_F_MEMFILE)
		return bad(c, "unknown header flags 0x%x", flags & ~SNAP_F_MEMFILE);
	if (namelen > SNAP_NAME_MAX || size != snap_header_size(namelen) ||
	    !all_zero(p + SNAP_HDR_NAME + namelen, size - 4 - SNAP_HDR_NAME - namelen))
		return bad(c, "header is inconsistent (memory file name of %u bytes)", namelen);
	r->separate = flags & SNAP_F_MEMFILE;
	if (r->separate != (namelen > 0) ||
	    (r->separate && !name_usable(p + SNAP_HDR_NAME, namelen)))
		return bad(c, "header names no usable memory file");
	memcpy(r->memname, p + SNAP_HDR_NAME, namelen);
	r->memname[namelen] = '\0';
	memcpy(r->id, p + SNAP_HDR_ID, SNAP_ID_LEN);
	*count = snap_le32(p + SNAP_HDR_COUNT);
	*start = snap_le64(p + SNAP_HDR_SECTIONS);
	if (*start != size)
		return bad(c, "header is inconsistent (sections at %llu, header is %u bytes)",
			   (unsigned long long)*start, size);
	if (*count > (len - size) / SNAP_SEC_HDR)
		return truncated(c, size, len, "too short for the sections the header counts");
	return 0;
}

/* The saved regions: page-aligned, not empty, in order, not overlapping. */
static int parse_regions(struct snap_reader *r, const struct complaint *c, struct snap_dec *d)
{
	r->regions = calloc(r->nregions ? r->nregions : 1, sizeof(*r->regions));
	if (!r->regions)
		return bad(c, "out of memory");
	for (uint32_t i = 0; i < r->nregions; i++) {
		struct saved_region *g = &r->regions[i];
		g->gpa = snap_dec_u64(d);
		g->size = snap_dec_u64(d);
		if ((g->gpa | g->size) % SNAP_PAGE || !g->size || g->gpa + g->size < g->gpa)
			return bad(c, "saved RAM region %u (%llu bytes at 0x%llx) is not page-aligned",
				   i, (unsigned long long)g->size, (unsigned long long)g->gpa);
		if (i && g->gpa < g[-1].gpa + g[-1].size)
			return bad(c, "saved RAM region %u at 0x%llx overlaps the one before", i,
				   (unsigned long long)g->gpa);
	}
	return 0;
}

/*
 * The extents: page-aligned, in gpa order without overlap, each inside one saved region,
 * their data back to back from `data`.  The data's bounds are the caller's to check.
 */
static int parse_extents(struct snap_reader *r, const struct complaint *c, struct snap_dec *d,
			 uint64_t data)
{
	uint64_t prev_end = 0, off = data;
	uint32_t g = 0;

	r->ext = calloc(r->next ? r->next : 1, sizeof(*r->ext));
	if (!r->ext)
		return bad(c, "out of memory");
	for (uint32_t i = 0; i < r->next; i++) {
		struct stored_extent *e = &r->ext[i];
		e->gpa = snap_dec_u64(d);
		e->len = snap_dec_u64(d);
		e->off = snap_dec_u64(d);
		e->crc = snap_dec_u32(d);
		uint32_t reserved = snap_dec_u32(d);
		unsigned long long gpa = e->gpa;
		if ((e->gpa | e->len | e->off) % SNAP_PAGE || !e->len || e->gpa + e->len < e->gpa ||
		    reserved)
			return bad(c, "memory extent %u at 0x%llx is malformed (not page-aligned)", i,
				   gpa);
		if (i && e->gpa < prev_end)
			return bad(c, "memory extent %u at 0x%llx overlaps or precedes the one before",
				   i, gpa);
		while (g < r->nregions && r->regions[g].gpa + r->regions[g].size <= e->gpa)
			g++;
		if (g == r->nregions || e->gpa < r->regions[g].gpa ||
		    e->gpa + e->len > r->regions[g].gpa + r->regions[g].size)
			return bad(c, "memory extent %u (0x%llx-0x%llx) is outside the saved RAM", i,
				   gpa, (unsigned long long)(e->gpa + e->len - 1));
		if (e->off != off)
			return bad(c, "memory extent %u at 0x%llx: data at offset %llu, expected %llu",
				   i, gpa, (unsigned long long)e->off, (unsigned long long)off);
		prev_end = e->gpa + e->len;
		off += e->len;
		r->mem_bytes += e->len;
	}
	return 0;
}

/* The memory section's payload; its page data, if in this file, starts at `data`. */
static int parse_memory(struct snap_reader *r, const struct complaint *c, const uint8_t *p,
			uint64_t len, uint64_t data)
{
	struct snap_dec d;

	if (r->have_memory)
		return bad(c, "section memory #0 appears twice");
	r->have_memory = true;
	snap_dec_init(&d, p, (size_t)len);
	r->nregions = snap_dec_u32(&d);
	r->next = snap_dec_u32(&d);
	if (d.bad || len != SNAP_MEM_HEAD + (uint64_t)r->nregions * SNAP_MEM_REGION +
				   (uint64_t)r->next * SNAP_MEM_EXTENT)
		return bad(c, "section memory #0 is malformed (%llu bytes for %u regions and %u "
			   "extents)", (unsigned long long)len, r->nregions, r->next);
	if (parse_regions(r, c, &d) < 0 || parse_extents(r, c, &d, data) < 0)
		return -1;
	return 0;
}

/*
 * The page data right after the memory section at `off` (its end, 8-aligned): zeros up to
 * a page boundary, then the extents.  Moves *off past them.
 */
static int check_inline_data(struct snap_reader *r, const struct complaint *c, uint64_t *off)
{
	uint64_t data = snap_align(*off, SNAP_PAGE);
	size_t len = r->main.len;

	if (data > len || r->mem_bytes > len - data)
		return truncated(c, data, len, "the memory's page data runs past the end");
	if (!all_zero(r->main.p + *off, (size_t)(data - *off)))
		return bad(c, "padding before the page data at offset %llu is not zero",
			   (unsigned long long)*off);
	*off = data + r->mem_bytes;
	return 0;
}

/* Check the section at *off and note it in r->secs[i]; moves *off past it. */
static int check_section(struct snap_reader *r, const struct complaint *c, uint32_t i,
			 uint64_t *off)
{
	const uint8_t *p = r->main.p;
	size_t len = r->main.len;
	char label[48];

	if (len - *off < SNAP_SEC_HDR)
		return truncated(c, *off, len, "a section header needs 24 bytes");
	const uint8_t *h = p + *off;
	struct section_ref *s = &r->secs[i];
	s->type = snap_le32(h);
	s->instance = snap_le32(h + 4);
	s->len = snap_le64(h + 8);
	s->off = *off + SNAP_SEC_HDR;
	section_label(label, sizeof(label), s->type, s->instance);
	uint64_t padded = snap_align(s->len, 8);
	if (s->len > len - s->off || padded > len - s->off) {
		char what[96];
		snprintf(what, sizeof(what), "section %s needs %llu bytes", label,
			 (unsigned long long)s->len);
		return truncated(c, s->off, len, what);
	}
	uint32_t crc = snap_crc32c(0, h, SNAP_SEC_CRC);
	if (snap_crc32c(crc, p + s->off, (size_t)s->len) != snap_le32(h + SNAP_SEC_CRC))
		return bad(c, "section %s is damaged (CRC mismatch)", label);
	if (snap_le32(h + 20) || !all_zero(p + s->off + s->len, (size_t)(padded - s->len)))
		return bad(c, "section %s has non-zero padding", label);
	*off = s->off + padded;
	if (s->type != SNAP_SEC_MEMORY)
		return 0;
	if (s->instance != 0)
		return bad(c, "section %s: memory has only instance 0", label);
	uint64_t data = r->separate ? SNAP_PAGE : snap_align(*off, SNAP_PAGE);
	if (parse_memory(r, c, p + s->off, s->len, data) < 0)
		return -1;
	return r->separate || r->next == 0 ? 0 : check_inline_data(r, c, off);
}

static int compare_refs(const void *a, const void *b)
{
	const struct section_ref *x = a, *y = b;

	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if (x->instance != y->instance)
		return x->instance < y->instance ? -1 : 1;
	return 0;
}

/* Every section, in file order; then the file must end, and no (type, instance) repeats. */
static int check_sections(struct snap_reader *r, const struct complaint *c, uint32_t count,
			  uint64_t off)
{
	char label[48];

	r->secs = calloc(count ? count : 1, sizeof(*r->secs));
	if (!r->secs)
		return bad(c, "out of memory");
	for (uint32_t i = 0; i < count; i++) {
		if (check_section(r, c, i, &off) < 0)
			return -1;
		r->nsecs++;
	}
	if (off != r->main.len)
		return bad(c, "%llu bytes after the last section, at offset %llu",
			   (unsigned long long)(r->main.len - off), (unsigned long long)off);
	qsort(r->secs, r->nsecs, sizeof(*r->secs), compare_refs);
	for (uint32_t i = 1; i < r->nsecs; i++)
		if (!compare_refs(&r->secs[i - 1], &r->secs[i]))
			return bad(c, "section %s appears twice",
				   section_label(label, sizeof(label), r->secs[i].type,
						 r->secs[i].instance));
	return 0;
}

/* The memory file's header: magic, version, CRC, this snapshot's id, its size. */
static int check_memory_header(const struct snap_reader *r, const struct complaint *c)
{
	const uint8_t *p = r->mem.p;
	size_t len = r->mem.len;

	if (memcmp(p, SNAP_MEM_MAGIC, len < 8 ? len : 8))
		return bad(c, "not an mpvmm snapshot memory file (bad magic)");
	if (len < SNAP_PAGE)
		return truncated(c, 0, len, "the header needs 4096 bytes");
	uint32_t version = snap_le32(p + SNAP_MHDR_VERSION);
	if (version != SNAP_FORMAT_VERSION)
		return bad(c, "memory file format version %u; this mpvmm reads version %u", version,
			   SNAP_FORMAT_VERSION);
	if (snap_crc32c(0, p, SNAP_MHDR_CRC) != snap_le32(p + SNAP_MHDR_CRC))
		return bad(c, "header is damaged (CRC mismatch)");
	if (snap_le32(p + SNAP_MHDR_DATA) != SNAP_PAGE || snap_le32(p + SNAP_MHDR_RESERVED) ||
	    !all_zero(p + SNAP_MHDR_END, SNAP_PAGE - SNAP_MHDR_END))
		return bad(c, "header is inconsistent");
	if (memcmp(p + SNAP_MHDR_ID, r->id, SNAP_ID_LEN))
		return bad(c, "belongs to another snapshot (its id differs)");
	uint64_t bytes = snap_le64(p + SNAP_MHDR_BYTES);
	if (bytes != r->mem_bytes)
		return bad(c, "holds %llu bytes of page data, the snapshot %llu",
			   (unsigned long long)bytes, (unsigned long long)r->mem_bytes);
	if (len - SNAP_PAGE < bytes)
		return truncated(c, len, len, "page data missing");
	if (len - SNAP_PAGE > bytes)
		return bad(c, "%llu bytes after the page data",
			   (unsigned long long)(len - SNAP_PAGE - bytes));
	return 0;
}

/* Every extent's data against its CRC. */
static int check_page_data(const struct snap_reader *r, const struct complaint *c)
{
	const uint8_t *base = r->separate ? r->mem.p : r->main.p;

	for (uint32_t i = 0; i < r->next; i++) {
		const struct stored_extent *e = &r->ext[i];
		if (snap_crc32c(0, base + e->off, (size_t)e->len) != e->crc)
			return bad(c, "memory at 0x%llx (%llu KiB) is damaged (CRC mismatch)",
				   (unsigned long long)e->gpa, (unsigned long long)(e->len >> 10));
	}
	return 0;
}

static struct snap_reader *reader_new(void)
{
	struct snap_reader *r = calloc(1, sizeof(*r));

	if (r)
		r->main.fd = r->mem.fd = -1;
	return r;
}

/* Everything in the main file; for a buffer reader also the page data. */
static int check_main(struct snap_reader *r, const struct complaint *c)
{
	uint32_t count = 0;
	uint64_t start = 0;

	if (check_header(r, c, &count, &start) < 0 || check_sections(r, c, count, start) < 0)
		return -1;
	return r->separate ? 0 : check_page_data(r, c);
}

struct snap_reader *snap_reader_open_buffer(const void *buf, size_t len, char *err,
					    size_t errlen)
{
	struct complaint c = { err, errlen, NULL };
	struct snap_reader *r = reader_new();

	if (!r) {
		bad(&c, "out of memory");
		return NULL;
	}
	r->main.p = len ? buf : (const uint8_t *)"";
	r->main.len = len;
	if (check_main(r, &c) < 0 ||
	    (r->separate && bad(&c, "the page data is in a memory file (%s); a buffer must hold "
				"it", r->memname) < 0)) {
		snap_reader_close(r);
		return NULL;
	}
	return r;
}

/* Open and map `path` read-only (an empty file maps to nothing). */
static int map_file(struct bytes *b, const char *path, const struct complaint *c)
{
	struct stat st;

	b->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (b->fd < 0)
		return bad(c, "%s", strerror(errno));
	if (fstat(b->fd, &st) < 0)
		return bad(c, "fstat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return bad(c, "not a regular file");
	b->len = (size_t)st.st_size;
	b->p = (const uint8_t *)"";
	if (b->len == 0)
		return 0;
	void *m = mmap(NULL, b->len, PROT_READ, MAP_PRIVATE, b->fd, 0);
	if (m == MAP_FAILED) {
		b->len = 0;
		return bad(c, "mmap: %s", strerror(errno));
	}
	b->p = m;
	return 0;
}

static void unmap_file(struct bytes *b)
{
	if (b->fd < 0)
		return;
	if (b->len)
		munmap((void *)b->p, b->len);
	close(b->fd);
	b->fd = -1;
}

static int map_memory_file(struct snap_reader *r, const char *memory_path, char *err,
			   size_t errlen)
{
	struct complaint c = { err, errlen, memory_path };

	if (map_file(&r->mem, memory_path, &c) < 0 || check_memory_header(r, &c) < 0 ||
	    check_page_data(r, &c) < 0) {
		unmap_file(&r->mem);
		return -1;
	}
	return 0;
}

/*
 * The memory file: the one given, or the one the header names, beside the snapshot; when it
 * is not this snapshot's, its staged name (snapfile_write.c), else the first complaint.
 */
static int open_memory_file(struct snap_reader *r, const char *path, const char *memory_path,
			    char *err, size_t errlen)
{
	char buf[4096];

	if (!memory_path) {
		const char *slash = strrchr(path, '/');
		int dirlen = slash ? (int)(slash - path + 1) : 0;
		if (snprintf(buf, sizeof(buf), "%.*s%s", dirlen, path, r->memname) >=
		    (int)sizeof(buf)) {
			snprintf(err, errlen, "%s: path of its memory file is too long", path);
			return -1;
		}
		memory_path = buf;
	}
	if (map_memory_file(r, memory_path, err, errlen) == 0)
		return 0;
	char *staged = snap_staged_name(memory_path, r->id);
	char staged_err[256];
	if (staged && access(staged, F_OK) == 0 &&
	    map_memory_file(r, staged, staged_err, sizeof(staged_err)) == 0) {
		free(staged);
		return 0;
	}
	free(staged);
	return -1;
}

struct snap_reader *snap_reader_open(const char *path, const char *memory_path, char *err,
				     size_t errlen)
{
	struct complaint c = { err, errlen, path };
	struct snap_reader *r = reader_new();

	if (!r) {
		bad(&c, "out of memory");
		return NULL;
	}
	if (map_file(&r->main, path, &c) < 0 || check_main(r, &c) < 0 ||
	    (!r->separate && memory_path &&
	     bad(&c, "keeps its RAM inside, not in %s", memory_path) < 0) ||
	    (r->separate && open_memory_file(r, path, memory_path, err, errlen) < 0)) {
		snap_reader_close(r);
		return NULL;
	}
	return r;
}

size_t snap_reader_fds(const struct snap_reader *r, int *fds, size_t max)
{
	size_t n = 0;

	if (r->main.fd >= 0 && n < max)
		fds[n++] = r->main.fd;
	if (r->mem.fd >= 0 && n < max)
		fds[n++] = r->mem.fd;
	return n;
}

void snap_reader_close(struct snap_reader *r)
{
	if (!r)
		return;
	unmap_file(&r->main);
	unmap_file(&r->mem);
	free(r->secs);
	free(r->regions);
	free(r->ext);
	free(r);
}

const void *snap_get(const struct snap_reader *r, uint32_t type, uint32_t instance,
		     size_t *len)
{
	struct section_ref key = { .type = type, .instance = instance };
	const struct section_ref *s = bsearch(&key, r->secs, r->nsecs, sizeof(key), compare_refs);

	if (len)
		*len = s ? (size_t)s->len : 0;
	return s ? r->main.p + s->off : NULL;
}

unsigned snap_count(const struct snap_reader *r, uint32_t type)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < r->nsecs; i++)
		n += r->secs[i].type == type;
	return n;
}

uint64_t snap_memory_bytes(const struct snap_reader *r)
{
	return r->mem_bytes;
}

/* "512 MiB", "8 KiB" */
static const char *size_text(char *buf, size_t n, uint64_t bytes)
{
	if (bytes % (1u << 20) == 0)
		snprintf(buf, n, "%llu MiB", (unsigned long long)(bytes >> 20));
	else
		snprintf(buf, n, "%llu KiB", (unsigned long long)(bytes >> 10));
	return buf;
}

/* The VM's regions must be those saved, and (to be mapped over) page-aligned in memory. */
static int check_layout(const struct snap_reader *r, const struct snap_mem_region *regions,
			unsigned n, const struct complaint *c)
{
	char a[32], b[32];

	if (n != r->nregions)
		return bad(c, "snapshot has %u RAM regions, this VM %u", r->nregions, n);
	for (unsigned i = 0; i < n; i++) {
		const struct saved_region *s = &r->regions[i];
		if (s->gpa != regions[i].gpa || s->size != regions[i].size)
			return bad(c, "snapshot has %s of RAM at 0x%llx, this VM %s at 0x%llx",
				   size_text(a, sizeof(a), s->size), (unsigned long long)s->gpa,
				   size_text(b, sizeof(b), regions[i].size),
				   (unsigned long long)regions[i].gpa);
		if (r->main.fd >= 0 && (uintptr_t)regions[i].hva % SNAP_PAGE)
			return bad(c, "RAM at 0x%llx is not page-aligned in this process",
				   (unsigned long long)s->gpa);
	}
	return 0;
}

int snap_load_memory(const struct snap_reader *r, const struct snap_mem_region *regions,
		     unsigned n, char *err, size_t errlen)
{
	struct complaint c = { err, errlen, NULL };
	const struct bytes *src = r->separate ? &r->mem : &r->main;
	unsigned maps = 0, g = 0;

	if (check_layout(r, regions, n, &c) < 0)
		return -1;
	for (uint32_t i = 0; i < r->next; i++) {
		const struct stored_extent *e = &r->ext[i];
		while (regions[g].gpa + regions[g].size <= e->gpa)
			g++; /* parse_extents put every extent inside a region */
		uint8_t *dst = regions[g].hva + (e->gpa - regions[g].gpa);
		if (src->fd < 0 || e->len < SNAP_MAP_MIN || maps == SNAP_MAP_MAX) {
			memcpy(dst, src->p + e->off, (size_t)e->len);
			continue;
		}
		if (mmap(dst, (size_t)e->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
			 src->fd, (off_t)e->off) == MAP_FAILED)
			return bad(&c, "cannot map the saved RAM at 0x%llx: %s",
				   (unsigned long long)e->gpa, strerror(errno));
		maps++;
	}
	return 0;
}

bool snap_section(const struct snap_reader *r, uint32_t type, uint32_t instance,
		  struct snap_dec *d)
{
	size_t len;
	const void *p = snap_get(r, type, instance, &len);

	if (p)
		snap_dec_init(d, p, len);
	return p != NULL;
}
