/*
 * selftest.c - see selftest.h.  Memory map and boot information per
 * include/mpvmm/selftest_abi.h; the image is linked by guest/selftest/guest.ld to run at
 * SELFTEST_IMAGE_ADDR and is entered at its first byte.
 */
#include "boot/selftest.h"

#include <stdio.h>
#include <string.h>

#include "mpvmm/selftest_abi.h"
#include "x86/longmode.h"

static struct selftest_chaos chaos;

void selftest_chaos_set(const struct selftest_chaos *c)
{
	chaos = *c;
}

static int write_bootinfo(struct guest_mem *m, const struct selftest_options *o, char *err,
			  size_t errlen)
{
	struct selftest_bootinfo *bi = guest_mem_ptr(m, SELFTEST_BOOTINFO_ADDR, sizeof(*bi));

	if (!bi) {
		snprintf(err, errlen, "no guest RAM for the self-test boot information");
		return -1;
	}
	*bi = (struct selftest_bootinfo){
		.magic = SELFTEST_BOOTINFO_MAGIC,
		.version = SELFTEST_BOOTINFO_VERSION,
		.flags = (o->step ? SELFTEST_FLAG_STEP : 0) | (o->x2apic ? SELFTEST_FLAG_X2APIC : 0) |
			 (o->hold ? SELFTEST_FLAG_HOLD : 0) | (o->racy ? SELFTEST_FLAG_RACY : 0) |
			 (o->irq ? SELFTEST_FLAG_IRQ : 0) |
			 (o->mistakes ? SELFTEST_FLAG_MISTAKES : 0) |
			 (o->ipi_pingpong ? SELFTEST_FLAG_IPI_PINGPONG : 0) |
			 (o->apic_base_cpuid ? SELFTEST_FLAG_APIC_BASE_CPUID : 0),
		.ncpus = o->ncpus,
		.mem_size = guest_mem_low_size(m),
		.lapic_timer_hz = o->lapic_timer_hz,
		.ap_timeout_ms = o->ap_timeout_ms,
	};
	return 0;
}

/* The chaos guest's block (selftest_abi.h), written for every built-in guest: it is free RAM
 * to the others. */
static int write_chaos_bootinfo(struct guest_mem *m, char *err, size_t errlen)
{
	struct chaos_bootinfo *cb = guest_mem_ptr(m, CHAOS_BOOTINFO_ADDR, sizeof(*cb));

	if (!cb) {
		snprintf(err, errlen, "no guest RAM for the chaos guest's boot information");
		return -1;
	}
	*cb = (struct chaos_bootinfo){
		.magic = CHAOS_BOOTINFO_MAGIC,
		.flags = chaos.seeded ? CHAOS_FLAG_SEEDED : 0,
		.seed = chaos.seeded ? chaos.seed : 0,
		.seconds = chaos.seconds,
		.skip = chaos.skip,
		.debug_exit_port = chaos.debug_exit_port,
	};
	return 0;
}

int selftest_load(struct guest_mem *m, const struct selftest_options *o, const uint8_t *image,
		  size_t size, struct x86_regs *regs, struct x86_sregs *sregs, char *err,
		  size_t errlen)
{
	void *dst = guest_mem_ptr(m, SELFTEST_IMAGE_ADDR, size);
	const struct longmode_layout layout = { .gdt = SELFTEST_GDT_ADDR,
						.pml4 = SELFTEST_PML4_ADDR };

	if (!dst) {
		snprintf(err, errlen, "the guest image (%zu bytes at 0x%x) does not fit in "
			 "guest RAM", size, SELFTEST_IMAGE_ADDR);
		return -1;
	}
	memcpy(dst, image, size);
	if (write_bootinfo(m, o, err, errlen) < 0 || write_chaos_bootinfo(m, err, errlen) < 0 ||
	    longmode_setup(m, &layout, sregs, err, errlen) < 0)
		return -1;
	memset(regs, 0, sizeof(*regs));
	regs->rip = SELFTEST_IMAGE_ADDR;
	regs->rdi = SELFTEST_BOOTINFO_ADDR;
	regs->rflags = X86_RFLAGS_RESERVED1; /* interrupts off */
	return 0;
}
