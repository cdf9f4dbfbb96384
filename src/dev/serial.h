/*
 * serial.h - a 16550A-compatible UART (COM1) whose transmitter writes to a host fd.
 * Registers per the National Semiconductor PC16550D data sheet.  Output only for now: the
 * receiver is always empty and no interrupt is raised.
 */
#ifndef MPVMM_DEV_SERIAL_H
#define MPVMM_DEV_SERIAL_H

#include <stdint.h>

#include "dev/bus.h"

#define SERIAL_COM1_BASE 0x3f8

struct serial;

struct serial *serial_create(struct bus *pio, uint16_t base, int out_fd);
/* Write out whatever the guest sent that is still buffered (no newline yet). */
void serial_flush(struct serial *s);
void serial_destroy(struct serial *s);

#endif
