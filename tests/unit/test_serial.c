/*
 * test_serial.c - the 16550A UART and the host console, driven with bus accesses as the
 * vCPU loop makes them: the THRE/RDA interrupt sequences Linux's 8250 driver performs (the
 * line level recorded through an irq_line), OUT2 gating, FIFO trigger levels, loopback,
 * overrun, write-through to a terminal, input through a real pipe and through a pseudo
 * terminal in raw mode by the console's reader thread, the Ctrl-A escapes, and a hostile
 * guest sweeping every port with every width and random values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "dev/bus.h"
#include "bus_io.h"
#include "dev/console.h"
#include "dev/serial.h"
#include "skip_reason.h"

#define COM1 SERIAL_COM1_BASE
#define THR 0
#define RBR 0
#define IER 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

/* ---- harness ---- */

struct irq_record {
	pthread_mutex_t lock;
	int calls;
	unsigned gsi;
	bool level;
	bool bad; /* a call that did not change the level, or the wrong GSI */
	int rises;
};

static void record_irq(void *ctx, unsigned gsi, bool level)
{
	struct irq_record *r = ctx;

	pthread_mutex_lock(&r->lock);
	if (gsi != SERIAL_COM1_GSI || (r->calls && level == r->level) || (!r->calls && !level))
		r->bad = true;
	r->calls++;
	r->gsi = gsi;
	r->rises += level;
	r->level = level;
	pthread_mutex_unlock(&r->lock);
}

static bool irq_level(struct irq_record *r)
{
	pthread_mutex_lock(&r->lock);
	bool l = r->level;
	pthread_mutex_unlock(&r->lock);
	return l;
}

struct stop_record {
	pthread_mutex_t lock;
	int calls;
	int status;
	char why[128];
};

static void record_stop(void *vm, int status, const char *why)
{
	struct stop_record *r = vm;

	pthread_mutex_lock(&r->lock);
	r->calls++;
	r->status = status;
	strncpy(r->why, why, sizeof(r->why) - 1);
	pthread_mutex_unlock(&r->lock);
}

static int stop_calls(struct stop_record *r)
{
	pthread_mutex_lock(&r->lock);
	int n = r->calls;
	pthread_mutex_unlock(&r->lock);
	return n;
}

static void out(struct bus *b, unsigned reg, uint8_t v)
{
	io(b, (uint16_t)(COM1 + reg), true, 1, v);
}

static uint8_t in(struct bus *b, unsigned reg)
{
	return (uint8_t)io(b, (uint16_t)(COM1 + reg), false, 1, 0);
}

struct uart {
	struct bus *bus;
	struct serial *s;
	struct irq_record irq;
	int fds[2]; /* the transmitter's output pipe */
};

static void uart_setup(struct uart *u)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->irq.lock, NULL);
	assert_int_equal(pipe2(u->fds, O_NONBLOCK), 0);
	u->bus = bus_create("pio");
	u->s = serial_create(u->bus, COM1, u->fds[1]);
	assert_non_null(u->s);
	struct irq_line line = { .set = record_irq, .ctx = &u->irq };
	serial_connect_irq(u->s, &line, SERIAL_COM1_GSI);
}

static void uart_teardown(struct uart *u)
{
	serial_destroy(u->s);
	bus_destroy(u->bus);
	close(u->fds[0]);
	close(u->fds[1]);
	assert_false(u->irq.bad);
	pthread_mutex_destroy(&u->irq.lock);
}

/* What reached the host within timeout_ms. */
/*
 * Read what the host side got, until `want` bytes or `timeout_ms` without any (a pipe or a
 * terminal may hand over the bytes of two writes in two reads); how many were read.
 */
