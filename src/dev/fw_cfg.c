/*
 * fw_cfg.c - see fw_cfg.h.  Each item is a byte array; selecting an item (a 16-bit write to
 * the selector port) rewinds its read offset, and each data port read returns the next
 * byte, or 0 past the end or for an unknown selector (fw_cfg.rst, "Data Register").  The
 * selector's top bits (0x4000 write, 0x8000 architecture-specific) are part of the key:
 * no such item exists here, so those read 0.  Writes to the data port are ignored, as in
 * QEMU since 2.4.
 */
#include "dev/fw_cfg.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FW_CFG_LEGACY_MAX 0x20 /* keys below FW_CFG_FILE_FIRST */

struct fw_cfg_item {
	uint8_t *data;
	uint32_t len;
};

struct fw_cfg_file { /* FW_CFG_FILE_DIR entry, all big-endian (fw_cfg.rst, struct FWCfgFile) */
	uint8_t size[4];
	uint8_t select[2];
	uint8_t reserved[2];
	char name[FW_CFG_MAX_FILE_PATH];
};
_Static_assert(sizeof(struct fw_cfg_file) == 64, "fw_cfg.rst: struct FWCfgFile");

struct fw_cfg {
	pthread_mutex_t lock;
	uint16_t key;
	uint32_t offset;
	struct fw_cfg_item legacy[FW_CFG_LEGACY_MAX];
	struct fw_cfg_item files[FW_CFG_FILE_MAX];
	unsigned nfiles;
	/* FW_CFG_FILE_DIR: be32 count, then the entries. */
	uint8_t dir[4 + FW_CFG_FILE_MAX * sizeof(struct fw_cfg_file)];
};

static void put_be(uint8_t *p, uint32_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}

