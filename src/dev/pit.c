/*
 * pit.c - see pit.h.  Counter modes, the control word, counter latch and read-back from the
 * Intel 8254 datasheet ("Operational description", "Read-back command", figures on OUT in
 * each mode); port 0x61 from the PC/AT's port B.  A counter is described by when it was
 * loaded and its count: its value and OUT at any time are computed from the clock, never
 * stepped.  It must not know what IRQ 0 is wired to, nor who keeps time.
 */
#include "dev/pit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "snapshot/snapfile.h"

#define NS_PER_S 1000000000ull
#define TICK_NONE UINT64_MAX
#define REFRESH_NS 15085ull /* port B bit 4 toggles every 15.085 us (PC/AT refresh) */

/* Control word (0x43): SC 7:6, RW 5:4, M 3:1, BCD 0. */
#define CW_SC(v) ((v) >> 6)
#define CW_RW(v) (((v) >> 4) & 3)
#define CW_MODE(v) (((v) >> 1) & 7)
#define CW_BCD 0x01u
#define CW_READ_BACK 3u
#define RB_NO_COUNT 0x20u  /* read-back: COUNT bit (active low) */
#define RB_NO_STATUS 0x10u /* read-back: STATUS bit (active low) */
#define STATUS_OUT 0x80u
#define STATUS_NULL 0x40u

enum rw { RW_LATCH = 0, RW_LSB = 1, RW_MSB = 2, RW_WORD = 3 };

struct counter {
	unsigned index;
	uint8_t mode, rw;
	bool bcd;
	bool programmed;      /* a control word set its mode                                */
	bool loaded;          /* a count was written since                                  */
	bool triggered;       /* modes 1 and 5: a rising gate started the count             */
	bool null_count;      /* status bit 6: count written, not yet in the counting element */
	uint32_t count;       /* n, 1..0x10000 (binary) or 1..10000 (BCD)                    */
	uint64_t load_ns;     /* counting (re)started                                       */
	bool gate;
	bool frozen;          /* gate low: counting held at frozen_ticks                     */
	uint64_t frozen_ticks;
	bool write_msb;       /* LSB-then-MSB: the next write is the MSB                    */
	uint8_t lsb;
	bool read_msb;        /* LSB-then-MSB: the next read is the MSB                     */
	bool count_latched, latch_msb;
	uint16_t latch;
	bool status_latched;
	uint8_t status;
	uint64_t next_edge;   /* counter 0: ticks after load_ns of OUT's next rise          */
	bool out;             /* counter 0: the level last handed to `out`                  */
};

struct pit {
	struct pit_config cfg;
	struct counter c[3];
	bool speaker;
	bool min_period_warned;
};

__attribute__((format(printf, 2, 3)))
static void warnf(const struct pit *p, const char *fmt, ...)
{
	char msg[160];
	int n;
	va_list ap;

	if (!p->cfg.warn)
		return;
	n = snprintf(msg, sizeof(msg), "8254 PIT: ");
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	p->cfg.warn(p->cfg.warn_ctx, msg);
}

static uint64_t now(const struct pit *p)
{
	return p->cfg.now_ns ? p->cfg.now_ns(p->cfg.clock_ctx) : 0;
}

/* ---- time ------------------------------------------------------------------------------- */

static uint64_t ns_to_ticks(uint64_t ns)
{
	return (uint64_t)((unsigned __int128)ns * PIT_HZ / NS_PER_S);
}

/* The first ns at which ns_to_ticks reaches `ticks`. */
static uint64_t ticks_to_ns(uint64_t ticks)
{
	unsigned __int128 ns = ((unsigned __int128)ticks * NS_PER_S + PIT_HZ - 1) / PIT_HZ;

	return ns >= UINT64_MAX ? UINT64_MAX - 1 : (uint64_t)ns;
}

