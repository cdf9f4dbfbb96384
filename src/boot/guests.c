/*
 * guests.c - see guests.h.  Adding a guest: build it in guest/meson.build, .incbin it in
 * guest_blobs.S, and list it here.
 */
#include "boot/guests.h"

#include <string.h>

extern const uint8_t selftest_image[], selftest_image_end[];
extern const uint8_t insn_image[], insn_image_end[];
extern const uint8_t insn_unsupported_image[], insn_unsupported_image_end[];
extern const uint8_t chaos_image[], chaos_image_end[];

static struct embedded_guest guests[] = {
	{ "selftest", "SMP bring-up self-test: INIT-SIPI-SIPI every AP, check IDs and tables",
	  selftest_image, 0 },
	{ "insn", "instructions mpvmm performs when the host's KVM cannot emulate them",
	  insn_image, 0 },
	{ "insn-unsupported", "one instruction nothing carries: the run must stop with a report",
	  insn_unsupported_image, 0 },
	{ "chaos", "random port I/O, MMIO, IPIs, MSRs and timers from every vCPU at once",
	  chaos_image, 0 },
};

static void fill_sizes(void)
{
	guests[0].size = (size_t)(selftest_image_end - selftest_image);
	guests[1].size = (size_t)(insn_image_end - insn_image);
	guests[2].size = (size_t)(insn_unsupported_image_end - insn_unsupported_image);
	guests[3].size = (size_t)(chaos_image_end - chaos_image);
}

const struct embedded_guest *embedded_guest_at(size_t i)
{
	fill_sizes();
	return i < sizeof(guests) / sizeof(guests[0]) ? &guests[i] : NULL;
}

const struct embedded_guest *embedded_guest_find(const char *name)
{
	for (size_t i = 0; embedded_guest_at(i); i++)
		if (!strcmp(guests[i].name, name))
			return &guests[i];
	return NULL;
}
