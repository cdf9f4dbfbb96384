/*
 * pingpong.h - SELFTEST_FLAG_IPI_PINGPONG: interrupt delivery timed, as fixed IPIs from the
 * BSP to the first AP and back (pingpong.c).
 */
#ifndef SELFTEST_PINGPONG_H
#define SELFTEST_PINGPONG_H

/*
 * BSP, after every AP reported, its periodic timer running: the round trips, then one
 * "selftest: ipi round trip: ..." line; or "... skipped: it needs an ap" with one processor.
 * A ping or pong that does not come ends the test with FAIL.
 */
void pingpong_run(void);

/* An AP's end in this mode: wait for interrupts with IF = 1, for good (it answers pings). */
__attribute__((noreturn)) void pingpong_ap_wait(void);

/* C side of the handlers (isr.S): the AP's ping, the BSP's pong. */
void irq_ping(void);
void irq_pong(void);

#endif
