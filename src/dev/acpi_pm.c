/*
 * acpi_pm.c - see acpi_pm.h.  The three 16-bit registers are handled byte by byte, so any
 * access width at any offset behaves like the matching 16-bit access: PM1_STS bits are
 * cleared by writing 1 (ACPI 6.4, 4.8.3.1.1), and a write to PM1_CNT's high byte carries
 * SLP_TYP and SLP_EN, which is what acts.
 */
#include "dev/acpi_pm.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "util/log.h"
#include "x86/acpi.h"

/* Offsets in the event block. */
#define PM1_STS 0
#define PM1_EN  2

/* Bits that exist in PM1_STS and PM1_EN (ACPI 6.4, 4.8.3.1); bit 15 has no enable. */
#define PM1_STS_BITS (ACPI_PM1_TMR | (1u << 4) | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | \
		      ACPI_PM1_SLPBTN | ACPI_PM1_RTC | (1u << 14) | ACPI_PM1_WAK_STS)
#define PM1_EN_BITS  (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | \
		      ACPI_PM1_RTC | (1u << 14))
/* PM1_CNT bits that are stored: BM_RLD (1), SLP_TYP; GBL_RLS (2) and SLP_EN are write-only. */
#define PM1_CNT_BM_RLD (1u << 1)
#define PM1_CNT_KEPT   (PM1_CNT_BM_RLD | ACPI_PM1_CNT_SLP_TYP_MASK)


struct acpi_pm {
	pthread_mutex_t lock;
	struct vm_control ctl;
	struct irq_line irq;
	bool sci;
	uint16_t sts, en, cnt;
	void (*warn)(void *ctx, const char *msg); /* the guest's mistakes, rate-limited */
	void *warn_ctx;
};

static void update_sci(struct acpi_pm *pm)
{
	bool level = (pm->sts & pm->en) != 0;

	if (level != pm->sci) {
		pm->sci = level;
		irq_set(&pm->irq, ACPI_SCI_IRQ, level);
	}
}

static uint8_t byte_of(uint16_t reg, unsigned lane)
{
	return (uint8_t)(reg >> (8 * lane));
}

static uint16_t with_byte(uint16_t reg, unsigned lane, uint8_t v)
{
	unsigned shift = 8 * lane;

	return (uint16_t)((reg & ~(0xffu << shift)) | ((unsigned)v << shift));
}

static void evt_byte(struct acpi_pm *pm, unsigned off, bool write, uint8_t *v)
{
	unsigned lane = off & 1;

	if (off < PM1_EN) {
		if (write)
			pm->sts &= (uint16_t)~((unsigned)*v << (8 * lane)); /* write 1 to clear */
		else
			*v = byte_of(pm->sts, lane);
	} else {
		if (write)
			pm->en = with_byte(pm->en, lane, *v) & PM1_EN_BITS;
		else
			*v = byte_of(pm->en, lane);
	}
}

/* Returns the SLP_TYP to enter, or -1 when SLP_EN is not set. */
static int write_cnt(struct acpi_pm *pm, unsigned lane, uint8_t v)
{
	uint16_t w = with_byte(pm->cnt, lane, v);

	pm->cnt = w & PM1_CNT_KEPT;
	if (!(w & ACPI_PM1_CNT_SLP_EN))
		return -1;
	return (int)((w & ACPI_PM1_CNT_SLP_TYP_MASK) >> ACPI_PM1_CNT_SLP_TYP_SHIFT);
}

static void sleep_request(struct acpi_pm *pm, int slp_typ)
{
	if (slp_typ == (int)ACPI_S5_SLP_TYP) {
		vm_control_stop(&pm->ctl, 0, "guest powered off (ACPI S5)");
		return;
	}
	char msg[96];
	snprintf(msg, sizeof(msg), "acpi: guest asked for sleep type %d; only S5 (%u) is "
		 "supported, ignored", slp_typ, ACPI_S5_SLP_TYP);
	if (pm->warn)
		pm->warn(pm->warn_ctx, msg);
	else
		log_warn("%s", msg);
}