static uint64_t elapsed(const struct counter *c, uint64_t t)
{
	if (c->frozen)
		return c->frozen_ticks;
	return t > c->load_ns ? ns_to_ticks(t - c->load_ns) : 0;
}

/* Counting from load_ns so that `ticks` have already passed at time t. */
static void restart_at(struct counter *c, uint64_t t, uint64_t ticks)
{
	uint64_t d = ticks_to_ns(ticks);

	c->load_ns = t >= d ? t - d : 0;
	c->frozen = false;
}

static bool counting(const struct counter *c)
{
	if (!c->loaded)
		return false;
	return (c->mode != 1 && c->mode != 5) || c->triggered;
}

/* ---- value and OUT (8254 datasheet, "Mode 0" ... "Mode 5") ------------------------------ */

static uint32_t value(const struct counter *c, uint64_t t)
{
	if (!counting(c))
		return c->count & 0xffff;
	uint64_t d = elapsed(c, t), n = c->count, v;

	switch (c->mode) {
	case 2:
		v = n - d % n;           /* n ... 1, reloaded at 0 */
		break;
	case 3:
		v = n - (2 * d) % n;     /* counts down by two (odd counts approximated) */
		break;
	default:
		v = n - d;               /* 0, 1, 4, 5: on past zero, wrapping */
		break;
	}
	if (c->bcd)
		return (uint32_t)(v % 10000);
	return (uint32_t)(v & 0xffff);
}

static bool out_level(const struct counter *c, uint64_t t)
{
	if (!c->programmed)
		return true;
	uint64_t d = counting(c) ? elapsed(c, t) : 0, n = c->count;

	switch (c->mode) {
	case 0: /* low from the control word until terminal count */
		return c->loaded && d >= n;
	case 1: /* low from the trigger until terminal count */
		return !c->triggered || d >= n;
	case 2: /* low for the one clock at count 1 */
		return !c->loaded || !c->gate || d % n != n - 1;
	case 3: /* high for the first half of each period (the longer half for odd n) */
		return !c->loaded || !c->gate || d % n < (n + 1) / 2;
	case 4: /* low for the one clock after terminal count */
		return !c->loaded || d != n;
	default: /* 5 */
		return !c->triggered || d != n;
	}
}

/* ---- counter 0's OUT as edges for IRQ 0 ---------------------------------------------------- */

/* Periods of the rate and square wave modes, in whole counts of at least the minimum. */
static uint64_t edge_period(struct pit *p, const struct counter *c)
{
	uint64_t min = ns_to_ticks(PIT_MIN_PERIOD_NS) + 1, n = c->count;

	if (n >= min)
		return n;
	if (!p->min_period_warned) {
		p->min_period_warned = true;
		warnf(p, "counter 0 period of %llu counts is below %llu us: IRQ 0 at that rate",
		      (unsigned long long)n, (unsigned long long)(PIT_MIN_PERIOD_NS / 1000));
	}
	return (min + n - 1) / n * n;
}

/* The first rise of OUT after `d` ticks (TICK_NONE if none comes). */
static uint64_t edge_after(struct pit *p, const struct counter *c, uint64_t d)
{
	if (!counting(c) || !c->gate)
		return TICK_NONE;
	uint64_t n = c->count, per;

	switch (c->mode) {
	case 0:
	case 1:
		return d < n ? n : TICK_NONE;
	case 4:
	case 5:
		return d < n + 1 ? n + 1 : TICK_NONE;
	default:
		per = edge_period(p, c);
		return (d / per + 1) * per;
	}
}

static void set_out(struct pit *p, struct counter *c, bool level)
{
	if (c->index != 0 || level == c->out)
		return;
	c->out = level;
	if (p->cfg.out)
		p->cfg.out(p->cfg.out_ctx, level);
}

/* Counter 0 changed (program, load, gate): its OUT now, and when it next rises. */
static void rearm(struct pit *p, struct counter *c, uint64_t t)
{
	if (c->index != 0)
		return;
	set_out(p, c, out_level(c, t));
	c->next_edge = edge_after(p, c, elapsed(c, t));
}

