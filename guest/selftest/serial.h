/*
 * serial.h - output on COM1, a polled 8250 UART.  Every byte costs two VM exits (LSR read,
 * THR write), so the guest keeps its output to a few short lines.
 */
#ifndef SELFTEST_SERIAL_H
#define SELFTEST_SERIAL_H

#include <stddef.h>

void serial_write(const char *s, size_t n);

#endif
