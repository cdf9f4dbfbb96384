/*
 * multiboot.c - the boot information of a multiboot start (multiboot.h).  Section numbers
 * are those of the Multiboot Specification 0.6.96.
 *
 * No VMM leaves a struct selftest_bootinfo, so one is built here: no flags (x2APIC mode is
 * still chosen when the MADT has an APIC ID >= 255), ncpus = the MADT's enabled processors
 * (nothing to cross-check them with), mem_size from mem_upper (3.3), the 1 GHz APIC timer
 * clock of KVM and QEMU, and a 10 s AP timeout.  Everything after that is the same test.
 */
#include "multiboot.h"

#include <stdbool.h>
#include <stdint.h>

#include "acpi.h"
#include "arch.h"
#include "lib.h"
#include "result.h"

/* 3.3: offsets and flags of the multiboot information structure. */
#define MBI_FLAGS        0u
#define MBI_MEM_UPPER    8u  /* KiB of RAM from 1 MiB up to the first hole */
#define MBI_CMDLINE      16u /* physical address of a NUL-terminated string */
#define MBI_FLAG_MEMORY  (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)

#define MB_LAPIC_TIMER_HZ 1000000000ull /* KVM's and QEMU's APIC timer: 1 GHz, divide by 1 */
#define MB_AP_TIMEOUT_MS  10000u
#define CMDLINE_MAX       4096u         /* scan no further for the terminating NUL */
/* A process exit status has 8 bits: (N << 1) | 1 stays distinct for N up to 127. */
#define EXIT_VALUE_MAX    127u
#define WORD_SHOWN_MAX    32u

__attribute__((noreturn)) void bsp_main(const struct selftest_bootinfo *bi); /* main.c */

static struct selftest_bootinfo bootinfo;
static bool exit_wanted;    /* the command line has `exit=N`       */
static uint32_t exit_value; /* N: written on PASS (1 is written on FAIL) */

void multiboot_report(uint32_t code)
{
	if (exit_wanted)
		outb(MB_DEBUG_EXIT_PORT, (uint8_t)(code == 0 ? exit_value : 1));
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* `exit=N`, N decimal 0..EXIT_VALUE_MAX; `exit` or `exit=` alone means N = 0. */
static void parse_exit(const char *w, uint32_t len)
{
	uint32_t v = 0;
	bool ok = true;

	exit_wanted = true; /* a bad value still ends the run on the port, with FAIL */
	for (uint32_t i = 5; i < len; i++) {
		if (w[i] < '0' || w[i] > '9' || v > EXIT_VALUE_MAX) {
			ok = false;
			break;
		}
		v = v * 10 + (uint32_t)(w[i] - '0');
	}
	if (ok && v <= EXIT_VALUE_MAX) {
		exit_value = v;
		return;
	}
	char shown[WORD_SHOWN_MAX + 1];
	uint32_t n = len < WORD_SHOWN_MAX ? len : WORD_SHOWN_MAX;
	memcpy(shown, w, n);
	shown[n] = '\0';
	fail(SELFTEST_FAIL_BOOTINFO, "multiboot: command line word '%s': want exit=N, N from "
	     "0 to %u", shown, EXIT_VALUE_MAX);
}

/* Words separated by blanks; the first is often the kernel's own path (GRUB, QEMU). */
static void parse_cmdline(const char *s)
{
	uint32_t i = 0;

	while (i < CMDLINE_MAX && s[i]) {
		if (is_space(s[i])) {
			i++;
			continue;
		}
		uint32_t start = i;
		while (i < CMDLINE_MAX && s[i] && !is_space(s[i]))
			i++;
		uint32_t len = i - start;
		if (len >= 4 && memcmp(s + start, "exit", 4) == 0 &&
		    (len == 4 || s[start + 4] == '='))
			parse_exit(s + start, len);
	}
}

void multiboot_main(uint32_t magic, uint32_t info)
{
	if (magic != MB_BOOTLOADER_MAGIC)
		fail(SELFTEST_FAIL_BOOTINFO, "multiboot: eax 0x%x at entry, want 0x%x", magic,
		     MB_BOOTLOADER_MAGIC);
	const volatile uint32_t *mbi = phys(info);
	uint32_t flags = mbi[MBI_FLAGS / 4];

	/* First: the information may lie where the AP stacks go (QEMU puts it after .bss). */
	if (flags & MBI_FLAG_CMDLINE)
		parse_cmdline(phys(mbi[MBI_CMDLINE / 4]));
	if (!(flags & MBI_FLAG_MEMORY))
		fail(SELFTEST_FAIL_BOOTINFO, "multiboot: no memory information (flags 0x%x)",
		     flags);
	uint64_t mem_size = (1024 + (uint64_t)mbi[MBI_MEM_UPPER / 4]) * 1024;

	bootinfo = (struct selftest_bootinfo){
		.magic = SELFTEST_BOOTINFO_MAGIC,
		.version = SELFTEST_BOOTINFO_VERSION,
		.flags = 0,
		.ncpus = acpi_count_processors(mem_size),
		.mem_size = mem_size,
		.lapic_timer_hz = MB_LAPIC_TIMER_HZ,
		.ap_timeout_ms = MB_AP_TIMEOUT_MS,
	};
	bsp_main(&bootinfo);
}
