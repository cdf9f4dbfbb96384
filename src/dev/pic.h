/*
 * pic.h - the PC's two cascaded Intel 8259A programmable interrupt controllers (8259A
 * datasheet), for machines whose interrupt controllers mpvmm keeps (`--irqchip split`,
 * `--irqchip user`, the software CPU): master at ports 0x20/0x21 with IRQ 0-7, slave at
 * 0xA0/0xA1 with IRQ 8-15 on the master's IR2, and the edge/level control registers (ELCR)
 * at 0x4D0/0x4D1 as PIIX and ICH chipsets have them.
 *
 * Modelled: ICW1-ICW4, OCW1-OCW3, IRR/ISR/IMR, fully nested priority with rotation,
 * specific and non-specific EOI, automatic EOI, special mask and special fully nested
 * modes, poll, reading IRR or ISR, the spurious IRQ 7 / IRQ 15, edge or level per input
 * (ELCR, or ICW1's LTIM for a whole chip).  Not modelled: 8080/8085 mode (ICW4 bit 0 must be
 * 1), buffered mode (its bits are kept, they change nothing on a PC).
 *
 * The master's INTR output goes to the `output` callback when it changes; the CPU's
 * interrupt acknowledge is pic_ack, which answers the vector.  Pure logic: it knows neither
 * the CPUs, nor the I/O APIC, nor threads.  Not thread-safe: the owner serialises every
 * call.  Guest mistakes go to `warn`.
 */
#ifndef MPVMM_DEV_PIC_H
#define MPVMM_DEV_PIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct snap_enc;
struct snap_dec;

#define PIC_MASTER_CMD 0x20u
#define PIC_MASTER_DATA 0x21u
#define PIC_SLAVE_CMD 0xa0u
#define PIC_SLAVE_DATA 0xa1u
#define PIC_ELCR_MASTER 0x4d0u
#define PIC_ELCR_SLAVE 0x4d1u

#define PIC_IRQS 16
#define PIC_CASCADE_IRQ 2

struct pic_config {
	void (*output)(void *ctx, bool level); /* the master's INTR */
	void *output_ctx;
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
};

struct pic;

struct pic *pic_create(const struct pic_config *cfg);
void pic_destroy(struct pic *p);
/* Power-up: both chips as after an ICW1 (IMR clear, vector base 0), ELCR edge. */
void pic_reset(struct pic *p);

/* One byte from or to one of the six ports above; other ports read 0xff / are ignored. */
uint8_t pic_io_read(struct pic *p, uint16_t port);
void pic_io_write(struct pic *p, uint16_t port, uint8_t value);

/* Input IRQ `irq` (0-15; 2 is the cascade and is ignored) is high or low. */
void pic_set_irq(struct pic *p, unsigned irq, bool level);
/* The master's INTR output now. */
bool pic_output(const struct pic *p);
/*
 * Interrupt acknowledge (the two INTA cycles): the vector of the highest-priority request,
 * which goes in service (unless automatic EOI); with none, the spurious IRQ 7 of the
 * master or IRQ 15 of the slave, which goes in service nowhere (8259A datasheet, "Interrupt
 * sequence").
 */
int pic_ack(struct pic *p);

/*
 * Snapshots: both chips' registers and internal state (the initialisation sequence,
 * IRR/ISR/IMR, priority, modes, ELCR, read select and poll, input levels).  pic_load checks
 * everything first and changes nothing on failure, with one line in err; it recomputes the
 * INTR output without calling `output` (the owner reads pic_output and drives it).
 */
void pic_save(const struct pic *p, struct snap_enc *e);
int pic_load(struct pic *p, struct snap_dec *d, char *err, size_t errlen);

#endif
