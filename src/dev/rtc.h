/*
 * rtc.h - the PC's CMOS real-time clock, a Motorola MC146818A: index port 0x70 (bit 7 masks
 * NMI), data port 0x71, 128 bytes of which 0x00-0x0D are the clock and the rest CMOS RAM.
 *
 * The clock runs on the host's UTC time plus whatever offset the guest sets by writing it.
 * No periodic, alarm or update interrupts are generated (register C reads 0).
 * The RTC knows nothing of the VM; firmware-style CMOS contents (memory sizes) are filled
 * in by whoever builds the machine, through rtc_set_cmos.
 */
#ifndef MPVMM_DEV_RTC_H
#define MPVMM_DEV_RTC_H

#include <stdbool.h>
#include <stdint.h>

#include "dev/bus.h"
#include "dev/device.h"
#include "snapshot/snapfile.h"

#define RTC_INDEX_PORT 0x70
#define RTC_DATA_PORT  0x71

/* CMOS locations the PC BIOS convention gives meaning to (besides the clock). */
#define CMOS_CENTURY       0x32 /* BCD or binary as the clock; also in the FADT's CENTURY */
#define CMOS_MEM_EXT_LO    0x17 /* KiB above 1 MiB, up to 64 MiB (also 0x30/0x31)         */
#define CMOS_MEM_EXT_HI    0x18
#define CMOS_MEM_16M_LO    0x34 /* 64 KiB blocks between 16 MiB and 4 GiB                 */
#define CMOS_MEM_16M_HI    0x35

struct rtc;

struct rtc *rtc_create(struct bus *pio);
void rtc_destroy(struct rtc *r);

/*
 * Set a byte of CMOS RAM (index 0x0E-0x7F, not the century, which is part of the clock).
 * Returns 0, or -1 for an index the clock owns or out of range.
 */
int rtc_set_cmos(struct rtc *r, unsigned index, uint8_t value);

/* True while the guest holds NMIs masked through bit 7 of the index port. */
bool rtc_nmi_masked(struct rtc *r);

/*
 * Snapshots: append the device's guest-visible state / put it back (on a device built with
 * the same configuration; the VM is paused).  load returns 0, or -1 with a reason in err.
 */
int rtc_save(struct rtc *r, struct snap_enc *e);
int rtc_load(struct rtc *r, struct snap_dec *d, char *err, size_t errlen);

/* Its row in the device table (vm/devices.c). */
extern const struct device_desc rtc_device;

#endif