static void put_le(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static int set_item(struct fw_cfg_item *it, const void *data, size_t len)
{
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return -1;
	if (len)
		memcpy(copy, data, len); /* data may be NULL for an empty item */
	free(it->data);
	it->data = copy;
	it->len = (uint32_t)len;
	return 0;
}

static const struct fw_cfg_item *selected(const struct fw_cfg *fw)
{
	if (fw->key < FW_CFG_LEGACY_MAX)
		return &fw->legacy[fw->key];
	if ((unsigned)fw->key - FW_CFG_FILE_FIRST < fw->nfiles)
		return &fw->files[fw->key - FW_CFG_FILE_FIRST];
	return NULL;
}

static uint8_t read_data(struct fw_cfg *fw)
{
	const struct fw_cfg_item *it = selected(fw);

	if (!it || fw->offset >= it->len)
		return 0;
	return it->data[fw->offset++];
}

static void fw_cfg_io(void *ctx, const struct bus_access *a)
{
	struct fw_cfg *fw = ctx;

	pthread_mutex_lock(&fw->lock);
	if (a->write && a->addr == FW_CFG_PORT_SEL && a->size >= 2) {
		fw->key = (uint16_t)(a->data[0] | a->data[1] << 8);
		fw->offset = 0;
	} else if (!a->write) {
		/* Byte lanes: the selector port is write-only, the data port streams. */
		for (uint32_t i = 0; i < a->size; i++)
			a->data[i] = a->addr + i == FW_CFG_PORT_DATA ? read_data(fw) : 0;
	}
	pthread_mutex_unlock(&fw->lock);
}

/* ---- building ---- */

static void update_dir(struct fw_cfg *fw)
{
	put_be(fw->dir, fw->nfiles, 4);
	fw->legacy[FW_CFG_FILE_DIR].data = fw->dir;
	fw->legacy[FW_CFG_FILE_DIR].len = (uint32_t)(4 + fw->nfiles * sizeof(struct fw_cfg_file));
}

static struct fw_cfg_file *dir_entry(struct fw_cfg *fw, unsigned i)
{
	return (struct fw_cfg_file *)(fw->dir + 4 + i * sizeof(struct fw_cfg_file));
}

static bool has_file(struct fw_cfg *fw, const char *name)
{
	for (unsigned i = 0; i < fw->nfiles; i++) {
		if (strncmp(dir_entry(fw, i)->name, name, FW_CFG_MAX_FILE_PATH) == 0)
			return true;
	}
	return false;
}

int fw_cfg_add_file(struct fw_cfg *fw, const char *name, const void *data, size_t len)
{
	size_t nlen = strlen(name);
	int sel = -1;

	pthread_mutex_lock(&fw->lock);
	if (nlen && nlen < FW_CFG_MAX_FILE_PATH && fw->nfiles < FW_CFG_FILE_MAX &&
	    len <= UINT32_MAX && !has_file(fw, name) &&
	    set_item(&fw->files[fw->nfiles], data, len) == 0) {
		struct fw_cfg_file *e = dir_entry(fw, fw->nfiles);
		sel = FW_CFG_FILE_FIRST + (int)fw->nfiles;
		memset(e, 0, sizeof(*e));
		put_be(e->size, (uint32_t)len, 4);
		put_be(e->select, (uint32_t)sel, 2);
		memcpy(e->name, name, nlen);
		fw->nfiles++;
		update_dir(fw);
	}
	pthread_mutex_unlock(&fw->lock);
	return sel;
}

static int add_legacy(struct fw_cfg *fw, uint16_t key, uint64_t v, unsigned bytes)
{
	uint8_t le[8];

	put_le(le, v, bytes);
	return set_item(&fw->legacy[key], le, bytes);
}

struct fw_cfg *fw_cfg_create(struct bus *pio, uint64_t ram_size, uint16_t nb_cpus,
			     uint16_t max_cpus)
{
	struct fw_cfg *fw = calloc(1, sizeof(*fw));

	if (!fw)
		return NULL;
	pthread_mutex_init(&fw->lock, NULL);
	update_dir(fw);
	if (set_item(&fw->legacy[FW_CFG_SIGNATURE], "QEMU", 4) < 0 ||
	    add_legacy(fw, FW_CFG_ID, FW_CFG_ID_TRADITIONAL, 4) < 0 ||
	    add_legacy(fw, FW_CFG_RAM_SIZE, ram_size, 8) < 0 ||
	    add_legacy(fw, FW_CFG_NB_CPUS, nb_cpus, 2) < 0 ||
	    add_legacy(fw, FW_CFG_MAX_CPUS, max_cpus, 2) < 0 ||
	    bus_register(pio, FW_CFG_PORT_SEL, 2, fw_cfg_io, fw, "fw-cfg") < 0) {
		fw_cfg_destroy(fw);
		return NULL;
	}
	return fw;
}

void fw_cfg_destroy(struct fw_cfg *fw)
{
	if (!fw)
		return;
	for (unsigned i = 0; i < FW_CFG_LEGACY_MAX; i++) {
		if (i != FW_CFG_FILE_DIR)
			free(fw->legacy[i].data);
	}
	for (unsigned i = 0; i < fw->nfiles; i++)
		free(fw->files[i].data);
	pthread_mutex_destroy(&fw->lock);
	free(fw);
}

/* ---- snapshots ---- */

/* The items are rebuilt from the VM's configuration; only the guest's position is state. */
int fw_cfg_save(struct fw_cfg *fw, struct snap_enc *e)
{
	pthread_mutex_lock(&fw->lock);
	snap_enc_u32(e, fw->key);
	snap_enc_u32(e, fw->offset);
	pthread_mutex_unlock(&fw->lock);
	return e->oom ? -1 : 0;
}

int fw_cfg_load(struct fw_cfg *fw, struct snap_dec *d, char *err, size_t errlen)
{
	uint32_t key = snap_dec_u32(d), offset = snap_dec_u32(d);

	if (!snap_dec_done(d) || key > UINT16_MAX) {
		snprintf(err, errlen, "fw_cfg: bad state");
		return -1;
	}
	pthread_mutex_lock(&fw->lock);
	fw->key = (uint16_t)key;
	fw->offset = offset;
	pthread_mutex_unlock(&fw->lock);
	return 0;
}

/* ---- the device table's row (dev/device.h) ---- */

DEVICE_UNTYPED(fw_cfg)

static void *device_create(const struct device_env *env)
{
	return fw_cfg_create(env->pio, env->ram_size, env->ncpus, env->ncpus);
}

const struct device_desc fw_cfg_device = {
	.name = "fw_cfg",
	.snap_id = 4,
	.claims = { { DEVICE_PIO, FW_CFG_PORT_SEL, 2 } },
	.create = device_create,
	.destroy = fw_cfg_untyped_destroy,
	.save = fw_cfg_untyped_save,
	.load = fw_cfg_untyped_load,
};
