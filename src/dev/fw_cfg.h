/*
 * fw_cfg.h - QEMU's firmware configuration device, traditional I/O interface only (QEMU
 * docs/specs/fw_cfg.rst): a 16-bit selector at 0x510 and an 8-bit data port at 0x511.
 * Guests written for QEMU (Linux's qemu_fw_cfg, hobby kernels) read the machine's RAM size
 * and CPU counts, and named blobs ("files"), through it.  No DMA interface.
 *
 * The device knows the values it is handed, nothing of the VM.
 */
#ifndef MPVMM_DEV_FW_CFG_H
#define MPVMM_DEV_FW_CFG_H

#include <stddef.h>
#include <stdint.h>

#include "dev/bus.h"
#include "dev/device.h"
#include "snapshot/snapfile.h"

#define FW_CFG_PORT_SEL  0x510
#define FW_CFG_PORT_DATA 0x511

/* Selector keys (fw_cfg.rst, "Selector Register"). */
#define FW_CFG_SIGNATURE  0x00
#define FW_CFG_ID         0x01
#define FW_CFG_RAM_SIZE   0x03
#define FW_CFG_NB_CPUS    0x05
#define FW_CFG_MAX_CPUS   0x0f
#define FW_CFG_FILE_DIR   0x19
#define FW_CFG_FILE_FIRST 0x20
#define FW_CFG_FILE_MAX   64       /* files a machine may have here */
#define FW_CFG_MAX_FILE_PATH 56    /* name[] in struct FWCfgFile, NUL included */

#define FW_CFG_ID_TRADITIONAL 0x01 /* bit 0: traditional interface; bit 1 (DMA) clear */

struct fw_cfg;

struct fw_cfg *fw_cfg_create(struct bus *pio, uint64_t ram_size, uint16_t nb_cpus,
			     uint16_t max_cpus);

/*
 * Add a named item (copied), listed in FW_CFG_FILE_DIR.  Returns its selector (from
 * FW_CFG_FILE_FIRST up), or -1 if the name is empty, too long, already there, or there is
 * no room.  Call before any vCPU runs.
 */
int fw_cfg_add_file(struct fw_cfg *fw, const char *name, const void *data, size_t len);

void fw_cfg_destroy(struct fw_cfg *fw);

/*
 * Snapshots: append the device's guest-visible state / put it back (on a device built with
 * the same configuration; the VM is paused).  load returns 0, or -1 with a reason in err.
 */
int fw_cfg_save(struct fw_cfg *fw, struct snap_enc *e);
int fw_cfg_load(struct fw_cfg *fw, struct snap_dec *d, char *err, size_t errlen);

/* Its row in the device table (vm/devices.c). */
extern const struct device_desc fw_cfg_device;

#endif
