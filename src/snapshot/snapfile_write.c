/*
 * snapfile_write.c - writing a snapshot (format: snapfile.c): sections and page data go to
 * temporary files (mode 0600: guest RAM is nobody else's business) beside the final paths.
 * Commit fsyncs them and publishes a pair so that a failure or a kill at any point leaves
 * the old pair or the new one restorable, never neither:
 *   1. the memory file is renamed to its staged name, NAME.<snapshot id in hex>, which
 *      replaces nothing;
 *   2. the main file is renamed into place: the switch from the old pair to the new one
 *      (the reader looks for NAME, then for NAME.<id> of the snapshot it opened);
 *   3. the staged memory file is renamed to NAME, replacing the old one.
 * Each rename is followed by an fsync of its directory.  A process killed before step 2
 * leaves only files named `.NAME.tmp.XXXXXX` or NAME.<id> beside the old pair.
 *
 * It knows files and the layout; what a section means is its caller's business.
 */
#include "snapshot/snapfile.h"
#include "snapshot/snapfile_layout.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/* One file being written: its final path and the temporary one beside it. */
struct out_file {
	int fd;
	char *path, *tmp;
	uint64_t end; /* where the next bytes go */
};

struct section_key {
	uint32_t type, instance;
};

struct snap_writer {
	struct out_file main, mem; /* mem.fd < 0 without a memory file */
	char *mem_staged;          /* mem.path + "." + the id in hex (step 1 above) */
	uint8_t id[SNAP_ID_LEN];
	char memname[SNAP_NAME_MAX + 1];
	struct section_key *keys;
	uint32_t nkeys;
	size_t keycap;
	uint64_t mem_bytes;
	bool memory_done;
	int failed; /* the errno that broke the writer, or 0 */
};

