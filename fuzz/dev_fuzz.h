/*
 * dev_fuzz.h - what the device harnesses share (fuzz/fuzz_<model>.c): the fuzz input read
 * as a hostile guest's sequence of accesses to one model, with time passing in between, and
 * the snapshot round trip every model must survive.
 *
 * One harness per model, not one harness with a model selector byte: each model keeps its
 * own corpus and its own coverage, so a run's executions and libFuzzer's mutations all go to
 * one state machine (a selector byte would let mutations hop between unrelated models), a
 * crash names its model by the binary that found it, and a new model is one more small file.
 *
 * The input: a model's configuration bytes first (DEV_FUZZ_CONFIG_MAX at most, zero when the
 * input is shorter; most models have none), then operations, each an op byte and its
 * arguments.  Op byte: bits 0-2 the kind, bits 3-5 `arg`, bits 6-7 `flags`.
 *
 *   DEV_OP_WRITE   where (u8), value (le32)  a guest write of size(flags, arg) bytes: the value
 *                                           repeated; `where` and `flags` pick the address
 *   DEV_OP_READ    where (u8)               a guest read, into a buffer of exactly that size
 *   DEV_OP_TIME    delta (le16)             the clock moves delta << (4 * arg) ns, then the
 *                                           model's owner does its timer work (tick)
 *   DEV_OP_SNAP    off (le16), byte (u8)    save; load into a fresh model, whose save must be
 *                                           the same bytes; by arg & 3: 0 go on with that copy,
 *                                           1 xor `byte` (1 if 0) into the saved bytes at off,
 *                                           2 cut them at off, 3 insert `byte` at off, and load
 *                                           the result into another fresh model: it must refuse
 *                                           (one line) or accept, and the run goes on with what
 *                                           it accepts
 *   DEV_OP_MODEL+n a (u8), b (le64)          the model's own operation n (0-3): an interrupt
 *                                           line, an acknowledge, the host side of a device
 *
 * Offsets past the saved bytes wrap.  The clock starts at 0 for every input and only moves
 * forward.  What a model must never do is crash, trip a sanitizer or hang.  While its state
 * is one the guest made (accesses, time, restores of its own saves), every save must load
 * into a fresh model that saves the same bytes, and each harness's own checks hold
 * (callbacks' arguments in range, ...).  Once a changed snapshot has been accepted the state
 * may be one no guest could make: from then on only crashes and sanitizers count (what the
 * loaders accept is not these harnesses' business), and dev_fuzz_trusted says so.
 *
 * A defect found and reported but not yet fixed can be named by the harness (`known`): the
 * round trip of a state that shows it is not asserted, so that fuzzing goes on past it,
 * unless MPVMM_FUZZ_STRICT=1 is in the environment (to reproduce it).
 */
#ifndef MPVMM_FUZZ_DEV_FUZZ_H
#define MPVMM_FUZZ_DEV_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/bus.h"
#include "dev/vm_control.h"
#include "snapshot/snapfile.h"

enum dev_op {
	DEV_OP_WRITE = 0,
	DEV_OP_READ,
	DEV_OP_TIME,
	DEV_OP_SNAP,
	DEV_OP_MODEL, /* 4-7: the model's operations 0-3 */
};

enum dev_snap { DEV_SNAP_COPY = 0, DEV_SNAP_XOR, DEV_SNAP_CUT, DEV_SNAP_INSERT };

#define DEV_FUZZ_CONFIG_MAX 8
#define DEV_FUZZ_MAX_OPS 4096 /* per input: bounds the time one input takes */

/* One guest access as the model sees it: `size` bytes at `data`, read or written. */
struct dev_access {
	uint8_t where, flags;
	unsigned arg, size;
	bool write;
	uint8_t *data;
};

struct fuzz_dev {
	const char *name;
	size_t config;                        /* configuration bytes at the input's start */
	/* A fresh model on fresh buses; each copy made for a snapshot gets the same config. */
	void *(*create)(const uint8_t config[DEV_FUZZ_CONFIG_MAX]);
	void (*destroy)(void *m);
	int (*save)(void *m, struct snap_enc *e);  /* -1: out of memory */
	/* 0, or -1 with one line in err; trailing bytes refused as the model's owner does. */
	int (*load)(void *m, struct snap_dec *d, char *err, size_t errlen);
	/* Bytes an access of this op moves (NULL: port I/O, 1, 2 or 4 by arg). */
	unsigned (*size)(uint8_t flags, unsigned arg);
	void (*access)(void *m, const struct dev_access *a);
	void (*tick)(void *m, uint64_t now);  /* NULL: the model has no timers */
	void (*op)(void *m, unsigned which, uint8_t flags, uint8_t a, uint64_t b);
	/* NULL, or what known, reported defect the model's state now shows (NULL if none). */
	const char *(*known)(void *m);
};

/* Run one input against a fresh model of `dev`. */
void dev_fuzz_run(const struct fuzz_dev *dev, const uint8_t *data, size_t size);

/* The model's state is one the guest made: no changed snapshot was accepted. */
bool dev_fuzz_trusted(void);

/* MPVMM_FUZZ_STRICT=1: known defects are not excused. */
bool dev_fuzz_strict(void);

/* The harness's clock: ns since the input started (for a model's now_ns callback). */
uint64_t dev_fuzz_now(void *ctx);

/* A port I/O or MMIO access through a bus, as the vCPU loop makes it. */
void dev_fuzz_dispatch(struct bus *b, uint64_t addr, const struct dev_access *a);

/* Port I/O sizes by arg: 1, 2 or 4; MMIO: 1 to 8 (a fragment of an access). */
unsigned dev_fuzz_pio_size(uint8_t flags, unsigned arg);
unsigned dev_fuzz_mmio_size(uint8_t flags, unsigned arg);

/* A message from the model (warning, log line): it must be one line. */
void dev_fuzz_message(const char *msg);

/* What a device may ask of the VM (stop, reset, hold): each request's reason is checked. */
extern const struct vm_control dev_fuzz_control;

/* Save into a fresh encoder; aborts when out of memory (no input should get there). */
struct snap_enc dev_fuzz_save(const struct fuzz_dev *dev, void *m);

#endif
