/*
 * i8042.c - see i8042.h.  Every command completes at once, so the input buffer is never
 * full (status bit 1 reads 0).  Answers go into a small output queue; reading port 0x60
 * takes the head, and the status register's OBF and AUXB bits describe it.
 */
#include "dev/i8042.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

/* Status register (port 0x64 read). */
#define STS_OBF   0x01 /* output buffer full                         */
#define STS_SYS   0x04 /* system flag: the self-test has passed (POST) */
#define STS_CMD   0x08 /* last write was to the command port          */
#define STS_UNINH 0x10 /* keyboard not inhibited                      */
#define STS_AUXB  0x20 /* the output buffer holds AUX data            */

/* Command byte (controller RAM byte 0). */
#define CTR_KBDINT 0x01
#define CTR_AUXINT 0x02
#define CTR_SYS    0x04
#define CTR_KBDDIS 0x10
#define CTR_AUXDIS 0x20
#define CTR_XLATE  0x40
/* What firmware leaves: keyboard interrupt on, POST passed, scan code translation. */
#define CTR_DEFAULT (CTR_KBDINT | CTR_SYS | CTR_XLATE)

/* Output port: bit 0 drives the CPU reset line (0 = reset), bit 1 the A20 gate. */
#define OUT_RESET_N 0x01
#define OUT_A20     0x02
#define OUT_DEFAULT (OUT_RESET_N | OUT_A20)

/* Controller commands (port 0x64 write). */
#define CMD_READ_RAM   0x20 /* 0x20-0x3f: read RAM byte n (0: command byte)  */
#define CMD_WRITE_RAM  0x60 /* 0x60-0x7f: write RAM byte n                   */
#define CMD_AUX_DIS    0xa7
#define CMD_AUX_EN     0xa8
#define CMD_AUX_TEST   0xa9
#define CMD_SELF_TEST  0xaa
#define CMD_KBD_TEST   0xab
#define CMD_KBD_DIS    0xad
#define CMD_KBD_EN     0xae
#define CMD_READ_OUT   0xd0
#define CMD_WRITE_OUT  0xd1
#define CMD_KBD_LOOP   0xd2 /* next data byte comes back as keyboard data */
#define CMD_AUX_LOOP   0xd3 /* next data byte comes back as AUX data      */
#define CMD_AUX_SEND   0xd4 /* next data byte goes to the (absent) mouse  */
#define CMD_PULSE      0xf0 /* 0xf0-0xff: pulse output port bits 3:0 where the command's are 0 */

#define SELF_TEST_OK 0x55
#define PORT_TEST_OK 0x00
#define RAM_SIZE     32
#define QUEUE_LEN    16

struct i8042 {
	pthread_mutex_t lock;
	struct vm_control ctl;
	struct irq_line irq;
	bool kbd_level, aux_level;
	uint8_t ram[RAM_SIZE]; /* ram[0] is the command byte */
	uint8_t outport, status_cmd;
	uint8_t pending; /* command waiting for its data byte, 0 if none */
	uint8_t last;    /* what port 0x60 shows once the queue is empty */
	struct { uint8_t byte; bool aux; } q[QUEUE_LEN];
	unsigned qhead, qlen;
};

/* ---- output buffer and IRQs ---- */

static void update_irqs(struct i8042 *k)
{
	bool full = k->qlen > 0, aux = full && k->q[k->qhead].aux;
	bool kbd_level = full && !aux && (k->ram[0] & CTR_KBDINT);
	bool aux_level = aux && (k->ram[0] & CTR_AUXINT);

	if (kbd_level != k->kbd_level) {
		k->kbd_level = kbd_level;
		irq_set(&k->irq, I8042_KBD_GSI, kbd_level);
	}
	if (aux_level != k->aux_level) {
		k->aux_level = aux_level;
		irq_set(&k->irq, I8042_AUX_GSI, aux_level);
	}
}