/* Write all n bytes at off: short writes continue, EINTR retries.  0 or -1 with errno. */
static int pwrite_all(int fd, const void *buf, size_t n, uint64_t off)
{
	const uint8_t *p = buf;

	while (n) {
		ssize_t r = pwrite(fd, p, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static int fsync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");

	if (!dir)
		return -1;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (fd < 0)
		return -1;
	int r = fsync(fd);
	int saved = errno;
	close(fd);
	errno = saved;
	return r;
}

/* Create `.NAME.tmp.XXXXXX` beside `path`, O_EXCL, mode 0600 (a snapshot holds guest RAM). */
static int create_temp(struct out_file *f, const char *path)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	int dirlen = (int)(base - path);

	f->fd = -1;
	f->path = strdup(path);
	f->tmp = malloc(strlen(path) + 16);
	if (!f->path || !f->tmp)
		return -1;
	for (int attempt = 0; attempt < 100; attempt++) {
		uint8_t rnd[6];
		char suffix[7];
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -1;
		for (int i = 0; i < 6; i++)
			suffix[i] = digits[rnd[i] % (sizeof(digits) - 1)];
		suffix[6] = '\0';
		sprintf(f->tmp, "%.*s.%s.tmp.%s", dirlen, path, base, suffix);
		f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (f->fd >= 0 || errno != EEXIST)
			return f->fd < 0 ? -1 : 0;
	}
	return -1; /* errno is EEXIST */
}

static void out_file_discard(struct out_file *f)
{
	if (f->fd >= 0) {
		close(f->fd);
		unlink(f->tmp);
	}
	free(f->path);
	free(f->tmp);
	memset(f, 0, sizeof(*f));
	f->fd = -1;
}

static void writer_free(struct snap_writer *w)
{
	out_file_discard(&w->main);
	out_file_discard(&w->mem);
	free(w->mem_staged);
	free(w->keys);
	free(w);
}

/* A file name the header can record: no control bytes, not empty, not "." or "..". */
static const char *usable_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;

	if (!*base || strlen(base) > SNAP_NAME_MAX || !strcmp(base, ".") || !strcmp(base, ".."))
		return NULL;
	for (const char *c = base; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return NULL;
	return base;
}

struct snap_writer *snap_writer_open(const char *path, const char *memory_path, char *err,
				     size_t errlen)
{
	struct snap_writer *w = calloc(1, sizeof(*w));

	if (!w) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	w->main.fd = w->mem.fd = -1;
	const char *memname = memory_path ? usable_name(memory_path) : "";
	if (!usable_name(path) || !memname || (memory_path && !strcmp(path, memory_path))) {
		snprintf(err, errlen, "%s: not a usable name for a snapshot%s",
			 memname ? path : memory_path, memname ? "" : "'s memory file");
		writer_free(w);
		return NULL;
	}
	strcpy(w->memname, memname);
	if (getrandom(w->id, sizeof(w->id), 0) != (ssize_t)sizeof(w->id)) {
		snprintf(err, errlen, "%s: getrandom: %s", path, strerror(errno));
		writer_free(w);
		return NULL;
	}
	if (memory_path && !(w->mem_staged = snap_staged_name(memory_path, w->id))) {
		snprintf(err, errlen, "%s: %s", memory_path, strerror(errno));
		writer_free(w);
		return NULL;
	}
	if (create_temp(&w->main, path) < 0 || (memory_path && create_temp(&w->mem, memory_path) < 0)) {
		snprintf(err, errlen, "cannot create a temporary file beside %s: %s",
			 memory_path && w->main.fd >= 0 ? memory_path : path, strerror(errno));
		writer_free(w);
		return NULL;
	}
	w->main.end = snap_header_size((uint32_t)strlen(w->memname));
	w->mem.end = SNAP_PAGE;
	return w;
}

/* Mark the writer broken with the current errno; always -1. */
static int fail(struct snap_writer *w)
{
	if (!w->failed)
		w->failed = errno ? errno : EIO;
	errno = w->failed;
	return -1;
}

/* Remember (type, instance); -1 with EEXIST if it was put before. */
static int add_key(struct snap_writer *w, uint32_t type, uint32_t instance)
{
	for (uint32_t i = 0; i < w->nkeys; i++)
		if (w->keys[i].type == type && w->keys[i].instance == instance) {
			errno = EEXIST;
			return -1;
		}
	if (w->nkeys == UINT32_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	if (w->nkeys == w->keycap) {
		size_t cap = w->keycap ? 2 * w->keycap : 16;
		struct section_key *k = realloc(w->keys, cap * sizeof(*k));
		if (!k)
			return -1;
		w->keys = k;
		w->keycap = cap;
	}
	w->keys[w->nkeys++] = (struct section_key){ type, instance };
	return 0;
}

/* Write one section (header, payload, zeros to 8) at `off`. */
static int write_section(struct snap_writer *w, uint64_t off, uint32_t type, uint32_t instance,
			 const void *data, size_t len)
{
	static const uint8_t zeros[8];
	uint8_t h[SNAP_SEC_HDR] = { 0 };

	snap_put_le32(h, type);
	snap_put_le32(h + 4, instance);
	snap_put_le64(h + 8, len);
	uint32_t crc = snap_crc32c(0, h, SNAP_SEC_CRC);
	snap_put_le32(h + SNAP_SEC_CRC, snap_crc32c(crc, data, len));
	size_t pad = (size_t)(snap_align(len, 8) - len);
	if (pwrite_all(w->main.fd, h, sizeof(h), off) < 0 ||
	    pwrite_all(w->main.fd, data, len, off + SNAP_SEC_HDR) < 0 ||
	    pwrite_all(w->main.fd, zeros, pad, off + SNAP_SEC_HDR + len) < 0)
		return -1;
	return 0;
}

int snap_put(struct snap_writer *w, uint32_t type, uint32_t instance, const void *data,
	     size_t len)
{
	if (w->failed)
		return fail(w);
	if (type == SNAP_SEC_MEMORY) {
		errno = EINVAL; /* only snap_put_memory writes it */
		return fail(w);
	}
	if (add_key(w, type, instance) < 0 ||
	    write_section(w, w->main.end, type, instance, data, len) < 0)
		return fail(w);
	w->main.end += SNAP_SEC_HDR + snap_align(len, 8);
	return 0;
}

/* A run of non-zero pages, as it will be stored. */
struct extent {
	uint64_t gpa, len;
	const uint8_t *hva;
};

static bool page_is_zero(const uint8_t *p)
{
	return p[0] == 0 && !memcmp(p, p + 1, SNAP_PAGE - 1);
}

static int regions_valid(const struct snap_mem_region *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if ((r[i].gpa | r[i].size) % SNAP_PAGE || !r[i].size || r[i].gpa + r[i].size < r[i].gpa ||
		    (i && r[i].gpa < r[i - 1].gpa + r[i - 1].size)) {
			errno = EINVAL;
			return -1;
		}
	}
	return 0;
}

/*
 * Pages of anonymous memory that were never touched need not be read: they are zero, and
 * reading them would map the zero page at every one (for a 1 GiB guest some 200 ms, after
 * which mincore counts them all resident).  /proc/self/pagemap says per page whether it is
 * present (bit 63) or swapped (bit 62) (Documentation/admin-guide/mm/pagemap.rst); neither,
 * in an anonymous mapping, means never written.  A page of a file mapping (the RAM of a
 * restored VM) may be neither and still hold data: /proc/self/maps tells which ranges are
 * anonymous.  Without /proc every page is read.
 */
#define PAGEMAP_PRESENT (1ull << 63)
#define PAGEMAP_SWAPPED (1ull << 62)
#define PAGEMAP_BATCH 512

struct untouched {
	int pagemap;           /* fd, or -1: read every page */
	uint64_t (*anon)[2];   /* [start, end) of anonymous mappings */
	size_t nanon;
	uint64_t buf[PAGEMAP_BATCH], first; /* cached entries from page `first` on */
	size_t cached;
};

static bool anon_line(const char *line, uint64_t *start, uint64_t *end)
{
	unsigned long long a, b, ino;
	int path = 0;

	if (sscanf(line, "%llx-%llx %*s %*s %*s %llu %n", &a, &b, &ino, &path) != 3)
		return false;
	*start = a;
	*end = b;
	return ino == 0 && (line[path] == '\0' || line[path] == '\n');
}

static void untouched_open(struct untouched *u)
{
	char line[512];
	FILE *maps = fopen("/proc/self/maps", "re");

	memset(u, 0, sizeof(*u));
	u->pagemap = maps ? open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC) : -1;
	while (u->pagemap >= 0 && fgets(line, sizeof(line), maps)) {
		uint64_t a, b;
		if (!anon_line(line, &a, &b))
			continue;
		void *g = realloc(u->anon, (u->nanon + 1) * sizeof(*u->anon));
		if (!g) {
			close(u->pagemap);
			u->pagemap = -1;
			break;
		}
		u->anon = g;
		u->anon[u->nanon][0] = a;
		u->anon[u->nanon++][1] = b;
	}
	if (maps)
		fclose(maps);
}

