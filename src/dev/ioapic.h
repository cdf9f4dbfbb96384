/*
 * ioapic.h - a model of one I/O APIC (Intel 82093AA datasheet; the ICH's version 0x20 with
 * the EOI register), for machines whose interrupt controllers mpvmm keeps: KVM with
 * `--irqchip split` or `--irqchip user`, and the software CPU.
 *
 * Registers: IOREGSEL at offset 0x00, IOWIN at 0x10, EOI at 0x40; behind them the ID (0x00),
 * version (0x01), arbitration ID (0x02) and 24 redirection entries (0x10-0x3F, two 32-bit
 * halves each).  Inputs are asserted or not (ioapic_set_irq): polarity is the wire's
 * business, as in KVM's and QEMU's models; the polarity bit is kept and read back.
 *
 * Output: each interrupt becomes the MSI-format message the redirection entry describes
 * (Intel SDM Vol. 3A, 10.11.1-10.11.2), handed to the `send` callback, so that one model
 * serves an in-kernel local APIC (KVM_SIGNAL_MSI) and mpvmm's APIC bus alike.  End of
 * interrupt comes back through ioapic_eoi (the local APIC's EOI broadcast, KVM's EOI exit)
 * or the EOI register.
 *
 * Pure register arithmetic: it knows neither the APICs, nor KVM, nor threads.  Not
 * thread-safe: the owner serialises every call.  Guest mistakes go to `warn`.
 */
#ifndef MPVMM_DEV_IOAPIC_H
#define MPVMM_DEV_IOAPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct snap_enc;
struct snap_dec;

#define IOAPIC_PINS 24
#define IOAPIC_VERSION 0x20u  /* ICH: 0x20 has the EOI register (82093AA: 0x11); as
				* x86/platform.h's PLATFORM_IOAPIC_VERSION_MPVMM */
#define IOAPIC_MMIO_SIZE 0x1000u

/* Direct registers, offsets into the MMIO page (82093AA 3.0, ICH9 13.5). */
#define IOAPIC_IOREGSEL 0x00u
#define IOAPIC_IOWIN 0x10u
#define IOAPIC_EOIR 0x40u

/* Indirect registers, through IOREGSEL/IOWIN (82093AA 3.2). */
#define IOAPIC_REG_ID 0x00u
#define IOAPIC_REG_VER 0x01u
#define IOAPIC_REG_ARB 0x02u
#define IOAPIC_REG_REDTBL 0x10u /* entry n: low half 0x10 + 2n, high half 0x11 + 2n */

/* Redirection entry bits (82093AA 3.2.4). */
#define IOAPIC_RTE_VECTOR 0xffull
#define IOAPIC_RTE_DELMOD_SHIFT 8
#define IOAPIC_RTE_DELMOD (7ull << 8)
#define IOAPIC_RTE_LOGICAL (1ull << 11)
#define IOAPIC_RTE_DELIVS (1ull << 12)     /* read-only: always idle here */
#define IOAPIC_RTE_ACTIVE_LOW (1ull << 13)
#define IOAPIC_RTE_REMOTE_IRR (1ull << 14) /* read-only */
#define IOAPIC_RTE_LEVEL (1ull << 15)
#define IOAPIC_RTE_MASKED (1ull << 16)
#define IOAPIC_RTE_DEST_SHIFT 56
/*
 * Bits 55:49, reserved on the 82093AA: the destination's APIC ID bits 14:8 where the
 * hypervisor offers KVM_FEATURE_MSI_EXT_DEST_ID (Linux's "virt_destid_8_14"), so an I/O
 * APIC reaches APIC IDs up to 32767 without interrupt remapping.
 */
#define IOAPIC_RTE_EXT_DEST_SHIFT 49
#define IOAPIC_RTE_EXT_DEST (0x7full << IOAPIC_RTE_EXT_DEST_SHIFT)

enum ioapic_delivery {
	IOAPIC_DM_FIXED = 0,
	IOAPIC_DM_LOWEST = 1,
	IOAPIC_DM_SMI = 2,
	IOAPIC_DM_NMI = 4,
	IOAPIC_DM_INIT = 5,
	IOAPIC_DM_EXTINT = 7,
};

/* MSI address and data (SDM Vol. 3A, 10.11.1 figure 10-24, 10.11.2 figure 10-25). */
#define MSI_ADDR_BASE 0xfee00000ull
#define MSI_ADDR_DEST_SHIFT 12
#define MSI_ADDR_RH (1u << 3)
#define MSI_ADDR_LOGICAL (1u << 2)
/* Destination ID bits 31:8 in address bits 63:40, as KVM_CAP_X2APIC_API's 32-bit IDs have
 * them (api.rst 7.7); an MSI that reaches a CPU has those bits 0 otherwise. */
#define MSI_ADDR_DEST_HI_SHIFT 32
#define MSI_DATA_VECTOR 0xffu
#define MSI_DATA_DELMOD_SHIFT 8
#define MSI_DATA_ASSERT (1u << 14)
#define MSI_DATA_LEVEL (1u << 15)

struct ioapic_msi {
	uint64_t address;
	uint32_t data;
};

struct ioapic_config {
	uint8_t id; /* the MP table's / MADT's I/O APIC ID; the register keeps 4 bits */
	/* An interrupt from `pin`, as the message its redirection entry describes. */
	void (*send)(void *ctx, unsigned pin, const struct ioapic_msi *m);
	void *send_ctx;
	/* The message of `pin` changed (vector, destination, modes; not the mask).  Optional. */
	void (*changed)(void *ctx, unsigned pin);
	void *changed_ctx;
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
};

struct ioapic;

struct ioapic *ioapic_create(const struct ioapic_config *cfg);
void ioapic_destroy(struct ioapic *io);
/* RESET: every entry masked, edge, fixed, vector 0; IOREGSEL 0; inputs keep their level. */
void ioapic_reset(struct ioapic *io);

/*
 * Guest access at `offset` into the MMIO page.  Only 32-bit accesses reach IOWIN and EOI;
 * IOREGSEL also takes byte and word writes (its low byte).  Anything else reads 0 or is
 * dropped, with a warning: never a failure.
 */
uint32_t ioapic_mmio_read(struct ioapic *io, uint32_t offset, unsigned size);
void ioapic_mmio_write(struct ioapic *io, uint32_t offset, unsigned size, uint32_t value);

/* Input `pin` is asserted (level true) or not.  Edge: a rising edge sends; level: sends. */
void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level);
/*
 * End of interrupt for `vector` (a local APIC's EOI of a level-triggered interrupt): every
 * level-triggered entry with that vector clears its remote IRR and sends again if its
 * input is still asserted and it is not masked.
 */
void ioapic_eoi(struct ioapic *io, uint8_t vector);

/*
 * Snapshots: IOREGSEL, the ID, the 24 redirection entries (remote IRR included) and the
 * input levels.  ioapic_load checks everything first and changes nothing on failure, with
 * one line in err; it sends nothing and calls no callback (the owner re-reads the routes).
 */
void ioapic_save(const struct ioapic *io, struct snap_enc *e);
int ioapic_load(struct ioapic *io, struct snap_dec *d, char *err, size_t errlen);

/* Redirection entry `pin` (64 bits), or 0 for a pin that does not exist. */
uint64_t ioapic_rte(const struct ioapic *io, unsigned pin);
/* The message a redirection entry sends (SDM 10.11: physical or logical destination). */
struct ioapic_msi ioapic_rte_msi(uint64_t rte);

#endif
