/*
 * chipset.c - see chipset.h.  Only wiring, locking and the snapshot's framing: every
 * register, every rule and every saved field is the models' (pic.c, ioapic.c, pit.c).  It
 * must not know where a message or INTR ends up.
 */
#include "dev/chipset.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "dev/pic.h"
#include "dev/pit.h"
#include "snapshot/snapfile.h"

#define CHIPSET_SNAP_VERSION 1u

struct chipset {
	struct chipset_config cfg;
	pthread_mutex_t lock;
	struct pic *pic;
	struct ioapic *ioapic;
	struct pit *pit;
};

/* ---- the models' outputs (called with the lock held) --------------------------------------- */

static void intr_changed(void *ctx, bool level)
{
	struct chipset *ic = ctx;

	if (ic->cfg.intr)
		ic->cfg.intr(ic->cfg.ctx, level);
}

static void ioapic_send(void *ctx, unsigned pin, const struct ioapic_msi *m)
{
	struct chipset *ic = ctx;

	(void)pin;
	if (ic->cfg.msi)
		ic->cfg.msi(ic->cfg.ctx, m);
}

static void all_routes(struct chipset *ic, struct ioapic_msi m[IOAPIC_PINS])
{
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++)
		m[pin] = ioapic_rte_msi(ioapic_rte(ic->ioapic, pin));
}

static void ioapic_changed(void *ctx, unsigned pin)
{
	struct chipset *ic = ctx;
	struct ioapic_msi m[IOAPIC_PINS];

	(void)pin;
	if (!ic->cfg.routes)
		return;
	all_routes(ic, m);
	ic->cfg.routes(ic->cfg.ctx, m);
}

static void warn(void *ctx, const char *msg)
{
	struct chipset *ic = ctx;

	if (ic->cfg.warn)
		ic->cfg.warn(ic->cfg.warn_ctx, msg);
}

/* ISA IRQ n: 8259A input n and I/O APIC pin n, the timer on pin 2 (MP Spec 5.1, table 5-1). */
static void set_irq_locked(struct chipset *ic, unsigned gsi, bool level)
{
	if (gsi < 16)
		pic_set_irq(ic->pic, gsi, level);
	if (gsi == 0)
		ioapic_set_irq(ic->ioapic, CHIPSET_PIT_PIN, level);
	else if (gsi != CHIPSET_PIT_PIN)
		ioapic_set_irq(ic->ioapic, gsi, level);
}

static void pit_out(void *ctx, bool level)
{
	set_irq_locked(ctx, 0, level);
}

/* ---- inputs ------------------------------------------------------------------------------- */

void chipset_set_irq(struct chipset *ic, unsigned gsi, bool level)
{
	pthread_mutex_lock(&ic->lock);
	set_irq_locked(ic, gsi, level);
	pthread_mutex_unlock(&ic->lock);
}

static void line_set(void *ctx, unsigned gsi, bool level)
{
	chipset_set_irq(ctx, gsi, level);
}

struct irq_line chipset_line(struct chipset *ic)
{
	return (struct irq_line){ .set = line_set, .ctx = ic };
}

void chipset_eoi(struct chipset *ic, uint8_t vector)
{
	pthread_mutex_lock(&ic->lock);
	ioapic_eoi(ic->ioapic, vector);
	pthread_mutex_unlock(&ic->lock);
}

bool chipset_intr(struct chipset *ic)
{
	pthread_mutex_lock(&ic->lock);
	bool intr = pic_output(ic->pic);
	pthread_mutex_unlock(&ic->lock);
	return intr;
}

int chipset_ack(struct chipset *ic)
{
	pthread_mutex_lock(&ic->lock);
	int vector = pic_ack(ic->pic);
	pthread_mutex_unlock(&ic->lock);
	return vector;
}

void chipset_routes(struct chipset *ic, struct ioapic_msi m[IOAPIC_PINS])
{
	pthread_mutex_lock(&ic->lock);
	all_routes(ic, m);
	pthread_mutex_unlock(&ic->lock);
}