static ssize_t drain_until(int fd, char *buf, size_t len, size_t want, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;

	while (got < want && got < len && poll(&p, 1, timeout_ms) > 0) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static ssize_t drain(int fd, char *buf, size_t len, int timeout_ms)
{
	return drain_until(fd, buf, len, len, timeout_ms);
}

/* ---- interrupt sequences ---- */

/*
 * What serial8250_do_startup does: FIFOs on and cleared, OUT2 on, then the THRE test
 * (enable ETBEI, IIR shows THRE; disable and re-enable, THRE is re-asserted), then
 * transmission from the interrupt handler.
 */
static void test_thre_sequence(void **state)
{
	struct uart u;
	char buf[8];

	(void)state;
	uart_setup(&u);
	out(u.bus, FCR, 0x07);
	out(u.bus, LCR, 0x03);
	out(u.bus, MCR, 0x0b); /* DTR | RTS | OUT2 */
	assert_int_equal(in(u.bus, IIR), 0xc1); /* FIFOs on, nothing pending */
	assert_false(irq_level(&u.irq));

	out(u.bus, IER, 0x02);
	assert_true(irq_level(&u.irq));
	assert_int_equal(in(u.bus, IIR), 0xc2); /* THRE, and reading IIR clears it */
	assert_false(irq_level(&u.irq));
	assert_int_equal(in(u.bus, IIR), 0xc1);
	out(u.bus, IER, 0x00);
	out(u.bus, IER, 0x02);
	assert_int_equal(in(u.bus, IIR), 0xc2); /* re-asserted: not UART_BUG_THRE */
	assert_false(irq_level(&u.irq));

	/* The handler writes a byte: the interrupt drops, then THR is empty again. */
	int rises = u.irq.rises;
	out(u.bus, THR, 'a');
	assert_true(irq_level(&u.irq));
	assert_int_equal(u.irq.rises, rises + 1);
	assert_int_equal(in(u.bus, LSR) & 0x60, 0x60);
	/* Nothing left to send: the driver disables ETBEI and the line goes low. */
	out(u.bus, IER, 0x00);
	assert_false(irq_level(&u.irq));
	out(u.bus, THR, '\n');
	assert_int_equal(drain_until(u.fds[0], buf, sizeof(buf), 2, 1000), 2);
	assert_memory_equal(buf, "a\n", 2);
	uart_teardown(&u);
}

static void test_out2_gates_irq(void **state)
{
	struct uart u;

	(void)state;
	uart_setup(&u);
	out(u.bus, IER, 0x02);
	assert_false(irq_level(&u.irq));        /* THRE pending, but OUT2 is off */
	assert_int_equal(in(u.bus, IIR), 0x02); /* (no FIFOs: IIR bits 7:6 clear) */
	out(u.bus, IER, 0x00);
	out(u.bus, IER, 0x02);
	out(u.bus, MCR, 0x08);
	assert_true(irq_level(&u.irq));
	out(u.bus, MCR, 0x00);
	assert_false(irq_level(&u.irq));
	uart_teardown(&u);
}

static void test_rda_and_priorities(void **state)
{
	struct uart u;
	const uint8_t abc[] = "abc";

	(void)state;
	uart_setup(&u);
	out(u.bus, FCR, 0x07); /* trigger level 1 */
	out(u.bus, MCR, 0x08);
	out(u.bus, IER, 0x01);
	assert_false(irq_level(&u.irq));
	assert_int_equal(serial_receive(u.s, abc, 3), 3);
	assert_true(irq_level(&u.irq));
	assert_int_equal(in(u.bus, IIR), 0xc4);
	assert_int_equal(in(u.bus, LSR) & 0x01, 0x01);
	/* RDA outranks THRE; THRE shows once the receiver is empty. */
	out(u.bus, IER, 0x03);
	assert_int_equal(in(u.bus, IIR), 0xc4);
	assert_int_equal(in(u.bus, RBR), 'a');
	assert_int_equal(in(u.bus, RBR), 'b');
	assert_true(irq_level(&u.irq));
	assert_int_equal(in(u.bus, RBR), 'c');
	assert_int_equal(in(u.bus, LSR) & 0x01, 0);
	assert_int_equal(in(u.bus, IIR), 0xc2);
	assert_false(irq_level(&u.irq));

	/* Trigger level 4 (FCR bits 7:6 = 01): two bytes are a character timeout. */
	out(u.bus, FCR, 0x41);
	assert_int_equal(serial_receive(u.s, abc, 2), 2);
	assert_int_equal(in(u.bus, IIR), 0xcc);
	assert_int_equal(serial_receive(u.s, abc, 2), 2);
	assert_int_equal(in(u.bus, IIR), 0xc4);
	/* FCR bit 1 clears the receiver FIFO. */
	out(u.bus, FCR, 0x43);
	assert_int_equal(in(u.bus, LSR) & 0x01, 0);
	assert_false(irq_level(&u.irq));
	uart_teardown(&u);
}

/* ---- loopback and overrun ---- */

static void test_loopback(void **state)
{
	struct uart u;
	char buf[8];

	(void)state;
	uart_setup(&u);
	/* Linux's autoconfig: MCR = LOOP | OUT2 | RTS must read back as MSR = DCD | CTS. */
	out(u.bus, MCR, 0x1a);
	assert_int_equal(in(u.bus, MSR) & 0xf0, 0x90);
	out(u.bus, MCR, 0x1f);
	assert_int_equal(in(u.bus, MSR), 0xf0 | 0x02); /* DSR came up: DDSR; CTS, DCD steady */
	assert_int_equal(in(u.bus, MSR), 0xf0);         /* reading MSR clears the deltas */
	out(u.bus, MCR, 0x1b);                          /* OUT1 (RI) falls: trailing edge */
	assert_int_equal(in(u.bus, MSR), 0xb0 | 0x04);
	out(u.bus, IER, 0x01);
	out(u.bus, THR, 'z');
	assert_int_equal(in(u.bus, LSR) & 0x01, 0x01);
	assert_int_equal(in(u.bus, IIR) & 0x0f, 0x04); /* pending ... */
	assert_false(irq_level(&u.irq));                /* ... but loopback closes the gate */
	assert_int_equal(in(u.bus, RBR), 'z');
	assert_int_equal(serial_receive(u.s, (const uint8_t *)"x", 1), 0); /* line disconnected */
	out(u.bus, MCR, 0x19);                         /* RTS off: CTS falls */
	assert_int_equal(in(u.bus, MSR), 0xa0 | 0x01);
	out(u.bus, MCR, 0x0b); /* back to the host's modem: DCD DSR CTS, CTS rose */
	assert_int_equal(in(u.bus, MSR), 0xb0 | 0x01);
	assert_int_equal(drain(u.fds[0], buf, sizeof(buf), 50), 0); /* nothing reached the host */
	uart_teardown(&u);
}

static void test_overrun(void **state)
{
	struct uart u;
	uint8_t many[20];

	(void)state;
	uart_setup(&u);
	for (unsigned i = 0; i < sizeof(many); i++)
		many[i] = (uint8_t)('A' + i);
	/* The host side never overruns: it takes what fits. */
	out(u.bus, FCR, 0x01);
	assert_int_equal(serial_receive(u.s, many, sizeof(many)), SERIAL_FIFO_LEN);
	assert_int_equal(in(u.bus, LSR), 0x61);
	out(u.bus, FCR, 0x03);

	/* The 17th byte looped back overruns the FIFO: lost, OE set, RLS interrupt. */
	out(u.bus, MCR, 0x18);
	out(u.bus, IER, 0x05);
	for (unsigned i = 0; i < 17; i++)
		out(u.bus, THR, many[i]);
	assert_int_equal(in(u.bus, IIR), 0xc6);
	assert_int_equal(in(u.bus, LSR), 0x63); /* DR | OE | THRE | TEMT; reading clears OE */
	assert_int_equal(in(u.bus, LSR), 0x61);
	assert_int_equal(in(u.bus, IIR), 0xc4);
	for (unsigned i = 0; i < SERIAL_FIFO_LEN; i++)
		assert_int_equal(in(u.bus, RBR), many[i]);
	assert_int_equal(in(u.bus, LSR), 0x60);

	/* Without FIFOs (16450 mode) the new byte overwrites the holding register. */
	out(u.bus, FCR, 0x00);
	out(u.bus, THR, '1');
	out(u.bus, THR, '2');
	assert_int_equal(in(u.bus, LSR), 0x63);
	assert_int_equal(in(u.bus, RBR), '2');
	uart_teardown(&u);
}

/* ---- the host side ---- */

static void test_tty_write_through(void **state)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY);
	char buf[8];

	(void)state;
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
		skip_because("no terminal: cannot open a pseudo-terminal (%s)", strerror(errno));
	int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	assert_true(slave >= 0);
	struct bus *b = bus_create("pio");
	struct serial *s = serial_create(b, COM1, slave);
	io(b, COM1, true, 1, 'q');
	io(b, COM1, true, 1, 'q');
	/* No newline, yet written: both bytes, and nothing more within a moment. */
	assert_int_equal(drain_until(master, buf, sizeof(buf), 2, 1000), 2);
	assert_int_equal(drain(master, buf + 2, sizeof(buf) - 2, 50), 0);
	assert_memory_equal(buf, "qq", 2);
	serial_destroy(s);
	bus_destroy(b);
	close(slave);
	close(master);
}