uint64_t pit_next_event_ns(const struct pit *p)
{
	const struct counter *c = &p->c[0];

	if (!p->cfg.out || c->next_edge == TICK_NONE || c->frozen)
		return PIT_NO_EVENT;
	uint64_t d = ticks_to_ns(c->next_edge);
	return c->load_ns > PIT_NO_EVENT - 1 - d ? PIT_NO_EVENT - 1 : c->load_ns + d;
}

void pit_advance(struct pit *p, uint64_t t)
{
	struct counter *c = &p->c[0];

	if (c->next_edge == TICK_NONE || c->frozen)
		return;
	uint64_t d = elapsed(c, t);
	if (d < c->next_edge)
		return;
	set_out(p, c, false);
	set_out(p, c, true);
	c->next_edge = edge_after(p, c, d);
}

/* ---- programming ------------------------------------------------------------------------- */

static uint8_t status_of(const struct counter *c, uint64_t t)
{
	return (uint8_t)((out_level(c, t) ? STATUS_OUT : 0) | (c->null_count ? STATUS_NULL : 0) |
			 (c->rw << 4) | (c->mode << 1) | (c->bcd ? CW_BCD : 0));
}

static void latch_count(struct counter *c, uint64_t t)
{
	if (c->count_latched) /* 8254: a second latch before the read is ignored */
		return;
	c->latch = (uint16_t)value(c, t);
	c->count_latched = true;
	c->latch_msb = false;
}

static void read_back(struct pit *p, uint8_t v, uint64_t t)
{
	for (unsigned i = 0; i < 3; i++) {
		struct counter *c = &p->c[i];
		if (!(v & (2u << i)))
			continue;
		if (!(v & RB_NO_COUNT))
			latch_count(c, t);
		if (!(v & RB_NO_STATUS) && !c->status_latched) {
			c->status = status_of(c, t);
			c->status_latched = true;
		}
	}
}

static void control(struct pit *p, uint8_t v)
{
	uint64_t t = now(p);

	if (CW_SC(v) == CW_READ_BACK) {
		read_back(p, v, t);
		return;
	}
	struct counter *c = &p->c[CW_SC(v)];
	if (CW_RW(v) == RW_LATCH) {
		latch_count(c, t);
		return;
	}
	c->rw = (uint8_t)CW_RW(v);
	c->mode = (uint8_t)CW_MODE(v);
	if (c->mode > 5)
		c->mode -= 4; /* x10 is mode 2, x11 mode 3 */
	c->bcd = v & CW_BCD;
	c->programmed = true;
	c->loaded = c->triggered = c->frozen = false;
	c->null_count = true;
	c->write_msb = c->read_msb = false;
	c->count_latched = c->status_latched = false;
	rearm(p, c, t);
}

static uint32_t from_bcd(uint32_t v)
{
	return ((v >> 12) & 0xf) * 1000 + ((v >> 8) & 0xf) * 100 + ((v >> 4) & 0xf) * 10 + (v & 0xf);
}

static void load(struct pit *p, struct counter *c, uint32_t n)
{
	uint64_t t = now(p);

	if (c->bcd)
		n = from_bcd(n);
	if (n == 0)
		n = c->bcd ? 10000 : 0x10000; /* the largest count */
	if (n == 1 && (c->mode == 2 || c->mode == 3)) {
		warnf(p, "counter %u: count 1 is illegal in mode %u (2 used)", c->index, c->mode);
		n = 2;
	}
	c->count = n;
	c->loaded = true;
	c->null_count = false;
	c->triggered = false;
	restart_at(c, t, 0);
	if (!c->gate && (c->mode == 0 || c->mode == 2 || c->mode == 3 || c->mode == 4)) {
		c->frozen = true; /* gate low: the count waits for it */
		c->frozen_ticks = 0;
	}
	rearm(p, c, t);
}

