/*
 * crc32c.h - the two ways snap_crc32c (snapfile.h) computes CRC32C, for crc32c.c and for
 * the tests that check each against known values.  Nothing else should need them.
 */
#ifndef MPVMM_SNAPSHOT_CRC32C_H
#define MPVMM_SNAPSHOT_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Table-driven, any CPU.  Same convention as snap_crc32c: continue from `crc`, start at 0. */
uint32_t snap_crc32c_sw(uint32_t crc, const void *data, size_t len);
/* The SSE4.2 crc32 instruction: call only when snap_crc32c_hw_available(). */
uint32_t snap_crc32c_hw(uint32_t crc, const void *data, size_t len);
bool snap_crc32c_hw_available(void);

#endif
