/*
 * serial.c - COM1 output.  No initialisation: the VMM's 8250 needs no baud rate or line
 * control to accept bytes.  Not locked: only the BSP prints, except for an exception on an
 * AP, where interleaved output is the lesser evil than a lock a faulting CPU might hold.
 */
#include "serial.h"

#include "arch.h"

#define COM1_THR 0x3f8u            /* transmit holding register (DLAB = 0) */
#define COM1_LSR 0x3fdu            /* line status register                 */
#define LSR_THRE (1u << 5)         /* THR empty: ready for the next byte   */
#define LSR_POLL_LIMIT 1000u       /* never spin forever on a stuck UART   */

static void serial_putc(char c)
{
	for (unsigned i = 0; i < LSR_POLL_LIMIT; i++) {
		if (inb(COM1_LSR) & LSR_THRE)
			break;
		cpu_relax();
	}
	outb(COM1_THR, (uint8_t)c);
}

void serial_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		serial_putc(s[i]);
}