static void write_count(struct pit *p, struct counter *c, uint8_t v)
{
	if (!c->programmed) {
		warnf(p, "counter %u: count %#x written before any control word: ignored",
		      c->index, v);
		return;
	}
	switch (c->rw) {
	case RW_LSB:
		load(p, c, v);
		break;
	case RW_MSB:
		load(p, c, (uint32_t)v << 8);
		break;
	default:
		if (!c->write_msb) {
			c->lsb = v;
			c->write_msb = true;
			if (c->mode == 0) { /* mode 0: writing the first byte stops the count */
				c->loaded = false;
				c->frozen = false; /* nothing left to hold: load() holds the new one */
				rearm(p, c, now(p));
			}
			break;
		}
		c->write_msb = false;
		load(p, c, c->lsb | ((uint32_t)v << 8));
		break;
	}
}

static uint8_t read_count(struct pit *p, struct counter *c)
{
	if (c->status_latched) {
		c->status_latched = false;
		return c->status;
	}
	uint16_t v;
	bool msb;
	if (c->count_latched) {
		v = c->latch;
		msb = c->rw == RW_MSB || (c->rw == RW_WORD && c->latch_msb);
		if (c->rw == RW_WORD && !c->latch_msb)
			c->latch_msb = true;
		else
			c->count_latched = false;
	} else {
		v = (uint16_t)value(c, now(p));
		msb = c->rw == RW_MSB || (c->rw == RW_WORD && c->read_msb);
		if (c->rw == RW_WORD)
			c->read_msb = !c->read_msb;
	}
	if (c->bcd) { /* the counter holds four BCD digits */
		uint16_t b = 0;
		for (int s = 0; s < 16; s += 4, v /= 10)
			b |= (uint16_t)((v % 10) << s);
		v = b;
	}
	return msb ? (uint8_t)(v >> 8) : (uint8_t)v;
}

/* Counter 2's gate (port 0x61 bit 0); 0 and 1 have theirs tied high. */
static void set_gate(struct pit *p, struct counter *c, bool gate)
{
	uint64_t t = now(p);

	if (gate == c->gate)
		return;
	if (!gate) {
		if (c->loaded && !c->frozen) { /* modes 0, 2, 3, 4 stop counting */
			c->frozen_ticks = elapsed(c, t);
			c->frozen = c->mode != 1 && c->mode != 5;
		}
	} else if (c->loaded) {
		switch (c->mode) {
		case 1:
		case 5: /* a rising gate (re)triggers */
			c->triggered = true;
			restart_at(c, t, 0);
			break;
		case 2:
		case 3: /* a rising gate reloads */
			restart_at(c, t, 0);
			break;
		default: /* 0, 4: counting goes on where it stopped */
			if (c->frozen)
				restart_at(c, t, c->frozen_ticks);
			break;
		}
	}
	c->gate = gate;
	rearm(p, c, t);
}

uint8_t pit_io_read(struct pit *p, uint16_t port)
{
	if (port >= PIT_PORT_COUNTER0 && port <= PIT_PORT_COUNTER2)
		return read_count(p, &p->c[port - PIT_PORT_COUNTER0]);
	if (port == PIT_PORT_B) {
		uint64_t t = now(p);
		const struct counter *c2 = &p->c[2];
		return (uint8_t)((c2->gate ? PIT_B_GATE2 : 0) | (p->speaker ? PIT_B_SPEAKER : 0) |
				 ((t / REFRESH_NS) & 1 ? PIT_B_REFRESH : 0) |
				 (out_level(c2, t) ? PIT_B_OUT2 : 0));
	}
	return 0xff; /* the control word register cannot be read */
}

void pit_io_write(struct pit *p, uint16_t port, uint8_t value)
{
	if (port >= PIT_PORT_COUNTER0 && port <= PIT_PORT_COUNTER2) {
		write_count(p, &p->c[port - PIT_PORT_COUNTER0], value);
	} else if (port == PIT_PORT_CONTROL) {
		control(p, value);
	} else if (port == PIT_PORT_B) {
		p->speaker = value & PIT_B_SPEAKER;
		set_gate(p, &p->c[2], value & PIT_B_GATE2);
	}
}