/* The event and control blocks are adjacent (0x600-0x605): one range, byte by byte. */
_Static_assert(ACPI_PM1A_CNT_PORT == ACPI_PM1A_EVT_PORT + ACPI_PM1_EVT_LEN, "x86/acpi.h");
#define PM1_BLOCKS_LEN (ACPI_PM1_EVT_LEN + ACPI_PM1_CNT_LEN)

static void pm_io(void *ctx, const struct bus_access *a)
{
	struct acpi_pm *pm = ctx;
	uint64_t first = a->addr - ACPI_PM1A_EVT_PORT;
	int slp = -1;

	pthread_mutex_lock(&pm->lock);
	for (uint32_t i = 0; i < a->size; i++) {
		uint64_t off = first + i;
		unsigned lane = (unsigned)(off & 1);
		if (off < ACPI_PM1_EVT_LEN) {
			evt_byte(pm, (unsigned)off, a->write, &a->data[i]);
		} else if (off >= PM1_BLOCKS_LEN) {
			if (!a->write)
				a->data[i] = 0xff; /* past the blocks: nothing drives the bus */
		} else if (a->write) {
			int typ = write_cnt(pm, lane, a->data[i]);
			slp = typ >= 0 ? typ : slp;
		} else {
			a->data[i] = byte_of(pm->cnt | ACPI_PM1_CNT_SCI_EN, lane);
		}
	}
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	if (slp >= 0)
		sleep_request(pm, slp);
}

void acpi_pm_event(struct acpi_pm *pm, uint16_t sts_bits)
{
	pthread_mutex_lock(&pm->lock);
	pm->sts |= sts_bits & PM1_STS_BITS;
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

struct acpi_pm *acpi_pm_create(struct bus *pio, const struct vm_control *ctl,
			       const struct irq_line *irq)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	pthread_mutex_init(&pm->lock, NULL);
	pm->ctl = *ctl;
	if (irq)
		pm->irq = *irq;
	if (bus_register(pio, ACPI_PM1A_EVT_PORT, PM1_BLOCKS_LEN, pm_io, pm, "acpi-pm1") < 0) {
		acpi_pm_destroy(pm);
		return NULL;
	}
	return pm;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

/* ---- snapshots ---- */

int acpi_pm_save(struct acpi_pm *pm, struct snap_enc *e)
{
	pthread_mutex_lock(&pm->lock);
	snap_enc_u32(e, pm->sts);
	snap_enc_u32(e, pm->en);
	snap_enc_u32(e, pm->cnt);
	pthread_mutex_unlock(&pm->lock);
	return e->oom ? -1 : 0;
}

int acpi_pm_load(struct acpi_pm *pm, struct snap_dec *d, char *err, size_t errlen)
{
	uint32_t sts = snap_dec_u32(d), en = snap_dec_u32(d), cnt = snap_dec_u32(d);

	if (!snap_dec_done(d) || sts > UINT16_MAX || en > UINT16_MAX || cnt > UINT16_MAX) {
		snprintf(err, errlen, "ACPI PM: bad state");
		return -1;
	}
	pthread_mutex_lock(&pm->lock);
	pm->sts = (uint16_t)sts;
	pm->en = (uint16_t)en;
	pm->cnt = (uint16_t)cnt;
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

/* ---- the device table's row (dev/device.h) ---- */

DEVICE_UNTYPED(acpi_pm)

static void *device_create(const struct device_env *env)
{
	struct acpi_pm *pm = acpi_pm_create(env->pio, env->ctl, env->irq);

	if (pm) {
		pm->warn = env->warn;
		pm->warn_ctx = env->warn_ctx;
	}
	return pm;
}

const struct device_desc acpi_pm_device = {
	.name = "ACPI PM",
	.snap_id = 3,
	.claims = { { DEVICE_PIO, ACPI_PM1A_EVT_PORT, PM1_BLOCKS_LEN } },
	.create = device_create,
	.destroy = acpi_pm_untyped_destroy,
	.save = acpi_pm_untyped_save,
	.load = acpi_pm_untyped_load,
};