/* The guest side of the pipe test: a driver polling LSR.DR, as a vCPU would. */
struct guest_reader {
	struct bus *bus;
	size_t want, got;
	uint8_t *buf;
};

static void *guest_main(void *arg)
{
	struct guest_reader *g = arg;
	struct timespec t0, now;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (g->got < g->want) {
		if (in(g->bus, LSR) & 0x01) {
			g->buf[g->got++] = in(g->bus, RBR);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec > 10)
			break;
		usleep(100);
	}
	return NULL;
}

static void test_console_pipe(void **state)
{
	struct uart u;
	struct stop_record r = { .calls = 0 };
	struct vm_control ctl = { .stop = record_stop, .vm = &r };
	int in_pipe[2];
	enum { N = 3000 };
	uint8_t *sent = malloc(N), *got = malloc(N);
	pthread_t guest;

	(void)state;
	pthread_mutex_init(&r.lock, NULL);
	uart_setup(&u);
	out(u.bus, FCR, 0x07);
	out(u.bus, MCR, 0x08);
	out(u.bus, IER, 0x01);
	assert_int_equal(pipe(in_pipe), 0);
	for (unsigned i = 0; i < N; i++)
		sent[i] = (uint8_t)(i * 7 + i / 251); /* every byte value, Ctrl-A included */
	struct console *c = console_create(u.s, in_pipe[0], &ctl);
	assert_non_null(c);
	assert_false(console_is_raw(c));
	struct guest_reader g = { .bus = u.bus, .want = N, .buf = got };
	assert_int_equal(pthread_create(&guest, NULL, guest_main, &g), 0);
	assert_int_equal(write(in_pipe[1], sent, N), N);
	close(in_pipe[1]); /* end of file: the reader stops reading, the VM runs on */
	pthread_join(guest, NULL);
	assert_int_equal(g.got, N); /* nothing lost, although the FIFO holds 16 */
	assert_memory_equal(got, sent, N);
	assert_true(u.irq.rises > 0);
	assert_int_equal(stop_calls(&r), 0); /* a pipe has no escapes */
	console_destroy(c);
	close(in_pipe[0]);
	uart_teardown(&u);
	free(sent);
	free(got);
	pthread_mutex_destroy(&r.lock);
}