/* ---- lifecycle ------------------------------------------------------------------------------ */

void pit_reset(struct pit *p)
{
	for (unsigned i = 0; i < 3; i++)
		p->c[i] = (struct counter){ .index = i, .gate = i != 2, .next_edge = TICK_NONE,
					    .out = true, .count = 0x10000 };
	p->speaker = false;
	p->min_period_warned = false;
}

struct pit *pit_create(const struct pit_config *cfg)
{
	struct pit *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cfg = *cfg;
	pit_reset(p);
	return p;
}

void pit_destroy(struct pit *p)
{
	free(p);
}

/* ---- snapshots ------------------------------------------------------------------------------ */

#define PIT_SNAP_VERSION 1u
#define PIT_COUNTERS 3u

enum counter_flag {
	F_BCD = 1u << 0,
	F_PROGRAMMED = 1u << 1,
	F_LOADED = 1u << 2,
	F_TRIGGERED = 1u << 3,
	F_NULL_COUNT = 1u << 4,
	F_GATE = 1u << 5,
	F_FROZEN = 1u << 6,
	F_WRITE_MSB = 1u << 7,
	F_READ_MSB = 1u << 8,
	F_COUNT_LATCHED = 1u << 9,
	F_LATCH_MSB = 1u << 10,
	F_STATUS_LATCHED = 1u << 11,
	F_OUT = 1u << 12,
	F_ALL = (1u << 13) - 1,
};

static uint32_t counter_flags(const struct counter *c)
{
	return (c->bcd ? F_BCD : 0) | (c->programmed ? F_PROGRAMMED : 0) |
	       (c->loaded ? F_LOADED : 0) | (c->triggered ? F_TRIGGERED : 0) |
	       (c->null_count ? F_NULL_COUNT : 0) | (c->gate ? F_GATE : 0) |
	       (c->frozen ? F_FROZEN : 0) | (c->write_msb ? F_WRITE_MSB : 0) |
	       (c->read_msb ? F_READ_MSB : 0) | (c->count_latched ? F_COUNT_LATCHED : 0) |
	       (c->latch_msb ? F_LATCH_MSB : 0) | (c->status_latched ? F_STATUS_LATCHED : 0) |
	       (c->out ? F_OUT : 0);
}

/*
 * Per counter: mode, access (RW), flags, count, ns elapsed since counting started (two's
 * complement if it starts later), ticks held while frozen, the LSB written, the latched
 * count and status, and counter 0's next rise in ticks after the start.
 */
static void counter_save(const struct counter *c, uint64_t now, struct snap_enc *e)
{
	snap_enc_u8(e, c->mode);
	snap_enc_u8(e, c->rw);
	snap_enc_u32(e, counter_flags(c));
	snap_enc_u32(e, c->count);
	snap_enc_u64(e, now - c->load_ns);
	snap_enc_u64(e, c->frozen_ticks);
	snap_enc_u8(e, c->lsb);
	snap_enc_u32(e, c->latch);
	snap_enc_u8(e, c->status);
	snap_enc_u64(e, c->next_edge);
}

void pit_save(const struct pit *p, struct snap_enc *e)
{
	uint64_t t = now(p);

	snap_enc_u32(e, PIT_SNAP_VERSION);
	snap_enc_u32(e, PIT_COUNTERS);
	for (unsigned i = 0; i < PIT_COUNTERS; i++)
		counter_save(&p->c[i], t, e);
	snap_enc_u8(e, p->speaker);
}

/*
 * Decodes counter c->index into `c`, its start placed on the clock at `t`; false if a flag
 * is unknown or the latch holds more than 16 bits.
 */