static void untouched_close(struct untouched *u)
{
	if (u->pagemap >= 0)
		close(u->pagemap);
	free(u->anon);
}

/* True only when the page at p is certainly zero without reading it. */
static bool never_touched(struct untouched *u, const uint8_t *p)
{
	uint64_t addr = (uint64_t)(uintptr_t)p, page = addr / SNAP_PAGE;
	bool anon = false;

	if (u->pagemap < 0)
		return false;
	for (size_t i = 0; i < u->nanon && !anon; i++)
		anon = addr >= u->anon[i][0] && addr < u->anon[i][1];
	if (!anon)
		return false;
	if (page < u->first || page >= u->first + u->cached) {
		ssize_t n = pread(u->pagemap, u->buf, sizeof(u->buf), (off_t)(page * 8));
		if (n < 8)
			return false;
		u->first = page;
		u->cached = (size_t)n / 8;
	}
	return !(u->buf[page - u->first] & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED));
}

/* Find the runs of non-zero pages of every region; *out is malloc'ed. */
static int find_extents(const struct snap_mem_region *r, unsigned n, struct extent **out,
			size_t *count)
{
	struct extent *e = NULL;
	size_t ne = 0, cap = 0;
	struct untouched u;

	untouched_open(&u);
	for (unsigned i = 0; i < n; i++) {
		bool open_run = false;
		for (uint64_t off = 0; off < r[i].size; off += SNAP_PAGE) {
			if (never_touched(&u, r[i].hva + off) || page_is_zero(r[i].hva + off)) {
				open_run = false;
				continue;
			}
			if (open_run) {
				e[ne - 1].len += SNAP_PAGE;
				continue;
			}
			if (ne == cap) {
				cap = cap ? 2 * cap : 64;
				struct extent *g = realloc(e, cap * sizeof(*e));
				if (!g) {
					free(e);
					untouched_close(&u);
					return -1;
				}
				e = g;
			}
			e[ne++] = (struct extent){ r[i].gpa + off, SNAP_PAGE, r[i].hva + off };
			open_run = true;
		}
	}
	untouched_close(&u);
	*out = e;
	*count = ne;
	return 0;
}