/* No input at all (as in CI): a closed descriptor and /dev/null both end reading at once. */
static void test_console_no_input(void **state)
{
	struct uart u;
	struct stop_record r = { .calls = 0 };
	struct vm_control ctl = { .stop = record_stop, .vm = &r };

	(void)state;
	pthread_mutex_init(&r.lock, NULL);
	uart_setup(&u);
	int null = open("/dev/null", O_RDONLY);
	struct console *c1 = console_create(u.s, null, &ctl);
	assert_non_null(c1);
	usleep(10000);
	console_destroy(c1);
	close(null);
	struct console *c2 = console_create(u.s, 1000, &ctl); /* not open */
	assert_non_null(c2);
	usleep(10000);
	console_destroy(c2);
	assert_int_equal(in(u.bus, LSR) & 0x01, 0);
	assert_int_equal(stop_calls(&r), 0);
	uart_teardown(&u);
	pthread_mutex_destroy(&r.lock);
}

static void test_unescape(void **state)
{
	struct console_escape e = { false };
	enum console_event ev;
	uint8_t o[16];
	size_t used, n;

	(void)state;
	n = console_unescape(&e, (const uint8_t *)"ab\x01xcd", 6, o, &used, &ev);
	assert_int_equal(ev, CONSOLE_QUIT);
	assert_int_equal(n, 2);
	assert_int_equal(used, 4);
	assert_memory_equal(o, "ab", 2);
	n = console_unescape(&e, (const uint8_t *)"\x01\x01z\x01q", 5, o, &used, &ev);
	assert_int_equal(ev, CONSOLE_NONE);
	assert_int_equal(n, 2); /* Ctrl-A Ctrl-A sends one; Ctrl-A q is dropped */
	assert_memory_equal(o, "\x01z", 2);
	n = console_unescape(&e, (const uint8_t *)"\x01", 1, o, &used, &ev);
	assert_int_equal(n, 0);
	n = console_unescape(&e, (const uint8_t *)"h", 1, o, &used, &ev); /* split across reads */
	assert_int_equal(ev, CONSOLE_HELP);
	assert_int_equal(n, 0);
}