static bool counter_decode(struct counter *c, uint64_t t, struct snap_dec *d)
{
	c->mode = snap_dec_u8(d);
	c->rw = snap_dec_u8(d);
	uint32_t f = snap_dec_u32(d);
	c->count = snap_dec_u32(d);
	uint64_t elapsed = snap_dec_u64(d);
	c->frozen_ticks = snap_dec_u64(d);
	c->lsb = snap_dec_u8(d);
	uint32_t latch = snap_dec_u32(d);
	c->status = snap_dec_u8(d);
	c->next_edge = snap_dec_u64(d);
	/* A clock younger than the time counted: counting starts at its 0 (as lapic.c). */
	c->load_ns = (int64_t)elapsed > 0 && elapsed > t ? 0 : t - elapsed;
	c->latch = (uint16_t)latch;
	c->bcd = f & F_BCD, c->programmed = f & F_PROGRAMMED, c->loaded = f & F_LOADED;
	c->triggered = f & F_TRIGGERED, c->null_count = f & F_NULL_COUNT, c->gate = f & F_GATE;
	c->frozen = f & F_FROZEN, c->write_msb = f & F_WRITE_MSB, c->read_msb = f & F_READ_MSB;
	c->count_latched = f & F_COUNT_LATCHED, c->latch_msb = f & F_LATCH_MSB;
	c->status_latched = f & F_STATUS_LATCHED, c->out = f & F_OUT;
	return !(f & ~(uint32_t)F_ALL) && latch <= 0xffff;
}

/* A reason, or NULL if the counter's state is one the model can reach. */
static const char *counter_check(const struct counter *c)
{
	if (c->mode > 5 || c->rw > RW_WORD || (c->programmed && c->rw == RW_LATCH))
		return "mode or access out of range";
	/* 8254 "Counter programming": 1..0x10000 binary (0 counts 0x10000); 2 and 3 need 2. */
	if (c->count < 1 || c->count > 0x10000 ||
	    (c->loaded && c->count < 2 && (c->mode == 2 || c->mode == 3)))
		return "count out of range";
	if (c->frozen && (!c->loaded || c->gate))
		return "held with its gate high or no count";
	if (c->index != 2 && !c->gate)
		return "gate low, but it is tied high";
	if (c->index != 0 && c->next_edge != TICK_NONE)
		return "an IRQ 0 edge on a counter other than 0";
	return NULL;
}

int pit_load(struct pit *p, struct snap_dec *d, char *err, size_t errlen)
{
	struct counter c[PIT_COUNTERS];
	uint64_t t = now(p);
	bool fit = true;

	uint32_t version = snap_dec_u32(d);
	uint32_t n = snap_dec_u32(d);
	if (!d->bad && (version != PIT_SNAP_VERSION || n != PIT_COUNTERS)) {
		snprintf(err, errlen, "8254 PIT state: version %u with %u counters (this mpvmm "
			 "reads %u with %u)", version, n, PIT_SNAP_VERSION, PIT_COUNTERS);
		return -1;
	}
	for (unsigned i = 0; i < PIT_COUNTERS; i++) {
		c[i] = (struct counter){ .index = i };
		fit = counter_decode(&c[i], t, d) && fit;
	}
	uint8_t speaker = snap_dec_u8(d);
	if (d->bad || !fit || speaker > 1) {
		snprintf(err, errlen, "8254 PIT state: %s", d->bad ? "truncated" : !fit ?
			 "unknown counter flags or a latch over 16 bits" :
			 "speaker flag neither 0 nor 1");
		return -1;
	}
	for (unsigned i = 0; i < PIT_COUNTERS; i++) {
		const char *why = counter_check(&c[i]);
		if (why) {
			snprintf(err, errlen, "8254 PIT state: counter %u: %s", i, why);
			return -1;
		}
	}
	for (unsigned i = 0; i < PIT_COUNTERS; i++)
		p->c[i] = c[i];
	p->speaker = speaker;
	return 0;
}
