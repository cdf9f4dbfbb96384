/*
 * snapfile_layout.h - the sizes, offsets and magic numbers of the snapshot file format that
 * snapfile.c describes byte by byte, and little-endian access to them.  Shared by the writer
 * (snapfile_write.c) and the reader (snapfile_read.c); nothing outside src/snapshot/ uses it.
 */
#ifndef MPVMM_SNAPFILE_LAYOUT_H
#define MPVMM_SNAPFILE_LAYOUT_H

#include <stdint.h>
#include <string.h>

#define SNAP_MAGIC "MPVMSNAP"
#define SNAP_MEM_MAGIC "MPVMSMEM"
#define SNAP_PAGE 4096u

/* Main header: fixed part, then the memory file's name, zeros, and the CRC. */
#define SNAP_HDR_MAGIC 0
#define SNAP_HDR_VERSION 8
#define SNAP_HDR_SIZE 12
#define SNAP_HDR_FLAGS 16
#define SNAP_HDR_COUNT 20
#define SNAP_HDR_SECTIONS 24
#define SNAP_HDR_ID 32
#define SNAP_HDR_NAMELEN 48
#define SNAP_HDR_NAME 52
#define SNAP_HDR_MIN 56       /* no name: fixed part and CRC */
#define SNAP_NAME_MAX 255u
#define SNAP_HDR_MAX 312      /* 56 + SNAP_NAME_MAX, rounded up to 8 */
#define SNAP_F_MEMFILE 1u     /* page data is in a separate memory file */
#define SNAP_ID_LEN 16

/* Section header. */
#define SNAP_SEC_HDR 24
#define SNAP_SEC_CRC 16       /* the CRC covers the 16 bytes before it, then the payload */

/* Memory section payload: two counts, then regions, then extents. */
#define SNAP_MEM_HEAD 8
#define SNAP_MEM_REGION 16
#define SNAP_MEM_EXTENT 32

/* Memory file header, padded with zeros to SNAP_PAGE. */
#define SNAP_MHDR_MAGIC 0
#define SNAP_MHDR_VERSION 8
#define SNAP_MHDR_DATA 12
#define SNAP_MHDR_ID 16
#define SNAP_MHDR_BYTES 32
#define SNAP_MHDR_RESERVED 40
#define SNAP_MHDR_CRC 44
#define SNAP_MHDR_END 48

static inline uint64_t snap_align(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static inline uint32_t snap_header_size(uint32_t namelen)
{
	return (uint32_t)snap_align(SNAP_HDR_MIN + namelen, 8);
}

static inline void snap_put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void snap_put_le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t snap_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t snap_le64(const uint8_t *p)
{
	return (uint64_t)snap_le32(p) | (uint64_t)snap_le32(p + 4) << 32;
}

/* "vcpu", "device", ... or NULL for a type this version does not know. */
const char *snap_section_name(uint32_t type);

#endif
