/*
 * console.h - the host terminal as the guest's serial line: a reader thread feeds the host's
 * input to the UART's receiver, never faster than the guest drains it, and never blocking a
 * vCPU.
 *
 * When the input is a terminal (in the foreground) it is put in raw mode: no echo, no line
 * editing, no signals from keys (Ctrl-C goes to the guest), output processing kept so "\n"
 * still returns the carriage.  The terminal is restored by console_destroy, at exit, and on
 * a fatal signal.  Like QEMU's -nographic, Ctrl-A is then an escape:
 *
 *     Ctrl-A x       quit: stop the VM with exit status 0
 *     Ctrl-A Ctrl-A  send one Ctrl-A to the guest
 *     Ctrl-A h       print this help
 *
 * When the input is not a terminal (pipe, file, /dev/null, closed), it is passed through as
 * it is, read until end of file, and then left alone.
 *
 * The console knows the UART only through serial_receive; it knows nothing of vCPUs.
 */
#ifndef MPVMM_DEV_CONSOLE_H
#define MPVMM_DEV_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev/serial.h"
#include "dev/vm_control.h"

#define CONSOLE_ESCAPE 0x01 /* Ctrl-A */

/* The Ctrl-A escape decoder: pure, so it can be tested without a terminal. */
struct console_escape {
	bool pending; /* the last byte seen was Ctrl-A */
};

enum console_event { CONSOLE_NONE, CONSOLE_QUIT, CONSOLE_HELP };

/*
 * Copy in[0..n) to out (room for n bytes) with escapes decoded; returns the bytes written.
 * Stops at the first command (QUIT or HELP) and says where in *used.
 */
size_t console_unescape(struct console_escape *e, const uint8_t *in, size_t n, uint8_t *out,
			size_t *used, enum console_event *ev);

struct console;

/* Starts reading in_fd (usually STDIN_FILENO) into the UART.  NULL on failure. */
struct console *console_create(struct serial *s, int in_fd, const struct vm_control *ctl);

/* True if the input is a terminal that the console put in raw mode. */
bool console_is_raw(const struct console *c);

/* Stops the reader, restores the terminal.  Call before serial_destroy. */
void console_destroy(struct console *c);

#endif
