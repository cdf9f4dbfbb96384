/*
 * snapfile.h - the snapshot file format: a versioned header, then typed sections, each with
 * its length and a CRC32C, and guest memory stored sparsely (pages of zeros are not written)
 * and page-aligned, so that a restore can map it MAP_PRIVATE and let it load lazily.
 *
 * This module knows bytes and files only: what a section holds (a vCPU's registers, a
 * device's state) is its writer's business.  It must not know KVM, vCPUs, devices or the VM.
 *
 * Saving is atomic: everything goes to a temporary file beside the final path, which is
 * fsync'ed and renamed into place (then the directory is fsync'ed); a crash or a SIGKILL
 * mid-save never leaves a file at the final path, and a main file and its memory file
 * replace an old pair so that one pair or the other always restores.  Reading validates everything before the
 * caller sees anything: header, every section's bounds and CRC, the memory extents.
 * snapfile.c describes the format byte by byte.
 */
#ifndef MPVMM_SNAPFILE_H
#define MPVMM_SNAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SNAP_FORMAT_VERSION 1u

/* Section types.  An `instance` tells sections of one type apart (e.g. the vCPU index). */
enum snap_section {
	SNAP_SEC_MACHINE = 1, /* what the VM is: accelerator, irqchip mode, config     */
	SNAP_SEC_VM,          /* accelerator VM-wide state: irqchip, PIT, clock         */
	SNAP_SEC_VCPU,        /* one vCPU (instance = index)                            */
	SNAP_SEC_MP_USER,     /* the userspace MP state machine and local APIC models   */
	SNAP_SEC_DEVICE,      /* one device (instance = enum in the writer)             */
	SNAP_SEC_TRACE,       /* the MP trace so far                                     */
	SNAP_SEC_MEMORY,      /* guest RAM: the extent table (page data is elsewhere)    */
	SNAP_SEC_TYPES,
};

/* A range of guest RAM and where it is mapped in this process. */
struct snap_mem_region {
	uint64_t gpa;
	uint64_t size;  /* a multiple of 4096 */
	uint8_t *hva;
};

struct snap_writer;

/*
 * Start a snapshot that will appear at `path` on commit.  With `memory_path` non-NULL, the
 * page data goes to that file instead and the snapshot records which memory file belongs to
 * it; the pair replaces an old pair atomically (snapfile_write.c).  Files are created 0600.
 * Returns NULL with a reason in err.
 */
struct snap_writer *snap_writer_open(const char *path, const char *memory_path, char *err,
				     size_t errlen);
/*
 * Append one section.  Returns 0, or -1 with errno (the writer is then only good to abort):
 * EEXIST for a (type, instance) already put, EINVAL for SNAP_SEC_MEMORY (snap_put_memory's).
 */
int snap_put(struct snap_writer *w, uint32_t type, uint32_t instance, const void *data,
	     size_t len);
/*
 * Append guest RAM, once: every 4 KiB page that is not all zeros, page-aligned in the file,
 * read at this call (the VM must not run).  Regions' gpa and size are multiples of 4096, in
 * increasing gpa order without overlap (else EINVAL).  0 or -1 with errno, as snap_put.
 */
int snap_put_memory(struct snap_writer *w, const struct snap_mem_region *regions, unsigned n);
/*
 * fsync, rename into place (snapfile_write.c: the memory file staged, the main file, the
 * memory file), fsync the directories; frees w.  Returns 0, or -1 with err (also when an
 * earlier put failed); after -1 the final paths hold what they held before.  After 0, err
 * is empty, or a note that the memory file stays at its staged name, where it is found.
 */
int snap_writer_commit(struct snap_writer *w, char *err, size_t errlen);
/*
 * The staged name of a memory file: `memory_path` + "." + the snapshot id in hex, beside it.
 * Malloc'ed; NULL with errno (ENAMETOOLONG when the name would not fit a directory entry).
 */
char *snap_staged_name(const char *memory_path, const uint8_t id[16]);
/* Remove the temporary file(s); frees w. */
void snap_writer_abort(struct snap_writer *w);

struct snap_reader;

/*
 * Open and validate a snapshot (and its memory file: `memory_path`, or NULL for the one it
 * names / none).  Returns NULL with one line in err naming what is wrong (bad magic, format
 * version N; this mpvmm reads M, section T #I damaged (CRC), truncated at offset X, ...).
 */