uint64_t chipset_next_event(struct chipset *ic)
{
	pthread_mutex_lock(&ic->lock);
	uint64_t t = pit_next_event_ns(ic->pit);
	pthread_mutex_unlock(&ic->lock);
	return t == PIT_NO_EVENT ? CHIPSET_NO_EVENT : t;
}

void chipset_advance(struct chipset *ic, uint64_t now_ns)
{
	pthread_mutex_lock(&ic->lock);
	pit_advance(ic->pit, now_ns);
	pthread_mutex_unlock(&ic->lock);
}

/* ---- the buses ------------------------------------------------------------------------------ */

/* Port I/O, a byte at a time (a word access to 0x20 is two registers, as on a PC). */
static void pio(void *ctx, const struct bus_access *a)
{
	struct chipset *ic = ctx;
	bool pit = a->addr == PIT_PORT_B || (a->addr >= PIT_PORT_COUNTER0 &&
					      a->addr <= PIT_PORT_CONTROL);

	pthread_mutex_lock(&ic->lock);
	uint64_t before = pit ? pit_next_event_ns(ic->pit) : 0;
	for (uint32_t i = 0; i < a->size; i++) {
		uint16_t port = (uint16_t)(a->addr + i);
		bool is_pit = port == PIT_PORT_B || (port >= PIT_PORT_COUNTER0 &&
						     port <= PIT_PORT_CONTROL);
		if (a->write && is_pit)
			pit_io_write(ic->pit, port, a->data[i]);
		else if (a->write)
			pic_io_write(ic->pic, port, a->data[i]);
		else
			a->data[i] = is_pit ? pit_io_read(ic->pit, port) : pic_io_read(ic->pic, port);
	}
	if (pit && a->write && pit_next_event_ns(ic->pit) != before && ic->cfg.timer_changed)
		ic->cfg.timer_changed(ic->cfg.timer_ctx);
	pthread_mutex_unlock(&ic->lock);
}

static void mmio(void *ctx, const struct bus_access *a)
{
	struct chipset *ic = ctx;
	uint32_t off = (uint32_t)(a->addr - CHIPSET_IOAPIC_ADDR), v = 0;

	pthread_mutex_lock(&ic->lock);
	if (a->write) {
		for (uint32_t i = 0; i < a->size && i < 4; i++)
			v |= (uint32_t)a->data[i] << (8 * i);
		ioapic_mmio_write(ic->ioapic, off, a->size, v);
	} else {
		v = ioapic_mmio_read(ic->ioapic, off, a->size);
		for (uint32_t i = 0; i < a->size; i++)
			a->data[i] = i < 4 ? (uint8_t)(v >> (8 * i)) : 0;
	}
	pthread_mutex_unlock(&ic->lock);
}

/* ---- snapshots ------------------------------------------------------------------------------ */

/* Layout (version 1): the version, then the 8259A pair's, the I/O APIC's and the PIT's own. */
int chipset_save(struct chipset *ic, struct snap_enc *e)
{
	pthread_mutex_lock(&ic->lock);
	snap_enc_u32(e, CHIPSET_SNAP_VERSION);
	pic_save(ic->pic, e);
	ioapic_save(ic->ioapic, e);
	pit_save(ic->pit, e);
	pthread_mutex_unlock(&ic->lock);
	return e->oom ? -1 : 0;
}

/* Each model loads all or nothing: a first pass into scratch models finds any fault. */
static int load_models(struct pic *pic, struct ioapic *io, struct pit *pit, struct snap_dec *d,
		       char *err, size_t errlen)
{
	uint32_t version = snap_dec_u32(d);

	if (!d->bad && version != CHIPSET_SNAP_VERSION) {
		snprintf(err, errlen, "interrupt controllers' state: version %u (this mpvmm reads "
			 "%u)", version, CHIPSET_SNAP_VERSION);
		return -1;
	}
	if (pic_load(pic, d, err, errlen) < 0 || ioapic_load(io, d, err, errlen) < 0 ||
	    pit_load(pit, d, err, errlen) < 0)
		return -1;
	if (!snap_dec_done(d)) {
		snprintf(err, errlen, "interrupt controllers' state: %zu bytes too many",
			 d->len - d->off);
		return -1;
	}
	return 0;
}

