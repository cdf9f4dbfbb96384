/*
 * bus_io.h - drive a device the way the vCPU loop does: one port access through the bus,
 * as vCPU 0.  Returns what a read put in the data (and, for a write, the data unchanged).
 */
#ifndef MPVMM_TEST_BUS_IO_H
#define MPVMM_TEST_BUS_IO_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dev/bus.h"

static inline uint32_t io(struct bus *b, uint16_t port, bool write, uint32_t size,
			  uint32_t value)
{
	uint8_t data[4];
	uint32_t v = 0;

	memcpy(data, &value, sizeof(data));
	struct bus_access a = { .cpu = 0, .addr = port, .size = size, .write = write,
				.data = data };
	bus_dispatch(b, &a);
	memcpy(&v, data, size);
	return v;
}

#endif