struct snap_reader *snap_reader_open(const char *path, const char *memory_path, char *err,
				     size_t errlen);
/*
 * The same over bytes in memory (memory extents must then be in the same buffer, which
 * must outlive the reader).
 */
struct snap_reader *snap_reader_open_buffer(const void *buf, size_t len, char *err,
					    size_t errlen);
void snap_reader_close(struct snap_reader *r);
/* The open files under a reader (the snapshot, its memory file): how many, up to max.  A
 * process entering a jail keeps them (the RAM is mapped from them when a VM is built). */
size_t snap_reader_fds(const struct snap_reader *r, int *fds, size_t max);

/* The payload of section (type, instance) or NULL if absent; valid until close. */
const void *snap_get(const struct snap_reader *r, uint32_t type, uint32_t instance,
		     size_t *len);
/* How many sections of this type. */
unsigned snap_count(const struct snap_reader *r, uint32_t type);
/* Total bytes of page data stored (what was not zero). */
uint64_t snap_memory_bytes(const struct snap_reader *r);

/*
 * Put the saved RAM into `regions` (same layout as saved, else an error naming the
 * difference): file-backed extents are mapped MAP_PRIVATE | MAP_FIXED over the regions (they
 * load lazily, and the guest's writes stay private); pages not stored are left as they are
 * (the caller's fresh anonymous RAM is zero).  A buffer reader copies, and so does a file
 * reader for extents under 64 KiB and past the 4096th mapping (each mapping costs one of the
 * process's limited VMAs).  A file reader needs each region's hva page-aligned.  The
 * mappings outlive the reader.  Returns 0 or -1.
 */
int snap_load_memory(const struct snap_reader *r, const struct snap_mem_region *regions,
		     unsigned n, char *err, size_t errlen);

/* CRC32C (Castagnoli, as iSCSI and ext4 use it), continuing from `crc` (start with 0). */
uint32_t snap_crc32c(uint32_t crc, const void *data, size_t len);

/*
 * Section payloads are built and parsed with these: little-endian fixed-size fields, every
 * read bounds-checked (a short payload sets `bad` and reads zeros, so a parser checks once at
 * the end).  An encoder starts zeroed; `oom` also means a blob over 4 GiB.
 */
struct snap_enc {
	uint8_t *buf;
	size_t len, cap;
	bool oom;
};
void snap_enc_u8(struct snap_enc *e, uint8_t v);
void snap_enc_u32(struct snap_enc *e, uint32_t v);
void snap_enc_u64(struct snap_enc *e, uint64_t v);
void snap_enc_bytes(struct snap_enc *e, const void *p, size_t n);
/* A u32 length, then the bytes. */
void snap_enc_blob(struct snap_enc *e, const void *p, size_t n);
void snap_enc_free(struct snap_enc *e);

struct snap_dec {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};
void snap_dec_init(struct snap_dec *d, const void *p, size_t len);
uint8_t snap_dec_u8(struct snap_dec *d);
uint32_t snap_dec_u32(struct snap_dec *d);
uint64_t snap_dec_u64(struct snap_dec *d);
void snap_dec_bytes(struct snap_dec *d, void *out, size_t n);
/* A u32 length then the bytes: a pointer into the payload, or NULL (bad) if it overruns. */
const void *snap_dec_blob(struct snap_dec *d, size_t *n);
/* All of the payload was consumed and nothing overran. */
bool snap_dec_done(const struct snap_dec *d);
/*
 * Append an encoded payload as section (type, instance) and reset the encoder (freed,
 * zeroed), whatever happened.  0, or -1 with "cannot write the <what>: <reason>" in err
 * (out of memory while encoding, or snap_put's errno).
 */
int snap_put_enc(struct snap_writer *w, uint32_t type, uint32_t instance, struct snap_enc *e,
		 const char *what, char *err, size_t errlen);
/* Section (type, instance) ready to decode, or false if absent. */
bool snap_section(const struct snap_reader *r, uint32_t type, uint32_t instance,
		  struct snap_dec *d);
/* A decoded state refused: "<what> state: <why>" into err; returns -1. */
int snap_refuse(char *err, size_t errlen, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