static int check(struct chipset *ic, struct snap_dec d, char *err, size_t errlen)
{
	const struct pic_config pc = { 0 };
	const struct ioapic_config ioc = { 0 };
	const struct pit_config tc = { .now_ns = ic->cfg.now_ns, .clock_ctx = ic->cfg.clock_ctx };
	struct pic *pic = pic_create(&pc);
	struct ioapic *io = ioapic_create(&ioc);
	struct pit *pit = pit_create(&tc);
	int r = -1;

	if (!pic || !io || !pit)
		snprintf(err, errlen, "interrupt controllers' state: out of memory");
	else
		r = load_models(pic, io, pit, &d, err, errlen);
	pit_destroy(pit);
	ioapic_destroy(io);
	pic_destroy(pic);
	return r;
}

/* The owner learns the loaded state: INTR, every pin's message, the PIT's next event. */
static void drive_outputs(struct chipset *ic)
{
	intr_changed(ic, pic_output(ic->pic));
	ioapic_changed(ic, 0);
	if (ic->cfg.timer_changed)
		ic->cfg.timer_changed(ic->cfg.timer_ctx);
}

int chipset_load(struct chipset *ic, struct snap_dec *d, char *err, size_t errlen)
{
	if (check(ic, *d, err, errlen) < 0)
		return -1;
	pthread_mutex_lock(&ic->lock);
	int r = load_models(ic->pic, ic->ioapic, ic->pit, d, err, errlen);
	if (r == 0)
		drive_outputs(ic);
	pthread_mutex_unlock(&ic->lock);
	return r;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

static int claim(struct chipset *ic)
{
	static const struct { uint16_t base, len; const char *name; } ports[] = {
		{ PIC_MASTER_CMD, 2, "8259A master" },
		{ PIC_SLAVE_CMD, 2, "8259A slave" },
		{ PIC_ELCR_MASTER, 2, "8259A ELCR" },
		{ PIT_PORT_COUNTER0, 4, "8254 PIT" },
		{ PIT_PORT_B, 1, "port B (PIT gate 2)" },
	};

	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++)
		if (bus_register(ic->cfg.pio, ports[i].base, ports[i].len, pio, ic,
				 ports[i].name) < 0)
			return -1;
	return bus_register(ic->cfg.mmio, CHIPSET_IOAPIC_ADDR, IOAPIC_MMIO_SIZE, mmio, ic,
			    "I/O APIC");
}

struct chipset *chipset_create(const struct chipset_config *cfg)
{
	struct chipset *ic = calloc(1, sizeof(*ic));

	if (!ic)
		return NULL;
	ic->cfg = *cfg;
	pthread_mutex_init(&ic->lock, NULL);
	const struct pic_config pc = { .output = intr_changed, .output_ctx = ic,
				       .warn = warn, .warn_ctx = ic };
	const struct ioapic_config ioc = { .id = cfg->ioapic_id, .send = ioapic_send,
					   .send_ctx = ic, .changed = ioapic_changed,
					   .changed_ctx = ic, .warn = warn, .warn_ctx = ic };
	const struct pit_config tc = { .now_ns = cfg->now_ns, .clock_ctx = cfg->clock_ctx,
				       .out = pit_out, .out_ctx = ic, .warn = warn,
				       .warn_ctx = ic };
	ic->pic = pic_create(&pc);
	ic->ioapic = ioapic_create(&ioc);
	ic->pit = pit_create(&tc);
	if (!ic->pic || !ic->ioapic || !ic->pit || claim(ic) < 0) {
		chipset_destroy(ic);
		return NULL;
	}
	return ic;
}

void chipset_destroy(struct chipset *ic)
{
	if (!ic)
		return;
	pit_destroy(ic->pit);
	ioapic_destroy(ic->ioapic);
	pic_destroy(ic->pic);
	pthread_mutex_destroy(&ic->lock);
	free(ic);
}