static void queue(struct i8042 *k, uint8_t byte, bool aux)
{
	if (k->qlen == QUEUE_LEN)
		return; /* nobody reads: drop the newest */
	k->q[(k->qhead + k->qlen) % QUEUE_LEN].byte = byte;
	k->q[(k->qhead + k->qlen) % QUEUE_LEN].aux = aux;
	k->qlen++;
}

static uint8_t read_data(struct i8042 *k)
{
	if (k->qlen) {
		k->last = k->q[k->qhead].byte;
		k->qhead = (k->qhead + 1) % QUEUE_LEN;
		k->qlen--;
	}
	return k->last;
}

static uint8_t read_status(const struct i8042 *k)
{
	uint8_t s = STS_UNINH | k->status_cmd;

	s |= (k->ram[0] & CTR_SYS) ? STS_SYS : 0;
	if (k->qlen)
		s |= STS_OBF | (k->q[k->qhead].aux ? STS_AUXB : 0);
	return s;
}

/* ---- commands ---- */

/* Returns true if the command pulses the reset line. */
static bool command(struct i8042 *k, uint8_t cmd)
{
	k->pending = 0;
	if (cmd >= CMD_READ_RAM && cmd < CMD_READ_RAM + RAM_SIZE) {
		queue(k, k->ram[cmd - CMD_READ_RAM], false);
		return false;
	}
	if ((cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + RAM_SIZE) ||
	    cmd == CMD_WRITE_OUT || cmd == CMD_KBD_LOOP || cmd == CMD_AUX_LOOP ||
	    cmd == CMD_AUX_SEND) {
		k->pending = cmd;
		return false;
	}
	switch (cmd) {
	case CMD_AUX_DIS: k->ram[0] |= CTR_AUXDIS; break;
	case CMD_AUX_EN: k->ram[0] &= (uint8_t)~CTR_AUXDIS; break;
	case CMD_AUX_TEST: queue(k, PORT_TEST_OK, false); break;
	case CMD_SELF_TEST:
		k->ram[0] |= CTR_SYS;
		queue(k, SELF_TEST_OK, false);
		break;
	case CMD_KBD_TEST: queue(k, PORT_TEST_OK, false); break;
	case CMD_KBD_DIS: k->ram[0] |= CTR_KBDDIS; break;
	case CMD_KBD_EN: k->ram[0] &= (uint8_t)~CTR_KBDDIS; break;
	case CMD_READ_OUT: queue(k, k->outport, false); break;
	default:
		/* Pulse commands: a 0 in bits 3:0 pulses that output port line low. */
		return cmd >= CMD_PULSE && !(cmd & OUT_RESET_N);
	}
	return false;
}

/* The data byte of a two-byte command, or data for the (absent) keyboard. */
static bool data(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending;

	k->pending = 0;
	if (cmd >= CMD_WRITE_RAM && cmd < CMD_WRITE_RAM + RAM_SIZE) {
		k->ram[cmd - CMD_WRITE_RAM] = v;
	} else if (cmd == CMD_WRITE_OUT) {
		k->outport = v | OUT_A20; /* A20 is always on under KVM */
		return !(v & OUT_RESET_N);
	} else if (cmd == CMD_KBD_LOOP || cmd == CMD_AUX_LOOP) {
		queue(k, v, cmd == CMD_AUX_LOOP);
	}
	/* CMD_AUX_SEND, or keyboard commands: no device is there to answer. */
	return false;
}

static void i8042_io(void *ctx, const struct bus_access *a)
{
	struct i8042 *k = ctx;
	bool reset = false;

	pthread_mutex_lock(&k->lock);
	for (uint32_t i = 0; i < a->size; i++) {
		uint64_t port = a->addr + i;
		if (port == I8042_COMMAND_PORT && a->write) {
			k->status_cmd = STS_CMD;
			reset |= command(k, a->data[i]);
		} else if (port == I8042_DATA_PORT && a->write) {
			k->status_cmd = 0;
			reset |= data(k, a->data[i]);
		} else if (port == I8042_COMMAND_PORT) {
			a->data[i] = read_status(k);
		} else if (port == I8042_DATA_PORT) {
			a->data[i] = read_data(k);
		} else if (!a->write) {
			a->data[i] = 0xff; /* 0x61-0x63 are not the controller's */
		}
	}
	update_irqs(k);
	pthread_mutex_unlock(&k->lock);
	if (reset)
		vm_control_reset(&k->ctl, "reset line pulsed through the 8042 keyboard controller");
}