static bool wait_for_stop(struct stop_record *r)
{
	for (int i = 0; i < 2000 && stop_calls(r) == 0; i++)
		usleep(1000);
	return stop_calls(r) > 0;
}

/* A terminal: raw while the console runs, Ctrl-A x quits with status 0, restored after. */
static void test_console_raw_tty(void **state)
{
	struct uart u;
	struct stop_record r = { .calls = 0 };
	struct vm_control ctl = { .stop = record_stop, .vm = &r };
	struct termios before, during, after;
	int master = posix_openpt(O_RDWR | O_NOCTTY);

	(void)state;
	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0)
		skip_because("no terminal: cannot open a pseudo-terminal (%s)", strerror(errno));
	int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
	assert_true(slave >= 0);
	pthread_mutex_init(&r.lock, NULL);
	uart_setup(&u);
	out(u.bus, FCR, 0x01);
	assert_int_equal(tcgetattr(slave, &before), 0);
	assert_true(before.c_lflag & ECHO);
	struct console *c = console_create(u.s, slave, &ctl);
	assert_non_null(c);
	assert_true(console_is_raw(c));
	assert_int_equal(tcgetattr(slave, &during), 0);
	assert_false(during.c_lflag & (ECHO | ICANON | ISIG));
	assert_false(during.c_iflag & ICRNL);
	assert_true(during.c_oflag & OPOST);
	assert_int_equal(write(master, "hi\x03\x01x", 5), 5); /* Ctrl-C goes to the guest */
	assert_true(wait_for_stop(&r));
	assert_int_equal(r.status, 0);
	assert_non_null(strstr(r.why, "Ctrl-A x"));
	assert_int_equal(in(u.bus, RBR), 'h');
	assert_int_equal(in(u.bus, RBR), 'i');
	assert_int_equal(in(u.bus, RBR), 0x03);
	assert_int_equal(in(u.bus, LSR) & 0x01, 0);
	console_destroy(c);
	assert_int_equal(tcgetattr(slave, &after), 0);
	assert_int_equal(after.c_lflag, before.c_lflag);
	assert_int_equal(after.c_iflag, before.c_iflag);
	uart_teardown(&u);
	close(slave);
	close(master);
	pthread_mutex_destroy(&r.lock);
}

/* ---- a hostile guest ---- */

