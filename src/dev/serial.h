/*
 * serial.h - a 16550A UART (COM1) per the National Semiconductor PC16550D data sheet.
 *
 * The transmitter writes to a host fd through a bounded queue drained by a thread of its own
 * (outq.h): line by line when the fd is a file or pipe, byte by byte when it is a terminal;
 * a host that does not read never makes the guest wait, the bytes that do not fit are
 * dropped and counted.  The receiver is the 16-byte FIFO of the data sheet, fed by
 * serial_receive() from any thread (the host console's reader).  The interrupt output is
 * driven through an irq_line and gated by MCR.OUT2, as the PC wires it.
 *
 * The UART knows neither where its input comes from (console.c) nor where its interrupt
 * line goes (the VM's irq_line).
 */
#ifndef MPVMM_DEV_SERIAL_H
#define MPVMM_DEV_SERIAL_H

#include <stddef.h>
#include <stdint.h>

#include "dev/bus.h"
#include "dev/device.h"
#include "dev/irq.h"
#include "snapshot/snapfile.h"

#define SERIAL_COM1_BASE 0x3f8
#define SERIAL_COM1_GSI  4 /* ISA IRQ 4 */
#define SERIAL_FIFO_LEN  16

struct serial;

/* Registers 8 ports at base; the interrupt goes nowhere until serial_connect_irq. */
struct serial *serial_create(struct bus *pio, uint16_t base, int out_fd);

/* Drive `gsi` through `irq` (copied) from now on.  Call before any vCPU runs. */
void serial_connect_irq(struct serial *s, const struct irq_line *irq, unsigned gsi);

/*
 * Bytes arriving on the serial line.  Takes as many as the receiver has room for (none in
 * loopback mode, where the line is disconnected) and returns that count; it never overruns.
 * After a short count, the notify function is called once there is room again.
 */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t n);

/*
 * Called with the UART's lock held, from whichever thread made room in the receiver (a
 * vCPU's); it must only wake someone up.  fn NULL: no notification.
 */
void serial_set_rx_notify(struct serial *s, void (*fn)(void *ctx), void *ctx);

/* Write out whatever the guest sent that is still buffered (no newline yet), waiting for the
 * host to take it at most a couple of seconds. */
void serial_flush(struct serial *s);
/* Output bytes dropped so far because the host did not take them. */
uint64_t serial_dropped(struct serial *s);
void serial_destroy(struct serial *s);

/*
 * Snapshots: append the device's guest-visible state / put it back (on a device built with
 * the same configuration; the VM is paused).  load returns 0, or -1 with a reason in err.
 */
int serial_save(struct serial *s, struct snap_enc *e);
int serial_load(struct serial *s, struct snap_dec *d, char *err, size_t errlen);

/* Its row in the device table (vm/devices.c). */
extern const struct device_desc serial_device;

#endif