/* Write one extent's data at off in 1 MiB pieces, each checksummed while it is in cache. */
static int write_extent(int fd, const struct extent *e, uint64_t off, uint32_t *crc)
{
	const uint64_t chunk = 1u << 20;

	*crc = 0;
	for (uint64_t done = 0; done < e->len; done += chunk) {
		size_t n = (size_t)(e->len - done < chunk ? e->len - done : chunk);
		*crc = snap_crc32c(*crc, e->hva + done, n);
		if (pwrite_all(fd, e->hva + done, n, off + done) < 0)
			return -1;
	}
	return 0;
}

/*
 * Write the page data from `data_off` on (in the memory file or the main one) and encode the
 * memory section's payload into `t`.
 */
static int write_memory(struct snap_writer *w, const struct snap_mem_region *r, unsigned n,
			const struct extent *e, size_t ne, int fd, uint64_t data_off,
			struct snap_enc *t)
{
	if (ne > UINT32_MAX) {
		errno = EOVERFLOW;
		return -1;
	}
	snap_enc_u32(t, n);
	snap_enc_u32(t, (uint32_t)ne);
	for (unsigned i = 0; i < n; i++) {
		snap_enc_u64(t, r[i].gpa);
		snap_enc_u64(t, r[i].size);
	}
	uint64_t off = data_off;
	for (size_t i = 0; i < ne; i++) {
		uint32_t crc;
		if (write_extent(fd, &e[i], off, &crc) < 0)
			return -1;
		snap_enc_u64(t, e[i].gpa);
		snap_enc_u64(t, e[i].len);
		snap_enc_u64(t, off);
		snap_enc_u32(t, crc);
		snap_enc_u32(t, 0);
		off += e[i].len;
	}
	if (t->oom) {
		errno = ENOMEM;
		return -1;
	}
	w->mem_bytes = off - data_off;
	return 0;
}

int snap_put_memory(struct snap_writer *w, const struct snap_mem_region *regions, unsigned n)
{
	struct extent *e = NULL;
	struct snap_enc t = { 0 };
	size_t ne = 0;

	if (w->failed)
		return fail(w);
	if (regions_valid(regions, n) < 0 || add_key(w, SNAP_SEC_MEMORY, 0) < 0 ||
	    find_extents(regions, n, &e, &ne) < 0)
		return fail(w);
	/* The section's size is known before its contents: 8 + 16 R + 32 E. */
	uint64_t sec = w->main.end;
	uint64_t sec_end = sec + SNAP_SEC_HDR + SNAP_MEM_HEAD + (uint64_t)n * SNAP_MEM_REGION +
			   (uint64_t)ne * SNAP_MEM_EXTENT;
	bool separate = w->mem.fd >= 0;
	int fd = separate ? w->mem.fd : w->main.fd;
	uint64_t data_off = separate ? w->mem.end : snap_align(sec_end, SNAP_PAGE);
	int r = write_memory(w, regions, n, e, ne, fd, data_off, &t);
	if (r == 0)
		r = write_section(w, sec, SNAP_SEC_MEMORY, 0, t.buf, t.len);
	int saved = errno;
	free(e);
	snap_enc_free(&t);
	errno = saved;
	if (r < 0)
		return fail(w);
	if (separate)
		w->mem.end += w->mem_bytes;
	/* The payload is a multiple of 8 long: sec_end needs no padding. */
	w->main.end = ne && !separate ? data_off + w->mem_bytes : sec_end;
	w->memory_done = true;
	return 0;
}

static int write_main_header(struct snap_writer *w)
{
	uint32_t namelen = (uint32_t)strlen(w->memname);
	uint32_t size = snap_header_size(namelen);
	uint8_t h[SNAP_HDR_MAX];

	memset(h, 0, sizeof(h));
	memcpy(h + SNAP_HDR_MAGIC, SNAP_MAGIC, 8);
	snap_put_le32(h + SNAP_HDR_VERSION, SNAP_FORMAT_VERSION);
	snap_put_le32(h + SNAP_HDR_SIZE, size);
	snap_put_le32(h + SNAP_HDR_FLAGS, namelen ? SNAP_F_MEMFILE : 0);
	snap_put_le32(h + SNAP_HDR_COUNT, w->nkeys);
	snap_put_le64(h + SNAP_HDR_SECTIONS, size);
	memcpy(h + SNAP_HDR_ID, w->id, SNAP_ID_LEN);
	snap_put_le32(h + SNAP_HDR_NAMELEN, namelen);
	memcpy(h + SNAP_HDR_NAME, w->memname, namelen);
	snap_put_le32(h + size - 4, snap_crc32c(0, h, size - 4));
	return pwrite_all(w->main.fd, h, size, 0);
}

