/*
 * bytes.h - little-endian reads and writes of unaligned fields in file images and guest
 * memory (boot protocol headers, ELF, multiboot structures are all little-endian on x86).
 * Pure byte shuffling: knows nothing of any format.
 */
#ifndef MPVMM_BOOT_BYTES_H
#define MPVMM_BOOT_BYTES_H

#include <stdint.h>

static inline uint16_t le16(const uint8_t *b)
{
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t le32(const uint8_t *b)
{
	return (uint32_t)le16(b) | (uint32_t)le16(b + 2) << 16;
}

static inline uint64_t le64(const uint8_t *b)
{
	return (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32;
}

static inline void put_le16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)v;
	b[1] = (uint8_t)(v >> 8);
}

static inline void put_le32(uint8_t *b, uint32_t v)
{
	put_le16(b, (uint16_t)v);
	put_le16(b + 2, (uint16_t)(v >> 16));
}

static inline void put_le64(uint8_t *b, uint64_t v)
{
	put_le32(b, (uint32_t)v);
	put_le32(b + 4, (uint32_t)(v >> 32));
}

#endif
