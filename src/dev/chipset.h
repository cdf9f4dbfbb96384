/*
 * chipset.h - the PC chipset's interrupt controllers and timer when mpvmm keeps them rather
 * than the accelerator (`--irqchip split`, `--irqchip user`, and so the software CPU): the
 * 8259A pair (dev/pic.h),
 * the I/O APIC (dev/ioapic.h) and the 8254 (dev/pit.h), wired as on a PC and behind one
 * lock, on the I/O port bus (0x20-0x21, 0xA0-0xA1, 0x4D0-0x4D1, 0x40-0x43, 0x61) and the
 * MMIO bus (the I/O APIC at 0xFEC00000).
 *
 * Wiring (the MP table and MADT say the same, x86/mptable.c): ISA IRQ n goes to 8259A input
 * n and I/O APIC pin n, but the timer (IRQ 0) to I/O APIC pin 2; IRQ 2 is the cascade.
 * Pins 16-23 have no 8259A input.  The PIT's counter 0 drives IRQ 0.
 *
 * What goes out is the owner's business, through callbacks made with the lock held: the I/O
 * APIC's messages (`msi`), the 8259A's INTR (`intr`), the I/O APIC's message of every pin
 * when one changes (`routes`, optional), and "the PIT's next event may have moved"
 * (`timer_changed`, optional).  What comes in: device lines (chipset_set_irq, also as a
 * struct irq_line), the local APICs' EOI broadcast (chipset_eoi), the CPU's interrupt
 * acknowledge (chipset_ack) and time (chipset_next_event, chipset_advance).
 *
 * It knows neither KVM nor the local APICs nor the vCPUs.  Lock order: a device's own lock,
 * then this one, then whatever the callbacks take (the APIC bus, the MP state).
 */
#ifndef MPVMM_DEV_CHIPSET_H
#define MPVMM_DEV_CHIPSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/bus.h"
#include "dev/ioapic.h"
#include "dev/irq.h"

#define CHIPSET_IOAPIC_ADDR 0xfec00000ull /* x86/platform.h's PLATFORM_IOAPIC_ADDR */
#define CHIPSET_PIT_PIN 2                 /* the timer's I/O APIC pin */
#define CHIPSET_NO_EVENT UINT64_MAX
/* Its snapshot section: SNAP_SEC_DEVICE with this instance (the device table's are below). */
#define CHIPSET_SNAP_ID 6u

struct chipset_config {
	struct bus *pio, *mmio;
	uint8_t ioapic_id;
	uint64_t (*now_ns)(void *ctx); /* the machine's clock, for the PIT */
	void *clock_ctx;
	void (*msi)(void *ctx, const struct ioapic_msi *m);
	void (*intr)(void *ctx, bool level);
	void (*routes)(void *ctx, const struct ioapic_msi m[IOAPIC_PINS]);
	void *ctx; /* for msi, intr and routes */
	void (*timer_changed)(void *timer_ctx);
	void *timer_ctx;
	void (*warn)(void *warn_ctx, const char *msg);
	void *warn_ctx;
};

struct chipset;

/* Creates the three models and claims their ports and MMIO page; NULL on failure. */
struct chipset *chipset_create(const struct chipset_config *cfg);
void chipset_destroy(struct chipset *ic);

/* ISA IRQ 0-15 or I/O APIC pin 16-23 goes high or low (any thread). */
void chipset_set_irq(struct chipset *ic, unsigned gsi, bool level);
/* The same as a struct irq_line for the devices (dev/irq.h). */
struct irq_line chipset_line(struct chipset *ic);

/* A local APIC's EOI of a level-triggered interrupt with `vector`. */
void chipset_eoi(struct chipset *ic, uint8_t vector);
/* The 8259A's INTR now, and the CPU's interrupt acknowledge: the vector. */
bool chipset_intr(struct chipset *ic);
int chipset_ack(struct chipset *ic);
/* Every I/O APIC pin's message as it is now (what `routes` is given). */
void chipset_routes(struct chipset *ic, struct ioapic_msi m[IOAPIC_PINS]);

/* The PIT's next event on the machine's clock, or CHIPSET_NO_EVENT; time is now_ns. */
uint64_t chipset_next_event(struct chipset *ic);
void chipset_advance(struct chipset *ic, uint64_t now_ns);

struct snap_enc;
struct snap_dec;

/*
 * Snapshots: the three models' state (pic_save, ioapic_save, pit_save) under the lock.
 * chipset_load checks all of it before it changes anything (nothing changes on failure, one
 * line in err), then drives the outputs as loaded: `intr`, `routes` and `timer_changed`.
 * The PIT's time is the clock's as it is at the load: load after the clock is restored.
 * chipset_save returns -1 when out of memory.
 */
int chipset_save(struct chipset *ic, struct snap_enc *e);
int chipset_load(struct chipset *ic, struct snap_dec *d, char *err, size_t errlen);

#endif