/* ---- lifecycle ---- */

struct i8042 *i8042_create(struct bus *pio, const struct vm_control *ctl,
			   const struct irq_line *irq)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	pthread_mutex_init(&k->lock, NULL);
	k->ctl = *ctl;
	if (irq)
		k->irq = *irq;
	k->ram[0] = CTR_DEFAULT;
	k->outport = OUT_DEFAULT;
	/* Two claims, so that 0x61 (port B, the PIT's speaker gate) stays free for others. */
	if (bus_register(pio, I8042_DATA_PORT, 1, i8042_io, k, "i8042-data") < 0 ||
	    bus_register(pio, I8042_COMMAND_PORT, 1, i8042_io, k, "i8042-command") < 0) {
		i8042_destroy(k);
		return NULL;
	}
	return k;
}

void i8042_destroy(struct i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}

/* ---- snapshots ---- */

int i8042_save(struct i8042 *k, struct snap_enc *e)
{
	pthread_mutex_lock(&k->lock);
	snap_enc_bytes(e, k->ram, RAM_SIZE);
	snap_enc_u8(e, k->outport);
	snap_enc_u8(e, k->status_cmd);
	snap_enc_u8(e, k->pending);
	snap_enc_u8(e, k->last);
	snap_enc_u32(e, k->qlen);
	for (unsigned i = 0; i < k->qlen; i++) {
		snap_enc_u8(e, k->q[(k->qhead + i) % QUEUE_LEN].byte);
		snap_enc_u8(e, k->q[(k->qhead + i) % QUEUE_LEN].aux);
	}
	pthread_mutex_unlock(&k->lock);
	return e->oom ? -1 : 0;
}

int i8042_load(struct i8042 *k, struct snap_dec *d, char *err, size_t errlen)
{
	uint8_t ram[RAM_SIZE], b[4], q[QUEUE_LEN][2];

	/* Decoded and checked whole before anything changes (device.h). */
	snap_dec_bytes(d, ram, RAM_SIZE);
	snap_dec_bytes(d, b, sizeof(b));
	uint32_t qlen = snap_dec_u32(d);
	if (d->bad || qlen > QUEUE_LEN) {
		snprintf(err, errlen, "i8042: bad state");
		return -1;
	}
	for (unsigned i = 0; i < qlen; i++) {
		q[i][0] = snap_dec_u8(d);
		q[i][1] = snap_dec_u8(d);
	}
	if (!snap_dec_done(d)) {
		snprintf(err, errlen, "i8042: bad state");
		return -1;
	}
	pthread_mutex_lock(&k->lock);
	memcpy(k->ram, ram, RAM_SIZE);
	k->outport = b[0];
	k->status_cmd = b[1];
	k->pending = b[2];
	k->last = b[3];
	k->qhead = 0;
	k->qlen = qlen;
	for (unsigned i = 0; i < qlen; i++) {
		k->q[i].byte = q[i][0];
		k->q[i].aux = q[i][1] != 0;
	}
	update_irqs(k);
	pthread_mutex_unlock(&k->lock);
	return 0;
}

/* ---- the device table's row (dev/device.h) ---- */

DEVICE_UNTYPED(i8042)

static void *device_create(const struct device_env *env)
{
	return i8042_create(env->pio, env->ctl, env->irq);
}

const struct device_desc i8042_device = {
	.name = "i8042",
	.snap_id = 2,
	.claims = { { DEVICE_PIO, I8042_DATA_PORT, 1 }, { DEVICE_PIO, I8042_COMMAND_PORT, 1 } },
	.create = device_create,
	.destroy = i8042_untyped_destroy,
	.save = i8042_untyped_save,
	.load = i8042_untyped_load,
};
