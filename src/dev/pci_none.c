/*
 * pci_none.c - see pci_none.h.  Only a 32-bit access to 0xCF8 reaches CONFIG_ADDRESS; the
 * other widths at 0xCF8-0xCFB go to the ISA bus (PCI 3.0, 3.2.2.3.2), where only the reset
 * control register at 0xCF9 answers.  This lets Linux tell mechanism #1 (dword read-back of
 * 0xCF8) from mechanism #2 (byte read-back of 0xCF8 and 0xCFA, which fails here).
 */
#include "dev/pci_none.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

/* CONFIG_ADDRESS: bit 31 enable, 23:16 bus, 15:11 device, 10:8 function, 7:2 register;
 * bits 30:24 are reserved and 1:0 are fixed 0 for the type 1 translation: both read 0. */
#define PCI_ADDRESS_MASK 0x80fffffcu

/* Reset control register (PIIX3 data sheet, 4.1.5 RC): bit 1 hard reset, bit 2 reset CPU. */
#define RCR_SYS_RST 0x02
#define RCR_RST_CPU 0x04

struct pci_none {
	pthread_mutex_t lock;
	struct vm_control ctl;
	uint32_t address;
	uint8_t rcr;
};

static uint32_t get32(const uint8_t *d)
{
	return (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24;
}

static void put32(uint8_t *d, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		d[i] = (uint8_t)(v >> (8 * i));
}

static void config_address(struct pci_none *p, const struct bus_access *a)
{
	pthread_mutex_lock(&p->lock);
	if (a->write)
		p->address = get32(a->data) & PCI_ADDRESS_MASK;
	else
		put32(a->data, p->address);
	pthread_mutex_unlock(&p->lock);
}

/* Returns true if the guest asked for a reset. */
static bool reset_control(struct pci_none *p, bool write, uint8_t *byte)
{
	bool reset = false;

	pthread_mutex_lock(&p->lock);
	if (write) {
		p->rcr = *byte & RCR_SYS_RST;
		reset = *byte & RCR_RST_CPU;
	} else {
		*byte = p->rcr;
	}
	pthread_mutex_unlock(&p->lock);
	return reset;
}

static void pci_io(void *ctx, const struct bus_access *a)
{
	struct pci_none *p = ctx;
	bool reset = false;

	if (a->addr == PCI_CONFIG_ADDRESS && a->size == 4) {
		config_address(p, a);
		return;
	}
	/* CONFIG_DATA (no device: all ones) and the ISA ports of 0xCF8-0xCFB, byte by byte. */
	for (uint32_t i = 0; i < a->size; i++) {
		if (a->addr + i == PCI_RESET_CONTROL)
			reset |= reset_control(p, a->write, &a->data[i]);
		else if (!a->write)
			a->data[i] = 0xff;
	}
	if (reset)
		vm_control_reset(&p->ctl, "reset control register 0xcf9 (RST_CPU)");
}

uint32_t pci_none_address(struct pci_none *p)
{
	pthread_mutex_lock(&p->lock);
	uint32_t v = p->address;
	pthread_mutex_unlock(&p->lock);
	return v;
}

struct pci_none *pci_none_create(struct bus *pio, const struct vm_control *ctl)
{
	struct pci_none *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	p->ctl = *ctl;
	if (bus_register(pio, PCI_CONFIG_ADDRESS, 8, pci_io, p, "pci-config") < 0) {
		pci_none_destroy(p);
		return NULL;
	}
	return p;
}

void pci_none_destroy(struct pci_none *p)
{
	if (!p)
		return;
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* ---- snapshots ---- */

int pci_none_save(struct pci_none *p, struct snap_enc *e)
{
	pthread_mutex_lock(&p->lock);
	snap_enc_u32(e, p->address);
	snap_enc_u8(e, p->rcr);
	pthread_mutex_unlock(&p->lock);
	return e->oom ? -1 : 0;
}

int pci_none_load(struct pci_none *p, struct snap_dec *d, char *err, size_t errlen)
{
	uint32_t address = snap_dec_u32(d);
	uint8_t rcr = snap_dec_u8(d);

	if (!snap_dec_done(d)) {
		snprintf(err, errlen, "PCI: bad state");
		return -1;
	}
	pthread_mutex_lock(&p->lock);
	p->address = address;
	p->rcr = rcr;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* ---- the device table's row (dev/device.h) ---- */

DEVICE_UNTYPED(pci_none)

static void *device_create(const struct device_env *env)
{
	return pci_none_create(env->pio, env->ctl);
}

const struct device_desc pci_none_device = {
	.name = "PCI",
	.snap_id = 5,
	.claims = { { DEVICE_PIO, PCI_CONFIG_ADDRESS, 8 } },
	.create = device_create,
	.destroy = pci_none_untyped_destroy,
	.save = pci_none_untyped_save,
	.load = pci_none_untyped_load,
};