static int write_memory_header(struct snap_writer *w)
{
	uint8_t h[SNAP_MHDR_END] = { 0 };

	memcpy(h + SNAP_MHDR_MAGIC, SNAP_MEM_MAGIC, 8);
	snap_put_le32(h + SNAP_MHDR_VERSION, SNAP_FORMAT_VERSION);
	snap_put_le32(h + SNAP_MHDR_DATA, SNAP_PAGE);
	memcpy(h + SNAP_MHDR_ID, w->id, SNAP_ID_LEN);
	snap_put_le64(h + SNAP_MHDR_BYTES, w->mem_bytes);
	snap_put_le32(h + SNAP_MHDR_CRC, snap_crc32c(0, h, SNAP_MHDR_CRC));
	/* Bytes 48..4095 stay a hole: zeros.  An empty memory file still has the whole page. */
	if (pwrite_all(w->mem.fd, h, sizeof(h), 0) < 0)
		return -1;
	return ftruncate(w->mem.fd, (off_t)w->mem.end);
}

/* The temporary file's data on disk, under the name `to`, the name on disk. */
static int publish(struct out_file *f, const char *to, const char **step)
{
	*step = "fsync";
	if (fsync(f->fd) < 0)
		return -1;
	*step = "rename";
	if (rename(f->tmp, to) < 0)
		return -1;
	close(f->fd);
	f->fd = -1; /* nothing to remove any more */
	*step = "fsync of the directory of";
	return fsync_dir_of(to);
}

/* Step 3: the staged memory file under its own name.  Until it is, the reader finds it staged. */
static int unstage_memory(struct snap_writer *w, const char **step)
{
	*step = "rename";
	if (rename(w->mem_staged, w->mem.path) < 0)
		return -1;
	*step = "fsync of the directory of";
	return fsync_dir_of(w->mem.path);
}

int snap_writer_commit(struct snap_writer *w, char *err, size_t errlen)
{
	const char *step = "write";
	const char *what = w->main.path;
	bool separate = w->mem.fd >= 0;

	if (errlen)
		err[0] = '\0';
	if (w->failed) {
		snprintf(err, errlen, "%s: not saved, an earlier write failed: %s", what,
			 strerror(w->failed));
		writer_free(w);
		return -1;
	}
	/* The main file is sized by its contents; any hole at its end must be real zeros. */
	int r = ftruncate(w->main.fd, (off_t)w->main.end);
	if (r == 0)
		r = write_main_header(w);
	if (r == 0 && separate) {
		what = w->mem.path;
		r = write_memory_header(w);
		if (r == 0)
			r = publish(&w->mem, w->mem_staged, &step);
		if (r < 0 && w->mem.fd < 0)
			unlink(w->mem_staged); /* renamed, then its directory's fsync failed */
	}
	if (r == 0) {
		what = w->main.path;
		r = publish(&w->main, w->main.path, &step);
		/* Not switched: the staged memory file belongs to nothing. */
		if (r < 0 && w->main.fd >= 0 && separate)
			unlink(w->mem_staged);
	}
	if (r == 0 && separate && unstage_memory(w, &step) < 0) {
		/* The new pair restores (the reader finds the staged name): saved, with a note. */
		snprintf(err, errlen, "%s: %s: %s; the memory file stays at %s, where restore finds it",
			 w->mem.path, step, strerror(errno), w->mem_staged);
	} else if (r < 0) {
		snprintf(err, errlen, "%s: %s: %s", what, step, strerror(errno));
	}
	writer_free(w);
	return r;
}

void snap_writer_abort(struct snap_writer *w)
{
	if (w)
		writer_free(w);
}

int snap_put_enc(struct snap_writer *w, uint32_t type, uint32_t instance, struct snap_enc *e,
		 const char *what, char *err, size_t errlen)
{
	int r = e->oom ? -1 : snap_put(w, type, instance, e->buf, e->len);

	if (r < 0)
		snprintf(err, errlen, "cannot write the %s: %s", what,
			 e->oom ? "out of memory" : strerror(errno));
	snap_enc_free(e);
	*e = (struct snap_enc){ 0 };
	return r;
}
