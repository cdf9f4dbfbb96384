/*
 * pit.h - the PC's Intel 8254 programmable interval timer (8254 datasheet), for machines
 * whose interrupt controllers mpvmm keeps (`--irqchip split`, `--irqchip user`, the software
 * CPU): three counters at ports 0x40-0x42, the control word at 0x43, and port 0x61's timer 2
 * gate, speaker enable and timer 2 output (PC/AT "port B"), as Linux uses them to calibrate
 * its clocks.  The input clock is 1.193182 MHz.
 *
 * Modelled: modes 0-5 (2 and 3 as rate and square wave generators), binary and BCD counts,
 * LSB / MSB / LSB-then-MSB access, counter latch and read-back (count and status), the gate
 * of counter 2.  Counter 0's gate is tied high and its OUT is the PC's IRQ 0.
 *
 * Time comes from the `now_ns` callback, so the model is driven by whatever clock the owner
 * has (host time on KVM, instructions retired on the software CPU, a fake clock in tests).
 * It starts no timer: the owner asks pit_next_event_ns when counter 0's OUT next rises and
 * calls pit_advance once that time has come, which hands the edge to the `out` callback.
 * Periods shorter than PIT_MIN_PERIOD_NS give interrupts at that rate only (reads of the
 * counter are exact).  Not thread-safe: the owner serialises every call.
 */
#ifndef MPVMM_DEV_PIT_H
#define MPVMM_DEV_PIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct snap_enc;
struct snap_dec;

#define PIT_HZ 1193182u
#define PIT_PORT_COUNTER0 0x40u
#define PIT_PORT_COUNTER1 0x41u
#define PIT_PORT_COUNTER2 0x42u
#define PIT_PORT_CONTROL 0x43u
#define PIT_PORT_B 0x61u

/* Port 0x61 bits (IBM PC/AT technical reference; PIIX/ICH NMI status and control). */
#define PIT_B_GATE2 0x01u
#define PIT_B_SPEAKER 0x02u
#define PIT_B_REFRESH 0x10u
#define PIT_B_OUT2 0x20u

#define PIT_NO_EVENT UINT64_MAX
#define PIT_MIN_PERIOD_NS 200000ull /* as KVM's min_timer_period_us */

struct pit_config {
	uint64_t (*now_ns)(void *ctx);
	void *clock_ctx;
	/* Counter 0's OUT changed: the IRQ 0 line.  A rising edge comes as false, then true. */
	void (*out)(void *ctx, bool level);
	void *out_ctx;
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
};

struct pit;

struct pit *pit_create(const struct pit_config *cfg);
void pit_destroy(struct pit *p);
/* Power-up: no counter programmed, gate 2 low, speaker off. */
void pit_reset(struct pit *p);

/* One byte from or to ports 0x40-0x43 or 0x61; others read 0xff / are ignored. */
uint8_t pit_io_read(struct pit *p, uint16_t port);
void pit_io_write(struct pit *p, uint16_t port, uint8_t value);

/* When (owner's clock, ns) counter 0's OUT next rises, or PIT_NO_EVENT. */
uint64_t pit_next_event_ns(const struct pit *p);
/* Time is now_ns: hand a due rising edge of counter 0 to `out` (one, however many were due). */
void pit_advance(struct pit *p, uint64_t now_ns);

/*
 * Snapshots: each counter's mode, access state, latches, read-back status, gate and the count
 * in progress, its start saved as time elapsed on the clock, so that a counter loaded under
 * another clock (a restored VM's) goes on from where it was; and port 0x61's speaker bit.
 * pit_load checks everything first and changes nothing on failure, with one line in err; it
 * calls no callback (the owner asks pit_next_event_ns again).
 */
void pit_save(const struct pit *p, struct snap_enc *e);
int pit_load(struct pit *p, struct snap_dec *d, char *err, size_t errlen);

#endif