static void test_hostile_sweep(void **state)
{
	struct uart u;
	static const uint32_t widths[] = { 1, 2, 4 };
	unsigned seed = 12345;
	char sink[4096];

	(void)state;
	uart_setup(&u);
	for (int i = 0; i < 200000; i++) {
		uint16_t port = (uint16_t)(COM1 + rand_r(&seed) % 10);
		uint32_t size = widths[rand_r(&seed) % 3];
		uint32_t v = (uint32_t)rand_r(&seed) * 2654435761u;
		bool write = rand_r(&seed) & 1;
		uint32_t got = io(u.bus, port, write, size, v);
		if (!write && port == COM1 + LSR)
			assert_int_equal(got & 0x60, 0x60); /* the transmitter is always idle */
		if (!write && port == COM1 + IIR && !(got & 1))
			assert_true((got & 0x0f) <= 0x0c && (got & 0x30) == 0);
		if (i % 64 == 0) {
			serial_receive(u.s, (const uint8_t *)"xyz", 3);
			while (read(u.fds[0], sink, sizeof(sink)) > 0)
				;
		}
	}
	assert_false(u.irq.bad); /* the line was only driven on changes, on GSI 4 */
	/* Still a working UART afterwards. */
	out(u.bus, LCR, 0x03);
	out(u.bus, IER, 0x00);
	out(u.bus, MCR, 0x08);
	out(u.bus, FCR, 0x07);
	assert_int_equal(in(u.bus, LSR) & 0x01, 0);
	assert_false(irq_level(&u.irq));
	out(u.bus, IER, 0x02);
	assert_true(irq_level(&u.irq));
	assert_int_equal(in(u.bus, IIR), 0xc2);
	uart_teardown(&u);
}

/* A snapshot of a UART mid-conversation: a second UART loaded from it behaves the same. */
static void test_snapshot_round_trip(void **state)
{
	struct uart a, b;
	const uint8_t xyz[] = "xyz";
	struct snap_enc e = { 0 };
	char err[128];

	(void)state;
	uart_setup(&a);
	uart_setup(&b);
	out(a.bus, LCR, 0x80); /* DLAB: divisor 3 */
	out(a.bus, THR, 0x03);
	out(a.bus, LCR, 0x03);
	out(a.bus, FCR, 0x07);
	out(a.bus, MCR, 0x08);
	out(a.bus, SCR, 0x5a);
	out(a.bus, IER, 0x01);
	assert_int_equal(serial_receive(a.s, xyz, 3), 3);
	assert_int_equal(in(a.bus, RBR), 'x');
	assert_int_equal(serial_save(a.s, &e), 0);

	struct snap_dec d;
	snap_dec_init(&d, e.buf, e.len);
	assert_int_equal(serial_load(b.s, &d, err, sizeof(err)), 0);
	assert_true(irq_level(&b.irq)); /* the loaded receiver interrupt is driven */
	assert_int_equal(in(b.bus, SCR), 0x5a);
	assert_int_equal(in(b.bus, LCR), 0x03);
	assert_int_equal(in(b.bus, IIR), 0xc4);
	assert_int_equal(in(b.bus, RBR), 'y');
	assert_int_equal(in(b.bus, RBR), 'z');
	assert_int_equal(in(b.bus, LSR) & 0x01, 0);
	out(b.bus, LCR, 0x83);
	assert_int_equal(in(b.bus, THR), 0x03);

	/*
	 * Every shorter payload, and a FIFO count past its size, is refused, and leaves the
	 * UART exactly as it was (device.h: checked whole before anything changes).
	 */
	struct uart c;
	struct snap_enc before = { 0 }, after = { 0 };
	uart_setup(&c);
	assert_int_equal(serial_save(c.s, &before), 0);
	for (size_t n = 0; n < e.len; n++) {
		snap_dec_init(&d, e.buf, n);
		assert_int_equal(serial_load(c.s, &d, err, sizeof(err)), -1);
		after.len = 0;
		assert_int_equal(serial_save(c.s, &after), 0);
		assert_int_equal(after.len, before.len);
		assert_memory_equal(after.buf, before.buf, before.len);
	}
	e.buf[11] = 200;
	snap_dec_init(&d, e.buf, e.len);
	assert_int_equal(serial_load(b.s, &d, err, sizeof(err)), -1);
	snap_enc_free(&before);
	snap_enc_free(&after);
	uart_teardown(&c);
	snap_enc_free(&e);
	uart_teardown(&a);
	uart_teardown(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thre_sequence),
		cmocka_unit_test(test_out2_gates_irq),
		cmocka_unit_test(test_rda_and_priorities),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_overrun),
		cmocka_unit_test(test_tty_write_through),
		cmocka_unit_test(test_console_pipe),
		cmocka_unit_test(test_console_no_input),
		cmocka_unit_test(test_unescape),
		cmocka_unit_test(test_console_raw_tty),
		cmocka_unit_test(test_hostile_sweep),
		cmocka_unit_test(test_snapshot_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
